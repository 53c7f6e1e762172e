//! A randomized fault run on real Flink: round after round, change a spec (args or parallelism,
//! alternating), run `apply` with one fault — SIGKILL of flinkops at a random moment, or REST
//! faults (503 bursts, dropped connections, a call whose answer is lost after Flink acted on it,
//! a stall past the request timeout) from a proxy in front of Flink — then apply without faults
//! until `plan --detailed-exitcode` says in sync, and judge the result by Flink's answers alone:
//! exactly one RUNNING job for the spec, at the spec's parallelism, whose state continues from
//! the counter read before the change.
//!
//! Seeded: the seed is printed; `FLINKOPS_FAULT_SEED=N` replays the same choices (the timing of
//! a run may still differ). `FLINKOPS_FAULT_ROUNDS` sets the rounds per cluster (default 3, the
//! CI setting; a longer soak: `FLINKOPS_FAULT_ROUNDS=30 cargo test --test flinkops -- fault_run`).
//! Both clusters run at the same time, each in its own thread.

use std::net::SocketAddr;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;

use crate::apply_e2e::{Scenario, Spec, parallelism, spec, text};
use crate::flink_support::{Cluster, before_change, clusters, state_continued, wait_tasks_running};
use crate::support::flinkops;

/// flinkops' per-call timeout during a faulted run; a stall lasts longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Converging runs after the faulted one before the test calls it a bug.
const MAX_CONVERGE: usize = 4;

#[test]
fn randomized_faults_never_lose_state_or_leave_two_jobs() {
    let clusters = clusters();
    if clusters.is_empty() {
        return;
    }
    let seed = std::env::var("FLINKOPS_FAULT_SEED")
        .map(|s| s.parse::<u64>().expect("FLINKOPS_FAULT_SEED is a number"))
        .unwrap_or_else(|_| std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().as_millis() as u64);
    let rounds = std::env::var("FLINKOPS_FAULT_ROUNDS")
        .map(|s| s.parse::<usize>().expect("FLINKOPS_FAULT_ROUNDS is a number"))
        .unwrap_or(3);
    eprintln!("fault run: seed {seed} (replay with FLINKOPS_FAULT_SEED={seed}), {rounds} rounds per cluster");
    let runs: Vec<_> = clusters
        .into_iter()
        .enumerate()
        .map(|(i, cluster)| {
            let seed = seed.wrapping_add(i as u64);
            std::thread::spawn(move || {
                let _slots = cluster.slots(2);
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(run(&cluster, seed, rounds));
            })
        })
        .collect();
    let failed: Vec<_> = runs.into_iter().map(|r| r.join()).filter(Result::is_err).collect();
    assert!(failed.is_empty(), "the fault run failed on {} cluster(s); seed {seed}, see above", failed.len());
}

/// A last-state upgrade whose checkpoint statistics are stale (here through a proxy that keeps
/// answering with Flink's first answer, as Flink's own cache does for a few seconds): with
/// checkpoints every 100 ms and one retained, the checkpoint they name is deleted by the time of
/// the cancel. flinkops must restore from the newest complete checkpoint in the job's directory,
/// never stop the job without its state, nor restore from an older one.
#[test]
fn a_last_state_upgrade_with_stale_statistics_restores_from_the_checkpoint_on_disk() {
    const FAST: &str = "upgradeMode: last-state\nflinkConfiguration:\n  execution.checkpointing.interval: 100ms\n  \
                        execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION\n";
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        for c in clusters() {
            let _slots = c.slots(1);
            eprintln!("== stale statistics on Flink {} at {}", c.version, c.url);
            let client = c.client();
            let s = Scenario::new(&c, "stalechk");
            s.write(&Spec { extra_yaml: FAST, ..spec("counter") });
            assert_eq!(s.apply(&[]).status.code(), Some(0));
            let v1 = s.live(&client, "counter").await;
            let before = before_change(&client, &v1).await;

            let proxy = Proxy::start(&c.url, RestFault::StaleCheckpoints, Scope::Any, 0, 0).await;
            // Prime the stale answer, then let Flink take (and delete) a few more checkpoints.
            let primed: serde_json::Value = reqwest::get(format!("{}/jobs/{v1}/checkpoints", proxy.url))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let named = primed["latest"]["completed"]["external_path"].as_str().unwrap().to_owned();
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let local = std::path::Path::new(named.trim_start_matches("file:"));
            assert!(!local.join("_metadata").exists(), "{named} was deleted by newer checkpoints");

            s.write(&Spec { extra_args: &["--tag", "v2"], extra_yaml: FAST, ..spec("counter") });
            let out = s.apply_command(&proxy.url, &[]).output().unwrap();
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            eprintln!("--- apply through the stale proxy ({})\n{stdout}\n{stderr}", proxy.injected());
            assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
            let v2 = s.live(&client, "counter").await;
            let restored = client.checkpoints(&v2).await.unwrap().latest.restored;
            let from = restored.and_then(|r| r.external_path).unwrap_or_default();
            assert!(
                from.contains(&format!("/{v1}/chk-")) && from != named,
                "restored from {from}, stale: {named}"
            );
            state_continued(&client, &before, &v2, None).await.unwrap_or_else(|why| panic!("{why}"));
            s.cleanup(&client).await;
        }
    });
}

/// One fault to inject into an apply run.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// SIGKILL flinkops this long after it started.
    Kill(Duration),
    /// Through the proxy: `kind` for `len` calls from the `at`-th call that `scope` selects.
    Rest { kind: RestFault, scope: Scope, at: usize, len: usize },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum RestFault {
    /// Answer 503 without asking Flink (a JobManager in leader election, a proxy restarting).
    Unavailable,
    /// Break the connection without asking Flink.
    Drop,
    /// Ask Flink, then break the connection: Flink acted, flinkops cannot know it did.
    LoseAnswer,
    /// Hold the call past flinkops' request timeout, then ask Flink anyway.
    Stall,
    /// Answer every `GET …/checkpoints` with the first answer Flink gave for that path, as
    /// Flink's own cache does for a few seconds (not picked by the randomized run).
    StaleCheckpoints,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Scope {
    /// Every call.
    Any,
    /// Calls that change something (not GET): upload, stop, run, cancel, delete.
    Changes,
}

fn pick(rng: &mut fastrand::Rng) -> Fault {
    if rng.u8(0..3) == 0 {
        return Fault::Kill(Duration::from_millis(rng.u64(100..10_000)));
    }
    let kind =
        [RestFault::Unavailable, RestFault::Drop, RestFault::LoseAnswer, RestFault::Stall][rng.usize(0..4)];
    let scope = if rng.bool() { Scope::Any } else { Scope::Changes };
    let at = match scope {
        Scope::Any => rng.usize(0..25),
        Scope::Changes => rng.usize(0..3),
    };
    let len = match kind {
        RestFault::Unavailable => rng.usize(1..=8),
        RestFault::Drop => rng.usize(1..=3),
        RestFault::LoseAnswer | RestFault::Stall | RestFault::StaleCheckpoints => 1,
    };
    Fault::Rest { kind, scope, at, len }
}

async fn run(cluster: &Cluster, seed: u64, rounds: usize) {
    let v = &cluster.version;
    let mut rng = fastrand::Rng::with_seed(seed);
    let client = cluster.client();
    let s = Scenario::new(cluster, "faults");
    let mut width = 1;
    s.write(&spec("counter"));
    assert_eq!(s.apply(&[]).status.code(), Some(0), "[{v}] the first deployment");
    let mut job = s.live(&client, "counter").await;
    for round in 1..=rounds {
        let before = before_change(&client, &job).await;
        // Alternate: args on odd rounds, parallelism (1 <-> 2) on even ones.
        let tag = format!("v{round}");
        if round % 2 == 0 {
            width = 3 - width;
        }
        let yaml = format!("parallelism: {width}\n");
        s.write(&Spec { extra_args: &["--tag", &tag], extra_yaml: &yaml, ..spec("counter") });
        let fault = pick(&mut rng);
        eprintln!("[{v}] round {round}: {tag}, parallelism {width}, fault {fault:?}");
        let faulted = apply_with(&s, fault).await;
        eprintln!("[{v}] round {round}: the faulted apply exited {:?}", faulted.status.code());
        converge(&s, round).await;

        let active = s.active(&client, "counter").await;
        assert_eq!(active.len(), 1, "[{v}] round {round} ({fault:?}): one job for the spec, not {active:?}");
        let live = active[0].jid.clone();
        assert_ne!(live, before.job, "[{v}] round {round}: the change was deployed");
        wait_tasks_running(&client, &live).await;
        assert_eq!(parallelism(&client, &live).await, width, "[{v}] round {round}: the spec's parallelism");
        if let Err(why) = state_continued(&client, &before, &live, None).await {
            panic!("[{v}] round {round} ({fault:?}, seed {seed}): {why}");
        }
        job = live;
    }
    s.cleanup(&client).await;
}

/// `apply` of the scenario with `fault` injected.
async fn apply_with(s: &Scenario, fault: Fault) -> Output {
    match fault {
        Fault::Kill(after) => {
            let mut child = s
                .apply_command(&s.cluster.url, &[])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let started = Instant::now();
            while started.elapsed() < after && child.try_wait().unwrap().is_none() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // SIGKILL: no destructor, no signal handler runs.
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            eprintln!("--- killed apply after {after:?}\n{}\n{}", text(&out.stdout), text(&out.stderr));
            out
        }
        Fault::Rest { kind, scope, at, len } => {
            let proxy = Proxy::start(&s.cluster.url, kind, scope, at, len).await;
            let timeout = format!("{}s", REQUEST_TIMEOUT.as_secs());
            let cmd = s.apply_command(&proxy.url, &["--request-timeout", &timeout]);
            let out = assert_cmd::Command::from_std(cmd).timeout(Duration::from_secs(600)).output().unwrap();
            eprintln!(
                "--- apply through the proxy ({} faults injected)\n{}\n{}",
                proxy.injected(),
                text(&out.stdout),
                text(&out.stderr)
            );
            out
        }
    }
}

/// Apply without faults until `plan --detailed-exitcode` exits 0 (in sync).
async fn converge(s: &Scenario, round: usize) {
    let v = &s.cluster.version;
    for _ in 0..MAX_CONVERGE {
        let plan = flinkops()
            .args(["plan", "--detailed-exitcode", "--flink-url", &s.cluster.url, "--state-dir"])
            .arg(&s.state)
            .arg(&s.dir)
            .output()
            .unwrap();
        match plan.status.code() {
            Some(0) => return,
            Some(2) => {
                let out = s.apply(&[]);
                eprintln!("[{v}] round {round}: converging apply exited {:?}", out.status.code());
            }
            other => panic!(
                "[{v}] round {round}: plan exited {other:?}\n{}\n{}",
                text(&plan.stdout),
                text(&plan.stderr)
            ),
        }
    }
    panic!("[{v}] round {round}: not in sync after {MAX_CONVERGE} applies without faults");
}

/// An HTTP proxy on 127.0.0.1 in front of a Flink REST endpoint that injects one fault into a
/// window of the calls it forwards. It runs on its own thread, so the test may block on a child.
pub(crate) struct Proxy {
    pub(crate) url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Dropped, it stops the proxy: `None` while cut.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

struct Shared {
    target: String,
    http: reqwest::Client,
    kind: RestFault,
    scope: Scope,
    window: std::ops::Range<usize>,
    seen: AtomicUsize,
    injected: AtomicUsize,
    log: Mutex<Vec<String>>,
    /// For `StaleCheckpoints`: the first answer per path (content type, body).
    first: Mutex<std::collections::HashMap<String, (String, Bytes)>>,
}

impl Proxy {
    /// A proxy that passes every call on unchanged: a second URL of the same cluster.
    pub(crate) async fn plain(target: &str) -> Proxy {
        Proxy::start(target, RestFault::Unavailable, Scope::Any, 0, 0).await
    }

    async fn start(target: &str, kind: RestFault, scope: Scope, at: usize, len: usize) -> Proxy {
        let shared = Arc::new(Shared {
            target: target.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            kind,
            scope,
            window: at..at + len,
            seen: AtomicUsize::new(0),
            injected: AtomicUsize::new(0),
            log: Mutex::default(),
            first: Mutex::default(),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let stop = Some(serve(listener, shared.clone()));
        Proxy { url: format!("http://{addr}"), addr, shared, stop }
    }

    /// Stop listening, as a cluster that went down does: from now on every connection to the
    /// proxy's address is refused (idle kept-alive ones are closed), until [`Proxy::restore`].
    pub(crate) async fn cut(&mut self) {
        self.stop.take();
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(self.addr).await.is_ok() {
            assert!(Instant::now() < deadline, "the proxy at {} still accepts connections", self.url);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Listen again at the same address (the URL the cluster documents name), passing calls on.
    pub(crate) fn restore(&mut self) {
        let listener = std::net::TcpListener::bind(self.addr).expect("the proxy's port is free again");
        self.stop = Some(serve(listener, self.shared.clone()));
    }

    fn injected(&self) -> String {
        let n = self.shared.injected.load(Ordering::SeqCst);
        let seen = self.shared.seen.load(Ordering::SeqCst);
        format!("{n} of {seen} calls in scope: {}", self.shared.log.lock().unwrap().join(", "))
    }
}

/// Serve `listener` on a thread of its own until the sender given back is dropped.
fn serve(listener: std::net::TcpListener, state: Arc<Shared>) -> tokio::sync::oneshot::Sender<()> {
    listener.set_nonblocking(true).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().fallback(forward).with_state(state);
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
    });
    stop
}

async fn forward(State(p): State<Arc<Shared>>, req: Request) -> Response {
    if p.kind == RestFault::StaleCheckpoints
        && req.method() == axum::http::Method::GET
        && req.uri().path().ends_with("/checkpoints")
    {
        return stale(&p, req).await;
    }
    let selected = p.scope == Scope::Any || req.method() != axum::http::Method::GET;
    let fault = selected && p.window.contains(&p.seen.fetch_add(selected as usize, Ordering::SeqCst));
    let what = format!("{} {}", req.method(), req.uri());
    if fault {
        p.injected.fetch_add(1, Ordering::SeqCst);
        p.log.lock().unwrap().push(format!("{:?} on {what}", p.kind));
        match p.kind {
            RestFault::Unavailable => return status(503, "fault run: service unavailable"),
            RestFault::Drop => return broken(),
            RestFault::Stall => tokio::time::sleep(REQUEST_TIMEOUT + Duration::from_secs(2)).await,
            RestFault::LoseAnswer | RestFault::StaleCheckpoints => {}
        }
    }
    let answer = match pass_on(&p, req).await {
        Ok(answer) => answer,
        Err(e) => return status(502, &format!("fault run proxy: {what}: {e}")),
    };
    if fault && p.kind == RestFault::LoseAnswer { broken() } else { answer }
}

/// The first answer for this path, asked of Flink only once.
async fn stale(p: &Shared, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let known = p.first.lock().unwrap().get(&path).cloned();
    let (kind, body) = match known {
        Some(first) => {
            p.injected.fetch_add(1, Ordering::SeqCst);
            p.log.lock().unwrap().push(format!("stale answer to GET {path}"));
            first
        }
        None => {
            let answer = match pass_on(p, req).await {
                Ok(answer) => answer,
                Err(e) => return status(502, &format!("fault run proxy: GET {path}: {e}")),
            };
            let kind =
                answer.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let body = axum::body::to_bytes(answer.into_body(), usize::MAX).await.unwrap_or_default();
            p.first.lock().unwrap().insert(path, (kind.clone(), body.clone()));
            (kind, body)
        }
    };
    Response::builder().status(200).header("content-type", kind).body(Body::from(body)).unwrap()
}

/// Send the call on to Flink and bring its answer back whole.
async fn pass_on(p: &Shared, req: Request) -> Result<Response, String> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.map_err(|e| e.to_string())?;
    let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap();
    let mut call = p.http.request(method, format!("{}{path}", p.target)).body(body.to_vec());
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            call = call.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = call.send().await.map_err(|e| e.to_string())?;
    let mut out = Response::builder().status(answer.status().as_u16());
    if let Some(kind) = answer.headers().get("content-type") {
        out = out.header("content-type", kind.as_bytes());
    }
    let bytes = answer.bytes().await.map_err(|e| e.to_string())?;
    Ok(out.body(Body::from(bytes)).unwrap())
}

fn status(code: u16, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [message] }).to_string();
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

/// An answer whose body breaks off: the connection is dropped under the client.
fn broken() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("fault run: connection dropped"))
    });
    Response::builder().status(200).body(Body::from_stream(stream)).unwrap()
}

//! Real Flink clusters for the e2e tests: the environment contract with `scripts/test`, per-cluster
//! test slots, cleanup of what a test started, and polling helpers with bounded deadlines.
//!
//! Contract: `FLINKOPS_E2E_FLINK_URLS=2.3.0=http://127.0.0.1:40001,1.20.5=http://…` and
//! `FLINKOPS_E2E_TESTJOB_JARS=2.3.0=/path/testjob.jar,…`. Missing variables fail the tests (a
//! silently skipped test is a failing test) unless `FLINKOPS_E2E=skip`, which itself fails when
//! `CI=true`. A second cluster of one version (moves between clusters): `second_cluster`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use flinkops::flink::{Client, ClientConfig, JarId, JobId, JobState};
use tokio::time::Instant;

/// Test slots per cluster: its TaskManager has 4 task slots, and a scenario holds as many as its
/// jobs use at once, counting an upgrade's new version (apply checks that it fits the free slots
/// plus those the old version frees right before the stop, and waits up to a minute for them).
const SLOTS_PER_CLUSTER: usize = 4;

/// How long a job may take to get all its tasks running, a state change, or a metric to show.
const DEADLINE: Duration = Duration::from_secs(90);

/// One Flink cluster under test and the test job jar built for its version.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub version: String,
    pub url: String,
    pub jar: PathBuf,
}

/// The clusters to run every scenario on; empty only with `FLINKOPS_E2E=skip` outside CI.
pub fn clusters() -> Vec<Cluster> {
    if std::env::var("FLINKOPS_E2E").is_ok_and(|v| v == "skip") {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "FLINKOPS_E2E=skip is not allowed when CI=true: the e2e tests must run in CI"
        );
        eprintln!("FLINKOPS_E2E=skip: not running this e2e test");
        return Vec::new();
    }
    let hint = "the e2e tests need real Flink clusters: run `scripts/test`, which starts them and sets \
                FLINKOPS_E2E_FLINK_URLS and FLINKOPS_E2E_TESTJOB_JARS (FLINKOPS_E2E=skip opts out locally)";
    let urls = std::env::var("FLINKOPS_E2E_FLINK_URLS").unwrap_or_else(|_| panic!("{hint}"));
    let jars = std::env::var("FLINKOPS_E2E_TESTJOB_JARS").unwrap_or_else(|_| panic!("{hint}"));
    let jars: HashMap<String, String> = pairs(&jars).collect();
    let clusters: Vec<Cluster> = pairs(&urls)
        .map(|(version, url)| {
            let jar =
                jars.get(&version).unwrap_or_else(|| panic!("no test job jar for Flink {version}: {hint}"));
            Cluster { jar: PathBuf::from(jar), version, url }
        })
        .collect();
    assert!(!clusters.is_empty(), "FLINKOPS_E2E_FLINK_URLS lists no cluster: {hint}");
    clusters
}

/// The version of the second cluster `scripts/test` starts on request.
pub const SECOND_VERSION: &str = "2.3.0";

/// The first `SECOND_VERSION` cluster and the second one `scripts/test` starts with
/// `FLINKOPS_E2E_SECOND_CLUSTER=1` (its URL in `FLINKOPS_E2E_SECOND_FLINK_URL`): same version, its
/// own ports and checkpoints, the first one's savepoint directory. `None` with
/// `FLINKOPS_E2E=skip`, or outside CI when the run did not ask for it (said loudly); in CI a
/// missing second cluster fails the test.
pub fn second_cluster() -> Option<(Cluster, Cluster)> {
    let all = clusters();
    if all.is_empty() {
        return None;
    }
    let hint = format!(
        "this test needs a second Flink {SECOND_VERSION} cluster: run `FLINKOPS_E2E_SECOND_CLUSTER=1 scripts/test` \
         (with {SECOND_VERSION} in FLINKOPS_E2E_VERSIONS), which starts it and sets FLINKOPS_E2E_SECOND_FLINK_URL"
    );
    let first = all.into_iter().find(|c| c.version == SECOND_VERSION);
    let url = std::env::var("FLINKOPS_E2E_SECOND_FLINK_URL").ok().filter(|u| !u.trim().is_empty());
    match (first, url) {
        (Some(first), Some(url)) => {
            let second = Cluster { url: url.trim().to_owned(), ..first.clone() };
            Some((first, second))
        }
        _ => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{hint}");
            eprintln!("SKIPPED (not in CI): {hint}");
            None
        }
    }
}

/// `a=b,c=d` → (a, b), (c, d).
fn pairs(list: &str) -> impl Iterator<Item = (String, String)> + '_ {
    list.split(',').map(str::trim).filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or_else(|| panic!("expected version=value, got `{p}`"));
        (k.trim().to_owned(), v.trim().to_owned())
    })
}

impl Cluster {
    /// A client with the default timeouts and retries.
    pub fn client(&self) -> Client {
        Client::new(ClientConfig::new(&self.url)).expect("client")
    }

    /// Wait until `n` slots are free and take them together (taking them one by one could
    /// deadlock two tests that each need several).
    pub fn slots(&self, n: usize) -> Vec<SlotGuard> {
        assert!(n <= SLOTS_PER_CLUSTER, "a test can use at most {SLOTS_PER_CLUSTER} slots");
        static ALL: OnceLock<Mutex<HashMap<String, Arc<Slots>>>> = OnceLock::new();
        let slots =
            ALL.get_or_init(Default::default).lock().unwrap().entry(self.url.clone()).or_default().clone();
        let mut used = slots.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used + n > SLOTS_PER_CLUSTER {
            used = slots.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += n;
        drop(used);
        (0..n).map(|_| SlotGuard(slots.clone())).collect()
    }
}

/// A counting semaphore (std has none) for the tests on one cluster.
#[derive(Default)]
pub struct Slots {
    used: Mutex<usize>,
    freed: Condvar,
}

pub struct SlotGuard(Arc<Slots>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        *self.0.used.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        // Waiters may need different numbers of slots: wake them all to re-check.
        self.0.freed.notify_all();
    }
}

/// What a test started on a cluster: cancelled, deleted and disposed at `finish` or, if the test
/// panicked first, on drop.
pub struct Cleanup {
    client: Client,
    jobs: Vec<JobId>,
    jars: Vec<JarId>,
    savepoints: Vec<String>,
}

impl Cleanup {
    pub fn new(client: &Client) -> Self {
        Self { client: client.clone(), jobs: Vec::new(), jars: Vec::new(), savepoints: Vec::new() }
    }

    pub fn job(&mut self, job: JobId) -> JobId {
        self.jobs.push(job.clone());
        job
    }

    pub fn jar(&mut self, jar: JarId) -> JarId {
        self.jars.push(jar.clone());
        jar
    }

    pub fn savepoint(&mut self, location: &str) {
        self.savepoints.push(location.to_owned());
    }

    /// Clean up now; failures are ignored (a job may have ended, a savepoint been disposed).
    pub async fn finish(mut self) {
        clean(self.client.clone(), self.take()).await;
    }

    fn take(&mut self) -> (Vec<JobId>, Vec<JarId>, Vec<String>) {
        (std::mem::take(&mut self.jobs), std::mem::take(&mut self.jars), std::mem::take(&mut self.savepoints))
    }
}

impl Drop for Cleanup {
    /// After a panic: clean up on a thread of its own (the test's runtime cannot be blocked on).
    fn drop(&mut self) {
        let work = self.take();
        if work.0.is_empty() && work.1.is_empty() && work.2.is_empty() {
            return;
        }
        let client = self.client.clone();
        let cleaner = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(clean(client, work));
        });
        let _ = cleaner.join();
    }
}

async fn clean(client: Client, (jobs, jars, savepoints): (Vec<JobId>, Vec<JarId>, Vec<String>)) {
    let ended = async |job: &JobId| client.job(job).await.map(|d| d.state.is_terminal()).unwrap_or(true);
    for job in &jobs {
        if !ended(job).await {
            let _ = client.cancel(job).await;
        }
    }
    // The test's slots are handed on once its jobs have ended, so that the next test's apply does
    // not find them still taken (it would wait for them; bounded here, as everywhere).
    let deadline = Instant::now() + Duration::from_secs(30);
    for job in &jobs {
        while !ended(job).await && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for jar in &jars {
        let _ = client.delete_jar(jar).await;
    }
    for location in &savepoints {
        let _ = client.dispose_savepoint(location, Duration::from_secs(30)).await;
    }
}

async fn poll<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "gave up after {DEADLINE:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Until the job is RUNNING with every task running or finished (RUNNING alone can mean tasks
/// SCHEDULED; a source subtask without a split finishes while the job runs on).
pub async fn wait_tasks_running(client: &Client, job: &JobId) {
    poll(&format!("all tasks of {job} running"), async || {
        let overview = client.jobs_overview().await.unwrap();
        let j = overview.jobs.into_iter().find(|j| j.jid == *job)?;
        assert!(!j.state.is_terminal(), "{job} ended: {j:?}");
        (j.state == JobState::Running && j.tasks.all_up()).then_some(())
    })
    .await;
}

pub async fn wait_state(client: &Client, job: &JobId, state: JobState) {
    poll(&format!("{job} to be {state}"), async || {
        (client.job(job).await.unwrap().state == state).then_some(())
    })
    .await;
}

/// Until `job` has completed a checkpoint triggered after `after_ms`.
pub async fn wait_checkpoint_after(client: &Client, job: &JobId, after_ms: i64) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let latest = client.checkpoints(job).await.unwrap().latest.completed;
        if let Some(cp) = latest.filter(|cp| cp.trigger_timestamp > after_ms) {
            return cp.external_path.expect("a retained checkpoint has a path");
        }
        assert!(std::time::Instant::now() < deadline, "{job} completed no checkpoint after {after_ms}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Cancel `job` with a savepoint, as `flink cancel -s` does by hand (it ends CANCELED, its
/// state in the savepoint): the savepoint's location.
pub async fn cancel_with_savepoint(client: &Client, job: &JobId) -> String {
    use flinkops::flink::{SavepointFormat, TriggerId};
    let trigger = TriggerId::random();
    client.trigger_savepoint(job, None, SavepointFormat::Canonical, &trigger, true).await.unwrap();
    let location =
        client.wait_for_savepoint(job, &trigger, DEADLINE, Duration::from_millis(250), |_| {}).await;
    let location = location.unwrap_or_else(|e| panic!("cancel {job} with a savepoint: {e}"));
    wait_state(client, job, JobState::Canceled).await;
    location
}

/// The test job's counter gauges at one reading, aggregated (max) over the Counter's subtasks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CounterReading {
    /// The largest per-key count the job has produced.
    pub max_count: f64,
    /// The largest per-key count the job found in its state when it first saw each key: 0 after
    /// an empty start.
    pub restored_max: f64,
}

/// The test job's counter gauges, if Flink has fetched them yet (metrics refresh every ~10 s, so
/// the first reads are empty). Absent is `None`, never 0.
pub async fn counter(client: &Client, job: &JobId) -> Option<CounterReading> {
    let details = client.job(job).await.unwrap();
    let vertex = details.vertices.iter().find(|v| v.name.starts_with("Counter"))?;
    let names = ["Counter.maxCount", "Counter.restoredMax"];
    let metrics = client.vertex_subtask_metrics(job, &vertex.id, &names).await.unwrap();
    let get = |name: &str| metrics.iter().find(|m| m.id == name).and_then(|m| m.max);
    Some(CounterReading { max_count: get(names[0])?, restored_max: get(names[1])? })
}

/// The test job's `Counter.maxCount` gauge, if Flink has it yet.
pub async fn counter_max(client: &Client, job: &JobId) -> Option<f64> {
    counter(client, job).await.map(|r| r.max_count)
}

/// Until the counter is above `floor` (metrics refresh lazily, so the first reads are empty).
pub async fn wait_counter_above(client: &Client, job: &JobId, floor: f64) -> f64 {
    let last = std::sync::Mutex::new(None);
    let found = tokio::time::timeout(DEADLINE, async {
        loop {
            let value = counter_max(client, job).await;
            *last.lock().unwrap() = Some(value);
            if let Some(v) = value.filter(|v| *v > floor) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    // Say what was seen: no metric at all and a counter stuck below the floor are different bugs.
    found.unwrap_or_else(|_| {
        let state = last.lock().unwrap().take();
        panic!("gave up after {DEADLINE:?} waiting for Counter.maxCount of {job} above {floor}; last read: {state:?}")
    })
}

/// The state of a job right before a change: the counter a successor must continue from.
#[derive(Debug, Clone)]
pub struct Before {
    pub job: JobId,
    pub count: f64,
}

/// Let `job` count for a while (past 20 per key), then read its counter: call it right before
/// the change whose state continuity the test checks with [`state_continued`].
pub async fn before_change(client: &Client, job: &JobId) -> Before {
    wait_counter_above(client, job, 20.0).await;
    let count = counter_max(client, job).await.expect("the counter was just read");
    Before { job: job.clone(), count }
}

/// How long Flink may take to show a restore (`/checkpoints` is cached for ~3 s) and a restored
/// job's first counter reading (metrics refresh every ~10 s).
const ORACLE_DEADLINE: Duration = Duration::from_secs(40);

/// The state oracle, judged by Flink alone: `new` reports a restore (`latest.restored`) from
/// `reported` (when the test knows what flinkops said it restored from), and the **first**
/// counter reading of `new` that shows records processed continues from `before`: the counts it
/// found in its state (`restoredMax`) and the counts it has reached are both at least the old
/// job's last reading. An empty start fails at that first reading (restoredMax is 0), within
/// seconds of the job running, not after waiting for a fresh job to count past a floor.
pub async fn state_continued(
    client: &Client,
    before: &Before,
    new: &JobId,
    reported: Option<&str>,
) -> Result<CounterReading, String> {
    let deadline = Instant::now() + ORACLE_DEADLINE;
    let (mut restored, mut first) = (None, None);
    // Both answers lag (`/checkpoints` is cached for ~3 s, metrics refresh every ~10 s, more on a
    // loaded machine): poll for both, and judge the first counter reading as soon as there is one,
    // so an empty start fails at once whichever answer comes first.
    let (restored, first) = loop {
        if restored.is_none() {
            let checkpoints =
                client.checkpoints(new).await.map_err(|e| format!("checkpoints of {new}: {e}"))?;
            restored = checkpoints.latest.restored;
        }
        if first.is_none() {
            first = counter(client, new).await.filter(|r| r.max_count > 0.0);
        }
        if let Some(first) = first
            && (first.restored_max < before.count || first.max_count < before.count)
        {
            let how = if first.restored_max == 0.0 { "it started empty" } else { "its state is older" };
            let from = restored
                .as_ref()
                .and_then(|r| r.external_path.as_deref())
                .unwrap_or("nothing (no restore reported)");
            return Err(format!(
                "the state did not carry over from {} to {new}, {how}: the old job's counter was {} before the \
                 change, the new job's first reading is {first:?}; Flink says it restored from {from}",
                before.job, before.count
            ));
        }
        if let (Some(restored), Some(first)) = (&restored, first) {
            break (restored.clone(), first);
        }
        if Instant::now() > deadline {
            return Err(match restored {
                None => format!(
                    "Flink reports no restore for {new} within {ORACLE_DEADLINE:?}: it started empty (before: {before:?}, \
                     first counter reading: {first:?})"
                ),
                Some(_) => format!("no counter reading of {new} within {ORACLE_DEADLINE:?}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let path = restored.external_path.clone().unwrap_or_default();
    if let Some(reported) = reported
        && local_path(&path) != local_path(reported)
    {
        return Err(format!("{new} was restored from {path}, but flinkops reported {reported}"));
    }
    Ok(first)
}

/// [`state_continued`], or the test fails saying why.
pub async fn assert_state_continued(
    client: &Client,
    before: &Before,
    new: &JobId,
    reported: Option<&str>,
) -> CounterReading {
    let found = state_continued(client, before, new, reported).await;
    found.unwrap_or_else(|why| panic!("{why}"))
}

/// `file:/a/b/`, `file:///a/b` → `/a/b`: Flink answers `file:/…` whatever was sent.
fn local_path(location: &str) -> String {
    let path = location.strip_prefix("file:").unwrap_or(location);
    format!("/{}", path.trim_start_matches('/').trim_end_matches('/'))
}

/// The snapshot flinkops says it restored a job from: the last `, from <path>` in its output.
pub fn reported_snapshot(output: &str) -> Option<String> {
    let at = output.rfind(", from ")?;
    let rest = &output[at + ", from ".len()..];
    let end = rest.find(|c: char| c.is_whitespace() || c == '"' || c == ',').unwrap_or(rest.len());
    let path = &rest[..end];
    (!path.is_empty() && path != "the").then(|| path.to_owned())
}

/// Define one test per scenario that runs `$scenario(&Cluster)` on every configured cluster,
/// holding `$slots` of the cluster's test slots (as many as the scenario runs jobs at once).
macro_rules! on_every_cluster {
    ($($name:ident ($slots:expr) => $scenario:path;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for cluster in crate::flink_support::clusters() {
                let _slots = cluster.slots($slots);
                eprintln!("== {} on Flink {} at {}", stringify!($name), cluster.version, cluster.url);
                $scenario(&cluster).await;
            }
        }
    )*};
}
pub(crate) use on_every_cluster;

/// The directory of the ledger and the lock of the cluster at `url` under the state directory
/// `state`, as flinkops finds it (by the identity the cluster reports).
pub async fn cluster_dir(state: &std::path::Path, url: &str) -> PathBuf {
    let client = Client::new(ClientConfig::new(url)).unwrap();
    let identity = flinkops::cluster::resolve(&client, None).await.expect("the cluster's identity");
    flinkops::cluster::claim(state, &identity, url).unwrap()
}

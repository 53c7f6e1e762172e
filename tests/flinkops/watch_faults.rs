//! `flinkops watch` against faults a real cluster cannot be made to produce on demand: Flink not
//! there at all, a spec directory that does not exist yet (git-sync's first clone), a taken
//! listen port. Flink is a wiremock server or a closed port on 127.0.0.1.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::scratch;

const DEADLINE: Duration = Duration::from_secs(30);

struct Proc {
    child: Child,
    log: std::path::PathBuf,
}

impl Proc {
    fn start(flink: &str, specs: &Path, state: &Path, listen: &str) -> Self {
        let log = state.with_extension("log");
        let child = Command::new(assert_cmd::cargo::cargo_bin("flinkops"))
            .args([
                "watch",
                "--flink-url",
                flink,
                "--listen",
                listen,
                "--resync",
                "1s",
                "--debounce",
                "200ms",
            ])
            .arg("--state-dir")
            .arg(state)
            .arg(specs)
            .env("NO_COLOR", "1")
            .env_remove("FLINK_URL")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Proc { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn addr(&self) -> String {
        self.until("the listen address", |log| {
            let at = log.find("on http://")? + "on http://".len();
            Some(log[at..].split_whitespace().next()?.to_string())
        })
        .await
    }

    async fn until<T>(&self, what: &str, mut probe: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Some(v) = probe(&self.log()) {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up waiting for {what}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn exit_code(&mut self) -> i32 {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(tokio::time::Instant::now() < deadline, "watch did not exit; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn terminate(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(addr: &str, path: &str) -> (u16, String) {
    let resp = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// Until `path` answers `code` with `text` in the body.
async fn wait_for(addr: &str, path: &str, code: u16, text: &str) -> String {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (got, body) = get(addr, path).await;
        if got == code && body.contains(text) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path}: wanted {code} with `{text}`, got {got}:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A closed port: bound, then released.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A spec that never touches Flink: suspended and never deployed.
const SUSPENDED_SPEC: &str = "name: paused\njar: paused.jar\nstate: suspended\n";

/// Write the suspended spec and its (never uploaded) jar into `dir`.
fn write_spec(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("paused.yaml"), SUSPENDED_SPEC).unwrap();
    std::fs::write(dir.join("paused.jar"), b"not really a jar").unwrap();
}

/// A Flink that answers the two observing calls with an empty cluster.
async fn empty_flink() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/config"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "refresh-interval": 3000, "timezone-name": "UTC", "timezone-offset": 0,
            "flink-version": "2.3.0", "flink-revision": "x", "features": {}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jobs/overview"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "jobs": [] })))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn with_flink_down_watch_stays_up_and_readyz_says_flink_is_not_reachable() {
    let dir = scratch("watch-flink-down");
    write_spec(&dir.join("specs"));
    let flink = format!("http://127.0.0.1:{}", closed_port());
    let mut w = Proc::start(&flink, &dir.join("specs"), &dir.join("state"), "127.0.0.1:0");
    let addr = w.addr().await;
    let body = wait_for(&addr, "/readyz", 503, "is not reachable").await;
    assert!(body.contains(&flink), "{body}");
    wait_for(&addr, "/metrics", 200, "flinkops_flink_up 0").await;
    wait_for(&addr, "/healthz", 200, "ok").await;
    w.terminate();
    assert_eq!(w.exit_code().await, 0, "log:\n{}", w.log());
}

#[tokio::test]
async fn a_spec_directory_that_appears_later_is_picked_up_without_a_restart() {
    let dir = scratch("watch-late-specs");
    let flink = empty_flink().await;
    let specs = dir.join("checkout/specs");
    let mut w = Proc::start(&flink.uri(), &specs, &dir.join("state"), "127.0.0.1:0");
    let addr = w.addr().await;
    wait_for(&addr, "/readyz", 503, "problem(s) in the job specs").await;
    // Like git-sync's first clone: the directory appears, complete, at once.
    write_spec(&dir.join("tmp-clone"));
    std::fs::create_dir_all(dir.join("checkout")).unwrap();
    std::fs::rename(dir.join("tmp-clone"), &specs).unwrap();
    wait_for(&addr, "/readyz", 200, "ready").await;
    wait_for(&addr, "/metrics", 200, "flinkops_specs_valid 1").await;
    // Only the observing calls: nothing was deployed.
    let requests = flink.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| r.method.as_str() == "GET"), "{requests:?}");
    w.terminate();
    assert_eq!(w.exit_code().await, 0);
}

#[tokio::test]
async fn a_taken_listen_address_fails_at_once_with_a_hint() {
    let dir = scratch("watch-port-taken");
    write_spec(&dir.join("specs"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let flink = empty_flink().await;
    let mut w = Proc::start(&flink.uri(), &dir.join("specs"), &dir.join("state"), &listen);
    assert_eq!(w.exit_code().await, 1);
    let log = w.log();
    assert!(log.contains(&format!("cannot listen on {listen}")) && log.contains("--listen"), "{log}");
}

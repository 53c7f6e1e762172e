//! `flinkops watch` against faults a real cluster cannot be made to produce on demand: Flink not
//! there at all, a spec directory that does not exist yet (git-sync's first clone), a taken
//! listen port. Flink is a wiremock server or a closed port on 127.0.0.1.

use std::path::Path;
use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::scratch;
use crate::watch_support::Watch;

const DEADLINE: Duration = Duration::from_secs(30);

/// Start watch with a 1 s resync and a short debounce.
fn spawn(flink: &str, specs: &Path, state: &Path, listen: &str) -> Watch {
    Watch::spawn(flink, specs, state, listen, &["--resync", "1s", "--debounce", "200ms"], DEADLINE)
}

/// A closed port: bound, then released.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A spec that never touches Flink: suspended and never deployed.
const SUSPENDED_SPEC: &str =
    "apiVersion: flinkops.dev/v1\nkind: FlinkJob\nname: paused\njar: paused.jar\nstate: suspended\n";

/// Write the suspended spec and its (never uploaded) jar into `dir`.
fn write_spec(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("paused.yaml"), SUSPENDED_SPEC).unwrap();
    crate::support::stand_in_jar(&dir.join("paused.jar"), "");
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
    Mock::given(method("GET"))
        .and(path("/jobmanager/config"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([
            {"key": "jobmanager.rpc.address", "value": "localhost"},
            {"key": "rest.port", "value": server.address().port().to_string()},
        ])))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn with_flink_down_watch_stays_up_and_readyz_says_flink_is_not_reachable() {
    let dir = scratch("watch-flink-down");
    write_spec(&dir.join("specs"));
    let flink = format!("http://127.0.0.1:{}", closed_port());
    let mut w = spawn(&flink, &dir.join("specs"), &dir.join("state"), "127.0.0.1:0").listening().await;
    let body = w.wait_for("/readyz", 503, "is not reachable").await;
    assert!(body.contains(&flink), "{body}");
    w.wait_for("/metrics", 200, "flinkops_flink_up{cluster=\"default\"} 0").await;
    w.wait_for("/healthz", 200, "ok").await;
    w.signal("TERM");
    assert_eq!(w.exited(DEADLINE).await, 0, "log:\n{}", w.log());
}

#[tokio::test]
async fn a_spec_directory_that_appears_later_is_picked_up_without_a_restart() {
    let dir = scratch("watch-late-specs");
    let flink = empty_flink().await;
    let specs = dir.join("checkout/specs");
    let mut w = spawn(&flink.uri(), &specs, &dir.join("state"), "127.0.0.1:0").listening().await;
    w.wait_for("/readyz", 503, "problem(s) in the job specs").await;
    // Like git-sync's first clone: the directory appears, complete, at once.
    write_spec(&dir.join("tmp-clone"));
    std::fs::create_dir_all(dir.join("checkout")).unwrap();
    std::fs::rename(dir.join("tmp-clone"), &specs).unwrap();
    w.wait_for("/readyz", 200, "ready").await;
    w.wait_for("/metrics", 200, "flinkops_specs_valid 1").await;
    // Only the observing calls: nothing was deployed.
    let requests = flink.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| r.method.as_str() == "GET"), "{requests:?}");
    w.signal("TERM");
    assert_eq!(w.exited(DEADLINE).await, 0);
}

#[tokio::test]
async fn a_taken_listen_address_fails_at_once_with_a_hint() {
    let dir = scratch("watch-port-taken");
    write_spec(&dir.join("specs"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let flink = empty_flink().await;
    let mut w = spawn(&flink.uri(), &dir.join("specs"), &dir.join("state"), &listen);
    assert_eq!(w.exited(DEADLINE).await, 1);
    let log = w.log();
    assert!(log.contains(&format!("cannot listen on {listen}")) && log.contains("--listen"), "{log}");
}

/// A spec nested 200 levels deep (anyone who can push to the spec repository can write one):
/// watch reports it as a spec problem and stays up. (The YAML parser recurses once per level:
/// this guards the stack watch reads specs on, which must stay a main thread's.)
#[tokio::test]
async fn a_deeply_nested_spec_is_a_spec_problem_not_a_crash() {
    let dir = scratch("watch-deep-spec");
    let specs = dir.join("specs");
    write_spec(&specs);
    let deep: String = (0..200).map(|i| format!("{}a{i}:\n", " ".repeat(i))).collect::<String>()
        + &" ".repeat(200)
        + "v: 1\n";
    std::fs::write(specs.join("deep.yaml"), deep).unwrap();
    let flink = empty_flink().await;
    let mut w = spawn(&flink.uri(), &specs, &dir.join("state"), "127.0.0.1:0").listening().await;
    let body = w.wait_for("/readyz", 503, "problem(s) in the job specs").await;
    assert!(body.contains("deeper than 64 levels"), "{body}");
    w.signal("TERM");
    assert_eq!(w.exited(DEADLINE).await, 0, "{}", w.log());
}

/// A cluster document is watch's connection; its `url` changed under a running watch is refused
/// (the lock and ledger belong to the cluster it started with) without calling the new address.
#[tokio::test]
async fn watch_connects_through_a_cluster_document_and_refuses_its_url_changing_under_it() {
    let dir = scratch("watch-cluster-document");
    let specs = dir.join("specs");
    write_spec(&specs);
    let cluster =
        |url: &str| format!("apiVersion: flinkops.dev/v1\nkind: FlinkCluster\nname: prod\nurl: {url}\n");
    let (flink, elsewhere) = (empty_flink().await, empty_flink().await);
    std::fs::write(specs.join("cluster.yaml"), cluster(&flink.uri())).unwrap();
    let mut w = spawn("", &specs, &dir.join("state"), "127.0.0.1:0").listening().await;
    w.wait_for("/readyz", 200, "ready").await;
    assert!(!flink.received_requests().await.unwrap().is_empty(), "watch did not reach the document's url");
    std::fs::write(specs.join("cluster.yaml"), cluster(&elsewhere.uri())).unwrap();
    let body = w.wait_for("/readyz", 503, "restart watch").await;
    assert!(body.contains(&elsewhere.uri()), "{body}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty(), "the new url was called");
    w.signal("TERM");
    assert_eq!(w.exited(Duration::from_secs(30)).await, 0);
}

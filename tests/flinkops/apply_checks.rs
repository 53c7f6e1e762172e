//! apply checks again right before each stop (against a fake Flink whose answers change between
//! the plan apply makes at its start and the stop): a check that fails then leaves the old job
//! running — no stop, cancel or run request reaches Flink — fails the job with the reason, skips
//! its dependents and exits 1. (The real-cluster scenarios are in savepoint_e2e.)

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{flinkops, scratch};

/// A cluster running `j0` as an older version of its spec (so the plan upgrades it with a
/// savepoint); `j1` depends on `j0` and is not deployed yet. The jar is on the cluster already.
struct Scenario {
    server: MockServer,
    dir: std::path::PathBuf,
    id: String,
}

async fn scenario(name: &str, j0_extra: &str) -> Scenario {
    scenario_running(name, j0_extra, "j0").await
}

/// As [`scenario`], the live job being one of `live_name` (another name for a rename).
async fn scenario_running(name: &str, j0_extra: &str, live_name: &str) -> Scenario {
    let server = MockServer::start().await;
    let dir = scratch(name);
    let jar = dir.join("app.jar");
    crate::support::stand_in_jar(&jar, "");
    std::fs::write(
        dir.join("j0.yaml"),
        crate::support::job_spec(&format!("name: j0\njar: app.jar\n{j0_extra}")),
    )
    .unwrap();
    std::fs::write(
        dir.join("j1.yaml"),
        crate::support::job_spec("name: j1\njar: app.jar\ndependsOn: [j0]\nrestore: {from: none}\n"),
    )
    .unwrap();
    let sha = flinkops::spec::fingerprint::sha256_of_file(&mut std::fs::File::open(&jar).unwrap()).unwrap();
    let upload = flinkops::apply::jars::upload_name(&sha);
    let get = |p: &str, body: Value| {
        Mock::given(method("GET")).and(path(p)).respond_with(ResponseTemplate::new(200).set_body_json(body))
    };
    get("/config", json!({"flink-version": "2.3.0"})).mount(&server).await;
    let here = dir.join("cluster");
    get(
        "/jobmanager/config",
        json!([
            {"key": "rest.port", "value": "8081"},
            {"key": "execution.checkpointing.dir", "value": format!("file:{}", here.join("checkpoints").display())},
            {"key": "execution.checkpointing.savepoint-dir", "value": format!("file:{}", here.join("savepoints").display())},
        ]),
    )
    .mount(&server)
    .await;
    get("/jars", json!({"files": [{"id": format!("1234_{upload}"), "name": upload, "uploaded": 1}]}))
        .mount(&server)
        .await;
    let older = flinkops::spec::fingerprint::Fingerprint("0".repeat(64));
    let id = flinkops::plan::identity::job_id(live_name, &older, [0, 0, 1]).to_string();
    get(
        "/jobs/overview",
        json!({"jobs": [{"jid": id, "name": "j0", "state": "RUNNING", "start-time": 1, "end-time": -1,
                         "duration": 1, "last-modification": 1, "tasks": {"total": 1, "running": 1}}]}),
    )
    .mount(&server)
    .await;
    get(
        &format!("/jobs/{id}"),
        json!({"jid": id, "name": "j0", "state": "RUNNING", "start-time": 1, "vertices": [
            {"id": "v1", "name": "source", "parallelism": 1, "status": "RUNNING"}]}),
    )
    .mount(&server)
    .await;
    Scenario { server, dir, id }
}

/// `first` for the first GET of `p`, `then` for every later one.
async fn changing(server: &MockServer, p: &str, first: Value, then: Value) {
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(200).set_body_json(then))
        .with_priority(2)
        .mount(server)
        .await;
}

fn checkpoints(took_ms: u64) -> Value {
    json!({"latest": {"completed": {"id": 5, "latest_ack_timestamp": 1, "external_path": "file:/c/chk-5"}},
           "history": [{"id": 5, "status": "COMPLETED", "end_to_end_duration": took_ms}]})
}

/// Three of four slots free when the plan looks, one by the stop (another job took them); the
/// live job's checkpoints are quick (100 ms), so only the slots stand in the way of its stop.
async fn slots_shrink_after_the_plan(s: &Scenario) {
    changing(
        &s.server,
        "/overview",
        json!({"slots-total": 4, "slots-available": 3}),
        json!({"slots-total": 4, "slots-available": 1}),
    )
    .await;
    s.server
        .register(
            Mock::given(method("GET"))
                .and(path(format!("/jobs/{}/checkpoints", s.id)))
                .respond_with(ResponseTemplate::new(200).set_body_json(checkpoints(100))),
        )
        .await;
}

/// Runs apply; returns its exit code and everything it printed.
fn apply(s: &Scenario, extra: &[&str]) -> (Option<i32>, String) {
    let out = flinkops()
        .args(["apply", "--auto-approve", "--flink-url", &s.server.uri(), "--state-dir"])
        .arg(s.dir.join(".state"))
        .args(extra)
        .arg(&s.dir)
        .output()
        .unwrap();
    let shown = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), shown)
}

/// Every request apply made that is not a GET: none may reach Flink when a check fails.
pub(crate) async fn writes(server: &MockServer) -> Vec<String> {
    let requests = server.received_requests().await.unwrap();
    requests
        .iter()
        .filter(|r| r.method.as_str() != "GET")
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

async fn checkpoint_lookups(s: &Scenario) -> usize {
    let want = format!("/jobs/{}/checkpoints", s.id);
    s.server.received_requests().await.unwrap().iter().filter(|r| r.url.path() == want).count()
}

/// The plan apply makes at its start sees fast checkpoints; by the stop a checkpoint took 5 s, more
/// than `savepoint.timeout: 1s`: the stop is refused and j1, which waits for j0, is skipped.
#[tokio::test]
async fn a_savepoint_timeout_that_became_too_short_refuses_the_stop_and_skips_dependents() {
    let s =
        scenario("apply-checks-timeout", "parallelism: 1\nsavepoint: {timeout: 1s}\nrestartNonce: 1\n").await;
    s.server
        .register(Mock::given(method("GET")).and(path("/overview")).respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"slots-total": 4, "slots-available": 4})),
        ))
        .await;
    changing(&s.server, &format!("/jobs/{}/checkpoints", s.id), checkpoints(200), checkpoints(5_000)).await;
    let (code, shown) = apply(&s, &[]);
    assert_eq!(code, Some(1), "{shown}");
    assert!(shown.contains("not stopped: `savepoint.timeout` is 1s"), "{shown}");
    assert!(shown.contains("checkpoint 5 took 5s end to end"), "{shown}");
    assert!(shown.contains("waits for `j0`"), "j1 is skipped: {shown}");
    assert_eq!(checkpoint_lookups(&s).await, 2, "once for the plan, once right before the stop");
    assert_eq!(writes(&s.server).await, Vec::<String>::new(), "no stop, cancel, upload or run");
}

/// The plan sees enough free slots; by the stop another job took them: apply waits `--slot-wait`
/// (saying so), then refuses the stop, naming the numbers.
#[tokio::test]
async fn free_slots_gone_by_the_stop_are_waited_for_then_the_stop_is_refused() {
    let s = scenario("apply-checks-slots", "parallelism: 3\n").await;
    slots_shrink_after_the_plan(&s).await;
    let started = std::time::Instant::now();
    let (code, shown) = apply(&s, &["--slot-wait", "2s"]);
    assert_eq!(code, Some(1), "{shown}");
    assert!(shown.contains("needs 3 task slots; 1 free and 1 held by"), "progress says it waits: {shown}");
    assert!(
        shown.contains("not stopped: it needs 3 task slots and, after waiting 2s, the cluster has 1 free plus the 1 its old version frees"),
        "{shown}"
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(2), "it waited");
    assert!(shown.contains("waits for `j0`"), "j1 is skipped: {shown}");
    assert_eq!(writes(&s.server).await, Vec::<String>::new(), "no stop, cancel, upload or run");
}

/// A rename stops the old name's job like an upgrade does, so it makes the same checks first:
/// with too few free slots for the new job it waits, then refuses, having sent Flink nothing
/// but GETs, and the old name's ledger history stays where it was.
#[tokio::test]
async fn a_rename_without_free_slots_is_refused_before_its_stop_like_an_upgrade() {
    let s =
        scenario_running("apply-checks-rename-slots", "parallelism: 3\npreviousNames: [old]\n", "old").await;
    slots_shrink_after_the_plan(&s).await;
    let client = flinkops::flink::Client::new(flinkops::flink::ClientConfig::new(s.server.uri())).unwrap();
    let identity = flinkops::cluster::resolve(&client, None).await.unwrap();
    let cluster = flinkops::cluster::claim(&s.dir.join(".state"), &identity, &s.server.uri()).unwrap();
    let ledger = flinkops::ledger::Ledger::new(&cluster);
    let mut record = flinkops::ledger::Record::new("old");
    record.job_id = Some(s.id.parse().unwrap());
    ledger.write(&record).unwrap();
    let (code, shown) = apply(&s, &["--slot-wait", "1s"]);
    assert_eq!(code, Some(1), "{shown}");
    assert!(shown.contains("renamed from `old`"), "the plan is a rename: {shown}");
    assert!(shown.contains("not stopped: it needs 3 task slots and, after waiting 1s"), "{shown}");
    assert_eq!(writes(&s.server).await, Vec::<String>::new(), "no stop, cancel, upload or run");
    assert!(ledger.read("old").unwrap().is_some(), "the old name's history was not moved");
}

//! `flinkops plan` against a fake Flink: the number of REST calls, and what it does when Flink
//! fails. (The real-cluster scenarios are in plan_e2e.)

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{flinkops, job_spec, scratch};

pub(crate) async fn fake_flink(live_jobs: usize) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/config"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"flink-version": "2.3.0"})))
        .mount(&server)
        .await;
    // The directories a first deployment is checked against: empty, on this machine.
    let state = scratch("plan-mock-cluster-dirs");
    Mock::given(method("GET"))
        .and(path("/jobmanager/config"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"key": "execution.checkpointing.dir", "value": format!("file:{}", state.join("checkpoints").display())},
            {"key": "execution.checkpointing.savepoint-dir", "value": format!("file:{}", state.join("savepoints").display())},
        ])))
        .mount(&server)
        .await;
    let jobs: Vec<_> = (0..live_jobs)
        .map(|i| {
            json!({"jid": format!("{i:032x}"), "name": format!("other-{i}"), "state": "RUNNING",
                   "start-time": 1, "end-time": -1, "duration": 1, "last-modification": 1,
                   "tasks": {"total": 1, "running": 1}})
        })
        .collect();
    Mock::given(method("GET"))
        .and(path("/jobs/overview"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "jobs": jobs })))
        .mount(&server)
        .await;
    server
}

pub(crate) fn specs(name: &str, n: usize) -> std::path::PathBuf {
    let dir = scratch(name);
    crate::support::stand_in_jar(&dir.join("app.jar"), "");
    for i in 0..n {
        std::fs::write(dir.join(format!("j{i}.yaml")), job_spec(&format!("name: j{i}\njar: app.jar\n")))
            .unwrap();
    }
    dir
}

async fn calls_for(specs_n: usize, live_n: usize) -> usize {
    let server = fake_flink(live_n).await;
    let dir = specs(&format!("plan-calls-{specs_n}"), specs_n);
    let state = dir.join(".state");
    let out = flinkops()
        .args(["plan", "--flink-url", &server.uri(), "-o", "json", "--state-dir"])
        .arg(&state)
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn plan_makes_the_same_four_calls_for_3_or_300_jobs() {
    // /config, /jobs/overview, /jobmanager/config for the directories that may hold the state of
    // the specs that are not running (here all: first deployments), and /overview for the task
    // slots the jobs to start must fit in.
    assert_eq!(calls_for(3, 3).await, 4);
    assert_eq!(calls_for(300, 300).await, 4);
}

#[tokio::test]
async fn an_unreachable_cluster_fails_with_a_hint_and_writes_no_plan() {
    let dir = specs("plan-unreachable", 1);
    let plan_file = dir.join("plan.json");
    let out = flinkops()
        .args(["plan", "--retries", "0", "--flink-url", "http://127.0.0.1:9", "--out"])
        .arg(&plan_file)
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("connection refused") && stderr.contains("hint:"), "{stderr}");
    assert!(!plan_file.exists());
}

#[tokio::test]
async fn a_saved_plan_is_the_json_plan() {
    let server = fake_flink(0).await;
    let dir = specs("plan-saved", 2);
    let plan_file = dir.join("plan.json");
    let out = flinkops()
        .args(["plan", "--flink-url", &server.uri(), "-o", "json", "--out"])
        .arg(&plan_file)
        .args(["--state-dir"])
        .arg(dir.join(".state"))
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&plan_file).unwrap()).unwrap();
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(saved, printed);
    assert_eq!(saved["formatVersion"], 1);
    assert_eq!(saved["cluster"]["url"], server.uri());
}

#[tokio::test]
async fn a_url_that_now_answers_as_another_cluster_is_refused_until_the_user_says_which_it_is() {
    let server = fake_flink(0).await;
    let dir = specs("plan-changed-cluster", 1);
    let state = dir.join(".state");
    // An earlier run knew this URL as another cluster (a port-forward pointed elsewhere).
    let old = state.join("clusters/jobmanager-8081-0a0b0c0d");
    std::fs::create_dir_all(old.join("jobs")).unwrap();
    let known = json!({"key": "jobmanager-8081-0a0b0c0d", "urls": [server.uri()],
                       "identity": {"jobmanager.rpc.address": "jobmanager", "rest.port": "8081"}});
    std::fs::write(old.join("cluster.json"), known.to_string()).unwrap();
    let plan = |extra: &[&str]| {
        flinkops()
            .args(["plan", "--flink-url", &server.uri(), "--state-dir"])
            .arg(&state)
            .args(extra)
            .arg(&dir)
            .output()
            .unwrap()
    };
    let out = plan(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is not the one this state directory knew at that URL"), "{stderr}");
    assert!(
        stderr.contains("jobmanager.rpc.address=jobmanager") && stderr.contains("--cluster-name"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("mv {}", old.display())), "{stderr}");
    // Named, it is another cluster: planned, with a ledger of its own.
    let out = plan(&["--cluster-name", "staging"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A listener that accepts connections and never answers: every call waits out its timeout.
fn black_hole() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    format!("http://{addr}")
}

/// With the default 30 s request timeout and retries, one such call alone would cost a minute;
/// `--max-time` bounds the whole command.
#[test]
fn a_cluster_that_never_answers_costs_plan_status_and_audit_at_most_max_time() {
    let url = black_hole();
    let dir = specs("max-time", 2);
    for command in ["plan", "status", "audit"] {
        let mut cmd = flinkops();
        cmd.args([command, "--flink-url", &url, "--max-time", "2s"]);
        if command != "status" {
            cmd.arg("--state-dir").arg(dir.join(".state")).arg(&dir);
        }
        let started = std::time::Instant::now();
        let out = cmd.output().unwrap();
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        assert!(
            stderr.contains("time limit of 2.0s") && stderr.contains("--max-time"),
            "{command}: {stderr}"
        );
        assert!(took < std::time::Duration::from_secs(20), "{command} took {took:?}");
    }
}

/// A cluster that lists its jobs and then stops answering: `status` shows the jobs, says once why
/// their checkpoints are missing, and does not wait for each of them in turn.
#[tokio::test]
async fn status_stops_looking_up_checkpoints_when_flink_stops_answering() {
    let server = fake_flink(40).await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex("^/jobs/[0-9a-f]{32}/checkpoints$"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(60)))
        .mount(&server)
        .await;
    let out = flinkops()
        .args([
            "status",
            "--flink-url",
            &server.uri(),
            "--max-time",
            "3s",
            "--request-timeout",
            "1s",
            "--retries",
            "0",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("other-39"), "every job is listed");
    assert_eq!(stderr.matches("checkpoint lookups stopped").count(), 1, "{stderr}");
    assert!(stderr.contains("40 of 40 jobs are shown without checkpoints"), "{stderr}");
    assert!(stderr.lines().count() < 5, "one warning, not one per job:\n{stderr}");
    let lookups = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/checkpoints"))
        .count();
    assert!(lookups <= 8, "{lookups} lookups were started after Flink stopped answering");
}

/// A cluster without a default savepoint directory and a spec without one of its own: plan says
/// so as an error, and apply refuses to stop the job (no stop request reaches Flink).
#[tokio::test]
async fn without_a_savepoint_directory_anywhere_plan_and_apply_refuse_the_stop() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/config"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"flink-version": "1.19.1"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jobmanager/config"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"key": "rest.port", "value": "8081"}])),
        )
        .mount(&server)
        .await;
    let dir = specs("no-savepoint-dir", 1);
    // j0 runs an older version (another fingerprint): the plan is an upgrade with a savepoint.
    let older = flinkops::spec::fingerprint::Fingerprint("0".repeat(64));
    let id = flinkops::plan::identity::job_id("j0", &older, [0, 0, 1]);
    Mock::given(method("GET"))
        .and(path("/jobs/overview"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"jobs": [{
            "jid": id.as_str(), "name": "j0", "state": "RUNNING", "start-time": 1, "end-time": -1,
            "duration": 1, "last-modification": 1, "tasks": {"total": 1, "running": 1}}]})))
        .mount(&server)
        .await;
    let state = dir.join(".state");
    let url = server.uri();
    for args in [&["plan", "--flink-url", &url][..], &["apply", "--auto-approve", "--flink-url", &url][..]] {
        let out = flinkops().args(args).arg("--state-dir").arg(&state).arg(&dir).output().unwrap();
        let shown =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {shown}");
        assert!(shown.contains("no savepoint directory is set"), "{args:?}: {shown}");
    }
    let writes =
        server.received_requests().await.unwrap().into_iter().filter(|r| r.method.as_str() != "GET").count();
    assert_eq!(writes, 0, "nothing was stopped, uploaded or started");
}

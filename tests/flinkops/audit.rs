//! `flinkops audit`: against a fake Flink, the requests it makes (GET only), its JSON document and
//! its exit codes; on every real cluster, a spec applied, cancelled by hand, and a job flinkops did
//! not start.

use std::path::{Path, PathBuf};
use std::process::Output;

use flinkops::flink::{JobId, RunRequest};
use flinkops::plan::identity;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::flink_support::{Cleanup, Cluster, cancel_with_savepoint, on_every_cluster, wait_tasks_running};
use crate::support::{flinkops, job_spec, scratch};

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn overview_job(id: &JobId, name: &str, state: &str, running: u32) -> Value {
    let ended = matches!(state, "FAILED" | "CANCELED" | "FINISHED");
    json!({"jid": id.to_string(), "name": name, "state": state, "start-time": now_ms() - 60_000,
           "end-time": if ended { now_ms() - 1_000 } else { -1 }, "duration": 59_000,
           "last-modification": now_ms(), "tasks": {"total": 1, "running": running}})
}

/// A fake Flink with these jobs; every job's checkpoint statistics show a savepoint 2 hours old
/// and a checkpoint 10 seconds old.
async fn fake_flink(jobs: Vec<Value>) -> MockServer {
    let server = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    Mock::given(method("GET"))
        .and(path("/config"))
        .respond_with(ok(json!({"flink-version": "2.3.0"})))
        .mount(&server)
        .await;
    let state = scratch("audit-mock-cluster-dirs");
    Mock::given(method("GET"))
        .and(path("/jobmanager/config"))
        .respond_with(ok(json!([
            {"key": "execution.checkpointing.dir", "value": format!("file:{}", state.join("checkpoints").display())},
            {"key": "execution.checkpointing.savepoint-dir", "value": format!("file:{}", state.join("savepoints").display())},
        ])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jobs/overview"))
        .respond_with(ok(json!({ "jobs": jobs })))
        .mount(&server)
        .await;
    let (checkpoint_at, savepoint_at) = (now_ms() - 10_000, now_ms() - 7_200_000);
    Mock::given(method("GET"))
        .and(path_regex("^/jobs/[0-9a-f]{32}/checkpoints$"))
        .respond_with(ok(json!({"counts": {"completed": 3}, "latest": {
            "completed": {"id": 3, "latest_ack_timestamp": checkpoint_at, "external_path": "file:/ck/chk-3"},
            "savepoint": {"id": 2, "latest_ack_timestamp": savepoint_at, "external_path": "file:/sp/savepoint-1"},
            "failed": null, "restored": null}})))
        .mount(&server)
        .await;
    server
}

/// A spec directory with one spec per name (the same jar for all).
fn specs(test: &str, names: &[&str]) -> PathBuf {
    let dir = scratch(test);
    crate::support::stand_in_jar(&dir.join("app.jar"), "");
    for name in names {
        std::fs::write(dir.join(format!("{name}.yaml")), job_spec(&format!("name: {name}\njar: app.jar\n")))
            .unwrap();
    }
    dir
}

/// The id flinkops would give a submission of this spec.
fn managed_id(dir: &Path, name: &str) -> JobId {
    let (desired, _) = flinkops::spec::load(dir).into_result().expect("valid specs");
    let spec = &desired.jobs[name];
    identity::job_id(&spec.name, &spec.fingerprint, [0, 0, 1])
}

fn audit(url: &str, dir: &Path, extra: &[&str]) -> Output {
    flinkops()
        .args(["audit", "--retries", "0", "--flink-url", url, "--state-dir"])
        .arg(dir.join(".state"))
        .args(extra)
        .arg(dir)
        .output()
        .unwrap()
}

fn json_of(out: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"))
}

fn row<'a>(report: &'a Value, name: &str) -> &'a Value {
    let rows = report["jobs"].as_array().unwrap();
    rows.iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("no row {name}: {report:#}"))
}

#[tokio::test]
async fn audit_only_reads_and_reports_every_spec_and_job_in_its_json_document() {
    let dir = specs("audit-mock-shape", &["broken", "fresh"]);
    let broken = managed_id(&dir, "broken");
    let other = JobId::from_bytes([7; 16]);
    let server = fake_flink(vec![
        overview_job(&broken, "broken", "FAILED", 0),
        overview_job(&other, "other", "RUNNING", 1),
    ])
    .await;
    let out = audit(&server.uri(), &dir, &["-o", "json"]);
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(2), "a failed job is an error: {report:#}");

    let requests = server.received_requests().await.unwrap();
    let calls: Vec<String> = requests.iter().map(|r| format!("{} {}", r.method, r.url.path())).collect();
    assert!(requests.iter().all(|r| r.method.as_str() == "GET"), "{calls:?}");
    // /config, /jobs/overview, the checkpoints of 2 jobs, for the failed job's restore source its
    // checkpoints again (with the rest of its evidence) and /jobmanager/config, and /overview for
    // the slots its restart needs.
    assert_eq!(calls.len(), 7, "{calls:?}");
    assert!(!dir.join(".state").join("clusters").exists(), "the ledger is never created");

    assert_eq!(report["formatVersion"], 1);
    assert_eq!(report["cluster"], json!({"url": server.uri(), "flinkVersion": "2.3.0"}));
    assert_eq!(report["failOn"], "error");
    assert!(report["observedAt"].as_str().unwrap().ends_with('Z'));
    let b = row(&report, "broken");
    assert_eq!((&b["status"], &b["severity"]), (&json!("failed"), &json!("error")), "{b:#}");
    assert_eq!(
        b["live"],
        json!({"id": broken.to_string(), "state": "FAILED", "tasks": {"running": 0, "total": 1}})
    );
    assert_eq!(b["latestSavepoint"]["source"], "flink");
    assert_eq!(b["latestSavepoint"]["path"], "file:/sp/savepoint-1");
    assert!((7_199..7_260).contains(&b["latestSavepoint"]["ageSeconds"].as_u64().unwrap()), "{b:#}");
    assert_eq!(b["latestCheckpoint"]["id"], 3);
    assert_eq!(b["findings"][0]["severity"], "error");
    assert!(b["findings"][0]["message"].as_str().unwrap().contains("`flinkops apply` redeploys it"));
    let f = row(&report, "fresh");
    assert_eq!(
        (&f["status"], &f["severity"], &f["live"]),
        (&json!("not-deployed"), &json!("warn"), &Value::Null)
    );
    let o = row(&report, "other");
    assert_eq!((&o["status"], &o["severity"]), (&json!("unmanaged"), &json!("ok")));
    assert_eq!(report["summary"], json!({"ok": 1, "warn": 1, "error": 1}));
}

#[tokio::test]
async fn fail_on_warn_makes_a_warning_exit_2_and_fail_on_error_does_not() {
    let dir = specs("audit-mock-fail-on", &["fresh"]);
    let server = fake_flink(vec![]).await;
    let out = audit(&server.uri(), &dir, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("fresh  not-deployed  warn"), "{stdout}");
    assert!(stdout.contains("\n1 job: 0 ok, 1 warn, 0 error\n"), "{stdout}");
    assert!(
        stdout.ends_with(
            "`flinkops plan --refresh-only` (with --detailed-exitcode it exits 2 on drift, for a CI alert).\n"
        ),
        "the audit links to the drift report: {stdout}"
    );
    let out = audit(&server.uri(), &dir, &["--fail-on", "warn", "-o", "json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_of(&out)["failOn"], "warn");
}

#[tokio::test]
async fn an_unreachable_cluster_or_invalid_specs_exit_1_with_the_cause() {
    let dir = specs("audit-mock-unreachable", &["fresh"]);
    let out = audit("http://127.0.0.1:9", &dir, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("connection refused") && stderr.contains("hint:"), "{stderr}");
    // The URL came from --flink-url: the hint names it.
    assert!(stderr.contains("FLINK_URL (--flink-url)"), "{stderr}");
    assert!(out.stdout.is_empty());

    flinkops()
        .args(["audit", "--flink-url", "http://127.0.0.1:9", "tests/cases/bad/unknown-field-typo"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("Flink was not contacted"));
}

on_every_cluster! {
    audit_sees_a_job_in_sync_then_cancelled_by_hand_next_to_an_unmanaged_one (2) => sync_cancel_unmanaged;
}

/// Apply a spec, audit (in sync, exit 0), start a job by hand and cancel the managed one by
/// hand, audit again (cancelled: an error, exit 2; the other job unmanaged).
async fn sync_cancel_unmanaged(c: &Cluster) {
    let client = c.client();
    let mut cleanup = Cleanup::new(&client);
    let prefix = format!("audit-{}-{}", c.version.replace('.', ""), &JobId::random().to_string()[..5]);
    let root = scratch(&prefix);
    let dir = root.join("specs");
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!("{prefix}-counter");
    std::fs::write(
        dir.join("counter.yaml"),
        job_spec(&format!(
            "name: {name}\njar: {}\nentryClass: dev.flinkops.testjob.CounterJob\nargs: [--name, {name}]\n\
             health: {{ stableFor: 2s, timeout: 90s }}\n",
            c.jar.display()
        )),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        flinkops()
            .args(extra)
            .args(["--flink-url", &c.url, "--state-dir"])
            .arg(root.join("state"))
            .arg(&dir)
            .output()
            .unwrap()
    };
    let applied = run(&["apply", "--auto-approve"]);
    assert_eq!(applied.status.code(), Some(0), "{}", String::from_utf8_lossy(&applied.stderr));

    let out = run(&["audit", "-o", "json"]);
    let report = json_of(&out);
    let counter = row(&report, &name);
    assert_eq!(counter["status"], "in-sync", "{counter:#}");
    assert_eq!(out.status.code(), Some(0), "no error: {report:#}");
    let managed: JobId = counter["live"]["id"].as_str().unwrap().parse().unwrap();
    cleanup.job(managed.clone());

    let extra = format!("{prefix}-by-hand");
    let jar = cleanup.jar(client.upload_jar(&c.jar).await.unwrap());
    let request = RunRequest {
        entry_class: Some("dev.flinkops.testjob.CounterJob".into()),
        program_args: vec!["--name".into(), extra.clone()],
        job_id: Some(JobId::random()),
        ..RunRequest::new(1)
    };
    let by_hand = cleanup.job(client.run_jar(&jar, &request).await.unwrap());
    wait_tasks_running(&client, &by_hand).await;
    let savepoint = cancel_with_savepoint(&client, &managed).await;
    cleanup.savepoint(&savepoint);

    let out = run(&["audit"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let line = |n: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{n} ")))
            .unwrap_or_else(|| panic!("{n}: {text}"))
            .to_string()
    };
    let counter = line(&name);
    assert!(counter.contains(" cancelled ") && counter.contains(" error "), "{counter}");
    assert!(counter.contains("cancelled outside flinkops: `flinkops apply` redeploys it"), "{counter}");
    let hand = line(&extra);
    assert!(hand.contains(" unmanaged ") && hand.contains(" ok "), "{hand}");
    cleanup.finish().await;
}

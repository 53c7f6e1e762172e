//! `plan --target`/`--replace` name checks and `plan --refresh-only` exit codes against a fake
//! Flink (the real-cluster scenarios are in control_e2e).

use crate::plan_mock::{fake_flink, specs};
use crate::support::flinkops;

fn plan(url: &str, dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    flinkops()
        .args(["plan", "--flink-url", url, "--state-dir"])
        .arg(dir.join(".state"))
        .args(extra)
        .arg(dir)
        .output()
        .unwrap()
}

#[tokio::test]
async fn an_unknown_job_name_is_an_error_with_a_suggestion() {
    let server = fake_flink(0).await;
    let dir = specs("control-mock-unknown", 2);
    for flag in ["--target", "--exclude", "--replace", "--allow-destroy"] {
        let out = plan(&server.uri(), &dir, &[flag, "j1x"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flag}: {stderr}");
        assert!(
            stderr.contains(&format!("{flag} j1x: no job has this name (did you mean `j1`?)")),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "no plan is shown: {}", String::from_utf8_lossy(&out.stdout));
    }
    let out = plan(&server.uri(), &dir, &["--target", "j1"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // apply checks too, before it acts: a typo in --exclude must not deploy the job it meant.
    let out = flinkops()
        .args(["apply", "--auto-approve", "--flink-url", &server.uri(), "--exclude", "j1x", "--state-dir"])
        .arg(dir.join(".state"))
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("did you mean `j1`?"), "{stderr}");
    let posts =
        server.received_requests().await.unwrap().into_iter().filter(|r| r.method.as_str() != "GET").count();
    assert_eq!(posts, 0, "nothing was uploaded or started");
}

#[tokio::test]
async fn refresh_only_exits_2_on_drift_with_detailed_exitcode_and_0_without_it() {
    let dir = specs("control-mock-refresh", 1);
    // A job flinkops did not start runs: drift.
    let server = fake_flink(1).await;
    let out = plan(&server.uri(), &dir, &["--refresh-only", "--detailed-exitcode"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("other-0: not managed by flinkops"), "{stdout}");
    assert!(!stdout.contains("will be deployed"), "no action is planned: {stdout}");
    let out = plan(&server.uri(), &dir, &["--refresh-only"]);
    assert_eq!(out.status.code(), Some(0), "without --detailed-exitcode drift is not an error");
    let json = plan(&server.uri(), &dir, &["--refresh-only", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["formatVersion"], 1);
    assert_eq!(v["drift"][0]["kind"], "unmanaged");
    // Nothing runs and nothing was deployed yet: no drift (an undeployed spec is a plan, not drift).
    let quiet = fake_flink(0).await;
    let out = plan(&quiet.uri(), &dir, &["--refresh-only", "--detailed-exitcode"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(flinkops::render::NO_DRIFT), "{stdout}");
}

//! `flinkops savepoint` and `flinkops savepoints` on real Flink: a savepoint on demand is one
//! Flink took of the running job (judged by Flink's own statistics and the file on disk, not by
//! flinkops' output), the job keeps running, and the history lists it.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apply_e2e::{Scenario, spec, text};
use crate::flink_support::{Cluster, on_every_cluster};
use crate::support::flinkops_process;

on_every_cluster! {
    a_savepoint_on_demand_keeps_the_job_running_and_enters_the_history (2) => on_demand;
}

fn run(s: &Scenario, command: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = flinkops_process()
        .args([command, "--flink-url", &s.cluster.url, "--state-dir"])
        .arg(&s.state)
        .args(extra)
        .arg(&s.dir)
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    eprintln!("--- {command} {extra:?}\n{stdout}\n{stderr}");
    (out.status.code(), stdout, stderr)
}

/// The latest savepoint Flink reports for `job` (its statistics lag a little behind).
async fn flink_latest_savepoint(
    client: &flinkops::flink::Client,
    job: &flinkops::flink::JobId,
    want: &str,
) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let seen =
            client.checkpoints(job).await.ok().and_then(|c| c.latest.savepoint).and_then(|s| s.external_path);
        if seen.as_deref() == Some(want) || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn on_demand(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "sp-now");
    s.write(&spec("a"));
    s.write(&spec("b"));
    let (code, ..) = run(&s, "apply", &["--auto-approve"]);
    assert_eq!(code, Some(0));
    let (a, b) = (s.live(&client, "a").await, s.live(&client, "b").await);

    let (code, stdout, stderr) = run(&s, "savepoint", &["--job", &s.name("a"), "-o", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    let taken = &doc["jobs"][0];
    assert_eq!(
        (taken["result"].as_str(), taken["jobId"].as_str()),
        (Some("completed"), Some(a.as_str())),
        "{doc}"
    );
    let path = taken["path"].as_str().unwrap().to_string();
    // Flink took it, of this job, and it is on disk; the job runs on, and `b` was not touched.
    assert_eq!(flink_latest_savepoint(&client, &a, &path).await.as_deref(), Some(path.as_str()));
    let local = path.trim_start_matches("file:").trim_start_matches("//");
    assert!(std::path::Path::new(local).join("_metadata").is_file(), "{local}/_metadata");
    assert_eq!(s.live(&client, "a").await, a, "the same job still runs");
    assert_eq!(client.job(&a).await.unwrap().state, flinkops::flink::JobState::Running);
    let b_savepoint = client.checkpoints(&b).await.unwrap().latest.savepoint;
    assert!(b_savepoint.is_none(), "only the named job: {b_savepoint:?}");

    let (code, stdout, stderr) = run(&s, "savepoints", &["-o", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let history: Value = serde_json::from_str(&stdout).unwrap();
    let listed = history["snapshots"].as_array().unwrap();
    let entry = listed.iter().find(|e| e["path"] == path.as_str()).unwrap_or_else(|| panic!("{history}"));
    assert_eq!(entry["reason"], "manual");
    assert_eq!(entry["newest"], true);
    assert_eq!(entry["jobId"], a.as_str());
    assert_eq!(entry["flinkVersion"], c.version.as_str());
    assert_eq!(entry["format"], "canonical");

    // Every running job when none is named; a name that is no spec is an error before any call.
    let (code, stdout, _) = run(&s, "savepoint", &[]);
    assert_eq!(code, Some(0));
    assert_eq!(stdout.matches(": savepoint ").count(), 2, "{stdout}");
    let (code, _, stderr) = run(&s, "savepoint", &["--job", "no-such-job"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no spec of that name"), "{stderr}");
    s.cleanup(&client).await;
}

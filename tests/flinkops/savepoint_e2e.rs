//! The savepoint lifecycle on real Flink: a savepoint on demand is one Flink took of the running
//! job (judged by Flink's own statistics and the file on disk, not by flinkops' output), the job
//! keeps running, and the history lists it; gc leaves exactly what retention keeps; and a check
//! that fails stops an upgrade before the old job is touched.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apply_e2e::{Scenario, Spec, spec, text};
use crate::flink_support::{
    Cluster, assert_state_continued, before_change, cluster_dir, on_every_cluster, reported_snapshot,
};
use crate::support::flinkops_process;

on_every_cluster! {
    a_savepoint_on_demand_keeps_the_job_running_and_enters_the_history (2) => on_demand;
    gc_leaves_exactly_the_retained_savepoints_on_disk_and_the_job_upgrades_from_the_newest (1) => gc_retention;
    a_disposal_that_fails_leaves_its_entry_and_says_why_and_the_next_gc_finishes_it (1) => gc_failure;
    an_upgrade_wider_than_the_cluster_is_refused_before_the_old_job_stops (1) => too_wide;
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

/// `file:/a/b` → `/a/b` (Flink answers `file:` URIs; the clusters here share this machine's disk).
fn local(path: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/{}", path.trim_start_matches("file:").trim_start_matches('/')))
}

/// The savepoint paths the history lists for the scenario's job `short`, newest first.
fn history(s: &Scenario) -> Vec<String> {
    let (code, stdout, stderr) = run(s, "savepoints", &["-o", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    doc["snapshots"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap().to_string()).collect()
}

const RETAIN_2: &str = "savepoint: { retain: { count: 2 } }\n";

/// Five savepoints (on demand: they stand in for periodic ones), retain two: gc leaves exactly
/// the two newest on disk, and an upgrade afterwards still carries the state.
async fn gc_retention(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "gc-keep");
    s.write(&Spec { extra_yaml: RETAIN_2, ..spec("counter") });
    assert_eq!(run(&s, "apply", &["--auto-approve"]).0, Some(0));
    for _ in 0..5 {
        assert_eq!(run(&s, "savepoint", &[]).0, Some(0));
    }
    let taken = history(&s);
    assert_eq!(taken.len(), 5, "{taken:?}");
    assert!(taken.iter().all(|p| local(p).join("_metadata").is_file()));
    let (code, stdout, _) = run(&s, "gc", &["--dry-run"]);
    assert_eq!(
        (code, stdout.matches("dispose: beyond savepoint.retain.count (2)").count()),
        (Some(0), 3),
        "{stdout}"
    );
    assert!(taken.iter().all(|p| local(p).join("_metadata").is_file()), "a dry run disposes of nothing");
    let (code, stdout, stderr) = run(&s, "gc", &["--auto-approve"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    // Judged on disk: exactly the two newest are left, the three older ones are gone.
    for (i, p) in taken.iter().enumerate() {
        assert_eq!(local(p).exists(), i < 2, "{p} (newest first, #{i}) after gc");
    }
    assert_eq!(history(&s), taken[..2]);
    let job = s.live(&client, "counter").await;
    let before = before_change(&client, &job).await;
    s.write(&Spec { extra_yaml: &format!("{RETAIN_2}parallelism: 2\n"), ..spec("counter") });
    let (code, stdout, stderr) = run(&s, "apply", &["--auto-approve"]);
    assert_eq!(code, Some(0), "{stderr}");
    let next = s.live(&client, "counter").await;
    assert_state_continued(&client, &before, &next, reported_snapshot(&stdout).as_deref()).await;
    s.cleanup(&client).await;
}

/// Flink cannot dispose of a savepoint whose files are not where the ledger says: gc says why,
/// the entry stays (marked), and once the files are back the next gc finishes the job.
async fn gc_failure(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "gc-fail");
    s.write(&Spec { extra_yaml: "savepoint: { retain: { count: 1 } }\n", ..spec("counter") });
    assert_eq!(run(&s, "apply", &["--auto-approve"]).0, Some(0));
    for _ in 0..2 {
        assert_eq!(run(&s, "savepoint", &[]).0, Some(0));
    }
    let taken = history(&s);
    let (old, aside) = (local(&taken[1]), local(&taken[1]).with_extension("aside"));
    std::fs::rename(&old, &aside).unwrap();
    let (code, stdout, stderr) = run(&s, "gc", &["--auto-approve"]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("the disposal failed, the entry stays in the ledger"), "{stdout}");
    assert!(stdout.contains("0 disposed of, 1 failed"), "{stdout}");
    assert_eq!(history(&s), taken, "the entry stays");
    let dir = cluster_dir(&s.state, &c.url).await;
    let record: Value = serde_json::from_slice(
        &std::fs::read(dir.join("jobs").join(format!("{}.json", s.name("counter")))).unwrap(),
    )
    .unwrap();
    let marked =
        record["savepoints"].as_array().unwrap().iter().find(|e| e["path"] == taken[1].as_str()).unwrap();
    assert!(marked["disposing"]["failed"].as_str().is_some_and(|f| !f.is_empty()), "{record}");
    std::fs::rename(&aside, &old).unwrap();
    let (code, stdout, stderr) = run(&s, "gc", &["--auto-approve"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("an earlier disposal did not finish"), "{stdout}");
    assert!(!old.exists() && local(&taken[0]).exists());
    assert_eq!(history(&s), taken[..1]);
    s.cleanup(&client).await;
}

/// Parallelism 64 on a cluster with a few slots: Flink would stop the old job, then keep the new
/// one waiting and restart-looping. The plan says so and apply leaves the old job running.
async fn too_wide(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "wide");
    s.write(&spec("counter"));
    assert_eq!(run(&s, "apply", &["--auto-approve"]).0, Some(0));
    let job = s.live(&client, "counter").await;
    s.write(&Spec { extra_yaml: "parallelism: 64\n", ..spec("counter") });
    let (code, stdout, stderr) = run(&s, "plan", &[]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("needs 64 task slots"), "{stdout}");
    let (code, stdout, _) = run(&s, "apply", &["--auto-approve"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(s.live(&client, "counter").await, job, "the old job still runs, untouched");
    assert_eq!(client.job(&job).await.unwrap().state, flinkops::flink::JobState::Running);
    s.cleanup(&client).await;
}

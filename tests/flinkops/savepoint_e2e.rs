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
    gc_leaves_exactly_the_retained_savepoints_on_disk_and_the_job_upgrades_from_the_newest (2) => gc_retention;
    a_disposal_that_fails_leaves_its_entry_and_says_why_and_the_next_gc_finishes_it (1) => gc_failure;
    an_upgrade_wider_than_the_cluster_is_refused_before_the_old_job_stops (1) => too_wide;
    a_last_state_upgrade_past_max_checkpoint_age_goes_through_a_savepoint_with_its_state (1) => checkpoint_too_old;
    a_savepoint_timeout_shorter_than_the_jobs_checkpoints_is_refused_and_the_job_keeps_running (1) => timeout_too_short;
    an_upgrade_wider_than_the_free_slots_waits_is_refused_then_goes_through_once_slots_free (4) => free_slots;
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
    // The conflict is about the next version only: the running one can still be savepointed.
    let (code, stdout, stderr) = run(&s, "savepoint", &["-o", "json"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["jobs"][0]["result"], "completed", "{doc}");
    let path = doc["jobs"][0]["path"].as_str().unwrap().to_string();
    assert_eq!(
        flink_latest_savepoint(&client, &job, &path).await.as_deref(),
        Some(path.as_str()),
        "Flink took it"
    );
    assert_eq!(client.job(&job).await.unwrap().state, flinkops::flink::JobState::Running);
    s.cleanup(&client).await;
}

/// `last-state`, checkpoints every 30 s kept on cancel, and `upgrade.maxCheckpointAge: 2s`.
const LAST_STATE_AGED: &str = "upgradeMode: last-state\nupgrade: { maxCheckpointAge: 2s }\nflinkConfiguration:\n  \
                               execution.checkpointing.interval: 30s\n  \
                               execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION\n";

/// A last-state upgrade whose newest checkpoint is older than `upgrade.maxCheckpointAge`: plan
/// warns with the checkpoint's age, apply takes a savepoint instead of going back to the
/// checkpoint, and Flink restores the new version from that savepoint with the counter going on.
async fn checkpoint_too_old(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "cp-old");
    s.write(&Spec { extra_yaml: LAST_STATE_AGED, ..spec("counter") });
    assert_eq!(run(&s, "apply", &["--auto-approve"]).0, Some(0));
    let v1 = s.live(&client, "counter").await;
    let checkpoint = crate::flink_support::wait_checkpoint_after(&client, &v1, 0).await;
    let before = before_change(&client, &v1).await;
    // The next checkpoint is about 30 s away: the one Flink names is now past 2 s old.
    tokio::time::sleep(Duration::from_secs(3)).await;
    s.write(&Spec { extra_args: &["--tag", "v2"], extra_yaml: LAST_STATE_AGED, ..spec("counter") });
    let (code, stdout, stderr) = run(&s, "plan", &[]);
    assert_eq!(code, Some(0), "a warning, not an error: {stdout}\n{stderr}");
    assert!(
        stdout.contains("Warnings:") && stdout.contains("more than `upgrade.maxCheckpointAge` (2s)"),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(&s, "apply", &["--auto-approve"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("more than `upgrade.maxCheckpointAge`"), "apply says why: {stderr}");
    let v2 = s.live(&client, "counter").await;
    let reported = reported_snapshot(&stdout).expect("apply says where it restored from");
    assert!(reported.contains("/savepoint-") && !reported.contains("/chk-"), "{reported} (not {checkpoint})");
    // Judged by Flink: v2 restored from that savepoint, and the counter went on from v1's.
    assert_state_continued(&client, &before, &v2, Some(&reported)).await;
    s.cleanup(&client).await;
}

/// `savepoint.timeout: 1ms` is shorter than any checkpoint Flink takes of the job: an upgrade
/// (which would stop it with a savepoint) is refused by plan and by apply, with the numbers Flink
/// reports, and the same job keeps running without a savepoint taken.
async fn timeout_too_short(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "sp-slow");
    s.write(&spec("counter"));
    assert_eq!(run(&s, "apply", &["--auto-approve"]).0, Some(0));
    let job = s.live(&client, "counter").await;
    let slowest = slowest_checkpoint(&client, &job).await;
    assert!(slowest > 1, "Flink reports checkpoints of {slowest} ms: the 1ms timeout is shorter");
    s.write(&Spec { extra_yaml: "savepoint: { timeout: 1ms }\nrestartNonce: 1\n", ..spec("counter") });
    let (code, stdout, stderr) = run(&s, "plan", &[]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("not stopped: `savepoint.timeout` is 1ms, shorter than its recent checkpoints"),
        "{stdout}"
    );
    assert!(stdout.contains("Raise `savepoint.timeout`"), "{stdout}");
    let (code, stdout, stderr) = run(&s, "apply", &["--auto-approve"]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert_eq!(s.live(&client, "counter").await, job, "the same job runs");
    assert_eq!(client.job(&job).await.unwrap().state, flinkops::flink::JobState::Running);
    let savepoint = client.checkpoints(&job).await.unwrap().latest.savepoint;
    assert!(savepoint.is_none(), "no savepoint was taken: {savepoint:?}");
    s.cleanup(&client).await;
}

/// The longest end-to-end duration (ms) of a completed checkpoint Flink lists for `job`, once it
/// lists one.
async fn slowest_checkpoint(client: &flinkops::flink::Client, job: &flinkops::flink::JobId) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let history = client.checkpoints(job).await.map(|c| c.history).unwrap_or_default();
        let done = history.iter().filter(|h| h.status == "COMPLETED").map(|h| h.end_to_end_duration).max();
        if let Some(ms) = done {
            return ms;
        }
        assert!(Instant::now() < deadline, "{job} completed no checkpoint in 60 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Holding all 4 test slots: the job runs at parallelism 1 and another job takes 2 slots, so an
/// upgrade to parallelism 3 does not fit (1 free + 1 freed). plan warns; apply waits
/// `--slot-wait`, then refuses with the old job running. Once the other job is cancelled (its
/// slots come back a moment later), apply waits for them and upgrades with the state.
async fn free_slots(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "slots");
    s.write(&spec("counter"));
    assert_eq!(run(&s, "apply", &["--auto-approve"]).0, Some(0));
    let v1 = s.live(&client, "counter").await;
    let mut cleanup = crate::flink_support::Cleanup::new(&client);
    let jar = cleanup.jar(client.upload_jar(&c.jar).await.unwrap());
    let request = flinkops::flink::RunRequest {
        entry_class: Some("dev.flinkops.testjob.CounterJob".into()),
        program_args: vec!["--name".into(), format!("{}-other", s.prefix)],
        job_id: Some(flinkops::flink::JobId::random()),
        ..flinkops::flink::RunRequest::new(2)
    };
    let other = cleanup.job(client.run_jar(&jar, &request).await.unwrap());
    crate::flink_support::wait_tasks_running(&client, &other).await;
    s.write(&Spec { extra_yaml: "parallelism: 3\n", ..spec("counter") });
    // 1 unless a job another test left behind holds a slot too: the numbers are Flink's.
    let free = client.cluster_overview().await.unwrap().slots_available;
    assert!(free <= 1, "3 do not fit {free} free + 1");
    let (code, stdout, stderr) = run(&s, "plan", &[]);
    assert_eq!(code, Some(0), "free slots change: a warning, not an error: {stdout}\n{stderr}");
    let said =
        format!("needs 3 task slots (parallelism 3) and, right now, the cluster has {free} free plus the 1");
    assert!(stdout.contains(&said), "{stdout}");
    let (code, stdout, stderr) = run(&s, "apply", &["--auto-approve", "--slot-wait", "3s"]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("not stopped: it needs 3 task slots and, after waiting 3s"), "{stderr}");
    assert_eq!(s.live(&client, "counter").await, v1, "the old job still runs");
    assert_eq!(client.job(&v1).await.unwrap().state, flinkops::flink::JobState::Running);
    let before = before_change(&client, &v1).await;
    client.cancel(&other).await.unwrap();
    let (code, stdout, stderr) = run(&s, "apply", &["--auto-approve"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let v2 = s.live(&client, "counter").await;
    assert_eq!(crate::apply_e2e::parallelism(&client, &v2).await, 3);
    assert_state_continued(&client, &before, &v2, reported_snapshot(&stdout).as_deref()).await;
    s.cleanup(&client).await;
    cleanup.finish().await;
}

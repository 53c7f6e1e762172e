//! Periodic savepoints and scheduled gc under `flinkops watch` on real Flink: the savepoints are
//! judged by Flink (its `latest.savepoint`, the directories on disk) and the ledger's history, the
//! state they hold by the counter oracle, and a failing one by the job that keeps running.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flinkops::flink::{Client, JobId, JobState};
use flinkops::plan::identity;
use serde_json::Value;

use crate::apply_e2e::{Scenario, Spec, spec, text};
use crate::flink_support::{
    Cluster, assert_state_continued, before_change, on_every_cluster, reported_snapshot,
};
use crate::support::flinkops_process;
use crate::watch_support::Watch;

on_every_cluster! {
    watch_takes_periodic_savepoints_gc_keeps_the_two_newest_and_the_newest_carries_the_state (1) => periodic_and_gc;
    a_failing_periodic_savepoint_is_counted_and_retried_and_the_job_keeps_running (1) => periodic_failure;
}

/// How long watch may take to act (savepoints here are due every few seconds).
const DEADLINE: Duration = Duration::from_secs(120);

async fn start(s: &Scenario, extra: &[&str]) -> Watch {
    let mut flags = vec!["--resync", "2s", "--debounce", "300ms", "--retry-backoff", "1s"];
    flags.extend_from_slice(extra);
    Watch::spawn(&s.cluster.url, &s.dir, &s.state, "127.0.0.1:0", &flags, DEADLINE).listening().await
}

/// `file:/a/b` → `/a/b` (the clusters share this machine's disk).
fn local(path: &str) -> PathBuf {
    PathBuf::from(format!("/{}", path.trim_start_matches("file:").trim_start_matches('/')))
}

/// The complete savepoint directories of the job with `tag` in `dir` (Flink names them
/// `savepoint-<tag>-…`), by name.
fn on_disk(dir: &Path, tag: &str) -> BTreeSet<String> {
    let prefix = format!("savepoint-{tag}-");
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name().to_string_lossy().starts_with(&prefix) && e.path().join("_metadata").is_file()
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Flink's `latest.savepoint` of `job`, if any.
async fn flink_latest(client: &Client, job: &JobId) -> Option<String> {
    client.checkpoints(job).await.ok()?.latest.savepoint?.external_path
}

/// `flinkops COMMAND -o json` of the scenario: its exit code and document.
fn json(s: &Scenario, command: &str) -> (Option<i32>, Value) {
    let out = flinkops_process()
        .args([command, "-o", "json", "--flink-url", &s.cluster.url, "--state-dir"])
        .arg(&s.state)
        .arg(&s.dir)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    (out.status.code(), doc)
}

/// What the history (`flinkops savepoints -o json`) lists: (path, reason), newest first.
fn history(s: &Scenario) -> Vec<(String, String)> {
    let (code, doc) = json(s, "savepoints");
    assert_eq!(code, Some(0), "{doc}");
    let entry =
        |e: &Value| (e["path"].as_str().unwrap().to_string(), e["reason"].as_str().unwrap().to_string());
    doc["snapshots"].as_array().unwrap().iter().map(entry).collect()
}

/// Savepoint directories in the order they first appeared on disk, seen by polling.
struct Seen {
    dir: Option<PathBuf>,
    tag: String,
    order: Vec<String>,
}

impl Seen {
    /// Look once: learn the directory from Flink's latest savepoint, then list it.
    async fn look(&mut self, client: &Client, job: &JobId) -> BTreeSet<String> {
        if self.dir.is_none() {
            let latest = flink_latest(client, job).await;
            self.dir = latest.map(|p| local(&p).parent().unwrap().to_path_buf());
        }
        let Some(dir) = &self.dir else { return BTreeSet::new() };
        let now = on_disk(dir, &self.tag);
        for name in &now {
            if !self.order.contains(name) {
                self.order.push(name.clone());
            }
        }
        now
    }

    /// Until `until` holds for (everything seen, what is on disk now); gc must keep at most 3 on
    /// disk meanwhile (the 2 kept and one just taken, before the same reconcile's gc).
    async fn until(
        &mut self,
        client: &Client,
        job: &JobId,
        w: &Watch,
        mut until: impl FnMut(&[String], &BTreeSet<String>) -> bool,
    ) -> BTreeSet<String> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let now = self.look(client, job).await;
            assert!(now.len() <= 3, "gc let savepoints pile up: {now:?}\n{}", w.log());
            if until(&self.order, &now) {
                return now;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "seen {:?}, on disk {now:?}\n{}",
                self.order,
                w.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Until the series on `/metrics` is at least `n`.
async fn at_least(w: &Watch, series: &str, n: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = w.metric_value(series).await;
        if got.is_some_and(|v| v >= n) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{series} is {got:?}, not {n} or more\n{}", w.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const PERIODIC: &str = "savepoint: { every: 4s, retain: { count: 2 } }\n";

async fn periodic_and_gc(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "periodic");
    s.write(&Spec { extra_yaml: PERIODIC, ..spec("counter") });
    let name = s.name("counter");
    let mut w = start(&s, &["--gc-every", "1s"]).await;
    w.wait_ready(200, "ready").await;
    let job = s.live(&client, "counter").await;
    let mut seen = Seen { dir: None, tag: identity::name_tag(&name), order: Vec::new() };

    // Four periodic savepoints, then the counter, then a fifth taken after that reading: the
    // state the newest one holds is at least `before`.
    seen.until(&client, &job, &w, |order, _| order.len() >= 4).await;
    let before = before_change(&client, &job).await;
    let counted = seen.order.len();
    let kept = seen.until(&client, &job, &w, |order, now| order.len() > counted && now.len() == 2).await;
    let taken = seen.order.clone();
    // Counted once the files are there (a moment after).
    let completed = format!(
        "flinkops_periodic_savepoints_total{{cluster=\"default\",job=\"{name}\",result=\"completed\"}}"
    );
    at_least(&w, &completed, 5.0).await;
    let disposed = format!(
        "flinkops_savepoints_disposed_total{{cluster=\"default\",job=\"{name}\",result=\"disposed\"}}"
    );
    at_least(&w, &disposed, 3.0).await;
    at_least(&w, "flinkops_gc_runs_total{cluster=\"default\",result=\"ok\"}", 1.0).await;
    let failed =
        format!("flinkops_periodic_savepoints_total{{cluster=\"default\",job=\"{name}\",result=\"failed\"}}");
    assert_eq!(w.metric(&failed).await, 0.0);
    assert_eq!(
        w.metric(&format!("flinkops_savepoint_interval_seconds{{cluster=\"default\",job=\"{name}\"}}")).await,
        4.0
    );
    assert!(
        w.metric(&format!("flinkops_savepoint_age_seconds{{cluster=\"default\",job=\"{name}\"}}")).await
            < 60.0
    );
    w.signal("TERM");
    assert_eq!(w.exited(Duration::from_secs(30)).await, 0, "{}", w.log());

    // Judged on disk and by Flink: exactly the two newest are left, the newest is Flink's latest
    // savepoint of the job, and the job that was savepointed all along is still the first one.
    assert!(taken.len() >= 5, "{taken:?}");
    let newest_two: BTreeSet<String> = taken[taken.len() - 2..].iter().cloned().collect();
    assert_eq!(kept, newest_two, "seen in this order: {taken:?}");
    let dir = seen.dir.clone().unwrap();
    assert_eq!(on_disk(&dir, &seen.tag), newest_two, "after watch stopped");
    let newest = taken.last().unwrap();
    // Flink's statistics are cached for a few seconds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let latest = loop {
        let latest = flink_latest(&client, &job).await.expect("Flink knows the savepoints");
        if local(&latest) == dir.join(newest) || tokio::time::Instant::now() > deadline {
            break latest;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(local(&latest), dir.join(newest), "Flink's latest savepoint is the newest on disk");
    assert_eq!(
        client.job(&job).await.unwrap().state,
        JobState::Running,
        "periodic savepoints leave it running"
    );
    let listed = history(&s);
    let paths: BTreeSet<String> =
        listed.iter().map(|(p, _)| local(p).file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(paths, newest_two, "the history lists what is on disk: {listed:?}");
    assert!(listed.iter().all(|(_, reason)| reason == "periodic"), "{listed:?}");

    // With watch gone, the savepoints age: past twice the interval, audit says so and what to do.
    tokio::time::sleep(Duration::from_secs(9)).await;
    let (_, report) = json(&s, "audit");
    let row = report["jobs"].as_array().unwrap().iter().find(|r| r["name"] == name.as_str()).unwrap();
    assert_eq!(row["savepointEverySeconds"], 4, "{row}");
    let warned = row["findings"].as_array().unwrap().iter().any(|f| {
        let m = f["message"].as_str().unwrap();
        f["severity"] == "warn"
            && m.contains("more than twice its savepoint.every (4s)")
            && m.contains(&format!("`flinkops savepoint --job {name}`"))
    });
    assert!(warned, "{row}");

    // A crash of the job (cancelled by hand, no checkpoint retained), then an upgrade with apply:
    // the new version starts from the newest periodic savepoint, and its counter goes on.
    client.cancel(&job).await.unwrap();
    crate::flink_support::wait_state(&client, &job, JobState::Canceled).await;
    s.write(&Spec { extra_args: &["--tag", "v2"], extra_yaml: PERIODIC, ..spec("counter") });
    let out = s.apply(&[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    let reported = reported_snapshot(&stdout).expect("apply says where it restored from");
    assert_eq!(local(&reported), dir.join(newest), "{stdout}");
    let v2 = s.live(&client, "counter").await;
    assert_state_continued(&client, &before, &v2, Some(&reported)).await;
    s.cleanup(&client).await;
}

/// Flink cannot write the savepoint (/proc refuses new directories): every attempt fails, is
/// logged with Flink's cause and counted, is tried again, and the job runs on untouched. Once the
/// directory is fixed (a settings-only change), the next attempt succeeds.
async fn periodic_failure(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "periodic-fail");
    let broken = "savepoint: { every: 2s, timeout: 30s, directory: \"file:///proc/flinkops-no\" }\n";
    s.write(&Spec { extra_yaml: broken, ..spec("counter") });
    let name = s.name("counter");
    let mut w = start(&s, &[]).await;
    w.wait_ready(200, "ready").await;
    let job = s.live(&client, "counter").await;
    let failed =
        format!("flinkops_periodic_savepoints_total{{cluster=\"default\",job=\"{name}\",result=\"failed\"}}");
    at_least(&w, &failed, 2.0).await;
    let completed = format!(
        "flinkops_periodic_savepoints_total{{cluster=\"default\",job=\"{name}\",result=\"completed\"}}"
    );
    assert_eq!(w.metric(&completed).await, 0.0);
    let log = w.log();
    assert!(log.contains("periodic savepoint failed (the savepoint failed, the job keeps running:"), "{log}");
    assert_eq!(s.live(&client, "counter").await, job, "the same job runs");
    assert_eq!(client.job(&job).await.unwrap().state, JobState::Running);

    s.write(&Spec { extra_yaml: "savepoint: { every: 2s, timeout: 30s }\n", ..spec("counter") });
    w.wait_metric(&completed, 1.0).await;
    assert_eq!(s.live(&client, "counter").await, job, "fixing the directory did not restart the job");
    w.signal("TERM");
    assert_eq!(w.exited(Duration::from_secs(30)).await, 0, "{}", w.log());
    s.cleanup(&client).await;
}

//! Periodic savepoints and scheduled gc of a long-running `watch` over two real clusters (the
//! first two `scripts/test` started: Flink 2.3.0 and 1.20.5 in CI), declared by two cluster
//! documents, one job on each: each job gets its periodic savepoints on its own cluster, judged by
//! Flink (a completed savepoint in the job's checkpoint history, its latest savepoint) and by that
//! cluster's ledger; gc keeps each ledger's two newest (`retain: { count: 2 }`) and disposes of
//! the older ones only (gone from disk, the kept ones on disk); the metrics carry each cluster.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use flinkops::flink::{Client, JobId, JobState};

use crate::apply_e2e::{Scenario, Spec, spec};
use crate::fleet_mock::ledger_savepoints;
use crate::fleet_support::{Fleet, two_clusters};
use crate::watch_support::Watch;

/// How long watch may take to act (savepoints here are due every few seconds).
const DEADLINE: Duration = Duration::from_secs(150);

/// Savepoints every 4 s, the two newest kept.
fn periodic_on(cluster: &str, short: &'static str) -> Spec<'static> {
    let yaml = format!("cluster: {cluster}\nsavepoint: {{ every: 4s, retain: {{ count: 2 }} }}\n");
    Spec { extra_yaml: Box::leak(yaml.into_boxed_str()), ..spec(short) }
}

/// `file:/a/b` → `/a/b` (the clusters share this machine's disk).
fn local(path: &str) -> PathBuf {
    PathBuf::from(format!("/{}", path.trim_start_matches("file:").trim_start_matches('/')))
}

/// One job of the fleet: its cluster, its scenario (for its ledger) and its running job.
struct Watched<'a> {
    cluster: &'static str,
    s: &'a Scenario,
    client: Client,
    name: String,
    job: JobId,
    /// Every savepoint its ledger listed, in the order first seen.
    seen: Vec<String>,
}

impl Watched<'_> {
    /// The savepoints its cluster's ledger lists now (none being disposed of), recording new ones.
    async fn look(&mut self) -> Vec<String> {
        let now: Vec<String> = ledger_savepoints(&self.s.state, &self.s.cluster.url, &self.name)
            .await
            .into_iter()
            .filter(|s| s.disposing.is_none())
            .map(|s| s.path)
            .collect();
        for p in &now {
            if !self.seen.contains(p) {
                self.seen.push(p.clone());
            }
        }
        now
    }

    fn series(&self, metric: &str, result: &str) -> String {
        format!("{metric}{{cluster=\"{}\",job=\"{}\",result=\"{result}\"}}", self.cluster, self.name)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_over_two_clusters_takes_each_jobs_periodic_savepoints_on_its_cluster_and_gc_keeps_the_newest()
{
    let Some((a, b)) = two_clusters() else { return };
    let (_slots_a, _slots_b) = (a.slots(1), b.slots(1));
    let f = Fleet::new(&a, &b, "fleet-periodic");
    f.east.write(&periodic_on("east", "here"));
    f.west.write(&periodic_on("west", "there"));
    let flags = [
        "--resync",
        "2s",
        "--debounce",
        "300ms",
        "--retry-backoff",
        "1s",
        "--gc-every",
        "1s",
        "--retries",
        "0",
    ];
    let mut w =
        Watch::spawn("", &f.east.dir, &f.east.state, "127.0.0.1:0", &flags, DEADLINE).listening().await;
    w.wait_ready(200, "ready").await;
    let mut jobs = Vec::new();
    for (cluster, s, short) in [("east", &f.east, "here"), ("west", &f.west, "there")] {
        let client = s.cluster.client();
        let job = s.live(&client, short).await;
        jobs.push(Watched { cluster, s, client, name: s.name(short), job, seen: Vec::new() });
    }

    // Each ledger lists at least four periodic savepoints over time, and gc brings it back to
    // two: the older ones were disposed of while the job ran on.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let mut done = true;
        for j in jobs.iter_mut() {
            let now = j.look().await;
            assert!(now.len() <= 3, "{}: gc let savepoints pile up: {now:?}\n{}", j.cluster, w.log());
            done &= j.seen.len() >= 4 && now.len() == 2;
        }
        if done {
            break;
        }
        let seen: Vec<_> = jobs.iter().map(|j| &j.seen).collect();
        assert!(tokio::time::Instant::now() < deadline, "seen {seen:?}\n{}", w.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Counted once each disposal completed (the ledger marks it first): waited for, not read once.
    let within = Duration::from_secs(30);
    for j in &jobs {
        w.wait_metric_at_least(&j.series("flinkops_periodic_savepoints_total", "completed"), 4.0, within)
            .await;
        w.wait_metric_at_least(&j.series("flinkops_savepoints_disposed_total", "disposed"), 2.0, within)
            .await;
        let gc = format!("flinkops_gc_runs_total{{cluster=\"{}\",result=\"ok\"}}", j.cluster);
        w.wait_metric_at_least(&gc, 1.0, within).await;
        assert_eq!(w.metric(&j.series("flinkops_periodic_savepoints_total", "failed")).await, 0.0);
        let interval =
            format!("flinkops_savepoint_interval_seconds{{cluster=\"{}\",job=\"{}\"}}", j.cluster, j.name);
        assert_eq!(w.metric(&interval).await, 4.0, "{interval}");
    }
    w.signal("TERM");
    assert_eq!(w.exited(Duration::from_secs(30)).await, 0, "{}", w.log());

    for j in jobs.iter_mut() {
        judge(j).await;
    }
    f.east.cleanup(&jobs[0].client).await;
    f.west.cleanup(&jobs[1].client).await;
}

/// By Flink and on disk, with watch stopped: the job still runs as the same job, its checkpoint
/// history has completed savepoints, its latest savepoint is its ledger's newest; the ledger
/// keeps the newest it listed (two, or three when a savepoint came after the last gc before
/// watch stopped), all on disk; every older one gone from the ledger is gone from disk too (one
/// still marked as being disposed of when watch stopped is left to the next gc); and only its
/// own savepoints were ever in it.
async fn judge(j: &mut Watched<'_>) {
    let kept = j.look().await;
    assert!((2..=3).contains(&kept.len()), "{}: {kept:?}", j.cluster);
    let newest = &j.seen[j.seen.len() - kept.len()..];
    assert_eq!(kept, newest, "{}: the newest are kept: {:?}", j.cluster, j.seen);
    let records = ledger_savepoints(&j.s.state, &j.s.cluster.url, &j.name).await;
    assert!(records.iter().all(|r| r.job_id.as_ref() == Some(&j.job)), "{}: {records:?}", j.cluster);
    for p in &kept {
        assert!(local(p).join("_metadata").is_file(), "{}: kept {p} is on disk", j.cluster);
    }
    let listed: BTreeSet<&String> = records.iter().map(|r| &r.path).collect();
    let disposed: BTreeSet<&String> = j.seen.iter().filter(|p| !listed.contains(p)).collect();
    assert!(disposed.len() >= 2, "{}: {:?}", j.cluster, j.seen);
    for p in &disposed {
        assert!(!local(p).exists(), "{}: disposed of {p}, still on disk", j.cluster);
    }
    assert_eq!(j.client.job(&j.job).await.unwrap().state, JobState::Running, "{}", j.cluster);
    let newest = kept.last().unwrap();
    // Flink's statistics are cached for a few seconds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let cp = loop {
        let cp = j.client.checkpoints(&j.job).await.unwrap();
        let latest = cp.latest.savepoint.as_ref().and_then(|s| s.external_path.clone());
        if latest.as_ref().is_some_and(|l| local(l) == local(newest))
            || tokio::time::Instant::now() > deadline
        {
            break cp;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let latest = cp.latest.savepoint.as_ref().and_then(|s| s.external_path.clone());
    assert_eq!(latest.map(|l| local(&l)), Some(local(newest)), "{}: Flink's latest savepoint", j.cluster);
    let savepoints = cp.history.iter().filter(|h| h.is_savepoint && h.status == "COMPLETED").count();
    assert!(
        savepoints >= 1,
        "{}: Flink's checkpoint history shows its savepoints: {:?}",
        j.cluster,
        cp.history
    );
}

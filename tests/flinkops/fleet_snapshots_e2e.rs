//! `savepoint`, `savepoints`, `gc` and `plan --refresh-only` over two real clusters (the first two
//! `scripts/test` started: Flink 2.3.0 and 1.20.5 in CI) declared by two cluster documents: each
//! job's savepoint is taken on its own cluster and recorded in that cluster's ledger, `gc`
//! disposes per cluster, a cluster out of reach fails only its part, and a job cancelled by hand
//! on one cluster is drift of that cluster. Judged by Flink (the job's checkpoint statistics, the
//! savepoint directories on disk) and by each cluster's ledger.

use std::time::{Duration, Instant};

use flinkops::flink::{Client, JobId};
use flinkops::ledger::{Ledger, SavepointReason};
use serde_json::Value;

use crate::apply_e2e::{Scenario, Spec, spec};
use crate::fleet_support::{Fleet, dead_url, on, two_clusters};
use crate::flink_support::{cluster_dir, wait_state};

/// Keep one savepoint: `gc` disposes of every older one.
const RETAIN_ONE: &str = "savepoint:\n  retain: { count: 1 }\n";

fn keeping_one(cluster: &'static str, short: &'static str) -> Spec<'static> {
    let s = on(cluster, spec(short));
    let yaml: &'static str = Box::leak(format!("{}{RETAIN_ONE}", s.extra_yaml).into_boxed_str());
    Spec { extra_yaml: yaml, ..s }
}

async fn ledger_of(s: &Scenario) -> Ledger {
    Ledger::new(&cluster_dir(&s.state, &s.cluster.url).await)
}

/// The savepoint paths `short`'s record holds in `s`'s cluster's ledger, oldest first, each
/// with its reason.
async fn recorded(s: &Scenario, short: &str) -> Vec<(String, SavepointReason)> {
    let record = ledger_of(s).await.read(&s.name(short)).unwrap();
    record.map(|r| r.savepoints.iter().map(|p| (p.path.clone(), p.reason)).collect()).unwrap_or_default()
}

/// Wait until Flink's checkpoint statistics of `job` name `path` as its latest savepoint
/// (`/checkpoints` is cached for a few seconds).
async fn flink_shows_savepoint(client: &Client, job: &JobId, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let latest = client.checkpoints(job).await.ok().and_then(|c| c.latest.savepoint);
        let shown = latest.and_then(|s| s.external_path).unwrap_or_default();
        if same_dir(&shown, path) {
            return;
        }
        assert!(Instant::now() < deadline, "Flink's latest savepoint of {job} is {shown:?}, not {path}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `file:/a/b`, `file:///a/b/` → `/a/b`.
fn on_disk(location: &str) -> std::path::PathBuf {
    let path = location.strip_prefix("file:").unwrap_or(location);
    let path = format!("/{}", path.trim_start_matches('/'));
    std::path::PathBuf::from(path.trim_end_matches('/'))
}

fn same_dir(a: &str, b: &str) -> bool {
    !a.is_empty() && on_disk(a) == on_disk(b)
}

/// Take a savepoint of every job of the fleet; the newest entry of each ledger, which Flink
/// shows as the job's latest savepoint.
async fn savepoint_all(
    f: &Fleet,
    (ca, cb): (&Client, &Client),
    (east, west): (&JobId, &JobId),
) -> (String, String) {
    let (code, stdout, _) = f.run("savepoint", &f.east.dir, &[]);
    assert_eq!(code, Some(0), "{stdout}");
    let (e, w) = (recorded(&f.east, "near").await, recorded(&f.west, "far").await);
    let (e, w) = (e.last().unwrap().clone(), w.last().unwrap().clone());
    assert_eq!((e.1, w.1), (SavepointReason::Manual, SavepointReason::Manual));
    flink_shows_savepoint(ca, east, &e.0).await;
    flink_shows_savepoint(cb, west, &w.0).await;
    (e.0, w.0)
}

#[tokio::test]
async fn savepoint_savepoints_and_gc_work_each_cluster_with_its_own_ledger() {
    let Some((a, b)) = two_clusters() else { return };
    let (_slots_a, _slots_b) = (a.slots(1), b.slots(1));
    let (ca, cb) = (a.client(), b.client());
    let f = Fleet::new(&a, &b, "fleet-snap");
    f.east.write(&keeping_one("east", "near"));
    f.west.write(&keeping_one("west", "far"));
    let (code, stdout, _) = f.run("apply", &f.east.dir, &["--auto-approve"]);
    assert_eq!(code, Some(0), "{stdout}");
    let (near, far) = (f.east.live(&ca, "near").await, f.west.live(&cb, "far").await);

    let first = savepoint_all(&f, (&ca, &cb), (&near, &far)).await;
    assert!(
        recorded(&f.east, "far").await.is_empty() && recorded(&f.west, "near").await.is_empty(),
        "each ledger holds its own cluster's jobs"
    );
    let second = savepoint_all(&f, (&ca, &cb), (&near, &far)).await;
    assert_eq!(f.east.live(&ca, "near").await, near, "the jobs keep running");
    assert_eq!(f.west.live(&cb, "far").await, far);

    // `savepoints` lists both ledgers, each snapshot with its cluster.
    let (code, stdout, _) = f.run("savepoints", &f.east.dir, &["-o", "json"]);
    assert_eq!(code, Some(0), "{stdout}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    let listed = |cluster: &str| -> Vec<String> {
        let all = doc["snapshots"].as_array().unwrap().iter();
        all.filter(|s| s["cluster"] == cluster).map(|s| s["path"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(listed("east"), [second.0.clone(), first.0.clone()], "newest first: {doc:#}");
    assert_eq!(listed("west"), [second.1.clone(), first.1.clone()], "{doc:#}");

    // `gc` keeps each job's newest savepoint and disposes of the older one, on its cluster.
    for path in [&first.0, &first.1, &second.0, &second.1] {
        assert!(on_disk(path).exists(), "{path} is on disk before gc");
    }
    let (code, stdout, _) = f.run("gc", &f.east.dir, &["--auto-approve"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("Cluster `east`") && stdout.contains("Cluster `west`"), "{stdout}");
    for path in [&first.0, &first.1] {
        assert!(!on_disk(path).exists(), "{path} was disposed of");
    }
    for path in [&second.0, &second.1] {
        assert!(on_disk(path).exists(), "{path} is kept");
    }
    let paths = |r: Vec<(String, SavepointReason)>| r.into_iter().map(|(p, _)| p).collect::<Vec<_>>();
    assert_eq!(paths(recorded(&f.east, "near").await), [second.0.as_str()]);
    assert_eq!(paths(recorded(&f.west, "far").await), [second.1.as_str()]);

    // West out of reach: east's savepoint is taken and recorded; the run says west failed.
    f.point_west_at(&dead_url());
    let (code, stdout, _) = f.run("savepoint", &f.east.dir, &[]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("Cluster `west` (not observed)"), "{stdout}");
    let third = recorded(&f.east, "near").await.last().unwrap().0.clone();
    assert_ne!(third, second.0);
    flink_shows_savepoint(&ca, &near, &third).await;
    assert_eq!(paths(recorded(&f.west, "far").await), [second.1.as_str()], "west's ledger untouched");
    f.point_west_at(&b.url);
    f.east.cleanup(&ca).await;
    f.west.cleanup(&cb).await;
}

#[tokio::test]
async fn refresh_only_sees_a_job_cancelled_by_hand_on_one_of_two_clusters() {
    let Some((a, b)) = two_clusters() else { return };
    let (_slots_a, _slots_b) = (a.slots(1), b.slots(1));
    let (ca, cb) = (a.client(), b.client());
    let f = Fleet::new(&a, &b, "fleet-drift");
    f.east.write(&on("east", spec("calm")));
    f.west.write(&on("west", spec("hit")));
    let (code, stdout, _) = f.run("apply", &f.east.dir, &["--auto-approve"]);
    assert_eq!(code, Some(0), "{stdout}");
    // Other tests' jobs on these clusters are drift too (orphans of another state directory):
    // only this test's jobs are looked at.
    let ours = |doc: &Value, cluster: &str| -> Vec<(String, String)> {
        let c = doc["clusters"].as_array().unwrap().iter().find(|c| c["name"] == cluster).unwrap();
        let drift = c["drift"].as_array().unwrap().iter();
        drift
            .filter(|d| d["name"].as_str().unwrap().starts_with(&f.east.prefix))
            .map(|d| (d["name"].as_str().unwrap().to_owned(), d["kind"].as_str().unwrap().to_owned()))
            .collect()
    };
    let refresh = || {
        let (code, stdout, _) =
            f.run("plan", &f.east.dir, &["--refresh-only", "--detailed-exitcode", "-o", "json"]);
        (code, serde_json::from_str::<Value>(&stdout).unwrap())
    };
    let (_, doc) = refresh();
    assert!(ours(&doc, "east").is_empty() && ours(&doc, "west").is_empty(), "no drift yet: {doc:#}");

    let hit = f.west.live(&cb, "hit").await;
    cb.cancel(&hit).await.unwrap();
    wait_state(&cb, &hit, flinkops::flink::JobState::Canceled).await;
    let (code, doc) = refresh();
    assert_eq!(code, Some(2), "drift: {doc:#}");
    // (Also a conflict when it was cancelled before its first checkpoint: no state to restart from.)
    let cancelled = (f.west.name("hit"), "cancelled".to_owned());
    assert!(ours(&doc, "west").contains(&cancelled), "{doc:#}");
    assert!(ours(&doc, "east").is_empty(), "{doc:#}");
    let (_, text, _) = f.run("plan", &f.east.dir, &["--refresh-only"]);
    assert!(text.contains("Cluster `west`") && text.contains("cancelled outside flinkops"), "{text}");
    f.east.cleanup(&ca).await;
    f.west.cleanup(&cb).await;
}

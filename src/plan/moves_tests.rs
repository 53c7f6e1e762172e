//! Moves between clusters: planned with a savepoint, refused when the clusters could not share
//! it, blocked by `protect`, and never an empty start while a cluster is out of sight.

use std::collections::BTreeMap;

use super::*;
use crate::flink::JobState;
use crate::ledger::{SavepointReason, SavepointRecord};
use crate::plan::fixtures::*;
use crate::plan::fleet::tests::{job_of, observation, on, unobserved, unobserved_with};
use crate::plan::fleet::{self, FleetPlan};
use crate::plan::{ClusterRef, Control};

/// An observed cluster running Flink `version`, whose jobs write savepoints to `dir`.
fn cluster(
    name: &str,
    version: &str,
    dir: &str,
    live: Vec<LiveJob>,
    ledger: BTreeMap<String, Record>,
) -> ClusterInput {
    let url = format!("http://{name}:8081");
    let observation = ClusterObservation {
        cluster: Some(ClusterRef { url, flink_version: version.into() }),
        savepoint_dir: Some(dir.into()),
        ..observation(name, live, ledger)
    };
    ClusterInput { name: name.into(), observation: Ok(observation) }
}

/// `orders` now says `cluster: us`; it runs on `eu`, whose ledger has its record.
fn moved_spec() -> (Desired, LiveJob, Record) {
    let d = desired([on("us", job("orders")), on("us", job("report").after(&["orders"]))]);
    let orders = &d.jobs["orders"];
    (d.clone(), live_of(orders, 1, JobState::Running), record_of(orders))
}

fn run(d: &Desired, eu: ClusterInput, us: ClusterInput, opts: &Options) -> FleetPlan {
    fleet::plan(d, &[eu, us], opts)
}

fn problems(p: &FleetPlan, cluster: &str) -> String {
    p.plan_of(cluster).unwrap().problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

#[test]
fn a_job_whose_cluster_changed_is_moved_with_a_savepoint_and_is_no_orphan_on_its_old_cluster() {
    let (d, live, record) = moved_spec();
    let eu = cluster("eu", "2.3.0", "file:///shared/sp", vec![live.clone()], ledger([record]));
    let us = cluster("us", "2.3.1", "file:/shared/sp/", vec![], ledger([]));
    let prune = Options { prune: true, ..Options::default() };
    let p = run(&d, eu, us, &prune);
    let orders = job_of(&p, "us", "orders");
    assert_eq!(orders.action, Action::Move, "{orders:#?}");
    assert_eq!(orders.moved_from.as_deref(), Some("eu"));
    assert_eq!(orders.live.as_ref().map(|l| &l.id), Some(&live.id));
    assert_eq!(orders.restore, Some(Restore::NewSavepoint));
    // Not also stopped as an orphan by --prune on the old cluster.
    assert!(p.plan_of("eu").unwrap().jobs.is_empty(), "{:#?}", p.plan_of("eu"));
    let waves: Vec<Vec<String>> =
        p.waves.iter().map(|w| w.jobs.iter().map(|j| j.job.clone()).collect()).collect();
    assert_eq!(waves, [vec!["orders".to_string()], vec!["report".to_string()]]);
    assert_eq!(problems(&p, "us"), "");
    // Counted with the upgrades, and as a move: in the fleet's JSON (format 2) and summary line.
    let s = p.summary();
    assert_eq!((s.deploy, s.upgrade, s.moves), (1, 1, 1), "{s:?}");
    let options = crate::plan::model::PlanOptions::default();
    let json = serde_json::to_value(crate::render::JsonFleetPlan::of(&p, "specs", &options)).unwrap();
    assert_eq!(json["summary"]["moves"], 1, "{}", json["summary"]);
    let mut text = Vec::new();
    crate::render::fleet_human(&p, &crate::output::Styles::plain(), &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("1 to upgrade (1 of them a move between clusters)"), "{text}");
    // A format-1 plan's summary has no `moves` (its JSON stays as it was).
    let one = serde_json::to_value(p.plan_of("us").unwrap().summary()).unwrap();
    assert!(one.get("moves").is_none(), "{one}");
}

#[test]
fn a_move_between_different_savepoint_directories_is_refused_and_the_job_keeps_running() {
    let (d, live, record) = moved_spec();
    let eu = cluster("eu", "2.3.0", "s3://eu-bucket/sp", vec![live], ledger([record]));
    let us = cluster("us", "2.3.0", "s3://us-bucket/sp", vec![], ledger([]));
    let p = run(&d, eu, us, &Options { prune: true, ..Options::default() });
    assert_eq!(job_of(&p, "us", "orders").action, Action::Conflict);
    let problems = problems(&p, "us");
    assert!(problems.contains("s3://eu-bucket/sp") && problems.contains("s3://us-bucket/sp"), "{problems}");
    assert!(problems.contains("defaults.savepointDirectory"), "{problems}");
    // Nothing waits on a refused move, and nothing stops the job on its old cluster.
    assert!(job_of(&p, "us", "report").blocked_by.is_some());
    assert!(p.waves.is_empty(), "{:?}", p.waves);
}

#[test]
fn a_directory_the_job_names_itself_serves_both_clusters() {
    let (mut d, live, record) = moved_spec();
    let orders = d.jobs.get_mut("orders").unwrap();
    orders.savepoint.directory =
        Some(crate::spec::model::Located::new("s3://shared/sp".into(), Default::default()));
    let eu = cluster("eu", "2.3.0", "s3://eu-bucket/sp", vec![live], ledger([record]));
    let us = cluster("us", "2.3.0", "s3://us-bucket/sp", vec![], ledger([]));
    let p = run(&d, eu, us, &Options::default());
    assert_eq!(job_of(&p, "us", "orders").action, Action::Move, "{}", problems(&p, "us"));
}

#[test]
fn a_move_across_flink_minor_versions_is_refused() {
    let (d, live, record) = moved_spec();
    let eu = cluster("eu", "1.20.5", "file:///shared/sp", vec![live], ledger([record]));
    let us = cluster("us", "2.3.0", "file:///shared/sp", vec![], ledger([]));
    let p = run(&d, eu, us, &Options::default());
    assert_eq!(job_of(&p, "us", "orders").action, Action::Conflict);
    let problems = problems(&p, "us");
    assert!(problems.contains("1.20.5") && problems.contains("different Flink versions"), "{problems}");
}

#[test]
fn protect_blocks_a_move_unless_allow_destroy_names_the_job() {
    let (mut d, live, record) = moved_spec();
    d.jobs.get_mut("orders").unwrap().protect = true;
    let inputs = || {
        let eu = cluster("eu", "2.3.0", "file:///shared/sp", vec![live.clone()], ledger([record.clone()]));
        (eu, cluster("us", "2.3.0", "file:///shared/sp", vec![], ledger([])))
    };
    let (eu, us) = inputs();
    let p = run(&d, eu, us, &Options::default());
    assert_eq!(job_of(&p, "us", "orders").action, Action::Conflict);
    assert!(problems(&p, "us").contains("--allow-destroy orders"), "{}", problems(&p, "us"));
    let allow = Options {
        control: Control { allow_destroy: vec!["orders".into()], ..Control::default() },
        ..Options::default()
    };
    let (eu, us) = inputs();
    assert_eq!(job_of(&run(&d, eu, us, &allow), "us", "orders").action, Action::Move);
}

#[test]
fn a_job_no_longer_running_on_its_old_cluster_moves_from_the_savepoint_its_ledger_recorded() {
    let (d, _, mut record) = moved_spec();
    record.savepoints.push(SavepointRecord::new(
        "file:/shared/sp/savepoint-1",
        None,
        "2026-01-01T00:00:00Z".into(),
        SavepointReason::Suspend,
    ));
    let eu = cluster("eu", "2.3.0", "file:///shared/sp", vec![], ledger([record.clone()]));
    let us = cluster("us", "2.3.0", "file:///shared/sp", vec![], ledger([]));
    let p = run(&d, eu, us, &Options::default());
    let orders = job_of(&p, "us", "orders");
    assert_eq!(orders.action, Action::Move);
    assert_eq!(orders.live, None);
    assert_eq!(
        orders.restore,
        Some(Restore::Path { path: "file:/shared/sp/savepoint-1".into(), source: "ledger".into() })
    );
    // Without a savepoint there, nothing to start from: refused rather than started empty.
    record.savepoints.clear();
    let eu = cluster("eu", "2.3.0", "file:///shared/sp", vec![], ledger([record]));
    let us = cluster("us", "2.3.0", "file:///shared/sp", vec![], ledger([]));
    let p = run(&d, eu, us, &Options::default());
    assert_eq!(job_of(&p, "us", "orders").action, Action::Conflict);
    assert!(problems(&p, "us").contains("no savepoint"), "{}", problems(&p, "us"));
}

#[test]
fn a_record_left_on_the_old_cluster_is_no_move_once_the_new_cluster_knows_the_job() {
    // Moved to us earlier (us has its record); eu's record was left behind; it runs nowhere.
    let (d, _, mut old) = moved_spec();
    let stale = SavepointRecord::new(
        "file:/shared/sp/old",
        None,
        "2025-01-01T00:00:00Z".into(),
        SavepointReason::Upgrade,
    );
    old.savepoints.push(stale);
    let here = record_of(&d.jobs["orders"]);
    let eu = cluster("eu", "2.3.0", "file:///shared/sp", vec![], ledger([old]));
    let us = cluster("us", "2.3.0", "file:///shared/sp", vec![], ledger([here]));
    let p = run(&d, eu, us, &Options::default());
    let orders = job_of(&p, "us", "orders");
    assert_eq!(orders.action, Action::Deploy, "{orders:#?}");
    assert_eq!(orders.moved_from, None);
}

/// What a run killed during or after a move's stop leaves: the new cluster's record has the
/// move in flight (and, after the savepoint, its copy); the old job has ended. The move is
/// planned again from the state that job left, even when the old ledger has no savepoint yet.
#[test]
fn a_move_a_killed_run_left_in_flight_is_planned_again_from_the_stopped_jobs_state() {
    let (d, live, old) = moved_spec();
    let mut here = Record::new("orders");
    here.moving = Some(crate::ledger::Moving {
        from_cluster: "eu".into(),
        job_id: live.id.clone(),
        trigger_id: crate::flink::TriggerId::random(),
        started_at: "2026-01-01T00:00:00Z".into(),
    });
    let ended = LiveJob { state: JobState::Finished, ..live.clone() };
    for copied in [false, true] {
        let mut here = here.clone();
        if copied {
            let sp = SavepointRecord::new(
                "file:/shared/sp/savepoint-move",
                Some(live.id.clone()),
                "2026-01-01T00:00:01Z".into(),
                SavepointReason::Upgrade,
            );
            here.savepoints.push(sp);
        }
        let eu = cluster("eu", "2.3.0", "file:///shared/sp", vec![ended.clone()], ledger([old.clone()]));
        let us = cluster("us", "2.3.0", "file:///shared/sp", vec![], ledger([here]));
        let p = run(&d, eu, us, &Options::default());
        let orders = job_of(&p, "us", "orders");
        assert_eq!(orders.action, Action::Move, "copied: {copied}: {orders:#?}");
        assert_eq!(orders.moved_from.as_deref(), Some("eu"));
        assert_eq!(orders.restore, Some(Restore::LatestOf { job_id: live.id.clone() }));
        assert_eq!(problems(&p, "us"), "");
    }
}

#[test]
fn a_first_deployment_waits_while_a_cluster_that_may_run_the_job_cannot_be_seen() {
    let (d, _, record) = moved_spec();
    let us = || cluster("us", "2.3.0", "file:///sp", vec![], ledger([]));
    let blocked_by = |eu: ClusterInput| {
        let p = fleet::plan(&d, &[eu, us()], &Options::default());
        let orders = job_of(&p, "us", "orders");
        assert_eq!(orders.action, Action::Deploy);
        orders.blocked_by.clone()
    };
    // Its ledger has the job: it may run there.
    let b = blocked_by(unobserved_with("eu", Some(ledger([record]))));
    assert_eq!(b, Some(Blocker::ClusterUnobserved { cluster: "eu".into(), ledger_has_job: true }));
    // No ledger known for it: it may too.
    let b = blocked_by(unobserved_with("eu", None));
    assert_eq!(b, Some(Blocker::ClusterUnobserved { cluster: "eu".into(), ledger_has_job: false }));
    // Its ledger is known and never had the job: a new job is deployed as usual.
    assert_eq!(blocked_by(unobserved("eu")), None);
}

#[test]
fn a_job_running_on_two_other_clusters_is_a_conflict_and_neither_is_pruned() {
    let (d, live, record) = moved_spec();
    let other = live_of(&d.jobs["orders"], 2, JobState::Running);
    let p = fleet::plan(
        &d,
        &[
            cluster("ap", "2.3.0", "file:///sp", vec![other], ledger([])),
            cluster("eu", "2.3.0", "file:///sp", vec![live], ledger([record])),
            cluster("us", "2.3.0", "file:///sp", vec![], ledger([])),
        ],
        &Options { prune: true, ..Options::default() },
    );
    assert_eq!(job_of(&p, "us", "orders").action, Action::Conflict);
    assert!(problems(&p, "us").contains("2 other clusters (ap, eu)"), "{}", problems(&p, "us"));
    assert!(p.plan_of("ap").unwrap().jobs.is_empty() && p.plan_of("eu").unwrap().jobs.is_empty());
}

#[test]
fn the_same_place_ignores_spelling_not_scheme_or_bucket() {
    assert!(same_place("/sp", "file:///sp/"));
    assert!(same_place("file:/sp", "file://localhost/sp"));
    assert!(same_place("s3://b/sp/", "s3://b/sp"));
    assert!(!same_place("s3://b/sp", "s3a://b/sp"));
    assert!(!same_place("s3://a/sp", "s3://b/sp"));
    assert!(!same_place("hdfs://nn1:8020/sp", "hdfs://nn2:8020/sp"));
    assert_eq!(major_minor("1.20.5"), Some((1, 20)));
    assert_eq!(major_minor("2.3-SNAPSHOT"), Some((2, 3)));
}

/// `orders` ran on `eu`; one commit renames it `orders-v2` (`previousNames: [orders]`) and sets
/// `cluster: us`. Neither name's state is where the other side looks: planned apart, `us` would
/// start `orders-v2` empty beside the old job (and `--prune` would stop that one). Refused, with
/// the fix, and the old job is no orphan.
#[test]
fn a_move_and_a_rename_in_one_commit_are_refused_with_the_fix_and_nothing_is_touched() {
    let old = job("orders");
    let (live, record) = (live_of(&old, 1, JobState::Running), record_of(&old));
    let mut renamed = on("us", job("orders-v2"));
    renamed.previous_names = vec!["orders".into()];
    let d = desired([renamed]);
    let eu = cluster("eu", "2.3.0", "file:///shared/sp", vec![live], ledger([record]));
    let us = cluster("us", "2.3.0", "file:///shared/sp", vec![], ledger([]));
    let prune = Options { prune: true, ..Options::default() };
    let p = run(&d, eu, us, &prune);
    let entry = job_of(&p, "us", "orders-v2");
    assert_eq!(entry.action, Action::Conflict, "{entry:#?}");
    let problem = problems(&p, "us");
    for part in ["`orders-v2`", "from `eu` to `us`", "renamed from `orders`", "rename first", "second commit"]
    {
        assert!(problem.contains(part), "{part} in {problem}");
    }
    // The old job is not stopped as an orphan by --prune: nothing at all is done.
    assert!(p.plan_of("eu").unwrap().jobs.is_empty(), "{:#?}", p.plan_of("eu"));
    assert!(!p.has_changes(), "{p:#?}");
}

/// Only the old name's record on the old cluster (the job runs nowhere): refused alike, not an
/// empty first deployment.
#[test]
fn a_renamed_job_known_only_to_the_old_clusters_ledger_is_no_empty_first_deployment() {
    let old = job("orders");
    let mut renamed = on("us", job("orders-v2"));
    renamed.previous_names = vec!["orders".into()];
    let d = desired([renamed]);
    let eu = cluster("eu", "2.3.0", "file:///sp", vec![], ledger([record_of(&old)]));
    let us = cluster("us", "2.3.0", "file:///sp", vec![], ledger([]));
    let p = run(&d, eu, us, &Options::default());
    assert_eq!(job_of(&p, "us", "orders-v2").action, Action::Conflict, "{p:#?}");
    // And while the old cluster cannot be seen, no first deployment either.
    let d2 = d.clone();
    let eu = unobserved_with("eu", Some(ledger([record_of(&old)])));
    let us = cluster("us", "2.3.0", "file:///sp", vec![], ledger([]));
    let p = run(&d2, eu, us, &Options::default());
    let entry = job_of(&p, "us", "orders-v2");
    assert!(entry.blocked_by.is_some(), "{entry:#?}");
}

//! The planner's decisions, one situation per test, and its laws as properties.

use proptest::prelude::*;

use super::fixtures::*;
use super::*;
use crate::flink::{JobId, JobState};
use crate::ledger::{SavepointReason, SavepointRecord};
use crate::spec::model::UpgradeMode;

fn run(
    desired: &crate::spec::Desired,
    live: Vec<LiveJob>,
    ledger: &std::collections::BTreeMap<String, crate::ledger::Record>,
) -> Plan {
    plan(desired, &Observed { jobs: live, ..Default::default() }, ledger, &Options::default())
}

fn action_of<'p>(plan: &'p Plan, name: &str) -> &'p JobPlan {
    plan.jobs.iter().find(|j| j.name == name).unwrap_or_else(|| panic!("{name} not in plan: {plan:#?}"))
}

fn pipeline() -> crate::spec::Desired {
    desired([
        job("ingest"),
        job("enrich").after(&["ingest"]),
        job("aggregate").after(&["enrich"]),
        job("forwarder"),
    ])
}

#[test]
fn with_nothing_running_every_job_is_deployed_upstream_first() {
    let plan = run(&pipeline(), vec![], &ledger([]));
    assert!(
        plan.jobs.iter().all(|j| j.action == Action::Deploy && j.restore == Some(Restore::FirstDeployment))
    );
    let waves: Vec<Vec<&str>> =
        plan.waves.iter().map(|w| w.jobs.iter().map(String::as_str).collect()).collect();
    assert_eq!(waves, [vec!["forwarder", "ingest"], vec!["enrich"], vec!["aggregate"]]);
    assert_eq!(plan.summary().deploy, 4);
}

#[test]
fn jobs_that_run_their_spec_need_nothing() {
    let d = pipeline();
    let live = d.jobs.values().map(|j| live_of(j, 1, JobState::Running)).collect();
    let plan = run(&d, live, &ledger(d.jobs.values().map(record_of)));
    assert!(!plan.has_changes(), "{plan:#?}");
    assert!(plan.waves.is_empty());
    assert!(plan.jobs.iter().all(|j| j.drift.is_none()));
}

/// A job with a secret, as an older flinkops left it: its live id carries the fingerprint with the
/// secret hashed in clear, and its record stores the secret as one SHA-256.
#[test]
fn a_job_with_a_secret_started_by_an_older_flinkops_is_not_redeployed() {
    let mut j = job("orders");
    j.args[1] = crate::spec::Param { value: "hunter2".into(), sensitive: true };
    j.fingerprint = crate::spec::fingerprint::of(&j);
    let old_fp = crate::spec::fingerprint::legacy(&j).unwrap();
    let mut old = j.clone();
    old.fingerprint = old_fp.clone();
    let mut record = record_of(&j);
    let applied = record.applied.as_mut().unwrap();
    applied.fingerprint = old_fp;
    // SHA-256("flinkops-secret\0hunter2") (Python's hashlib), as an older flinkops wrote it.
    applied.args[1] = crate::ledger::Stored::LegacySecret {
        sha256: "a12468e8396599e39986406fa1057b88b11282ef88031b06e40b96ef3721dd77".into(),
    };
    let plan =
        run(&desired([j.clone()]), vec![live_of(&old, 1, JobState::Running)], &ledger([record.clone()]));
    let p = action_of(&plan, "orders");
    assert_eq!(p.action, Action::None, "{p:#?}");
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    // A changed secret is still an upgrade, and the old record still tells which field changed.
    let mut changed = j.clone();
    changed.args[1].value = "hunter3".into();
    changed.fingerprint = crate::spec::fingerprint::of(&changed);
    let plan = run(&desired([changed]), vec![live_of(&old, 1, JobState::Running)], &ledger([record]));
    let p = action_of(&plan, "orders");
    assert_eq!(p.action, Action::Upgrade { mode: UpgradeMode::Savepoint });
    assert_eq!(p.changes.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(), ["args[1]"]);
}

#[test]
fn a_changed_spec_is_upgraded_with_its_changed_fields() {
    let old = job("enrich");
    let new = job("enrich").with_parallelism(4);
    let plan = run(&desired([new]), vec![live_of(&old, 1, JobState::Running)], &ledger([record_of(&old)]));
    let p = action_of(&plan, "enrich");
    assert_eq!(p.action, Action::Upgrade { mode: UpgradeMode::Savepoint });
    assert_eq!(p.restore, Some(Restore::NewSavepoint));
    assert_eq!(p.changes.len(), 1);
    assert_eq!(
        (p.changes[0].field.as_str(), p.changes[0].old.as_deref(), p.changes[0].new.as_deref()),
        ("parallelism", Some("1"), Some("4"))
    );
    assert!(p.changes[0].forces_redeploy);
    assert!(p.reason.to_string().starts_with("parallelism changed"), "{}", p.reason);
    assert!(plan.details_known);
}

#[test]
fn without_a_ledger_an_upgrade_is_still_found_but_without_details() {
    let old = job("enrich");
    let plan = run(
        &desired([job("enrich").with_parallelism(4)]),
        vec![live_of(&old, 1, JobState::Running)],
        &ledger([]),
    );
    let p = action_of(&plan, "enrich");
    assert_eq!(p.action, Action::Upgrade { mode: UpgradeMode::Savepoint });
    assert!(p.changes.is_empty());
    assert!(p.reason.to_string().contains("field details unknown"), "{}", p.reason);
    assert!(!plan.details_known);
}

#[test]
fn a_failed_job_is_deployed_again_from_its_latest_state_and_shown_as_drift() {
    let j = job("ingest");
    let failed = live_of(&j, 1, JobState::Failed);
    let plan = run(&desired([j.clone()]), vec![failed.clone()], &ledger([record_of(&j)]));
    let p = action_of(&plan, "ingest");
    assert_eq!(p.action, Action::Deploy);
    assert_eq!(p.restore, Some(Restore::LatestOf { job_id: failed.id.clone() }));
    assert_eq!(p.drift, Some(model::JobDrift::Ended { state: JobState::Failed }));
    assert_eq!(p.drift.as_ref().unwrap().to_string(), "failed (FAILED)");
}

/// A snapshot some source names, found "at `origin of <path>`".
fn candidate(path: &str, taken_ms: i64, problem: Option<&str>) -> crate::restore::Candidate {
    crate::restore::Candidate {
        path: path.into(),
        origin: format!("origin of {path}"),
        taken_ms,
        checkpoint_id: None,
        job_id: None,
        problem: problem.map(Into::into),
    }
}

#[test]
fn the_newest_snapshot_of_any_source_is_the_restore_source_not_the_ledgers_savepoint() {
    use crate::restore::Evidence;
    let j = job("ingest");
    let stopped = live_of(&j, 1, JobState::Finished);
    let mut record = record_of(&j);
    record.savepoints.push(SavepointRecord::new(
        "file:/sp/savepoint-abc",
        Some(stopped.id.clone()),
        "2026-01-01T00:00:00Z".into(),
        SavepointReason::Upgrade,
    ));
    // Not gathered (a pure plan): apply looks for the newest state of the last job.
    let pure = run(&desired([j.clone()]), vec![stopped.clone()], &ledger([record.clone()]));
    assert_eq!(action_of(&pure, "ingest").restore, Some(Restore::LatestOf { job_id: stopped.id.clone() }));

    let evidence = Evidence {
        found: vec![
            candidate("file:/sp/savepoint-abc", 10_000, None),
            candidate("file:/chk/chk-7", 40_000, None),
        ],
        ran_before: true,
        ..Default::default()
    };
    let observed = Observed {
        jobs: vec![stopped],
        snapshots: [("ingest".to_string(), evidence)].into(),
        now_ms: 100_000,
        ..Default::default()
    };
    let plan = plan(&desired([j]), &observed, &ledger([record]), &Options::default());
    let p = action_of(&plan, "ingest");
    assert_eq!(p.action, Action::Deploy);
    assert_eq!(
        p.restore,
        Some(Restore::Newest {
            path: "file:/chk/chk-7".into(),
            origin: "origin of file:/chk/chk-7".into(),
            taken_at: "1970-01-01T00:00:40Z".into(),
            age_seconds: 60,
            found: 2,
            discarded: None,
        })
    );
}

#[test]
fn an_unusable_newest_snapshot_is_a_conflict_that_lists_what_was_found() {
    use crate::restore::Evidence;
    let j = job("ingest");
    let stopped = live_of(&j, 1, JobState::Finished);
    let evidence = Evidence {
        found: vec![
            candidate("file:/sp/old", 1_000, None),
            candidate("file:/chk/chk-9", 5_000, Some("deleted")),
        ],
        ran_before: true,
        ..Default::default()
    };
    let observed = Observed {
        jobs: vec![stopped],
        snapshots: [("ingest".to_string(), evidence)].into(),
        now_ms: 10_000,
        ..Default::default()
    };
    let plan = plan(&desired([j.clone()]), &observed, &ledger([record_of(&j)]), &Options::default());
    assert_eq!(action_of(&plan, "ingest").action, Action::Conflict);
    let problem =
        plan.problems.iter().find(|p| p.names("ingest")).expect("a problem names the job").to_string();
    assert!(problem.contains("file:/chk/chk-9") && problem.contains("file:/sp/old"), "{problem}");
    assert!(problem.contains("restore.from"), "{problem}");
}

#[test]
fn restore_from_none_and_stateless_jobs_start_empty_on_purpose() {
    let stateless = job("fwd").mode(UpgradeMode::Stateless);
    let plan =
        run(&desired([stateless.clone()]), vec![live_of(&stateless, 1, JobState::Canceled)], &ledger([]));
    assert!(matches!(action_of(&plan, "fwd").restore, Some(Restore::Empty { .. })));
}

#[test]
fn an_orphan_is_listed_and_stopped_only_with_prune() {
    let gone = job("old-job");
    let live = vec![live_of(&gone, 1, JobState::Running)];
    let plan = run(&desired([]), live.clone(), &ledger([record_of(&gone)]));
    assert_eq!(action_of(&plan, "old-job").action, Action::Orphan);
    assert!(!plan.has_changes());
    let pruned = plan_with(
        &desired([]),
        live,
        &ledger([record_of(&gone)]),
        Options { prune: true, ..Options::default() },
    );
    assert_eq!(action_of(&pruned, "old-job").action, Action::Stop);
    assert_eq!(pruned.waves[0].kind, WaveKind::Stop);
}

#[test]
fn a_managed_job_this_state_directory_never_applied_is_never_pruned() {
    // Another spec directory's job on the same cluster: managed, but not ours to stop.
    let theirs = job("their-job");
    let plan = plan_with(
        &desired([]),
        vec![live_of(&theirs, 1, JobState::Running)],
        &ledger([]),
        Options { prune: true, ..Options::default() },
    );
    let p = plan.jobs.iter().find(|j| j.live.as_ref().is_some_and(|l| l.name == "their-job")).unwrap();
    assert_eq!(p.action, Action::Orphan);
    assert!(p.reason.to_string().contains("not from this state directory"), "{}", p.reason);
    assert!(plan.waves.is_empty());
}

fn plan_with(
    d: &crate::spec::Desired,
    live: Vec<LiveJob>,
    l: &std::collections::BTreeMap<String, crate::ledger::Record>,
    o: Options,
) -> Plan {
    plan(d, &Observed { jobs: live, ..Default::default() }, l, &o)
}

#[test]
fn unmanaged_jobs_are_listed_and_never_touched() {
    let plan =
        run(&desired([job("ingest")]), vec![unmanaged("someone-elses", 7, JobState::Running)], &ledger([]));
    assert_eq!(plan.unmanaged.len(), 1);
    assert_eq!(plan.jobs.len(), 1, "no action for the unmanaged job");
}

#[test]
fn an_unmanaged_namesake_blocks_the_deploy_unless_adopted() {
    let live = vec![unmanaged("ingest", 7, JobState::Running)];
    let d = desired([job("ingest"), job("enrich").after(&["ingest"])]);
    let plan = run(&d, live.clone(), &ledger([]));
    assert_eq!(action_of(&plan, "ingest").action, Action::Conflict);
    assert!(plan.problems[0].to_string().contains("--adopt"));
    assert!(action_of(&plan, "enrich").blocked_by.is_some());
    let adopted = plan_with(&d, live, &ledger([]), Options { adopt: true, ..Options::default() });
    assert_eq!(action_of(&adopted, "ingest").action, Action::Adopt);
}

#[test]
fn two_live_jobs_for_one_spec_are_a_problem_not_a_guess() {
    let j = job("ingest");
    let plan = run(
        &desired([j.clone()]),
        vec![live_of(&j, 1, JobState::Running), live_of(&j, 2, JobState::Running)],
        &ledger([]),
    );
    assert_eq!(action_of(&plan, "ingest").action, Action::Conflict);
    assert_eq!(plan.problems.len(), 1);
    assert!(plan.waves.is_empty());
}

#[test]
fn settings_only_changes_are_recorded_without_touching_the_job() {
    let old = job("ingest");
    let mut new = job("ingest");
    new.health.stable_for.value = crate::spec::model::Duration::seconds(60);
    let plan = run(&desired([new]), vec![live_of(&old, 1, JobState::Running)], &ledger([record_of(&old)]));
    let p = action_of(&plan, "ingest");
    assert_eq!(p.action, Action::UpdateSettings);
    assert_eq!(p.changes[0].field, "health.stableFor");
    assert!(!p.changes[0].forces_redeploy);
    assert!(plan.waves.is_empty(), "nothing to do on the cluster");
}

#[test]
fn suspending_stops_the_job_and_resuming_starts_it_from_the_suspension_savepoint() {
    let running = job("ingest");
    let suspended = job("ingest").suspended();
    let live = live_of(&running, 1, JobState::Running);
    let plan = run(&desired([suspended.clone()]), vec![live.clone()], &ledger([record_of(&running)]));
    assert_eq!(action_of(&plan, "ingest").action, Action::Suspend);

    let stopped = LiveJob { state: JobState::Finished, end_time: 5_000, ..live };
    let still = run(&desired([suspended.clone()]), vec![stopped.clone()], &ledger([record_of(&suspended)]));
    assert_eq!(action_of(&still, "ingest").action, Action::None);

    let mut record = record_of(&suspended);
    record.savepoints.push(SavepointRecord::new(
        "file:/sp/s1",
        Some(stopped.id.clone()),
        "2026-01-01T00:00:00Z".into(),
        SavepointReason::Suspend,
    ));
    let stopped_id = stopped.id.clone();
    let resumed = run(&desired([running]), vec![stopped], &ledger([record]));
    let p = action_of(&resumed, "ingest");
    assert_eq!(p.action, Action::Resume);
    assert_eq!(p.restore, Some(Restore::LatestOf { job_id: stopped_id }));
}

#[test]
fn a_job_after_a_suspended_one_waits_and_says_why() {
    let d = desired([job("ingest").suspended(), job("enrich").after(&["ingest"])]);
    let plan = run(&d, vec![], &ledger([]));
    let blocker = action_of(&plan, "enrich").blocked_by.clone();
    assert_eq!(blocker, Some(model::Blocker::UpstreamSuspended { upstream: "ingest".into() }));
}

#[test]
fn upstream_lists_every_transitive_dependency_once() {
    let d = desired([job("a"), job("b").after(&["a"]), job("c").after(&["a", "b"]), job("d").after(&["c"])]);
    assert_eq!(d.upstream("d"), ["c", "b", "a"]);
    assert!(d.upstream("a").is_empty());
}

#[test]
fn a_restarting_job_is_reported_as_drift() {
    let j = job("ingest");
    let plan = run(&desired([j.clone()]), vec![live_of(&j, 1, JobState::Restarting)], &ledger([]));
    let p = action_of(&plan, "ingest");
    assert_eq!(p.action, Action::None);
    assert!(
        matches!(p.drift, Some(model::JobDrift::Degraded { state: JobState::Restarting, .. })),
        "{:?}",
        p.drift
    );
}

#[test]
fn a_rescaled_job_with_a_finished_source_subtask_is_not_drift() {
    let j = job("ingest");
    let mut live = live_of(&j, 1, JobState::Running);
    (live.tasks_running, live.tasks_finished, live.tasks_total) = (3, 1, 4);
    let plan = run(&desired([j.clone()]), vec![live.clone()], &ledger([]));
    assert_eq!(action_of(&plan, "ingest").drift, None);
    (live.tasks_running, live.tasks_finished) = (3, 0);
    let plan = run(&desired([j]), vec![live], &ledger([]));
    let drift = action_of(&plan, "ingest").drift.clone();
    let words = drift.as_ref().map(ToString::to_string);
    assert_eq!(words.as_deref(), Some("RUNNING with 3/4 tasks running"), "a task missing is drift");
}

// --- laws ---------------------------------------------------------------------------------------

const NAMES: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

/// What a spec's live side looks like before planning.
#[derive(Debug, Clone, Copy)]
enum Before {
    Nothing,
    Current,
    OldVersion,
    Failed,
    Cancelled,
}

fn scenario() -> impl Strategy<Value = Vec<(usize, Vec<usize>, Before, bool, u32)>> {
    let before = prop_oneof![
        Just(Before::Nothing),
        Just(Before::Current),
        Just(Before::OldVersion),
        Just(Before::Failed),
        Just(Before::Cancelled)
    ];
    proptest::collection::vec(
        (proptest::collection::vec(0usize..6, 0..3), before, any::<bool>(), 1u32..4),
        1..=6,
    )
    .prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            // Dependencies only on earlier names: a DAG by construction.
            .map(|(i, (deps, b, rec, p))| (i, deps.into_iter().filter(|d| *d < i).collect(), b, rec, p))
            .collect()
    })
}

fn build(
    s: &[(usize, Vec<usize>, Before, bool, u32)],
) -> (crate::spec::Desired, Vec<LiveJob>, std::collections::BTreeMap<String, crate::ledger::Record>) {
    let mut jobs = Vec::new();
    let mut live = Vec::new();
    let mut records = Vec::new();
    for (i, deps, before, has_record, p) in s {
        let deps: Vec<&str> = deps.iter().map(|d| NAMES[*d]).collect();
        let j = job(NAMES[*i]).after(&deps).with_parallelism(*p);
        let old = job(NAMES[*i]).after(&deps).with_parallelism(p + 10);
        match before {
            Before::Nothing => {}
            Before::Current => live.push(live_of(&j, 1, JobState::Running)),
            Before::OldVersion => live.push(live_of(&old, 1, JobState::Running)),
            Before::Failed => live.push(live_of(&j, 1, JobState::Failed)),
            Before::Cancelled => live.push(live_of(&old, 1, JobState::Canceled)),
        }
        if *has_record && !matches!(before, Before::Nothing) {
            records.push(record_of(if matches!(before, Before::OldVersion) { &old } else { &j }));
        }
        jobs.push(j);
    }
    // Someone else's jobs, which every plan must list and leave alone.
    live.push(unmanaged("someone-elses", 7, JobState::Running));
    live.push(unmanaged("another", 9, JobState::Running));
    (desired(jobs), live, ledger(records))
}

/// Carry out a plan the way apply would, as far as the observations and the ledger can tell.
fn simulate(
    plan: &Plan,
    d: &crate::spec::Desired,
    live: &mut Vec<LiveJob>,
    l: &mut std::collections::BTreeMap<String, crate::ledger::Record>,
) {
    for (n, p) in plan.jobs.iter().enumerate() {
        let end = |live: &mut Vec<LiveJob>, id: &crate::flink::JobId| {
            for j in live.iter_mut().filter(|j| &j.id == id) {
                j.state = JobState::Finished;
                j.end_time = 9_000;
            }
        };
        if p.action.starts_a_job() {
            if let Some(old) = &p.live {
                end(live, &old.id);
            }
            let spec = &d.jobs[&p.name];
            live.push(live_of(spec, 100 + n as u8, JobState::Running));
        }
        if matches!(p.action, Action::Suspend | Action::Stop)
            && let Some(old) = &p.live
        {
            end(live, &old.id);
        }
        if p.action.is_change()
            && let Some(spec) = d.jobs.get(&p.name)
        {
            l.insert(p.name.clone(), record_of(spec));
        }
    }
}

proptest! {
    #[test]
    fn planning_the_result_of_a_plan_gives_an_empty_plan(s in scenario()) {
        let (d, mut live, mut l) = build(&s);
        let first = run(&d, live.clone(), &l);
        simulate(&first, &d, &mut live, &mut l);
        let second = run(&d, live, &l);
        prop_assert!(!second.has_changes(), "first: {first:#?}\nsecond: {second:#?}");
    }

    #[test]
    fn waves_respect_every_dependency(s in scenario()) {
        let (d, live, l) = build(&s);
        let plan = run(&d, live, &l);
        let wave_of = |name: &str| plan.waves.iter().position(|w| w.jobs.iter().any(|j| j == name));
        for job in d.jobs.values() {
            for dep in &job.depends_on {
                if let (Some(a), Some(b)) = (wave_of(&job.name), wave_of(dep)) {
                    prop_assert!(b < a, "{dep} (wave {b}) must come before {} (wave {a})", job.name);
                }
            }
        }
        // Every job that changes on the cluster is in exactly one wave.
        for p in plan.jobs.iter().filter(|p| p.action.touches_cluster()) {
            prop_assert_eq!(plan.waves.iter().filter(|w| w.jobs.contains(&p.name)).count(), 1);
        }
    }

    #[test]
    fn identical_input_gives_an_identical_plan_whatever_the_order_flink_listed_jobs_in(s in scenario()) {
        let (d, live, l) = build(&s);
        let a = serde_json::to_string(&run(&d, live.clone(), &l)).unwrap();
        let mut reversed = live;
        reversed.reverse();
        let b = serde_json::to_string(&run(&d, reversed, &l)).unwrap();
        prop_assert_eq!(a, b);
    }
}

#[test]
fn a_held_job_and_the_starts_downstream_of_it_leave_the_waves_with_their_reason() {
    let d = pipeline();
    let mut plan = run(&d, vec![], &ledger([]));
    let held = std::collections::BTreeMap::from([("ingest".to_string(), "retrying in 60s".to_string())]);
    hold(&mut plan, &d, &held);
    let reason = "retrying in 60s".to_string();
    assert_eq!(action_of(&plan, "ingest").blocked_by, Some(model::Blocker::Held { reason: reason.clone() }));
    let enrich = action_of(&plan, "enrich").blocked_by.clone().unwrap();
    assert_eq!(enrich, model::Blocker::UpstreamHeld { upstream: "ingest".into(), reason });
    assert_eq!(enrich.to_string(), "`ingest` is held: retrying in 60s");
    assert!(action_of(&plan, "aggregate").blocked_by.is_some());
    let waves: Vec<Vec<&str>> =
        plan.waves.iter().map(|w| w.jobs.iter().map(String::as_str).collect()).collect();
    assert_eq!(waves, [vec!["forwarder"]]);
}

#[test]
fn holding_a_job_without_a_change_changes_nothing() {
    let d = pipeline();
    let live = d.jobs.values().map(|j| live_of(j, 1, JobState::Running)).collect();
    let mut plan = run(&d, live, &ledger(d.jobs.values().map(record_of)));
    let before = plan.clone();
    hold(&mut plan, &d, &std::collections::BTreeMap::from([("ingest".to_string(), "x".to_string())]));
    assert_eq!(plan, before);
}

#[test]
fn a_spec_whose_record_cannot_be_read_is_a_conflict_and_the_others_are_planned() {
    let (a, b) = (job("a"), job("b"));
    let observed = Observed {
        jobs: vec![live_of(&a, 1, JobState::Running)],
        unreadable_records: [("a".to_string(), "the ledger file a.json is not valid".to_string())].into(),
        ..Default::default()
    };
    let plan = plan(&desired([a, b]), &observed, &ledger([]), &Options::default());
    assert_eq!(action_of(&plan, "a").action, Action::Conflict);
    assert!(action_of(&plan, "a").live.is_some(), "the running job is shown, and left alone");
    assert_eq!(action_of(&plan, "b").action, Action::Deploy);
    assert!(
        plan.problems
            .iter()
            .map(ToString::to_string)
            .any(|p| p.contains("a.json") && p.contains("overwrite")),
        "{:?}",
        plan.problems
    );
}

#[test]
fn a_new_version_an_interrupted_run_started_is_confirmed_not_taken_as_running() {
    let j = job("ingest");
    let live = live_of(&j, 1, JobState::Running);
    let mut record = record_of(&j);
    record.pending = Some(crate::ledger::Pending::Starting {
        job_id: live.id.clone(),
        from: Some("file:/sp/1".into()),
        started_at: "2026-01-01T00:00:00Z".into(),
        rollback: false,
    });
    let plan = run(&desired([j.clone()]), vec![live.clone()], &ledger([record.clone()]));
    assert_eq!(action_of(&plan, "ingest").action, Action::Confirm);
    // Another job id in the record (a start that never landed), or a rollback in flight: not this.
    let mut other = record.clone();
    other.pending = Some(crate::ledger::Pending::Starting {
        job_id: JobId::random(),
        from: None,
        started_at: "2026-01-01T00:00:00Z".into(),
        rollback: false,
    });
    let plan = run(&desired([j]), vec![live], &ledger([other]));
    assert_eq!(action_of(&plan, "ingest").action, Action::None);
}

#[test]
fn a_live_job_this_state_directory_never_started_is_not_acted_on() {
    let j = job("ingest");
    let ours = live_of(&j, 1, JobState::Finished);
    let theirs = live_of(&j, 2, JobState::Running);
    let mut record = record_of(&j);
    record.job_id = Some(ours.id.clone());
    let plan = run(&desired([j.clone()]), vec![ours.clone(), theirs.clone()], &ledger([record.clone()]));
    let p = action_of(&plan, "ingest");
    assert_eq!(p.action, Action::Conflict, "{p:?}");
    assert!(
        plan.problems.iter().any(|m| m.to_string().contains(&theirs.id.to_string())),
        "{:?}",
        plan.problems
    );
    // Known to the record (the last started, or one a step was in flight for): planned as usual.
    record.job_id = Some(theirs.id.clone());
    let plan = run(&desired([j.clone()]), vec![ours, theirs], &ledger([record]));
    assert_ne!(action_of(&plan, "ingest").action, Action::Conflict);
}

/// On 1.19 a stop with a savepoint and no directory anywhere fails (`Config key
/// [state.savepoints.dir] is not set`); the plan refuses it up front, and only where no directory
/// of the spec's own, its Flink configuration's or the cluster's applies.
#[test]
fn a_stop_with_a_savepoint_and_no_savepoint_directory_anywhere_is_a_conflict() {
    let old = job("enrich");
    let new = job("enrich").with_parallelism(4);
    let live = vec![live_of(&old, 1, JobState::Running)];
    let observe = |dir: Option<Option<String>>| Observed {
        jobs: live.clone(),
        cluster_savepoint_dir: dir,
        ..Default::default()
    };
    let plan_with = |spec: &crate::spec::Job, dir| {
        plan(&desired([spec.clone()]), &observe(dir), &ledger([record_of(&old)]), &Options::default())
    };
    let p = plan_with(&new, Some(None));
    assert_eq!(action_of(&p, "enrich").action, Action::Conflict);
    assert!(
        p.problems[0].to_string().contains("no savepoint directory is set")
            && p.problems[0].to_string().contains("savepoint.directory"),
        "{:?}",
        p.problems
    );
    // Any one directory is enough: the cluster's, the spec's, or its Flink configuration's; and a
    // cluster not asked (or unreadable) refuses nothing.
    let upgrade = Action::Upgrade { mode: UpgradeMode::Savepoint };
    assert_eq!(action_of(&plan_with(&new, Some(Some("file:/sp".into()))), "enrich").action, upgrade);
    assert_eq!(action_of(&plan_with(&new, None), "enrich").action, upgrade);
    let mut own = new.clone();
    own.savepoint.directory = Some(crate::spec::model::Located::new("file:/own".into(), Default::default()));
    assert_eq!(action_of(&plan_with(&own, Some(None)), "enrich").action, upgrade);
    let mut conf = new.clone();
    conf.flink_configuration.insert("state.savepoints.dir".into(), crate::spec::Param::plain("file:/c"));
    assert_eq!(action_of(&plan_with(&conf, Some(None)), "enrich").action, upgrade);
    // A last-state upgrade only falls back to a savepoint, which Flink refuses before the stop.
    let last = new.clone().mode(UpgradeMode::LastState);
    assert_eq!(
        action_of(&plan_with(&last, Some(None)), "enrich").action,
        Action::Upgrade { mode: UpgradeMode::LastState }
    );
}

/// A job wider than the cluster would wait for slots and restart-loop; for an upgrade, after its
/// old version stopped. The plan refuses it; a job that fits (or a cluster that grows on demand,
/// `total_slots: None`) is planned as usual.
#[test]
fn a_job_wider_than_the_cluster_is_a_conflict_and_one_that_fits_is_not() {
    let old = job("enrich");
    let live = vec![live_of(&old, 1, JobState::Running)];
    let observed = |total| Observed { jobs: live.clone(), total_slots: total, ..Default::default() };
    let plan_with = |spec: crate::spec::Job, total| {
        plan(&desired([spec]), &observed(total), &ledger([record_of(&old)]), &Options::default())
    };
    let p = plan_with(job("enrich").with_parallelism(8), Some(4));
    assert_eq!(action_of(&p, "enrich").action, Action::Conflict);
    assert!(
        p.problems[0].to_string().contains("needs 8 task slots")
            && p.problems[0].to_string().contains("has 4 in all"),
        "{:?}",
        p.problems
    );
    assert!(p.problems[0].to_string().contains("old version already stopped"), "{:?}", p.problems);
    let upgrade = Action::Upgrade { mode: UpgradeMode::Savepoint };
    assert_eq!(action_of(&plan_with(job("enrich").with_parallelism(4), Some(4)), "enrich").action, upgrade);
    assert_eq!(action_of(&plan_with(job("enrich").with_parallelism(8), None), "enrich").action, upgrade);
    let first = plan(
        &desired([job("wide").with_parallelism(3)]),
        &Observed { total_slots: Some(2), ..Default::default() },
        &ledger([]),
        &Options::default(),
    );
    assert_eq!(action_of(&first, "wide").action, Action::Conflict);
}

/// An upgrade of `old` (running, submission 1) to `new`, planned with `observe` changing what
/// Flink was seen to say.
fn plan_upgrade(old: &crate::spec::Job, new: &crate::spec::Job, observe: impl FnOnce(&mut Observed)) -> Plan {
    let mut observed = Observed { jobs: vec![live_of(old, 1, JobState::Running)], ..Default::default() };
    observe(&mut observed);
    plan(&desired([new.clone()]), &observed, &ledger([record_of(old)]), &Options::default())
}

fn facts(newest: Option<(u64, i64)>, slowest: Option<(u64, u64)>) -> checks::CheckpointFacts {
    checks::CheckpointFacts { newest, slowest }
}

/// A last-state upgrade whose newest checkpoint is older than `upgrade.maxCheckpointAge` goes
/// through a savepoint: a warning says so with the age, and the restore source is the savepoint.
/// A young checkpoint, no limit, or no checkpoint at all leaves the plan as it was.
#[test]
fn a_last_state_upgrade_past_max_checkpoint_age_takes_a_savepoint_and_says_why() {
    let old = job("enrich").mode(UpgradeMode::LastState);
    let mut new = old.clone().with_parallelism(2);
    new.upgrade.max_checkpoint_age = Some(crate::spec::model::Located::new(
        crate::spec::read::parse_duration("10m").unwrap(),
        Default::default(),
    ));
    let id = live_of(&old, 1, JobState::Running).id;
    let now = 100 * 60_000;
    let with_age = |minutes: i64| {
        let id = id.clone();
        plan_upgrade(&old, &new, move |o| {
            o.now_ms = now;
            o.checkpoints.insert(id, facts(Some((17, now - minutes * 60_000)), None));
        })
    };
    let p = with_age(25);
    let j = action_of(&p, "enrich");
    assert_eq!(j.action, Action::Upgrade { mode: UpgradeMode::LastState });
    assert_eq!(j.restore, Some(Restore::NewSavepoint));
    assert!(j.reason.to_string().contains("a savepoint is taken instead"), "{}", j.reason);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(
        p.warnings[0].to_string().contains("`enrich`: its newest checkpoint (17) completed 25m0s ago")
            && p.warnings[0].to_string().contains("`upgrade.maxCheckpointAge` (10m)"),
        "{:?}",
        p.warnings
    );
    let young = with_age(5);
    assert_eq!(action_of(&young, "enrich").restore, Some(Restore::LastCheckpoint));
    assert!(young.warnings.is_empty());
    let ancient = plan_upgrade(&old, &new.clone().mode(UpgradeMode::LastState), |o| {
        o.now_ms = now;
        o.checkpoints.insert(id.clone(), facts(Some((17, 0)), None));
    });
    assert_eq!(action_of(&ancient, "enrich").restore, Some(Restore::NewSavepoint), "the limit is set");
    let mut no_limit = new.clone();
    no_limit.upgrade.max_checkpoint_age = None;
    let p = plan_upgrade(&old, &no_limit, |o| {
        o.now_ms = now;
        o.checkpoints.insert(id.clone(), facts(Some((17, 0)), None));
    });
    assert_eq!(action_of(&p, "enrich").restore, Some(Restore::LastCheckpoint), "no limit");
    // A savepoint-mode upgrade is not concerned.
    let sp = plan_upgrade(&old, &new.clone().mode(UpgradeMode::Savepoint), |o| {
        o.now_ms = now;
        o.checkpoints.insert(id.clone(), facts(Some((17, 0)), None));
    });
    assert!(sp.warnings.is_empty());
}

/// A stop with a savepoint of a job whose recent checkpoints took longer than
/// `savepoint.timeout` is refused with the numbers and the fix; without history, or with a
/// timeout that is long enough, it is planned. A cancel (stateless, last-state from a checkpoint)
/// takes no savepoint and is not concerned; a last-state upgrade turned into a savepoint is.
#[test]
fn a_savepoint_timeout_shorter_than_recent_checkpoints_refuses_the_stop() {
    let old = job("enrich");
    let mut new = old.clone().with_parallelism(2);
    new.savepoint.timeout = crate::spec::model::Located::new(
        crate::spec::read::parse_duration("2s").unwrap(),
        Default::default(),
    );
    let id = live_of(&old, 1, JobState::Running).id;
    let slow = |o: &mut Observed| {
        o.checkpoints.insert(id.clone(), facts(Some((9, 0)), Some((8, 4_500))));
    };
    let p = plan_upgrade(&old, &new, slow);
    assert_eq!(action_of(&p, "enrich").action, Action::Conflict);
    assert_eq!(action_of(&p, "enrich").conflict, Some(ConflictScope::NextVersion), "the running job is ours");
    assert!(!action_of(&p, "enrich").in_doubt());
    assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
    let text = p.problems[0].to_string();
    assert!(text.starts_with("`enrich`: not stopped: `savepoint.timeout` is 2s"), "{text}");
    assert!(text.contains("checkpoint 8 took 4s 500ms") && text.contains("savepoint.timeout: 9s"), "{text}");
    let upgrade = Action::Upgrade { mode: UpgradeMode::Savepoint };
    assert_eq!(action_of(&plan_upgrade(&old, &new, |_| {}), "enrich").action, upgrade, "no history");
    let fast = |o: &mut Observed| {
        o.checkpoints.insert(id.clone(), facts(Some((9, 0)), Some((8, 1_500))));
    };
    assert_eq!(action_of(&plan_upgrade(&old, &new, fast), "enrich").action, upgrade);
    for mode in [UpgradeMode::Stateless, UpgradeMode::LastState] {
        let p = plan_upgrade(&old, &new.clone().mode(mode), slow);
        assert_eq!(action_of(&p, "enrich").action, Action::Upgrade { mode }, "{mode:?} cancels");
    }
    // Suspending takes a savepoint too.
    let p = plan_upgrade(&old, &old.clone().suspended(), |o| {
        o.checkpoints.insert(id.clone(), facts(None, Some((3, 11 * 60_000))));
    });
    assert_eq!(action_of(&p, "enrich").action, Action::Conflict, "the default timeout is 10m");
    // A last-state upgrade past maxCheckpointAge takes a savepoint, so its timeout counts.
    let mut last = new.clone().mode(UpgradeMode::LastState);
    last.upgrade.max_checkpoint_age = Some(crate::spec::model::Located::new(
        crate::spec::read::parse_duration("1m").unwrap(),
        Default::default(),
    ));
    let p = plan_upgrade(&old, &last, |o| {
        o.now_ms = 3_600_000;
        o.checkpoints.insert(id.clone(), facts(Some((9, 0)), Some((8, 4_500))));
    });
    assert_eq!(action_of(&p, "enrich").action, Action::Conflict);
}

/// Free slots: a new version that does not fit the free slots plus those its old version frees is
/// a warning (apply checks again before the stop), never a conflict; a new job counts free slots
/// only. Unknown free slots (a cluster that grows on demand) warn of nothing.
#[test]
fn too_few_free_slots_is_a_warning_counting_the_slots_the_old_version_frees() {
    let old = job("enrich");
    let new = old.clone().with_parallelism(4);
    let id = live_of(&old, 1, JobState::Running).id;
    let slots = |free, held| {
        let id = id.clone();
        move |o: &mut Observed| {
            o.total_slots = Some(8);
            o.free_slots = Some(free);
            o.slots_held.insert(id, held);
        }
    };
    let fits = plan_upgrade(&old, &new, slots(1, 3));
    assert!(fits.warnings.is_empty(), "{:?}", fits.warnings);
    let short = plan_upgrade(&old, &new, slots(1, 2));
    assert_eq!(action_of(&short, "enrich").action, Action::Upgrade { mode: UpgradeMode::Savepoint });
    assert!(short.problems.is_empty());
    assert_eq!(short.warnings.len(), 1);
    assert!(
        short.warnings[0].to_string().contains("`enrich`: needs 4 task slots")
            && short.warnings[0].to_string().contains("1 free plus the 2 its old version frees")
            && short.warnings[0].to_string().contains("apply checks again right before it stops anything"),
        "{:?}",
        short.warnings
    );
    assert!(plan_upgrade(&old, &new, |o| o.total_slots = Some(8)).warnings.is_empty(), "free unknown");
    let fresh = |free| {
        let observed = Observed { total_slots: Some(8), free_slots: Some(free), ..Default::default() };
        plan(&desired([job("wide").with_parallelism(3)]), &observed, &ledger([]), &Options::default())
    };
    assert!(fresh(3).warnings.is_empty());
    let p = fresh(2);
    assert_eq!(action_of(&p, "wide").action, Action::Deploy);
    assert!(p.warnings[0].to_string().contains("right now, the cluster has 2 free."), "{:?}", p.warnings);
}

/// A check before the stop that fails for an adoption concerns the job itself: its live job is
/// not managed yet, so nothing else may act on it either. Other conflicts (two live jobs) too.
#[test]
fn a_failed_check_before_adopting_leaves_the_unmanaged_job_in_doubt() {
    let spec = job("enrich");
    let observed = Observed {
        jobs: vec![unmanaged("enrich", 9, JobState::Running)],
        cluster_savepoint_dir: Some(None),
        ..Default::default()
    };
    let adopt = Options { adopt: true, ..Default::default() };
    let p = plan(&desired([spec.clone()]), &observed, &ledger([]), &adopt);
    let j = action_of(&p, "enrich");
    assert_eq!((j.action, j.conflict), (Action::Conflict, Some(ConflictScope::Job)));
    assert!(j.in_doubt());
    let two = vec![live_of(&spec, 1, JobState::Running), live_of(&spec, 2, JobState::Running)];
    let p = run(&desired([spec]), two, &ledger([]));
    assert!(action_of(&p, "enrich").in_doubt());
}

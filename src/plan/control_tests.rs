//! The planner with `--target`, `--exclude`, `--replace` and `protect` / `--allow-destroy`: one
//! situation per test (see `control`).

use std::collections::BTreeMap;

use super::fixtures::*;
use super::*;
use crate::flink::JobState;
use crate::ledger::Record;
use crate::spec::Desired;
use crate::spec::model::{RestoreFrom, UpgradeMode};

fn plan_with(d: &Desired, live: Vec<LiveJob>, l: &BTreeMap<String, Record>, control: Control) -> Plan {
    let opts = Options { control, ..Options::default() };
    plan(d, &Observed { jobs: live, ..Default::default() }, l, &opts)
}

fn pruning(d: &Desired, live: Vec<LiveJob>, l: &BTreeMap<String, Record>, control: Control) -> Plan {
    let opts = Options { prune: true, control, ..Options::default() };
    plan(d, &Observed { jobs: live, ..Default::default() }, l, &opts)
}

fn of<'p>(plan: &'p Plan, name: &str) -> &'p JobPlan {
    plan.jobs.iter().find(|j| j.name == name).unwrap_or_else(|| panic!("{name} not in plan: {plan:#?}"))
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn target(v: &[&str]) -> Control {
    Control { target: names(v), ..Control::default() }
}

fn wave_jobs(plan: &Plan) -> Vec<String> {
    plan.waves.iter().flat_map(|w| w.jobs.clone()).collect()
}

/// `orders` and `payments` both changed (parallelism 1 -> 2), both running v1.
fn two_changed() -> (Desired, Vec<LiveJob>, BTreeMap<String, Record>) {
    let (o1, p1) = (job("orders"), job("payments"));
    let d = desired([o1.clone().with_parallelism(2), p1.clone().with_parallelism(2)]);
    let live = vec![live_of(&o1, 1, JobState::Running), live_of(&p1, 1, JobState::Running)];
    (d, live, ledger([record_of(&o1), record_of(&p1)]))
}

#[test]
fn target_acts_on_the_targeted_job_and_skips_the_rest_never_as_in_sync() {
    let (d, live, l) = two_changed();
    let plan = plan_with(&d, live, &l, target(&["orders"]));
    assert!(matches!(of(&plan, "orders").action, Action::Upgrade { .. }));
    let other = of(&plan, "payments");
    assert_eq!(other.action, Action::Skipped);
    assert!(matches!(other.would, Some(Action::Upgrade { .. })), "{other:#?}");
    assert!(other.reason.to_string().starts_with("not targeted"), "{}", other.reason);
    assert_eq!(wave_jobs(&plan), ["orders"]);
    assert_eq!(plan.options.control.target, ["orders"], "the saved plan records its targeting");
    // An in-sync job outside the target is skipped too, not reported as unchanged.
    let (o1, p1) = (job("orders"), job("payments"));
    let d = desired([o1.clone().with_parallelism(2), p1.clone()]);
    let live = vec![live_of(&o1, 1, JobState::Running), live_of(&p1, 1, JobState::Running)];
    let plan = plan_with(&d, live, &ledger([record_of(&o1), record_of(&p1)]), target(&["orders"]));
    assert_eq!(of(&plan, "payments").action, Action::Skipped);
    assert_eq!(of(&plan, "payments").would, Some(Action::None));
}

#[test]
fn target_pulls_in_an_upstream_job_that_must_be_started_first_and_only_that() {
    let d = desired([job("ingest"), job("enrich").after(&["ingest"]), job("other")]);
    let plan = plan_with(&d, vec![], &ledger([]), target(&["enrich"]));
    let ingest = of(&plan, "ingest");
    assert_eq!(ingest.action, Action::Deploy);
    assert_eq!(ingest.pulled_in, Some(model::PulledIn::ByTarget { target: "enrich".into() }), "{ingest:#?}");
    let words = ingest.pulled_in.as_ref().map(ToString::to_string);
    assert_eq!(
        words.as_deref(),
        Some("pulled in by --target enrich: `enrich` waits for it, and it is not running")
    );
    assert_eq!(of(&plan, "other").action, Action::Skipped);
    assert_eq!(wave_jobs(&plan), ["ingest", "enrich"]);
    // A running upstream with a change of its own is not pulled in: enrich only waits for it to run.
    let (i1, e1) = (job("ingest"), job("enrich").after(&["ingest"]));
    let d = desired([i1.clone().with_parallelism(3), e1.clone().with_parallelism(2)]);
    let live = vec![live_of(&i1, 1, JobState::Running), live_of(&e1, 1, JobState::Running)];
    let plan = plan_with(&d, live, &ledger([record_of(&i1), record_of(&e1)]), target(&["enrich"]));
    assert_eq!(of(&plan, "ingest").action, Action::Skipped);
    assert_eq!(wave_jobs(&plan), ["enrich"]);
}

#[test]
fn exclude_skips_a_job_and_blocks_what_needs_it_started_first() {
    let d = desired([job("ingest"), job("enrich").after(&["ingest"]), job("other")]);
    let control = Control { exclude: names(&["ingest"]), ..Control::default() };
    let plan = plan_with(&d, vec![], &ledger([]), control);
    assert_eq!(of(&plan, "ingest").action, Action::Skipped);
    assert!(of(&plan, "ingest").reason.to_string().starts_with("excluded"));
    let enrich = of(&plan, "enrich");
    assert_eq!(enrich.blocked_by, Some(model::Blocker::UpstreamExcluded { upstream: "ingest".into() }));
    assert!(enrich.blocked_by.as_ref().is_some_and(|b| b.to_string().contains("--exclude ingest")));
    assert_eq!(wave_jobs(&plan), ["other"]);
    // Target and exclude together: the excluded upstream is not pulled in, the target is blocked.
    let control = Control { target: names(&["enrich"]), exclude: names(&["ingest"]), ..Control::default() };
    let plan = plan_with(&d, vec![], &ledger([]), control);
    assert_eq!(of(&plan, "ingest").action, Action::Skipped);
    assert!(of(&plan, "enrich").blocked_by.is_some());
    assert!(plan.waves.is_empty());
}

#[test]
fn prune_with_target_stops_only_targeted_orphans() {
    let (a, b) = (job("old-a"), job("old-b"));
    let live = vec![live_of(&a, 1, JobState::Running), live_of(&b, 1, JobState::Running)];
    let plan = pruning(&desired([]), live, &ledger([record_of(&a), record_of(&b)]), target(&["old-a"]));
    assert_eq!(of(&plan, "old-a").action, Action::Stop);
    assert_eq!(of(&plan, "old-b").action, Action::Skipped);
    assert_eq!(of(&plan, "old-b").would, Some(Action::Stop));
    assert_eq!(wave_jobs(&plan), ["old-a"]);
}

#[test]
fn unknown_names_are_errors_with_did_you_mean() {
    let (d, live, l) = two_changed();
    let plan = plan_with(&d, live, &l, Control::default());
    let typo = Control { exclude: names(&["order"]), ..Control::default() };
    let err = typo.check_names(&plan).unwrap_err();
    assert_eq!(err.flag, "--exclude");
    assert_eq!(err.suggestion.as_deref(), Some("orders"));
    assert!(err.to_string().contains("did you mean `orders`"), "{err}");
    assert!(target(&["payments"]).check_names(&plan).is_ok());
    let far = Control { replace: names(&["zzz"]), ..Control::default() };
    assert_eq!(far.check_names(&plan).unwrap_err().suggestion, None);
}

#[test]
fn replace_upgrades_a_running_job_from_a_fresh_savepoint_without_a_spec_change() {
    let j = job("orders").mode(UpgradeMode::LastState);
    let d = desired([j.clone()]);
    let live = vec![live_of(&j, 1, JobState::Running)];
    let control = Control { replace: names(&["orders"]), ..Control::default() };
    let plan = plan_with(&d, live.clone(), &ledger([record_of(&j)]), control);
    let p = of(&plan, "orders");
    assert_eq!(
        p.action,
        Action::Upgrade { mode: UpgradeMode::Savepoint },
        "a fresh savepoint, not last-state"
    );
    assert!(p.replace);
    assert!(p.reason.to_string().starts_with("--replace"), "{}", p.reason);
    assert_eq!(p.restore, Some(Restore::NewSavepoint));
    assert_eq!(wave_jobs(&plan), ["orders"]);
    // Apply starts the same fingerprint under a new submission: the next plan sees it in sync.
    let replaced = vec![live_of(&j, 2, JobState::Running)];
    assert_ne!(replaced[0].id, live[0].id);
    let next = plan_with(&d, replaced, &ledger([record_of(&j)]), Control::default());
    assert_eq!(of(&next, "orders").action, Action::None);
}

#[test]
fn replace_is_refused_for_a_job_that_is_not_running_saying_what_to_do() {
    let j = job("orders");
    let control = Control { replace: names(&["orders"]), ..Control::default() };
    let plan = plan_with(
        &desired([j.clone()]),
        vec![live_of(&j, 1, JobState::Failed)],
        &ledger([record_of(&j)]),
        control.clone(),
    );
    assert_eq!(of(&plan, "orders").action, Action::Conflict);
    assert!(
        plan.problems[0].to_string().contains("not running")
            && plan.problems[0].to_string().contains("without --replace"),
        "{:?}",
        plan.problems
    );
    let suspended = j.clone().suspended();
    let plan = plan_with(&desired([suspended]), vec![], &ledger([record_of(&j)]), control);
    assert_eq!(of(&plan, "orders").action, Action::Conflict);
}

fn protected(name: &str) -> crate::spec::Job {
    let mut j = job(name);
    j.protect = true;
    j
}

#[test]
fn a_protected_orphan_is_not_pruned_unless_allowed() {
    let gone = protected("old-job");
    let live = vec![live_of(&gone, 1, JobState::Running)];
    let l = ledger([record_of(&gone)]);
    let plan = pruning(&desired([]), live.clone(), &l, Control::default());
    let p = of(&plan, "old-job");
    assert_eq!(p.action, Action::Conflict, "{p:#?}");
    assert!(plan.problems[0].to_string().contains("--allow-destroy old-job"), "{:?}", plan.problems);
    assert!(plan.waves.is_empty());
    let allowed = Control { allow_destroy: names(&["old-job"]), ..Control::default() };
    let plan = pruning(&desired([]), live.clone(), &l, allowed);
    assert_eq!(of(&plan, "old-job").action, Action::Stop);
    // Not protected in its last record: pruned as usual.
    let plain = job("old-job");
    let plan = pruning(&desired([]), live, &ledger([record_of(&plain)]), Control::default());
    assert_eq!(of(&plan, "old-job").action, Action::Stop);
}

#[test]
fn a_protected_job_is_never_upgraded_without_a_savepoint() {
    for mode in [UpgradeMode::Stateless, UpgradeMode::LastState, UpgradeMode::Savepoint] {
        let old = protected("orders").mode(mode);
        let new = old.clone().with_parallelism(2);
        let live = vec![live_of(&old, 1, JobState::Running)];
        let plan = plan_with(&desired([new]), live, &ledger([record_of(&old)]), Control::default());
        if mode == UpgradeMode::Savepoint {
            assert_eq!(of(&plan, "orders").action, Action::Upgrade { mode }, "with a savepoint it may");
        } else {
            assert_eq!(of(&plan, "orders").action, Action::Conflict, "{mode:?}");
            assert!(plan.problems[0].to_string().contains("protected"), "{:?}", plan.problems);
        }
    }
}

/// A blocked upgrade concerns the next version only: the running job is still the spec's own, so
/// watch's periodic savepoints (and `savepoint`, `gc`) keep acting on it.
#[test]
fn a_protected_jobs_blocked_upgrade_leaves_the_running_job_ours() {
    let old = protected("orders").mode(UpgradeMode::LastState);
    let live = live_of(&old, 1, JobState::Running);
    let id = live.id.clone();
    let plan = plan_with(
        &desired([old.clone().with_parallelism(2)]),
        vec![live],
        &ledger([record_of(&old)]),
        Control::default(),
    );
    let p = of(&plan, "orders");
    assert_eq!((p.action, p.conflict), (Action::Conflict, Some(ConflictScope::NextVersion)), "{p:#?}");
    assert!(!p.in_doubt());
    assert_eq!(crate::watch::schedule::due_job(Some(p)), Some(&id), "a periodic savepoint still takes it");
    // A blocked prune leaves the orphan running as it was: nothing about it is in doubt.
    let gone = protected("old-job");
    let plan = pruning(
        &desired([]),
        vec![live_of(&gone, 1, JobState::Running)],
        &ledger([record_of(&gone)]),
        Control::default(),
    );
    assert!(!of(&plan, "old-job").in_doubt(), "{:#?}", of(&plan, "old-job"));
    // A blocked start is about where the state is: nothing acts on the job's snapshots.
    let mut empty = protected("orders");
    empty.restore.from.value = RestoreFrom::None;
    let plan = plan_with(
        &desired([empty.clone()]),
        vec![live_of(&empty, 1, JobState::Failed)],
        &ledger([record_of(&empty)]),
        Control::default(),
    );
    assert!(of(&plan, "orders").in_doubt());
}

#[test]
fn a_protected_job_with_state_never_starts_empty_or_from_an_older_snapshot() {
    for from in [RestoreFrom::None, RestoreFrom::Path("file:///sp/savepoint-old".into())] {
        let mut j = protected("orders");
        j.restore.from.value = from.clone();
        let plan = plan_with(
            &desired([j.clone()]),
            vec![live_of(&j, 1, JobState::Failed)],
            &ledger([record_of(&j)]),
            Control::default(),
        );
        assert_eq!(of(&plan, "orders").action, Action::Conflict, "{from:?}");
        let allowed = Control { allow_destroy: names(&["orders"]), ..Control::default() };
        let plan = plan_with(
            &desired([j.clone()]),
            vec![live_of(&j, 1, JobState::Failed)],
            &ledger([record_of(&j)]),
            allowed,
        );
        assert_eq!(of(&plan, "orders").action, Action::Deploy, "{from:?}");
        // A first deployment has no state to lose: seeding it from a path is fine.
        let plan = plan_with(&desired([j]), vec![], &ledger([]), Control::default());
        assert_eq!(of(&plan, "orders").action, Action::Deploy, "{from:?}");
    }
}

#[test]
fn protect_is_a_settings_only_field() {
    let old = job("orders");
    let new = protected("orders");
    assert_eq!(old.fingerprint, new.fingerprint, "protect does not change what runs");
    let plan = plan_with(
        &desired([new]),
        vec![live_of(&old, 1, JobState::Running)],
        &ledger([record_of(&old)]),
        Control::default(),
    );
    let p = of(&plan, "orders");
    assert_eq!(p.action, Action::UpdateSettings);
    assert_eq!(p.changes[0].field, "protect");
}

#[test]
fn a_saved_plan_keeps_its_targeting() {
    let (d, live, l) = two_changed();
    let control = Control {
        target: names(&["orders"]),
        exclude: names(&["payments"]),
        replace: vec![],
        allow_destroy: names(&["orders"]),
    };
    let plan = plan_with(&d, live, &l, control.clone());
    let json = serde_json::to_string(&plan).unwrap();
    let back: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(back.options.control, control);
    assert_eq!(back, plan);
}

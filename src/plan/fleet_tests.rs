//! The fleet planner: dependencies across clusters, an unobserved cluster, scope across clusters.

use std::collections::BTreeMap;

use super::*;
use crate::flink::JobState;
use crate::plan::Control;
use crate::plan::fixtures::*;
use crate::spec::Job;

pub(crate) fn on(cluster: &str, job: Job) -> Job {
    Job { cluster: Some(cluster.into()), ..job }
}

pub(crate) fn observed(
    name: &str,
    live: Vec<crate::plan::LiveJob>,
    ledger: BTreeMap<String, Record>,
) -> ClusterInput {
    ClusterInput { name: name.into(), observation: Ok(observation(name, live, ledger)) }
}

/// A cluster that shows `live` and whose ledger is `ledger`; version and directories unknown.
pub(crate) fn observation(
    name: &str,
    live: Vec<crate::plan::LiveJob>,
    ledger: BTreeMap<String, Record>,
) -> ClusterObservation {
    ClusterObservation {
        identity: format!("{name}-0000"),
        observed: Observed { jobs: live, ..Default::default() },
        ledger,
        ..Default::default()
    }
}

/// A cluster that could not be observed, whose ledger the state directory knows (empty).
pub(crate) fn unobserved(name: &str) -> ClusterInput {
    unobserved_with(name, Some(ledger([])))
}

pub(crate) fn unobserved_with(name: &str, ledger: Option<BTreeMap<String, Record>>) -> ClusterInput {
    let u = Unobserved { error: "connection refused".into(), ledger };
    ClusterInput { name: name.into(), observation: Err(u) }
}

fn waves(p: &FleetPlan) -> Vec<Vec<String>> {
    p.waves.iter().map(|w| w.jobs.iter().map(|j| format!("{}/{}", j.cluster, j.job)).collect()).collect()
}

pub(crate) fn job_of<'p>(p: &'p FleetPlan, cluster: &str, name: &str) -> &'p JobPlan {
    let plan = p.plan_of(cluster).unwrap_or_else(|| panic!("{cluster} not planned: {p:#?}"));
    plan.jobs.iter().find(|j| j.name == name).unwrap_or_else(|| panic!("{name} not on {cluster}: {plan:#?}"))
}

/// `ingest` on eu feeds `enrich` on us, which feeds `report` on eu; `audit` on us stands alone.
fn pipeline() -> crate::spec::Desired {
    desired([
        on("eu", job("ingest")),
        on("us", job("enrich").after(&["ingest"])),
        on("eu", job("report").after(&["enrich"])),
        on("us", job("audit")),
    ])
}

#[test]
fn a_job_held_after_planning_leaves_the_fleets_waves_and_the_others_stay() {
    let d = pipeline();
    let inputs = [observed("eu", vec![], ledger([])), observed("us", vec![], ledger([]))];
    let mut p = plan(&d, &inputs, &Options::default());
    let held = BTreeMap::from([(
        "us".to_string(),
        BTreeMap::from([("audit".to_string(), "backing off".to_string())]),
    )]);
    p.hold(&d, &held);
    assert_eq!(waves(&p), [vec!["eu/ingest"], vec!["us/enrich"], vec!["eu/report"]]);
    assert!(job_of(&p, "us", "audit").blocked_by.is_some());
    assert!(job_of(&p, "us", "enrich").blocked_by.is_none());
}

#[test]
fn waves_follow_dependencies_across_clusters() {
    let d = pipeline();
    let p = plan(
        &d,
        &[observed("eu", vec![], ledger([])), observed("us", vec![], ledger([]))],
        &Options::default(),
    );
    assert_eq!(waves(&p), [vec!["eu/ingest", "us/audit"], vec!["us/enrich"], vec!["eu/report"]]);
    // Each cluster's own waves are its share of the fleet's, in the same order.
    let eu: Vec<Vec<String>> = p.plan_of("eu").unwrap().waves.iter().map(|w| w.jobs.clone()).collect();
    assert_eq!(eu, [vec!["ingest".to_string()], vec!["report".to_string()]]);
    assert_eq!(p.plan_of("us").unwrap().jobs.len(), 2);
    assert!(!p.has_unobserved());
}

#[test]
fn an_unobserved_cluster_fails_its_jobs_blocks_what_waits_for_them_and_the_rest_is_planned() {
    let d = pipeline();
    let p = plan(&d, &[unobserved("eu"), observed("us", vec![], ledger([]))], &Options::default());
    assert!(p.has_unobserved());
    let eu = p.clusters.iter().find(|c| c.name == "eu").unwrap();
    assert_eq!(
        eu.outcome,
        Outcome::Unobserved {
            error: "connection refused".into(),
            jobs: vec!["ingest".into(), "report".into()]
        }
    );
    assert_eq!(eu.identity, None);
    let enrich = job_of(&p, "us", "enrich");
    assert_eq!(enrich.action, Action::Deploy);
    assert!(
        enrich.blocked_by.as_ref().map(|b| b.to_string()).as_deref().is_some_and(|b| b.contains("`ingest`")),
        "{enrich:#?}"
    );
    assert_eq!(job_of(&p, "us", "audit").blocked_by, None);
    assert_eq!(waves(&p), [vec!["us/audit"]]);
}

#[test]
fn a_conflict_on_one_cluster_blocks_its_consumer_on_another() {
    let d = pipeline();
    let ingest = &d.jobs["ingest"];
    // Two live jobs for one spec: the planner cannot tell which is the spec's.
    let live = vec![live_of(ingest, 1, JobState::Running), live_of(ingest, 2, JobState::Running)];
    let p = plan(
        &d,
        &[observed("eu", live, ledger([])), observed("us", vec![], ledger([]))],
        &Options::default(),
    );
    assert_eq!(job_of(&p, "eu", "ingest").action, Action::Conflict);
    assert!(job_of(&p, "us", "enrich").blocked_by.is_some());
    // And what waits for the blocked consumer is not started before it either.
    assert!(!waves(&p).concat().contains(&"eu/report".to_string()), "{:?}", waves(&p));
}

#[test]
fn a_target_pulls_in_its_upstream_on_another_cluster() {
    let d = pipeline();
    let opts = Options {
        control: Control { target: vec!["enrich".into()], ..Control::default() },
        ..Options::default()
    };
    let p = plan(&d, &[observed("eu", vec![], ledger([])), observed("us", vec![], ledger([]))], &opts);
    assert!(job_of(&p, "eu", "ingest").pulled_in.is_some());
    assert_eq!(job_of(&p, "eu", "report").action, Action::Skipped);
    assert_eq!(job_of(&p, "us", "audit").action, Action::Skipped);
    assert_eq!(waves(&p), [vec!["eu/ingest"], vec!["us/enrich"]]);
}

#[test]
fn one_cluster_plans_as_the_planner_does() {
    let d = desired([job("ingest"), job("enrich").after(&["ingest"])]);
    let single = crate::plan::plan(&d, &Observed::default(), &ledger([]), &Options::default());
    let p = plan(&d, &[observed(DEFAULT_CLUSTER, vec![], ledger([]))], &Options::default());
    assert_eq!(p.plan_of(DEFAULT_CLUSTER), Some(&single));
}

#[test]
fn a_namesake_without_spec_on_another_cluster_does_not_hide_a_conflict_from_its_consumers() {
    let d = desired([on("us", job("orders")), on("ap", job("report").after(&["orders"]))]);
    let orders = &d.jobs["orders"];
    // Two live jobs for `orders` on us: a conflict. Its ledger name runs, without spec, on zz
    // (listed after us: the last entry of a name must still be the spec's).
    let us = vec![live_of(orders, 1, JobState::Running), live_of(orders, 2, JobState::Running)];
    let zz = observed("zz", vec![live_of(orders, 3, JobState::Running)], ledger([record_of(orders)]));
    let ap = observed("ap", vec![], ledger([]));
    let p = plan(&d, &[ap, observed("us", us, ledger([])), zz], &Options::default());
    assert_eq!(job_of(&p, "zz", "orders").action, Action::Orphan);
    assert_eq!(job_of(&p, "us", "orders").action, Action::Conflict);
    assert!(job_of(&p, "ap", "report").blocked_by.is_some(), "{:#?}", job_of(&p, "ap", "report"));
}

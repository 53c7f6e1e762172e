//! `plan --refresh-only`: what changed on the cluster outside flinkops, read off a plan made
//! without options, with no action planned. Pure: the command gathers the restart counts.
//!
//! Drift is a difference between the cluster and what flinkops last did, never a spec change:
//! a job whose spec was edited since the last apply is not drift (the ordinary plan shows it).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::model::{Action, ClusterRef, LiveRef, Plan};
use crate::flink::{JobId, JobState};
use crate::ledger::Record;

/// The drift report (`plan --refresh-only -o json`), versioned like the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftReport {
    pub format_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterRef>,
    /// One entry per drifted job, by name.
    pub drift: Vec<Drift>,
}

/// One job that changed outside flinkops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// The spec name (or, for a job without one, as the plan names it).
    pub name: String,
    pub kind: DriftKind,
    /// What was seen, in words.
    pub detail: String,
    /// The live (or last) job it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
}

/// What kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DriftKind {
    /// A managed job failed.
    Failed,
    /// A managed job was cancelled outside flinkops.
    Cancelled,
    /// A managed job finished although its spec says running.
    Finished,
    /// A managed job is gone even from the cluster's job history.
    Gone,
    /// A managed job is restarting, or not all its tasks run.
    Degraded,
    /// A managed job restarted (Flink's `numRestarts`) since it was started.
    Restarted,
    /// The live job runs another version than flinkops last applied, and the spec is unchanged:
    /// someone resubmitted it.
    Replaced,
    /// A live job flinkops did not start.
    Unmanaged,
    /// A managed job whose spec is gone, still running.
    Orphan,
    /// A job of this spec that apply cannot act on (two live jobs, another state directory's job).
    Conflict,
}

/// The drift in `plan` (made without `--prune`/`--adopt`/targeting), `restarts` by live job id.
pub fn report(
    plan: &Plan,
    ledger: &BTreeMap<String, Record>,
    restarts: &BTreeMap<JobId, u64>,
) -> DriftReport {
    let mut drift = Vec::new();
    for j in &plan.jobs {
        let id = j.live.as_ref().map(|l| l.id.clone());
        let mut push = |kind, detail: String| {
            drift.push(Drift { name: j.name.clone(), kind, detail, job_id: id.clone() })
        };
        match j.action {
            Action::Orphan => push(DriftKind::Orphan, j.reason.clone()),
            Action::Conflict if j.live.is_some() => push(DriftKind::Conflict, j.reason.clone()),
            Action::Upgrade { .. } if replaced(j.fingerprint.as_deref(), ledger.get(&j.name)) => push(
                DriftKind::Replaced,
                "runs another version than flinkops last applied, and the spec is unchanged".into(),
            ),
            _ => {}
        }
        if let Some(what) = &j.drift {
            push(kind_of(j.live.as_ref()), what.to_string());
        }
        if let Some(n) = id.as_ref().and_then(|id| restarts.get(id)).filter(|n| **n > 0) {
            push(
                DriftKind::Restarted,
                format!("Flink restarted it {n} time(s) since it was started (numRestarts)"),
            );
        }
    }
    for u in &plan.unmanaged {
        drift.push(Drift {
            name: u.name.clone(),
            kind: DriftKind::Unmanaged,
            detail: format!("not started by flinkops ({})", u.state),
            job_id: Some(u.id.clone()),
        });
    }
    drift.sort_by(|a, b| (&a.name, a.kind).cmp(&(&b.name, b.kind)));
    DriftReport { format_version: super::model::FORMAT_VERSION, cluster: plan.cluster.clone(), drift }
}

fn kind_of(live: Option<&LiveRef>) -> DriftKind {
    match live.map(|l| l.state) {
        None => DriftKind::Gone,
        Some(JobState::Failed) => DriftKind::Failed,
        Some(JobState::Canceled) => DriftKind::Cancelled,
        Some(JobState::Finished) => DriftKind::Finished,
        Some(_) => DriftKind::Degraded,
    }
}

/// The spec is what flinkops last applied, yet the live job runs another version.
fn replaced(fingerprint: Option<&str>, record: Option<&Record>) -> bool {
    let applied = record.and_then(|r| r.applied.as_ref()).map(|a| a.fingerprint.0.as_str());
    fingerprint.is_some() && applied == fingerprint
}

/// The managed active live jobs whose restart count is worth asking Flink for.
pub fn restart_candidates(plan: &Plan) -> Vec<JobId> {
    plan.jobs
        .iter()
        .filter(|j| !matches!(j.action, Action::Conflict))
        .filter_map(|j| j.live.as_ref())
        .filter(|l| !l.state.is_terminal() && super::identity::parse(&l.id).is_some())
        .map(|l| l.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::{Observed, Options, plan};
    use super::*;

    #[test]
    fn drift_is_what_changed_on_the_cluster_not_in_the_specs() {
        let (a, b, c, gone) = (job("a"), job("b"), job("c"), job("gone"));
        let edited = job("edited");
        let d = desired([a.clone(), b.clone(), c.clone(), edited.clone().with_parallelism(2)]);
        // `c` runs a version flinkops did not apply: its record says v(c), the live id another.
        let other_c = c.clone().with_parallelism(7);
        let live = vec![
            live_of(&a, 1, JobState::Running),
            live_of(&b, 1, JobState::Canceled),
            live_of(&other_c, 1, JobState::Running),
            live_of(&edited, 1, JobState::Running),
            live_of(&gone, 1, JobState::Running),
            unmanaged("by-hand", 9, JobState::Running),
        ];
        let l = ledger([record_of(&a), record_of(&b), record_of(&c), record_of(&edited), record_of(&gone)]);
        let p = plan(&d, &Observed { jobs: live.clone(), ..Default::default() }, &l, &Options::default());
        let restarts = BTreeMap::from([(live[0].id.clone(), 3)]);
        let r = report(&p, &l, &restarts);
        let kinds: Vec<(&str, DriftKind)> = r.drift.iter().map(|d| (d.name.as_str(), d.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("a", DriftKind::Restarted),
                ("b", DriftKind::Cancelled),
                ("by-hand", DriftKind::Unmanaged),
                ("c", DriftKind::Replaced),
                ("gone", DriftKind::Orphan),
            ],
            "an edited spec is not drift: {r:#?}"
        );
        let quiet = plan(
            &desired([a.clone()]),
            &Observed { jobs: vec![live[0].clone()], ..Default::default() },
            &ledger([record_of(&a)]),
            &Options::default(),
        );
        assert!(report(&quiet, &ledger([record_of(&a)]), &BTreeMap::new()).drift.is_empty());
        assert_eq!(restart_candidates(&quiet), [live[0].id.clone()]);
    }
}

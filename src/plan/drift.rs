//! `plan --refresh-only`: what changed on the cluster outside flinkops, read off a plan made
//! without options, with no action planned. Pure: the command gathers the restart counts.
//!
//! Drift is a difference between the cluster and what flinkops last did, never a spec change:
//! a job whose spec was edited since the last apply is not drift (the ordinary plan shows it).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::facts::{JobDrift, as_words};
use super::model::{Action, ClusterRef, LiveRef, Plan};
use super::reasons::Reason;
use crate::flink::{JobId, JobState};
use crate::ledger::{Record, Shape, VertexParallelism};

/// The drift report (`plan --refresh-only -o json`), versioned like the plan.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftReport {
    pub format_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterRef>,
    /// One entry per drifted job, by name.
    pub drift: Vec<Drift>,
}

/// The drift report over several clusters (`plan --refresh-only -o json` with several cluster
/// documents, `formatVersion: 2`): each cluster's drift, or why it could not be observed.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetDrift {
    pub format_version: u32,
    /// One entry per cluster, by name.
    pub clusters: Vec<ClusterDrift>,
}

/// One cluster's part of a [`FleetDrift`].
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterDrift {
    /// The cluster document's name.
    pub name: String,
    /// The REST URL and the Flink version, when it was observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterRef>,
    /// Its drifted jobs, by name (empty when it could not be observed).
    pub drift: Vec<Drift>,
    /// Why it could not be observed, with the fix: nothing is known of its drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ClusterDrift {
    /// A cluster observed, with its report.
    pub fn observed(name: &str, report: DriftReport) -> Self {
        Self { name: name.to_owned(), cluster: report.cluster, drift: report.drift, error: None }
    }

    /// A cluster that could not be observed.
    pub fn unobserved(name: &str, error: &str) -> Self {
        Self { name: name.to_owned(), cluster: None, drift: Vec::new(), error: Some(error.to_owned()) }
    }
}

impl FleetDrift {
    pub fn drift_count(&self) -> usize {
        self.clusters.iter().map(|c| c.drift.len()).sum()
    }

    pub fn has_unobserved(&self) -> bool {
        self.clusters.iter().any(|c| c.error.is_some())
    }
}

/// One job that changed outside flinkops.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// The spec name (or, for a job without one, as the plan names it).
    pub name: String,
    pub kind: DriftKind,
    /// What was seen (in the JSON: in words).
    pub detail: DriftDetail,
    /// The live (or last) job it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
}

/// What was seen of a drifted job, as facts; `render::drift` writes the words (`Display`), and
/// the JSON report carries them. A drift report is never read back.
#[derive(Debug, Clone, PartialEq)]
pub enum DriftDetail {
    /// The plan's reason for an orphan or a conflict.
    Planned(Reason),
    /// The live job runs another version than flinkops last applied; the spec is unchanged.
    Replaced,
    /// The job's state or tasks, as the plan saw them.
    Seen(JobDrift),
    /// Flink's `numRestarts` since the job was started.
    Restarted { restarts: u64 },
    /// The vertices whose parallelism differs from the shape recorded at the health gate (never
    /// empty), by Flink's vertex order.
    Rescaled { vertices: Vec<Rescale> },
    /// A live job flinkops did not start, in this state.
    Unmanaged { state: JobState },
}

as_words!(write DriftDetail);

/// One vertex's parallelism then (at the health gate) and now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rescale {
    pub vertex: String,
    pub was: u32,
    pub now: u32,
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
    /// A vertex of a managed job runs with another parallelism than when flinkops' health gate
    /// passed for the same version: someone rescaled it.
    Rescaled,
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

/// What `plan --refresh-only` reads from Flink on top of the plan, by live job id.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Flink's `numRestarts`.
    pub restarts: BTreeMap<JobId, u64>,
    /// Each vertex's parallelism now (`GET /jobs/:id`), for the jobs [`shape_candidates`] names.
    pub vertices: BTreeMap<JobId, Vec<VertexParallelism>>,
}

/// The drift in `plan` (made without `--prune`/`--adopt`/targeting).
pub fn report(plan: &Plan, ledger: &BTreeMap<String, Record>, seen: &Seen) -> DriftReport {
    let restarts = &seen.restarts;
    let mut drift = Vec::new();
    for j in &plan.jobs {
        let id = j.live.as_ref().map(|l| l.id.clone());
        let mut push = |kind, detail: DriftDetail| {
            drift.push(Drift { name: j.name.clone(), kind, detail, job_id: id.clone() })
        };
        match j.action {
            Action::Orphan => push(DriftKind::Orphan, DriftDetail::Planned(j.reason.clone())),
            Action::Conflict if j.live.is_some() => {
                push(DriftKind::Conflict, DriftDetail::Planned(j.reason.clone()))
            }
            Action::Upgrade { .. } if replaced(j.fingerprint.as_deref(), ledger.get(&j.name)) => {
                push(DriftKind::Replaced, DriftDetail::Replaced)
            }
            _ => {}
        }
        if let Some(what) = &j.drift {
            push(kind_of(j.live.as_ref()), DriftDetail::Seen(what.clone()));
        }
        if let Some(n) = id.as_ref().and_then(|id| restarts.get(id)).filter(|n| **n > 0) {
            push(DriftKind::Restarted, DriftDetail::Restarted { restarts: *n });
        }
        let recorded = ledger.get(&j.name).and_then(|r| r.healthy_shape.as_ref());
        if let (Some(id), Some(recorded)) = (&id, recorded)
            && same_version(&recorded.job_id, id)
            && let Some(what) = seen.vertices.get(id).and_then(|now| rescaled(recorded, now))
        {
            push(DriftKind::Rescaled, DriftDetail::Rescaled { vertices: what });
        }
    }
    for u in &plan.unmanaged {
        drift.push(Drift {
            name: u.name.clone(),
            kind: DriftKind::Unmanaged,
            detail: DriftDetail::Unmanaged { state: u.state },
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

/// The vertices whose parallelism differs between the recorded shape and now; `None` when none
/// does. A vertex is matched by Flink's id, which stays the same for the same job graph; one
/// that appears or disappears means another program, not a rescale.
pub fn rescaled(recorded: &Shape, now: &[VertexParallelism]) -> Option<Vec<Rescale>> {
    let moved: Vec<Rescale> = now
        .iter()
        .filter_map(|v| {
            let was = recorded.vertices.iter().find(|r| r.id == v.id)?;
            (was.parallelism != v.parallelism).then(|| Rescale {
                vertex: v.name.clone(),
                was: was.parallelism,
                now: v.parallelism,
            })
        })
        .collect();
    (!moved.is_empty()).then_some(moved)
}

/// The live jobs whose vertices are worth reading, with the shape recorded for them: the live
/// job flinkops health-gated, or a job of the same version that someone resubmitted (same
/// name and fingerprint tags, another submission): same program, so a parallelism change is a
/// rescale. A live job of another version (a change flinkops has not applied) is not compared.
pub fn shape_candidates(plan: &Plan, ledger: &BTreeMap<String, Record>) -> Vec<JobId> {
    plan.jobs
        .iter()
        .filter_map(|j| {
            let live = j.live.as_ref().filter(|l| !l.state.is_terminal())?;
            let shape = ledger.get(&j.name)?.healthy_shape.as_ref()?;
            same_version(&shape.job_id, &live.id).then(|| live.id.clone())
        })
        .collect()
}

/// Whether two job ids are the same job, or flinkops ids of the same spec version.
fn same_version(a: &JobId, b: &JobId) -> bool {
    use super::identity::parse;
    a == b
        || parse(a)
            .zip(parse(b))
            .is_some_and(|(a, b)| a.name_tag == b.name_tag && a.fingerprint_tag == b.fingerprint_tag)
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
        let r = report(&p, &l, &Seen { restarts, ..Seen::default() });
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
        assert!(report(&quiet, &ledger([record_of(&a)]), &Seen::default()).drift.is_empty());
        assert_eq!(restart_candidates(&quiet), [live[0].id.clone()]);
    }

    fn vertex(id: &str, parallelism: u32) -> VertexParallelism {
        VertexParallelism { id: id.into(), name: format!("op-{id}"), parallelism }
    }

    /// The shape recorded at the health gate against the running job's now: a changed vertex is
    /// drift; a record from before shapes were kept, or a live job of another version, is not.
    #[test]
    fn a_rescale_outside_flinkops_is_drift_against_the_shape_recorded_at_the_health_gate() {
        let a = job("a");
        let live = live_of(&a, 1, JobState::Running);
        let mut record = record_of(&a);
        record.healthy_shape =
            Some(Shape { job_id: live.id.clone(), vertices: vec![vertex("src", 1), vertex("sink", 1)] });
        let l = ledger([record.clone()]);
        let p = plan(
            &desired([a.clone()]),
            &Observed { jobs: vec![live.clone()], ..Default::default() },
            &l,
            &Options::default(),
        );
        assert_eq!(shape_candidates(&p, &l), std::slice::from_ref(&live.id));
        let now = |src, sink| Seen {
            vertices: BTreeMap::from([(live.id.clone(), vec![vertex("src", src), vertex("sink", sink)])]),
            ..Seen::default()
        };
        let r = report(&p, &l, &now(2, 1));
        assert_eq!(r.drift.iter().map(|d| d.kind).collect::<Vec<_>>(), [DriftKind::Rescaled]);
        let rescale = Rescale { vertex: "op-src".into(), was: 1, now: 2 };
        assert_eq!(r.drift[0].detail, DriftDetail::Rescaled { vertices: vec![rescale] }, "{r:#?}");
        assert!(report(&p, &l, &now(1, 1)).drift.is_empty(), "the same shape is no drift");
        // A record written before shapes were kept: nothing to compare with.
        let old = ledger([record_of(&a)]);
        assert!(shape_candidates(&p, &old).is_empty());
        assert!(report(&p, &old, &now(2, 1)).drift.is_empty());
        // A shape recorded for another version (here: the job id of another fingerprint).
        record.healthy_shape.as_mut().unwrap().job_id =
            live_of(&a.clone().with_parallelism(3), 1, JobState::Running).id;
        let other = ledger([record]);
        assert!(shape_candidates(&p, &other).is_empty());
        assert!(report(&p, &other, &now(2, 1)).drift.is_empty());
    }
}

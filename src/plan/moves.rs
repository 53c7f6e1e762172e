//! Moving a job between clusters, the pure part: a spec whose `cluster:` changed is not running
//! on its new cluster, and its job runs on another cluster of the fleet (or that cluster's
//! ledger has its record). Planning each cluster alone would deploy it empty on the new one and
//! call the old one's job an orphan; the fleet turns the pair into one `move` instead: stop it
//! with a savepoint on the old cluster, start it on the new one from that savepoint.
//!
//! A move is refused (a conflict, the job left where it is) when the new cluster could not read
//! what the old one writes, or could not be trusted to restore it:
//! - the savepoint directories differ: the old cluster writes to its own (unless the job names
//!   one), the new one reads from there; flinkops only checks that both are the same URI scheme,
//!   authority and path (it cannot check that the two clusters reach the same storage);
//! - the Flink major.minor versions differ: a savepoint is only guaranteed to restore on the same
//!   or a newer Flink version, so a move to an older version may fail, and a move to a newer one
//!   could not be rolled back to the old cluster (a newer version's savepoint does not restore
//!   on an older one). Upgrade the clusters to one version first, then move.
//!
//! - the job is also renamed in the same commit (its own name is found on no other cluster, a
//!   `previousNames` entry is): not combined into one move (the executor would have to stop,
//!   record and roll back under the old name on the old cluster and start under the new one;
//!   docs/fleet.md says what that takes); the fix is to rename first, then move. Planned apart,
//!   the new cluster would start the new name empty beside the old name's job.
//!
//! `protect: true` blocks a move unless `--allow-destroy` names the job (`control::protect`).

use std::collections::BTreeMap;

use super::facts::Blocker;
use super::fleet::{ClusterInput, ClusterObservation, ClusterPlan, Outcome, Unobserved};
use super::identity;
use super::model::{Action, ConflictScope, JobPlan, Restore};
use super::observed::LiveJob;
use super::planner::{Options, SAVEPOINT_DIR_KEYS};
use super::reasons::{MoveRefusal, Problem, Reason};
use crate::ledger::{Moving, Record};
use crate::spec::model::{JobState as SpecState, UpgradeMode};
use crate::spec::{Desired, Job};

/// What one job's move changes: its entry on the new cluster, and the old cluster's entry for
/// the same live job (an orphan there) to drop.
struct Decision {
    to: String,
    entry: JobPlan,
    problems: Vec<Problem>,
    /// The old clusters, and the live jobs whose orphan entries go: they are this spec's, and
    /// `--prune` must not stop them.
    drop: Vec<(String, crate::flink::JobId)>,
}

/// Where a job's state is on another cluster.
struct Found<'a> {
    cluster: &'a str,
    observation: &'a ClusterObservation,
    live: Option<&'a LiveJob>,
    record: Option<&'a Record>,
}

/// Turn each job whose cluster changed into a `move` (or a refusal); drop the orphan entries
/// they replace. A first deployment while a cluster could not be observed is blocked: the job
/// may run there, and starting it empty here would run it twice, once without its state.
pub(super) fn plan(clusters: &mut [ClusterPlan], desired: &Desired, inputs: &[ClusterInput], opts: &Options) {
    let observed: BTreeMap<&str, &ClusterObservation> =
        inputs.iter().filter_map(|c| c.observation.as_ref().ok().map(|o| (c.name.as_str(), o))).collect();
    let unobserved: Vec<(&str, &Unobserved)> =
        inputs.iter().filter_map(|c| c.observation.as_ref().err().map(|u| (c.name.as_str(), u))).collect();
    let mut decisions = Vec::new();
    for c in clusters.iter() {
        let (Outcome::Planned { plan }, Some(here)) = (&c.outcome, observed.get(c.name.as_str())) else {
            continue;
        };
        for p in &plan.jobs {
            let Some(job) = desired.jobs.get(&p.name) else { continue };
            if let Some(d) = decide(p, job, (&c.name, here), &observed, &unobserved, desired, opts) {
                decisions.push(d);
            }
        }
    }
    for d in decisions {
        for (from, id) in &d.drop {
            if let Some(Outcome::Planned { plan }) =
                clusters.iter_mut().find(|c| &c.name == from).map(|c| &mut c.outcome)
            {
                plan.jobs.retain(|j| j.live.as_ref().is_none_or(|l| &l.id != id));
            }
        }
        if let Some(Outcome::Planned { plan }) =
            clusters.iter_mut().find(|c| c.name == d.to).map(|c| &mut c.outcome)
        {
            plan.problems.extend(d.problems);
            if let Some(slot) = plan.jobs.iter_mut().find(|j| j.name == d.entry.name) {
                *slot = d.entry;
            }
        }
    }
}

fn decide(
    p: &JobPlan,
    job: &Job,
    (to, here): (&str, &ClusterObservation),
    observed: &BTreeMap<&str, &ClusterObservation>,
    unobserved: &[(&str, &Unobserved)],
    desired: &Desired,
    opts: &Options,
) -> Option<Decision> {
    let suspended = job.state == SpecState::Suspended && p.action == Action::None && p.live.is_none();
    if p.action != Action::Deploy && !suspended {
        return None;
    }
    // The new cluster knows the job already (its ledger, an ended job there): a record left on
    // another cluster is older than that, and never a reason to start from its savepoint.
    // A move in flight (a run killed after writing it) is the exception: its old cluster's
    // record is the job's history until the move completes.
    let in_flight = here.ledger.get(&job.name).and_then(|r| r.moving.as_ref());
    let known_here = (here.ledger.contains_key(&job.name) && in_flight.is_none()) || p.live.is_some();
    let own = found_elsewhere(&job.name, to, observed, known_here);
    let (renamed, found) = match renamed_elsewhere(job, to, observed, known_here) {
        Some((old, found)) if own.is_empty() => (Some(old), found),
        _ => (None, own),
    };
    let drop: Vec<_> =
        found.iter().filter_map(|f| f.live.map(|l| (f.cluster.to_string(), l.id.clone()))).collect();
    let decision = |entry: JobPlan, problems: Vec<Problem>| Decision {
        to: to.into(),
        entry,
        problems,
        drop: drop.clone(),
    };
    if let Some(old) = renamed {
        // Not combined (see the module header): refused, the old name's job left where it runs.
        let names: Vec<&str> = found.iter().map(|f| f.cluster).collect();
        let why = MoveRefusal::Renamed { old: old.to_string() };
        let (entry, problem) = refuse(p, to, &names.join(", "), why);
        return Some(decision(entry, vec![problem]));
    }
    let [f] = found.as_slice() else {
        if found.is_empty() {
            return first_deployment_while_unobserved(p, job, unobserved).map(|e| decision(e, vec![]));
        }
        let clusters: Vec<String> = found.iter().map(|f| f.cluster.to_string()).collect();
        let from = clusters.join(", ");
        let (entry, problem) = refuse(p, to, &from, MoveRefusal::KnownOnMany { clusters });
        return Some(decision(entry, vec![problem]));
    };
    let mut entry = moved(p, job, f, in_flight.filter(|m| m.from_cluster == f.cluster));
    let mut problems = Vec::new();
    if let Some(why) = refusal(job, to, here, f, desired, suspended, entry.restore.is_none()) {
        let (e, problem) = refuse(&entry, to, f.cluster, why);
        return Some(decision(e, vec![problem]));
    }
    super::control::protect(
        std::slice::from_mut(&mut entry),
        desired,
        &here.ledger,
        &opts.control,
        &mut problems,
    );
    Some(decision(entry, problems))
}

/// Every other observed cluster where the job named `job_name` runs, or (when this cluster does not
/// know the job) whose ledger has its record.
fn found_elsewhere<'a>(
    job_name: &str,
    to: &str,
    observed: &BTreeMap<&'a str, &'a ClusterObservation>,
    known_here: bool,
) -> Vec<Found<'a>> {
    let tag = identity::name_tag(job_name);
    let runs = |l: &&LiveJob| l.is_active() && identity::parse(&l.id).is_some_and(|m| m.name_tag == tag);
    observed
        .iter()
        .filter(|(name, _)| **name != to)
        .filter_map(|(name, o)| {
            let live = o.observed.jobs.iter().find(runs);
            let record = o.ledger.get(job_name);
            (live.is_some() || (record.is_some() && !known_here)).then_some(Found {
                cluster: name,
                observation: o,
                live,
                record,
            })
        })
        .collect()
}

/// A previous name of `job` (`previousNames`) found on other clusters, when the job's own name is
/// found on none: a rename and a move in one commit. Planned apart, the new cluster would start
/// the new name empty beside the old name's job.
fn renamed_elsewhere<'a>(
    job: &'a Job,
    to: &str,
    observed: &BTreeMap<&'a str, &'a ClusterObservation>,
    known_here: bool,
) -> Option<(&'a str, Vec<Found<'a>>)> {
    job.previous_names.iter().rev().find_map(|old| {
        let found = found_elsewhere(old, to, observed, known_here);
        (!found.is_empty()).then_some((old.as_str(), found))
    })
}

/// The new cluster's entry as a move from `f` (`restore` is `None` when there is nothing to
/// start from: no live job and no savepoint in the old cluster's ledger).
fn moved(p: &JobPlan, job: &Job, f: &Found, in_flight: Option<&Moving>) -> JobPlan {
    let mut m = p.clone();
    m.action = Action::Move;
    m.moved_from = Some(f.cluster.to_string());
    m.live = f.live.map(LiveJob::to_ref);
    let stateless = job.upgrade_mode == UpgradeMode::Stateless;
    m.restore = match (f.live, in_flight, f.record.and_then(Record::newest_savepoint)) {
        _ if stateless => Some(Restore::Empty { why: "upgradeMode: stateless".into() }),
        (Some(_), _, _) => Some(Restore::NewSavepoint),
        // The stop of a killed run may have completed after its ledger was last written: apply
        // looks up the newest state the stopped job left (its trigger id, Flink, the ledger).
        (None, Some(moving), _) => Some(Restore::LatestOf { job_id: moving.job_id.clone() }),
        (None, None, Some(sp)) => Some(Restore::Path { path: sp.path.clone(), source: "ledger".into() }),
        (None, None, None) => None,
    };
    let from = f.cluster.to_string();
    m.reason = match (f.live, in_flight) {
        (Some(_), _) => Reason::Move { from },
        (None, Some(moving)) => Reason::MoveInterrupted { from, job_id: moving.job_id.clone() },
        (None, None) => Reason::MoveFromLedger { from },
    };
    m
}

/// Why the move cannot be planned; `None` when it can.
fn refusal(
    job: &Job,
    to: &str,
    here: &ClusterObservation,
    f: &Found,
    desired: &Desired,
    suspended: bool,
    nothing_to_start_from: bool,
) -> Option<MoveRefusal> {
    if suspended {
        return Some(MoveRefusal::Suspended);
    }
    if nothing_to_start_from {
        return Some(MoveRefusal::NothingToStartFrom);
    }
    let version = |o: &ClusterObservation| o.cluster.as_ref().map(|c| c.flink_version.clone());
    let (old, new) = (version(f.observation), version(here));
    if old.as_deref().and_then(major_minor).is_none()
        || old.as_deref().and_then(major_minor) != new.as_deref().and_then(major_minor)
    {
        return Some(MoveRefusal::Versions { old, new });
    }
    if job.upgrade_mode == UpgradeMode::Stateless {
        return None;
    }
    let own = own_savepoint_dir(job, to, desired);
    let (writes, reads) =
        (own.clone().or(f.observation.savepoint_dir.clone()), own.or(here.savepoint_dir.clone()));
    match (&writes, &reads) {
        (Some(w), Some(r)) if same_place(w, r) => None,
        _ => Some(MoveRefusal::SavepointDirs { writes, reads }),
    }
}

/// The savepoint directory the job names itself (its spec or its `flinkConfiguration`), not
/// the one its new cluster's defaults gave it.
fn own_savepoint_dir(job: &Job, to: &str, desired: &Desired) -> Option<String> {
    if let Some(v) = SAVEPOINT_DIR_KEYS.iter().find_map(|k| job.flink_configuration.get(*k)) {
        return Some(v.value.clone());
    }
    let dir = job.savepoint.directory.as_ref()?;
    // Equal to the new cluster's default: taken as the default (a spec that writes the same
    // value is then checked against the old cluster's directory, the stricter reading).
    let default = desired.clusters.get(to).and_then(|c| c.savepoint_directory.as_ref());
    (default != Some(&dir.value)).then(|| dir.value.clone())
}

/// `2.3.0` → (2, 3).
fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim().split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.split('-').next()?.parse().ok()?))
}

/// Whether two directories are the same URI scheme, authority and path: `/sp`, `file:/sp` and
/// `file:///sp/` are one place; `s3://a/sp` and `s3a://a/sp` are not (flinkops cannot tell).
pub fn same_place(a: &str, b: &str) -> bool {
    normalise(a) == normalise(b)
}

fn normalise(uri: &str) -> (String, String, String) {
    let uri = uri.trim();
    let (scheme, rest) = match uri.split_once(':') {
        Some((s, rest)) if !s.is_empty() && !s.contains('/') => (s.to_ascii_lowercase(), rest),
        _ => ("file".to_string(), uri),
    };
    let (authority, path) = match rest.strip_prefix("//") {
        Some(r) => r.split_once('/').map_or((r, ""), |(a, p)| (a, p)),
        None => ("", rest),
    };
    let authority = if scheme == "file" && authority == "localhost" { "" } else { authority };
    let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    (scheme, authority.to_string(), path.join("/"))
}

/// A first deployment while a cluster that may run the job could not be observed: its ledger
/// has the job, or is unknown. Blocked: a move whose old side cannot be seen would otherwise
/// start the job a second time, empty.
fn first_deployment_while_unobserved(
    p: &JobPlan,
    job: &Job,
    unobserved: &[(&str, &Unobserved)],
) -> Option<JobPlan> {
    if p.restore != Some(Restore::FirstDeployment) || p.blocked_by.is_some() {
        return None;
    }
    // Under its name or one of its previous names (a rename and a move in one commit).
    let names = || std::iter::once(&p.name).chain(&job.previous_names);
    let may_run = |u: &Unobserved| u.ledger.as_ref().is_none_or(|l| names().any(|n| l.contains_key(n)));
    let (cluster, u) = unobserved.iter().find(|(_, u)| may_run(u))?;
    let mut blocked = p.clone();
    blocked.blocked_by =
        Some(Blocker::ClusterUnobserved { cluster: cluster.to_string(), ledger_has_job: u.ledger.is_some() });
    Some(blocked)
}

/// The entry as a refused move, and the problem that says why.
fn refuse(p: &JobPlan, to: &str, from: &str, why: MoveRefusal) -> (JobPlan, Problem) {
    let mut e = p.clone();
    let problem = Problem::MoveRefused { job: p.name.clone(), from: from.into(), to: to.into(), why };
    e.action = Action::Conflict;
    e.conflict = Some(ConflictScope::Job);
    e.reason = Reason::MoveRefused { from: from.into() };
    (e, problem)
}

#[cfg(test)]
#[path = "moves_tests.rs"]
mod tests;

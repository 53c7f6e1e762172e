//! Renames that keep state (`previousNames`): which live job of an old name a spec takes over.
//!
//! A job's id carries a tag of its name (`identity`), so after a rename the running job still
//! carries the old name's tag and the spec's own tag finds nothing. A spec that lists the old
//! name claims that job: the plan is a `rename` (stop it with a savepoint, start this name from
//! it), and the old job is not an orphan. Once the new name runs, its own tag identifies it.

use std::collections::BTreeMap;

use super::identity;
use super::model::{Action, JobPlan, Restore};
use super::observed::LiveJob;
use super::reasons::{Note, Reason};
use crate::ledger::Record;
use crate::spec::Job;
use crate::spec::model::JobState as SpecState;

/// The live managed jobs by name tag (see `planner::partition`).
pub type ByTag<'a> = BTreeMap<String, Vec<&'a LiveJob>>;

/// The one running job of one of `job`'s previous names, and that name: only when the spec has
/// no running job of its own (then the rename is done, and an old job still running is an
/// orphan) and exactly one old job runs (two would be a conflict; neither is guessed). Only a job
/// this ledger started (the old name's record, or the new one's after an interrupted rename,
/// knows its id): another state directory's job of that name is never stopped from here.
pub fn claimed<'a>(
    job: &'a Job,
    managed: &ByTag<'a>,
    ledger: &BTreeMap<String, Record>,
) -> Option<(&'a str, &'a LiveJob)> {
    let own = managed.get(&identity::name_tag(&job.name));
    if own.is_some_and(|l| l.iter().any(|j| j.is_active())) || job.state == SpecState::Suspended {
        return None;
    }
    let found = job.previous_names.iter().flat_map(|old| {
        let lives = managed.get(&identity::name_tag(old)).map(Vec::as_slice).unwrap_or_default();
        lives.iter().filter(|j| j.is_active()).map(move |j| (old.as_str(), *j))
    });
    let ours = |(old, live): &(&str, &LiveJob)| {
        [*old, job.name.as_str()].iter().any(|n| ledger.get(*n).is_some_and(|r| r.knows(&live.id)))
    };
    let mut found = found.filter(ours);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// The plan of a rename: stop `live` (of `old`) with a savepoint, start `job` from it.
pub fn rename(mut p: JobPlan, old: &str, live: &LiveJob) -> JobPlan {
    p.action = Action::Rename;
    p.reason = Reason::Rename { old: old.to_string(), name: p.name.clone() };
    p.live = Some(live.to_ref());
    p.restore = Some(Restore::NewSavepoint);
    p.renamed_from = Some(old.to_string());
    // The old name's record stood in for the spec's own: its "not running" is no drift.
    p.drift = None;
    p
}

/// Name tags of the old jobs claimed by a rename in `jobs`: not orphans.
pub fn claimed_tags(jobs: &[JobPlan]) -> Vec<String> {
    jobs.iter()
        .filter(|j| j.action == Action::Rename)
        .filter_map(|j| j.renamed_from.as_deref())
        .map(identity::name_tag)
        .collect()
}

/// The ledger record a spec starts from: its own, or when it has none (it was renamed and never
/// applied under the new name) the newest previous name's that has one.
pub fn record_for<'a>(job: &Job, ledger: &'a BTreeMap<String, Record>) -> Option<&'a Record> {
    ledger.get(&job.name).or_else(|| job.previous_names.iter().rev().find_map(|old| ledger.get(old)))
}

/// A deploy that starts from an old name's state says so.
pub fn note_inherited(p: &mut JobPlan, job: &Job, ledger: &BTreeMap<String, Record>) {
    if p.action != Action::Deploy || ledger.contains_key(&job.name) {
        return;
    }
    if let Some(old) = job.previous_names.iter().rev().find(|old| ledger.contains_key(old.as_str())) {
        p.renamed_from = Some(old.clone());
        p.drift = None;
        p.reason = Reason::Inherited { old: old.clone(), name: p.name.clone() };
    }
}

/// Every name tag whose ended jobs may hold a spec's state: its own and its previous names'.
pub fn tags(job: &Job) -> Vec<String> {
    std::iter::once(&job.name).chain(&job.previous_names).map(|n| identity::name_tag(n)).collect()
}

/// A spec renamed without `previousNames` plans as an orphan (the old name's job) and a first
/// deployment (the new name, empty): say on both that the state is not carried over, and how to
/// carry it. Paired when there is one of each; otherwise each new job names every orphan. Only
/// orphans this ledger knows: another state directory's jobs are not this spec's past.
pub fn hint_unlisted(jobs: &mut [JobPlan], ledger: &BTreeMap<String, Record>) {
    let orphans: Vec<String> = jobs
        .iter()
        .filter(|j| matches!(j.action, Action::Orphan | Action::Stop) && ledger.contains_key(&j.name))
        .map(|j| j.name.clone())
        .collect();
    let fresh: Vec<String> = jobs
        .iter()
        .filter(|j| j.action == Action::Deploy && j.restore == Some(Restore::FirstDeployment))
        .map(|j| j.name.clone())
        .collect();
    if orphans.is_empty() || fresh.is_empty() {
        return;
    }
    for j in jobs.iter_mut() {
        if fresh.contains(&j.name) {
            j.reason.note(Note::MaybeRenamedFrom { orphans: orphans.clone() });
        } else if orphans.contains(&j.name) && fresh.len() == 1 {
            j.reason.note(Note::MaybeRenamedTo { fresh: fresh[0].clone(), name: j.name.clone() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flink::JobState;
    use crate::plan::fixtures::*;
    use crate::plan::{Observed, Options, Plan, plan};

    fn run(d: &crate::spec::Desired, live: Vec<LiveJob>, ledger: &BTreeMap<String, Record>) -> Plan {
        plan(d, &Observed { jobs: live, ..Default::default() }, ledger, &Options::default())
    }

    /// The record of `job` after it was started as its live job number `n`.
    fn started(job: &Job, n: u8) -> Record {
        let mut r = record_of(job);
        r.job_id = Some(live_of(job, n, JobState::Running).id);
        r
    }

    fn renamed() -> Job {
        let mut j = job("orders-v2");
        j.previous_names = vec!["orders".into()];
        j
    }

    #[test]
    fn a_running_job_of_a_previous_name_is_renamed_not_orphaned() {
        let old = job("orders");
        let p = run(
            &desired([renamed()]),
            vec![live_of(&old, 1, JobState::Running)],
            &ledger([started(&old, 1)]),
        );
        assert_eq!(p.jobs.len(), 1, "the old job is no orphan: {p:#?}");
        let j = &p.jobs[0];
        assert_eq!(j.action, Action::Rename);
        assert_eq!(j.renamed_from.as_deref(), Some("orders"));
        assert_eq!(j.live.as_ref().map(|l| &l.id), Some(&live_of(&old, 1, JobState::Running).id));
        assert_eq!(j.restore, Some(Restore::NewSavepoint));
        assert!(p.has_changes() && p.summary().upgrade == 1);
    }

    #[test]
    fn an_old_names_job_this_ledger_did_not_start_is_never_claimed() {
        let old = job("orders");
        let p = run(&desired([renamed()]), vec![live_of(&old, 1, JobState::Running)], &ledger([]));
        let j = p.jobs.iter().find(|j| j.name == "orders-v2").unwrap();
        assert_eq!(j.action, Action::Deploy, "{p:#?}");
        assert!(p.jobs.iter().all(|j| j.action != Action::Rename));
    }

    #[test]
    fn once_the_new_name_runs_an_old_job_still_running_is_an_orphan() {
        let (old, new) = (job("orders"), renamed());
        let live = vec![live_of(&old, 1, JobState::Running), live_of(&new, 1, JobState::Running)];
        let p = run(&desired([new.clone()]), live, &ledger([started(&old, 1), started(&new, 1)]));
        assert_eq!(p.jobs.iter().find(|j| j.name == "orders-v2").unwrap().action, Action::None);
        assert_eq!(p.jobs.iter().find(|j| j.name == "orders").unwrap().action, Action::Orphan);
    }

    #[test]
    fn a_stopped_old_job_makes_a_deploy_from_the_old_names_record() {
        let old = job("orders");
        let mut rec = record_of(&old);
        rec.job_id = Some(live_of(&old, 1, JobState::Finished).id);
        let p = run(&desired([renamed()]), vec![live_of(&old, 1, JobState::Finished)], &ledger([rec]));
        let j = &p.jobs[0];
        assert_eq!(j.action, Action::Deploy);
        assert_eq!(j.renamed_from.as_deref(), Some("orders"), "{j:#?}");
        assert!(matches!(j.restore, Some(Restore::LatestOf { .. })), "never empty: {j:#?}");
    }

    #[test]
    fn without_previous_names_the_orphan_and_the_new_job_say_how_to_keep_state() {
        let old = job("orders");
        let p = run(
            &desired([job("orders-v2")]),
            vec![live_of(&old, 1, JobState::Running)],
            &ledger([record_of(&old)]),
        );
        for j in &p.jobs {
            let note = match &j.reason {
                Reason::Noted { note, .. } => note,
                other => panic!("no note: {other:?}"),
            };
            let expected = match j.name.as_str() {
                "orders" => Note::MaybeRenamedTo { fresh: "orders-v2".into(), name: "orders".into() },
                _ => Note::MaybeRenamedFrom { orphans: vec!["orders".into()] },
            };
            assert_eq!(note, &expected);
            let words = j.reason.to_string();
            assert!(
                words.contains("previousNames: [orders]") && words.contains("not carried over"),
                "{words}"
            );
        }
    }
}

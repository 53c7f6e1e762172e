//! Which recorded savepoints `flinkops gc` disposes of, and why each other one is kept. Pure: the
//! command gathers the inputs (the ledger, Flink's view of running jobs, kept plans) and carries
//! the verdicts out.
//!
//! Only savepoints this ledger recorded are ever candidates; retained checkpoints in the history
//! are Flink's to retire. Whatever the retention says, these are kept:
//! - a job's newest snapshot (what a start of the stopped job restores);
//! - the one its running version started from (what a rollback of that version restores);
//! - one a pending step names (an upgrade in flight starts from it);
//! - one a spec's `restore.from` or a kept plan file names;
//! - the one Flink says the running job restored from, until that job has completed a newer
//!   checkpoint or savepoint.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::Serialize;

use crate::ledger::{Pending, Record, SavepointReason};
use crate::restore::same_path;
use crate::spec::model::{RestoreFrom, RetainSpec};

/// What Flink says about a spec's running job.
#[derive(Debug, Clone, Default)]
pub struct Running {
    /// `latest.restored`: the snapshot the job started from.
    pub restored_from: Option<String>,
    /// Whether the job completed a checkpoint or savepoint after that restore.
    pub newer_since_restore: bool,
}

/// Everything the decision for one job needs.
pub struct Job<'a> {
    pub record: &'a Record,
    pub retain: Option<&'a RetainSpec>,
    pub restore_from: &'a RestoreFrom,
    /// `None` when the job does not run (or Flink could not say).
    pub running: Option<&'a Running>,
    /// Paths named by the plan files passed with `--keep-plan`.
    pub kept_by_plans: &'a BTreeSet<String>,
}

/// Why a snapshot stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Keep {
    Newest,
    RollbackTarget,
    PendingStep,
    NamedBySpec,
    NamedByPlan,
    RunningJobRestoredFromIt,
    /// A retained checkpoint: Flink's own retention retires it.
    Checkpoint,
    WithinRetention,
}

/// Why a snapshot goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "rule")]
pub enum Dispose {
    /// More savepoints than `retain.count` are newer or as new.
    BeyondCount { count: u32 },
    /// Older than `retain.maxAge`.
    OlderThan { max_age_seconds: u64 },
    /// An earlier disposal of it did not finish.
    Unfinished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "verdict")]
pub enum Verdict {
    Keep { why: Keep },
    Dispose { why: Dispose },
}

/// One snapshot of the history and what becomes of it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub job: String,
    pub path: String,
    pub taken_at: String,
    pub reason: SavepointReason,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// The verdict on every snapshot of `job`'s history, newest first.
pub fn decide(job: &Job, now: Timestamp) -> Vec<Decision> {
    let r = job.record;
    let count = RetainSpec::count(job.retain);
    let max_age = job.retain.and_then(|r| r.max_age.as_ref()).map(|a| a.value.as_std());
    let mut rank = 0u32;
    let mut out = Vec::new();
    for (i, s) in r.savepoints.iter().enumerate().rev() {
        let is_savepoint = s.reason != SavepointReason::RetainedCheckpoint;
        let age = s.taken_at.parse::<Timestamp>().ok().map(|t| now.duration_since(t));
        let verdict = if let Some(why) = protected(job, i, &s.path) {
            Verdict::Keep { why }
        } else if !is_savepoint {
            Verdict::Keep { why: Keep::Checkpoint }
        } else if s.disposing.is_some() {
            Verdict::Dispose { why: Dispose::Unfinished }
        } else if let Some(count) = count.filter(|c| rank >= *c) {
            Verdict::Dispose { why: Dispose::BeyondCount { count } }
        } else if let Some(max) = max_age.filter(|m| age.is_some_and(|a| a.as_secs() > m.as_secs() as i64)) {
            Verdict::Dispose { why: Dispose::OlderThan { max_age_seconds: max.as_secs() } }
        } else {
            Verdict::Keep { why: Keep::WithinRetention }
        };
        if is_savepoint {
            rank += 1;
        }
        out.push(Decision {
            job: r.name.clone(),
            path: s.path.clone(),
            taken_at: s.taken_at.clone(),
            reason: s.reason,
            verdict,
        });
    }
    out
}

/// Why the `i`th snapshot (at `path`) must stay whatever the retention says, if it must. Paths
/// are compared as [`same_path`] sees them (`file:///a/` and `file:/a` are one snapshot): a spec
/// or a plan may write a path another way than Flink answered it.
fn protected(job: &Job, i: usize, path: &str) -> Option<Keep> {
    let r = job.record;
    let this = same_path(path);
    let is = |other: Option<&str>| other.is_some_and(|o| same_path(o) == this);
    let pending = match &r.pending {
        Some(Pending::Starting { from, .. }) => is(from.as_deref()),
        _ => false,
    };
    let restored =
        job.running.is_some_and(|run| is(run.restored_from.as_deref()) && !run.newer_since_restore);
    if i + 1 == r.savepoints.len() {
        Some(Keep::Newest)
    } else if is(r.started_from.as_deref()) {
        Some(Keep::RollbackTarget)
    } else if pending {
        Some(Keep::PendingStep)
    } else if matches!(job.restore_from, RestoreFrom::Path(p) if is(Some(p))) {
        Some(Keep::NamedBySpec)
    } else if job.kept_by_plans.iter().any(|p| is(Some(p))) {
        Some(Keep::NamedByPlan)
    } else if restored {
        Some(Keep::RunningJobRestoredFromIt)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::SavepointRecord;
    use crate::spec::model::Located;

    const NOW: &str = "2026-12-10T00:00:00Z";

    /// A record with savepoints `0..n`, one a day, the newest yesterday.
    fn record(n: usize) -> Record {
        let mut r = Record::new("orders");
        for i in 0..n {
            let day = 9 - (n - 1 - i);
            let at = format!("2026-12-{day:02}T00:00:00Z");
            r.savepoints.push(SavepointRecord::new(
                format!("file:/sp/{i}"),
                None,
                at,
                SavepointReason::Manual,
            ));
        }
        r
    }

    fn verdicts(job: &Job) -> Vec<(String, Verdict)> {
        decide(job, NOW.parse().unwrap()).into_iter().map(|d| (d.path, d.verdict)).collect()
    }

    fn job<'a>(r: &'a Record, retain: Option<&'a RetainSpec>, plans: &'a BTreeSet<String>) -> Job<'a> {
        Job { record: r, retain, restore_from: &RestoreFrom::Latest, running: None, kept_by_plans: plans }
    }

    fn keep(why: Keep) -> Verdict {
        Verdict::Keep { why }
    }

    fn count(n: u32) -> RetainSpec {
        RetainSpec { count: Some(Located::new(n, Default::default())), max_age: None }
    }

    #[test]
    fn the_default_keeps_the_five_newest() {
        let r = record(7);
        let plans = BTreeSet::new();
        let v = verdicts(&job(&r, None, &plans));
        let gone: Vec<&str> =
            v.iter().filter(|(_, v)| matches!(v, Verdict::Dispose { .. })).map(|(p, _)| p.as_str()).collect();
        assert_eq!(gone, ["file:/sp/1", "file:/sp/0"]);
        assert_eq!(v[0], ("file:/sp/6".into(), keep(Keep::Newest)));
        assert_eq!(v[5].1, Verdict::Dispose { why: Dispose::BeyondCount { count: 5 } });
    }

    #[test]
    fn count_and_max_age_each_dispose() {
        let r = record(5);
        let plans = BTreeSet::new();
        let by_age = RetainSpec {
            count: None,
            max_age: Some(Located::new(crate::spec::read::parse_duration("2d").unwrap(), Default::default())),
        };
        let v = verdicts(&job(&r, Some(&by_age), &plans));
        // Taken 1, 2, 3, 4 and 5 days ago: older than 2 days goes, the newest stays anyway.
        let kept: Vec<&str> =
            v.iter().filter(|(_, v)| matches!(v, Verdict::Keep { .. })).map(|(p, _)| p.as_str()).collect();
        assert_eq!(kept, ["file:/sp/4", "file:/sp/3"]);
        assert_eq!(v[4].1, Verdict::Dispose { why: Dispose::OlderThan { max_age_seconds: 2 * 86_400 } });
        let v = verdicts(&job(&r, Some(&count(1)), &plans));
        assert_eq!(v.iter().filter(|(_, v)| matches!(v, Verdict::Dispose { .. })).count(), 4);
    }

    #[test]
    fn protected_snapshots_stay_whatever_the_retention() {
        let mut r = record(8);
        r.started_from = Some("file:/sp/0".into());
        r.pending = Some(Pending::Starting {
            job_id: crate::flink::JobId::random(),
            from: Some("file:/sp/1".into()),
            started_at: NOW.into(),
            rollback: false,
        });
        r.savepoints[2].reason = SavepointReason::RetainedCheckpoint;
        // Written the other ways a path may be: by a plan, by Flink, by a person.
        let plans = BTreeSet::from(["file:///sp/3".to_string()]);
        let running = Running { restored_from: Some("file:/sp/4/".into()), newer_since_restore: false };
        let from = RestoreFrom::Path("file:///sp/5/".into());
        let retain = count(1);
        let j = Job {
            record: &r,
            retain: Some(&retain),
            restore_from: &from,
            running: Some(&running),
            kept_by_plans: &plans,
        };
        let v: Vec<Verdict> = verdicts(&j).into_iter().rev().map(|(_, v)| v).collect();
        assert_eq!(
            v,
            [
                keep(Keep::RollbackTarget),
                keep(Keep::PendingStep),
                keep(Keep::Checkpoint),
                keep(Keep::NamedByPlan),
                keep(Keep::RunningJobRestoredFromIt),
                keep(Keep::NamedBySpec),
                Verdict::Dispose { why: Dispose::BeyondCount { count: 1 } },
                keep(Keep::Newest),
            ]
        );
        // Once the running job has a newer checkpoint, the snapshot it restored from may go.
        let newer = Running { newer_since_restore: true, ..running.clone() };
        let j = Job { running: Some(&newer), ..j };
        assert!(matches!(verdicts(&j)[3].1, Verdict::Dispose { .. }), "{:?}", verdicts(&j));
    }

    #[test]
    fn an_unfinished_disposal_is_tried_again_and_nothing_is_disposed_of_an_empty_history() {
        let mut r = record(3);
        r.savepoints[1].disposing =
            Some(crate::ledger::Disposing { started_at: NOW.into(), failed: Some("boom".into()) });
        let plans = BTreeSet::new();
        assert_eq!(verdicts(&job(&r, None, &plans))[1].1, Verdict::Dispose { why: Dispose::Unfinished });
        assert!(verdicts(&job(&Record::new("x"), None, &plans)).is_empty());
    }
}

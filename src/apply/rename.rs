//! Apply a rename (`previousNames`): the old name's job is stopped with a savepoint and the new
//! name starts from it; the old name's ledger history moves to the new name first.
//!
//! Crash safety: the history is moved (the new record written, then the old file removed) before
//! anything touches the cluster, and the stop writes its write-ahead step into the NEW name's
//! record. A run killed after the stop therefore finds the savepoint under the new name, and a
//! run killed during it finds the pending trigger there (and `restore::gather` asks Flink about
//! the stopped job, which carries the old name's tag): the next run starts the new name from the
//! old job's state, never empty.

use super::steps::{Context, RunSpec, SavepointSettings, StepError};
use crate::apply::outcome::{Done, Outcome};
use crate::ledger::{Record, SavepointReason};
use crate::plan::model::JobPlan;
use crate::spec::Job;

/// Stop the old name's job with a savepoint, start `job` from it.
pub async fn rename(ctx: &Context, p: &JobPlan, job: &Job) -> Result<Outcome, StepError> {
    let old_name = p.renamed_from.as_deref().ok_or(StepError::NoPreviousName)?;
    let old = p.live.as_ref().map(|l| l.id.clone()).ok_or(StepError::NoLiveJob)?;
    carry_history(ctx, job, old_name)?;
    let jar = ctx.upload(job).await?;
    let settings = SavepointSettings::of(job);
    let from = ctx.stop_with_savepoint(&job.name, &old, &settings, SavepointReason::Upgrade).await?;
    let id = ctx.start(&RunSpec::of(job), &jar, Some(&from), false).await.map_err(|e| {
        let (old_name, name) = (old_name.to_string(), job.name.clone());
        StepError::RenameNotStarted { cause: Box::new(e.why), old_name, old, from: from.clone(), name }
    })?;
    ctx.applied(job, &id, Some(&jar))?;
    if let Err(e) = ctx.health(job, &id).await {
        return Err(StepError::RenamedUnhealthy { cause: Box::new(e), job: id, from });
    }
    Ok(Outcome::Done { detail: Done::Renamed { old_name: old_name.to_string(), job: id, from } })
}

/// Move `old`'s ledger record into `job`'s: its snapshots (each once), where it started from,
/// the ids it rejected, its pending step when the new record has none. Then remove `old`'s file.
/// Idempotent: a second call finds nothing left to move.
pub fn carry_history(ctx: &Context, job: &Job, old: &str) -> Result<(), StepError> {
    if carry_between(ctx, old, ctx, job)? {
        ctx.progress.step(&job.name, &format!("took over `{old}`'s ledger history (previousNames)"));
    }
    Ok(())
}

/// Move the record `old` of `from`'s ledger into `job`'s record in `to`'s ledger (the same
/// ledger for a rename, another cluster's for a move), then remove it from `from`'s. Whether
/// there was anything to move.
pub fn carry_between(from: &Context, old: &str, to: &Context, job: &Job) -> Result<bool, StepError> {
    let moved = match from.current_record(old) {
        Some(r) => Some(r),
        None => from
            .ledger
            .read(old)
            .map_err(|e| StepError::OldRecordUnreadable { name: old.to_string(), cause: e.to_string() })?,
    };
    let Some(moved) = moved else { return Ok(false) };
    to.record(&job.name, |r| merge(r, &moved))?;
    from.ledger
        .remove(old)
        .map_err(|e| StepError::OldRecordNotRemoved { name: old.to_string(), cause: e.to_string() })?;
    from.records.lock().unwrap_or_else(|e| e.into_inner()).remove(old);
    Ok(true)
}

/// `old`'s history first (it is older), then the new record's own.
fn merge(into: &mut Record, old: &Record) {
    let mut savepoints: Vec<_> = old
        .savepoints
        .iter()
        .filter(|s| !into.savepoints.iter().any(|n| n.path == s.path))
        .cloned()
        .collect();
    savepoints.append(&mut into.savepoints);
    into.savepoints = savepoints;
    if into.started_from.is_none() {
        into.started_from.clone_from(&old.started_from);
    }
    if into.pending.is_none() {
        into.pending.clone_from(&old.pending);
    }
    for id in &old.rejected {
        into.reject(id);
    }
    if into.job_id.is_none() {
        into.job_id.clone_from(&old.job_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::SavepointRecord;

    fn sp(path: &str) -> SavepointRecord {
        SavepointRecord::new(path, None, "2026-01-01T00:00:00Z".into(), SavepointReason::Upgrade)
    }

    #[test]
    fn merging_keeps_the_old_history_first_and_each_snapshot_once() {
        let mut old = Record::new("old");
        old.savepoints = vec![sp("file:/a"), sp("file:/b")];
        old.started_from = Some("file:/start".into());
        let mut new = Record::new("new");
        new.savepoints = vec![sp("file:/b"), sp("file:/c")];
        merge(&mut new, &old);
        let paths: Vec<&str> = new.savepoints.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["file:/a", "file:/b", "file:/c"]);
        assert_eq!(new.started_from.as_deref(), Some("file:/start"));
        merge(&mut new, &old);
        assert_eq!(new.savepoints.len(), 3, "idempotent");
    }
}

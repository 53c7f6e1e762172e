//! Apply a rename (`previousNames`): the old name's job is stopped with a savepoint and the new
//! name starts from it; the old name's ledger history moves to the new name first.
//!
//! Crash safety: the history is moved (the new record written, then the old file removed) before
//! anything touches the cluster, and the stop writes its write-ahead step into the NEW name's
//! record. A run killed after the stop therefore finds the savepoint under the new name, and a
//! run killed during it finds the pending trigger there (and `restore::gather` asks Flink about
//! the stopped job, which carries the old name's tag): the next run starts the new name from the
//! old job's state, never empty.
//!
//! A new name that does not start or fails its health gate is rolled back as an upgrade is
//! (`execute::rollback`): the failed job is cancelled, the history moves back to the old name
//! (`move_back`), and the old name's last applied version (its record's spec and jar, kept
//! from before the move) starts again from the savepoint just taken. Without such a record (a
//! name never applied by flinkops, or a rename resumed after a killed run, whose old record was
//! already merged away) nothing can be rolled back to: the job stays STOPPED and the outcome
//! says so, naming the savepoint, exactly as an upgrade without a previous version does.

use super::execute::{rollback, start_unknown};
use super::steps::{Context, RunSpec, SavepointSettings, StartFailure, StepError};
use crate::apply::outcome::{Done, Outcome};
use crate::ledger::{Record, SavepointReason};
use crate::plan::model::JobPlan;
use crate::spec::Job;

/// Stop the old name's job with a savepoint, start `job` from it. A new job that cannot start
/// or fails its health gate is rolled back like an upgrade: the old name's version runs again
/// from the savepoint just taken, and the history moves back to the old name.
pub async fn rename(ctx: &Context, p: &JobPlan, job: &Job) -> Result<Outcome, StepError> {
    let old_name = p.renamed_from.as_deref().ok_or(StepError::NoPreviousName)?;
    let old = p.live.as_ref().map(|l| l.id.clone()).ok_or(StepError::NoLiveJob)?;
    // The checks an upgrade makes before its stop, before anything is written or uploaded: a
    // refusal leaves the old name's job running and its history where it was.
    super::execute::ready_to_stop(ctx, p, job, &old, true).await?;
    // The old name's record as it was: what a rollback runs again (its applied spec and jar).
    let previous = carry_history(ctx, &job.name, old_name)?;
    let jar = ctx.upload(job).await?;
    let settings = SavepointSettings::of(job);
    let from = ctx.stop_with_savepoint(&job.name, &old, &settings, SavepointReason::Upgrade).await?;
    let id = match ctx.start(&RunSpec::of(job), &jar, Some(&from), false).await {
        Ok(id) => id,
        Err(StartFailure { why, unknown: Some(id) }) => return Ok(start_unknown(why, id, Some(&from))),
        Err(failure) => return rollback(ctx, job, previous.as_ref(), Some(&from), None, failure.why).await,
    };
    if let Err(why) = ctx.health(job, &id).await {
        let why = StepError::RenamedUnhealthy { cause: Box::new(why), job: id.clone(), from: from.clone() };
        return rollback(ctx, job, previous.as_ref(), Some(&from), Some(&id), why).await;
    }
    ctx.applied(job, &id, Some(&jar))?;
    Ok(Outcome::Done { detail: Done::Renamed { old_name: old_name.to_string(), job: id, from } })
}

/// Move `old`'s ledger record into `into`'s: its snapshots (each once), where it started from,
/// the ids it rejected, its pending step when the new record has none. Then remove `old`'s file.
/// Idempotent: a second call finds nothing left to move. Returns `old`'s record as it was.
pub fn carry_history(ctx: &Context, into: &str, old: &str) -> Result<Option<Record>, StepError> {
    let moved = match ctx.current_record(old) {
        Some(r) => Some(r),
        None => ctx
            .ledger
            .read(old)
            .map_err(|e| StepError::OldRecordUnreadable { name: old.to_string(), cause: e.to_string() })?,
    };
    let Some(moved) = moved else { return Ok(None) };
    ctx.record(into, |r| merge(r, &moved))?;
    ctx.ledger
        .remove(old)
        .map_err(|e| StepError::OldRecordNotRemoved { name: old.to_string(), cause: e.to_string() })?;
    ctx.records.lock().unwrap_or_else(|e| e.into_inner()).remove(old);
    ctx.progress.step(into, &format!("took over `{old}`'s ledger history"));
    Ok(Some(moved))
}

/// Undo [`carry_history`] for a rename rolled back: everything `job`'s record holds now (the old
/// history, the rename's savepoint, the rejected new job) moves back under `previous.name`, with
/// the spec and jars `previous` recorded as applied there, so the old name's version is the
/// rollback target and the next plan sees the rename still to do.
/// The spec is written back first: a run killed between the two writes finds both records,
/// each complete, and the history is merged again (idempotent) by the next rename.
pub fn move_back(ctx: &Context, job: &Job, previous: &Record) -> Result<(), StepError> {
    ctx.record(&previous.name, |r| {
        r.applied.clone_from(&previous.applied);
        r.jar_id.clone_from(&previous.jar_id);
        r.previous_jar_id.clone_from(&previous.previous_jar_id);
    })?;
    carry_history(ctx, &previous.name, &job.name).map(drop)
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

    /// A rename rolled back: everything the new name's record gathered (the old history, the
    /// rename's savepoint, the rejected job) is under the old name again, with the spec and jar
    /// the old name last ran, and the new name has no record.
    #[tokio::test]
    async fn a_rolled_back_rename_moves_the_history_back_with_the_old_spec() {
        use crate::flink::{Client, ClientConfig, JarId, JobId};
        use crate::ledger::{AppliedSpec, Ledger};
        use crate::plan::fixtures::job;
        let state = tempfile::tempdir().unwrap();
        let client = Client::new(ClientConfig::new("http://127.0.0.1:9")).unwrap();
        let progress = crate::apply::progress::Progress::to(Box::new(std::io::sink()));
        let ctx = Context::new(client, Ledger::new(state.path()), Default::default(), progress);
        let (old_job, new_job) = (job("old"), job("new"));
        let mut old = Record::new("old");
        old.applied = Some(AppliedSpec::of(&old_job));
        old.jar_id = Some(JarId::new("uuid_old.jar"));
        old.savepoints = vec![sp("file:/a")];
        ctx.ledger.write(&old).unwrap();
        let previous = carry_history(&ctx, "new", "old").unwrap().expect("the old record");
        assert_eq!(ctx.ledger.read("old").unwrap(), None);
        let failed = JobId::random();
        ctx.record("new", |r| {
            r.savepoints.push(sp("file:/rename"));
            r.reject(&failed);
        })
        .unwrap();
        move_back(&ctx, &new_job, &previous).unwrap();
        assert_eq!(ctx.ledger.read("new").unwrap(), None, "the new name has no record");
        let back = ctx.ledger.read("old").unwrap().expect("the old name's record is back");
        let paths: Vec<&str> = back.savepoints.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["file:/a", "file:/rename"]);
        assert_eq!(back.applied, old.applied, "the rollback target is the old name's spec");
        assert_eq!(back.jar_id, old.jar_id);
        assert!(back.rejected.contains(&failed), "the failed new job is never a restore source");
    }
}

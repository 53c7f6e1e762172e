//! Apply a move between clusters (`Action::Move`, planned by `plan::moves`): stop the job with a
//! savepoint on its old cluster, start it on the new one from that savepoint, and roll it back to
//! the old cluster when the new start fails or is unhealthy.
//!
//! Crash safety (docs/fleet.md, "A move, step by step"):
//! - Before the old job is touched, the NEW cluster's ledger gets `Record::moving` (the old
//!   cluster, the live job id, the stop's trigger id); the old cluster's ledger gets its usual
//!   `Pending::Stopping` under the same trigger id. While `moving` is set the planner takes the
//!   old cluster's record as the job's history, so a run killed after the stop plans the move
//!   again from there.
//! - The savepoint is recorded in both ledgers; the old one keeps it as the rollback source.
//! - A run that finds the old job gone finishes the move from the newest state the old cluster
//!   names (`execute::newest_state` on it: its ledger, the interrupted stop's trigger id, Flink's
//!   answers for the ended job), never empty.
//! - Healthy on the new cluster: the old record's history moves to the new ledger and the old
//!   record is removed (a record left there would make a later plan see the job on two clusters).
//!   Failed: the new job id is rejected on the new cluster, and the previous version starts again
//!   on the OLD cluster from the same savepoint; the history stays there.

use super::execute::{end_failed, newest_state, not_stopped, ready_to_stop, restart_previous, start_unknown};
use super::outcome::{Done, Outcome};
use super::rename::carry_between;
use super::steps::{Context, RunSpec, SavepointSettings, StartFailure, StepError};
use crate::flink::JobId;
use crate::ledger::{Moving, SavepointReason};
use crate::plan::model::JobPlan;
use crate::plan::planner::SAVEPOINT_DIR_KEYS;
use crate::spec::Job;
use crate::spec::model::UpgradeMode;

/// Move `job` from the cluster of `old` (its client, ledger and lock) to the cluster of `new`, as
/// `p` (the new cluster's entry, `moved_from` naming the old one) planned it.
pub async fn run(old: &Context, new: &Context, p: &JobPlan, job: &Job) -> Result<Outcome, StepError> {
    let from_cluster = p.moved_from.clone().ok_or(StepError::NoOldCluster)?;
    // Before the running job is touched.
    let jar = match (new.upload(job).await, &p.live) {
        (Err(why), Some(live)) => return Err(not_stopped(&live.id)(why)),
        (uploaded, _) => uploaded?,
    };
    let from = match &p.live {
        Some(live) => stop_on_old(old, new, &from_cluster, &live.id, p, job).await?,
        None => state_left_on_old(old, &from_cluster, job).await?,
    };
    let previous = old.current_record(&job.name);
    let back = |failed: Option<JobId>, why: StepError| {
        let why = StepError::NotMoved { cause: Box::new(why), from: from_cluster.clone() };
        back_to_old(old, new, job, previous.clone(), from.clone(), failed, why)
    };
    let started = match new.start(&RunSpec::of(job), &jar, from.as_deref(), false).await {
        Ok(id) => id,
        Err(StartFailure { why, unknown: Some(id) }) => return Ok(start_unknown(why, id, from.as_deref())),
        Err(failure) => return back(None, failure.why).await,
    };
    if let Err(why) = new.health(job, &started).await {
        return back(Some(started), why).await;
    }
    new.applied(job, &started, Some(&jar))?;
    if carry_between(old, &job.name, new, &job.name)?.is_some() {
        new.progress.step(&job.name, &format!("took over cluster `{from_cluster}`'s ledger history"));
    }
    new.record(&job.name, |r| {
        r.moving = None;
        // `applied` cleared this record's own step: one left now came with the old record (a
        // killed run's stop, finished since), and names a job of the other cluster.
        r.pending = None;
    })?;
    Ok(Outcome::Done { detail: Done::Moved { from_cluster, job: started, from } })
}

/// The checks an upgrade makes before its stop, then the write-ahead on the new cluster, then
/// the stop on the old one. The savepoint (`None` for a stateless job, cancelled instead).
async fn stop_on_old(
    old: &Context,
    new: &Context,
    from_cluster: &str,
    live: &JobId,
    p: &JobPlan,
    job: &Job,
) -> Result<Option<String>, StepError> {
    let stateless = job.upgrade_mode == UpgradeMode::Stateless;
    // The upgrade's checks, on the old cluster: every task up for the savepoint; and the
    // slots, on the new cluster, where the old job holds none (so its slots count for nothing).
    ready_to_stop(old, p, job, live, !stateless).await?;
    new.ensure_slots(&job.name, job.parallelism, live).await?;
    if stateless {
        old.cancel(&job.name, live).await?;
        return Ok(None);
    }
    let settings = settings_on(old, job).await;
    let trigger = old.stop_trigger(&job.name, live, &settings).await?;
    new.record(&job.name, |r| {
        r.moving = Some(Moving {
            from_cluster: from_cluster.to_string(),
            job_id: live.clone(),
            trigger_id: trigger.clone(),
            started_at: jiff::Timestamp::now().to_string(),
        })
    })?;
    let sp = match old
        .stop_with_savepoint_as(&job.name, live, &settings, SavepointReason::Upgrade, &trigger)
        .await
    {
        Ok(sp) => sp,
        Err(e) => {
            // Refused or failed: the job keeps running on the old cluster, no move is in flight.
            if matches!(e, StepError::StopRefused(_) | StepError::SavepointFailed(_)) {
                new.record(&job.name, |r| r.moving = None)?;
            }
            return Err(e);
        }
    };
    let taken =
        old.current_record(&job.name).and_then(|r| r.savepoints.into_iter().rev().find(|s| s.path == sp));
    if let Some(taken) = taken {
        new.record(&job.name, |r| {
            if !r.savepoints.iter().any(|s| s.path == taken.path) {
                r.savepoints.push(taken);
            }
        })?;
    }
    Ok(Some(sp))
}

/// The savepoint settings of the job, with the directory the plan checked made explicit: the
/// job's own (its spec or its `flinkConfiguration`), else the old cluster's configured one (`None` when it cannot be read: Flink then
/// uses that same default).
async fn settings_on(old: &Context, job: &Job) -> SavepointSettings {
    let mut settings = SavepointSettings::of(job);
    if settings.directory.is_none() {
        let own = SAVEPOINT_DIR_KEYS.iter().find_map(|k| job.flink_configuration.get(*k));
        settings.directory = own.map(|v| v.value.clone());
    }
    if settings.directory.is_none()
        && let Ok(config) = old.client.jobmanager_config().await
    {
        settings.directory = SAVEPOINT_DIR_KEYS.iter().find_map(|k| config.get(k)).map(str::to_owned);
    }
    settings
}

/// The old job is gone (a run killed after its stop): the newest state the old cluster names —
/// its ledger, the interrupted stop's trigger id, Flink's answers for the ended job. Never empty
/// for a stateful job.
async fn state_left_on_old(
    old: &Context,
    from_cluster: &str,
    job: &Job,
) -> Result<Option<String>, StepError> {
    if job.upgrade_mode == UpgradeMode::Stateless {
        return Ok(None);
    }
    let unknown =
        |why: StepError| StepError::MoveSourceUnknown { from: from_cluster.to_string(), why: Box::new(why) };
    match newest_state(old, job, None).await {
        Ok(Some(path)) => Ok(Some(path)),
        Ok(None) => Err(unknown(StepError::NoLiveJob)),
        Err(e) => Err(unknown(e)),
    }
}

/// The new cluster's start failed: end and reject it there, then start the previous version on
/// the old cluster from the same savepoint.
async fn back_to_old(
    old: &Context,
    new: &Context,
    job: &Job,
    previous: Option<crate::ledger::Record>,
    from: Option<String>,
    failed: Option<JobId>,
    why: StepError,
) -> Result<Outcome, StepError> {
    let why = end_failed(new, job, failed.as_ref(), why).await?;
    new.record(&job.name, |r| {
        r.moving = None;
        r.pending = None;
    })?;
    restart_previous(old, job, previous.as_ref(), from.as_deref(), why).await
}

#[cfg(test)]
#[path = "moves_tests.rs"]
mod tests;

//! Carry out a plan: wave by wave, independent jobs concurrently, a failure blocking everything
//! downstream of it while unrelated jobs go on. Each action is a short sequence of `steps`.
//!
//! The invariant: whatever fails, every job ends on its old version or on its new one, with its
//! state, or — when even a rollback is impossible — stopped with its savepoint recorded and the
//! summary saying so in plain words.

use std::collections::BTreeMap;
use std::time::Instant;

use futures_util::StreamExt;
use serde::Serialize;

pub use super::outcome::Outcome;
use super::outcome::{Done, NoRollback, RolledBack, SkipReason, StateAt, StepError};
use super::steps::describe;
use super::steps::{Context, RunSpec, SavepointSettings, StartFailure};
use crate::flink::JobId;
use crate::ledger::SavepointReason;
use crate::plan::fleet::{FleetWave, JobAt};
use crate::plan::{Action, JobPlan, Plan, Restore, WaveKind, identity};
use crate::restore::{self, Decision};
use crate::spec::model::UpgradeMode;
use crate::spec::{Desired, Job};

/// One job's result.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobResult {
    pub name: String,
    pub action: Action,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub seconds: f64,
}

/// Run the plan's actions. `desired` holds the specs the plan was made from.
pub async fn execute(ctx: &Context, plan: &Plan, desired: &Desired, concurrency: usize) -> Vec<JobResult> {
    let at = |job: &String| JobAt { cluster: String::new(), job: job.clone() };
    let waves: Vec<FleetWave> = plan
        .waves
        .iter()
        .map(|w| FleetWave { kind: w.kind, jobs: w.jobs.iter().map(at).collect() })
        .collect();
    let one = [ClusterRun { name: "", ctx, plan }];
    execute_fleet(&one, &waves, desired, concurrency).await.into_iter().map(|(_, r)| r).collect()
}

/// One cluster's part of a run over several: its name, its context (client, ledger, lock) and
/// its plan.
#[derive(Clone, Copy)]
pub struct ClusterRun<'a> {
    pub name: &'a str,
    pub ctx: &'a Context,
    pub plan: &'a Plan,
}

/// Run the actions of every cluster, the fleet's waves in order, the jobs of all clusters of a
/// wave at once (`concurrency` at most). A job that failed or was skipped skips what depends on
/// it, on every cluster (job names are unique across the specs). The results by cluster, each in
/// its plan's order.
pub async fn execute_fleet(
    clusters: &[ClusterRun<'_>],
    waves: &[FleetWave],
    desired: &Desired,
    concurrency: usize,
) -> Vec<(String, JobResult)> {
    let key = |cluster: &str, job: &str| JobAt { cluster: cluster.to_owned(), job: job.to_owned() };
    let mut results: BTreeMap<JobAt, JobResult> = BTreeMap::new();
    let mut by_at: BTreeMap<JobAt, (ClusterRun, &JobPlan)> = BTreeMap::new();
    for c in clusters {
        for p in &c.plan.jobs {
            if let Some(r) = not_in_waves(c.ctx, p, desired) {
                results.insert(key(c.name, &p.name), r);
            }
            by_at.insert(key(c.name, &p.name), (*c, p));
        }
    }
    for wave in waves {
        let mut runnable = Vec::new();
        // A job of a cluster not in the run (not observed) has no entry: its failure is the caller's.
        for (at, &(c, p)) in wave.jobs.iter().filter_map(|at| by_at.get(at).map(|e| (at, e))) {
            match failed_dependency(&at.job, desired, &results) {
                Some(upstream) if wave.kind == WaveKind::Start => {
                    let reason = SkipReason::UpstreamFailed { upstream };
                    c.ctx.progress.warn(&p.name, &format!("skipped: {reason}"));
                    results.insert(at.clone(), skipped(p, reason));
                }
                _ => runnable.push((at, c, p)),
            }
        }
        let done: Vec<(JobAt, JobResult)> = futures_util::stream::iter(runnable)
            .map(|(at, c, p)| async move {
                let left = p.moved_from.as_deref().and_then(|from| clusters.iter().find(|c| c.name == from));
                (at.clone(), run_one(c.ctx, left.map(|l| l.ctx), p, desired.jobs.get(&p.name)).await)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        results.extend(done);
    }
    clusters
        .iter()
        .flat_map(|c| c.plan.jobs.iter().map(move |p| (c.name, p)))
        .filter_map(|(cluster, p)| results.remove(&key(cluster, &p.name)).map(|r| (cluster.to_owned(), r)))
        .collect()
}

fn skipped(p: &JobPlan, reason: SkipReason) -> JobResult {
    JobResult { name: p.name.clone(), action: p.action, outcome: Outcome::Skipped { reason }, seconds: 0.0 }
}

/// Jobs that are in no wave: settings-only updates (ledger only), and what apply will not touch.
fn not_in_waves(ctx: &Context, p: &JobPlan, desired: &Desired) -> Option<JobResult> {
    match p.action {
        Action::UpdateSettings => {
            let job = desired.jobs.get(&p.name)?;
            let outcome = match ctx.record(&p.name, |r| r.applied = Some(crate::ledger::AppliedSpec::of(job)))
            {
                Ok(()) => Outcome::Done { detail: Done::SettingsRecorded },
                Err(reason) => Outcome::Failed { reason },
            };
            Some(JobResult { name: p.name.clone(), action: p.action, outcome, seconds: 0.0 })
        }
        Action::Conflict => Some(skipped(p, SkipReason::Conflict)),
        _ => p.blocked_by.as_ref().map(|why| skipped(p, SkipReason::Blocked(why.clone()))),
    }
}

/// The first dependency (transitively) that failed or was skipped, on any cluster.
fn failed_dependency(name: &str, desired: &Desired, results: &BTreeMap<JobAt, JobResult>) -> Option<String> {
    let failed = |dep: &&str| results.iter().any(|(at, r)| at.job == *dep && !r.outcome.is_ok());
    desired.upstream(name).into_iter().find(failed).map(str::to_string)
}

/// Run one job's action on the cluster of `ctx`; `left` is the context of the cluster a `move`
/// leaves (`None` outside a fleet run).
async fn run_one(ctx: &Context, left: Option<&Context>, p: &JobPlan, job: Option<&Job>) -> JobResult {
    if ctx.shutdown.is_cancelled() {
        let reason = SkipReason::ShuttingDown;
        ctx.progress.warn(&p.name, &format!("skipped: {reason}"));
        return skipped(p, reason);
    }
    let started = Instant::now();
    let outcome = match (p.action, job) {
        (Action::Deploy | Action::Resume, Some(job)) => deploy(ctx, p, job).await,
        (Action::Upgrade { mode }, Some(job)) => upgrade(ctx, p, job, mode).await,
        (Action::Adopt, Some(job)) => adopt(ctx, p, job).await,
        (Action::Rename, Some(job)) => super::rename::rename(ctx, p, job).await,
        (Action::Confirm, Some(job)) => confirm(ctx, p, job).await,
        (Action::Suspend, Some(job)) => suspend(ctx, p, job).await,
        (Action::Stop, _) => prune(ctx, p).await,
        (Action::Move, Some(job)) => match left {
            Some(from) => super::moves::run(from, ctx, p, job).await,
            None => Err(StepError::MoveSourceMissing(p.moved_from.clone().unwrap_or_default())),
        },
        _ => Err(StepError::NothingToDo(p.action)),
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(reason) => Outcome::Failed { reason },
    };
    match &outcome {
        Outcome::Done { detail } => ctx.progress.ok(&p.name, &format!("done: {detail}")),
        Outcome::RolledBack { reason } => ctx.progress.warn(&p.name, &format!("rolled back: {reason}")),
        Outcome::Failed { reason } => ctx.progress.error(&p.name, &format!("failed: {reason}")),
        Outcome::Skipped { reason } => ctx.progress.warn(&p.name, &format!("skipped: {reason}")),
    }
    JobResult { name: p.name.clone(), action: p.action, outcome, seconds: started.elapsed().as_secs_f64() }
}

fn live_id(p: &JobPlan) -> Result<JobId, StepError> {
    p.live.as_ref().map(|l| l.id.clone()).ok_or(StepError::NoLiveJob)
}

/// Start a job that is not running, from the state the plan names: for `latest` state, the
/// newest snapshot every source names now (it may be newer than when the plan was made).
async fn deploy(ctx: &Context, p: &JobPlan, job: &Job) -> Result<Outcome, StepError> {
    if let Some(old) = &p.renamed_from {
        super::rename::carry_history(ctx, &job.name, old)?;
    }
    let from = match &p.restore {
        Some(Restore::Path { path, .. }) => Some(path.clone()),
        Some(Restore::Newest { path, taken_at, .. }) => {
            newest_state(ctx, job, Some((path, taken_at))).await?
        }
        Some(Restore::LatestOf { .. } | Restore::FirstDeployment) => newest_state(ctx, job, None).await?,
        Some(Restore::Empty { .. }) | None => None,
        Some(Restore::NewSavepoint | Restore::LastCheckpoint) => {
            return Err(StepError::DeployTakesNoSavepoint);
        }
    };
    let jar = ctx.upload(job).await?;
    let id = ctx.start(&RunSpec::of(job), &jar, from.as_deref(), false).await?;
    ctx.applied(job, &id, Some(&jar))?;
    ctx.health(job, &id).await?;
    Ok(Outcome::Done { detail: Done::Started { job: id, from } })
}

/// The newest snapshot of the spec that every source names now (Flink's answers for each job of
/// the spec it still lists, the ledger, the savepoint and checkpoint directories; see
/// `crate::restore`), including the one the plan chose. `None` only for a first deployment;
/// an error when the newest cannot be used or a place that may hold it cannot be read.
pub(super) async fn newest_state(
    ctx: &Context,
    job: &Job,
    planned: Option<(&String, &String)>,
) -> Result<Option<String>, StepError> {
    let overview =
        ctx.client.jobs_overview().await.map_err(|e| StepError::NewestStateUnlisted(describe(&e)))?;
    let tags = crate::plan::renames::tags(job);
    let listed: Vec<_> = overview
        .jobs
        .iter()
        .filter(|j| identity::parse(&j.jid).is_some_and(|m| tags.contains(&m.name_tag)))
        .map(|j| (j.jid.clone(), j.state.is_terminal()))
        .collect();
    let record = ctx.current_record(&job.name);
    let cluster = restore::gather::cluster_dirs(&ctx.client).await;
    let mut evidence = restore::gather::gather(&ctx.client, job, record.as_ref(), &listed, &cluster).await;
    if let Some((path, taken_at)) = planned {
        let planned_ms = taken_at.parse::<jiff::Timestamp>().map_or(0, |t| t.as_millisecond());
        evidence.add(restore::Candidate {
            path: path.clone(),
            origin: "the plan".into(),
            taken_ms: restore::disk::metadata_time(path).unwrap_or(planned_ms),
            checkpoint_id: None,
            job_id: None,
            problem: restore::disk::problem(path),
        });
    }
    let now = jiff::Timestamp::now().as_millisecond();
    match restore::decide(&evidence) {
        Decision::Use(c) => {
            let of = evidence.found.len();
            ctx.progress.step(
                &job.name,
                &format!(
                    "restoring from {} ({}, {}; the newest of {of} snapshot(s) found)",
                    c.path,
                    c.origin,
                    restore::age(now, c.taken_ms)
                ),
            );
            if let Some(note) = evidence.discarded_since(c, now) {
                ctx.progress.warn(&job.name, &note);
            }
            if let Some((path, _)) =
                planned.filter(|(p, _)| restore::same_path(p) != restore::same_path(&c.path))
            {
                ctx.progress.warn(&job.name, &format!("this is newer than the plan's {path}"));
            }
            Ok(Some(c.path.clone()))
        }
        Decision::FirstDeployment => Ok(None),
        Decision::Refuse(why) => Err(StepError::RestoreRefused(why)),
    }
}

/// Replace the running job by the new version; roll back to the previous one if it fails.
async fn upgrade(ctx: &Context, p: &JobPlan, job: &Job, mode: UpgradeMode) -> Result<Outcome, StepError> {
    let old = live_id(p)?;
    let jar = ctx.upload(job).await.map_err(not_stopped(&old))?; // before the running job is touched
    ready_to_stop(ctx, p, job, &old, mode != UpgradeMode::Stateless).await?;
    let previous = ctx.current_record(&job.name);
    let from = match mode {
        UpgradeMode::LastState => match ctx
            .stop_keeping_last_checkpoint(
                &job.name,
                &old,
                job.upgrade.max_checkpoint_age.as_ref().map(|m| m.value),
            )
            .await?
        {
            Some(checkpoint) => Some(checkpoint),
            None => Some(
                ctx.stop_with_savepoint(
                    &job.name,
                    &old,
                    &SavepointSettings::of(job),
                    SavepointReason::Upgrade,
                )
                .await?,
            ),
        },
        UpgradeMode::Savepoint => Some(
            ctx.stop_with_savepoint(&job.name, &old, &SavepointSettings::of(job), SavepointReason::Upgrade)
                .await?,
        ),
        UpgradeMode::Stateless => {
            ctx.cancel(&job.name, &old).await?;
            None
        }
    };
    let started = match ctx.start(&RunSpec::of(job), &jar, from.as_deref(), false).await {
        Ok(id) => id,
        Err(StartFailure { why, unknown: Some(id) }) => return Ok(start_unknown(why, id, from.as_deref())),
        Err(failure) => {
            return rollback(ctx, job, previous.as_ref(), from.as_deref(), None, failure.why).await;
        }
    };
    if let Err(why) = ctx.health(job, &started).await {
        return rollback(ctx, job, previous.as_ref(), from.as_deref(), Some(&started), why).await;
    }
    ctx.applied(job, &started, Some(&jar))?;
    Ok(Outcome::Done { detail: Done::Upgraded { job: started, from } })
}

/// A step before the stop of `old` failed: the reason says the running job was left as it was
/// (a cluster gone in the middle of a run fails the upload first).
pub(super) fn not_stopped(old: &JobId) -> impl FnOnce(StepError) -> StepError + '_ {
    move |why| StepError::NotStopped { why: Box::new(why), job: old.clone() }
}

/// A start whose outcome is unknown after the old job was stopped: no rollback (two jobs would
/// run from one state), and the reason says where the state is.
pub(super) fn start_unknown(why: StepError, job: JobId, from: Option<&str>) -> Outcome {
    Outcome::Failed {
        reason: StepError::StartOutcomeUnknown { why: Box::new(why), job, state: StateAt::of(from) },
    }
}

/// What an upgrade (and a rename) checks right before it stops the live job `old` for `job`:
/// every task up when the stop takes a savepoint, and task slots for the new job.
pub(super) async fn ready_to_stop(
    ctx: &Context,
    p: &JobPlan,
    job: &Job,
    old: &JobId,
    with_savepoint: bool,
) -> Result<(), StepError> {
    if with_savepoint && p.live.as_ref().is_some_and(|l| !l.all_tasks_up()) {
        // Just started (a rollback a killed run left, a restart): a savepoint needs every task
        // running, and would fail at once.
        ctx.wait_tasks_up(&job.name, old, job.health.timeout.value.as_std()).await;
    }
    // Checked again right before the stop (the plan may be minutes old): a refusal leaves the
    // old version running, and this job failed, so nothing downstream of it is touched.
    ctx.ensure_slots(&job.name, job.parallelism, old).await
}

/// Run the previous version again from the same snapshot, under the name it ran under
/// (`previous.name`: the old name when a rename is rolled back, whose ledger history then moves
/// back to it first). When that is impossible or fails, the job stays stopped and the reason
/// says exactly where its state is.
pub(super) async fn rollback(
    ctx: &Context,
    job: &Job,
    previous: Option<&crate::ledger::Record>,
    from: Option<&str>,
    failed: Option<&JobId>,
    why: StepError,
) -> Result<Outcome, StepError> {
    let why = end_failed(ctx, job, failed, why).await?;
    restart_previous(ctx, job, previous, from, why).await
}

/// The failed version must be confirmed ended before anything starts in its place (two jobs
/// from one snapshot would write the same sinks), and is marked rejected: whatever it
/// checkpointed is never a restore source. Gives back `why` when it has ended.
pub(super) async fn end_failed(
    ctx: &Context,
    job: &Job,
    failed: Option<&JobId>,
    why: StepError,
) -> Result<StepError, StepError> {
    ctx.progress.warn(&job.name, &format!("the new version failed: {why}"));
    let Some(id) = failed else { return Ok(why) };
    match ctx.is_active(id).await {
        Some(false) => {}
        Some(true) => {
            if let Err(cancel) = ctx.cancel(&job.name, id).await {
                let why = Box::new(why);
                return Err(StepError::FailedVersionNotCancelled { why, cancel: Box::new(cancel) });
            }
        }
        None => return Err(StepError::FailedVersionInDoubt { why: Box::new(why), job: id.clone() }),
    }
    ctx.record(&job.name, |r| r.reject(id))?;
    Ok(why)
}

/// Start the version `previous` records again on `ctx`'s cluster, from `from` (the state the
/// failed change began with).
pub(super) async fn restart_previous(
    ctx: &Context,
    job: &Job,
    previous: Option<&crate::ledger::Record>,
    from: Option<&str>,
    why: StepError,
) -> Result<Outcome, StepError> {
    let stopped = |why: StepError, because: NoRollback| Outcome::Failed {
        reason: StepError::NotRolledBack { why: Box::new(why), because, state: StateAt::of(from) },
    };
    if !job.health.rollback.value {
        return Ok(stopped(why, NoRollback::Off));
    }
    let (Some(previous), Some(applied), Some(jar)) =
        (previous, previous.and_then(|r| r.applied.as_ref()), previous.and_then(|r| r.jar_id.clone()))
    else {
        return Ok(stopped(why, NoRollback::NoRecord));
    };
    let spec = match RunSpec::previous(applied, &previous.name, job) {
        Ok(spec) => spec,
        Err(e) => return Ok(stopped(why, NoRollback::Cannot(Box::new(e)))),
    };
    let renamed = previous.name != job.name;
    if renamed && let Err(e) = super::rename::move_back(ctx, job, previous) {
        return Ok(stopped(why, NoRollback::RenameNotUndone(Box::new(e))));
    }
    ctx.progress.step(&job.name, "rolling back to the previous version");
    let id = match ctx.start(&spec, &jar, from, true).await {
        Ok(id) => id,
        Err(e) => return Ok(stopped(why, NoRollback::StartFailed(Box::new(e.why)))),
    };
    ctx.record(&previous.name, |r| {
        r.job_id = Some(id.clone());
        r.started_from = from.map(str::to_owned);
        r.pending = None;
    })?;
    let renamed_back = renamed.then(|| previous.name.clone());
    match ctx.health_as(job, &id, &previous.name).await {
        Ok(_) => Ok(Outcome::RolledBack { reason: RolledBack { why, running: id, renamed_back } }),
        Err(e) => Ok(Outcome::Failed {
            reason: StepError::RollbackUnhealthy { why: Box::new(why), job: id, unhealthy: Box::new(e) },
        }),
    }
}

/// Take over an unmanaged job: savepoint it, run the spec's version under management from it.
async fn adopt(ctx: &Context, p: &JobPlan, job: &Job) -> Result<Outcome, StepError> {
    let old = live_id(p)?;
    let jar = ctx.upload(job).await.map_err(not_stopped(&old))?;
    ctx.ensure_slots(&job.name, job.parallelism, &old).await?;
    let from =
        ctx.stop_with_savepoint(&job.name, &old, &SavepointSettings::of(job), SavepointReason::Adopt).await?;
    let id = match ctx.start(&RunSpec::of(job), &jar, Some(&from), false).await {
        Ok(id) => id,
        Err(e) => return Err(StepError::AdoptNotStarted { cause: Box::new(e.why), old, from }),
    };
    ctx.applied(job, &id, Some(&jar))?;
    if let Err(e) = ctx.health(job, &id).await {
        return Err(StepError::AdoptedUnhealthy { cause: Box::new(e), job: id, from });
    }
    Ok(Outcome::Done { detail: Done::Adopted { job: id, from } })
}

/// Finish what an interrupted upgrade left: its new version runs but never passed the health
/// gate, and the ledger still names the previous version (the rollback target). Healthy: record
/// it. Not: roll back to the previous version from the snapshot the new one started from.
async fn confirm(ctx: &Context, p: &JobPlan, job: &Job) -> Result<Outcome, StepError> {
    let id = live_id(p)?;
    let previous = ctx.current_record(&job.name);
    let from = match previous.as_ref().and_then(|r| r.pending.clone()) {
        Some(crate::ledger::Pending::Starting { from, .. }) => from,
        _ => None,
    };
    ctx.progress.step(&job.name, &format!("an interrupted run started {id}: finishing its health gate"));
    if let Err(why) = ctx.health(job, &id).await {
        return rollback(ctx, job, previous.as_ref(), from.as_deref(), Some(&id), why).await;
    }
    let jar = ctx.upload(job).await?; // the upload it was started from, found by its content
    ctx.applied(job, &id, Some(&jar))?;
    Ok(Outcome::Done { detail: Done::Confirmed { job: id } })
}

/// Stop with a savepoint and keep it stopped; the savepoint is where a resume starts.
async fn suspend(ctx: &Context, p: &JobPlan, job: &Job) -> Result<Outcome, StepError> {
    let old = live_id(p)?;
    let sp = ctx
        .stop_with_savepoint(&job.name, &old, &SavepointSettings::of(job), SavepointReason::Suspend)
        .await?;
    ctx.record(&job.name, |r| r.applied = Some(crate::ledger::AppliedSpec::of(job)))?;
    Ok(Outcome::Done { detail: Done::Suspended { savepoint: sp } })
}

/// Stop a job whose spec is gone (`--prune`), keeping its savepoint.
async fn prune(ctx: &Context, p: &JobPlan) -> Result<Outcome, StepError> {
    let old = live_id(p)?;
    let record = ctx.current_record(&p.name);
    let settings = SavepointSettings::remembered(record.as_ref());
    let sp = ctx.stop_with_savepoint(&p.name, &old, &settings, SavepointReason::Prune).await?;
    Ok(Outcome::Done { detail: Done::Stopped { savepoint: sp } })
}

/// One line per outcome kind, e.g. `Apply complete: 1 deployed, 2 upgraded, 0 failed.`
pub fn summary<'a>(results: impl IntoIterator<Item = &'a JobResult>) -> String {
    let results: Vec<&JobResult> = results.into_iter().collect();
    let count = |f: &dyn Fn(&JobResult) -> bool| results.iter().filter(|r| f(r)).count();
    let done = |pred: &dyn Fn(Action) -> bool| count(&|r| r.outcome.is_ok() && pred(r.action));
    let deployed = done(&|a| matches!(a, Action::Deploy | Action::Resume | Action::Adopt));
    let upgraded = done(&|a| matches!(a, Action::Upgrade { .. } | Action::Rename | Action::Confirm));
    let stopped = done(&|a| matches!(a, Action::Suspend | Action::Stop));
    let updated = done(&|a| a == Action::UpdateSettings);
    let moved = done(&|a| a == Action::Move);
    let rolled = count(&|r| matches!(r.outcome, Outcome::RolledBack { .. }));
    let failed = count(&|r| matches!(r.outcome, Outcome::Failed { .. }));
    let skipped = count(&|r| matches!(r.outcome, Outcome::Skipped { .. }));
    let head = if failed + rolled + skipped == 0 { "Apply complete" } else { "Apply finished with errors" };
    let mut s =
        format!("{head}: {deployed} deployed, {upgraded} upgraded, {stopped} stopped, {updated} updated");
    if moved > 0 {
        s.push_str(&format!(", {moved} moved"));
    }
    if rolled > 0 {
        s.push_str(&format!(", {rolled} rolled back"));
    }
    if skipped > 0 {
        s.push_str(&format!(", {skipped} skipped"));
    }
    s.push_str(&format!(", {failed} failed."));
    s
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::apply::progress::Progress;
    use crate::flink::{Client, ClientConfig};
    use crate::ledger::Ledger;
    use crate::plan::fixtures::{JobExt, desired, job};
    use crate::plan::{Observed, Options, plan};

    /// Nothing listens on the cluster address: any request the executor sent would fail, so a
    /// skip is the only outcome that proves nothing was attempted.
    fn context(state: &std::path::Path) -> Context {
        let client = Client::new(ClientConfig::new("http://127.0.0.1:9")).unwrap();
        let progress = Progress::to(Box::new(std::io::sink()));
        Context {
            poll: Duration::from_millis(10),
            ..Context::new(client, Ledger::new(state), BTreeMap::new(), progress)
        }
    }

    #[tokio::test]
    async fn a_failure_on_one_cluster_skips_its_dependents_on_another_and_spares_the_unrelated() {
        use crate::plan::fleet::{
            self,
            tests::{observed, on},
        };
        let specs = desired([
            on("eu", job("ingest")),
            on("us", job("enrich").after(&["ingest"])),
            on("us", job("audit")),
        ]);
        let inputs = [observed("eu", vec![], BTreeMap::new()), observed("us", vec![], BTreeMap::new())];
        let fleet = fleet::plan(&specs, &inputs, &Options::default());
        let (eu, us) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (eu_ctx, us_ctx) = (context(eu.path()), context(us.path()));
        let runs = [
            ClusterRun { name: "eu", ctx: &eu_ctx, plan: fleet.plan_of("eu").unwrap() },
            ClusterRun { name: "us", ctx: &us_ctx, plan: fleet.plan_of("us").unwrap() },
        ];
        let results = execute_fleet(&runs, &fleet.waves, &specs, 4).await;
        let got: Vec<(&str, &str, &Outcome)> =
            results.iter().map(|(c, r)| (c.as_str(), r.name.as_str(), &r.outcome)).collect();
        // Nothing listens: `ingest` and `audit` fail trying; `enrich` is never tried.
        assert!(
            matches!(
                got.as_slice(),
                [
                    ("eu", "ingest", Outcome::Failed { .. }),
                    ("us", "audit", Outcome::Failed { .. }),
                    ("us", "enrich", Outcome::Skipped { reason: SkipReason::UpstreamFailed { upstream } }),
                ] if upstream == "ingest"
            ),
            "{got:?}"
        );
    }

    /// Its cluster gone when the upgrade begins (the upload, its first call, is refused): the
    /// reason says the running job was not stopped, so that the user knows where it is.
    #[tokio::test]
    async fn an_upgrade_whose_cluster_is_gone_says_the_running_job_was_not_stopped() {
        use crate::plan::fixtures::{ledger, live_of, record_of};
        let (old, new) = (job("orders"), job("orders").with_parallelism(2));
        let running = live_of(&old, 1, crate::flink::JobState::Running);
        let specs = desired([new]);
        let observed = Observed { jobs: vec![running.clone()], ..Default::default() };
        let plan = plan(&specs, &observed, &ledger([record_of(&old)]), &Options::default());
        let state = tempfile::tempdir().unwrap();
        let results = execute(&context(state.path()), &plan, &specs, 1).await;
        let [r] = results.as_slice() else { panic!("{results:?}") };
        let Outcome::Failed { reason } = &r.outcome else { panic!("{:?}", r.outcome) };
        assert!(matches!(reason, StepError::NotStopped { job, .. } if *job == running.id), "{reason:?}");
        let said = reason.to_string();
        assert!(said.starts_with("uploading the jar failed: "), "{said}");
        assert!(
            said.ends_with(&format!("{} was not stopped: the running version is left as it was", running.id))
        );
    }

    #[tokio::test]
    async fn a_shutdown_skips_every_action_as_a_shutdown_and_its_dependents_as_upstream_failures() {
        let specs = desired([job("orders"), job("billing").after(&["orders"])]);
        let plan = plan(&specs, &Observed::default(), &BTreeMap::new(), &Options::default());
        let state = tempfile::tempdir().unwrap();
        let ctx = context(state.path());
        ctx.shutdown.cancel();
        let results = execute(&ctx, &plan, &specs, 2).await;
        let reasons: Vec<(&str, &Outcome)> = results.iter().map(|r| (r.name.as_str(), &r.outcome)).collect();
        assert!(
            matches!(
                reasons.as_slice(),
                [
                    ("billing", Outcome::Skipped { reason: SkipReason::UpstreamFailed { upstream } }),
                    ("orders", Outcome::Skipped { reason: SkipReason::ShuttingDown }),
                ] if upstream == "orders"
            ),
            "{reasons:?}"
        );
        assert!(summary(&results).contains("2 skipped"), "{}", summary(&results));
    }
}

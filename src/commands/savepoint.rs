//! `flinkops savepoint`: a savepoint of running managed jobs now, recorded in the ledger's
//! history (reason `manual`). The jobs keep running.
//!
//! Which live job is a spec's is decided by the same plan `apply` makes, so a job the plan would
//! not act on (a conflict, another state directory's job) gets no savepoint either. Holds the
//! cluster's apply lock: no savepoint is triggered while an upgrade may be stopping the job.

use std::io::Write;
use std::time::Instant;

use futures_util::StreamExt;
use serde::Serialize;

use super::CommandError;
use super::fleet_parts::{self, Group};
use crate::apply::steps::{Context, SavepointSettings};
use crate::cli::{ColorChoice, OutputFormat, SavepointArgs};
use crate::flink::{JobId, JobState};
use crate::ledger::SavepointReason;
use crate::output::Styles;
use crate::pipeline::Threads;
use crate::plan::{Action, Plan};
use crate::{exit, render, spec};

/// What happened to one job.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "result")]
enum Taken {
    /// Savepoint completed; the job keeps running.
    Completed {
        job: String,
        job_id: JobId,
        path: String,
        seconds: f64,
    },
    Failed {
        job: String,
        error: String,
    },
    /// Nothing to take a savepoint of (all-jobs mode only: a named job is `Failed`).
    Skipped {
        job: String,
        reason: String,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    format_version: u32,
    jobs: &'a [Taken],
}

pub fn run(args: &SavepointArgs, color: ColorChoice, quiet: bool) -> Result<u8, CommandError> {
    super::block_on(Threads::Workers, savepoint(args, color, quiet))
}

async fn savepoint(args: &SavepointArgs, color: ColorChoice, quiet: bool) -> Result<u8, CommandError> {
    let target = super::Target {
        command: "savepoint",
        path: &args.path,
        jobs: &args.jobs,
        connection: &args.connection,
        state: &args.state,
        lock_timeout: args.lock_timeout,
    };
    let Some(desired) = super::load_target(&target, color) else {
        return Ok(exit::ERROR);
    };
    if desired.clusters.len() > 1 {
        return fleet(args, &target, desired, color, quiet).await;
    }
    let super::Locked { desired, client, ledger, plan, records, lock: _lock } =
        super::plan_locked(&target, desired, quiet).await?;
    let ctx = crate::pipeline::context(client, ledger, records, color, quiet);
    let results = take_all(&ctx, &plan, &desired, args).await;
    report(&results, args.output, color).map_err(CommandError::Output)?;
    Ok(if failed(&results) { exit::ERROR } else { exit::OK })
}

/// Several clusters: each job on its spec's cluster, under that cluster's lock, recorded in its
/// ledger; every cluster at once.
async fn fleet(
    args: &SavepointArgs,
    target: &super::Target<'_>,
    desired: spec::Desired,
    color: ColorChoice,
    quiet: bool,
) -> Result<u8, CommandError> {
    let locked = fleet_parts::plan_locked(target, desired, quiet).await?;
    let groups: Vec<Group<Vec<Taken>>> = fleet_parts::each_part(&locked.clusters, |_, p| async move {
        take_all(&p.context(color, quiet), &p.plan, &p.desired, args).await
    })
    .await;
    report_fleet(&groups, args.output, color).map_err(CommandError::Output)?;
    let failed =
        fleet_parts::any_failed(&groups) || groups.iter().any(|g| g.part.as_ref().is_ok_and(|r| failed(r)));
    Ok(if failed { exit::ERROR } else { exit::OK })
}

/// A savepoint of each chosen running job of `plan`, `--concurrency` at once; by job name.
async fn take_all(ctx: &Context, plan: &Plan, desired: &spec::Desired, args: &SavepointArgs) -> Vec<Taken> {
    let (targets, mut results) = choose(plan, desired, &args.jobs);
    let taken: Vec<Taken> = futures_util::stream::iter(targets)
        .map(|(job, live)| take(ctx, job, live))
        .buffer_unordered(usize::from(args.concurrency))
        .collect()
        .await;
    results.extend(taken);
    results.sort_by(|a, b| name(a).cmp(name(b)));
    results
}

fn failed(results: &[Taken]) -> bool {
    results.iter().any(|t| matches!(t, Taken::Failed { .. }))
}

/// The specs to take a savepoint of, with their running job, and what is left out and why.
fn choose<'a>(
    plan: &Plan,
    desired: &'a spec::Desired,
    named: &[String],
) -> (Vec<(&'a spec::Job, JobId)>, Vec<Taken>) {
    let (mut targets, mut left) = (Vec::new(), Vec::new());
    for (name, job) in &desired.jobs {
        if !named.is_empty() && !named.contains(name) {
            continue;
        }
        let p = plan.jobs.iter().find(|p| &p.name == name);
        let live = p.and_then(|p| p.live.as_ref()).filter(|l| l.state == JobState::Running);
        let why = match (p, live) {
            // A conflict about the next version only leaves the running job this spec's own.
            (Some(p), _) if p.in_doubt() => Some(format!("flinkops cannot act on it: {}", p.reason)),
            (Some(p), Some(_)) if p.action == Action::Adopt => {
                Some("its running job is not managed by flinkops yet (apply --adopt)".into())
            }
            (_, Some(live)) => {
                targets.push((job, live.id.clone()));
                None
            }
            (_, None) => Some("it has no running job".into()),
        };
        if let Some(reason) = why {
            let job = name.clone();
            left.push(if named.is_empty() {
                Taken::Skipped { job, reason }
            } else {
                Taken::Failed { job, error: reason }
            });
        }
    }
    (targets, left)
}

async fn take(ctx: &Context, job: &spec::Job, live: JobId) -> Taken {
    let started = Instant::now();
    match ctx.take_savepoint(&job.name, &live, &SavepointSettings::of(job), SavepointReason::Manual).await {
        Ok(path) => Taken::Completed {
            job: job.name.clone(),
            job_id: live,
            path,
            seconds: started.elapsed().as_secs_f64(),
        },
        Err(error) => {
            ctx.progress.error(&job.name, &error.to_string());
            Taken::Failed { job: job.name.clone(), error: error.to_string() }
        }
    }
}

fn name(t: &Taken) -> &str {
    match t {
        Taken::Completed { job, .. } | Taken::Failed { job, .. } | Taken::Skipped { job, .. } => job,
    }
}

fn report(results: &[Taken], output: OutputFormat, color: ColorChoice) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if output == OutputFormat::Json {
        serde_json::to_writer_pretty(&mut out, &Document { format_version: 1, jobs: results })?;
        writeln!(out)?;
        return out.flush();
    }
    lines(results, &Styles::stdout(color), &mut out)?;
    out.flush()
}

fn lines(results: &[Taken], styles: &Styles, out: &mut dyn Write) -> std::io::Result<()> {
    for t in results {
        let line = match t {
            Taken::Completed { job, path, seconds, .. } => {
                let ok = styles.ok;
                format!("{ok}✓{ok:#}  {job}: savepoint {} ({seconds:.1}s)", render::clean(path))
            }
            Taken::Failed { job, error } => {
                let err = styles.error;
                format!("{err}✗{err:#}  {job}: {}", render::clean(error))
            }
            Taken::Skipped { job, reason } => format!("-  {job}: skipped, {reason}"),
        };
        writeln!(out, "{line}")?;
    }
    if results.is_empty() {
        writeln!(out, "No specs, so no savepoints.")?;
    }
    Ok(())
}

/// The JSON report over several clusters (`formatVersion: 2`): each cluster, and each job's
/// result with its cluster.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FleetDocument<'a> {
    format_version: u32,
    clusters: Vec<fleet_parts::ClusterEntry<'a>>,
    jobs: Vec<fleet_parts::InCluster<'a, Taken>>,
}

fn report_fleet(
    groups: &[Group<Vec<Taken>>],
    output: OutputFormat,
    color: ColorChoice,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if output == OutputFormat::Json {
        let doc = FleetDocument {
            format_version: render::FLEET_FORMAT_VERSION,
            clusters: fleet_parts::ClusterEntry::all(groups),
            jobs: fleet_parts::flat(groups),
        };
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
        return out.flush();
    }
    let styles = Styles::stdout(color);
    fleet_parts::write_grouped(groups, &styles, &mut out, |r, out| lines(r, &styles, out))?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures::*;
    use crate::plan::{ConflictScope, Observed, Options, plan};

    fn situation() -> (Plan, spec::Desired, JobId) {
        let (running, stopped) = (job("running"), job("stopped"));
        let live = live_of(&running, 1, JobState::Running);
        let id = live.id.clone();
        let d = desired([running.clone(), stopped.clone()]);
        let observed =
            Observed { jobs: vec![live, live_of(&stopped, 2, JobState::Canceled)], ..Default::default() };
        let p = plan(&d, &observed, &ledger([record_of(&running), record_of(&stopped)]), &Options::default());
        (p, d, id)
    }

    #[test]
    fn every_running_job_is_chosen_and_the_others_are_skipped_unless_named() {
        let (p, d, id) = situation();
        let (targets, left) = choose(&p, &d, &[]);
        assert_eq!(targets.iter().map(|(j, l)| (j.name.as_str(), l)).collect::<Vec<_>>(), [("running", &id)]);
        assert!(
            matches!(&left[..], [Taken::Skipped { job, reason }] if job == "stopped" && reason.contains("no running job"))
        );
        let (targets, left) = choose(&p, &d, &["stopped".to_string()]);
        assert!(targets.is_empty());
        assert!(
            matches!(&left[..], [Taken::Failed { job, .. }] if job == "stopped"),
            "a named job that does not run fails"
        );
    }

    /// A conflict about the next version only (here: wider than the cluster) does not stop a
    /// savepoint of the running version; one about the job itself (another state directory's job)
    /// does.
    #[test]
    fn a_conflict_about_the_next_version_only_still_savepoints_the_running_job() {
        let old = job("running");
        let live = live_of(&old, 1, JobState::Running);
        let id = live.id.clone();
        let d = desired([old.clone().with_parallelism(8)]);
        let observed = Observed { jobs: vec![live], total_slots: Some(4), ..Default::default() };
        let p = plan(&d, &observed, &ledger([record_of(&old)]), &Options::default());
        assert_eq!(p.jobs[0].action, Action::Conflict);
        assert_eq!(p.jobs[0].conflict, Some(ConflictScope::NextVersion));
        let (targets, left) = choose(&p, &d, &[]);
        assert_eq!(targets.iter().map(|(j, l)| (j.name.as_str(), l)).collect::<Vec<_>>(), [("running", &id)]);
        assert!(left.is_empty());
        // The record names another job: this live job is not this spec's to act on.
        let mut theirs = record_of(&old);
        theirs.job_id = Some(live_of(&old, 7, JobState::Running).id);
        let p = plan(&d, &observed, &ledger([theirs]), &Options::default());
        assert_eq!(p.jobs[0].conflict, Some(ConflictScope::Job));
        let (targets, left) = choose(&p, &d, &[]);
        assert!(targets.is_empty());
        assert!(matches!(&left[..], [Taken::Skipped { reason, .. }] if reason.contains("cannot act on it")));
    }

    /// `protect: true` blocking a `last-state` upgrade blocks the next version, not savepoints of
    /// the running one.
    #[test]
    fn a_protected_jobs_blocked_upgrade_still_savepoints_the_running_job() {
        let mut old = job("running").mode(crate::spec::model::UpgradeMode::LastState);
        old.protect = true;
        let live = live_of(&old, 1, JobState::Running);
        let id = live.id.clone();
        let d = desired([old.clone().with_parallelism(2)]);
        let observed = Observed { jobs: vec![live], ..Default::default() };
        let p = plan(&d, &observed, &ledger([record_of(&old)]), &Options::default());
        assert_eq!(p.jobs[0].action, Action::Conflict, "{:?}", p.problems);
        let (targets, left) = choose(&p, &d, &[]);
        assert_eq!(targets.iter().map(|(j, l)| (j.name.as_str(), l)).collect::<Vec<_>>(), [("running", &id)]);
        assert!(left.is_empty());
    }
}

//! `flinkops gc`: dispose of the savepoints retention no longer keeps (`retention` decides).
//!
//! Order, so that no run loses track of a snapshot: the entry is marked `disposing` in the ledger,
//! then Flink is asked (`POST /savepoint-disposal`, polled until it says COMPLETED without a
//! failure cause), and only then is the entry removed. A failed or interrupted disposal leaves the
//! entry, marked, with the reason; restores no longer consider it, and the next gc tries again.
//! Holds the cluster's apply lock, so no upgrade picks a snapshot while it is being disposed of.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::apply::command::{Error, run_to_exit};
use crate::apply::confirm::{self, Decision as Confirmed};
use crate::apply::progress::Progress;
use crate::apply::steps::Context;
use crate::cli::{ColorChoice, GcArgs, OutputFormat};
use crate::flink::Client;
use crate::ledger::{Disposing, Record};
use crate::output::Styles;
use crate::plan::Plan;
use crate::retention::{self, Decision, Dispose, Keep, Running, Verdict};
use crate::spec::Desired;
use crate::{exit, render};

/// The result of one disposal.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disposal {
    pub job: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    format_version: u32,
    dry_run: bool,
    snapshots: &'a [Decision],
    disposals: &'a [Disposal],
}

pub fn run(args: &GcArgs, color: ColorChoice, quiet: bool) -> ExitCode {
    run_to_exit(color, gc(args, color, quiet))
}

async fn gc(args: &GcArgs, color: ColorChoice, quiet: bool) -> Result<u8, Error> {
    let mut kept_by_plans = BTreeSet::new();
    for file in &args.keep_plan {
        kept_by_plans.extend(paths_in_plan(file)?);
    }
    let target = super::Target {
        command: "gc",
        path: &args.path,
        jobs: &args.jobs,
        connection: &args.connection,
        state: &args.state,
        lock_timeout: args.lock_timeout,
    };
    let Some(super::Locked { desired, client, ledger, plan, records, lock: _lock }) =
        super::plan_locked(&target, color, quiet).await?
    else {
        return Ok(exit::ERROR);
    };
    let (decisions, warnings) = decide(&client, &desired, &records, &plan, &args.jobs, &kept_by_plans).await;
    for w in warnings {
        eprintln!("warning: {}", render::clean(&w));
    }
    let doomed: Vec<&Decision> =
        decisions.iter().filter(|d| matches!(d.verdict, Verdict::Dispose { .. })).collect();
    if args.output == OutputFormat::Text {
        show(&decisions, &Styles::stdout(color)).map_err(Error::Output)?;
    }
    if doomed.is_empty() || args.dry_run {
        if args.output == OutputFormat::Json {
            report_json(&decisions, &[], args.dry_run)?;
        }
        return Ok(exit::OK);
    }
    let context = format!("{} savepoint(s) of the Flink cluster at {}", doomed.len(), client.base_url());
    if confirm::confirm_on_terminal(&context, args.auto_approve)? == Confirmed::Declined {
        eprintln!("gc cancelled.");
        return Ok(exit::ERROR);
    }
    let ctx = Context::new(client, ledger, records, Progress::stderr(Styles::stderr(color), quiet));
    let results = dispose_all(&ctx, &desired, &doomed).await;
    match args.output {
        OutputFormat::Json => report_json(&decisions, &results, false)?,
        OutputFormat::Text => summary(&results, &Styles::stdout(color)).map_err(Error::Output)?,
    }
    Ok(if results.iter().all(|r| r.error.is_none()) { exit::OK } else { exit::ERROR })
}

/// The verdict on every recorded snapshot of the specs (only those named in `only`, when it
/// names any), as gc decides it; and a warning for each job left out because Flink could not say
/// what its running job restored from. Shared by `flinkops gc` and `watch --gc-every`.
pub async fn decide(
    client: &Client,
    desired: &Desired,
    records: &BTreeMap<String, Record>,
    plan: &Plan,
    only: &[String],
    kept_by_plans: &BTreeSet<String>,
) -> (Vec<Decision>, Vec<String>) {
    let running = running_jobs(client, plan).await;
    let (mut decisions, mut warnings) = (Vec::new(), Vec::new());
    for (name, job) in desired.jobs.iter().filter(|(n, _)| only.is_empty() || only.contains(n)) {
        let Some(record) = records.get(name) else { continue };
        if plan.jobs.iter().any(|p| &p.name == name && p.in_doubt()) {
            // flinkops cannot act on the job (another state directory's, an unreadable record):
            // neither on its snapshots. A conflict about its next version only (too wide, a
            // savepoint timeout too short) leaves its running job and snapshots its own.
            continue;
        }
        let running = match running.get(name) {
            Some(Err(why)) => {
                warnings.push(format!(
                    "`{name}`: nothing of it is disposed of: Flink could not say which snapshot its running job \
                     restored from ({why})"
                ));
                continue;
            }
            Some(Ok(run)) => Some(run),
            None => None,
        };
        let input = retention::Job {
            record,
            retain: job.savepoint.retain.as_ref(),
            restore_from: &job.restore.from.value,
            running,
            kept_by_plans,
        };
        decisions.extend(retention::decide(&input, jiff::Timestamp::now()));
    }
    (decisions, warnings)
}

/// Dispose of `doomed`, one after the other, each with its spec's savepoint timeout.
pub async fn dispose_all(ctx: &Context, desired: &Desired, doomed: &[&Decision]) -> Vec<Disposal> {
    let mut results = Vec::new();
    for d in doomed {
        let timeout =
            desired.jobs.get(&d.job).map_or(Duration::from_secs(600), |j| j.savepoint.timeout.value.as_std());
        results.push(dispose(ctx, d, timeout).await);
    }
    results
}

/// Every string in a saved plan that looks like a snapshot path: what it may restore from.
fn paths_in_plan(file: &Path) -> Result<BTreeSet<String>, Error> {
    let bytes = std::fs::read(file).map_err(|source| Error::PlanFile { path: file.into(), source })?;
    let plan: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::NotAPlan { path: file.into(), reason: e.to_string() })?;
    serde_json::from_value::<Plan>(plan.clone())
        .map_err(|e| Error::NotAPlan { path: file.into(), reason: e.to_string() })?;
    let mut out = BTreeSet::new();
    let mut stack = vec![&plan];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::String(s) if s.contains(":/") || s.starts_with('/') => {
                out.insert(s.clone());
            }
            serde_json::Value::Array(items) => stack.extend(items),
            serde_json::Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    Ok(out)
}

/// Flink's view of each spec's running job: what it restored from, and whether it has completed
/// a newer snapshot since; an error when Flink cannot say (that job's snapshots then all stay).
async fn running_jobs(client: &Client, plan: &Plan) -> BTreeMap<String, Result<Running, String>> {
    let mut out = BTreeMap::new();
    for p in &plan.jobs {
        let Some(live) = p.live.as_ref().filter(|l| !l.state.is_terminal()) else { continue };
        let run = client.checkpoints(&live.id).await.map_err(|e| e.to_string()).map(|cp| {
            let restored = cp.latest.restored;
            let newest = [cp.latest.completed, cp.latest.savepoint].into_iter().flatten().map(|c| c.id).max();
            Running {
                newer_since_restore: restored.as_ref().is_none_or(|r| newest.is_some_and(|n| n > r.id)),
                restored_from: restored.and_then(|r| r.external_path),
            }
        });
        out.insert(p.name.clone(), run);
    }
    out
}

async fn dispose(ctx: &Context, d: &Decision, timeout: Duration) -> Disposal {
    let mark = |failed: Option<String>| {
        let path = d.path.clone();
        move |r: &mut crate::ledger::Record| {
            if let Some(s) = r.savepoints.iter_mut().find(|s| s.path == path) {
                let started_at = s.disposing.as_ref().map_or_else(now, |m| m.started_at.clone());
                s.disposing = Some(Disposing { started_at, failed });
            }
        }
    };
    let failed = |error: String| Disposal { job: d.job.clone(), path: d.path.clone(), error: Some(error) };
    if let Err(e) = ctx.record(&d.job, mark(None)) {
        return failed(format!("not disposed: the ledger could not be written: {e}"));
    }
    ctx.progress.step(&d.job, &format!("disposing of {}", d.path));
    let outcome = ctx.client.dispose_savepoint(&d.path, timeout).await;
    match outcome {
        Ok(()) => {
            let path = d.path.clone();
            if let Err(e) = ctx.record(&d.job, move |r| r.savepoints.retain(|s| s.path != path)) {
                return failed(format!(
                    "disposed, but the ledger still lists it (it could not be written: {e})"
                ));
            }
            ctx.progress.ok(&d.job, &format!("disposed of {}", d.path));
            Disposal { job: d.job.clone(), path: d.path.clone(), error: None }
        }
        Err(e) => {
            let why = crate::output::error_chain(&e);
            let _ = ctx.record(&d.job, mark(Some(why.clone())));
            let error = format!("the disposal failed, the entry stays in the ledger (gc tries again): {why}");
            ctx.progress.error(&d.job, &error);
            failed(error)
        }
    }
}

fn now() -> String {
    jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| jiff::Timestamp::now()).to_string()
}

fn show(decisions: &[Decision], styles: &Styles) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if decisions.is_empty() {
        writeln!(out, "No savepoints in the ledger for these specs.")?;
        return out.flush();
    }
    let (remove, dim) = (styles.remove, styles.dim);
    for d in decisions {
        let (mark, why, style) = match d.verdict {
            Verdict::Dispose { why } => ("-", disposal_words(why), remove),
            Verdict::Keep { why } => (" ", keep_words(why).to_string(), dim),
        };
        let what = format!("{} ({}, {})", render::clean(&d.path), d.reason.as_str(), d.taken_at);
        writeln!(out, "{style}{mark} {}: {what}: {why}{style:#}", render::clean(&d.job))?;
    }
    let n = decisions.iter().filter(|d| matches!(d.verdict, Verdict::Dispose { .. })).count();
    writeln!(out, "\n{n} to dispose of, {} kept.", decisions.len() - n)?;
    out.flush()
}

fn keep_words(why: Keep) -> &'static str {
    match why {
        Keep::Newest => "kept: the newest snapshot",
        Keep::RollbackTarget => "kept: the running version started from it (rollback target)",
        Keep::PendingStep => "kept: a pending step starts from it",
        Keep::NamedBySpec => "kept: the spec's restore.from names it",
        Keep::NamedByPlan => "kept: a --keep-plan file names it",
        Keep::RunningJobRestoredFromIt => {
            "kept: the running job restored from it and has no newer checkpoint yet"
        }
        Keep::Checkpoint => "kept: a retained checkpoint (Flink's own retention retires it)",
        Keep::WithinRetention => "kept: within savepoint.retain",
    }
}

fn disposal_words(why: Dispose) -> String {
    match why {
        Dispose::BeyondCount { count } => format!("dispose: beyond savepoint.retain.count ({count})"),
        Dispose::OlderThan { max_age_seconds } => {
            format!(
                "dispose: older than savepoint.retain.maxAge ({})",
                crate::status::human_duration(max_age_seconds)
            )
        }
        Dispose::Unfinished => "dispose: an earlier disposal did not finish".to_string(),
    }
}

fn summary(results: &[Disposal], styles: &Styles) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let failed = results.iter().filter(|r| r.error.is_some()).count();
    for r in results.iter().filter(|r| r.error.is_some()) {
        let err = styles.error;
        let why = r.error.as_deref().unwrap_or_default();
        writeln!(
            out,
            "{err}✗{err:#} {}: {}: {}",
            render::clean(&r.job),
            render::clean(&r.path),
            render::clean(why)
        )?;
    }
    writeln!(out, "gc complete: {} disposed of, {failed} failed.", results.len() - failed)?;
    out.flush()
}

fn report_json(decisions: &[Decision], disposals: &[Disposal], dry_run: bool) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    let doc = Document { format_version: 1, dry_run, snapshots: decisions, disposals };
    serde_json::to_writer_pretty(&mut out, &doc).map_err(|e| Error::Output(e.into()))?;
    writeln!(out).and_then(|()| out.flush()).map_err(Error::Output)
}

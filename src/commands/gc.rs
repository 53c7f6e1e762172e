//! `flinkops gc`: dispose of the savepoints retention no longer keeps (`retention` decides).
//!
//! The deciding and disposing live in `apply::dispose` (shared with `watch --gc-every`), in an
//! order that never loses track of a snapshot; this command confirms, shows and reports. Holds the
//! cluster's apply lock, so no upgrade picks a snapshot while it is being disposed of.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::CommandError;
use super::fleet_parts::{self, Group};
use crate::apply::confirm::{self, Decision as Confirmed};
use crate::apply::dispose::{self, Disposal};
use crate::cli::{ColorChoice, GcArgs, OutputFormat};
use crate::output::Styles;
use crate::pipeline::Threads;
use crate::plan::Plan;
use crate::retention::{Decision, Dispose, Keep, Verdict};
use crate::{exit, render};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    format_version: u32,
    dry_run: bool,
    snapshots: &'a [Decision],
    disposals: &'a [Disposal],
}

pub fn run(args: &GcArgs, color: ColorChoice, quiet: bool) -> Result<u8, CommandError> {
    super::block_on(Threads::Workers, gc(args, color, quiet))
}

async fn gc(args: &GcArgs, color: ColorChoice, quiet: bool) -> Result<u8, CommandError> {
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
    let Some(desired) = super::load_target(&target, color) else {
        return Ok(exit::ERROR);
    };
    if desired.clusters.len() > 1 {
        return fleet(args, &target, desired, &kept_by_plans, color, quiet).await;
    }
    let super::Locked { desired, client, ledger, plan, records, lock: _lock } =
        super::plan_locked(&target, desired, quiet).await?;
    let (decisions, warnings) =
        dispose::decide(&client, &desired, &records, &plan, &args.jobs, &kept_by_plans).await;
    for w in warnings {
        eprintln!("warning: {}", render::clean(&w));
    }
    let doomed = doomed(&decisions);
    if args.output == OutputFormat::Text {
        let mut out = std::io::stdout().lock();
        show(&decisions, &Styles::stdout(color), &mut out)
            .and_then(|()| out.flush())
            .map_err(CommandError::Output)?;
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
    let ctx = crate::pipeline::context(client, ledger, records, color, quiet);
    let results = dispose::dispose_all(&ctx, &desired, &doomed).await;
    match args.output {
        OutputFormat::Json => report_json(&decisions, &results, false)?,
        OutputFormat::Text => {
            let mut out = std::io::stdout().lock();
            summary(&results, &Styles::stdout(color), &mut out)
                .and_then(|()| out.flush())
                .map_err(CommandError::Output)?
        }
    }
    Ok(if results.iter().all(|r| r.error.is_none()) { exit::OK } else { exit::ERROR })
}

fn doomed(decisions: &[Decision]) -> Vec<&Decision> {
    decisions.iter().filter(|d| matches!(d.verdict, Verdict::Dispose { .. })).collect()
}

/// Several clusters: each decides and disposes on its own, under its own lock, with its own
/// ledger; one confirmation for them all.
async fn fleet(
    args: &GcArgs,
    target: &super::Target<'_>,
    desired: crate::spec::Desired,
    kept_by_plans: &BTreeSet<String>,
    color: ColorChoice,
    quiet: bool,
) -> Result<u8, CommandError> {
    let locked = fleet_parts::plan_locked(target, desired, quiet).await?;
    let decided: Vec<Group<Vec<Decision>>> = fleet_parts::each_part(&locked.clusters, |name, p| async move {
        let (decisions, warnings) =
            dispose::decide(&p.client, &p.desired, &p.records, &p.plan, &args.jobs, kept_by_plans).await;
        for w in warnings {
            eprintln!("warning: cluster `{}`: {}", render::clean(name), render::clean(&w));
        }
        decisions
    })
    .await;
    let styles = Styles::stdout(color);
    if args.output == OutputFormat::Text {
        let mut out = std::io::stdout().lock();
        fleet_parts::write_grouped(&decided, &styles, &mut out, |d, out| show(d, &styles, out))
            .and_then(|()| out.flush())
            .map_err(CommandError::Output)?;
    }
    let count: usize = decided.iter().filter_map(|g| g.part.as_ref().ok()).map(|d| doomed(d).len()).sum();
    let some_failed = if fleet_parts::any_failed(&decided) { exit::ERROR } else { exit::OK };
    if count == 0 || args.dry_run {
        if args.output == OutputFormat::Json {
            report_fleet_json(&decided, &[], args.dry_run)?;
        }
        return Ok(some_failed);
    }
    let names: Vec<&str> = decided.iter().filter(|g| g.part.is_ok()).map(|g| g.name.as_str()).collect();
    let context = format!("{count} savepoint(s) of the Flink clusters {}", names.join(", "));
    if confirm::confirm_on_terminal(&context, args.auto_approve)? == Confirmed::Declined {
        eprintln!("gc cancelled.");
        return Ok(exit::ERROR);
    }
    let decided_on = |name: &str| decided.iter().find(|g| g.name == name).and_then(|g| g.part.as_ref().ok());
    let disposed: Vec<Group<Vec<Disposal>>> = fleet_parts::each_part(&locked.clusters, |name, p| {
        let doomed = decided_on(name).map(|d| doomed(d)).unwrap_or_default();
        async move { dispose::dispose_all(&p.context(color, quiet), &p.desired, &doomed).await }
    })
    .await;
    match args.output {
        OutputFormat::Json => report_fleet_json(&decided, &disposed, false)?,
        OutputFormat::Text => {
            let mut out = std::io::stdout().lock();
            fleet_summary(&disposed, &styles, &mut out)
                .and_then(|()| out.flush())
                .map_err(CommandError::Output)?
        }
    }
    let all_done = disposed.iter().filter_map(|g| g.part.as_ref().ok()).flatten().all(|r| r.error.is_none());
    Ok(if all_done { some_failed } else { exit::ERROR })
}

/// Every string in a saved plan that looks like a snapshot path: what it may restore from.
fn paths_in_plan(file: &Path) -> Result<BTreeSet<String>, CommandError> {
    let bytes = std::fs::read(file).map_err(|source| CommandError::PlanFile { path: file.into(), source })?;
    let plan: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| CommandError::NotAPlan { path: file.into(), reason: e.to_string() })?;
    // A plan of one cluster (format 1) or of several (format 2, `plan --out` over a fleet).
    let parsed = if plan["formatVersion"] == render::FLEET_FORMAT_VERSION {
        serde_json::from_value::<super::apply_fleet::SavedFleet>(plan.clone()).map(drop)
    } else {
        serde_json::from_value::<Plan>(plan.clone()).map(drop)
    };
    parsed.map_err(|e| CommandError::NotAPlan { path: file.into(), reason: e.to_string() })?;
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

fn show(decisions: &[Decision], styles: &Styles, out: &mut dyn Write) -> std::io::Result<()> {
    if decisions.is_empty() {
        return writeln!(out, "No savepoints in the ledger for these specs.");
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
    writeln!(out, "\n{n} to dispose of, {} kept.", decisions.len() - n)
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
                crate::render::human_duration(max_age_seconds)
            )
        }
        Dispose::Unfinished => "dispose: an earlier disposal did not finish".to_string(),
    }
}

fn summary(results: &[Disposal], styles: &Styles, out: &mut dyn Write) -> std::io::Result<()> {
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
    writeln!(out, "gc complete: {} disposed of, {failed} failed.", results.len() - failed)
}

fn report_json(decisions: &[Decision], disposals: &[Disposal], dry_run: bool) -> Result<(), CommandError> {
    let mut out = std::io::stdout().lock();
    let doc = Document { format_version: 1, dry_run, snapshots: decisions, disposals };
    serde_json::to_writer_pretty(&mut out, &doc).map_err(|e| CommandError::Output(e.into()))?;
    writeln!(out).and_then(|()| out.flush()).map_err(CommandError::Output)
}

/// After the disposals: each cluster's summary (the clusters that failed were named above).
fn fleet_summary(
    disposed: &[Group<Vec<Disposal>>],
    styles: &Styles,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    for g in disposed {
        if let Ok(results) = &g.part {
            writeln!(out, "\nCluster `{}`:", render::clean(&g.name))?;
            summary(results, styles, out)?;
        }
    }
    Ok(())
}

/// The JSON report over several clusters (`formatVersion: 2`): each cluster, and each snapshot
/// decided and each disposal with its cluster.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FleetDocument<'a> {
    format_version: u32,
    dry_run: bool,
    clusters: Vec<fleet_parts::ClusterEntry<'a>>,
    snapshots: Vec<fleet_parts::InCluster<'a, Decision>>,
    disposals: Vec<fleet_parts::InCluster<'a, Disposal>>,
}

fn report_fleet_json(
    decided: &[Group<Vec<Decision>>],
    disposed: &[Group<Vec<Disposal>>],
    dry_run: bool,
) -> Result<(), CommandError> {
    let mut out = std::io::stdout().lock();
    let doc = FleetDocument {
        format_version: render::FLEET_FORMAT_VERSION,
        dry_run,
        clusters: fleet_parts::ClusterEntry::all(decided),
        snapshots: fleet_parts::flat(decided),
        disposals: fleet_parts::flat(disposed),
    };
    serde_json::to_writer_pretty(&mut out, &doc).map_err(|e| CommandError::Output(e.into()))?;
    writeln!(out).and_then(|()| out.flush()).map_err(CommandError::Output)
}

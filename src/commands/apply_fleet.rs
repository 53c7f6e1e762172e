//! `flinkops apply` over several clusters (cluster documents): reach every cluster, lock them in
//! identity-key order, observe them all at once, plan across them, then run the fleet's waves in
//! order with one context (client, ledger, lock) per cluster. A cluster that cannot be reached,
//! locked or observed fails its jobs and the exit code; the others are applied. See
//! docs/fleet.md.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::CommandError;
use super::plan::fleet_plan;
use crate::apply::confirm::{self, Decision};
use crate::apply::execute::{self, JobResult};
use crate::apply::steps::Context;
use crate::cli::{ApplyArgs, ColorChoice, OutputFormat};
use crate::output::Styles;
use crate::pipeline::fleet::{APPLY_OBSERVE_DEADLINE, LockWith, check_cluster_name, gather, members};
use crate::pipeline::{self, absolute};
use crate::plan::Options;
use crate::plan::fleet::FleetPlan;
use crate::plan::model::PlanOptions;
use crate::{exit, render, spec};

/// A plan over several clusters as `plan --out` saved it (`formatVersion: 2`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedFleet {
    pub specs: String,
    pub options: PlanOptions,
    #[serde(flatten)]
    pub fleet: FleetPlan,
}

/// Apply `desired` (several clusters), or the saved plan `saved` made from it.
pub async fn apply(
    args: &ApplyArgs,
    desired: spec::Desired,
    specs: &Path,
    saved: Option<SavedFleet>,
    color: ColorChoice,
    quiet: bool,
) -> Result<u8, CommandError> {
    let opts = match &saved {
        Some(s) => {
            Options { prune: s.options.prune, adopt: s.options.adopt, control: s.options.control.clone() }
        }
        None => Options { prune: args.prune, adopt: args.adopt, control: args.control.control() },
    };
    let members = members(&args.connection, &desired.clusters)?;
    check_cluster_name(&members, args.state.cluster_name.as_deref())?;
    let desired = Arc::new(desired);
    let state_dir = &args.state.state_dir;
    let command = format!("flinkops apply {}", args.target.display());
    let lock = LockWith { command: &command, timeout: args.lock_timeout, quiet };
    let cluster_name = args.state.cluster_name.as_deref();
    let mut fleet =
        gather(members, state_dir, cluster_name, lock, (&desired, &opts), APPLY_OBSERVE_DEADLINE).await;
    let plan = fleet_plan(&desired, &fleet.inputs, specs, &opts)?;
    if let Some(saved) = &saved {
        check_not_stale(&saved.fleet, &plan)?;
    }
    show_plan(&plan, args.output, color)?;
    if !plan.has_changes() {
        return Ok(if plan.has_problems() { exit::ERROR } else { exit::OK });
    }
    if saved.is_none() {
        let names: Vec<&str> = plan.clusters.iter().map(|c| c.name.as_str()).collect();
        let context = format!("the Flink clusters {}", names.join(", "));
        if confirm::confirm_on_terminal(&context, args.auto_approve)? == Decision::Declined {
            eprintln!("Apply cancelled.");
            return Ok(exit::ERROR);
        }
    }
    let contexts = fleet.contexts(|client, ledger, records| Context {
        slot_wait: args.slot_wait,
        ..pipeline::context(client, ledger, records, color, quiet)
    });
    let (results, removed) =
        pipeline::fleet::execute(&plan, &contexts, &desired, usize::from(args.concurrency)).await;
    if removed > 0 && !quiet {
        eprintln!("removed {removed} jar upload(s) no job refers to any more");
    }
    let options = PlanOptions { prune: opts.prune, adopt: opts.adopt, control: opts.control.clone() };
    report(&plan, &absolute(specs), &options, &results, args.output, color).map_err(CommandError::Output)?;
    let all_ok = results.iter().all(|(_, r)| r.outcome.is_ok()) && !plan.has_problems();
    Ok(if all_ok { exit::OK } else { exit::ERROR })
}

/// A saved fleet plan is applied only if planning again now decides the same on every cluster
/// (see `apply::check_not_stale`), with the same clusters observed.
fn check_not_stale(saved: &FleetPlan, now: &FleetPlan) -> Result<(), CommandError> {
    let names = |p: &FleetPlan| p.clusters.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    if names(saved) != names(now) {
        return Err(CommandError::Stale(format!(
            "it was made for the clusters {:?}, the specs now name {:?}",
            names(saved),
            names(now)
        )));
    }
    for c in &saved.clusters {
        let then = saved.plan_of(&c.name);
        match (then, now.plan_of(&c.name)) {
            (Some(then), Some(now)) => {
                super::apply::check_not_stale(then, now).map_err(|e| in_cluster(&c.name, e))?
            }
            (None, None) => {}
            (Some(_), None) => {
                return Err(CommandError::Stale(format!("cluster `{}` cannot be observed now", c.name)));
            }
            (None, Some(_)) => {
                return Err(CommandError::Stale(format!(
                    "cluster `{}` could not be observed when it was made",
                    c.name
                )));
            }
        }
    }
    Ok(())
}

fn in_cluster(cluster: &str, e: CommandError) -> CommandError {
    match e {
        CommandError::Stale(why) => CommandError::Stale(format!("on cluster `{cluster}`, {why}")),
        other => other,
    }
}

fn show_plan(plan: &FleetPlan, output: OutputFormat, color: ColorChoice) -> Result<(), CommandError> {
    super::apply::show(output, color, |s, mut out| render::fleet_human(plan, s, &mut out))
}

/// A job's result on its cluster.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterJobResult<'a> {
    cluster: &'a str,
    #[serde(flatten)]
    result: &'a JobResult,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonFleetReport<'a> {
    format_version: u32,
    plan: render::JsonFleetPlan<'a>,
    results: Vec<ClusterJobResult<'a>>,
    summary: String,
}

fn report(
    plan: &FleetPlan,
    specs: &str,
    options: &PlanOptions,
    results: &[(String, JobResult)],
    output: OutputFormat,
    color: ColorChoice,
) -> std::io::Result<()> {
    let summary = execute::summary(results.iter().map(|(_, r)| r));
    let mut out = std::io::stdout().lock();
    if output == OutputFormat::Json {
        let doc = JsonFleetReport {
            format_version: render::FLEET_FORMAT_VERSION,
            plan: render::JsonFleetPlan::of(plan, specs, options),
            results: results.iter().map(|(cluster, result)| ClusterJobResult { cluster, result }).collect(),
            summary,
        };
        serde_json::to_writer_pretty(&mut out, &doc)?;
        return writeln!(out);
    }
    let s = Styles::stdout(color);
    for c in &plan.clusters {
        writeln!(out, "\nCluster `{}`:", render::clean(&c.name))?;
        for (_, r) in results.iter().filter(|(cluster, _)| *cluster == c.name) {
            super::apply::result_line(r, &s, &mut out)?;
        }
    }
    let ok = results.iter().all(|(_, r)| r.outcome.is_ok());
    let style = if ok { s.ok } else { s.error };
    writeln!(out, "\n{}{summary}{}", style.render(), style.render_reset())
}

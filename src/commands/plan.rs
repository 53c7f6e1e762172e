//! `flinkops plan`: load the specs, observe the cluster, read the ledger, plan, render.
//!
//! Read-only towards Flink. Invalid specs stop it before any call to Flink. It makes a constant
//! number of REST calls however many jobs there are (`/config`, `/jobs/overview`, and when jobs
//! start or stop `/jobmanager/config` and `/overview`), plus, for each running job it would stop
//! or replace, that job's `/checkpoints` and `/jobs/:id` for the checks before the stop.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::CommandError;
use crate::cli::{ColorChoice, PlanArgs, PlanFormat};
use crate::ledger::Ledger;
use crate::output::Styles;
use crate::pipeline::fleet::{Member, check_cluster_name, members, observe_fleet};
use crate::pipeline::{Connection, Threads, absolute, load_specs, observe_and_plan};
use crate::plan::fleet::{ClusterInput, FleetPlan};
use crate::plan::model::PlanOptions;
use crate::plan::{Options, Plan};
use crate::spec;
use crate::{exit, render};

pub fn run(args: &PlanArgs, color: ColorChoice) -> Result<u8, CommandError> {
    if args.offline.requested() {
        return super::offline::run(args, color);
    }
    if args.refresh_only {
        return super::refresh::run(args, color);
    }
    let Some(desired) = load_specs(&args.path, &args.state.state_dir, color) else {
        return Ok(exit::ERROR);
    };
    if desired.clusters.len() > 1 {
        return fleet(args, desired, color);
    }
    let plan = make_plan(args, &desired).map_err(|e| e.on_document(&desired.clusters))?;
    if let Some(path) = &args.out {
        write_plan(&plan, path)?;
    }
    let mut stdout = std::io::stdout().lock();
    let written = match args.output {
        PlanFormat::Text => render::human(&plan, &Styles::stdout(color), &mut stdout),
        PlanFormat::Json => render::json(&plan, &mut stdout),
        PlanFormat::Markdown => render::markdown(&plan, &mut stdout),
    };
    super::written(written.and_then(|()| stdout.flush()))?;
    Ok(exit_code(&plan, args.detailed_exitcode))
}

/// 1 when apply could not act on some job; with `--detailed-exitcode` 2 for changes.
pub fn exit_code(plan: &Plan, detailed: bool) -> u8 {
    code(!plan.problems.is_empty(), plan.has_changes(), detailed)
}

fn code(problems: bool, changes: bool, detailed: bool) -> u8 {
    if problems {
        exit::ERROR
    } else if detailed && changes {
        exit::CHANGES
    } else {
        exit::OK
    }
}

fn make_plan(args: &PlanArgs, desired: &spec::Desired) -> Result<Plan, CommandError> {
    let client = Connection::resolve(&args.connection, &desired.clusters)?.limited(&args.limit).client()?;
    let opts = Options { prune: args.prune, adopt: args.adopt, control: args.control.control() };
    super::block_on(Threads::One, async {
        let ledger = Ledger::new(&args.state.cluster_dir_to_read(&client).await?);
        let (plan, _) = observe_and_plan(&client, &ledger, desired, &args.path, &opts).await?;
        opts.control.check_names(&plan)?;
        Ok(plan)
    })
}

/// A plan over several clusters (cluster documents): each observed at once, one plan across
/// them, rendered grouped by cluster; JSON `formatVersion: 2`.
fn fleet(args: &PlanArgs, desired: spec::Desired, color: ColorChoice) -> Result<u8, CommandError> {
    let opts = Options { prune: args.prune, adopt: args.adopt, control: args.control.control() };
    let members: Vec<Member> = members(&args.connection, &desired.clusters)?
        .into_iter()
        .map(|m| Member { connection: m.connection.limited(&args.limit), ..m })
        .collect();
    check_cluster_name(&members, args.state.cluster_name.as_deref())?;
    let desired = Arc::new(desired);
    let plan = super::block_on(Threads::One, async {
        let inputs = observe_fleet(
            members,
            &args.state.state_dir,
            args.state.cluster_name.as_deref(),
            &desired,
            &opts,
            args.limit.max_time,
        )
        .await;
        fleet_plan(&desired, &inputs, &args.path, &opts)
    })?;
    let options = PlanOptions { prune: opts.prune, adopt: opts.adopt, control: opts.control };
    let specs = absolute(&args.path);
    let doc = render::JsonFleetPlan::of(&plan, &specs, &options);
    if let Some(path) = &args.out {
        write_json(path, |out| render::fleet_json(&doc, out))?;
    }
    let mut stdout = std::io::stdout().lock();
    let written = match args.output {
        PlanFormat::Text => render::fleet_human(&plan, &Styles::stdout(color), &mut stdout),
        PlanFormat::Json => render::fleet_json(&doc, &mut stdout),
        PlanFormat::Markdown => render::fleet_markdown(&plan, &mut stdout),
    };
    super::written(written.and_then(|()| stdout.flush()))?;
    Ok(fleet_exit_code(&plan, args.detailed_exitcode))
}

/// One plan across the clusters observed (`plan` and `apply` decide alike): the specs' path in
/// each cluster's plan, the name flags checked against every cluster's jobs.
pub fn fleet_plan(
    desired: &spec::Desired,
    inputs: &[ClusterInput],
    specs: &Path,
    opts: &Options,
) -> Result<FleetPlan, CommandError> {
    let mut plan = crate::plan::fleet::plan(desired, inputs, opts);
    for p in plan.plans_mut() {
        p.specs = Some(absolute(specs));
    }
    opts.control.check_names_in(&plan.job_names())?;
    Ok(plan)
}

/// 1 when apply could not act on some job or some cluster could not be observed; with
/// `--detailed-exitcode` 2 for changes.
pub fn fleet_exit_code(plan: &FleetPlan, detailed: bool) -> u8 {
    code(plan.has_problems(), plan.has_changes(), detailed)
}

/// Write the plan as JSON, atomically (a half-written plan file must never be applied).
fn write_plan(plan: &Plan, path: &Path) -> Result<(), CommandError> {
    write_json(path, |out| render::json(plan, out))
}

fn write_json(
    path: &Path,
    render: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
) -> Result<(), CommandError> {
    let err = |source| CommandError::WritePlan { path: path.to_path_buf(), source };
    let mut bytes = Vec::new();
    render(&mut bytes).map_err(err)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, &bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

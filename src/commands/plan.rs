//! `flinkops plan`: load the specs, observe the cluster, read the ledger, plan, render.
//!
//! Read-only towards Flink. Invalid specs stop it before any call to Flink. It makes a constant
//! number of REST calls however many jobs there are (`/config`, `/jobs/overview`, and when jobs
//! start or stop `/jobmanager/config` and `/overview`), plus, for each running job it would stop
//! or replace, that job's `/checkpoints` and `/jobs/:id` for the checks before the stop.

use std::io::Write;
use std::path::Path;

use super::CommandError;
use crate::cli::{ColorChoice, PlanArgs, PlanFormat};
use crate::ledger::Ledger;
use crate::output::Styles;
use crate::pipeline::{Connection, Threads, load_specs, observe_and_plan};
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
    let plan = make_plan(args, &desired)?;
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
    if !plan.problems.is_empty() {
        exit::ERROR
    } else if detailed && plan.has_changes() {
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

/// Write the plan as JSON, atomically (a half-written plan file must never be applied).
fn write_plan(plan: &Plan, path: &Path) -> Result<(), CommandError> {
    let err = |source| CommandError::WritePlan { path: path.to_path_buf(), source };
    let mut bytes = Vec::new();
    render::json(plan, &mut bytes).map_err(err)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, &bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

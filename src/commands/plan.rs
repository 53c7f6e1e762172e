//! `flinkops plan`: load the specs, observe the cluster, read the ledger, plan, render.
//!
//! Read-only towards Flink. Invalid specs stop it before any call to Flink. It makes a constant
//! number of REST calls however many jobs there are (`/config`, `/jobs/overview`, and when jobs
//! start or stop `/jobmanager/config` and `/overview`), plus, for each running job it would stop
//! or replace, that job's `/checkpoints` and `/jobs/:id` for the checks before the stop.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::{ColorChoice, PlanArgs, PlanFormat};
use crate::ledger::Ledger;
use crate::output::{Styles, fail};
use crate::pipeline::{self, Connection, Threads, load_specs, observe_and_plan};
use crate::plan::{Options, Plan};
use crate::spec;
use crate::{exit, render};

/// Why a plan could not be made (after the specs were valid).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Flink(#[from] crate::flink::Error),
    #[error(transparent)]
    Connection(#[from] crate::cli::ConnectionError),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot write the plan to {path}")]
    WritePlan { path: std::path::PathBuf, source: std::io::Error },
    #[error(transparent)]
    Cluster(#[from] crate::cluster::Error),
    #[error(transparent)]
    UnknownName(#[from] crate::plan::control::UnknownName),
}

impl Error {
    /// Print the error with its help and give the exit code.
    pub fn fail(self, color: ColorChoice) -> ExitCode {
        match self {
            Error::Flink(e) => fail(&e, e.help(), color),
            Error::Connection(e) => fail(&e, Some(e.help()), color),
            Error::Cluster(e) => fail(&e, e.help().as_deref(), color),
            Error::UnknownName(e) => fail(&e, Some(&e.help()), color),
            e => fail(&e, None, color),
        }
    }
}

pub fn run(args: &PlanArgs, color: ColorChoice) -> ExitCode {
    if args.offline.requested() {
        return super::offline::run(args, color);
    }
    if args.refresh_only {
        return super::refresh::run(args, color);
    }
    let Some(desired) = load_specs(&args.path, &args.state.state_dir, color) else {
        return exit::code(exit::ERROR);
    };
    let plan = match make_plan(args, &desired) {
        Ok(plan) => plan,
        Err(e) => return e.fail(color),
    };
    if let Some(path) = &args.out
        && let Err(e) = write_plan(&plan, path)
    {
        return fail(&e, None, color);
    }
    let mut stdout = std::io::stdout().lock();
    let written = match args.output {
        PlanFormat::Text => render::human(&plan, &Styles::stdout(color), &mut stdout),
        PlanFormat::Json => render::json(&plan, &mut stdout),
        PlanFormat::Markdown => render::markdown(&plan, &mut stdout),
    };
    if let Err(e) = written.and_then(|()| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return fail(&e, None, color);
    }
    exit::code(exit_code(&plan, args.detailed_exitcode))
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

fn make_plan(args: &PlanArgs, desired: &spec::Desired) -> Result<Plan, Error> {
    let client = Connection::resolve(&args.connection, &desired.clusters)?.limited(&args.limit).client()?;
    let runtime = pipeline::runtime(Threads::One).map_err(Error::Runtime)?;
    let opts = Options { prune: args.prune, adopt: args.adopt, control: args.control.control() };
    runtime.block_on(async {
        let ledger = Ledger::new(&args.state.cluster_dir_to_read(&client).await?);
        let (plan, _) = observe_and_plan(&client, &ledger, desired, &args.path, &opts).await?;
        opts.control.check_names(&plan)?;
        Ok(plan)
    })
}

/// Write the plan as JSON, atomically (a half-written plan file must never be applied).
fn write_plan(plan: &Plan, path: &Path) -> Result<(), Error> {
    let err = |source| Error::WritePlan { path: path.to_path_buf(), source };
    let mut bytes = Vec::new();
    render::json(plan, &mut bytes).map_err(err)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, &bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

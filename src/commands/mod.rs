//! One file per command, the top layer (see README, Layout): each is thin: gather inputs through
//! `crate::pipeline`, call the layers below, render, and return the exit code or a
//! `CommandError`, which `app` prints with its hint. Nothing but `app` imports this module.

pub mod apply;
pub mod apply_fleet;
pub mod audit;
pub mod error;
pub mod fleet_parts;
pub mod gc;
pub mod offline;
pub mod plan;
pub mod refresh;
pub mod savepoint;
pub mod savepoints;
pub mod schema;
pub mod status;
pub mod validate;
pub mod watch;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::apply::lock::ApplyLock;
use crate::cli::{ColorChoice, ConnectionArgs, StateArgs};
use crate::flink::Client;
use crate::ledger::{Ledger, Record};
use crate::pipeline::{Connection, Threads, load_specs, lock_cluster, observe_and_plan};
use crate::plan::{Options, Plan};
pub use error::CommandError;

/// What a command that acts on a cluster's snapshots (`savepoint`, `gc`) starts from: the specs,
/// the cluster, its ledger under its lock, and the plan `apply` would make now.
pub struct Locked {
    pub desired: crate::spec::Desired,
    pub client: Client,
    pub ledger: Ledger,
    pub plan: Plan,
    pub records: BTreeMap<String, Record>,
    /// Held until dropped.
    pub lock: ApplyLock,
}

/// Where such a command acts on the cluster.
pub struct Target<'a> {
    /// `savepoint`, `gc`: what the lock file says holds it.
    pub command: &'a str,
    pub path: &'a Path,
    /// `--job` names: each must be a spec.
    pub jobs: &'a [String],
    pub connection: &'a ConnectionArgs,
    pub state: &'a StateArgs,
    pub lock_timeout: Duration,
}

/// Load and check the specs (`None`, after the diagnostics or the error are printed, when they
/// or a `--job` name are unusable).
pub fn load_target(t: &Target<'_>, color: ColorChoice) -> Option<crate::spec::Desired> {
    let desired = load_specs(t.path, &t.state.state_dir, color)?;
    if let Some(unknown) = t.jobs.iter().find(|j| !desired.jobs.contains_key(*j)) {
        let known: Vec<&str> = desired.jobs.keys().map(String::as_str).collect();
        eprintln!(
            "error: --job {}: no spec of that name under {} (specs: {})",
            crate::render::clean(unknown),
            t.path.display(),
            known.join(", ")
        );
        return None;
    }
    Some(desired)
}

/// Take the cluster's lock, observe and plan (one cluster: a cluster document or the flags). An
/// error about a cluster document's URL gets a hint that names the document.
pub async fn plan_locked(
    t: &Target<'_>,
    desired: crate::spec::Desired,
    quiet: bool,
) -> Result<Locked, CommandError> {
    let clusters = desired.clusters.clone();
    locked(t, desired, quiet).await.map_err(|e| e.on_document(&clusters))
}

/// The cluster of `desired` locked, observed and planned.
async fn locked(t: &Target<'_>, desired: crate::spec::Desired, quiet: bool) -> Result<Locked, CommandError> {
    let client = Connection::resolve(t.connection, &desired.clusters)?.client()?;
    let cluster_dir = t.state.cluster_dir_to_write(&client).await?;
    let command = format!("flinkops {} {}", t.command, t.path.display());
    let lock = lock_cluster(&cluster_dir, &client, &command, t.lock_timeout, quiet)?;
    let ledger = Ledger::new(&cluster_dir);
    let (plan, records) = observe_and_plan(&client, &ledger, &desired, t.path, &Options::default()).await?;
    Ok(Locked { desired, client, ledger, plan, records, lock })
}

/// Run a command's work on a runtime of its own (see `pipeline::runtime`).
pub fn block_on<T>(
    threads: Threads,
    work: impl std::future::Future<Output = Result<T, CommandError>>,
) -> Result<T, CommandError> {
    let runtime = crate::pipeline::runtime(threads).map_err(CommandError::Runtime)?;
    runtime.block_on(work)
}

/// A report written to stdout: a closed pipe (`| head`) is not an error.
pub fn written(result: std::io::Result<()>) -> Result<(), CommandError> {
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CommandError::Write(e)),
        _ => Ok(()),
    }
}

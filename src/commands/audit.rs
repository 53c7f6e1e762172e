//! `flinkops audit`: a read-only report of every spec and every live job of the cluster — in sync,
//! drifted, failed, orphan, unmanaged, restarting — with the age of its latest savepoint and
//! checkpoint, a severity, and what to do.
//!
//! This module gathers the observations: the specs (`load_specs`), the plan `plan` would make
//! with default options (`observe_and_plan`: `/config`, `/jobs/overview`, the ledger), and the
//! checkpoint statistics of the jobs it shows (`status::fetch_checkpoints`). `report` turns them
//! into rows (pure), `render` writes them. It must never write to Flink (GET requests only) nor
//! create or write the ledger; the only file it may write is the jar hash cache `load_specs`
//! keeps in the state directory.

use std::collections::HashMap;
use std::io::Write;

use jiff::Timestamp;

use super::CommandError;
use crate::audit::render;
use crate::audit::report::{self, FlinkSnapshots, Observations, Report, Thresholds};
use crate::cli::{AuditArgs, ColorChoice, OutputFormat};
use crate::exit;
use crate::flink::{Client, JobId};
use crate::ledger::Ledger;
use crate::output::Styles;
use crate::pipeline::{Connection, Threads, load_specs, observe_and_plan};
use crate::plan::{Options, Plan};
use crate::spec::Desired;

/// Run `flinkops audit`: 0 when no finding reaches `--fail-on`, 2 when one does, 1 when the audit
/// could not be made.
pub fn run(args: &AuditArgs, color: ColorChoice) -> Result<u8, CommandError> {
    let Some(desired) = load_specs(&args.path, &args.state.state_dir, color) else {
        return Ok(exit::ERROR);
    };
    let report = audit(args, &desired)?;
    let mut stdout = std::io::stdout().lock();
    let written = match args.output {
        OutputFormat::Text => render::text(&report, &Styles::stdout(color), &mut stdout),
        OutputFormat::Json => render::json(&report, &mut stdout),
    };
    super::written(written.and_then(|()| stdout.flush()))?;
    Ok(if report.fails() { exit::CHANGES } else { exit::OK })
}

fn audit(args: &AuditArgs, desired: &Desired) -> Result<Report, CommandError> {
    let client = Connection::resolve(&args.connection, &desired.clusters)?.limited(&args.limit).client()?;
    let observed = super::block_on(Threads::One, async {
        let ledger = Ledger::new(&args.state.cluster_dir_to_read(&client).await?);
        let (plan, records) =
            observe_and_plan(&client, &ledger, desired, &args.path, &Options::default()).await?;
        let flink = snapshots(&client, &plan).await;
        Ok((plan, records, flink))
    });
    let (plan, records, flink) = observed?;
    let now = Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| Timestamp::now());
    let obs = Observations { plan: &plan, desired, ledger: &records, flink: &flink, now };
    let limits =
        Thresholds { max_savepoint_age: args.max_savepoint_age, max_checkpoint_age: args.max_checkpoint_age };
    Ok(report::build(&obs, &limits, args.fail_on))
}

/// The latest checkpoint and savepoint of every job a row shows: each spec's live job (or the
/// last one that ended), orphans and unmanaged jobs. A job whose statistics cannot be read is
/// shown without them.
async fn snapshots(client: &Client, plan: &Plan) -> HashMap<JobId, FlinkSnapshots> {
    let mut ids: Vec<JobId> =
        plan.jobs.iter().filter_map(|j| j.live.as_ref().map(|l| l.id.clone())).collect();
    ids.extend(plan.unmanaged.iter().map(|u| u.id.clone()));
    ids.sort();
    ids.dedup();
    let now = Timestamp::now();
    crate::status::fetch_checkpoints(client, ids)
        .await
        .into_iter()
        .map(|(id, cp)| {
            let (checkpoint, savepoint) = crate::status::latest_refs(&cp, now);
            (id, FlinkSnapshots { checkpoint, savepoint })
        })
        .collect()
}

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
//!
//! With several cluster documents every cluster is observed at once (`pipeline::fleet`), planned
//! together (`plan::fleet`) and audited on its own; one that cannot be observed is a finding of
//! its own (`audit::fleet`), the others are audited as usual.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use jiff::Timestamp;

use super::CommandError;
use crate::audit::fleet::{ClusterReport, FleetReport};
use crate::audit::render;
use crate::audit::report::{self, FlinkSnapshots, Observations, Report, Thresholds};
use crate::cli::{AuditArgs, ColorChoice, OutputFormat};
use crate::exit;
use crate::flink::{Client, JobId};
use crate::ledger::Ledger;
use crate::output::Styles;
use crate::pipeline::fleet::{self, Member};
use crate::pipeline::{Connection, Threads, load_specs, observe_and_plan};
use crate::plan::fleet::Outcome;
use crate::plan::{Options, Plan};
use crate::spec::Desired;

/// Run `flinkops audit`: 0 when no finding reaches `--fail-on`, 2 when one does, 1 when the audit
/// could not be made.
pub fn run(args: &AuditArgs, color: ColorChoice) -> Result<u8, CommandError> {
    let Some(desired) = load_specs(&args.path, &args.state.state_dir, color) else {
        return Ok(exit::ERROR);
    };
    if desired.clusters.len() > 1 {
        return fleet(args, desired, color);
    }
    let report = audit(args, &desired).map_err(|e| e.on_document(&desired.clusters))?;
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
    Ok(report::build(&obs, &thresholds(args), args.fail_on))
}

/// Several clusters: each one's report under its name, written to stdout.
fn fleet(args: &AuditArgs, desired: Desired, color: ColorChoice) -> Result<u8, CommandError> {
    let report = audit_fleet(args, desired)?;
    let mut stdout = std::io::stdout().lock();
    let written = match args.output {
        OutputFormat::Text => render::fleet_text(&report, &Styles::stdout(color), &mut stdout),
        OutputFormat::Json => render::fleet_json(&report, &mut stdout),
    };
    super::written(written.and_then(|()| stdout.flush()))?;
    Ok(if report.fails() { exit::CHANGES } else { exit::OK })
}

fn audit_fleet(args: &AuditArgs, desired: Desired) -> Result<FleetReport, CommandError> {
    let members: Vec<Member> = fleet::members(&args.connection, &desired.clusters)?
        .into_iter()
        .map(|m| Member { connection: m.connection.limited(&args.limit), ..m })
        .collect();
    fleet::check_cluster_name(&members, args.state.cluster_name.as_deref())?;
    let urls: HashMap<String, String> =
        members.iter().map(|m| (m.name.clone(), m.connection.url().to_owned())).collect();
    let desired = Arc::new(desired);
    let opts = Options::default();
    let (state, deadline) = (&args.state, fleet::APPLY_OBSERVE_DEADLINE);
    let clusters = super::block_on(Threads::One, async {
        let name = state.cluster_name.as_deref();
        let reached = fleet::reach_all(members, &state.state_dir, name, fleet::Access::Read, deadline).await;
        let inputs = fleet::observe_reached(&reached, &desired, &opts, deadline).await;
        let planned = crate::plan::fleet::plan(&desired, &inputs, &opts);
        let now = Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| Timestamp::now());
        let mut clusters = Vec::new();
        for cluster in planned.clusters {
            let url = urls.get(&cluster.name).map_or("", String::as_str);
            let report = match cluster.outcome {
                Outcome::Planned { plan } => {
                    let client =
                        reached.iter().find(|(n, _)| *n == cluster.name).and_then(|(_, r)| r.as_ref().ok());
                    let input = inputs.iter().find(|i| i.name == cluster.name);
                    let records = input.and_then(|i| i.observation.as_ref().ok()).map(|o| o.ledger.clone());
                    let flink = match client {
                        Some(r) => snapshots(&r.client, &plan).await,
                        None => HashMap::new(),
                    };
                    let records = records.unwrap_or_default();
                    let obs =
                        Observations { plan: &plan, desired: &desired, ledger: &records, flink: &flink, now };
                    ClusterReport::audited(
                        &cluster.name,
                        report::build(&obs, &thresholds(args), args.fail_on),
                    )
                }
                Outcome::Unobserved { error, .. } => {
                    ClusterReport::unreachable(&cluster.name, url, &error, None)
                }
            };
            clusters.push(report);
        }
        Ok::<_, CommandError>((clusters, now))
    });
    let (clusters, now) = clusters?;
    Ok(FleetReport::new(clusters, args.fail_on, now))
}

fn thresholds(args: &AuditArgs) -> Thresholds {
    Thresholds { max_savepoint_age: args.max_savepoint_age, max_checkpoint_age: args.max_checkpoint_age }
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

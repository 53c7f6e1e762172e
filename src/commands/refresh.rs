//! `flinkops plan --refresh-only`: observe the cluster and the ledger, plan as `plan` would
//! (without --prune, --adopt or targeting), and report only the drift (`plan::drift`): what
//! changed on the cluster outside flinkops. Read-only; one `numRestarts` call per managed
//! running job on top of what `plan` asks, and one `GET /jobs/:id` per job whose record has the
//! shape flinkops started it with (to see a rescale).

use std::collections::BTreeMap;
use std::io::Write;

use crate::cli::{ColorChoice, PlanArgs, PlanFormat};
use crate::flink::{Client, JobId};
use crate::ledger::Ledger;
use crate::output::Styles;
use crate::pipeline::fleet::{self, Member};
use crate::plan::drift::{self, ClusterDrift, DriftReport, FleetDrift};
use crate::plan::fleet::Outcome;
use crate::plan::{Options, Plan};
use crate::{exit, render};
use std::sync::Arc;

use super::CommandError;
use crate::pipeline::{Connection, Threads, load_specs, observe_and_plan};

pub fn run(args: &PlanArgs, color: ColorChoice) -> Result<u8, CommandError> {
    let Some(desired) = load_specs(&args.path, &args.state.state_dir, color) else {
        return Ok(exit::ERROR);
    };
    if desired.clusters.len() > 1 {
        return fleet(args, desired, color);
    }
    let report = make_report(args, &desired).map_err(|e| e.on_document(&desired.clusters))?;
    let mut stdout = std::io::stdout().lock();
    let written = match args.output {
        PlanFormat::Text => render::drift_human(&report, &Styles::stdout(color), &mut stdout),
        PlanFormat::Json => serde_json::to_writer_pretty(&mut stdout, &report)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(stdout)),
        PlanFormat::Markdown => render::drift_markdown(&report, &mut stdout),
    };
    super::written(written.and_then(|()| stdout.flush()))?;
    Ok(exit_code(&report, args.detailed_exitcode))
}

/// 0 without drift; with `--detailed-exitcode` [`exit::DRIFT`] when there is some.
pub fn exit_code(report: &DriftReport, detailed: bool) -> u8 {
    if detailed && !report.drift.is_empty() { exit::DRIFT } else { exit::OK }
}

fn make_report(args: &PlanArgs, desired: &crate::spec::Desired) -> Result<DriftReport, CommandError> {
    let client = Connection::resolve(&args.connection, &desired.clusters)?.limited(&args.limit).client()?;
    super::block_on(Threads::One, async {
        let ledger = Ledger::new(&args.state.cluster_dir_to_read(&client).await?);
        let (plan, records) =
            observe_and_plan(&client, &ledger, desired, &args.path, &Options::default()).await?;
        let seen = drift::Seen {
            restarts: restarts(&client, &plan).await,
            vertices: vertices(&client, &plan, &records).await,
        };
        Ok(drift::report(&plan, &records, &seen))
    })
}

/// Several clusters: each observed at once and planned together (as `plan` does), each one's
/// drift read with its own client and ledger and shown under its name. A cluster that cannot be
/// observed is named with its error and fails the run (exit 1, before drift's 2).
fn fleet(args: &PlanArgs, desired: crate::spec::Desired, color: ColorChoice) -> Result<u8, CommandError> {
    let members = super::fleet_parts::read_members(&args.connection, &args.limit, &args.state, &desired)?;
    let desired = Arc::new(desired);
    let report = super::block_on(Threads::One, fleet_report(args, members, &desired))?;
    let mut stdout = std::io::stdout().lock();
    let written = match args.output {
        PlanFormat::Text => render::drift_fleet_human(&report, &Styles::stdout(color), &mut stdout),
        PlanFormat::Json => serde_json::to_writer_pretty(&mut stdout, &report)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(stdout)),
        PlanFormat::Markdown => render::drift_fleet_markdown(&report, &mut stdout),
    };
    super::written(written.and_then(|()| stdout.flush()))?;
    Ok(if report.has_unobserved() {
        exit::ERROR
    } else if args.detailed_exitcode && report.drift_count() > 0 {
        exit::DRIFT
    } else {
        exit::OK
    })
}

async fn fleet_report(
    args: &PlanArgs,
    members: Vec<Member>,
    desired: &Arc<crate::spec::Desired>,
) -> Result<FleetDrift, CommandError> {
    let (opts, deadline) = (Options::default(), args.limit.max_time);
    let reached = fleet::reach_all(members, &args.state.state_dir, None, fleet::Access::Read, deadline).await;
    let inputs = fleet::observe_reached(&reached, desired, &opts, deadline).await;
    let planned = super::plan::fleet_plan(desired, &inputs, &args.path, &opts)?;
    let mut clusters = Vec::new();
    for c in &planned.clusters {
        let plan = match &c.outcome {
            Outcome::Planned { plan } => plan,
            Outcome::Unobserved { error, .. } => {
                clusters.push(ClusterDrift::unobserved(&c.name, error));
                continue;
            }
        };
        let client = reached.iter().find(|(n, _)| *n == c.name).and_then(|(_, r)| r.as_ref().ok());
        let records = inputs.iter().find(|i| i.name == c.name).and_then(|i| i.observation.as_ref().ok());
        let (Some(r), Some(o)) = (client, records) else {
            clusters
                .push(ClusterDrift::unobserved(&c.name, "planned but not reached (a bug: please report it)"));
            continue;
        };
        let seen = drift::Seen {
            restarts: restarts(&r.client, plan).await,
            vertices: vertices(&r.client, plan, &o.ledger).await,
        };
        clusters.push(ClusterDrift::observed(&c.name, drift::report(plan, &o.ledger, &seen)));
    }
    Ok(FleetDrift { format_version: render::FLEET_FORMAT_VERSION, clusters })
}

/// Each vertex's parallelism now, for the live jobs whose ledger record has the shape flinkops
/// started them with; a job whose details cannot be read is left out (no rescale reported).
async fn vertices(
    client: &Client,
    plan: &Plan,
    records: &BTreeMap<String, crate::ledger::Record>,
) -> BTreeMap<JobId, Vec<crate::ledger::VertexParallelism>> {
    use futures_util::StreamExt;
    futures_util::stream::iter(drift::shape_candidates(plan, records))
        .map(|id| async move {
            let details = client.job(&id).await.ok()?;
            Some((id, crate::apply::health::shape(&details)))
        })
        .buffer_unordered(8)
        .filter_map(|x| async move { x })
        .collect()
        .await
}

/// Flink's `numRestarts` per managed running job; a job whose metric is not there yet (Flink
/// fetches metrics every ~10 s) or cannot be read is left out rather than called stable.
async fn restarts(client: &Client, plan: &Plan) -> BTreeMap<JobId, u64> {
    use futures_util::StreamExt;
    futures_util::stream::iter(drift::restart_candidates(plan))
        .map(|id| async move {
            let metrics = client.job_metrics(&id, &["numRestarts"]).await.ok()?;
            let n = metrics.iter().find(|m| m.id == "numRestarts")?.value.parse::<u64>().ok()?;
            Some((id, n))
        })
        .buffer_unordered(8)
        .filter_map(|x| async move { x })
        .collect()
        .await
}

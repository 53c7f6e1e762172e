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
use crate::plan::drift::{self, DriftReport};
use crate::plan::{Options, Plan};
use crate::{exit, render};

use super::CommandError;
use crate::pipeline::{Connection, Threads, load_specs, observe_and_plan};

pub fn run(args: &PlanArgs, color: ColorChoice) -> Result<u8, CommandError> {
    let Some(desired) = load_specs(&args.path, &args.state.state_dir, color) else {
        return Ok(exit::ERROR);
    };
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

//! Disposing of the savepoints retention no longer keeps: what `flinkops gc` and
//! `watch --gc-every` share, so that there is one copy of the never-dispose rules.
//!
//! `decide` asks Flink what each running job restored from and lets `retention` (pure) judge
//! every recorded snapshot. `dispose_all` disposes in an order that never loses track of a
//! snapshot: the entry is marked `disposing` in the ledger, then Flink is asked (`POST
//! /savepoint-disposal`, polled until it says COMPLETED without a failure cause), and only then is
//! the entry removed. A failed or interrupted disposal leaves the entry, marked, with the reason;
//! restores no longer consider it, and the next gc tries again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use crate::apply::steps::Context;
use crate::flink::Client;
use crate::ledger::{Disposing, Record};
use crate::plan::Plan;
use crate::retention::{self, Decision, Running};
use crate::spec::Desired;

/// The result of one disposal.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disposal {
    pub job: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The verdict on every recorded snapshot of the specs (only those named in `only`, when it
/// names any), as gc decides it; and a warning for each job left out because Flink could not say
/// what its running job restored from. Shared by `flinkops gc` and `watch --gc-every`.
pub async fn decide(
    client: &Client,
    desired: &Desired,
    records: &BTreeMap<String, Record>,
    plan: &Plan,
    only: &[String],
    kept_by_plans: &BTreeSet<String>,
) -> (Vec<Decision>, Vec<String>) {
    let running = running_jobs(client, plan).await;
    let (mut decisions, mut warnings) = (Vec::new(), Vec::new());
    for (name, job) in desired.jobs.iter().filter(|(n, _)| only.is_empty() || only.contains(n)) {
        let Some(record) = records.get(name) else { continue };
        if plan.jobs.iter().any(|p| &p.name == name && p.in_doubt()) {
            // flinkops cannot act on the job (another state directory's, an unreadable record):
            // neither on its snapshots. A conflict about its next version only (too wide, a
            // savepoint timeout too short) leaves its running job and snapshots its own.
            continue;
        }
        let running = match running.get(name) {
            Some(Err(why)) => {
                warnings.push(format!(
                    "`{name}`: nothing of it is disposed of: Flink could not say which snapshot its running job \
                     restored from ({why})"
                ));
                continue;
            }
            Some(Ok(run)) => Some(run),
            None => None,
        };
        let input = retention::Job {
            record,
            retain: job.savepoint.retain.as_ref(),
            restore_from: &job.restore.from.value,
            running,
            kept_by_plans,
        };
        decisions.extend(retention::decide(&input, jiff::Timestamp::now()));
    }
    (decisions, warnings)
}

/// Dispose of `doomed`, one after the other, each with its spec's savepoint timeout.
pub async fn dispose_all(ctx: &Context, desired: &Desired, doomed: &[&Decision]) -> Vec<Disposal> {
    let mut results = Vec::new();
    for d in doomed {
        let timeout =
            desired.jobs.get(&d.job).map_or(Duration::from_secs(600), |j| j.savepoint.timeout.value.as_std());
        results.push(dispose(ctx, d, timeout).await);
    }
    results
}

/// Flink's view of each spec's running job: what it restored from, and whether it has completed
/// a newer snapshot since; an error when Flink cannot say (that job's snapshots then all stay).
async fn running_jobs(client: &Client, plan: &Plan) -> BTreeMap<String, Result<Running, String>> {
    let mut out = BTreeMap::new();
    for p in &plan.jobs {
        let Some(live) = p.live.as_ref().filter(|l| !l.state.is_terminal()) else { continue };
        let run = client.checkpoints(&live.id).await.map_err(|e| e.to_string()).map(|cp| {
            let restored = cp.latest.restored;
            let newest = [cp.latest.completed, cp.latest.savepoint].into_iter().flatten().map(|c| c.id).max();
            Running {
                newer_since_restore: restored.as_ref().is_none_or(|r| newest.is_some_and(|n| n > r.id)),
                restored_from: restored.and_then(|r| r.external_path),
            }
        });
        out.insert(p.name.clone(), run);
    }
    out
}

async fn dispose(ctx: &Context, d: &Decision, timeout: Duration) -> Disposal {
    let mark = |failed: Option<String>| {
        let path = d.path.clone();
        move |r: &mut crate::ledger::Record| {
            if let Some(s) = r.savepoints.iter_mut().find(|s| s.path == path) {
                let started_at = s.disposing.as_ref().map_or_else(now, |m| m.started_at.clone());
                s.disposing = Some(Disposing { started_at, failed });
            }
        }
    };
    let failed = |error: String| Disposal { job: d.job.clone(), path: d.path.clone(), error: Some(error) };
    if let Err(e) = ctx.record(&d.job, mark(None)) {
        return failed(format!("not disposed: the ledger could not be written: {e}"));
    }
    ctx.progress.step(&d.job, &format!("disposing of {}", d.path));
    let outcome = ctx.client.dispose_savepoint(&d.path, timeout).await;
    match outcome {
        Ok(()) => {
            let path = d.path.clone();
            if let Err(e) = ctx.record(&d.job, move |r| r.savepoints.retain(|s| s.path != path)) {
                return failed(format!(
                    "disposed, but the ledger still lists it (it could not be written: {e})"
                ));
            }
            ctx.progress.ok(&d.job, &format!("disposed of {}", d.path));
            Disposal { job: d.job.clone(), path: d.path.clone(), error: None }
        }
        Err(e) => {
            let why = crate::output::error_chain(&e);
            let _ = ctx.record(&d.job, mark(Some(why.clone())));
            let error = format!("the disposal failed, the entry stays in the ledger (gc tries again): {why}");
            ctx.progress.error(&d.job, &error);
            failed(error)
        }
    }
}

fn now() -> String {
    jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| jiff::Timestamp::now()).to_string()
}

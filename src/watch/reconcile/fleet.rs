//! One watch tick over several clusters (cluster documents), through apply's fleet path
//! (`pipeline::fleet`): reach every cluster, lock the reached ones in identity order for the
//! tick, observe them all, plan across them, hold back per (cluster, job) what the policies say,
//! execute, release. A cluster that cannot be reached or observed is logged every tick with its
//! error and `flink_up{cluster}` 0, its jobs untouched; the others are reconciled; the tick
//! fails. A cluster whose lock an apply holds is busy, not down: logged (info) with the holder,
//! counted `reconciles_total{cluster, result="locked"}`, skipped for the tick without failing it
//! (`watch --once` still exits 1: that cluster was not reconciled). A cluster document whose URL is not the one watch started with is refused, as for
//! one cluster (its lock and ledger belong to the cluster watch started with).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{Reconciler, log_decisions, runnable, savepoint_counts, savepoint_times, verdict};
use crate::apply::execute::JobResult;
use crate::apply::progress::Progress;
use crate::apply::steps::Context;
use crate::cli::ConnectionArgs;
use crate::pipeline::fleet::{APPLY_OBSERVE_DEADLINE, LockWith, Member, gather, members};
use crate::plan::fleet::{ClusterInput, FleetPlan, Outcome, Unobserved};
use crate::watch::metrics::ReconcileResult;

/// The holds of a tick, by cluster and job.
type HeldByCluster = BTreeMap<String, BTreeMap<String, super::Held>>;

/// What watch over several clusters does not run yet: periodic savepoints (`savepoint.every`)
/// and `--gc-every`, which keep one cluster's schedule under its lock and ledger. Says which.
pub fn unsupported(desired: &crate::spec::Desired, gc_every: Option<Duration>) -> Option<String> {
    let mut what: Vec<String> = desired
        .jobs
        .iter()
        .filter(|(_, j)| j.savepoint.every.is_some())
        .map(|(n, _)| format!("`savepoint.every` of job `{n}`"))
        .collect();
    if gc_every.is_some() {
        what.push("--gc-every".into());
    }
    (!what.is_empty()).then(|| what.join(", "))
}

/// A watch started over several clusters: how to reach them, and each one's URL at the start.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub connection: ConnectionArgs,
    pub urls: BTreeMap<String, String>,
}

impl Fleet {
    /// Watch `members` (as `pipeline::fleet::members` made them from `connection`), each at the
    /// URL it has now.
    pub fn start(connection: &ConnectionArgs, members: &[Member]) -> Self {
        let urls = members.iter().map(|m| (m.name.clone(), m.connection.base_url().to_owned())).collect();
        Self { connection: connection.clone(), urls }
    }
}

/// The members whose URL is the one watch started with (`urls`; a cluster added since is new,
/// with its own lock and ledger), and one unobserved input for each moved one.
fn split(urls: &BTreeMap<String, String>, members: Vec<Member>) -> (Vec<Member>, Vec<ClusterInput>) {
    let (mut keep, mut moved) = (Vec::new(), Vec::new());
    for m in members {
        match urls.get(&m.name) {
            Some(then) if *then != m.connection.base_url() => {
                let error = moved_error(m.connection.base_url(), then);
                let observation = Err(Unobserved { error, ledger: None });
                moved.push(ClusterInput { name: m.name, observation });
            }
            _ => keep.push(m),
        }
    }
    (keep, moved)
}

fn moved_error(now: &str, then: &str) -> String {
    format!(
        "the specs now reach Flink at {now}, not at {then} where watch started: restart watch to follow \
         the cluster document (the lock and ledger belong to the cluster it started with)"
    )
}

impl Reconciler {
    /// Reconcile every cluster of the specs once. Returns the result and the readiness lines.
    pub(super) async fn act_fleet(
        &mut self,
        mut lines: Vec<String>,
        shutdown: &CancellationToken,
    ) -> (ReconcileResult, Vec<String>) {
        let desired = Arc::new(self.desired.clone().expect("act runs with specs"));
        let fleet = self.fleet.as_ref().expect("act_fleet runs over a fleet");
        let all = match members(&fleet.connection, &desired.clusters) {
            Ok(m) => m,
            Err(e) => {
                let e = format!("{e} ({})", e.help());
                tracing::error!("{e}");
                lines.push(e);
                return (ReconcileResult::Failed, lines);
            }
        };
        let refused = unsupported(&desired, self.settings.gc_every);
        if let Some(what) = &refused {
            let e = format!(
                "{what}: not run by watch over several clusters; remove it, or run a watch per cluster"
            );
            tracing::error!("{e}");
            lines.push(e);
        }
        let (keep, moved) = split(&fleet.urls, all);
        let command = format!("flinkops watch {}", self.settings.specs.display());
        let lock = LockWith { command: &command, timeout: Duration::ZERO, quiet: true };
        let opts = self.settings.options.clone();
        let state_dir = self.settings.state.state_dir.clone();
        let mut gathered =
            gather(keep, &state_dir, None, lock, (&desired, &opts), APPLY_OBSERVE_DEADLINE).await;
        gathered.inputs.extend(moved);
        let mut plan = crate::plan::fleet::plan(&desired, &gathered.inputs, &opts);
        let held = self.hold_fleet(&mut plan, &desired);
        let results = if plan.plans().any(|(_, p)| runnable(p)) {
            let contexts = gathered.contexts(|client, ledger, records| Context {
                shutdown: shutdown.clone(),
                ..Context::new(client, ledger, records, Progress::log())
            });
            let concurrency = self.settings.concurrency;
            let (results, removed) =
                crate::pipeline::fleet::execute(&plan, &contexts, &desired, concurrency).await;
            if removed > 0 {
                tracing::info!("removed {removed} jar upload(s) no job refers to any more");
            }
            for (name, ctx) in &contexts {
                let records = ctx.records.lock().unwrap_or_else(|e| e.into_inner());
                self.shared.metrics.savepoints(name, savepoint_times(&records), savepoint_counts(&records));
            }
            results
        } else {
            Vec::new()
        };
        let busy = std::mem::take(&mut gathered.busy);
        drop(gathered);
        let (result, lines) = self.conclude_fleet(&plan, results, (&held, &busy), lines);
        self.busy = busy.into_keys().collect();
        (if refused.is_some() { ReconcileResult::Failed } else { result }, lines)
    }

    /// Hold back, on each planned cluster, what its policy says; the holds by cluster.
    fn hold_fleet(&mut self, plan: &mut FleetPlan, desired: &crate::spec::Desired) -> HeldByCluster {
        let mut out = BTreeMap::new();
        for (name, p) in plan.plans() {
            out.insert(name.to_owned(), self.policies.of(name).holds(p, Instant::now()));
        }
        let reasons = out
            .iter()
            .map(|(c, held)| (c.clone(), held.iter().map(|(k, v)| (k.clone(), v.reason.clone())).collect()))
            .collect();
        plan.hold(desired, &reasons);
        let mut decisions = Vec::new();
        for (_, p) in plan.plans() {
            let mut last = self.last_decisions.clone();
            log_decisions(&mut last, p);
            decisions.extend(last);
        }
        self.last_decisions = decisions;
        out
    }

    /// Publish and judge each cluster's part: failed when any cluster failed or was not observed.
    /// A cluster busy with an apply (its lock held: `busy`, by name, with the holder) is skipped
    /// for the tick, not failed: Flink answered, the apply is doing the work, and the next tick
    /// takes it again.
    fn conclude_fleet(
        &mut self,
        plan: &FleetPlan,
        results: Vec<(String, JobResult)>,
        (held, busy): (&HeldByCluster, &BTreeMap<String, String>),
        mut lines: Vec<String>,
    ) -> (ReconcileResult, Vec<String>) {
        let mut by_cluster: BTreeMap<String, Vec<JobResult>> = BTreeMap::new();
        for (cluster, r) in results {
            by_cluster.entry(cluster).or_default().push(r);
        }
        let mut failed = false;
        let metrics = &self.shared.metrics;
        for c in &plan.clusters {
            match &c.outcome {
                Outcome::Unobserved { .. } if busy.contains_key(&c.name) => {
                    let holder = &busy[&c.name];
                    metrics.flink(&c.name, true);
                    tracing::info!(cluster = %c.name, "busy, skipped this tick: {holder}; trying again at the next trigger");
                    lines.push(format!("cluster `{}`: busy, skipped this tick: {holder}", c.name));
                }
                Outcome::Unobserved { error, .. } => {
                    metrics.flink(&c.name, false);
                    tracing::error!(cluster = %c.name, "cannot observe the cluster: {error}");
                    lines.push(format!("cluster `{}`: not observed, its jobs untouched: {error}", c.name));
                    failed = true;
                }
                Outcome::Planned { plan } => {
                    let mine = by_cluster.remove(&c.name).unwrap_or_default();
                    let no_holds = BTreeMap::new();
                    let held = held.get(&c.name).unwrap_or(&no_holds);
                    metrics.flink(&c.name, true);
                    let held_names: Vec<&str> = held.keys().map(String::as_str).collect();
                    metrics.observed(&c.name, plan, &held_names);
                    metrics.acted(&c.name, plan, &mine);
                    if !mine.is_empty() {
                        self.policies.of(&c.name).record(plan, &mine, Instant::now());
                    }
                    let (result, mut said) = verdict(plan, &mine, held, Vec::new());
                    failed |= result != ReconcileResult::Ok;
                    lines.extend(said.drain(..).map(|l| format!("cluster `{}`: {l}", c.name)));
                }
            }
        }
        (if failed { ReconcileResult::Failed } else { ReconcileResult::Ok }, lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, url: &str) -> Member {
        let config = crate::flink::ClientConfig::new(url);
        Member {
            name: name.into(),
            connection: crate::pipeline::Connection::of(config),
            savepoint_dir: None,
            origin: None,
        }
    }

    #[test]
    fn a_cluster_whose_url_changed_is_refused_alone_and_a_new_one_is_taken() {
        let urls = [("a", "http://127.0.0.1:1"), ("b", "http://127.0.0.1:2")];
        let urls = urls.iter().map(|(n, u)| (n.to_string(), u.to_string())).collect();
        let now = vec![
            member("a", "http://127.0.0.1:1"),
            member("b", "http://127.0.0.1:9"),
            member("c", "http://x"),
        ];
        let (keep, moved) = split(&urls, now);
        let kept: Vec<&str> = keep.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(kept, ["a", "c"]);
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].name, "b");
        let error = &moved[0].observation.as_ref().unwrap_err().error;
        assert!(error.contains("http://127.0.0.1:9") && error.contains("restart watch"), "{error}");
    }
}

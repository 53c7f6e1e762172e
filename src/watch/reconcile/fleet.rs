//! One watch tick over several clusters (cluster documents), through apply's fleet path
//! (`pipeline::fleet`): reach every cluster, lock the reached ones in identity order for the
//! tick, observe them all, plan across them, hold back per (cluster, job) what the policies say,
//! execute, release. A cluster that cannot be reached or observed is logged every tick with its
//! error and `flink_up{cluster}` 0, its jobs untouched; the others are reconciled; the tick
//! fails. A cluster whose lock an apply holds is busy, not down: logged (info) with the holder,
//! counted `reconciles_total{cluster, result="locked"}`, skipped for the tick without failing it
//! (`watch --once` still exits 1: that cluster was not reconciled). A cluster document whose URL
//! is not the one watch started with is refused, as for one cluster (its lock and ledger belong to
//! the cluster watch started with).
//!
//! Periodic savepoints and gc run per cluster after the actions, still under the tick's locks:
//! each observed cluster's own jobs, from and into its own ledger, with its own schedule
//! (`periodic::Schedules`), all clusters at once. A cluster not observed misses them for the
//! tick (logged, its gc counted failed), and so does a busy one; the others' go on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{Reconciler, intervals, log_decisions, runnable, savepoint_counts, savepoint_times, verdict};
use crate::apply::execute::JobResult;
use crate::apply::progress::Progress;
use crate::apply::steps::Context;
use crate::cli::ConnectionArgs;
use crate::flink::Client;
use crate::ledger::Ledger;
use crate::pipeline::fleet::{
    APPLY_OBSERVE_DEADLINE, Gathered, LockWith, Member, gather, members, observe_reached,
};
use crate::plan::fleet::{ClusterInput, FleetPlan, Outcome, Unobserved, desired_on};
use crate::spec::Desired;
use crate::watch::metrics::ReconcileResult;
use crate::watch::periodic::Chores;

/// The holds of a tick, by cluster and job.
type HeldByCluster = BTreeMap<String, BTreeMap<String, super::Held>>;

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
        self.schedules.keep_only(desired.clusters.keys());
        let (keep, moved) = split(&fleet.urls, all);
        let command = format!("flinkops watch {}", self.settings.specs.display());
        let lock = LockWith { command: &command, timeout: Duration::ZERO, quiet: true };
        let opts = self.settings.options.clone();
        let state_dir = self.settings.state.state_dir.clone();
        let mut gathered =
            gather(keep, &state_dir, None, lock, (&desired, &opts), APPLY_OBSERVE_DEADLINE).await;
        gathered.inputs.extend(moved.clone());
        let mut plan = crate::plan::fleet::plan(&desired, &gathered.inputs, &opts);
        let held = self.hold_fleet(&mut plan, &desired);
        let ran = plan.plans().any(|(_, p)| runnable(p));
        let results = if ran {
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
            results
        } else {
            Vec::new()
        };
        let busy = std::mem::take(&mut gathered.busy);
        let (result, lines) = self.conclude_fleet(&plan, results, (&held, &busy), lines);
        self.busy = busy.into_keys().collect();
        if shutdown.is_cancelled() {
            return (result, lines);
        }
        let (plan, inputs) = match ran {
            // The actions changed what Flink runs (an upgraded job has a new id and a new
            // savepoint): a fresh look, under the same locks, as for one cluster.
            true => self.look_again(&gathered, moved, &desired).await,
            false => (plan, std::mem::take(&mut gathered.inputs)),
        };
        self.scheduled_fleet(&gathered, &plan, inputs, &desired, shutdown).await;
        drop(gathered);
        (result, lines)
    }

    /// Observe and plan every locked cluster again after the tick's actions, with the holds the
    /// policies now say (not logged: the tick's decisions were).
    async fn look_again(
        &mut self,
        gathered: &Gathered,
        moved: Vec<ClusterInput>,
        desired: &Arc<Desired>,
    ) -> (FleetPlan, Vec<ClusterInput>) {
        let opts = &self.settings.options;
        let mut inputs = observe_reached(&gathered.reached, desired, opts, APPLY_OBSERVE_DEADLINE).await;
        inputs.extend(moved);
        let mut plan = crate::plan::fleet::plan(desired, &inputs, opts);
        self.holds(&mut plan, desired);
        (plan, inputs)
    }

    /// Each observed cluster's periodic savepoints and gc, all at once under the tick's locks;
    /// each cluster not observed misses its own for the tick.
    async fn scheduled_fleet(
        &mut self,
        gathered: &Gathered,
        plan: &FleetPlan,
        mut inputs: Vec<ClusterInput>,
        desired: &Desired,
        shutdown: &CancellationToken,
    ) {
        let metrics = &self.shared.metrics;
        for c in &plan.clusters {
            metrics.savepoint_intervals(&c.name, &intervals(&desired_on(desired, &c.name)));
        }
        let locked = |name: &str| {
            let (_, r) = gathered.reached.iter().find(|(n, _)| n == name)?;
            r.as_ref().ok().map(|r| (r.client.clone(), Ledger::new(&r.dir)))
        };
        let (chores, missed) = share_chores(plan, &mut inputs, desired, locked);
        for name in &missed {
            self.schedules.of(name).missed(&desired_on(desired, name), (metrics, name));
        }
        for (name, records) in self.schedules.run_all(chores, metrics, shutdown).await {
            metrics.savepoints(&name, savepoint_times(&records), savepoint_counts(&records));
        }
    }

    /// Hold back what the policies say (`holds`), and log the decisions that changed.
    fn hold_fleet(&mut self, plan: &mut FleetPlan, desired: &crate::spec::Desired) -> HeldByCluster {
        let out = self.holds(plan, desired);
        let mut decisions = Vec::new();
        for (_, p) in plan.plans() {
            let mut last = self.last_decisions.clone();
            log_decisions(&mut last, p);
            decisions.extend(last);
        }
        self.last_decisions = decisions;
        out
    }

    /// Hold back, on each planned cluster, what its policy says; the holds by cluster.
    fn holds(&mut self, plan: &mut FleetPlan, desired: &Desired) -> HeldByCluster {
        let mut out = BTreeMap::new();
        for (name, p) in plan.plans() {
            out.insert(name.to_owned(), self.policies.of(name).holds(p, Instant::now()));
        }
        let reasons = out
            .iter()
            .map(|(c, held)| (c.clone(), held.iter().map(|(k, v)| (k.clone(), v.reason.clone())).collect()))
            .collect();
        plan.hold(desired, &reasons);
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

/// Which clusters run their periodic work now, and which miss it: a cluster planned, locked
/// (`locked` gives its client and ledger) and observed gets its chores, with its own jobs, plan
/// and records (taken from its observation); any other misses them for the tick.
fn share_chores(
    plan: &FleetPlan,
    inputs: &mut [ClusterInput],
    desired: &Desired,
    locked: impl Fn(&str) -> Option<(Client, Ledger)>,
) -> (BTreeMap<String, Chores>, Vec<String>) {
    let (mut chores, mut missed) = (BTreeMap::new(), Vec::new());
    for c in &plan.clusters {
        let observed = inputs.iter_mut().find(|i| i.name == c.name).and_then(|i| i.observation.as_mut().ok());
        let (Outcome::Planned { plan }, Some(observed), Some((client, ledger))) =
            (&c.outcome, observed, locked(&c.name))
        else {
            missed.push(c.name.clone());
            continue;
        };
        let records = std::mem::take(&mut observed.ledger);
        let own = desired_on(desired, &c.name);
        let plan = plan.as_ref().clone();
        chores.insert(c.name.clone(), Chores { client, ledger, desired: own, plan, records });
    }
    (chores, missed)
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

    /// `east` runs `a` (every 6h), `west` runs `b` (every 6h) and `c` (no schedule); each ledger
    /// holds a record of its own job.
    fn two_clusters() -> (Desired, Vec<ClusterInput>) {
        use crate::flink::JobState;
        use crate::plan::fixtures::*;
        use crate::plan::fleet::tests::{observed, on};
        let six_hours = crate::spec::read::parse_duration("6h").unwrap();
        let every = |mut j: crate::spec::Job| {
            j.savepoint.every = Some(crate::spec::model::Located::new(six_hours, Default::default()));
            j
        };
        let (a, b, c) = (on("east", every(job("a"))), on("west", every(job("b"))), on("west", job("c")));
        let d = desired([a.clone(), b.clone(), c.clone()]);
        let inputs = vec![
            observed("east", vec![live_of(&a, 1, JobState::Running)], ledger([record_of(&a)])),
            observed(
                "west",
                vec![live_of(&b, 2, JobState::Running), live_of(&c, 3, JobState::Running)],
                ledger([record_of(&b), record_of(&c)]),
            ),
        ];
        (d, inputs)
    }

    fn locked_all(name: &str) -> Option<(Client, Ledger)> {
        let client = Client::new(crate::flink::ClientConfig::new("http://127.0.0.1:1")).unwrap();
        Some((client, Ledger::new(&std::path::Path::new("/nonexistent").join(name))))
    }

    #[test]
    fn each_cluster_gets_its_own_jobs_plan_records_and_ledger() {
        let (d, mut inputs) = two_clusters();
        let plan = crate::plan::fleet::plan(&d, &inputs, &crate::plan::Options::default());
        let (chores, missed) = share_chores(&plan, &mut inputs, &d, locked_all);
        assert!(missed.is_empty(), "{missed:?}");
        let jobs = |c: &str| chores[c].desired.jobs.keys().cloned().collect::<Vec<_>>();
        assert_eq!(jobs("east"), ["a"]);
        assert_eq!(jobs("west"), ["b", "c"]);
        let records = |c: &str| chores[c].records.keys().cloned().collect::<Vec<_>>();
        assert_eq!(records("east"), ["a"], "the schedule reads east's ledger only");
        assert_eq!(records("west"), ["b", "c"]);
        let planned = |c: &str| chores[c].plan.jobs.iter().map(|j| j.name.clone()).collect::<Vec<_>>();
        assert_eq!(planned("east"), ["a"]);
        assert!(
            chores["west"].ledger.dir().starts_with("/nonexistent/west"),
            "west's chores write west's ledger"
        );
    }

    #[test]
    fn a_cluster_not_observed_or_not_locked_misses_its_chores_and_the_other_keeps_them() {
        let (d, mut inputs) = two_clusters();
        inputs[1] = crate::plan::fleet::tests::unobserved("west");
        let plan = crate::plan::fleet::plan(&d, &inputs, &crate::plan::Options::default());
        let (chores, missed) = share_chores(&plan, &mut inputs, &d, locked_all);
        assert_eq!(chores.keys().collect::<Vec<_>>(), ["east"]);
        assert_eq!(missed, ["west"]);

        // Observed, but its lock was not taken (`lock_in_order` makes it unobserved; here the
        // context is missing): its chores are missed too.
        let (d, mut inputs) = two_clusters();
        let plan = crate::plan::fleet::plan(&d, &inputs, &crate::plan::Options::default());
        let only_east = |name: &str| (name == "east").then(|| locked_all(name)).flatten();
        let (chores, missed) = share_chores(&plan, &mut inputs, &d, only_east);
        assert_eq!(chores.keys().collect::<Vec<_>>(), ["east"]);
        assert_eq!(missed, ["west"]);
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

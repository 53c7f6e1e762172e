//! The Prometheus metrics `watch` serves on `/metrics`, and how a reconcile updates them.
//!
//! Owns the registry and the meaning of every series; it never talks to Flink. Names follow
//! Prometheus conventions: `_total` counters, `_seconds` units, a `flinkops_` prefix.
//!
//! Every per-job series and every series about a cluster (reachability, reconcile results, jobs
//! by status) carries a `cluster` label: the cluster document's name, `default` for the
//! connection flags' cluster. Job names are unique across a spec tree, but an orphan or a
//! ledger's record may carry the same name on two clusters, and a dashboard filters by cluster.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::apply::execute::{JobResult, Outcome};
use crate::plan::{Action, Plan};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabel {
    pub cluster: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterResultLabel {
    pub cluster: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub cluster: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabel {
    pub cluster: String,
    pub job: String,
}

impl JobLabel {
    fn new(cluster: &str, job: &str) -> Self {
        Self { cluster: cluster.into(), job: job.into() }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobOutcomeLabel {
    pub cluster: String,
    pub job: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobResultLabel {
    pub cluster: String,
    pub job: String,
    pub action: String,
    pub result: String,
}

/// How a reconcile ended, as the `result` label of `flinkops_reconciles_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcileResult {
    /// Every action ran and succeeded (or there was none).
    Ok,
    /// Some action failed, rolled back or was held after a failure.
    Failed,
    /// The specs have errors: the last good ones were used, or none when there never were any.
    InvalidSpecs,
    /// Flink could not be observed.
    FlinkUnreachable,
    /// Another apply holds the lock for this state directory and cluster.
    Locked,
}

impl ReconcileResult {
    pub fn label(self) -> &'static str {
        match self {
            ReconcileResult::Ok => "ok",
            ReconcileResult::Failed => "failed",
            ReconcileResult::InvalidSpecs => "invalid_specs",
            ReconcileResult::FlinkUnreachable => "flink_unreachable",
            ReconcileResult::Locked => "locked",
        }
    }
}

type FloatGauge = Gauge<f64, AtomicU64>;

pub struct Metrics {
    registry: Registry,
    reconciles: Family<ClusterResultLabel, Counter>,
    reconcile_seconds: Histogram,
    last_success: FloatGauge,
    specs_valid: Gauge,
    spec_errors: Gauge,
    flink_up: Family<ClusterLabel, Gauge>,
    jobs: Family<StatusLabel, Gauge>,
    actions: Family<JobResultLabel, Counter>,
    upgrades: Family<JobLabel, Counter>,
    rollbacks: Family<JobLabel, Counter>,
    heals: Family<JobLabel, Counter>,
    savepoint_age: Family<JobLabel, FloatGauge>,
    /// Latest savepoint per (cluster, job), epoch seconds: the age is computed when scraped.
    savepoint_times: PerJob<f64>,
    /// Savepoints in each ledger's history, per (cluster, job).
    recorded: PerJob<i64>,
    /// `savepoint.every` in seconds, per (cluster, job).
    intervals: PerJob<f64>,
    savepoints_recorded: Family<JobLabel, Gauge>,
    savepoint_interval: Family<JobLabel, FloatGauge>,
    periodic: Family<JobOutcomeLabel, Counter>,
    gc_runs: Family<ClusterResultLabel, Counter>,
    disposals: Family<JobOutcomeLabel, Counter>,
    /// The clusters whose series exist, so that `jobs{status}` is reset per cluster.
    clusters: Mutex<Vec<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut m = Self {
            registry: Registry::with_prefix("flinkops"),
            reconciles: Family::default(),
            reconcile_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 18)),
            last_success: FloatGauge::default(),
            specs_valid: Gauge::default(),
            spec_errors: Gauge::default(),
            flink_up: Family::default(),
            jobs: Family::default(),
            actions: Family::default(),
            upgrades: Family::default(),
            rollbacks: Family::default(),
            heals: Family::default(),
            savepoint_age: Family::default(),
            savepoint_times: Mutex::default(),
            recorded: Mutex::default(),
            intervals: Mutex::default(),
            savepoints_recorded: Family::default(),
            savepoint_interval: Family::default(),
            periodic: Family::default(),
            gc_runs: Family::default(),
            disposals: Family::default(),
            clusters: Mutex::new(Vec::new()),
        };
        let r = &mut m.registry;
        r.register(
            "reconciles",
            "Reconciles by cluster and result: ok, failed, invalid_specs, flink_unreachable, locked",
            m.reconciles.clone(),
        );
        r.register(
            "reconcile_duration_seconds",
            "How long a reconcile took, actions included",
            m.reconcile_seconds.clone(),
        );
        r.register(
            "last_successful_reconcile_timestamp_seconds",
            "When a reconcile last ended ok (Unix time)",
            m.last_success.clone(),
        );
        r.register(
            "specs_valid",
            "1 when the spec directory loaded without errors, else 0 (the last good specs stay in use)",
            m.specs_valid.clone(),
        );
        r.register(
            "spec_errors",
            "Errors found in the spec directory at the last load",
            m.spec_errors.clone(),
        );
        r.register(
            "flink_up",
            "1 when the last reconcile could observe the cluster, else 0, by cluster",
            m.flink_up.clone(),
        );
        r.register("jobs", "Jobs by cluster and status at the last reconcile: in_sync, pending, drifted, held, suspended, orphan, unmanaged, conflict", m.jobs.clone());
        r.register(
            "actions",
            "Actions carried out, by job, action and result (done, rolled_back, failed, skipped)",
            m.actions.clone(),
        );
        r.register("upgrades", "Upgrades that completed, by job", m.upgrades.clone());
        r.register(
            "rollbacks",
            "Upgrades or deploys that were rolled back to the previous version, by job",
            m.rollbacks.clone(),
        );
        r.register(
            "heals",
            "Jobs redeployed after they failed or were stopped outside flinkops, by job",
            m.heals.clone(),
        );
        r.register(
            "savepoint_age_seconds",
            "Age of the newest savepoint in the ledger's history (any reason, not a retained checkpoint), by job",
            m.savepoint_age.clone(),
        );
        r.register(
            "savepoints_recorded",
            "Savepoints in the ledger's history, by job (what `flinkops gc` weighs against savepoint.retain)",
            m.savepoints_recorded.clone(),
        );
        r.register(
            "savepoint_interval_seconds",
            "savepoint.every of each job that has one: alert when savepoint_age_seconds passes twice this",
            m.savepoint_interval.clone(),
        );
        r.register(
            "periodic_savepoints",
            "Periodic savepoints (savepoint.every) by job and result: completed, failed",
            m.periodic.clone(),
        );
        r.register(
            "gc_runs",
            "Scheduled gc runs (--gc-every) by cluster and result: ok, failed (a disposal failed or Flink could not be observed)",
            m.gc_runs.clone(),
        );
        r.register(
            "savepoints_disposed",
            "Savepoints gc disposed of under --gc-every, by job and result: disposed, failed",
            m.disposals.clone(),
        );
        m
    }

    /// A cluster the watch reconciles: its reconcile results and job statuses exist from now on,
    /// at 0 (`rate()` and alerts need the series to exist).
    pub fn cluster(&self, cluster: &str) {
        let mut known = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        if known.iter().any(|c| c == cluster) {
            return;
        }
        known.push(cluster.to_owned());
        drop(known);
        for result in [
            ReconcileResult::Ok,
            ReconcileResult::Failed,
            ReconcileResult::InvalidSpecs,
            ReconcileResult::FlinkUnreachable,
            ReconcileResult::Locked,
        ] {
            let _ = self.reconciles.get_or_create(&ClusterResultLabel {
                cluster: cluster.into(),
                result: result.label().into(),
            });
        }
        self.reset_jobs(cluster);
    }

    /// The jobs of `cluster` with `savepoint.every`, in seconds; their periodic counters start
    /// at 0. The other clusters' intervals are kept.
    pub fn savepoint_intervals(&self, cluster: &str, every: &BTreeMap<String, f64>) {
        replace_cluster(&self.intervals, cluster, every.clone());
        for job in every.keys() {
            for result in ["completed", "failed"] {
                let _ = self.periodic.get_or_create(&JobOutcomeLabel {
                    cluster: cluster.into(),
                    job: job.clone(),
                    result: result.into(),
                });
            }
        }
    }

    /// Count one periodic savepoint.
    pub fn periodic_savepoint(&self, cluster: &str, job: &str, ok: bool) {
        let result = if ok { "completed" } else { "failed" };
        let label = JobOutcomeLabel { cluster: cluster.into(), job: job.into(), result: result.into() };
        self.periodic.get_or_create(&label).inc();
    }

    /// `--gc-every` is on for `cluster`: its series exist from the start, at 0.
    pub fn gc_enabled(&self, cluster: &str) {
        for result in ["ok", "failed"] {
            let _ = self
                .gc_runs
                .get_or_create(&ClusterResultLabel { cluster: cluster.into(), result: result.into() });
        }
    }

    /// Count one scheduled gc run on `cluster`.
    pub fn gc_ran(&self, cluster: &str, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.gc_runs
            .get_or_create(&ClusterResultLabel { cluster: cluster.into(), result: result.into() })
            .inc();
    }

    /// Count one disposal of a scheduled gc.
    pub fn disposed(&self, cluster: &str, job: &str, ok: bool) {
        let result = if ok { "disposed" } else { "failed" };
        let label = JobOutcomeLabel { cluster: cluster.into(), job: job.into(), result: result.into() };
        self.disposals.get_or_create(&label).inc();
    }

    /// Count one reconcile of `cluster`.
    pub fn reconciled(&self, cluster: &str, result: ReconcileResult, seconds: f64, now_epoch: f64) {
        self.cluster(cluster);
        let label = ClusterResultLabel { cluster: cluster.into(), result: result.label().into() };
        self.reconciles.get_or_create(&label).inc();
        self.reconcile_seconds.observe(seconds);
        if result == ReconcileResult::Ok {
            self.last_success.set(now_epoch);
        }
    }

    /// Whether the last reconcile could observe `cluster`.
    pub fn flink(&self, cluster: &str, up: bool) {
        self.flink_up.get_or_create(&ClusterLabel { cluster: cluster.into() }).set(i64::from(up));
    }

    pub fn specs_loaded(&self, errors: usize) {
        self.specs_valid.set(i64::from(errors == 0));
        self.spec_errors.set(errors as i64);
    }

    /// Jobs by status on `cluster`, from the plan a reconcile acted on (`held` names the jobs
    /// it held).
    pub fn observed(&self, cluster: &str, plan: &Plan, held: &[&str]) {
        self.cluster(cluster);
        self.reset_jobs(cluster);
        let status_label = |status: &str| StatusLabel { cluster: cluster.into(), status: status.into() };
        for j in &plan.jobs {
            let status = if held.contains(&j.name.as_str()) {
                "held"
            } else if j.drift.is_some() {
                "drifted"
            } else {
                match j.action {
                    Action::None if j.live.as_ref().is_some_and(|l| !l.state.is_terminal()) => "in_sync",
                    Action::None => "suspended",
                    Action::Orphan | Action::Stop => "orphan",
                    Action::Conflict => "conflict",
                    _ => "pending",
                }
            };
            self.jobs.get_or_create(&status_label(status)).inc();
        }
        let unmanaged = plan.unmanaged.len() as i64;
        self.jobs.get_or_create(&status_label("unmanaged")).set(unmanaged);
    }

    fn reset_jobs(&self, cluster: &str) {
        for status in
            ["in_sync", "pending", "drifted", "held", "suspended", "orphan", "unmanaged", "conflict"]
        {
            self.jobs.get_or_create(&StatusLabel { cluster: cluster.into(), status: status.into() }).set(0);
        }
    }

    /// Count what each action on `cluster` did.
    pub fn acted(&self, cluster: &str, plan: &Plan, results: &[JobResult]) {
        for r in results {
            let result = match &r.outcome {
                Outcome::Done { .. } => "done",
                Outcome::RolledBack { .. } => "rolled_back",
                Outcome::Failed { .. } => "failed",
                Outcome::Skipped { .. } => "skipped",
            };
            let action = action_label(r.action);
            let labels = JobResultLabel {
                cluster: cluster.into(),
                job: r.name.clone(),
                action: action.into(),
                result: result.into(),
            };
            self.actions.get_or_create(&labels).inc();
            let job = JobLabel::new(cluster, &r.name);
            match (&r.outcome, r.action) {
                (Outcome::Done { .. }, Action::Upgrade { .. }) => {
                    self.upgrades.get_or_create(&job).inc();
                }
                (Outcome::RolledBack { .. }, _) => {
                    self.rollbacks.get_or_create(&job).inc();
                }
                (Outcome::Done { .. }, Action::Deploy) => {
                    let heal = plan.jobs.iter().any(|j| j.name == r.name && super::policy::is_heal(j));
                    if heal {
                        self.heals.get_or_create(&job).inc();
                    }
                }
                _ => {}
            }
        }
    }

    /// The latest savepoint per job of `cluster` (epoch seconds), and how many the history
    /// holds, from its ledger. The other clusters' are kept.
    pub fn savepoints(&self, cluster: &str, times: BTreeMap<String, f64>, recorded: BTreeMap<String, i64>) {
        replace_cluster(&self.savepoint_times, cluster, times);
        replace_cluster(&self.recorded, cluster, recorded);
    }

    /// The text exposition, with savepoint ages as of `now_epoch`.
    pub fn encode(&self, now_epoch: f64) -> String {
        publish(&self.savepoint_age, &self.savepoint_times, |at| (now_epoch - at).max(0.0));
        publish(&self.savepoints_recorded, &self.recorded, |n| n);
        publish(&self.savepoint_interval, &self.intervals, |s| s);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Values per (cluster, job), replaced one cluster at a time: a reconcile reads one cluster's
/// ledger and must not drop another cluster's series.
type PerJob<T> = Mutex<BTreeMap<(String, String), T>>;

fn replace_cluster<T>(all: &PerJob<T>, cluster: &str, values: BTreeMap<String, T>) {
    let mut all = all.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|(c, _), _| c != cluster);
    all.extend(values.into_iter().map(|(job, v)| ((cluster.to_owned(), job), v)));
}

/// Rebuild a gauge family from its values, so that a job gone from a ledger loses its series.
fn publish<T: Copy, N, A>(family: &Family<JobLabel, Gauge<N, A>>, values: &PerJob<T>, value: impl Fn(T) -> N)
where
    Gauge<N, A>: Default,
    A: prometheus_client::metrics::gauge::Atomic<N>,
{
    family.clear();
    for ((cluster, job), v) in values.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        family.get_or_create(&JobLabel::new(cluster, job)).set(value(*v));
    }
}

pub fn action_label(action: Action) -> &'static str {
    match action {
        Action::None => "none",
        Action::UpdateSettings => "update_settings",
        Action::Deploy => "deploy",
        Action::Resume => "resume",
        Action::Upgrade { .. } => "upgrade",
        Action::Suspend => "suspend",
        Action::Stop => "stop",
        Action::Adopt => "adopt",
        Action::Rename => "rename",
        Action::Move => "move",
        Action::Confirm => "confirm",
        Action::Conflict => "conflict",
        Action::Orphan => "orphan",
        Action::Skipped => "skipped",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_series_with_help_and_units() {
        let m = Metrics::new();
        m.reconciled("default", ReconcileResult::Ok, 1.5, 1_700_000_000.0);
        m.specs_loaded(0);
        m.flink("default", true);
        m.savepoints(
            "default",
            BTreeMap::from([("orders".to_string(), 1_700_000_000.0)]),
            BTreeMap::from([("orders".to_string(), 3)]),
        );
        m.savepoint_intervals("default", &BTreeMap::from([("orders".to_string(), 21_600.0)]));
        m.periodic_savepoint("default", "orders", true);
        m.gc_enabled("default");
        m.gc_ran("default", true);
        m.disposed("default", "orders", true);
        m.disposed("default", "orders", true);
        let text = m.encode(1_700_000_060.0);
        for line in [
            "flinkops_reconciles_total{cluster=\"default\",result=\"ok\"} 1",
            "flinkops_reconciles_total{cluster=\"default\",result=\"locked\"} 0",
            "flinkops_last_successful_reconcile_timestamp_seconds 1700000000",
            "flinkops_specs_valid 1",
            "flinkops_flink_up{cluster=\"default\"} 1",
            "flinkops_jobs{cluster=\"default\",status=\"in_sync\"} 0",
            "flinkops_savepoint_age_seconds{cluster=\"default\",job=\"orders\"} 60",
            "flinkops_savepoints_recorded{cluster=\"default\",job=\"orders\"} 3",
            "flinkops_savepoint_interval_seconds{cluster=\"default\",job=\"orders\"} 21600",
            "flinkops_periodic_savepoints_total{cluster=\"default\",job=\"orders\",result=\"completed\"} 1",
            "flinkops_periodic_savepoints_total{cluster=\"default\",job=\"orders\",result=\"failed\"} 0",
            "flinkops_gc_runs_total{cluster=\"default\",result=\"ok\"} 1",
            "flinkops_gc_runs_total{cluster=\"default\",result=\"failed\"} 0",
            "flinkops_savepoints_disposed_total{cluster=\"default\",job=\"orders\",result=\"disposed\"} 2",
            "# HELP flinkops_reconcile_duration_seconds",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }

    /// Two clusters side by side: each one's series carry its name, and refreshing one cluster's
    /// ledger or statuses leaves the other's as they were.
    #[test]
    fn each_cluster_keeps_its_own_series() {
        let m = Metrics::new();
        let orders = |n: i64| BTreeMap::from([("orders".to_string(), n)]);
        let at = |t: f64| BTreeMap::from([("orders".to_string(), t)]);
        m.savepoints("eu", at(1_700_000_000.0), orders(2));
        m.savepoints("us", at(1_700_000_030.0), orders(5));
        m.savepoint_intervals("eu", &at(60.0));
        m.savepoint_intervals("us", &BTreeMap::new());
        m.flink("eu", true);
        m.flink("us", false);
        m.reconciled("us", ReconcileResult::FlinkUnreachable, 0.1, 1_700_000_000.0);
        m.cluster("eu");
        // eu again, without its job: only eu's series go.
        m.savepoints("eu", BTreeMap::new(), BTreeMap::new());
        let text = m.encode(1_700_000_060.0);
        for line in [
            "flinkops_savepoint_age_seconds{cluster=\"us\",job=\"orders\"} 30",
            "flinkops_savepoints_recorded{cluster=\"us\",job=\"orders\"} 5",
            "flinkops_savepoint_interval_seconds{cluster=\"eu\",job=\"orders\"} 60",
            "flinkops_flink_up{cluster=\"eu\"} 1",
            "flinkops_flink_up{cluster=\"us\"} 0",
            "flinkops_reconciles_total{cluster=\"us\",result=\"flink_unreachable\"} 1",
            "flinkops_reconciles_total{cluster=\"eu\",result=\"ok\"} 0",
            "flinkops_jobs{cluster=\"eu\",status=\"unmanaged\"} 0",
            "flinkops_jobs{cluster=\"us\",status=\"held\"} 0",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        for gone in [
            "{cluster=\"eu\",job=\"orders\"} 60\n# HELP flinkops_savepoints_recorded",
            "savepoints_recorded{cluster=\"eu\"",
        ] {
            assert!(!text.contains(gone), "{gone} still in:\n{text}");
        }
        assert!(
            !text.contains("savepoint_age_seconds{cluster=\"eu\""),
            "eu's age outlived its ledger:\n{text}"
        );
    }
}

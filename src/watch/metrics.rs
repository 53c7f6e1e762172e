//! The Prometheus metrics `watch` serves on `/metrics`, and how a reconcile updates them.
//!
//! Owns the registry and the meaning of every series; it never talks to Flink. Names follow
//! Prometheus conventions: `_total` counters, `_seconds` units, a `flinkops_` prefix.

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
pub struct ResultLabel {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabel {
    pub job: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobOutcomeLabel {
    pub job: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobResultLabel {
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
    reconciles: Family<ResultLabel, Counter>,
    reconcile_seconds: Histogram,
    last_success: FloatGauge,
    specs_valid: Gauge,
    spec_errors: Gauge,
    flink_up: Gauge,
    jobs: Family<StatusLabel, Gauge>,
    actions: Family<JobResultLabel, Counter>,
    upgrades: Family<JobLabel, Counter>,
    rollbacks: Family<JobLabel, Counter>,
    heals: Family<JobLabel, Counter>,
    savepoint_age: Family<JobLabel, FloatGauge>,
    /// Latest savepoint per job, epoch seconds: the age is computed when scraped.
    savepoint_times: Mutex<BTreeMap<String, f64>>,
    savepoints_recorded: Family<JobLabel, Gauge>,
    savepoint_interval: Family<JobLabel, FloatGauge>,
    periodic: Family<JobOutcomeLabel, Counter>,
    gc_runs: Family<ResultLabel, Counter>,
    disposals: Family<JobOutcomeLabel, Counter>,
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
            flink_up: Gauge::default(),
            jobs: Family::default(),
            actions: Family::default(),
            upgrades: Family::default(),
            rollbacks: Family::default(),
            heals: Family::default(),
            savepoint_age: Family::default(),
            savepoint_times: Mutex::new(BTreeMap::new()),
            savepoints_recorded: Family::default(),
            savepoint_interval: Family::default(),
            periodic: Family::default(),
            gc_runs: Family::default(),
            disposals: Family::default(),
        };
        // Every result and status from the start, at 0: `rate()` and alerts need the series to exist.
        for result in [
            ReconcileResult::Ok,
            ReconcileResult::Failed,
            ReconcileResult::InvalidSpecs,
            ReconcileResult::FlinkUnreachable,
            ReconcileResult::Locked,
        ] {
            let _ = m.reconciles.get_or_create(&ResultLabel { result: result.label().into() });
        }
        m.reset_jobs();
        let r = &mut m.registry;
        r.register(
            "reconciles",
            "Reconciles by result: ok, failed, invalid_specs, flink_unreachable, locked",
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
        r.register("flink_up", "1 when the last reconcile could observe Flink, else 0", m.flink_up.clone());
        r.register("jobs", "Jobs by status at the last reconcile: in_sync, pending, drifted, held, suspended, orphan, unmanaged, conflict", m.jobs.clone());
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
            "Scheduled gc runs (--gc-every) by result: ok, failed (a disposal failed or Flink could not be observed)",
            m.gc_runs.clone(),
        );
        r.register(
            "savepoints_disposed",
            "Savepoints gc disposed of under --gc-every, by job and result: disposed, failed",
            m.disposals.clone(),
        );
        m
    }

    /// The jobs with `savepoint.every`, in seconds; their periodic counters start at 0.
    pub fn savepoint_intervals(&self, every: &BTreeMap<String, f64>) {
        self.savepoint_interval.clear();
        for (job, seconds) in every {
            self.savepoint_interval.get_or_create(&JobLabel { job: job.clone() }).set(*seconds);
            for result in ["completed", "failed"] {
                let _ =
                    self.periodic.get_or_create(&JobOutcomeLabel { job: job.clone(), result: result.into() });
            }
        }
    }

    /// Count one periodic savepoint.
    pub fn periodic_savepoint(&self, job: &str, ok: bool) {
        let result = if ok { "completed" } else { "failed" };
        self.periodic.get_or_create(&JobOutcomeLabel { job: job.into(), result: result.into() }).inc();
    }

    /// `--gc-every` is on: its series exist from the start, at 0.
    pub fn gc_enabled(&self) {
        for result in ["ok", "failed"] {
            let _ = self.gc_runs.get_or_create(&ResultLabel { result: result.into() });
        }
    }

    /// Count one scheduled gc run.
    pub fn gc_ran(&self, ok: bool) {
        self.gc_runs.get_or_create(&ResultLabel { result: if ok { "ok" } else { "failed" }.into() }).inc();
    }

    /// Count one disposal of a scheduled gc.
    pub fn disposed(&self, job: &str, ok: bool) {
        let result = if ok { "disposed" } else { "failed" };
        self.disposals.get_or_create(&JobOutcomeLabel { job: job.into(), result: result.into() }).inc();
    }

    /// Count one reconcile.
    pub fn reconciled(&self, result: ReconcileResult, seconds: f64, now_epoch: f64) {
        self.reconciles.get_or_create(&ResultLabel { result: result.label().into() }).inc();
        self.reconcile_seconds.observe(seconds);
        if result == ReconcileResult::Ok {
            self.last_success.set(now_epoch);
        }
    }

    /// Whether the last reconcile could observe Flink.
    pub fn flink(&self, up: bool) {
        self.flink_up.set(i64::from(up));
    }

    pub fn specs_loaded(&self, errors: usize) {
        self.specs_valid.set(i64::from(errors == 0));
        self.spec_errors.set(errors as i64);
    }

    /// Jobs by status, from the plan a reconcile acted on (`held` names the jobs it held).
    pub fn observed(&self, plan: &Plan, held: &[&str]) {
        self.reset_jobs();
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
            self.jobs.get_or_create(&StatusLabel { status: status.into() }).inc();
        }
        let unmanaged = plan.unmanaged.len() as i64;
        self.jobs.get_or_create(&StatusLabel { status: "unmanaged".into() }).set(unmanaged);
    }

    fn reset_jobs(&self) {
        self.jobs.clear();
        for status in
            ["in_sync", "pending", "drifted", "held", "suspended", "orphan", "unmanaged", "conflict"]
        {
            self.jobs.get_or_create(&StatusLabel { status: status.into() }).set(0);
        }
    }

    /// Count what each action did.
    pub fn acted(&self, plan: &Plan, results: &[JobResult]) {
        for r in results {
            let result = match &r.outcome {
                Outcome::Done { .. } => "done",
                Outcome::RolledBack { .. } => "rolled_back",
                Outcome::Failed { .. } => "failed",
                Outcome::Skipped { .. } => "skipped",
            };
            let action = action_label(r.action);
            let labels = JobResultLabel { job: r.name.clone(), action: action.into(), result: result.into() };
            self.actions.get_or_create(&labels).inc();
            let job = JobLabel { job: r.name.clone() };
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

    /// The latest savepoint per job (epoch seconds), and how many the history holds, from the
    /// ledger.
    pub fn savepoints(&self, times: BTreeMap<String, f64>, recorded: BTreeMap<String, i64>) {
        *self.savepoint_times.lock().unwrap_or_else(|e| e.into_inner()) = times;
        self.savepoints_recorded.clear();
        for (job, n) in recorded {
            self.savepoints_recorded.get_or_create(&JobLabel { job }).set(n);
        }
    }

    /// The text exposition, with savepoint ages as of `now_epoch`.
    pub fn encode(&self, now_epoch: f64) -> String {
        self.savepoint_age.clear();
        for (job, at) in self.savepoint_times.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            self.savepoint_age.get_or_create(&JobLabel { job: job.clone() }).set((now_epoch - at).max(0.0));
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
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
        m.reconciled(ReconcileResult::Ok, 1.5, 1_700_000_000.0);
        m.specs_loaded(0);
        m.flink(true);
        m.savepoints(
            BTreeMap::from([("orders".to_string(), 1_700_000_000.0)]),
            BTreeMap::from([("orders".to_string(), 3)]),
        );
        m.savepoint_intervals(&BTreeMap::from([("orders".to_string(), 21_600.0)]));
        m.periodic_savepoint("orders", true);
        m.gc_enabled();
        m.gc_ran(true);
        m.disposed("orders", true);
        m.disposed("orders", true);
        let text = m.encode(1_700_000_060.0);
        for line in [
            "flinkops_reconciles_total{result=\"ok\"} 1",
            "flinkops_last_successful_reconcile_timestamp_seconds 1700000000",
            "flinkops_specs_valid 1",
            "flinkops_flink_up 1",
            "flinkops_savepoint_age_seconds{job=\"orders\"} 60",
            "flinkops_savepoints_recorded{job=\"orders\"} 3",
            "flinkops_savepoint_interval_seconds{job=\"orders\"} 21600",
            "flinkops_periodic_savepoints_total{job=\"orders\",result=\"completed\"} 1",
            "flinkops_periodic_savepoints_total{job=\"orders\",result=\"failed\"} 0",
            "flinkops_gc_runs_total{result=\"ok\"} 1",
            "flinkops_gc_runs_total{result=\"failed\"} 0",
            "flinkops_savepoints_disposed_total{job=\"orders\",result=\"disposed\"} 2",
            "# HELP flinkops_reconcile_duration_seconds",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}

//! One reconcile: load the specs (keeping the last good ones when they are broken), take the apply
//! lock, observe and plan exactly as `apply` does, hold back what the policy says, carry out the
//! rest, and publish the outcome (`/readyz`, `/metrics`, logs).
//!
//! Level-triggered and safe to run again at any time: it acts on what it observes now, never on
//! the event that woke it. It must not decide retry timing (that is `policy`) or serve anything.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use super::metrics::ReconcileResult;
use super::periodic::Schedules;
use super::policy::{Held, Policies};
use super::server::{Readiness, Shared};
use crate::apply::execute::{self, JobResult, Outcome};
use crate::apply::lock::{self, Holder, LockError};
use crate::apply::outcome::SkipReason;
use crate::apply::progress::Progress;
use crate::apply::steps::Context;
use crate::cli::StateArgs;
use crate::flink::Client;
use crate::ledger::{Ledger, Record};
use crate::pipeline::{load_checked, observe_and_plan};
use crate::plan::{self, Action, Options, Plan};
use crate::spec::Desired;
use crate::spec::clusters::{Cluster, DEFAULT_CLUSTER};

mod fleet;
pub use fleet::Fleet;

/// What does not change between reconciles.
pub struct Settings {
    pub specs: PathBuf,
    /// The state directory and the cluster's name, if given: the cluster's directory in it is
    /// found again at every reconcile (Flink may be down at the start).
    pub state: StateArgs,
    pub options: Options,
    pub concurrency: usize,
    /// `--retry-backoff`: also the first delay after a failed periodic savepoint.
    pub retry_backoff: Duration,
    /// `--gc-every`.
    pub gc_every: Option<Duration>,
}

/// Makes a client from the connection flags (reading token and password files again); `Err`
/// says why not, in words.
pub type Connect = Box<dyn Fn(&BTreeMap<String, Cluster>) -> Result<Client, String> + Send + Sync>;

pub struct Reconciler {
    settings: Settings,
    connect: Connect,
    /// The cluster's URL, for messages.
    base_url: String,
    /// The cluster's name, the `cluster` label of its metrics: its document's, or `default`
    /// for the connection flags' cluster.
    cluster: String,
    holder: Holder,
    /// The last specs that loaded without errors.
    desired: Option<Desired>,
    /// Failures and holds per (cluster, job).
    policies: Policies,
    /// Periodic savepoints and scheduled gc, per cluster.
    schedules: Schedules,
    shared: Arc<Shared>,
    /// What the last reconcile decided, to log a decision once rather than at every resync.
    last_decisions: Vec<String>,
    /// The diagnostics of the last load, likewise.
    last_diagnostics: Vec<String>,
    /// Started over several clusters: each tick runs apply's fleet path (`fleet`).
    fleet: Option<Fleet>,
    /// The clusters the last fleet tick skipped because an apply held their lock.
    busy: Vec<String>,
}

/// What one reconcile found, for the loop.
pub struct Report {
    pub result: ReconcileResult,
    /// When a held job may be tried again, or a periodic savepoint or gc falls due.
    pub next_retry: Option<Instant>,
    /// How many clusters of a fleet were skipped because an apply held their lock (not counted
    /// in `result`).
    pub busy: usize,
}

impl Reconciler {
    /// `base_url` is the cluster's URL as `connect`'s clients give it.
    pub fn new(
        settings: Settings,
        connect: Connect,
        base_url: String,
        policies: Policies,
        shared: Arc<Shared>,
    ) -> Self {
        let holder = Holder::current(&format!("flinkops watch {}", settings.specs.display()));
        let schedules = Schedules::new(settings.retry_backoff, settings.gc_every, settings.concurrency);
        // Named from the specs at the first load (`follow_cluster_name`), so that no series of a
        // `default` cluster lingers beside the document's.
        let cluster = DEFAULT_CLUSTER.to_owned();
        Self {
            schedules,
            settings,
            connect,
            base_url,
            cluster,
            holder,
            desired: None,
            policies,
            shared,
            last_decisions: Vec::new(),
            last_diagnostics: Vec::new(),
            fleet: None,
            busy: Vec::new(),
        }
    }

    /// Reconcile every cluster of `fleet` at each tick rather than one.
    pub fn over_fleet(self, fleet: Fleet) -> Self {
        Self { fleet: Some(fleet), ..self }
    }

    /// Reconcile once. `shutdown` cancelled: start no new action.
    pub async fn reconcile(&mut self, why: &str, shutdown: &CancellationToken) -> Report {
        let started = Instant::now();
        tracing::debug!(trigger = why, "reconciling");
        self.busy.clear();
        let spec_problems = self.load();
        let (result, lines) = match &self.desired {
            None => (ReconcileResult::InvalidSpecs, spec_problems.clone()),
            Some(_) => self.act(spec_problems.clone(), shutdown).await,
        };
        let result = if spec_problems.is_empty() || result == ReconcileResult::FlinkUnreachable {
            result
        } else {
            ReconcileResult::InvalidSpecs
        };
        let now = Timestamp::now();
        for cluster in self.labels() {
            let result = if self.busy.contains(&cluster) { ReconcileResult::Locked } else { result };
            self.shared.metrics.reconciled(&cluster, result, started.elapsed().as_secs_f64(), epoch(now));
        }
        let ready = result == ReconcileResult::Ok;
        // Say when readiness changes, or why it is still missing when the reasons change; a
        // sidecar running for months must not repeat itself every resync.
        let before = self.shared.readiness();
        let text = lines.join("; ");
        match (ready, before.at.is_none() || before.ready != ready || before.lines != lines) {
            (true, true) if !before.ready => tracing::info!(trigger = why, "ready: {text}"),
            (false, true) => tracing::warn!(trigger = why, "not ready: {text}"),
            _ => tracing::debug!(trigger = why, ready, "{text}"),
        }
        self.shared.set_readiness(Readiness { ready, lines, at: Some(now) });
        let wake =
            [self.policies.next_retry(Instant::now()), self.schedules.wake()].into_iter().flatten().min();
        Report { result, next_retry: wake, busy: self.busy.len() }
    }

    /// Load the specs; keep the last good ones when these have errors. Returns the errors, one
    /// line each (`file:line:col: message`), and logs every diagnostic.
    fn load(&mut self) -> Vec<String> {
        let loaded = load_checked(&self.settings.specs, &self.settings.state.state_dir);
        let errors = loaded.error_count();
        self.shared.metrics.specs_loaded(errors);
        let (mut lines, mut seen) = (Vec::new(), Vec::new());
        for d in &loaded.diagnostics {
            let at = d.location();
            let at = if at.is_empty() { self.settings.specs.display().to_string() } else { at };
            let help = d.help.as_deref().unwrap_or("");
            let line = match &d.help {
                Some(help) => format!("{at}: {} ({help})", d.message),
                None => format!("{at}: {}", d.message),
            };
            // Broken specs stay broken until someone pushes a fix: say it once, not every resync.
            let new = !self.last_diagnostics.contains(&line);
            match (d.is_error(), new) {
                (true, true) => tracing::error!(location = %at, code = d.code, help, "{}", d.message),
                (false, true) => tracing::warn!(location = %at, code = d.code, help, "{}", d.message),
                (_, false) => tracing::debug!(location = %at, code = d.code, "{}", d.message),
            }
            if d.is_error() {
                lines.push(line.clone());
            }
            seen.push(line);
        }
        let repeated = seen == self.last_diagnostics;
        self.last_diagnostics = seen;
        if errors == 0 {
            self.follow_cluster_name(&loaded.desired);
            self.desired = Some(loaded.desired);
            return lines;
        }
        let kept = match &self.desired {
            Some(_) => "nothing new is applied; the last good specs stay in force (jobs are still healed)",
            None => "nothing is applied until they are fixed",
        };
        if !repeated {
            tracing::error!(
                "{errors} problem(s) in the job specs under {}: {kept}",
                self.settings.specs.display()
            );
        }
        lines.insert(0, format!("{errors} problem(s) in the job specs: {kept}"));
        lines
    }

    /// The `cluster` labels a reconcile is counted under: every cluster of a fleet, else the one.
    fn labels(&self) -> Vec<String> {
        match (&self.fleet, &self.desired) {
            (Some(_), Some(d)) if !d.clusters.is_empty() => d.clusters.keys().cloned().collect(),
            _ => vec![self.cluster.clone()],
        }
    }

    /// The `cluster` label from specs that loaded: their one cluster document's name, else
    /// `default`. (A second document is refused when connecting.)
    fn follow_cluster_name(&mut self, desired: &Desired) {
        let name = desired.clusters.keys().next().map_or(DEFAULT_CLUSTER, String::as_str);
        self.cluster = name.to_owned();
        if self.fleet.is_some() {
            for name in desired.clusters.keys() {
                self.shared.metrics.cluster(name);
                if self.settings.gc_every.is_some() {
                    self.shared.metrics.gc_enabled(name);
                }
            }
        }
        self.shared.metrics.cluster(name);
        if self.settings.gc_every.is_some() {
            self.shared.metrics.gc_enabled(name);
        }
    }

    /// Lock, observe, plan, hold, execute. Returns the result and the readiness lines.
    async fn act(
        &mut self,
        mut lines: Vec<String>,
        shutdown: &CancellationToken,
    ) -> (ReconcileResult, Vec<String>) {
        if self.fleet.is_some() {
            return self.act_fleet(lines, shutdown).await;
        }
        match self.try_act(shutdown).await {
            Ok((plan, results, held)) => self.conclude(&plan, &results, &held, lines),
            Err((result, line)) => {
                lines.push(line);
                (result, lines)
            }
        }
    }

    /// The plan acted on, its results and the holds; `Err`: why nothing could be decided or done.
    async fn try_act(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Result<(Plan, Vec<JobResult>, BTreeMap<String, Held>), (ReconcileResult, String)> {
        // A client per reconcile: a rotated token file is read again, and the Flink version
        // (which decides request shapes) is asked again after an in-place cluster upgrade.
        let no_clusters = BTreeMap::new();
        let clusters = self.desired.as_ref().map_or(&no_clusters, |d| &d.clusters);
        let client = (self.connect)(clusters).map_err(|e| {
            tracing::error!("{e}");
            (ReconcileResult::FlinkUnreachable, e)
        })?;
        if client.base_url() != self.base_url {
            let e = format!(
                "the specs now reach Flink at {}, not at {} where watch started: restart watch to follow \
                 the cluster document (the lock and ledger belong to the cluster it started with)",
                client.base_url(),
                self.base_url
            );
            tracing::error!("{e}");
            return Err((ReconcileResult::Failed, e));
        }
        let cluster_dir = self.settings.state.cluster_dir_to_write(&client).await.map_err(|e| match e {
            crate::cluster::Error::Flink(e) => self.unreachable(&e),
            e => {
                tracing::error!(hint = e.help().unwrap_or_default(), "{e}");
                (ReconcileResult::Failed, e.to_string())
            }
        })?;
        let ledger = Ledger::new(&cluster_dir);
        // Observe without the lock: most reconciles find nothing to do, and then need no lock.
        let (plan, records, held) = self.decide(&client, &ledger).await?;
        let desired = self.desired.as_ref().expect("act runs with specs");
        let chores = self.schedules.of(&self.cluster).due(&client, desired, &plan, &records).await;
        if !runnable(&plan) && !chores.any() {
            log_decisions(&mut self.last_decisions, &plan);
            return Ok((plan, Vec::new(), held));
        }
        // Something to do: take the lock, then decide again under it (an apply that held it
        // may have changed everything).
        let _lock = lock::acquire(&cluster_dir, &self.base_url, Duration::ZERO, &self.holder, |_, _| {})
            .map_err(|e| match e {
                LockError::Held { .. } => {
                    tracing::info!("{e}; trying again at the next trigger");
                    (ReconcileResult::Locked, e.to_string())
                }
                _ => {
                    tracing::error!(hint = e.help(), "{e}");
                    (ReconcileResult::Failed, e.to_string())
                }
            })?;
        let (plan, records, held) = self.decide(&client, &ledger).await?;
        log_decisions(&mut self.last_decisions, &plan);
        let desired = self.desired.as_ref().expect("act runs with specs");
        let results = if runnable(&plan) {
            let results =
                self.execute(client.clone(), ledger.clone(), &plan, desired, records.clone(), shutdown).await;
            self.policies.of(&self.cluster).record(&plan, &results, Instant::now());
            results
        } else {
            Vec::new()
        };
        self.scheduled(client, ledger, (&plan, records), !results.is_empty(), shutdown).await;
        Ok((plan, results, held))
    }

    /// Periodic savepoints and gc, still under the lock and after the actions: from a fresh look
    /// at Flink when the actions changed it (an upgraded job has a new id and a new savepoint).
    async fn scheduled(
        &mut self,
        client: Client,
        ledger: Ledger,
        (plan, records): (&Plan, BTreeMap<String, Record>),
        acted: bool,
        shutdown: &CancellationToken,
    ) {
        let (plan, records) = if acted {
            match self.decide(&client, &ledger).await {
                Ok((plan, records, _)) => (plan, records),
                // Said already; the next trigger looks again.
                Err(_) => return,
            }
        } else {
            (plan.clone(), records)
        };
        let desired = self.desired.as_ref().expect("act runs with specs");
        let metrics = &self.shared.metrics;
        let cluster = self.cluster.as_str();
        let periodic = self.schedules.of(cluster);
        let records =
            periodic.run(client, ledger, desired, &plan, records, (metrics, cluster), shutdown).await;
        metrics.savepoints(cluster, savepoint_times(&records), savepoint_counts(&records));
    }

    /// Observe, plan, and hold back what the policy says. `Err`: Flink could not be observed
    /// (logged), with a readiness line.
    async fn decide(
        &mut self,
        client: &Client,
        ledger: &Ledger,
    ) -> Result<(Plan, BTreeMap<String, Record>, BTreeMap<String, Held>), (ReconcileResult, String)> {
        let desired = self.desired.as_ref().expect("act runs with specs");
        let (s, o) = (&self.settings.specs, &self.settings.options);
        let (mut plan, records) = match observe_and_plan(client, ledger, desired, s, o).await {
            Ok(p) => p,
            Err(e) => return Err(self.unreachable(&e)),
        };
        let (metrics, cluster) = (&self.shared.metrics, self.cluster.as_str());
        metrics.flink(cluster, true);
        metrics.savepoints(cluster, savepoint_times(&records), savepoint_counts(&records));
        metrics.savepoint_intervals(cluster, &intervals(desired));
        let held = self.policies.of(&self.cluster).holds(&plan, Instant::now());
        let reasons: BTreeMap<String, String> =
            held.iter().map(|(k, v)| (k.clone(), v.reason.clone())).collect();
        plan::hold(&mut plan, desired, &reasons);
        Ok((plan, records, held))
    }

    /// Flink could not be observed: logged, and the readiness line.
    fn unreachable(&self, e: &crate::flink::Error) -> (ReconcileResult, String) {
        self.shared.metrics.flink(&self.cluster, false);
        // The specs' one cluster document gave the URL: its hint names the document, not FLINK_URL.
        let document = self.desired.as_ref().and_then(|d| d.clusters.values().next());
        let hint = document
            .and_then(|c| crate::pipeline::fleet::document_hint(&c.name, &c.origin, e))
            .or_else(|| e.help().map(str::to_owned))
            .unwrap_or_default();
        tracing::error!(hint, "cannot observe Flink at {}: {e}", self.base_url);
        (ReconcileResult::FlinkUnreachable, format!("Flink at {} is not reachable: {e}", self.base_url))
    }

    /// Publish what a reconcile found and did, and judge it.
    fn conclude(
        &self,
        plan: &Plan,
        results: &[JobResult],
        held: &BTreeMap<String, Held>,
        lines: Vec<String>,
    ) -> (ReconcileResult, Vec<String>) {
        let held_names: Vec<&str> = held.keys().map(String::as_str).collect();
        self.shared.metrics.observed(&self.cluster, plan, &held_names);
        self.shared.metrics.acted(&self.cluster, plan, results);
        verdict(plan, results, held, lines)
    }

    async fn execute(
        &self,
        client: Client,
        ledger: Ledger,
        plan: &Plan,
        desired: &Desired,
        records: BTreeMap<String, Record>,
        shutdown: &CancellationToken,
    ) -> Vec<JobResult> {
        let ctx =
            Context { shutdown: shutdown.clone(), ..Context::new(client, ledger, records, Progress::log()) };
        let results = execute::execute(&ctx, plan, desired, self.settings.concurrency).await;
        let removed = ctx.remove_dropped_jars().await;
        if removed > 0 {
            tracing::info!("removed {removed} jar upload(s) no job refers to any more");
        }
        let acted: Vec<&JobResult> = results
            .iter()
            .filter(|r| plan_of(plan, &r.name).is_some_and(|p| p.blocked_by.is_none()))
            .collect();
        if !acted.is_empty() {
            tracing::info!("{}", execute::summary(acted));
        }
        let records = ctx.records.lock().unwrap_or_else(|e| e.into_inner());
        self.shared.metrics.savepoints(&self.cluster, savepoint_times(&records), savepoint_counts(&records));
        drop(records);
        results
    }
}

/// Log each decision that differs from the last reconcile's (a held job is not repeated at every
/// resync).
fn log_decisions(last: &mut Vec<String>, plan: &Plan) {
    let mut decisions = Vec::new();
    for j in plan.jobs.iter().filter(|j| j.action.is_change() || j.drift.is_some()) {
        let key = format!("{}|{:?}|{:?}|{:?}", j.name, j.action, j.blocked_by, j.fingerprint);
        if !last.contains(&key) {
            let action = super::metrics::action_label(j.action);
            match &j.blocked_by {
                Some(why) => tracing::warn!(job = %j.name, action, "not acted on: {why}"),
                None => tracing::info!(job = %j.name, action, "{}", j.reason),
            }
        }
        decisions.push(key);
    }
    *last = decisions;
}

/// Whether the plan has an action apply will carry out.
fn runnable(plan: &Plan) -> bool {
    plan.jobs.iter().any(|j| j.action.is_change() && j.blocked_by.is_none() && j.action != Action::Conflict)
}

fn plan_of<'p>(plan: &'p Plan, name: &str) -> Option<&'p plan::JobPlan> {
    plan.jobs.iter().find(|j| j.name == name)
}

/// Ready when every action succeeded, nothing is held after a failure, and the plan has no
/// problems. The lines say why not, or summarise.
fn verdict(
    plan: &Plan,
    results: &[JobResult],
    held: &BTreeMap<String, Held>,
    mut lines: Vec<String>,
) -> (ReconcileResult, Vec<String>) {
    let mut failed = false;
    for r in results {
        let line = match &r.outcome {
            Outcome::Failed { reason } => format!("{}: failed: {reason}", r.name),
            Outcome::RolledBack { reason } => format!("{}: rolled back: {reason}", r.name),
            // A shutdown left the action undone: not converged. Other skips (an upstream's failure,
            // a hold, a conflict) are reported where they come from.
            Outcome::Skipped { reason: reason @ SkipReason::ShuttingDown } => {
                format!("{}: {reason}", r.name)
            }
            _ => continue,
        };
        failed = true;
        lines.push(line);
    }
    for (name, h) in held.iter().filter(|(_, h)| h.after_failure) {
        failed = true;
        lines.push(format!("{name}: {}", h.reason));
    }
    for problem in &plan.problems {
        failed = true;
        lines.push(problem.to_string());
    }
    if failed {
        return (ReconcileResult::Failed, lines);
    }
    if lines.is_empty() {
        let done = |name: &str| results.iter().any(|r| r.name == name && r.outcome.is_ok());
        let specs = plan.jobs.iter().filter(|j| j.fingerprint.is_some());
        let in_sync = specs.clone().filter(|j| j.action == Action::None || done(&j.name)).count();
        let mut line = format!("{in_sync} of {} spec(s) running as written", specs.count());
        let orphans = plan.jobs.iter().filter(|j| j.action == Action::Orphan).count();
        if orphans > 0 {
            line.push_str(&format!("; {orphans} managed job(s) without a spec here left running"));
        }
        lines.push(line);
        for (name, h) in held {
            lines.push(format!("{name}: {}", h.reason));
        }
    }
    (ReconcileResult::Ok, lines)
}

/// `savepoint.every` of each spec that has one, in seconds.
fn intervals(desired: &Desired) -> BTreeMap<String, f64> {
    let every = |j: &crate::spec::Job| j.savepoint.every.as_ref().map(|e| e.value.as_std().as_secs_f64());
    desired.jobs.iter().filter_map(|(name, j)| Some((name.clone(), every(j)?))).collect()
}

/// The newest savepoint per job (not a retained checkpoint), as Unix seconds.
fn savepoint_times(records: &BTreeMap<String, Record>) -> BTreeMap<String, f64> {
    records
        .iter()
        .filter_map(|(name, r)| {
            let taken: Timestamp = r.newest_savepoint()?.taken_at.parse().ok()?;
            Some((name.clone(), epoch(taken)))
        })
        .collect()
}

/// How many savepoints (not retained checkpoints) each job's history holds.
fn savepoint_counts(records: &BTreeMap<String, Record>) -> BTreeMap<String, i64> {
    let counted = |r: &Record| {
        r.savepoints.iter().filter(|s| s.reason != crate::ledger::SavepointReason::RetainedCheckpoint).count()
    };
    records.iter().map(|(name, r)| (name.clone(), i64::try_from(counted(r)).unwrap_or(i64::MAX))).collect()
}

fn epoch(t: Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::outcome::{Done, RolledBack};
    use crate::plan::fixtures::*;
    use crate::plan::{Observed, plan};

    fn deploy_plan() -> Plan {
        plan(
            &desired([job("orders"), job("billing")]),
            &Observed::default(),
            &BTreeMap::new(),
            &Options::default(),
        )
    }

    fn result(name: &str, outcome: Outcome) -> JobResult {
        JobResult { name: name.into(), action: Action::Deploy, outcome, seconds: 1.0 }
    }

    #[test]
    fn every_action_done_is_ready_and_counts_the_specs_as_written() {
        let p = deploy_plan();
        let done = |n: &str| result(n, Outcome::Done { detail: Done::SettingsRecorded });
        let (r, lines) = verdict(&p, &[done("orders"), done("billing")], &BTreeMap::new(), Vec::new());
        assert_eq!(r, ReconcileResult::Ok);
        assert_eq!(lines, ["2 of 2 spec(s) running as written"]);
    }

    #[test]
    fn a_rollback_or_a_job_held_after_a_failure_is_not_ready_and_says_which() {
        let p = deploy_plan();
        let why = crate::apply::outcome::StepError::StartFailed("boom".into());
        let running: crate::flink::JobId = "00000000000000000000000000000001".parse().unwrap();
        let results = [result(
            "orders",
            Outcome::RolledBack { reason: RolledBack { why, running, renamed_back: None } },
        )];
        let held = BTreeMap::from([(
            "billing".to_string(),
            Held { reason: "failed 3 time(s); held until the spec changes".into(), after_failure: true },
        )]);
        let (r, lines) = verdict(&p, &results, &held, Vec::new());
        assert_eq!(r, ReconcileResult::Failed);
        assert_eq!(
            lines,
            [
                "orders: rolled back: starting the job failed: boom; the previous version runs again as \
                 00000000000000000000000000000001, from the same state",
                "billing: failed 3 time(s); held until the spec changes"
            ]
        );
    }

    /// A shutdown left an action undone: watch is not converged, and says so. Any other skip
    /// (an upstream's failure, a conflict, a block in the plan) is reported where it comes from
    /// and does not by itself fail the reconcile, whatever its words.
    #[test]
    fn only_a_shutdown_skip_fails_the_verdict() {
        let p = deploy_plan();
        let skip = |reason| {
            let done = Outcome::Done { detail: Done::SettingsRecorded };
            [result("orders", Outcome::Skipped { reason }), result("billing", done)]
        };
        let (r, lines) = verdict(&p, &skip(SkipReason::ShuttingDown), &BTreeMap::new(), Vec::new());
        assert_eq!(r, ReconcileResult::Failed);
        assert_eq!(lines, ["orders: flinkops is shutting down: not started (the next run does it)"]);
        for other in [
            SkipReason::UpstreamFailed { upstream: "billing".into() },
            SkipReason::Conflict,
            SkipReason::Blocked(crate::plan::model::Blocker::Held {
                reason: "flinkops is shutting down".into(),
            }),
        ] {
            let (r, lines) = verdict(&p, &skip(other.clone()), &BTreeMap::new(), Vec::new());
            assert_eq!(r, ReconcileResult::Ok, "{other:?}: {lines:?}");
        }
    }

    #[test]
    fn a_job_held_by_choice_keeps_watch_ready_and_is_mentioned() {
        let p = deploy_plan();
        let held = BTreeMap::from([(
            "billing".to_string(),
            Held { reason: "self-heal is off".into(), after_failure: false },
        )]);
        let done = [result("orders", Outcome::Done { detail: Done::SettingsRecorded })];
        let (r, lines) = verdict(&p, &done, &held, Vec::new());
        assert_eq!(r, ReconcileResult::Ok);
        assert_eq!(lines, ["1 of 2 spec(s) running as written", "billing: self-heal is off"]);
    }
}

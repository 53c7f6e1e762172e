//! The error policy: which jobs `watch` keeps its hands off for now, and why.
//!
//! A failed action is tried again after a back-off that doubles, for the same spec version (its
//! fingerprint), at most `max_retries` times; then the job is held until the spec changes. A
//! rollback holds at once: the new version was started and was not healthy, and the same version
//! would fail the same way. A new fingerprint (an edited spec, a `restartNonce` bump) forgets the
//! failures. This is Argo CD's "one automatic sync per commit", with a few retries for faults that
//! pass (a savepoint that timed out, Flink briefly away).
//!
//! Pure: time comes in as `Instant`s, so tests need no clock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::apply::execute::{JobResult, Outcome};
use crate::plan::{Action, Plan};

/// Failures remembered per job name.
#[derive(Debug)]
pub struct Policy {
    backoff: Duration,
    max_retries: u32,
    self_heal: bool,
    failures: BTreeMap<String, Failure>,
}

#[derive(Debug, Clone)]
struct Failure {
    /// The spec version that failed (`None` for a job without a spec: a pruned orphan).
    fingerprint: Option<String>,
    count: u32,
    reason: String,
    /// When to try again; `None`: not until the spec changes.
    retry_at: Option<Instant>,
}

/// Why a job is held, for the plan and for `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub reason: String,
    /// Held because an action failed (as opposed to a choice, like `--no-self-heal`).
    pub after_failure: bool,
}

impl Policy {
    pub fn new(backoff: Duration, max_retries: u32, self_heal: bool) -> Self {
        Self { backoff, max_retries: max_retries.max(1), self_heal, failures: BTreeMap::new() }
    }

    /// Learn from one reconcile's results. `plan` is the plan they came from.
    pub fn record(&mut self, plan: &Plan, results: &[JobResult], now: Instant) {
        for r in results {
            let fingerprint = plan.jobs.iter().find(|j| j.name == r.name).and_then(|j| j.fingerprint.clone());
            match &r.outcome {
                Outcome::Done { .. } => {
                    self.failures.remove(&r.name);
                }
                Outcome::Failed { reason } => {
                    self.failed(&r.name, fingerprint, &reason.to_string(), false, now)
                }
                Outcome::RolledBack { reason } => {
                    self.failed(&r.name, fingerprint, &reason.to_string(), true, now)
                }
                // Not attempted: not this job's failure (a dependency's, a hold, a shutdown).
                Outcome::Skipped { .. } => {}
            }
        }
    }

    fn failed(
        &mut self,
        name: &str,
        fingerprint: Option<String>,
        reason: &str,
        rolled_back: bool,
        now: Instant,
    ) {
        let previous = self.failures.get(name).filter(|f| f.fingerprint == fingerprint);
        let count = previous.map_or(0, |f| f.count) + 1;
        let retry_at = if rolled_back || count >= self.max_retries {
            None
        } else {
            Some(now + self.backoff.saturating_mul(1 << (count - 1).min(16)))
        };
        self.failures
            .insert(name.to_string(), Failure { fingerprint, count, reason: reason.to_string(), retry_at });
    }

    /// The jobs of `plan` to hold now, with their reasons. Forgets failures of specs that changed
    /// and of jobs that need nothing any more.
    pub fn holds(&mut self, plan: &Plan, now: Instant) -> BTreeMap<String, Held> {
        self.failures.retain(|name, f| {
            plan.jobs
                .iter()
                .any(|j| &j.name == name && j.action.is_change() && j.fingerprint == f.fingerprint)
        });
        let mut held = BTreeMap::new();
        for (name, f) in &self.failures {
            let reason = match f.retry_at {
                Some(at) if at > now => format!(
                    "failed {} time(s) ({}); trying again in {}s",
                    f.count,
                    f.reason,
                    (at - now).as_secs().max(1)
                ),
                Some(_) => continue,
                None => format!(
                    "failed {} time(s) for this version of the spec ({}); held until the spec changes (edit it, or bump `restartNonce` to try the same version again)",
                    f.count, f.reason
                ),
            };
            held.insert(name.clone(), Held { reason, after_failure: true });
        }
        if !self.self_heal {
            for j in plan.jobs.iter().filter(|j| is_heal(j)) {
                if held.contains_key(&j.name) {
                    continue;
                }
                let drift = j.drift.as_ref().map_or_else(|| "not running".to_string(), ToString::to_string);
                let reason = format!(
                    "self-heal is off (--no-self-heal): the job {drift}; `flinkops apply` redeploys it from its latest state"
                );
                held.insert(j.name.clone(), Held { reason, after_failure: false });
            }
        }
        held
    }

    /// The earliest time a held job may be tried again, to schedule a reconcile then.
    pub fn next_retry(&self, now: Instant) -> Option<Instant> {
        self.failures.values().filter_map(|f| f.retry_at).filter(|at| *at > now).min()
    }
}

/// One [`Policy`] per cluster, made alike: a failure is remembered per (cluster, job), so that a
/// job that failed on one cluster never holds its namesake (an orphan, a ledger's record) on
/// another, and one cluster's back-off never delays another's.
#[derive(Debug)]
pub struct Policies {
    backoff: Duration,
    max_retries: u32,
    self_heal: bool,
    by_cluster: BTreeMap<String, Policy>,
}

impl Policies {
    pub fn new(backoff: Duration, max_retries: u32, self_heal: bool) -> Self {
        Self { backoff, max_retries, self_heal, by_cluster: BTreeMap::new() }
    }

    /// The policy of `cluster` (the cluster document's name, `default` for the flags').
    pub fn of(&mut self, cluster: &str) -> &mut Policy {
        let (backoff, max_retries, self_heal) = (self.backoff, self.max_retries, self.self_heal);
        self.by_cluster
            .entry(cluster.to_owned())
            .or_insert_with(|| Policy::new(backoff, max_retries, self_heal))
    }

    /// The earliest time a held job of any cluster may be tried again.
    pub fn next_retry(&self, now: Instant) -> Option<Instant> {
        self.by_cluster.values().filter_map(|p| p.next_retry(now)).min()
    }
}

/// A redeploy of the same spec version after the job failed or was stopped outside flinkops
/// (as opposed to a spec change, which is applied even with self-heal off).
pub fn is_heal(j: &crate::plan::JobPlan) -> bool {
    if j.action != Action::Deploy || j.drift.is_none() {
        return false;
    }
    match &j.live {
        Some(live) => j.runs_this_version(&live.id),
        // The cluster forgot the job; the ledger says it was deployed.
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::outcome::{Done, RolledBack, SkipReason, StepError};
    use crate::flink::JobId;
    use crate::plan::fixtures::*;
    use crate::plan::{Observed, Options, plan};

    fn upgrade_plan() -> Plan {
        let old = job("orders");
        let new = job("orders").with_parallelism(2);
        plan(
            &desired([new]),
            &Observed { jobs: vec![live_of(&old, 1, crate::flink::JobState::Running)], ..Default::default() },
            &ledger([record_of(&old)]),
            &Options::default(),
        )
    }

    fn result(outcome: Outcome) -> Vec<JobResult> {
        vec![JobResult {
            name: "orders".into(),
            action: Action::Upgrade { mode: crate::spec::model::UpgradeMode::Savepoint },
            outcome,
            seconds: 1.0,
        }]
    }

    fn failed() -> Vec<JobResult> {
        result(Outcome::Failed { reason: StepError::SavepointFailed("savepoint timed out".into()) })
    }

    #[test]
    fn a_failure_is_remembered_per_cluster_and_job() {
        let (plan, t0) = (upgrade_plan(), Instant::now());
        let mut policies = Policies::new(Duration::from_secs(60), 3, true);
        policies.of("eu").record(&plan, &failed(), t0);
        assert!(policies.of("eu").holds(&plan, t0).contains_key("orders"), "eu's orders failed");
        assert!(policies.of("us").holds(&plan, t0).is_empty(), "us's orders did not fail");
        assert_eq!(policies.next_retry(t0), Some(t0 + Duration::from_secs(60)));
    }

    #[test]
    fn a_failure_backs_off_doubling_then_holds_until_the_spec_changes() {
        let (plan, t0) = (upgrade_plan(), Instant::now());
        let mut policy = Policy::new(Duration::from_secs(60), 3, true);
        policy.record(&plan, &failed(), t0);
        assert!(
            policy.holds(&plan, t0 + Duration::from_secs(59))["orders"].reason.contains("trying again in 1s")
        );
        assert!(policy.holds(&plan, t0 + Duration::from_secs(60)).is_empty());
        let t1 = t0 + Duration::from_secs(60);
        policy.record(&plan, &failed(), t1);
        assert_eq!(policy.next_retry(t1), Some(t1 + Duration::from_secs(120)));
        let t2 = t1 + Duration::from_secs(120);
        policy.record(&plan, &failed(), t2);
        let held = &policy.holds(&plan, t2 + Duration::from_secs(86_400))["orders"];
        assert!(held.reason.contains("failed 3 time(s)") && held.reason.contains("until the spec changes"));
        assert!(held.after_failure);
        assert_eq!(policy.next_retry(t2), None);
    }

    #[test]
    fn a_rollback_holds_at_once() {
        let (plan, t0) = (upgrade_plan(), Instant::now());
        let mut policy = Policy::new(Duration::from_secs(60), 3, true);
        let why = StepError::StartFailed("not healthy".into());
        let rolled =
            Outcome::RolledBack { reason: RolledBack { why, running: JobId::random(), renamed_back: None } };
        policy.record(&plan, &result(rolled), t0);
        assert!(policy.holds(&plan, t0 + Duration::from_secs(3600)).contains_key("orders"));
    }

    #[test]
    fn a_new_fingerprint_forgets_the_failures() {
        let (plan, t0) = (upgrade_plan(), Instant::now());
        let mut policy = Policy::new(Duration::from_secs(60), 1, true);
        policy.record(&plan, &failed(), t0);
        let mut edited = plan.clone();
        edited.jobs[0].fingerprint = Some("another".into());
        assert!(policy.holds(&edited, t0).is_empty());
        assert!(policy.holds(&plan, t0).is_empty(), "forgotten, not only hidden");
    }

    #[test]
    fn success_and_a_job_needing_nothing_clear_the_failure() {
        let (plan, t0) = (upgrade_plan(), Instant::now());
        let mut policy = Policy::new(Duration::from_secs(60), 1, true);
        policy.record(&plan, &failed(), t0);
        policy.record(&plan, &result(Outcome::Done { detail: Done::SettingsRecorded }), t0);
        assert!(policy.holds(&plan, t0).is_empty());
        policy.record(&plan, &failed(), t0);
        let mut in_sync = plan.clone();
        in_sync.jobs[0].action = Action::None;
        assert!(policy.holds(&in_sync, t0).is_empty());
    }

    #[test]
    fn skipped_jobs_are_not_counted_as_failures() {
        let (plan, t0) = (upgrade_plan(), Instant::now());
        let mut policy = Policy::new(Duration::from_secs(60), 1, true);
        for reason in [SkipReason::ShuttingDown, SkipReason::UpstreamFailed { upstream: "ingest".into() }] {
            policy.record(&plan, &result(Outcome::Skipped { reason }), t0);
            assert!(policy.holds(&plan, t0).is_empty());
        }
    }

    #[test]
    fn without_self_heal_a_cancelled_job_is_held_but_a_changed_one_is_deployed() {
        let j = job("orders");
        let cancelled = live_of(&j, 1, crate::flink::JobState::Canceled);
        let heal = plan(
            &desired([j.clone()]),
            &Observed { jobs: vec![cancelled.clone()], ..Default::default() },
            &ledger([record_of(&j)]),
            &Options::default(),
        );
        let mut policy = Policy::new(Duration::from_secs(60), 3, false);
        let held = &policy.holds(&heal, Instant::now())["orders"];
        assert!(held.reason.contains("self-heal is off") && !held.after_failure, "{held:?}");
        let changed = plan(
            &desired([j.clone().with_parallelism(3)]),
            &Observed { jobs: vec![cancelled], ..Default::default() },
            &ledger([record_of(&j)]),
            &Options::default(),
        );
        assert!(policy.holds(&changed, Instant::now()).is_empty());
        assert!(Policy::new(Duration::from_secs(1), 1, true).holds(&heal, Instant::now()).is_empty());
    }

    #[test]
    fn a_cancelled_job_an_older_flinkops_started_with_a_secret_is_a_heal_too() {
        let mut j = job("orders");
        j.args[1] = crate::spec::Param { value: "hunter2".into(), sensitive: true };
        j.fingerprint = crate::spec::fingerprint::of(&j);
        let mut old = j.clone();
        old.fingerprint = crate::spec::fingerprint::legacy(&j).unwrap();
        let p = plan(
            &desired([j.clone()]),
            &Observed {
                jobs: vec![live_of(&old, 1, crate::flink::JobState::Canceled)],
                ..Default::default()
            },
            &ledger([record_of(&j)]),
            &Options::default(),
        );
        let held = &Policy::new(Duration::from_secs(60), 3, false).holds(&p, Instant::now())["orders"];
        assert!(held.reason.contains("self-heal is off"), "{held:?}");
    }
}

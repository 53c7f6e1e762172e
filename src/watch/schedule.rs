//! When `watch` takes a periodic savepoint of a job (`savepoint.every`), and when it tries again
//! after one failed. Pure: the ledger's times, the plan's verdicts and `now` come in, verdicts go
//! out; the reconcile takes the savepoints.
//!
//! Level-triggered from the ledger: a job is due when its newest recorded savepoint (any reason:
//! an upgrade's savepoint resets the clock) is older than its interval less its offset, so a
//! restarted watch neither fires every job at once nor forgets the schedule. A job with no
//! savepoint recorded counts from when its running job started. The offset is fixed per job name
//! (a hash, up to 10% of the interval): jobs deployed together with one interval fire apart, and
//! each still gets a savepoint at least every interval.
//!
//! Only what remembers failures is in memory (a restarted watch tries once at once, then backs
//! off again): after a failure the job is tried again after `--retry-backoff`, doubling with
//! each failure, never later than its interval.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use crate::flink::JobId;
use crate::plan::{Action, JobPlan};

/// What the schedule knows of one job with `savepoint.every`.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub name: &'a str,
    pub every: Duration,
    /// When its newest recorded savepoint was taken.
    pub newest: Option<Timestamp>,
    /// When its running job started (Flink's answer), for a job with no savepoint recorded.
    pub started: Option<Timestamp>,
    /// Its plan in the reconcile that decides; `None`: no plan names it.
    pub plan: Option<&'a JobPlan>,
}

/// Why a job gets no savepoint now whatever its age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// No running job with all its tasks up (stopped, suspended, restarting, still deploying).
    NotRunning,
    /// This reconcile acts on it (an upgrade, a redeploy): a savepoint must not interleave.
    Changing,
    /// flinkops cannot act on it (a conflict, a job not adopted yet).
    NotOurs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Take a savepoint of its running job ([`due_job`]) now.
    Due,
    /// Not due before `at`.
    NotYet {
        at: Timestamp,
    },
    /// The last attempt failed; not before `at`.
    BackingOff {
        at: Timestamp,
        failures: u32,
    },
    Skip {
        why: Skip,
    },
}

/// A failed periodic savepoint, remembered until one succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub count: u32,
    pub at: Timestamp,
    pub reason: String,
}

/// The fixed offset of `name` under `every`: up to 10% of it, from a hash of the name (stable
/// across processes and versions, unlike std's hasher).
pub fn offset(name: &str, every: Duration) -> Duration {
    let hash = Sha256::digest(name.as_bytes());
    let n = u64::from_be_bytes(hash[..8].try_into().expect("8 bytes"));
    every.mul_f64((n % 10_000) as f64 / 100_000.0)
}

/// The verdict on one job at `now`, given the failure remembered for it.
pub fn decide(job: &Input, failure: Option<&Failure>, backoff: Duration, now: Timestamp) -> Verdict {
    if let Err(why) = eligible(job.plan) {
        return Verdict::Skip { why };
    }
    if let Some(f) = failure {
        let wait = backoff.saturating_mul(1 << (f.count.saturating_sub(1)).min(16)).min(job.every);
        let at = add(f.at, wait);
        if at > now {
            return Verdict::BackingOff { at, failures: f.count };
        }
        return Verdict::Due;
    }
    let Some(base) = job.newest.or(job.started) else {
        // Neither a savepoint nor a start time: take one (what is the state's age? unknown).
        return Verdict::Due;
    };
    let at = add(base, job.every.saturating_sub(offset(job.name, job.every)));
    if at > now { Verdict::NotYet { at } } else { Verdict::Due }
}

/// The running job a savepoint may be taken of, or why none.
fn eligible(plan: Option<&JobPlan>) -> Result<&JobId, Skip> {
    let p = plan.ok_or(Skip::NotRunning)?;
    match p.action {
        // A conflict about the next version only (too wide, a savepoint timeout too short) leaves
        // the running job this spec's own, as for `flinkops savepoint`.
        Action::Conflict if !p.in_doubt() => {}
        Action::Conflict | Action::Adopt | Action::Orphan | Action::Stop => return Err(Skip::NotOurs),
        // A settings-only change does not touch the job.
        Action::None | Action::UpdateSettings => {}
        _ if p.blocked_by.is_none() => return Err(Skip::Changing),
        // Held or blocked: nothing touches the old job in this reconcile.
        _ => {}
    }
    // All tasks up: Flink refuses a savepoint while some are still being deployed.
    let live = p.live.as_ref().filter(|l| l.all_tasks_up()).ok_or(Skip::NotRunning)?;
    Ok(&live.id)
}

/// The running job of a due verdict's plan.
pub fn due_job(plan: Option<&JobPlan>) -> Option<&JobId> {
    eligible(plan).ok()
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

/// The failures remembered per job name.
#[derive(Debug, Default)]
pub struct Failures(BTreeMap<String, Failure>);

impl Failures {
    pub fn get(&self, name: &str) -> Option<&Failure> {
        self.0.get(name)
    }

    pub fn failed(&mut self, name: &str, reason: String, now: Timestamp) {
        let count = self.0.get(name).map_or(0, |f| f.count) + 1;
        self.0.insert(name.to_string(), Failure { count, at: now, reason });
    }

    pub fn succeeded(&mut self, name: &str) {
        self.0.remove(name);
    }

    /// Forget jobs no longer scheduled (spec gone, `every` removed).
    pub fn keep_only(&mut self, names: &[&str]) {
        self.0.retain(|n, _| names.contains(&n.as_str()));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Failure)> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flink::JobState;
    use crate::plan::fixtures::*;
    use crate::plan::{Observed, Options, plan};

    const HOUR: Duration = Duration::from_secs(3600);

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// The plan of a running job `orders` that needs nothing.
    fn in_sync() -> JobPlan {
        let j = job("orders");
        let p = plan(
            &desired([j.clone()]),
            &Observed { jobs: vec![live_of(&j, 1, JobState::Running)], ..Default::default() },
            &ledger([record_of(&j)]),
            &Options::default(),
        );
        p.jobs.into_iter().next().unwrap()
    }

    fn input<'a>(p: &'a JobPlan, newest: Option<&str>) -> Input<'a> {
        Input { name: "orders", every: 6 * HOUR, newest: newest.map(at), started: None, plan: Some(p) }
    }

    const DUE: Verdict = Verdict::Due;

    #[test]
    fn a_job_is_due_once_its_newest_savepoint_is_older_than_the_interval_less_its_offset() {
        let p = in_sync();
        let job = input(&p, Some("2026-12-10T00:00:00Z"));
        let off = offset("orders", 6 * HOUR);
        let due_at = at("2026-12-10T06:00:00Z") - SignedDuration::try_from(off).unwrap();
        let before = due_at - SignedDuration::from_secs(1);
        assert_eq!(decide(&job, None, HOUR, before), Verdict::NotYet { at: due_at });
        assert_eq!(decide(&job, None, HOUR, due_at), DUE);
        assert_eq!(decide(&job, None, HOUR, at("2026-12-11T00:00:00Z")), DUE);
    }

    #[test]
    fn the_offset_stays_under_a_tenth_of_the_interval_and_spreads_names() {
        let every = 6 * HOUR;
        let offsets: Vec<Duration> = (0..200).map(|i| offset(&format!("job-{i}"), every)).collect();
        assert!(offsets.iter().all(|o| *o < every / 10), "{offsets:?}");
        assert_eq!(offset("job-7", every), offset("job-7", every), "the same name, the same offset");
        let distinct: std::collections::BTreeSet<_> = offsets.iter().collect();
        assert!(distinct.len() > 150, "200 names spread over the window: {}", distinct.len());
        let (lo, hi) = (offsets.iter().min().unwrap(), offsets.iter().max().unwrap());
        assert!(*lo < every / 100 && *hi > every / 12, "they use the whole window: {lo:?}..{hi:?}");
    }

    #[test]
    fn without_a_savepoint_the_clock_starts_with_the_running_job() {
        let p = in_sync();
        let job = Input { started: Some(at("2026-12-10T00:00:00Z")), ..input(&p, None) };
        assert!(matches!(decide(&job, None, HOUR, at("2026-12-10T01:00:00Z")), Verdict::NotYet { .. }));
        assert_eq!(decide(&job, None, HOUR, at("2026-12-10T06:00:00Z")), DUE);
        assert_eq!(decide(&input(&p, None), None, HOUR, at("2026-12-10T00:00:00Z")), DUE, "nothing known");
    }

    #[test]
    fn a_job_this_reconcile_upgrades_or_that_does_not_run_is_skipped() {
        let old = job("orders");
        let new = job("orders").with_parallelism(2);
        let upgrade = plan(
            &desired([new]),
            &Observed { jobs: vec![live_of(&old, 1, JobState::Running)], ..Default::default() },
            &ledger([record_of(&old)]),
            &Options::default(),
        );
        let mut p = upgrade.jobs[0].clone();
        let late = at("2027-01-01T00:00:00Z");
        let job = input(&p, Some("2026-12-10T00:00:00Z"));
        assert_eq!(decide(&job, None, HOUR, late), Verdict::Skip { why: Skip::Changing });
        // Held by the error policy: nothing touches the old job now, so it may be savepointed.
        p.blocked_by = Some(crate::plan::model::Blocker::Held {
            reason: "failed 1 time(s); trying again in 60s".into(),
        });
        assert_eq!(decide(&input(&p, Some("2026-12-10T00:00:00Z")), None, HOUR, late), DUE);
        let mut stopped = in_sync();
        stopped.live.as_mut().unwrap().state = JobState::Restarting;
        let job = input(&stopped, Some("2026-12-10T00:00:00Z"));
        assert_eq!(decide(&job, None, HOUR, late), Verdict::Skip { why: Skip::NotRunning });
        let mut deploying = in_sync();
        deploying.live.as_mut().unwrap().tasks_running = 0;
        let job = input(&deploying, Some("2026-12-10T00:00:00Z"));
        assert_eq!(
            decide(&job, None, HOUR, late),
            Verdict::Skip { why: Skip::NotRunning },
            "Flink refuses a savepoint while tasks deploy"
        );
        let mut conflict = in_sync();
        conflict.action = Action::Conflict;
        let job = input(&conflict, None);
        assert_eq!(decide(&job, None, HOUR, late), Verdict::Skip { why: Skip::NotOurs });
        // A conflict about the next version only (too wide for the cluster, say) leaves the
        // running job ours: it still gets its savepoints.
        conflict.conflict = Some(crate::plan::ConflictScope::NextVersion);
        let job = input(&conflict, None);
        assert_eq!(decide(&job, None, HOUR, late), DUE);
    }

    #[test]
    fn a_failure_backs_off_doubling_and_never_longer_than_the_interval() {
        let p = in_sync();
        let job = input(&p, Some("2026-12-01T00:00:00Z"));
        let t0 = at("2026-12-10T00:00:00Z");
        let mut failures = Failures::default();
        failures.failed("orders", "boom".into(), t0);
        let minute = Duration::from_secs(60);
        let one = SignedDuration::from_secs(60);
        assert_eq!(
            decide(&job, failures.get("orders"), minute, t0),
            Verdict::BackingOff { at: t0 + one, failures: 1 }
        );
        assert_eq!(decide(&job, failures.get("orders"), minute, t0 + one), DUE);
        failures.failed("orders", "boom".into(), t0);
        failures.failed("orders", "boom".into(), t0);
        assert_eq!(
            decide(&job, failures.get("orders"), minute, t0),
            Verdict::BackingOff { at: t0 + one * 4, failures: 3 }
        );
        for _ in 0..20 {
            failures.failed("orders", "boom".into(), t0);
        }
        let capped = t0 + SignedDuration::from_hours(6);
        assert_eq!(
            decide(&job, failures.get("orders"), minute, t0),
            Verdict::BackingOff { at: capped, failures: 23 }
        );
        failures.succeeded("orders");
        assert_eq!(decide(&job, failures.get("orders"), minute, t0), DUE, "forgotten after a success");
    }
}

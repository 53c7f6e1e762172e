//! The health gate of an upgrade (design.md, "The upgrade of a changed job", step 4): after a job
//! was (re)started, wait until it is healthy — RUNNING with every task running, without a
//! restart, for `stable_for` — or say why it is not within `timeout`.
//!
//! Owns the decision and the reasons; it only reads from Flink (never cancels or rolls back: the
//! caller decides what an unhealthy job means).
//!
//! How it observes, and why (both observed on Flink 1.20.5 and 2.3.0):
//! - Each poll reads `GET /jobs/overview`. Unlike `GET /jobs/:id`, `/exceptions` and the job
//!   metrics, the overview is computed fresh by the JobManager on every call: `/jobs/:id` comes
//!   from a cache refreshed every `web.refresh-interval` (3 s by default; observed lagging ~3 s
//!   behind restarts), and metrics such as `numRestarts` only every
//!   `metrics.fetcher.update-interval` (10 s by default; the first reads are empty).
//! - A job can read RUNNING while its tasks are only SCHEDULED (flink-rest.md §3), so healthy
//!   needs `tasks.running == tasks.total`.
//! - Restarts: the overview's `last-modification` is the latest time any task entered its
//!   current state. While every task runs it stays put (observed: unchanged across checkpoints
//!   on both versions); a restart redeploys tasks, so it moves even when the restart happened
//!   entirely between two polls. The job's own `timestamps.RESTARTING` would show it too, but
//!   only ~3 s late, and `numRestarts` (present on both versions; `fullRestarts` is gone in 2.x)
//!   up to 10 s late — a restart at the end of the window would be missed.
//! - Counting restarts for messages: polls see a restart as RESTARTING or as tasks that left or
//!   re-entered RUNNING, but a job that never gets all its tasks running can fail and restart
//!   between two polls unseen. On a timeout the count is therefore also taken from Flink's
//!   exception history (one entry per failure since the gate began; ~3 s late and capped at
//!   `web.exception-history-size`, 16 by default, so a lower bound).
//! - The stable window is measured on the JobManager's clock: the overview's `start-time +
//!   duration` is its "now", so `now - last-modification` is exactly how long every task has been
//!   running unchanged, whatever the poll interval.
//! - With checkpointing on and no restart strategy configured, Flink restarts a failing job
//!   forever with a growing delay (exponential-delay; observed on both versions): such a job never
//!   reaches FAILED and is caught by the timeout, with its restarts counted.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::flink::{self, Client, JobId, JobOverview, JobState};
use crate::status::human_duration;

/// How long the job must stay healthy, how long to wait at most, how often to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    pub stable_for: Duration,
    pub timeout: Duration,
    pub poll: Duration,
}

impl Gate {
    /// A gate polling once a second.
    pub fn new(stable_for: Duration, timeout: Duration) -> Self {
        Self { stable_for, timeout, poll: Duration::from_secs(1) }
    }
}

/// What the gate saw at one poll, for a status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthProgress {
    pub state: JobState,
    pub tasks_running: u32,
    pub tasks_total: u32,
    /// How long every task has been running without a change; zero unless all run.
    pub stable_for: Duration,
    /// Restarts seen since the gate began.
    pub restarts: u32,
    /// This poll saw a restart: the stable window starts again.
    pub restarted: bool,
    /// Time since the gate began.
    pub elapsed: Duration,
}

impl fmt::Display for HealthProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {}/{} tasks running", self.state, self.tasks_running, self.tasks_total)?;
        if !self.stable_for.is_zero() {
            write!(f, ", stable for {}", show(self.stable_for))?;
        }
        match self.restarts {
            0 => Ok(()),
            n => write!(f, ", {}", times("restarted", n)),
        }
    }
}

/// The job became healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthy {
    /// From the start of the gate to the poll that found the job stable long enough.
    pub after: Duration,
    /// Restarts seen before the job settled.
    pub restarts: u32,
}

/// Why a job is not healthy. The message says why in words; [`Unhealthy::root_cause`] is Flink's
/// root cause of the latest failure, when there was one.
#[derive(Debug, thiserror::Error)]
pub enum Unhealthy {
    /// The job ended (FAILED, CANCELED, FINISHED): it will not become healthy.
    #[error("job {job} {} after {}{}", ended(.state), show(*.after), cause_suffix(.root_cause))]
    Ended { job: JobId, state: JobState, after: Duration, root_cause: Option<String> },

    /// Not healthy within the gate's timeout.
    #[error("job {job} is not healthy: {reason}")]
    TimedOut {
        job: JobId,
        /// Why, e.g. `2 of 4 tasks running after 5m0s (2 scheduled: not enough free task slots?)`.
        reason: String,
        /// Restarts seen while polling or recorded by Flink since the gate began.
        restarts: u32,
        /// The last poll.
        last: HealthProgress,
        root_cause: Option<String>,
    },

    /// Flink does not list the job (any more).
    #[error("job {job} is not known to Flink")]
    Vanished { job: JobId },

    /// Flink could not be asked how the job is doing (after the client's retries).
    #[error("cannot tell whether job {job} is healthy")]
    Unobservable {
        job: JobId,
        #[source]
        source: flink::Error,
    },
}

impl Unhealthy {
    pub fn job(&self) -> &JobId {
        match self {
            Self::Ended { job, .. }
            | Self::TimedOut { job, .. }
            | Self::Vanished { job }
            | Self::Unobservable { job, .. } => job,
        }
    }

    /// Flink's root cause of the latest failure (the last `Caused by:` line), if any.
    pub fn root_cause(&self) -> Option<&str> {
        match self {
            Self::Ended { root_cause, .. } | Self::TimedOut { root_cause, .. } => root_cause.as_deref(),
            Self::Vanished { .. } | Self::Unobservable { .. } => None,
        }
    }
}

/// Wait until `job` is healthy per `gate`, calling `progress` after every poll.
///
/// A job whose tasks have all been running unchanged for `stable_for` already is healthy at the
/// first poll. A job that ended is unhealthy at once. If Flink cannot be asked (after the
/// client's retries) the gate stops with [`Unhealthy::Unobservable`]: the job may be fine, so
/// the caller should look again before rolling back.
pub async fn wait_healthy(
    client: &Client,
    job: &JobId,
    gate: &Gate,
    mut progress: impl FnMut(&HealthProgress),
) -> Result<Healthy, Unhealthy> {
    let start = Instant::now();
    let deadline = start + gate.timeout;
    let mut tracker = Tracker::default();
    loop {
        let snapshot = observe(client, job).await?;
        let seen = tracker.see(&snapshot, start.elapsed());
        progress(&seen);
        if snapshot.state.is_terminal() {
            let root_cause = final_root_cause(client, job, gate.poll).await;
            return Err(Unhealthy::Ended {
                job: job.clone(),
                state: snapshot.state,
                after: seen.elapsed,
                root_cause,
            });
        }
        let missing = gate.stable_for.saturating_sub(seen.stable_for);
        if snapshot.all_running() && missing.is_zero() {
            return Ok(Healthy { after: seen.elapsed, restarts: seen.restarts });
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(timed_out(client, job, gate, &snapshot, &tracker, seen).await);
        }
        let nap = if snapshot.all_running() { gate.poll.min(missing) } else { gate.poll };
        tokio::time::sleep(nap.min(deadline - now)).await;
    }
}

/// The job's line in the overview: state, tasks and times, all fresh.
async fn observe(client: &Client, job: &JobId) -> Result<JobOverview, Unhealthy> {
    let overview = client
        .jobs_overview()
        .await
        .map_err(|source| Unhealthy::Unobservable { job: job.clone(), source })?;
    let found = overview.jobs.into_iter().find(|j| j.jid == *job);
    found.ok_or_else(|| Unhealthy::Vanished { job: job.clone() })
}

trait Snapshot {
    fn all_running(&self) -> bool;
    /// How long every task has been running unchanged, on the JobManager's clock.
    fn stable_for(&self) -> Duration;
}

impl Snapshot for JobOverview {
    fn all_running(&self) -> bool {
        self.state == JobState::Running && self.tasks.total > 0 && self.tasks.running == self.tasks.total
    }

    fn stable_for(&self) -> Duration {
        if !self.all_running() {
            return Duration::ZERO;
        }
        let server_now = self.start_time.saturating_add(self.duration);
        Duration::from_millis(u64::try_from(server_now - self.last_modification).unwrap_or(0))
    }
}

/// Restarts seen from poll to poll.
#[derive(Default)]
struct Tracker {
    /// When the gate began, on the JobManager's clock (epoch ms).
    began: Option<i64>,
    restarts: u32,
    /// The previous poll saw RESTARTING.
    restarting: bool,
    /// `last-modification` at the previous poll, if every task was running then.
    healthy_mark: Option<i64>,
}

impl Tracker {
    /// A restart is: entering RESTARTING, or — after a poll with every task running — a poll
    /// where not all run, or where they all run but entered RUNNING anew (the restart happened
    /// between the two polls).
    fn see(&mut self, s: &JobOverview, elapsed: Duration) -> HealthProgress {
        let elapsed_ms = i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX);
        self.began.get_or_insert(s.start_time.saturating_add(s.duration).saturating_sub(elapsed_ms));
        let restarting = s.state == JobState::Restarting;
        let left_steady =
            self.healthy_mark.is_some_and(|mark| !s.all_running() || s.last_modification != mark);
        let restarted = !s.state.is_terminal() && (left_steady || (restarting && !self.restarting));
        self.restarts += u32::from(restarted);
        self.restarting = restarting;
        self.healthy_mark = s.all_running().then_some(s.last_modification);
        HealthProgress {
            state: s.state,
            tasks_running: s.tasks.running,
            tasks_total: s.tasks.total,
            stable_for: s.stable_for(),
            restarts: self.restarts,
            restarted,
            elapsed,
        }
    }
}

/// How long to wait for Flink's cached job view (`web.refresh-interval`, 3 s by default) to show
/// that the job ended, so that its exceptions include the final failure.
const CACHE_CATCH_UP: Duration = Duration::from_secs(10);

/// The root cause of an ended job. `/exceptions` is served from the same cache as `/jobs/:id`,
/// so once `/jobs/:id` shows the end, the exceptions include the failure that caused it.
async fn final_root_cause(client: &Client, job: &JobId, poll: Duration) -> Option<String> {
    let give_up = Instant::now() + CACHE_CATCH_UP;
    while Instant::now() < give_up {
        match client.job(job).await {
            Ok(details) if !details.state.is_terminal() => tokio::time::sleep(poll).await,
            _ => break,
        }
    }
    latest_root_cause(client, job).await
}

async fn latest_root_cause(client: &Client, job: &JobId) -> Option<String> {
    recorded_failures(client, job, i64::MIN).await.1
}

/// How many failures Flink recorded since `since` (JobManager clock), and the root cause of the
/// latest. Polls can miss restarts when the job never got all its tasks running in between
/// (RESTARTING, a moment RUNNING, RESTARTING again); the exception history has them all, though
/// only the last `web.exception-history-size` (16 by default): a lower bound.
async fn recorded_failures(client: &Client, job: &JobId, since: i64) -> (u32, Option<String>) {
    match client.exceptions(job).await {
        Ok(exceptions) => {
            let recent =
                exceptions.history.iter().filter(|e| e.timestamp.is_some_and(|t| t >= since)).count();
            (u32::try_from(recent).unwrap_or(u32::MAX), exceptions.root_cause.filter(|c| !c.is_empty()))
        }
        Err(err) => {
            tracing::debug!(%job, %err, "cannot read the job's exceptions");
            (0, None)
        }
    }
}

async fn timed_out(
    client: &Client,
    job: &JobId,
    gate: &Gate,
    last: &JobOverview,
    tracker: &Tracker,
    seen: HealthProgress,
) -> Unhealthy {
    let (failures, cause) = recorded_failures(client, job, tracker.began.unwrap_or(i64::MAX)).await;
    let restarts = seen.restarts.max(failures);
    let root_cause = cause.filter(|_| restarts > 0);
    let after = show(gate.timeout);
    let reason = if restarts > 0 {
        let cause =
            root_cause.as_deref().map(|c| format!("; last cause: {c}{}", slots_hint(c))).unwrap_or_default();
        format!("{} within {after}{cause}", times("restarted", restarts))
    } else if last.all_running() {
        format!(
            "all tasks running, but only for {} of the required {}",
            show(seen.stable_for),
            show(gate.stable_for)
        )
    } else if last.state == JobState::Running && last.tasks.total > 0 {
        let (running, total) = (last.tasks.running, last.tasks.total);
        format!("{running} of {total} tasks running after {after}{}", waiting(last))
    } else {
        format!("still {} after {after}", last.state)
    };
    Unhealthy::TimedOut { job: job.clone(), reason, restarts, last: seen, root_cause }
}

/// ` (2 scheduled: not enough free task slots?)`, ` (1 deploying)`: what the other tasks do.
fn waiting(s: &JobOverview) -> String {
    let others: Vec<String> =
        s.tasks.other.iter().filter(|(_, n)| **n > 0).map(|(state, n)| format!("{n} {state}")).collect();
    let hint = if s.tasks.other.get("scheduled").is_some_and(|n| *n > 0) {
        ": not enough free task slots?"
    } else {
        ""
    };
    if others.is_empty() { String::new() } else { format!(" ({}{hint})", others.join(", ")) }
}

/// A standalone cluster past its start-up time (`resourcemanager.standalone.start-up-time`, by
/// default `slot.request.timeout`, 5 min) fails a job that asks for more slots than it has at
/// once with this exception, and the restart strategy tries again and again (observed on 1.20
/// and 2.3; FLINK-12763). Younger clusters keep the tasks SCHEDULED instead (see [`waiting`]).
fn slots_hint(cause: &str) -> &'static str {
    if cause.contains("NoResourceAvailableException") { " (not enough free task slots?)" } else { "" }
}

fn ended(state: &JobState) -> &'static str {
    match state {
        JobState::Failed => "failed",
        JobState::Canceled => "was cancelled",
        JobState::Finished => "finished (a streaming job should keep running)",
        _ => "ended",
    }
}

fn cause_suffix(cause: &Option<String>) -> String {
    cause.as_deref().map(|c| format!(": {c}")).unwrap_or_default()
}

fn times(what: &str, n: u32) -> String {
    if n == 1 { format!("{what} once") } else { format!("{what} {n} times") }
}

/// `0.3s`, `9.5s` below ten seconds, else `45s`, `3m12s`.
fn show(d: Duration) -> String {
    if d < Duration::from_secs(10) { format!("{:.1}s", d.as_secs_f64()) } else { human_duration(d.as_secs()) }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    use super::*;
    use crate::flink::ClientConfig;

    const JOB: &str = "0123456789abcdef0123456789abcdef";

    fn job() -> JobId {
        JOB.parse().unwrap()
    }

    fn now_ms() -> i64 {
        jiff::Timestamp::now().as_millisecond()
    }

    /// One poll's answer: the job's state and tasks; `redeployed` makes its tasks enter RUNNING
    /// anew at this poll (what a restart between two polls looks like).
    #[derive(Clone, Copy)]
    struct Poll {
        state: &'static str,
        running: u32,
        total: u32,
        scheduled: u32,
        redeployed: bool,
    }

    const STEADY: Poll = Poll { state: "RUNNING", running: 2, total: 2, scheduled: 0, redeployed: false };
    const REDEPLOYED: Poll = Poll { redeployed: true, ..STEADY };
    const WAITING_FOR_SLOTS: Poll = Poll { running: 1, scheduled: 1, ..STEADY };
    const RESTARTING: Poll = Poll { state: "RESTARTING", running: 0, ..STEADY };
    const FAILED: Poll = Poll { state: "FAILED", running: 0, ..STEADY };

    /// `GET /jobs/overview` answering the polls in turn (the last one again and again), with
    /// times on the real clock as the JobManager would report them.
    struct Overview {
        start: i64,
        polls: Vec<Poll>,
        /// How many polls were answered, and the tasks' `last-modification` (the first poll's time
        /// unless a later poll redeployed them).
        seen: Mutex<(usize, Option<i64>)>,
    }

    impl Respond for Overview {
        fn respond(&self, _: &Request) -> ResponseTemplate {
            let mut seen = self.seen.lock().unwrap();
            let poll = self.polls[seen.0.min(self.polls.len() - 1)];
            let now = now_ms();
            seen.0 += 1;
            if poll.redeployed || seen.1.is_none() {
                seen.1 = Some(now);
            }
            let other = json!({"jid": "ffffffffffffffffffffffffffffffff", "name": "other", "state": "RUNNING",
                "start-time": 1, "end-time": -1, "duration": 5, "last-modification": 1,
                "tasks": {"total": 1, "running": 1}});
            let ours = json!({"jid": JOB, "name": "orders", "state": poll.state,
                "start-time": self.start, "end-time": -1, "duration": now - self.start,
                "last-modification": seen.1,
                "tasks": {"total": poll.total, "running": poll.running, "scheduled": poll.scheduled,
                          "created": 0, "deploying": 0, "failed": 0, "canceled": 0}});
            ResponseTemplate::new(200).set_body_json(json!({"jobs": [other, ours]}))
        }
    }

    async fn flink(polls: Vec<Poll>) -> (MockServer, Client) {
        let server = MockServer::start().await;
        let start = now_ms();
        let overview = Overview { start, polls, seen: Mutex::new((0, None)) };
        Mock::given(method("GET")).and(path("/jobs/overview")).respond_with(overview).mount(&server).await;
        let client = Client::new(ClientConfig::new(server.uri())).unwrap();
        (server, client)
    }

    async fn mock_get(server: &MockServer, at: &str, body: Value) {
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(server)
            .await;
    }

    /// Flink 2.x exceptions (history only, newest first): `recent` failures with `cause`, stamped
    /// when asked, and one from long before the gate began.
    async fn mock_exceptions(server: &MockServer, cause: &str, recent: usize) {
        let trace = format!(
            "org.apache.flink.runtime.JobException: Recovery is suppressed\n\tat a\nCaused by: {cause}\n\tat b"
        );
        let answer = move |_: &Request| {
            let entry = |at: i64| {
                json!({"exceptionName": "java.lang.RuntimeException", "stacktrace": trace, "timestamp": at,
                       "taskName": "Counter (1/1)"})
            };
            let mut entries: Vec<Value> = (0..recent).map(|_| entry(now_ms())).collect();
            entries.push(entry(1));
            ResponseTemplate::new(200).set_body_json(json!({"exceptionHistory": {"entries": entries}}))
        };
        Mock::given(method("GET"))
            .and(path(format!("/jobs/{JOB}/exceptions")))
            .respond_with(answer)
            .mount(server)
            .await;
    }

    fn gate(stable_for_ms: u64, timeout_ms: u64) -> Gate {
        Gate {
            stable_for: Duration::from_millis(stable_for_ms),
            timeout: Duration::from_millis(timeout_ms),
            poll: Duration::from_millis(10),
        }
    }

    /// Run the gate, keeping every progress report.
    async fn run(client: &Client, gate: Gate) -> (Result<Healthy, Unhealthy>, Vec<HealthProgress>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let result = wait_healthy(client, &job(), &gate, move |p| sink.lock().unwrap().push(p.clone())).await;
        let seen = seen.lock().unwrap().clone();
        (result, seen)
    }

    #[tokio::test]
    async fn a_job_running_all_its_tasks_is_healthy_once_stable_for_long_enough() {
        let (_server, client) = flink(vec![STEADY]).await;
        let (result, seen) = run(&client, gate(60, 5_000)).await;
        let healthy = result.unwrap();
        assert_eq!(healthy.restarts, 0);
        assert!(healthy.after < Duration::from_secs(1), "{healthy:?}");
        let last = seen.last().unwrap();
        assert!(last.stable_for >= Duration::from_millis(60), "{last:?}");
        assert!(seen.len() >= 2, "it waited for the window: {seen:?}");
        assert!(seen.windows(2).all(|w| w[0].stable_for <= w[1].stable_for), "{seen:?}");
        assert_eq!(
            last.to_string(),
            format!("RUNNING, 2/2 tasks running, stable for {}", show(last.stable_for))
        );
    }

    #[tokio::test]
    async fn a_job_whose_tasks_wait_for_slots_times_out_saying_so() {
        let (_server, client) = flink(vec![WAITING_FOR_SLOTS]).await;
        let started = Instant::now();
        let (result, seen) = run(&client, gate(10, 100)).await;
        assert!(started.elapsed() >= Duration::from_millis(100));
        let err = result.unwrap_err();
        let Unhealthy::TimedOut { reason, root_cause, last, .. } = &err else { panic!("{err:?}") };
        assert_eq!(reason, "1 of 2 tasks running after 0.1s (1 scheduled: not enough free task slots?)");
        assert_eq!(root_cause, &None);
        assert_eq!((last.tasks_running, last.tasks_total, last.restarts), (1, 2, 0));
        assert!(seen.iter().all(|p| p.stable_for.is_zero() && !p.restarted), "{seen:?}");
        assert_eq!(err.to_string(), format!("job {JOB} is not healthy: {reason}"));
    }

    #[tokio::test]
    async fn a_restart_between_two_polls_restarts_the_window_and_is_reported() {
        // Polls 0-2 steady; before poll 3 the job restarted and its tasks run again.
        let (_server, client) = flink(vec![STEADY, STEADY, STEADY, REDEPLOYED, STEADY]).await;
        let (result, seen) = run(&client, gate(100, 5_000)).await;
        let healthy = result.unwrap();
        assert_eq!(healthy.restarts, 1, "{seen:?}");
        let restart = seen.iter().position(|p| p.restarted).expect("a poll reports the restart");
        assert_eq!(restart, 3);
        assert_eq!(seen.iter().filter(|p| p.restarted).count(), 1);
        assert!(seen[restart].stable_for < seen[restart - 1].stable_for, "the window starts again: {seen:?}");
        assert!(seen[restart..].iter().all(|p| p.restarts == 1));
        let last = seen.last().unwrap();
        assert!(last.stable_for >= Duration::from_millis(100), "{last:?}");
        assert!(
            last.stable_for + seen[restart - 1].elapsed <= last.elapsed,
            "the window that made it healthy began after the poll before the restart: {seen:?}"
        );
    }

    #[tokio::test]
    async fn restarting_is_one_restart_however_many_polls_see_it() {
        let (_server, client) = flink(vec![RESTARTING, RESTARTING, RESTARTING, REDEPLOYED, STEADY]).await;
        let (result, seen) = run(&client, gate(30, 5_000)).await;
        assert_eq!(result.unwrap().restarts, 1, "{seen:?}");
        assert!(seen[0].restarted && !seen[1].restarted && !seen[3].restarted, "{seen:?}");
    }

    #[tokio::test]
    async fn a_job_that_keeps_restarting_times_out_with_its_restarts_and_last_cause() {
        let (server, client) = flink(vec![STEADY, REDEPLOYED]).await;
        let cause =
            "java.lang.RuntimeException: CounterJob: failing on purpose after 1 s (--fail-after-seconds)";
        mock_exceptions(&server, cause, 1).await;
        let (result, seen) = run(&client, gate(50, 150)).await;
        let err = result.unwrap_err();
        let restarts = seen.last().unwrap().restarts;
        assert!(restarts >= 3, "{seen:?}");
        assert_eq!(err.root_cause(), Some(cause));
        let Unhealthy::TimedOut { reason, .. } = &err else { panic!("{err:?}") };
        assert_eq!(reason, &format!("restarted {restarts} times within 0.1s; last cause: {cause}"));
    }

    #[tokio::test]
    async fn a_job_restarting_for_want_of_slots_says_so() {
        let (server, client) =
            flink(vec![RESTARTING, Poll { state: "RUNNING", running: 0, ..WAITING_FOR_SLOTS }]).await;
        let cause = "org.apache.flink.runtime.jobmanager.scheduler.NoResourceAvailableException: \
                     Could not acquire the minimum required resources.";
        mock_exceptions(&server, cause, 1).await;
        let (result, _) = run(&client, gate(10, 50)).await;
        let err = result.unwrap_err();
        let Unhealthy::TimedOut { reason, .. } = &err else { panic!("{err:?}") };
        assert_eq!(
            reason,
            &format!("restarted once within 0.1s; last cause: {cause} (not enough free task slots?)")
        );
    }

    #[tokio::test]
    async fn restarts_the_polls_missed_are_counted_from_flinks_exception_history() {
        let (server, client) = flink(vec![WAITING_FOR_SLOTS]).await;
        let cause = "java.lang.RuntimeException: boom";
        mock_exceptions(&server, cause, 3).await;
        let (result, seen) = run(&client, gate(10, 50)).await;
        assert!(seen.iter().all(|p| p.restarts == 0), "the polls saw none: {seen:?}");
        let err = result.unwrap_err();
        let Unhealthy::TimedOut { reason, restarts, .. } = &err else { panic!("{err:?}") };
        assert_eq!(*restarts, 3, "the failure from before the gate is not counted");
        assert_eq!(reason, &format!("restarted 3 times within 0.1s; last cause: {cause}"));
        assert_eq!(err.root_cause(), Some(cause));
    }

    #[tokio::test]
    async fn a_failed_job_is_unhealthy_at_once_with_its_root_cause() {
        let (server, client) = flink(vec![FAILED]).await;
        let cause = "java.lang.IllegalStateException: no such topic";
        mock_exceptions(&server, cause, 1).await;
        let details =
            json!({"jid": JOB, "name": "orders", "state": "FAILED", "start-time": 1, "end-time": 2});
        mock_get(&server, &format!("/jobs/{JOB}"), details).await;
        let started = Instant::now();
        let (result, seen) = run(&client, gate(1_000, 60_000)).await;
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(seen.len(), 1, "one poll");
        let err = result.unwrap_err();
        assert!(matches!(err, Unhealthy::Ended { state: JobState::Failed, .. }), "{err:?}");
        assert_eq!(err.root_cause(), Some(cause));
        assert!(err.to_string().starts_with(&format!("job {JOB} failed after ")), "{err}");
        assert!(err.to_string().ends_with(&format!(": {cause}")), "{err}");
    }

    #[tokio::test]
    async fn a_job_flink_does_not_list_has_vanished() {
        let server = MockServer::start().await;
        mock_get(&server, "/jobs/overview", json!({"jobs": []})).await;
        let client = Client::new(ClientConfig::new(server.uri())).unwrap();
        let (result, _) = run(&client, gate(10, 1_000)).await;
        assert!(matches!(result, Err(Unhealthy::Vanished { .. })), "{result:?}");
    }

    #[test]
    fn durations_read_well_in_messages() {
        assert_eq!(show(Duration::from_millis(350)), "0.3s");
        assert_eq!(show(Duration::from_secs(75)), "1m15s");
        assert_eq!(times("restarted", 1), "restarted once");
    }
}

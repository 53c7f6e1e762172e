//! The health gate of an upgrade (docs/design.md, "The health gate"): after a job
//! was (re)started, wait until it is healthy — RUNNING with every task running or finished,
//! without a restart, for `stable_for` — or say why it is not within `timeout`.
//!
//! Owns the decision and the reasons; it only reads from Flink (never cancels or rolls back: the
//! caller decides what an unhealthy job means). The decision itself is pure ([`tracker`]); this
//! module polls.
//!
//! How it observes, and why (observed on Flink 1.19.3, 1.20.5 and 2.3.0; recorded answers are in
//! `tests/cases/flink-answers/`):
//! - Each poll reads `GET /jobs/overview`, which the JobManager computes fresh on every call, for
//!   the job's state and its tasks per state; and `GET /jobs/:id` for Flink's own record of the
//!   latest restart (`timestamps.RESTARTING`), which comes from a cache refreshed every
//!   `web.refresh-interval` (3 s by default), so it is a few seconds late.
//! - FINISHED tasks are healthy. A FLIP-27 source with fewer splits than subtasks finishes its
//!   idle subtasks (after a rescale 1 → 2 from a savepoint with one split: 3 of 4 tasks running,
//!   1 finished), and a streaming job keeps running and checkpointing with finished tasks (Flink
//!   ≥ 1.15). A job can read RUNNING while its tasks are only SCHEDULED, so healthy also needs
//!   every other task running or finished, and at least one running.
//! - Restarts are what Flink says: the job entering RESTARTING, tasks of a RUNNING job leaving
//!   RUNNING for anything but FINISHED (a failover that keeps the job RUNNING), tasks that
//!   re-entered RUNNING between two polls with the same counts (the overview's
//!   `last-modification` moved although no task finished), and `timestamps.RESTARTING`. A task
//!   finishing moves `last-modification` too (observed on 1.19): that is not a restart. On a
//!   timeout the count is also taken from the `numRestarts` job metric (refreshed every 10 s) and
//!   the exception history (one entry per failure, capped at `web.exception-history-size`).
//! - The stable window is measured on the JobManager's clock: the overview's `start-time +
//!   duration` is its "now", and the window begins when every task last entered its current
//!   state (`last-modification`) or at the latest restart, whichever is later.
//! - With checkpointing on and no restart strategy configured, Flink restarts a failing job
//!   forever with a growing delay (exponential-delay; observed on both versions): such a job never
//!   reaches FAILED and is caught by the timeout, with its restarts counted.

#[cfg(test)]
mod tests;
mod tracker;

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::flink::{self, Client, JobDetails, JobExceptions, JobId, JobOverview, JobState};
use crate::render::human_duration;
use tracker::{Tracker, healthy_tasks};

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
    pub tasks_finished: u32,
    pub tasks_total: u32,
    /// How long every task has been running (or finished) without a restart; zero unless healthy.
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
        if self.tasks_finished > 0 {
            write!(f, " ({} finished)", self.tasks_finished)?;
        }
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
    /// Each vertex's parallelism in the last `GET /jobs/:id` the gate read (empty if none could
    /// be read): the shape flinkops started the job with, kept to notice a rescale later.
    pub vertices: Vec<crate::ledger::VertexParallelism>,
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

/// What the gate reads from Flink: the client in production, recorded answers in tests.
pub(crate) trait Probe {
    /// The job's line in `GET /jobs/overview` (fresh), `None` when Flink does not list it.
    async fn overview(&self, job: &JobId) -> Result<Option<JobOverview>, flink::Error>;
    /// `GET /jobs/:id` (cached by Flink for `web.refresh-interval`).
    async fn details(&self, job: &JobId) -> Result<JobDetails, flink::Error>;
    /// The `numRestarts` job metric, when Flink has fetched it yet.
    async fn restarts_metric(&self, job: &JobId) -> Result<Option<u32>, flink::Error>;
    /// `GET /jobs/:id/exceptions`.
    async fn exceptions(&self, job: &JobId) -> Result<JobExceptions, flink::Error>;
}

impl Probe for Client {
    async fn overview(&self, job: &JobId) -> Result<Option<JobOverview>, flink::Error> {
        Ok(self.jobs_overview().await?.jobs.into_iter().find(|j| j.jid == *job))
    }

    async fn details(&self, job: &JobId) -> Result<JobDetails, flink::Error> {
        self.job(job).await
    }

    async fn restarts_metric(&self, job: &JobId) -> Result<Option<u32>, flink::Error> {
        let metrics = self.job_metrics(job, &["numRestarts"]).await?;
        Ok(metrics.into_iter().find(|m| m.id == "numRestarts").and_then(|m| m.value.parse().ok()))
    }

    async fn exceptions(&self, job: &JobId) -> Result<JobExceptions, flink::Error> {
        Client::exceptions(self, job).await
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
    progress: impl FnMut(&HealthProgress),
) -> Result<Healthy, Unhealthy> {
    gate_loop(client, job, gate, progress).await
}

async fn gate_loop(
    probe: &impl Probe,
    job: &JobId,
    gate: &Gate,
    mut progress: impl FnMut(&HealthProgress),
) -> Result<Healthy, Unhealthy> {
    let start = Instant::now();
    let deadline = start + gate.timeout;
    let mut tracker = Tracker::default();
    let mut vertices = Vec::new();
    loop {
        let snapshot = observe(probe, job).await?;
        // Flink's record of the latest restart; a poll without it still judges the tasks.
        let restart_mark = match probe.details(job).await {
            Ok(details) => {
                vertices = shape(&details);
                details.timestamps.get("RESTARTING").copied()
            }
            Err(err) => {
                tracing::debug!(%job, %err, "cannot read the job's details");
                None
            }
        };
        let seen = tracker.see(&snapshot, restart_mark, start.elapsed());
        progress(&seen);
        if snapshot.state.is_terminal() {
            let root_cause = final_root_cause(probe, job, gate.poll).await;
            return Err(Unhealthy::Ended {
                job: job.clone(),
                state: snapshot.state,
                after: seen.elapsed,
                root_cause,
            });
        }
        let missing = gate.stable_for.saturating_sub(seen.stable_for);
        if healthy_tasks(&snapshot) && missing.is_zero() {
            return Ok(Healthy { after: seen.elapsed, restarts: seen.restarts, vertices });
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(timed_out(probe, job, gate, &snapshot, &tracker, seen).await);
        }
        let nap = if healthy_tasks(&snapshot) { gate.poll.min(missing) } else { gate.poll };
        tokio::time::sleep(nap.min(deadline - now)).await;
    }
}

/// Each vertex's parallelism, as `GET /jobs/:id` reports it.
pub fn shape(details: &JobDetails) -> Vec<crate::ledger::VertexParallelism> {
    let vertex = |v: &flink::VertexDetails| crate::ledger::VertexParallelism {
        id: v.id.clone(),
        name: v.name.clone(),
        parallelism: v.parallelism,
    };
    details.vertices.iter().map(vertex).collect()
}

/// The job's line in the overview: state, tasks and times, all fresh.
async fn observe(probe: &impl Probe, job: &JobId) -> Result<JobOverview, Unhealthy> {
    let found =
        probe.overview(job).await.map_err(|source| Unhealthy::Unobservable { job: job.clone(), source })?;
    found.ok_or_else(|| Unhealthy::Vanished { job: job.clone() })
}

/// How long to wait for Flink's cached job view (`web.refresh-interval`, 3 s by default) to show
/// that the job ended, so that its exceptions include the final failure.
const CACHE_CATCH_UP: Duration = Duration::from_secs(10);

/// The root cause of an ended job. `/exceptions` is served from the same cache as `/jobs/:id`,
/// so once `/jobs/:id` shows the end, the exceptions include the failure that caused it.
async fn final_root_cause(probe: &impl Probe, job: &JobId, poll: Duration) -> Option<String> {
    let give_up = Instant::now() + CACHE_CATCH_UP;
    while Instant::now() < give_up {
        match probe.details(job).await {
            Ok(details) if !details.state.is_terminal() => tokio::time::sleep(poll).await,
            _ => break,
        }
    }
    recorded_failures(probe, job, i64::MIN).await.1
}

/// How many failures Flink recorded since `since` (JobManager clock), and the root cause of the
/// latest. The exception history has every failure, though only the last
/// `web.exception-history-size` (16 by default): a lower bound.
async fn recorded_failures(probe: &impl Probe, job: &JobId, since: i64) -> (u32, Option<String>) {
    match probe.exceptions(job).await {
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
    probe: &impl Probe,
    job: &JobId,
    gate: &Gate,
    last: &JobOverview,
    tracker: &Tracker,
    seen: HealthProgress,
) -> Unhealthy {
    let (failures, cause) = recorded_failures(probe, job, tracker.began().unwrap_or(i64::MAX)).await;
    // The gate watches a job from its submission: Flink's count is the gate's count.
    let counted = probe.restarts_metric(job).await.ok().flatten().unwrap_or(0);
    let restarts = seen.restarts.max(failures).max(counted);
    let root_cause = cause.filter(|_| restarts > 0);
    let after = show(gate.timeout);
    let reason = if restarts > 0 {
        let cause =
            root_cause.as_deref().map(|c| format!("; last cause: {c}{}", slots_hint(c))).unwrap_or_default();
        format!("{} within {after}{cause}", times("restarted", restarts))
    } else if healthy_tasks(last) {
        format!(
            "all tasks running or finished, but only for {} of the required {}",
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

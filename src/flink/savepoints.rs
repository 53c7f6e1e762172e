//! Savepoint endpoints: trigger, stop-with-savepoint, status, waiting for the result, disposal.
//! Triggers carry a caller-chosen trigger id, which makes them idempotent (re-posting it starts no
//! second savepoint), so they are retried like reads.

use std::time::Duration;

use reqwest::Method;
use tokio::time::Instant;

use super::client::{Client, Repeat, Req};
use super::error::Error;
use super::ids::{JobId, TriggerId};
use super::request::{DisposalBody, SavepointBody, SavepointFormat, StopBody};
use super::types::{AsyncOperation, AsyncOutcome, SavepointStatus, TriggerResponse};

/// How often a savepoint's status is polled at first, and for how long.
const FAST_POLL: Duration = Duration::from_millis(20);
const FAST_POLL_FOR: Duration = Duration::from_secs(2);

/// How often to poll a savepoint disposal.
const DISPOSAL_POLL: Duration = Duration::from_millis(500);

impl Client {
    /// `POST /jobs/:id/savepoints`: start a savepoint (and cancel the job after it when
    /// `cancel_job`). Returns the request id to poll. `None` uses the cluster's savepoint dir.
    pub async fn trigger_savepoint(
        &self,
        job: &JobId,
        target_dir: Option<&str>,
        format: SavepointFormat,
        trigger_id: &TriggerId,
        cancel_job: bool,
    ) -> Result<TriggerId, Error> {
        let body = SavepointBody { target_directory: target_dir, cancel_job, format, trigger_id };
        let req = Req::new(Method::POST, &["jobs", job.as_str(), "savepoints"]).json(body).job(job);
        let answer: TriggerResponse = self.send(req, Repeat::Idempotent).await?;
        Ok(answer.request_id)
    }

    /// `POST /jobs/:id/stop`: take a savepoint and stop the job (it ends FINISHED). `drain`
    /// flushes event-time windows first, as if the input ended. Returns the request id to poll.
    pub async fn stop_with_savepoint(
        &self,
        job: &JobId,
        target_dir: Option<&str>,
        format: SavepointFormat,
        drain: bool,
        trigger_id: &TriggerId,
    ) -> Result<TriggerId, Error> {
        let body = StopBody { target_directory: target_dir, drain, format, trigger_id };
        let req = Req::new(Method::POST, &["jobs", job.as_str(), "stop"]).json(body).job(job);
        let answer: TriggerResponse = self.send(req, Repeat::Idempotent).await?;
        Ok(answer.request_id)
    }

    /// `GET /jobs/:id/savepoints/:request`. A 404 means Flink forgot the request
    /// ([`Error::SavepointExpired`]).
    pub async fn savepoint_status(&self, job: &JobId, request: &TriggerId) -> Result<SavepointStatus, Error> {
        let req = Req::get(&["jobs", job.as_str(), "savepoints", request.as_str()]).job(job);
        let call = req.call();
        let op: AsyncOperation = self.send(req, Repeat::Idempotent).await.map_err(|e| match e {
            Error::NotFound { call, job, .. } => {
                Error::SavepointExpired { call, job, trigger: request.clone() }
            }
            e => e,
        })?;
        match op.outcome() {
            AsyncOutcome::InProgress => Ok(SavepointStatus::InProgress),
            AsyncOutcome::Failed { cause } => Ok(SavepointStatus::Failed { cause }),
            AsyncOutcome::Succeeded { location: Some(location) } => {
                Ok(SavepointStatus::Completed { location })
            }
            AsyncOutcome::Succeeded { location: None } => Err(Error::InvalidResponse {
                call,
                detail: "COMPLETED without a location or failure-cause".into(),
            }),
        }
    }

    /// Poll a savepoint request until it completes, and return its location (`file:/…`).
    /// `COMPLETED` with a failure-cause is [`Error::SavepointFailed`]; still running at the
    /// deadline is [`Error::SavepointWaitTimedOut`]. `progress` gets the elapsed time after each
    /// poll that found the savepoint still in progress.
    ///
    /// Polls every 20 ms for the first two seconds, then less often (doubling) up to
    /// `poll_interval`: a small savepoint completes in well under a second, and during a stop
    /// every moment between its completion and the next poll is downtime (scripts/bench-upgrade
    /// measured a fixed 1 s interval adding ~0.9 s to every upgrade, and 50 ms doubling ~0.05 s).
    pub async fn wait_for_savepoint(
        &self,
        job: &JobId,
        request: &TriggerId,
        timeout: Duration,
        poll_interval: Duration,
        mut progress: impl FnMut(Duration),
    ) -> Result<String, Error> {
        let started = Instant::now();
        let mut wait = FAST_POLL.min(poll_interval);
        loop {
            match self.savepoint_status(job, request).await? {
                SavepointStatus::Completed { location } => return Ok(location),
                SavepointStatus::Failed { cause } => {
                    let call = savepoint_call(job, request);
                    return Err(Error::SavepointFailed { call, job: Some(job.clone()), cause });
                }
                SavepointStatus::InProgress => {}
            }
            let elapsed = started.elapsed();
            if elapsed >= timeout {
                let call = savepoint_call(job, request);
                return Err(Error::SavepointWaitTimedOut { call, job: Some(job.clone()), after: elapsed });
            }
            tracing::debug!(%job, %request, ?elapsed, "savepoint in progress");
            progress(elapsed);
            tokio::time::sleep(wait.min(timeout - elapsed)).await;
            if started.elapsed() > FAST_POLL_FOR {
                wait = (wait * 2).min(poll_interval);
            }
        }
    }

    /// `POST /savepoint-disposal`, then poll `/savepoint-disposal/:id` until done: delete a
    /// savepoint's files through the JobManager.
    pub async fn dispose_savepoint(&self, path: &str, timeout: Duration) -> Result<(), Error> {
        let req = Req::new(Method::POST, &["savepoint-disposal"]).json(DisposalBody { savepoint_path: path });
        let answer: TriggerResponse = self.send(req, Repeat::Once).await?;
        let started = Instant::now();
        loop {
            let req = Req::get(&["savepoint-disposal", answer.request_id.as_str()]);
            let call = req.call();
            let op: AsyncOperation = self.send(req, Repeat::Idempotent).await?;
            match op.outcome() {
                AsyncOutcome::Succeeded { .. } => return Ok(()),
                AsyncOutcome::Failed { cause } => {
                    return Err(Error::DisposalFailed { call, cause });
                }
                AsyncOutcome::InProgress if started.elapsed() >= timeout => {
                    let cause = format!("still in progress after {:.1}s", started.elapsed().as_secs_f64());
                    return Err(Error::DisposalFailed { call, cause });
                }
                AsyncOutcome::InProgress => tokio::time::sleep(DISPOSAL_POLL).await,
            }
        }
    }
}

fn savepoint_call(job: &JobId, request: &TriggerId) -> super::error::Call {
    Req::get(&["jobs", job.as_str(), "savepoints", request.as_str()]).call()
}

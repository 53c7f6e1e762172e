//! Job endpoints: overview, details, configuration, checkpoints, exceptions, metrics, cancel.
//! All are idempotent and retried per the policy.

use reqwest::Method;

use super::client::{Client, Repeat, Req};
use super::error::Error;
use super::ids::JobId;
use super::types::{
    AggregatedMetric, CheckpointConfig, Checkpoints, ClusterOverview, JobConfig, JobDetails, JobExceptions,
    JobsOverview, Metric, RawExceptions,
};

impl Client {
    /// `GET /jobs/overview`: every job the cluster remembers, running or ended.
    pub async fn jobs_overview(&self) -> Result<JobsOverview, Error> {
        self.send(Req::get(&["jobs", "overview"]), Repeat::Idempotent).await
    }

    /// `GET /overview`: task managers and free slots.
    pub async fn cluster_overview(&self) -> Result<ClusterOverview, Error> {
        self.send(Req::get(&["overview"]), Repeat::Idempotent).await
    }

    /// `GET /jobs/:id`: details with vertices (404 → [`Error::NotFound`]).
    pub async fn job(&self, job: &JobId) -> Result<JobDetails, Error> {
        self.send(Req::get(&["jobs", job.as_str()]).job(job), Repeat::Idempotent).await
    }

    /// `GET /jobs/:id/config`.
    pub async fn job_config(&self, job: &JobId) -> Result<JobConfig, Error> {
        self.send(Req::get(&["jobs", job.as_str(), "config"]).job(job), Repeat::Idempotent).await
    }

    /// `GET /jobs/:id/checkpoints`: counts and the latest completed, savepoint, failed, restored.
    pub async fn checkpoints(&self, job: &JobId) -> Result<Checkpoints, Error> {
        self.send(Req::get(&["jobs", job.as_str(), "checkpoints"]).job(job), Repeat::Idempotent).await
    }

    /// `GET /jobs/:id/checkpoints/config`: whether checkpoints are externalized and kept on cancel.
    pub async fn checkpoint_config(&self, job: &JobId) -> Result<CheckpointConfig, Error> {
        self.send(Req::get(&["jobs", job.as_str(), "checkpoints", "config"]).job(job), Repeat::Idempotent)
            .await
    }

    /// `GET /jobs/:id/exceptions`, read the same way for Flink 1.x and 2.x.
    pub async fn exceptions(&self, job: &JobId) -> Result<JobExceptions, Error> {
        let raw: RawExceptions =
            self.send(Req::get(&["jobs", job.as_str(), "exceptions"]).job(job), Repeat::Idempotent).await?;
        Ok(raw.into())
    }

    /// `GET /jobs/:id/metrics?get=a,b`: job metrics such as `numRestarts`. Like the vertex metrics
    /// they refresh only every `metrics.fetcher.update-interval` (10 s by default), and a metric
    /// not fetched yet is absent from the answer (not 0).
    pub async fn job_metrics(&self, job: &JobId, names: &[&str]) -> Result<Vec<Metric>, Error> {
        let req = Req::get(&["jobs", job.as_str(), "metrics"]).query("get", names.join(",")).job(job);
        self.send(req, Repeat::Idempotent).await
    }

    /// `GET /jobs/:id/vertices/:vid/subtasks/metrics?get=a,b`: metrics aggregated over the
    /// vertex's subtasks. Flink refreshes metric values only every ~10 s; unknown names are
    /// simply absent from the answer.
    pub async fn vertex_subtask_metrics(
        &self,
        job: &JobId,
        vertex: &str,
        names: &[&str],
    ) -> Result<Vec<AggregatedMetric>, Error> {
        let req = Req::get(&["jobs", job.as_str(), "vertices", vertex, "subtasks", "metrics"])
            .query("get", names.join(","))
            .job(job);
        self.send(req, Repeat::Idempotent).await
    }

    /// `PATCH /jobs/:id?mode=cancel`. Idempotent: cancelling a cancelled job answers 202 again;
    /// a FINISHED or FAILED job answers 409 ([`Error::Http`]).
    pub async fn cancel(&self, job: &JobId) -> Result<(), Error> {
        let req = Req::new(Method::PATCH, &["jobs", job.as_str()]).query("mode", "cancel").job(job);
        let _: serde::de::IgnoredAny = self.send(req, Repeat::Idempotent).await?;
        Ok(())
    }
}

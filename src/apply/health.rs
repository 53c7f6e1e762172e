//! STUB
use crate::flink::{Client, JobId};
use std::time::Duration;
pub struct Gate {
    pub stable_for: Duration,
    pub timeout: Duration,
    pub poll: Duration,
}
pub struct HealthProgress;
#[derive(Debug)]
pub struct Healthy {
    pub after: Duration,
}
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct Unhealthy {
    pub reason: String,
}
pub async fn wait_healthy(
    _c: &Client,
    _j: &JobId,
    g: &Gate,
    _p: impl FnMut(&HealthProgress),
) -> Result<Healthy, Unhealthy> {
    tokio::time::sleep(g.stable_for).await;
    Ok(Healthy { after: g.stable_for })
}

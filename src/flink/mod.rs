//! The Flink REST client: typed requests and answers, version differences, auth/TLS, retries and
//! error mapping.
//!
//! Owns every byte sent to and read from Flink's REST API. It knows nothing about specs, plans or
//! the ledger: callers decide *what* to do, this module only says *how* Flink wants it said and
//! turns Flink's answers (including its Java stack traces) into typed values and errors.
//!
//! Facts it relies on are in `docs/flink-behaviour.md`; the generated OpenAPI specs are wrong
//! wherever Flink uses a custom serializer, so the types here follow observed answers.

mod client;
mod config;
mod error;
mod ids;
mod jars;
mod jobs;
mod request;
mod retry;
mod savepoints;
mod secret;
mod types;
mod version;

pub use client::{Client, ClusterDirs, JobManagerConfig};
pub use config::{Auth, ClientConfig, ClientIdentity, TlsConfig};
pub use error::{Call, Error, root_cause};
pub use ids::{InvalidId, JarId, JobId, TriggerId};
pub use request::{RestoreMode, RunRequest, SavepointFormat};
pub use retry::RetryPolicy;
pub use secret::{REDACTED, Secret, redact, remember};
pub use types::{
    AggregatedMetric, CheckpointConfig, Checkpoints, ClusterConfig, ClusterOverview, CompletedCheckpoint,
    ExceptionEntry, ExecutionConfig, Externalization, FailedCheckpoint, Jar, JarEntry, JobConfig, JobDetails,
    JobExceptions, JobOverview, JobState, JobsOverview, LatestCheckpoints, Metric, RestoredCheckpoint,
    SavepointStatus, TaskCounts, VertexDetails, tasks_up,
};
pub use version::FlinkVersion;

/// Decode `body` as every answer flinkops reads from Flink, and as the error body of a failed
/// call, dropping the results: for the fuzz tests (`tests/flinkops/fuzz.rs`), which must find
/// no input that panics.
#[doc(hidden)]
pub fn decode_every_answer(body: &[u8]) {
    let text = String::from_utf8_lossy(body);
    let _ = serde_json::from_str::<JobsOverview>(&text);
    let _ = serde_json::from_str::<Checkpoints>(&text);
    let _ = serde_json::from_str::<JobDetails>(&text);
    let _ = serde_json::from_str::<JobConfig>(&text);
    let _ = serde_json::from_str::<ClusterConfig>(&text).map(|c| c.flink_version.parse::<FlinkVersion>());
    let _ = serde_json::from_str::<Vec<Metric>>(&text);
    let _ = serde_json::from_str::<types::JarList>(&text);
    let _ = serde_json::from_str::<types::UploadResponse>(&text);
    let _ = serde_json::from_str::<types::RunResponse>(&text);
    let _ = serde_json::from_str::<types::TriggerResponse>(&text);
    if let Ok(raw) = serde_json::from_str::<types::RawExceptions>(&text) {
        let _ = JobExceptions::from(raw);
    }
    if let Ok(op) = serde_json::from_str::<types::AsyncOperation>(&text) {
        let _ = op.outcome();
    }
    for status in [400, 404, 500, 502, 503] {
        for write in [false, true] {
            let call = Call::new(reqwest::Method::POST, "/jars/x.jar/run");
            let failure = error::Failure { call, job: None, status, body: &text, write };
            let _ = failure.into_error().to_string();
        }
    }
    let _ = root_cause(&text);
}

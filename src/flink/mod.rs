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
    AggregatedMetric, CheckpointConfig, Checkpoints, ClusterConfig, CompletedCheckpoint, ExceptionEntry,
    ExecutionConfig, Externalization, FailedCheckpoint, Jar, JarEntry, JobConfig, JobDetails, JobExceptions,
    JobOverview, JobState, JobsOverview, LatestCheckpoints, Metric, RestoredCheckpoint, SavepointStatus,
    TaskCounts, VertexDetails, tasks_up,
};
pub use version::FlinkVersion;

//! Typed answers of the Flink REST API, shaped after what Flink really sends (docs/flink-behaviour.md,
//! "Endpoints and request shapes"), not only after the generated specs. Owns deserialisation and
//! small derived facts (is a state terminal, the root cause of an exception history); no I/O.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::root_cause;
use super::ids::{JarId, JobId, TriggerId};

/// `GET /config`: the cluster's dashboard configuration.
#[derive(Debug, Clone, Deserialize)]
pub struct ClusterConfig {
    #[serde(rename = "flink-version")]
    pub flink_version: String,
    #[serde(rename = "flink-revision", default)]
    pub flink_revision: Option<String>,
    #[serde(rename = "timezone-name", default)]
    pub timezone_name: Option<String>,
}

/// A job's state as Flink names it (`JobStatus`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    Initializing,
    Created,
    Running,
    Failing,
    Failed,
    Cancelling,
    Canceled,
    Finished,
    Restarting,
    Suspended,
    Reconciling,
    /// A state this version of flinkops does not know.
    #[serde(other)]
    Unknown,
}

impl JobState {
    /// Globally terminal: the job will not run again (Flink's `JobStatus.isGloballyTerminalState`).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Failed | Self::Canceled | Self::Finished)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initializing => "INITIALIZING",
            Self::Created => "CREATED",
            Self::Running => "RUNNING",
            Self::Failing => "FAILING",
            Self::Failed => "FAILED",
            Self::Cancelling => "CANCELLING",
            Self::Canceled => "CANCELED",
            Self::Finished => "FINISHED",
            Self::Restarting => "RESTARTING",
            Self::Suspended => "SUSPENDED",
            Self::Reconciling => "RECONCILING",
            Self::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /overview`: the cluster's task managers and slots.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ClusterOverview {
    #[serde(default)]
    pub taskmanagers: u32,
    #[serde(default)]
    pub slots_total: u32,
    #[serde(default)]
    pub slots_available: u32,
}

/// `GET /jobs/overview`: every job the cluster still remembers, running or ended.
#[derive(Debug, Clone, Deserialize)]
pub struct JobsOverview {
    #[serde(deserialize_with = "jobs_but_foreign_ids")]
    pub jobs: Vec<JobOverview>,
}

/// The jobs of an overview. An entry whose `jid` is not a Flink job id (32 hex digits) is
/// skipped with a warning rather than making the whole list unusable: it cannot be a job
/// flinkops started, since those ids are its own. Any other malformed entry is an error — a
/// managed job that could not be read would look absent, and be started a second time.
fn jobs_but_foreign_ids<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<JobOverview>, D::Error> {
    let entries: Vec<serde_json::Value> = Deserialize::deserialize(d)?;
    let mut jobs = Vec::with_capacity(entries.len());
    for entry in entries {
        match serde_json::from_value::<JobOverview>(entry.clone()) {
            Ok(job) => jobs.push(job),
            Err(e)
                if entry.get("jid").and_then(|j| j.as_str()).is_none_or(|j| j.parse::<JobId>().is_err()) =>
            {
                let shown: String = entry
                    .get("jid")
                    .map(|j| j.to_string())
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(80)
                    .collect();
                tracing::warn!("skipping an entry of /jobs/overview without a valid job id ({shown}): {e}");
            }
            Err(e) => return Err(serde::de::Error::custom(e)),
        }
    }
    Ok(jobs)
}

/// One job in the overview. Times are epoch milliseconds; `end_time` is -1 while it runs.
#[derive(Debug, Clone, Deserialize)]
pub struct JobOverview {
    pub jid: JobId,
    pub name: String,
    pub state: JobState,
    #[serde(rename = "start-time")]
    pub start_time: i64,
    #[serde(rename = "end-time", default = "minus_one")]
    pub end_time: i64,
    #[serde(default)]
    pub duration: i64,
    #[serde(rename = "last-modification", default)]
    pub last_modification: i64,
    pub tasks: TaskCounts,
}

fn minus_one() -> i64 {
    -1
}

/// Number of tasks per execution state. A job can read RUNNING while its tasks are only
/// SCHEDULED, and a healthy one may have FINISHED tasks (docs/flink-behaviour.md, "Task states
/// and finished subtasks").
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TaskCounts {
    pub total: u32,
    pub running: u32,
    /// The other states (`scheduled`, `deploying`, `finished`, `failed`…).
    #[serde(flatten)]
    pub other: BTreeMap<String, u32>,
}

impl TaskCounts {
    /// Tasks in state FINISHED.
    pub fn finished(&self) -> u32 {
        self.other.get("finished").copied().unwrap_or(0)
    }

    /// See [`tasks_up`].
    pub fn all_up(&self) -> bool {
        tasks_up(self.running, self.finished(), self.total)
    }
}

/// Every task RUNNING or FINISHED and at least one RUNNING: what a healthy streaming job looks
/// like (a source subtask without a split finishes while the job runs and checkpoints on).
pub fn tasks_up(running: u32, finished: u32, total: u32) -> bool {
    running > 0 && running.saturating_add(finished) >= total
}

/// `GET /jobs/:id`.
#[derive(Debug, Clone, Deserialize)]
pub struct JobDetails {
    pub jid: JobId,
    pub name: String,
    pub state: JobState,
    #[serde(rename = "start-time")]
    pub start_time: i64,
    #[serde(rename = "end-time", default = "minus_one")]
    pub end_time: i64,
    #[serde(default)]
    pub duration: i64,
    #[serde(rename = "isStoppable", default)]
    pub is_stoppable: bool,
    #[serde(default)]
    pub vertices: Vec<VertexDetails>,
    #[serde(rename = "status-counts", default)]
    pub status_counts: BTreeMap<String, u32>,
    /// When the job entered each state it went through, by state name.
    #[serde(default)]
    pub timestamps: BTreeMap<String, i64>,
}

/// One vertex (chain of operators) of a job. Ids derive from operator `uid`s and stay stable.
#[derive(Debug, Clone, Deserialize)]
pub struct VertexDetails {
    pub id: String,
    pub name: String,
    pub parallelism: u32,
    pub status: String,
    #[serde(default)]
    pub tasks: BTreeMap<String, u32>,
}

/// `GET /jobs/:id/config` (custom serializer: not what the generated spec says).
#[derive(Debug, Clone, Deserialize)]
pub struct JobConfig {
    pub jid: JobId,
    pub name: String,
    #[serde(rename = "execution-config", default)]
    pub execution_config: ExecutionConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExecutionConfig {
    #[serde(rename = "job-parallelism", default)]
    pub job_parallelism: Option<i64>,
    /// `pipeline.global-job-parameters`: the only job configuration Flink echoes back.
    #[serde(rename = "user-config", default)]
    pub user_config: BTreeMap<String, String>,
    /// Everything else Flink reports (restart strategy, object reuse…), as sent.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// `GET /jobs/:id/checkpoints/config` (only what flinkops reads).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CheckpointConfig {
    #[serde(default)]
    pub externalization: Externalization,
}

/// Whether completed checkpoints are written out, and deleted when the job is cancelled.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Externalization {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub delete_on_cancellation: bool,
}

impl CheckpointConfig {
    /// Whether a cancel keeps the latest checkpoint (`RETAIN_ON_CANCELLATION`).
    pub fn retained_on_cancel(&self) -> bool {
        self.externalization.enabled && !self.externalization.delete_on_cancellation
    }
}

/// `GET /jobs/:id/checkpoints` (may lag ~3 s behind: Flink caches it).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Checkpoints {
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    #[serde(default)]
    pub latest: LatestCheckpoints,
    /// The most recent checkpoints and savepoints, any status (`web.checkpoints.history`, 10 by
    /// default), newest first.
    #[serde(default)]
    pub history: Vec<CheckpointHistoryEntry>,
}

/// One entry of `history` (only what flinkops reads).
#[derive(Debug, Clone, Deserialize)]
pub struct CheckpointHistoryEntry {
    pub id: u64,
    /// `COMPLETED`, `IN_PROGRESS` or `FAILED`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub is_savepoint: bool,
    /// From the trigger to the last acknowledgement, in milliseconds; -1 while in progress
    /// (observed on 1.20.5).
    #[serde(default)]
    pub end_to_end_duration: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LatestCheckpoints {
    pub completed: Option<CompletedCheckpoint>,
    pub savepoint: Option<CompletedCheckpoint>,
    pub failed: Option<FailedCheckpoint>,
    pub restored: Option<RestoredCheckpoint>,
}

/// A completed checkpoint or savepoint. `latest_ack_timestamp` is when it completed.
#[derive(Debug, Clone, Deserialize)]
pub struct CompletedCheckpoint {
    pub id: u64,
    #[serde(default)]
    pub trigger_timestamp: i64,
    #[serde(default)]
    pub latest_ack_timestamp: i64,
    #[serde(default)]
    pub external_path: Option<String>,
    #[serde(default)]
    pub state_size: u64,
    /// Flink deleted it (subsumed, or on cancel): it cannot be restored from.
    #[serde(default)]
    pub discarded: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FailedCheckpoint {
    pub id: u64,
    #[serde(default)]
    pub failure_timestamp: i64,
    #[serde(default)]
    pub failure_message: Option<String>,
}

/// What the job restored from. `is_savepoint` is not reliable (observed wrong both ways).
#[derive(Debug, Clone, Deserialize)]
pub struct RestoredCheckpoint {
    pub id: u64,
    #[serde(default)]
    pub restore_timestamp: i64,
    #[serde(default)]
    pub external_path: Option<String>,
    #[serde(default)]
    pub is_savepoint: bool,
}

/// `GET /jobs/:id/exceptions`, the same for 1.x (`root-exception`) and 2.x (history only).
#[derive(Debug, Clone, Default)]
pub struct JobExceptions {
    /// The root cause line of the latest failure (see [`root_cause`]).
    pub root_cause: Option<String>,
    /// When the latest failure happened (epoch ms).
    pub timestamp: Option<i64>,
    /// Failures, newest first.
    pub history: Vec<ExceptionEntry>,
}

#[derive(Debug, Clone)]
pub struct ExceptionEntry {
    pub name: Option<String>,
    pub root_cause: String,
    pub stack_trace: String,
    pub timestamp: Option<i64>,
    pub task: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct RawExceptions {
    /// 1.x only: the full stack trace of the latest failure. Removed in 2.0.
    #[serde(rename = "root-exception", default)]
    root_exception: Option<String>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(rename = "exceptionHistory", default)]
    history: Option<RawHistory>,
}

#[derive(Deserialize)]
struct RawHistory {
    #[serde(default)]
    entries: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(rename = "exceptionName", default)]
    name: Option<String>,
    #[serde(default)]
    stacktrace: String,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(rename = "taskName", default)]
    task: Option<String>,
}

impl From<RawExceptions> for JobExceptions {
    fn from(raw: RawExceptions) -> Self {
        let history: Vec<ExceptionEntry> = raw
            .history
            .map(|h| h.entries)
            .unwrap_or_default()
            .into_iter()
            .map(|e| ExceptionEntry {
                root_cause: root_cause(&e.stacktrace),
                name: e.name,
                stack_trace: e.stacktrace,
                timestamp: e.timestamp,
                task: e.task,
            })
            .collect();
        let latest = history.first();
        let root_cause = match raw.root_exception.as_deref() {
            Some(trace) if !trace.trim().is_empty() => Some(root_cause(trace)),
            _ => latest.map(|e| e.root_cause.clone()),
        };
        let timestamp = raw.timestamp.filter(|t| *t > 0).or(latest.and_then(|e| e.timestamp));
        Self { root_cause, timestamp, history }
    }
}

/// `GET /jars`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct JarList {
    #[serde(default)]
    pub files: Vec<Jar>,
}

/// An uploaded jar (newest first in the list).
#[derive(Debug, Clone, Deserialize)]
pub struct Jar {
    pub id: JarId,
    pub name: String,
    #[serde(default)]
    pub uploaded: i64,
    #[serde(default)]
    pub entry: Vec<JarEntry>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct JarEntry {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /jars/upload`: `filename` is the server-side path; its basename is the jar id.
#[derive(Deserialize)]
pub(crate) struct UploadResponse {
    pub filename: String,
}

/// `POST /jars/:id/run`.
#[derive(Deserialize)]
pub(crate) struct RunResponse {
    pub jobid: JobId,
}

/// `202 {"request-id"}` of savepoint, stop and disposal triggers.
#[derive(Deserialize)]
pub(crate) struct TriggerResponse {
    #[serde(rename = "request-id")]
    pub request_id: TriggerId,
}

/// One entry of `GET /jobs/:id/metrics?get=…`: a job metric's current value, as Flink sends it
/// (a string, `"3"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Metric {
    pub id: String,
    pub value: String,
}

/// One entry of `GET …/subtasks/metrics?get=…`: a metric aggregated over the subtasks.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AggregatedMetric {
    pub id: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub avg: Option<f64>,
    pub sum: Option<f64>,
    pub skew: Option<f64>,
}

/// The state of a savepoint request. `COMPLETED` alone is not success: Flink also completes a
/// savepoint that failed, with a `failure-cause`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavepointStatus {
    InProgress,
    /// The savepoint's location, e.g. `file:/savepoints/savepoint-0a1b2c-0123456789ab`.
    Completed {
        location: String,
    },
    /// The root cause line of the failure.
    Failed {
        cause: String,
    },
}

/// Answer of `GET /jobs/:id/savepoints/:trigger` and `GET /savepoint-disposal/:trigger`.
#[derive(Deserialize)]
pub(crate) struct AsyncOperation {
    status: QueueStatus,
    #[serde(default)]
    operation: Option<OperationResult>,
}

#[derive(Deserialize)]
struct QueueStatus {
    id: String,
}

#[derive(Deserialize)]
struct OperationResult {
    #[serde(default)]
    location: Option<String>,
    #[serde(rename = "failure-cause", default)]
    failure_cause: Option<FailureCause>,
}

#[derive(Deserialize)]
struct FailureCause {
    #[serde(default)]
    class: Option<String>,
    #[serde(rename = "stack-trace", default)]
    stack_trace: Option<String>,
}

/// An asynchronous operation's outcome, before the caller decides what a missing location means.
pub(crate) enum AsyncOutcome {
    InProgress,
    Succeeded { location: Option<String> },
    Failed { cause: String },
}

impl AsyncOperation {
    pub fn outcome(self) -> AsyncOutcome {
        if self.status.id != "COMPLETED" {
            return AsyncOutcome::InProgress;
        }
        let op = self.operation.unwrap_or(OperationResult { location: None, failure_cause: None });
        match op.failure_cause {
            Some(f) => AsyncOutcome::Failed { cause: f.root_cause() },
            None => AsyncOutcome::Succeeded { location: op.location },
        }
    }
}

impl FailureCause {
    fn root_cause(&self) -> String {
        let from_trace = self.stack_trace.as_deref().map(root_cause).filter(|c| !c.is_empty());
        from_trace
            .or_else(|| self.class.clone())
            .unwrap_or_else(|| "unknown failure (Flink sent no cause)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceptions_of_flink_1_take_the_root_exception() {
        let raw: RawExceptions = serde_json::from_value(serde_json::json!({
            "root-exception": "org.apache.flink.runtime.JobException: Recovery is suppressed\n\tat x\nCaused by: java.lang.RuntimeException: CounterJob: failing on purpose after 3 s (--fail-after-seconds)\n\tat y",
            "timestamp": 1700000000000i64,
            "all-exceptions": [],
            "exceptionHistory": {"entries": [], "truncated": false}
        }))
        .unwrap();
        let ex = JobExceptions::from(raw);
        assert_eq!(
            ex.root_cause.as_deref(),
            Some(
                "java.lang.RuntimeException: CounterJob: failing on purpose after 3 s (--fail-after-seconds)"
            )
        );
        assert_eq!(ex.timestamp, Some(1_700_000_000_000));
    }

    #[test]
    fn exceptions_of_flink_2_take_the_newest_history_entry() {
        let raw: RawExceptions = serde_json::from_value(serde_json::json!({
            "exceptionHistory": {"entries": [
                {"exceptionName": "java.lang.RuntimeException", "stacktrace": "java.lang.RuntimeException: new\n\tat a", "timestamp": 2, "taskName": "Counter"},
                {"exceptionName": "java.lang.RuntimeException", "stacktrace": "java.lang.RuntimeException: old\n\tat a", "timestamp": 1}
            ], "truncated": false}
        }))
        .unwrap();
        let ex = JobExceptions::from(raw);
        assert_eq!(ex.root_cause.as_deref(), Some("java.lang.RuntimeException: new"));
        assert_eq!(ex.timestamp, Some(2));
        assert_eq!(ex.history.len(), 2);
    }

    #[test]
    fn a_job_without_failures_has_no_root_cause() {
        let raw: RawExceptions = serde_json::from_value(serde_json::json!({
            "root-exception": null, "timestamp": null, "exceptionHistory": {"entries": []}
        }))
        .unwrap();
        assert!(JobExceptions::from(raw).root_cause.is_none());
    }

    #[test]
    fn completed_with_a_failure_cause_is_a_failure() {
        let op: AsyncOperation = serde_json::from_value(serde_json::json!({
            "status": {"id": "COMPLETED"},
            "operation": {"failure-cause": {
                "class": "java.util.concurrent.CompletionException",
                "stack-trace": "java.util.concurrent.CompletionException: x\n\tat a\nCaused by: org.apache.flink.runtime.checkpoint.CheckpointException: Checkpoint Coordinator is suspending.\n\tat b",
                "serialized-throwable": "rO0AB"
            }}
        }))
        .unwrap();
        match op.outcome() {
            AsyncOutcome::Failed { cause } => assert_eq!(
                cause,
                "org.apache.flink.runtime.checkpoint.CheckpointException: Checkpoint Coordinator is suspending."
            ),
            _ => panic!("expected a failure"),
        }
    }

    #[test]
    fn unknown_job_states_do_not_break_the_overview() {
        let o: JobOverview = serde_json::from_value(serde_json::json!({
            "jid": "0123456789abcdef0123456789abcdef", "name": "x", "state": "SOMETHING_NEW",
            "start-time": 1, "end-time": -1, "duration": 5, "last-modification": 1,
            "tasks": {"total": 2, "running": 1, "scheduled": 1, "pending": 0}
        }))
        .unwrap();
        assert_eq!(o.state, JobState::Unknown);
        assert_eq!(o.tasks.other.get("scheduled"), Some(&1));
    }

    #[test]
    fn an_entry_without_a_valid_job_id_is_skipped_and_any_other_bad_entry_is_an_error() {
        let job = |jid: &str, start: serde_json::Value| {
            serde_json::json!({"jid": jid, "name": "x", "state": "RUNNING", "start-time": start,
                "end-time": -1, "duration": 5, "last-modification": 1, "tasks": {"total": 1, "running": 1}})
        };
        let good = "0123456789abcdef0123456789abcdef";
        let o: JobsOverview = serde_json::from_value(serde_json::json!({"jobs": [
            job("not-a-job-id\u{1b}[2J", serde_json::json!(1)), job(good, serde_json::json!(1))
        ]}))
        .unwrap();
        assert_eq!(o.jobs.len(), 1);
        assert_eq!(o.jobs[0].jid.as_str(), good);
        // A job id flinkops may own, unreadable: never read as absent.
        let bad = serde_json::from_value::<JobsOverview>(serde_json::json!({"jobs": [
            job(good, serde_json::json!("yesterday"))
        ]}));
        assert!(bad.is_err());
    }
}

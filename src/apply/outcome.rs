//! How a job's action ended, as facts: why a step failed ([`StepError`]), why an action was not
//! attempted ([`SkipReason`]), what a rollback left running ([`RolledBack`]). Callers (the apply
//! summary, watch's verdict and back-off, metrics) decide by matching these; the words are
//! written once, by the `Display` impls here, and are what the summary and `apply -o json`
//! show (`reason` stays a string in the JSON report).

use std::time::Duration;

use serde::Serialize;

use super::health::Unhealthy;
use crate::flink::{JobId, JobState};
use crate::plan::Action;
use crate::plan::checks::{SlotShortfall, TimeoutTooShort};
use crate::plan::model::Blocker;

/// Where a stopped job's state is, for the sentence that says it is stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateAt {
    /// It ran stateless: there is nothing to lose.
    Stateless,
    /// The snapshot it was stopped with.
    In(String),
}

impl StateAt {
    pub fn of(from: Option<&str>) -> Self {
        from.map_or(Self::Stateless, |f| Self::In(f.to_string()))
    }
}

impl std::fmt::Display for StateAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stateless => f.write_str("it was stateless"),
            Self::In(path) => write!(f, "its state is in {path}"),
        }
    }
}

/// What the job showed when a stop's outcome was unknown (asked, not assumed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobSeen {
    /// It ended: stopped, and the next run restores it from the savepoint Flink took.
    Ended { job: JobId, state: JobState },
    /// It still runs (or is still stopping).
    Still { job: JobId, state: JobState },
    /// Flink could not be asked.
    Unknown { job: JobId },
}

impl std::fmt::Display for JobSeen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ended { job, state } => write!(
                f,
                "{job} has ended ({state}): the job is STOPPED, and the next run restores it from the savepoint \
                 Flink took (it asks Flink for this stop's result)"
            ),
            Self::Still { job, state } => {
                write!(f, "{job} is still {state} (checked); the next run tries again")
            }
            Self::Unknown { job } => write!(f, "Flink cannot be asked whether {job} still runs"),
        }
    }
}

/// Why the previous version was not started again after the new one failed.
#[derive(Debug, thiserror::Error)]
pub enum NoRollback {
    #[error("rollback is off (health.rollback: false)")]
    Off,
    #[error("no ledger record of the previous version to roll back to")]
    NoRecord,
    /// The previous version cannot be run again (a sensitive value changed since).
    #[error("cannot roll back: {0}")]
    Cannot(Box<StepError>),
    #[error("the rollback failed as well: {0}")]
    StartFailed(Box<StepError>),
    /// A rename's ledger history could not be moved back to the old name.
    #[error("cannot roll back the rename: {0}")]
    RenameNotUndone(Box<StepError>),
}

/// Why a step failed. Each variant is one fact (with Flink's own words as its cause where Flink
/// gave them); the composite variants say what a failure after the stop left behind.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("the plan names no live job to act on")]
    NoLiveJob,
    #[error("the plan names no previous name")]
    NoPreviousName,
    #[error("nothing to do for action {0:?}")]
    NothingToDo(Action),
    #[error("a deploy cannot take a new savepoint")]
    DeployTakesNoSavepoint,
    /// The job's cluster could not be observed (or locked): nothing was done to it.
    #[error("cluster `{cluster}` could not be observed, nothing was done to its jobs: {error}")]
    ClusterUnobserved { cluster: String, error: String },
    /// A move whose cluster it leaves is not part of this run's contexts.
    #[error("the cluster `{0}` the job moves from is not part of this run")]
    MoveSourceMissing(String),

    /// A ledger record appeared since the plan, or could not be read: never replaced by a blank one.
    #[error("not overwriting the ledger record: {0}")]
    LedgerUnreadable(String),
    #[error("cannot write the ledger: {0}")]
    LedgerWrite(String),
    #[error("cannot read `{name}`'s ledger record: {cause}")]
    OldRecordUnreadable { name: String, cause: String },
    #[error("cannot remove `{name}`'s ledger record after moving it: {cause}")]
    OldRecordNotRemoved { name: String, cause: String },

    #[error("jars from URLs are not supported by apply yet: download the jar and point `jar` at the file")]
    JarFromUrl,
    #[error("uploading the jar failed: {0}")]
    Upload(String),
    /// A step before the stop failed (its cluster gone, say): the running job was not touched.
    #[error("{why}; {job} was not stopped: the running version is left as it was")]
    NotStopped { why: Box<StepError>, job: JobId },

    /// Flink refused the stop request: the job keeps running.
    #[error("stop with savepoint failed, the job keeps running: {0}")]
    StopRefused(String),
    /// Flink said the savepoint failed: the job keeps running.
    #[error("the savepoint failed, the job keeps running: {0}")]
    SavepointFailed(String),
    /// No answer about the stop in time (or none at all): what the job shows now.
    #[error("the stop's outcome is unknown ({cause}); {seen}")]
    StopTimedOut { cause: String, seen: JobSeen },
    #[error("the savepoint could not be started: {0}")]
    SavepointNotStarted(String),
    /// `savepoint.timeout` is shorter than the job's recent checkpoints: not stopped.
    #[error("{0}")]
    SavepointTimeoutTooShort(TimeoutTooShort),
    /// The task slots the new version needs never came: not stopped.
    #[error("{}", crate::render::slots_never_came(.short, *.waited))]
    SlotsNeverCame { short: SlotShortfall, waited: Duration },
    #[error("reading the checkpoint config failed: {0}")]
    CheckpointConfig(String),
    #[error(
        "{0} was cancelled but its retained checkpoint is missing; the job is STOPPED. Its last state may be under \
         the checkpoint directory ({0}/chk-*); set `restore.from` to it and apply again"
    )]
    RetainedCheckpointMissing(JobId),
    #[error("cancel failed: {0}")]
    CancelFailed(String),
    #[error("{job} did not end within {}s", .within.as_secs())]
    NotEnded { job: JobId, within: Duration },

    #[error("starting the job had no clear answer ({cause}), and {job} did not appear within {}s", .within.as_secs())]
    StartAmbiguous { cause: String, job: JobId, within: Duration },
    #[error("starting the job failed: {0}")]
    StartFailed(String),
    #[error("not started: listing the cluster's jobs, to find the newest state, failed: {0}")]
    NewestStateUnlisted(String),
    /// The newest state cannot be used, or a place that may hold it cannot be read.
    #[error("not started: {0}")]
    RestoreRefused(String),

    /// The health gate failed; which check says [`Unhealthy`].
    #[error("not healthy: {0}")]
    Unhealthy(Box<Unhealthy>),

    #[error("args[{0}] of the previous version is sensitive and has changed since")]
    SensitiveArgChanged(usize),
    #[error("flinkConfiguration.{0} of the previous version is sensitive and has changed since")]
    SensitiveConfigChanged(String),

    /// The new version's start had no clear answer: no rollback, the job may be stopped.
    #[error(
        "{why}. The outcome is unknown: Flink may still start {job}, so flinkops does not roll back (two jobs would \
         run from the same state). The job is STOPPED unless {job} appears; {state}. The next apply sees which it \
         is and converges."
    )]
    StartOutcomeUnknown { why: Box<StepError>, job: JobId, state: StateAt },
    #[error(
        "{why}; cancelling the failed new version failed too, so nothing was started in its place: {cancel}"
    )]
    FailedVersionNotCancelled { why: Box<StepError>, cancel: Box<StepError> },
    #[error(
        "{why}; Flink cannot be asked whether the new version {job} still runs, so flinkops does not roll back (two \
         jobs would run from the same state); the next apply sees which it is"
    )]
    FailedVersionInDoubt { why: Box<StepError>, job: JobId },
    /// The new version failed and the previous one was not started again: the job is stopped.
    #[error("{why}; {because}. The job is STOPPED; {state}. Fix the spec and apply again.")]
    NotRolledBack { why: Box<StepError>, because: NoRollback, state: StateAt },
    #[error("{why}; the rolled-back previous version ({job}) is not healthy either: {unhealthy}")]
    RollbackUnhealthy { why: Box<StepError>, job: JobId, unhealthy: Box<StepError> },

    #[error(
        "{cause}. The unmanaged job {old} is STOPPED; its state is in {from}; fix the spec and apply again"
    )]
    AdoptNotStarted { cause: Box<StepError>, old: JobId, from: String },
    #[error("{cause} (the adopted job {job} runs from {from})")]
    AdoptedUnhealthy { cause: Box<StepError>, job: JobId, from: String },
    #[error("{cause} (the renamed job {job} ran from {from})")]
    RenamedUnhealthy { cause: Box<StepError>, job: JobId, from: String },
    /// A move's start on the new cluster failed (or was unhealthy): what the rollback says.
    #[error("moving it from cluster `{from}` failed: {cause}")]
    NotMoved { cause: Box<StepError>, from: String },
    #[error("the plan names no cluster to move the job from")]
    NoOldCluster,
    /// A move whose old job is gone and whose savepoint cannot be named.
    #[error(
        "the job is stopped on cluster `{from}` and no snapshot of it can be used ({why}); nothing was started: \
         name the snapshot in `restore.from` and apply again"
    )]
    MoveSourceUnknown { from: String, why: Box<StepError> },
}

/// Why an action was not attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// A job it depends on (transitively) failed or was skipped.
    UpstreamFailed { upstream: String },
    /// A conflict in the plan: apply cannot act on it.
    Conflict,
    /// The plan says why apply will not run it (`blocked_by`: an upstream that cannot be acted on,
    /// excluded or held).
    Blocked(Blocker),
    /// watch got SIGTERM before the action started; the next run does it.
    ShuttingDown,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UpstreamFailed { upstream } => {
                write!(f, "waits for `{upstream}`, which did not end healthy")
            }
            Self::Conflict => f.write_str("apply cannot act on it (see Errors in the plan)"),
            Self::Blocked(why) => why.fmt(f),
            Self::ShuttingDown => {
                f.write_str("flinkops is shutting down: not started (the next run does it)")
            }
        }
    }
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// Settings only: recorded in the ledger, the job untouched.
    SettingsRecorded,
    /// Deployed or resumed: `job` runs, from `from` or empty.
    Started {
        job: JobId,
        from: Option<String>,
    },
    /// The new version runs as `job`, from `from` or empty (stateless).
    Upgraded {
        job: JobId,
        from: Option<String>,
    },
    /// An unmanaged job, taken over: `job` runs from the savepoint it was stopped with.
    Adopted {
        job: JobId,
        from: String,
    },
    /// An interrupted run's new version passed its health gate and is recorded.
    Confirmed {
        job: JobId,
    },
    Suspended {
        savepoint: String,
    },
    /// Pruned: stopped with a savepoint.
    Stopped {
        savepoint: String,
    },
    /// `job` runs on the new cluster (moved from `from_cluster`), from the savepoint taken there.
    Moved {
        from_cluster: String,
        job: JobId,
        from: Option<String>,
    },
    /// `job` runs under the new name, from the old name's savepoint.
    Renamed {
        old_name: String,
        job: JobId,
        from: String,
    },
}

impl std::fmt::Display for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = |from: &Option<String>, empty: &'static str| {
            from.as_ref().map_or_else(|| empty.to_string(), |path| format!("from {path}"))
        };
        match self {
            Self::SettingsRecorded => f.write_str("settings recorded"),
            Self::Started { job, from: source } => write!(f, "running as {job}, {}", from(source, "empty")),
            Self::Upgraded { job, from: source } => {
                write!(f, "upgraded to {job}, {}", from(source, "empty (stateless)"))
            }
            Self::Adopted { job, from } => write!(f, "adopted as {job}, from {from}"),
            Self::Confirmed { job } => write!(f, "confirmed {job} healthy and recorded it"),
            Self::Suspended { savepoint } => write!(f, "suspended; savepoint {savepoint}"),
            Self::Stopped { savepoint } => write!(f, "stopped; savepoint {savepoint}"),
            Self::Moved { from_cluster, job, from: source } => write!(
                f,
                "moved from cluster `{from_cluster}`: running as {job}, {}",
                from(source, "empty (stateless)")
            ),
            Self::Renamed { old_name, job, from } => {
                write!(f, "renamed from `{old_name}`: running as {job}, from {from}")
            }
        }
    }
}

/// The new version failed and the previous one runs again, from the same state.
#[derive(Debug)]
pub struct RolledBack {
    pub why: StepError,
    /// The previous version, running again.
    pub running: JobId,
    /// A rename undone: the old name runs again and holds the history.
    pub renamed_back: Option<String>,
}

impl std::fmt::Display for RolledBack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; the previous version runs again as {}, from the same state", self.why, self.running)?;
        match &self.renamed_back {
            Some(name) => write!(f, " (the rename is undone: `{name}` runs and holds the history again)"),
            None => Ok(()),
        }
    }
}

/// How one job's action ended.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Outcome {
    /// Done as planned.
    Done {
        #[serde(serialize_with = "as_text")]
        detail: Done,
    },
    /// The new version failed; the previous version runs again, with its state.
    RolledBack {
        #[serde(serialize_with = "as_text")]
        reason: RolledBack,
    },
    /// The action failed; `reason` says where the job and its state are.
    Failed {
        #[serde(serialize_with = "as_text")]
        reason: StepError,
    },
    /// Not attempted.
    Skipped {
        #[serde(serialize_with = "as_text")]
        reason: SkipReason,
    },
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Done { .. })
    }
}

/// The JSON report keeps `reason` as the sentence the summary shows.
fn as_text<T: std::fmt::Display, S: serde::Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words the summary, the JSON report and watch's log show for a failure after the
    /// stop: the cause first, then where the job and its state are.
    #[test]
    fn a_failure_after_the_stop_says_where_the_job_and_its_state_are() {
        let why = || Box::new(StepError::StartFailed("boom".into()));
        let not_rolled_back = StepError::NotRolledBack {
            why: why(),
            because: NoRollback::Off,
            state: StateAt::of(Some("file:/sp/1")),
        };
        assert_eq!(
            not_rolled_back.to_string(),
            "starting the job failed: boom; rollback is off (health.rollback: false). The job is STOPPED; its \
             state is in file:/sp/1. Fix the spec and apply again."
        );
        let job: JobId = "00000000000000000000000000000002".parse().unwrap();
        let unknown = StepError::StartOutcomeUnknown { why: why(), job, state: StateAt::of(None) };
        assert!(
            unknown.to_string().ends_with(
                "The job is STOPPED unless 00000000000000000000000000000002 appears; it was stateless. The next \
                 apply sees which it is and converges."
            ),
            "{unknown}"
        );
    }

    #[test]
    fn what_an_action_did_reads_as_before() {
        let job: JobId = "00000000000000000000000000000003".parse().unwrap();
        let stateless = Done::Upgraded { job: job.clone(), from: None };
        assert_eq!(stateless.to_string(), "upgraded to 00000000000000000000000000000003, empty (stateless)");
        let deployed = Done::Started { job, from: Some("file:/sp/2".into()) };
        assert_eq!(deployed.to_string(), "running as 00000000000000000000000000000003, from file:/sp/2");
    }

    #[test]
    fn the_json_report_keeps_the_reason_a_sentence() {
        let skipped = Outcome::Skipped { reason: SkipReason::UpstreamFailed { upstream: "ingest".into() } };
        assert_eq!(
            serde_json::to_value(&skipped).unwrap(),
            serde_json::json!({"outcome": "skipped", "reason": "waits for `ingest`, which did not end healthy"})
        );
    }
}

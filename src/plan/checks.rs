//! The checks made before anything stops: is the savepoint timeout longer than the job's recent
//! checkpoints, is the newest checkpoint young enough for a `last-state` upgrade, and does the new
//! version fit the task slots that will be free. Pure: `plan` runs them on what it observed, and
//! apply runs the same functions again right before each stop, on what Flink says at that moment.

use crate::flink::{Checkpoints, JobDetails, JobManagerConfig};
use crate::spec::model::Duration;

/// What a running job's checkpoint statistics (`GET /jobs/:id/checkpoints`) say, for the checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckpointFacts {
    /// The newest completed checkpoint (not a savepoint): its id and when it completed (epoch ms).
    pub newest: Option<(u64, i64)>,
    /// The slowest completed checkpoint or savepoint of Flink's recent history: its id and its
    /// end-to-end duration in milliseconds.
    pub slowest: Option<(u64, u64)>,
}

impl CheckpointFacts {
    pub fn of(cp: &Checkpoints) -> Self {
        let newest = cp.latest.completed.as_ref().map(|c| (c.id, c.latest_ack_timestamp));
        let slowest = cp
            .history
            .iter()
            .filter(|h| h.status.eq_ignore_ascii_case("COMPLETED"))
            .map(|h| (h.id, u64::try_from(h.end_to_end_duration).unwrap_or(0)))
            .max_by_key(|(id, ms)| (*ms, *id));
        Self { newest, slowest }
    }
}

/// A savepoint would likely run out of time: `savepoint.timeout` is shorter than a recent checkpoint.
/// (Its words, with the fix, are `render`'s, as for the other checks' facts.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutTooShort {
    pub timeout_ms: u64,
    pub checkpoint_id: u64,
    pub took_ms: u64,
}

/// `Err` when the slowest recent checkpoint took longer than `timeout`; a job without checkpoint
/// history passes.
pub fn savepoint_timeout(
    timeout: std::time::Duration,
    facts: &CheckpointFacts,
) -> Result<(), TimeoutTooShort> {
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    match facts.slowest {
        Some((checkpoint_id, took_ms)) if took_ms > timeout_ms => {
            Err(TimeoutTooShort { timeout_ms, checkpoint_id, took_ms })
        }
        _ => Ok(()),
    }
}

/// The newest checkpoint is older than `upgrade.maxCheckpointAge`: a savepoint is taken instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointTooOld {
    pub checkpoint_id: u64,
    pub age_ms: u64,
    pub max: Duration,
}

/// `Some` when the newest completed checkpoint is older than `max` at `now_ms`. No limit, or no
/// completed checkpoint (a savepoint is taken then anyway), gives `None`.
pub fn checkpoint_age(
    max: Option<Duration>,
    facts: &CheckpointFacts,
    now_ms: i64,
) -> Option<CheckpointTooOld> {
    let max = max?;
    let (checkpoint_id, completed_ms) = facts.newest?;
    let age_ms = u64::try_from(now_ms - completed_ms).unwrap_or(0);
    let limit_ms = u64::try_from(max.0.as_millis()).unwrap_or(u64::MAX);
    (age_ms > limit_ms).then_some(CheckpointTooOld { checkpoint_id, age_ms, max })
}

/// The new version needs more task slots than are free, counting those its old version frees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotShortfall {
    pub need: u32,
    pub free: u32,
    /// Slots the job being replaced holds and frees when it stops (0 for a new job).
    pub freed: u32,
}

/// `Err` when `need` slots do not fit in `free` plus `freed`.
pub fn free_slots(need: u32, free: u32, freed: u32) -> Result<(), SlotShortfall> {
    if need <= free.saturating_add(freed) { Ok(()) } else { Err(SlotShortfall { need, free, freed }) }
}

/// The task slots a running job holds: its widest vertex, since by default every vertex shares
/// one slot sharing group (a job with its own groups holds more; it is then counted short, and
/// the check errs on the side of waiting).
pub fn slots_held(job: &JobDetails) -> u32 {
    job.vertices.iter().map(|v| v.parallelism).max().unwrap_or(0)
}

/// Whether the cluster's slots bound what can start: not on a cluster that starts task managers on
/// demand (native Kubernetes, YARN) or scales jobs to what it has (adaptive scheduler).
pub fn slots_are_fixed(config: &JobManagerConfig) -> bool {
    let target = config.get("execution.target").unwrap_or_default();
    let elastic = target.contains("kubernetes")
        || target.contains("yarn")
        || config.get("jobmanager.scheduler").is_some_and(|s| s.eq_ignore_ascii_case("adaptive"))
        || config.get("scheduler-mode").is_some_and(|s| s.eq_ignore_ascii_case("reactive"));
    !elastic
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(json: serde_json::Value) -> CheckpointFacts {
        CheckpointFacts::of(&serde_json::from_value(json).unwrap())
    }

    /// Flink reports -1 as the duration of a checkpoint in progress: the answer must still parse.
    #[test]
    fn the_slowest_completed_entry_of_the_history_counts_not_failed_or_in_progress_ones() {
        let f = facts(serde_json::json!({
            "latest": {"completed": {"id": 7, "latest_ack_timestamp": 5000}},
            "history": [
                {"id": 10, "status": "IN_PROGRESS", "end_to_end_duration": -1},
                {"id": 9, "status": "IN_PROGRESS", "end_to_end_duration": 90000},
                {"id": 8, "status": "FAILED", "end_to_end_duration": 80000},
                {"id": 7, "status": "COMPLETED", "end_to_end_duration": 1200},
                {"id": 6, "status": "COMPLETED", "is_savepoint": true, "end_to_end_duration": 3400},
                {"id": 5, "status": "COMPLETED", "end_to_end_duration": 300},
            ]
        }));
        assert_eq!(f, CheckpointFacts { newest: Some((7, 5000)), slowest: Some((6, 3400)) });
    }

    #[test]
    fn a_timeout_shorter_than_a_recent_checkpoint_fails_and_says_how_long_it_took() {
        let f = CheckpointFacts { newest: None, slowest: Some((6, 3400)) };
        let secs = std::time::Duration::from_secs;
        let err = savepoint_timeout(secs(3), &f).unwrap_err();
        assert_eq!(err, TimeoutTooShort { timeout_ms: 3000, checkpoint_id: 6, took_ms: 3400 });
        let text = err.to_string();
        assert!(text.contains("`savepoint.timeout` is 3s"), "{text}");
        assert!(text.contains("checkpoint 6 took 3s 400ms"), "{text}");
        assert!(text.contains("savepoint.timeout: 7s"), "{text}");
        assert!(savepoint_timeout(secs(4), &f).is_ok());
        assert!(savepoint_timeout(std::time::Duration::from_millis(3400), &f).is_ok());
    }

    #[test]
    fn a_job_without_checkpoint_history_passes_the_timeout_check() {
        let tiny = std::time::Duration::from_millis(1);
        assert!(savepoint_timeout(tiny, &CheckpointFacts::default()).is_ok());
    }

    #[test]
    fn only_a_checkpoint_older_than_the_limit_is_too_old() {
        let f = CheckpointFacts { newest: Some((4, 1_000_000)), slowest: None };
        let hour = Some(crate::spec::read::parse_duration("1h").unwrap());
        assert_eq!(checkpoint_age(hour, &f, 1_000_000 + 3_600_000), None);
        let old = checkpoint_age(hour, &f, 1_000_000 + 3_600_001).unwrap();
        assert_eq!((old.checkpoint_id, old.age_ms), (4, 3_600_001));
        assert!(old.to_string().contains("completed 1h0m ago, more than `upgrade.maxCheckpointAge` (1h)"));
        assert_eq!(checkpoint_age(None, &f, i64::MAX), None, "no limit");
        assert_eq!(checkpoint_age(hour, &CheckpointFacts::default(), i64::MAX), None, "no checkpoint");
    }

    #[test]
    fn the_slots_the_old_version_frees_count_with_the_free_ones() {
        assert_eq!(free_slots(4, 1, 3), Ok(()));
        assert_eq!(free_slots(4, 4, 0), Ok(()));
        assert_eq!(free_slots(4, 1, 2), Err(SlotShortfall { need: 4, free: 1, freed: 2 }));
        assert!(
            crate::render::slots_never_came(
                &free_slots(4, 1, 2).unwrap_err(),
                std::time::Duration::from_secs(60)
            )
            .contains("after waiting 60s, the cluster has 1 free plus the 2 its old version frees")
        );
        assert!(free_slots(2, 1, 0).unwrap_err().to_string().contains("right now, the cluster has 1 free."));
    }
}

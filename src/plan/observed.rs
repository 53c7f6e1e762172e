//! The live state as the planner sees it: one entry per job the cluster remembers.

use std::collections::BTreeMap;

use crate::flink::{JobId, JobState, JobsOverview};
use crate::restore::Evidence;

use super::model::LiveRef;

/// Every job one `GET /jobs/overview` listed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    pub jobs: Vec<LiveJob>,
    /// For each spec that has no live job: every snapshot the sources name (gathered before
    /// planning, so that the planner stays pure). A spec without an entry is resolved at apply
    /// time.
    pub snapshots: BTreeMap<String, Evidence>,
    /// When it was observed (epoch ms), for the age of snapshots.
    pub now_ms: i64,
    /// Specs whose ledger record exists but cannot be read (a stray file, a newer format), with
    /// why: such a spec is not acted on, since its record may be the only note of its state.
    pub unreadable_records: BTreeMap<String, String>,
    /// The cluster's default savepoint directory, when it was asked: `Some(None)` means the
    /// cluster has none, so a stop with a savepoint of a job that names none of its own fails.
    /// `None`: not asked (no such stop is planned) or unknown; nothing is refused for it.
    pub cluster_savepoint_dir: Option<Option<String>>,
    /// The cluster's task slots in all, when known and fixed: `None` on a cluster that adds task
    /// managers on demand (native Kubernetes, YARN) or scales jobs to what it has (adaptive
    /// scheduler).
    pub total_slots: Option<u32>,
    /// Free task slots (`slots-available`), asked with `total_slots` and `None` when it is.
    pub free_slots: Option<u32>,
    /// The slots each live job a plan would replace holds (see `checks::slots_held`).
    pub slots_held: BTreeMap<JobId, u32>,
    /// For each live job a plan would stop: what its checkpoint statistics say. A job without an
    /// entry (not asked, or Flink could not say) passes the checks that need them.
    pub checkpoints: BTreeMap<JobId, super::checks::CheckpointFacts>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveJob {
    pub id: JobId,
    pub name: String,
    pub state: JobState,
    /// Epoch milliseconds.
    pub start_time: i64,
    /// Epoch milliseconds; -1 while it runs.
    pub end_time: i64,
    pub tasks_running: u32,
    pub tasks_finished: u32,
    pub tasks_total: u32,
}

impl LiveJob {
    /// Not ended: running, starting, restarting, failing, cancelling...
    pub fn is_active(&self) -> bool {
        !self.state.is_terminal()
    }

    pub fn to_ref(&self) -> LiveRef {
        LiveRef {
            id: self.id.clone(),
            name: self.name.clone(),
            state: self.state,
            tasks_running: self.tasks_running,
            tasks_finished: self.tasks_finished,
            tasks_total: self.tasks_total,
        }
    }
}

impl From<&JobsOverview> for Observed {
    fn from(overview: &JobsOverview) -> Self {
        let mut jobs: Vec<LiveJob> = overview
            .jobs
            .iter()
            .map(|j| LiveJob {
                id: j.jid.clone(),
                name: j.name.clone(),
                state: j.state,
                start_time: j.start_time,
                end_time: j.end_time,
                tasks_running: j.tasks.running,
                tasks_finished: j.tasks.finished(),
                tasks_total: j.tasks.total,
            })
            .collect();
        jobs.sort_by(|a, b| a.id.cmp(&b.id));
        Observed { jobs, now_ms: jiff::Timestamp::now().as_millisecond(), ..Default::default() }
    }
}

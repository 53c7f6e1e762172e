//! The health decision, pure: from one poll to the next, is the job healthy, did it restart, and
//! how long has it been stable. No I/O and no clock of its own: every time is the JobManager's,
//! taken from the answers, so recorded answers replay exactly.

use std::time::Duration;

use super::HealthProgress;
use crate::flink::{JobOverview, JobState};

/// Every task is RUNNING or FINISHED, at least one RUNNING, and the job itself RUNNING. Nothing
/// is created, scheduled, deploying, initializing, failing, cancelling or restarting.
pub(super) fn healthy_tasks(s: &JobOverview) -> bool {
    s.state == JobState::Running && s.tasks.all_up()
}

/// The JobManager's "now" at the time of the answer.
fn server_now(s: &JobOverview) -> i64 {
    s.start_time.saturating_add(s.duration)
}

/// What one healthy poll looked like, to compare the next one with.
#[derive(Debug, Clone, Copy)]
struct Steady {
    last_modification: i64,
    finished: u32,
}

/// Restarts and the stable window, from poll to poll.
#[derive(Debug, Default)]
pub(super) struct Tracker {
    /// When the gate began, on the JobManager's clock (epoch ms).
    began: Option<i64>,
    restarts: u32,
    /// JobManager time of the latest restart counted (a poll's time or Flink's timestamp).
    last_restart: Option<i64>,
    /// The previous poll saw RESTARTING.
    restarting: bool,
    /// The previous poll, if it was healthy.
    steady: Option<Steady>,
    /// Since when (JobManager ms) every poll was healthy with no restart.
    window_start: Option<i64>,
}

impl Tracker {
    pub(super) fn began(&self) -> Option<i64> {
        self.began
    }

    /// Take one poll: the job's overview line (fresh) and Flink's `timestamps.RESTARTING` from
    /// the job's details (cached, so seconds late; 0 or absent when it never restarted).
    pub(super) fn see(
        &mut self,
        s: &JobOverview,
        restart_mark: Option<i64>,
        elapsed: Duration,
    ) -> HealthProgress {
        let now = server_now(s);
        let elapsed_ms = i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX);
        let began = *self.began.get_or_insert(now.saturating_sub(elapsed_ms));
        let healthy = healthy_tasks(s);
        let mut restarted = false;
        if !s.state.is_terminal() && self.seen_restart(s, healthy) {
            self.count_restart(now);
            restarted = true;
        }
        // A restart the polls missed, as Flink recorded it.
        if let Some(mark) = restart_mark.filter(|m| *m > 0 && *m >= began)
            && self.last_restart.is_none_or(|last| mark > last)
        {
            self.count_restart(mark);
            restarted = true;
        }
        self.restarting = s.state == JobState::Restarting;
        self.steady =
            healthy.then(|| Steady { last_modification: s.last_modification, finished: s.tasks.finished() });
        self.window_start = match (healthy, self.window_start) {
            (false, _) => None,
            (true, Some(start)) if !restarted => Some(start),
            // The tasks entered their current states at `last-modification`; a restart Flink
            // recorded later than that moves the start on.
            (true, _) => Some(s.last_modification.max(self.last_restart.unwrap_or(i64::MIN))),
        };
        let stable_ms = self.window_start.map_or(0, |start| now.saturating_sub(start).max(0));
        HealthProgress {
            state: s.state,
            tasks_running: s.tasks.running,
            tasks_finished: s.tasks.finished(),
            tasks_total: s.tasks.total,
            stable_for: Duration::from_millis(u64::try_from(stable_ms).unwrap_or(0)),
            restarts: self.restarts,
            restarted,
            elapsed,
        }
    }

    /// What this poll shows of a restart, compared with the previous one: the job entered
    /// RESTARTING; or, after a healthy poll, tasks of the still RUNNING job left RUNNING for
    /// anything but FINISHED (a failover of some tasks); or they all run again but re-entered
    /// their states in between without any task finishing (a restart between two polls).
    fn seen_restart(&self, s: &JobOverview, healthy: bool) -> bool {
        let entered_restarting = s.state == JobState::Restarting && !self.restarting;
        let after_steady = self.steady.is_some_and(|before| {
            let failover = s.state == JobState::Running && !healthy;
            let redeployed = healthy
                && s.last_modification != before.last_modification
                && s.tasks.finished() <= before.finished;
            failover || redeployed
        });
        entered_restarting || after_steady
    }

    fn count_restart(&mut self, at: i64) {
        self.restarts = self.restarts.saturating_add(1);
        self.last_restart = Some(self.last_restart.map_or(at, |last| last.max(at)));
    }
}

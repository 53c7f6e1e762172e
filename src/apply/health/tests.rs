//! The gate replayed on answers recorded from real Flink 2.3.0 and 1.20.5
//! (`tests/cases/flink-answers/`, made by `scripts/record-flink-answers`), and on answers derived
//! from them for what a cluster cannot be made to do on demand. Time is tokio's paused clock:
//! nothing here waits for real.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::flink::ExceptionEntry;

const JOB: &str = "0123456789abcdef0123456789abcdef";
const VERSIONS: [&str; 2] = ["2.3.0", "1.20.5"];

fn job() -> JobId {
    JOB.parse().unwrap()
}

/// One recorded poll: the job's overview line, its details, `numRestarts`.
#[derive(Clone)]
struct Poll(Value);

impl Poll {
    fn overview(&self) -> JobOverview {
        let mut o = self.0["overview"].clone();
        o["jid"] = json!(JOB);
        serde_json::from_value(o).unwrap()
    }

    fn details(&self) -> JobDetails {
        let mut d = self.0["details"].clone();
        d["jid"] = json!(JOB);
        d["name"] = json!("counter");
        d["start-time"] = self.0["overview"]["start-time"].clone();
        serde_json::from_value(d).unwrap()
    }

    fn set(&mut self, pointer: &str, value: Value) -> &mut Self {
        *self.0.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = value;
        self
    }

    fn get(&self, pointer: &str) -> &Value {
        self.0.pointer(pointer).unwrap_or_else(|| panic!("{pointer}"))
    }
}

fn recorded(scenario: &str, version: &str) -> Vec<Poll> {
    let path = format!("{}/tests/cases/flink-answers/{scenario}-{version}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let polls: Vec<Value> = serde_json::from_str(&text).unwrap();
    polls.into_iter().map(Poll).collect()
}

/// Answers the polls in turn (the last one again and again once they run out).
struct Replay {
    polls: Vec<Poll>,
    next: Cell<usize>,
    exceptions: RefCell<JobExceptions>,
}

impl Replay {
    fn new(polls: Vec<Poll>) -> Self {
        let none = JobExceptions { root_cause: None, timestamp: None, history: Vec::new() };
        Self { polls, next: Cell::new(0), exceptions: RefCell::new(none) }
    }

    /// The poll answered last.
    fn current(&self) -> &Poll {
        &self.polls[self.next.get().saturating_sub(1).min(self.polls.len() - 1)]
    }

    /// Flink's exception history: `count` failures with `cause`, stamped at `at`.
    fn failures(self, cause: &str, count: usize, at: i64) -> Self {
        let entry = ExceptionEntry {
            name: Some("java.lang.RuntimeException".into()),
            root_cause: cause.into(),
            stack_trace: String::new(),
            timestamp: Some(at),
            task: None,
        };
        *self.exceptions.borrow_mut() = JobExceptions {
            root_cause: Some(cause.into()),
            timestamp: Some(at),
            history: vec![entry; count],
        };
        self
    }
}

impl Probe for Replay {
    async fn overview(&self, _: &JobId) -> Result<Option<JobOverview>, flink::Error> {
        let i = self.next.get();
        self.next.set(i + 1);
        Ok(self.polls.get(i.min(self.polls.len() - 1)).map(Poll::overview))
    }

    async fn details(&self, _: &JobId) -> Result<JobDetails, flink::Error> {
        Ok(self.current().details())
    }

    async fn restarts_metric(&self, _: &JobId) -> Result<Option<u32>, flink::Error> {
        let metric = self.current().0["numRestarts"].as_array().and_then(|m| m.first().cloned());
        Ok(metric.and_then(|m| m["value"].as_str().and_then(|v| v.parse().ok())))
    }

    async fn exceptions(&self, _: &JobId) -> Result<JobExceptions, flink::Error> {
        Ok(self.exceptions.borrow().clone())
    }
}

fn gate(stable_for_s: u64, timeout_s: u64) -> Gate {
    Gate::new(Duration::from_secs(stable_for_s), Duration::from_secs(timeout_s))
}

async fn run(probe: &Replay, gate: Gate) -> (Result<Healthy, Unhealthy>, Vec<HealthProgress>) {
    let mut seen = Vec::new();
    let result = gate_loop(probe, &job(), &gate, |p| seen.push(p.clone())).await;
    (result, seen)
}

#[tokio::test(start_paused = true)]
async fn a_rescaled_job_with_a_finished_source_subtask_is_healthy_on_both_versions() {
    for version in VERSIONS {
        let replay = Replay::new(recorded("rescale-up", version));
        let (result, seen) = run(&replay, gate(5, 120)).await;
        let healthy = result.unwrap_or_else(|e| panic!("Flink {version}: {e} {seen:?}"));
        assert_eq!(healthy.restarts, 0, "Flink {version}: {seen:?}");
        let last = seen.last().unwrap();
        assert_eq!((last.tasks_running, last.tasks_finished, last.tasks_total), (3, 1, 4));
        assert!(last.stable_for >= Duration::from_secs(5), "{last:?}");
        assert!(healthy.after < Duration::from_secs(10), "Flink {version}: {healthy:?}");
        assert!(
            last.to_string().starts_with("RUNNING, 3/4 tasks running (1 finished), stable for "),
            "{last}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_subtask_finishing_while_the_gate_watches_is_not_a_restart() {
    for version in VERSIONS {
        // As seen on 1.19: all four tasks ran first, then one finished and moved last-modification.
        let mut polls = recorded("rescale-up", version);
        let first_mark = polls[1].get("/overview/last-modification").as_i64().unwrap();
        polls[1].set("/overview/tasks/running", json!(4)).set("/overview/tasks/finished", json!(0));
        polls[1].set("/overview/last-modification", json!(first_mark - 500));
        let replay = Replay::new(polls);
        let (result, seen) = run(&replay, gate(5, 120)).await;
        let healthy = result.unwrap_or_else(|e| panic!("Flink {version}: {e}"));
        assert_eq!(healthy.restarts, 0, "Flink {version}: {seen:?}");
        assert!(seen.iter().all(|p| !p.restarted), "{seen:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_crash_looping_job_times_out_with_flinks_restart_count_and_cause() {
    for version in VERSIONS {
        let polls = recorded("crash-loop", version);
        let began = polls[0].get("/overview/start-time").as_i64().unwrap();
        let cause =
            "java.lang.RuntimeException: CounterJob: failing on purpose after 2 s (--fail-after-seconds)";
        let replay = Replay::new(polls).failures(cause, 2, began + 5_000);
        let (result, seen) = run(&replay, gate(5, 20)).await;
        let err = result.unwrap_err();
        let Unhealthy::TimedOut { reason, restarts, .. } = &err else { panic!("{err:?}") };
        let polled = seen.last().unwrap().restarts;
        assert!(polled >= 4, "Flink {version}: every restart is seen: {seen:?}");
        assert!(*restarts >= polled, "{restarts} >= {polled}");
        assert_eq!(reason, &format!("restarted {restarts} times within 20s; last cause: {cause}"));
        assert_eq!(err.root_cause(), Some(cause));
        // One count per restart, though several polls see RESTARTING and Flink's timestamp later.
        let entered =
            seen.windows(2).filter(|w| w[1].state == JobState::Restarting && w[0].state != w[1].state);
        assert_eq!(polled as usize, entered.count(), "Flink {version}: {seen:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn tasks_waiting_for_slots_time_out_saying_so() {
    for version in VERSIONS {
        let replay = Replay::new(recorded("no-slots", version));
        let (result, _) = run(&replay, gate(1, 2)).await;
        let err = result.unwrap_err();
        let Unhealthy::TimedOut { reason, restarts, .. } = &err else { panic!("{err:?}") };
        assert_eq!(*restarts, 0, "Flink {version}");
        assert_eq!(reason, "0 of 16 tasks running after 2.0s (16 scheduled: not enough free task slots?)");
    }
}

/// Healthy polls of the rescaled job, from its first healthy one on.
fn steady(version: &str) -> Vec<Poll> {
    recorded("rescale-up", version).into_iter().skip(1).collect()
}

#[tokio::test(start_paused = true)]
async fn a_restart_between_two_polls_starts_the_window_again() {
    for version in VERSIONS {
        // Just before poll 3 the tasks were redeployed: same counts, a new last-modification.
        let mut polls = steady(version);
        let now = |p: &Poll| {
            p.get("/overview/start-time").as_i64().unwrap() + p.get("/overview/duration").as_i64().unwrap()
        };
        let redeployed = now(&polls[3]) - 200;
        for p in &mut polls[3..] {
            p.set("/overview/last-modification", json!(redeployed));
        }
        let replay = Replay::new(polls);
        let (result, seen) = run(&replay, gate(5, 120)).await;
        assert_eq!(result.unwrap().restarts, 1, "Flink {version}: {seen:?}");
        assert!(seen[3].restarted && seen[3].stable_for < seen[2].stable_for, "{seen:?}");
        assert_eq!(seen.iter().filter(|p| p.restarted).count(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_restart_only_flinks_timestamp_shows_is_counted_once_and_restarts_the_window() {
    for version in VERSIONS {
        let mut polls = steady(version);
        let first = polls[0].get("/overview/last-modification").as_i64().unwrap();
        for p in &mut polls[3..] {
            p.set("/details/timestamps/RESTARTING", json!(first + 1_500));
        }
        let replay = Replay::new(polls);
        let (result, seen) = run(&replay, gate(5, 120)).await;
        let healthy = result.unwrap();
        assert_eq!(healthy.restarts, 1, "Flink {version}: {seen:?}");
        assert!(seen[3].restarted && !seen[4].restarted, "{seen:?}");
        assert!(seen[3].stable_for < seen[2].stable_for, "the window starts at the restart: {seen:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_job_is_unhealthy_at_once_with_its_root_cause() {
    let mut polls = steady("2.3.0");
    polls[0].set("/overview/state", json!("FAILED")).set("/details/state", json!("FAILED"));
    let cause = "java.lang.IllegalStateException: no such topic";
    let replay = Replay::new(polls).failures(cause, 1, 1);
    let (result, seen) = run(&replay, gate(30, 300)).await;
    assert_eq!(seen.len(), 1, "one poll");
    let err = result.unwrap_err();
    assert!(matches!(err, Unhealthy::Ended { state: JobState::Failed, .. }), "{err:?}");
    assert_eq!(err.root_cause(), Some(cause));
    assert_eq!(err.to_string(), format!("job {JOB} failed after 0.0s: {cause}"));
}

#[tokio::test(start_paused = true)]
async fn a_job_that_finished_is_not_healthy() {
    let mut polls = steady("1.20.5");
    polls[0].set("/overview/state", json!("FINISHED")).set("/details/state", json!("FINISHED"));
    let (result, _) = run(&Replay::new(polls), gate(30, 300)).await;
    let err = result.unwrap_err();
    assert!(err.to_string().contains("finished (a streaming job should keep running)"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_job_whose_tasks_all_finished_while_running_is_not_healthy() {
    let mut polls = steady("2.3.0");
    for p in &mut polls {
        p.set("/overview/tasks/running", json!(0)).set("/overview/tasks/finished", json!(4));
    }
    let (result, _) = run(&Replay::new(polls), gate(1, 3)).await;
    assert!(matches!(result, Err(Unhealthy::TimedOut { .. })), "{result:?}");
}

#[test]
fn durations_read_well_in_messages() {
    assert_eq!(show(Duration::from_millis(350)), "0.3s");
    assert_eq!(show(Duration::from_secs(75)), "1m15s");
    assert_eq!(times("restarted", 1), "restarted once");
}

//! A move against two fake clusters: the request sequence on each, the ledgers after it, the
//! rollback to the old cluster when the new start fails, and a run killed after the savepoint
//! finished from the stopped job's state.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::*;
use crate::apply::progress::Progress;
use crate::flink::{Client, ClientConfig, TriggerId};
use crate::ledger::{Ledger, Record, SavepointRecord};
use crate::plan::fixtures::job;
use crate::plan::identity;
use crate::plan::model::{Action, LiveRef, Restore};

const SAVEPOINT: &str = "file:/shared/sp/savepoint-moved";

/// One fake Flink 2.3.0 session cluster: jobs it runs (started ones run, or fail at once when
/// `starts_fail`), a stop that completes with `SAVEPOINT`, and the savepoint directory above.
#[derive(Clone, Default)]
struct Fake {
    jobs: Arc<Mutex<BTreeMap<String, &'static str>>>,
    starts_fail: bool,
    /// The stop is carried out, but its answer comes too late (the cluster went away under it).
    stop_unanswered: bool,
}

impl Fake {
    fn running(self, id: &JobId) -> Self {
        self.jobs.lock().unwrap().insert(id.to_string(), "RUNNING");
        self
    }

    fn state(&self, id: &JobId) -> Option<&'static str> {
        self.jobs.lock().unwrap().get(&id.to_string()).copied()
    }
}

impl Respond for Fake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let ok = |v: Value| ResponseTemplate::new(200).set_body_json(v);
        let path: Vec<&str> = req.url.path().trim_matches('/').split('/').collect();
        let job = |jid: &str, state: &str| {
            json!({"jid": jid, "name": "a", "state": state, "start-time": 1, "end-time": -1, "duration": 1,
                "last-modification": 1, "tasks": {"total": 1, "running": i32::from(state == "RUNNING")}})
        };
        let mut jobs = self.jobs.lock().unwrap();
        match (req.method.as_str(), path.as_slice()) {
            ("GET", ["config"]) => ok(json!({"flink-version": "2.3.0"})),
            ("GET", ["jobmanager", "config"]) => {
                ok(json!([{"key": "execution.checkpointing.savepoint-dir", "value": "file:/shared/sp"}]))
            }
            ("GET", ["jars"]) => {
                let name = crate::apply::jars::upload_name(&"ab".repeat(32));
                ok(json!({"address": "x", "files": [{"id": format!("u1_{name}"), "name": name, "uploaded": 1,
                    "entry": []}]}))
            }
            ("POST", ["jars", _, "run"]) => {
                let body: Value = serde_json::from_slice(&req.body).unwrap();
                let id = body["jobId"].as_str().unwrap().to_string();
                jobs.insert(id.clone(), if self.starts_fail { "FAILED" } else { "RUNNING" });
                ok(json!({"jobid": id}))
            }
            ("GET", ["jobs", "overview"]) => {
                ok(json!({"jobs": jobs.iter().map(|(id, s)| job(id, s)).collect::<Vec<_>>()}))
            }
            ("GET", ["jobs", id]) => match jobs.get(*id) {
                Some(s) => ok(job(id, s)),
                None => ResponseTemplate::new(404).set_body_json(json!({"errors": ["Job not found"]})),
            },
            ("POST", ["jobs", id, "stop"]) => {
                jobs.insert(id.to_string(), "FINISHED");
                let answer = ok(json!({"request-id": TriggerId::random().to_string()}));
                if self.stop_unanswered { answer.set_delay(Duration::from_secs(2)) } else { answer }
            }
            ("GET", ["jobs", _, "savepoints", _]) => {
                ok(json!({"status": {"id": "COMPLETED"}, "operation": {"location": SAVEPOINT}}))
            }
            ("PATCH", ["jobs", id]) => {
                jobs.insert(id.to_string(), "CANCELED");
                ResponseTemplate::new(202).set_body_json(json!({}))
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({"errors": ["Not found"]})),
        }
    }
}

async fn serve(fake: &Fake) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any()).respond_with(fake.clone()).mount(&server).await;
    server
}

fn context(server: &MockServer, state: &Path) -> Context {
    let client = Client::new(ClientConfig::new(server.uri())).unwrap();
    let ledger = Ledger::new(state);
    let records = ledger.read_all().unwrap().ok;
    Context {
        poll: Duration::from_millis(10),
        ..Context::new(client, ledger, records, Progress::to(Box::new(std::io::sink())))
    }
}

/// The job, with a health gate that passes at once and ends quickly, and its running job id on
/// the old cluster (a managed one: it carries the job's name tag).
fn moving_job() -> (crate::spec::Job, JobId) {
    let mut j = job("a");
    j.health.stable_for.value = crate::spec::model::Duration::seconds(0);
    j.health.timeout.value = crate::spec::model::Duration::seconds(3);
    let id = identity::job_id(&j.name, &j.fingerprint, identity::random_submission());
    (j, id)
}

/// The old cluster's ledger: the job runs there as `live`, version applied, jar recorded.
fn old_record(j: &crate::spec::Job, live: &JobId) -> Record {
    let mut r = crate::plan::fixtures::record_of(j);
    r.job_id = Some(live.clone());
    r.jar_id = Some(crate::flink::JarId::new("u0_old.jar"));
    r.savepoints.push(SavepointRecord::new(
        "file:/shared/sp/savepoint-older",
        None,
        "2026-01-01T00:00:00Z".into(),
        SavepointReason::Upgrade,
    ));
    r
}

fn move_plan(j: &crate::spec::Job, live: Option<&JobId>, restore: Restore) -> JobPlan {
    let action = serde_json::to_value(Action::Move).unwrap();
    let mut p: JobPlan = serde_json::from_value(
        json!({"name": j.name, "action": action, "reason": "moved", "movedFrom": "eu"}),
    )
    .unwrap();
    p.live = live.map(|id| LiveRef {
        id: id.clone(),
        name: j.name.clone(),
        state: crate::flink::JobState::Running,
        tasks_running: 1,
        tasks_finished: 0,
        tasks_total: 1,
    });
    p.restore = Some(restore);
    p
}

/// What each cluster was asked to change, in order (`POST /jobs/…/stop`, `POST …/run from …`).
async fn writes(server: &MockServer) -> Vec<String> {
    let mut out = Vec::new();
    for r in server.received_requests().await.unwrap() {
        let path = r.url.path();
        match r.method.as_str() {
            "POST" if path.ends_with("/stop") => {
                out.push(format!("stop {}", path.split('/').nth(2).unwrap()))
            }
            "POST" if path.ends_with("/run") => {
                let body: Value = serde_json::from_slice(&r.body).unwrap();
                out.push(format!("run from {}", body["savepointPath"].as_str().unwrap_or("nothing")));
            }
            "PATCH" => out.push(format!("cancel {}", path.split('/').nth(2).unwrap())),
            _ => {}
        }
    }
    out
}

struct Two {
    old: Fake,
    new: Fake,
    old_server: MockServer,
    new_server: MockServer,
    old_dir: tempfile::TempDir,
    new_dir: tempfile::TempDir,
}

async fn two(old: Fake, new: Fake) -> Two {
    let (old_server, new_server) = (serve(&old).await, serve(&new).await);
    let (old_dir, new_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    Two { old, new, old_server, new_server, old_dir, new_dir }
}

impl Two {
    fn contexts(&self) -> (Context, Context) {
        (context(&self.old_server, self.old_dir.path()), context(&self.new_server, self.new_dir.path()))
    }
}

#[tokio::test]
async fn a_move_stops_on_the_old_cluster_starts_on_the_new_from_that_savepoint_and_carries_the_history() {
    let (j, live) = moving_job();
    let t = two(Fake::default().running(&live), Fake::default()).await;
    Ledger::new(t.old_dir.path()).write(&old_record(&j, &live)).unwrap();
    let (old, new) = t.contexts();
    let outcome = run(&old, &new, &move_plan(&j, Some(&live), Restore::NewSavepoint), &j).await.unwrap();
    let Outcome::Done { detail: Done::Moved { from_cluster, job: started, from } } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!((from_cluster.as_str(), from.as_deref()), ("eu", Some(SAVEPOINT)));
    let result = crate::apply::execute::JobResult {
        name: "a".into(),
        action: Action::Move,
        outcome: Outcome::Done { detail: Done::Moved { from_cluster, job: started.clone(), from } },
        seconds: 1.0,
    };
    let summary = crate::apply::execute::summary([&result]);
    assert!(summary.starts_with("Apply complete") && summary.contains("1 moved"), "{summary}");
    assert_eq!(writes(&t.old_server).await, [format!("stop {live}")]);
    assert_eq!(writes(&t.new_server).await, [format!("run from {SAVEPOINT}")]);
    assert_eq!(t.old.state(&live), Some("FINISHED"));
    assert_eq!(t.new.state(&started), Some("RUNNING"));
    // The stop went to the directory the plan checked.
    let stop =
        t.old_server.received_requests().await.unwrap().into_iter().find(|r| r.url.path().ends_with("/stop"));
    let body: Value = serde_json::from_slice(&stop.unwrap().body).unwrap();
    assert_eq!(body["targetDirectory"], "file:/shared/sp", "{body}");
    // The history lives on the new cluster only; no move is left in flight.
    assert_eq!(Ledger::new(t.old_dir.path()).read("a").unwrap(), None);
    let here = Ledger::new(t.new_dir.path()).read("a").unwrap().unwrap();
    let paths: Vec<&str> = here.savepoints.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["file:/shared/sp/savepoint-older", SAVEPOINT]);
    assert_eq!(
        (here.job_id.as_ref(), here.moving.as_ref(), here.pending.as_ref()),
        (Some(&started), None, None)
    );
    assert_eq!(here.started_from.as_deref(), Some(SAVEPOINT));
}

#[tokio::test]
async fn a_failed_start_on_the_new_cluster_rolls_back_on_the_old_one_from_the_same_savepoint() {
    let (j, live) = moving_job();
    let failing = Fake { starts_fail: true, ..Fake::default() };
    let t = two(Fake::default().running(&live), failing).await;
    Ledger::new(t.old_dir.path()).write(&old_record(&j, &live)).unwrap();
    let (old, new) = t.contexts();
    let outcome = run(&old, &new, &move_plan(&j, Some(&live), Restore::NewSavepoint), &j).await.unwrap();
    let Outcome::RolledBack { reason } = &outcome else { panic!("{outcome:?}") };
    assert!(reason.to_string().contains("moving it from cluster `eu` failed"), "{reason}");
    // The old cluster: stopped, then the previous version again from the move's savepoint.
    assert_eq!(writes(&t.old_server).await, [format!("stop {live}"), format!("run from {SAVEPOINT}")]);
    assert_eq!(t.old.state(&reason.running), Some("RUNNING"));
    // The history stays on the old cluster, which runs it; the failed job is rejected on the new.
    let there = Ledger::new(t.old_dir.path()).read("a").unwrap().unwrap();
    assert_eq!(there.job_id.as_ref(), Some(&reason.running));
    assert_eq!(there.started_from.as_deref(), Some(SAVEPOINT));
    let here = Ledger::new(t.new_dir.path()).read("a").unwrap().unwrap();
    let failed: Vec<JobId> = t.new.jobs.lock().unwrap().keys().map(|k| k.parse().unwrap()).collect();
    assert_eq!(here.rejected, failed);
    assert_eq!((here.moving.as_ref(), here.pending.as_ref()), (None, None));
}

/// A run killed right after the savepoint: the old job has ended, the new ledger has the move in
/// flight. The next run starts the job on the new cluster from that savepoint, not an older one.
#[tokio::test]
async fn a_move_killed_after_the_savepoint_is_finished_from_it() {
    let (j, live) = moving_job();
    let t = two(Fake::default(), Fake::default()).await;
    t.old.jobs.lock().unwrap().insert(live.to_string(), "FINISHED");
    let mut there = old_record(&j, &live);
    // The stop's write-ahead step, never cleared: the run died after the savepoint.
    there.pending = Some(crate::ledger::Pending::Stopping {
        job_id: live.clone(),
        trigger_id: TriggerId::random(),
        started_at: "2026-01-01T00:00:00Z".into(),
    });
    there.savepoints.push(SavepointRecord::new(
        SAVEPOINT,
        Some(live.clone()),
        jiff::Timestamp::now().to_string(),
        SavepointReason::Upgrade,
    ));
    Ledger::new(t.old_dir.path()).write(&there).unwrap();
    let mut here = Record::new("a");
    here.moving = Some(Moving {
        from_cluster: "eu".into(),
        job_id: live.clone(),
        trigger_id: TriggerId::random(),
        started_at: "2026-01-01T00:00:00Z".into(),
    });
    Ledger::new(t.new_dir.path()).write(&here).unwrap();
    let (old, new) = t.contexts();
    let p = move_plan(&j, None, Restore::LatestOf { job_id: live.clone() });
    let outcome = run(&old, &new, &p, &j).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::Done { detail: Done::Moved { from: Some(f), .. } } if f == SAVEPOINT),
        "{outcome:?}"
    );
    assert_eq!(writes(&t.old_server).await, Vec::<String>::new());
    assert_eq!(writes(&t.new_server).await, [format!("run from {SAVEPOINT}")]);
    assert_eq!(Ledger::new(t.old_dir.path()).read("a").unwrap(), None);
    let here = Ledger::new(t.new_dir.path()).read("a").unwrap().unwrap();
    assert_eq!((here.moving.as_ref(), here.pending.as_ref()), (None, None), "{here:?}");
    assert_eq!(here.started_from.as_deref(), Some(SAVEPOINT));
}

/// The new cluster gone before anything was touched (its jar upload is refused): the job runs on
/// the old cluster as it did, neither ledger gets a step, and the reason says the job was not
/// stopped.
#[tokio::test]
async fn a_move_to_a_cluster_gone_before_the_stop_leaves_the_job_running_and_says_so() {
    let (j, live) = moving_job();
    let old_fake = Fake::default().running(&live);
    let old_server = serve(&old_fake).await;
    let (old_dir, new_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    Ledger::new(old_dir.path()).write(&old_record(&j, &live)).unwrap();
    let old = context(&old_server, old_dir.path());
    let gone = ClientConfig {
        retry: crate::flink::RetryPolicy { max_retries: 0, ..Default::default() },
        ..ClientConfig::new("http://127.0.0.1:9")
    };
    let new = Context { client: Client::new(gone).unwrap(), ..context(&old_server, new_dir.path()) };
    let failed = run(&old, &new, &move_plan(&j, Some(&live), Restore::NewSavepoint), &j).await.unwrap_err();
    assert!(matches!(&failed, StepError::NotStopped { job, .. } if *job == live), "{failed:?}");
    assert!(
        failed
            .to_string()
            .ends_with(&format!("{live} was not stopped: the running version is left as it was"))
    );
    assert_eq!(writes(&old_server).await, Vec::<String>::new());
    assert_eq!(old_fake.state(&live), Some("RUNNING"));
    assert_eq!(Ledger::new(new_dir.path()).read("a").unwrap(), None);
    assert_eq!(Ledger::new(old_dir.path()).read("a").unwrap().unwrap().pending, None);
}

/// The stop sent and its answer lost (the old cluster went away under it), while Flink stopped
/// the job: the outcome is unknown, not a refusal, so the move stays in flight on the new
/// cluster's ledger and the next run finishes it from the stopped job's state (as
/// `a_move_killed_after_the_savepoint_is_finished_from_it`), never taking the old record as stale.
#[tokio::test]
async fn a_stop_whose_answer_is_lost_keeps_the_move_in_flight() {
    let (j, live) = moving_job();
    let old_fake = Fake { stop_unanswered: true, ..Fake::default() }.running(&live);
    let t = two(old_fake, Fake::default()).await;
    Ledger::new(t.old_dir.path()).write(&old_record(&j, &live)).unwrap();
    let (old, new) = t.contexts();
    let impatient = ClientConfig {
        request_timeout: Duration::from_millis(200),
        retry: crate::flink::RetryPolicy { max_retries: 0, ..Default::default() },
        ..ClientConfig::new(t.old_server.uri())
    };
    let old = Context { client: Client::new(impatient).unwrap(), ..old };
    let failed = run(&old, &new, &move_plan(&j, Some(&live), Restore::NewSavepoint), &j).await.unwrap_err();
    assert!(matches!(&failed, StepError::StopTimedOut { .. }), "{failed:?}");
    assert!(failed.to_string().contains("the job is STOPPED"), "says what the job shows: {failed}");
    let here = Ledger::new(t.new_dir.path()).read("a").unwrap().unwrap();
    assert!(here.moving.as_ref().is_some_and(|m| m.job_id == live), "{here:?}");
    assert_eq!(writes(&t.new_server).await, Vec::<String>::new(), "nothing started on the new cluster");
}

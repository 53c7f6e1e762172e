//! The Flink client and `flinkops status` end to end against real Flink clusters: every scenario
//! runs on every cluster that `scripts/test` started (see `flink_support` for the contract).

use std::path::Path;
use std::time::Duration;

use flinkops::flink::{Error, JobId, JobState, RunRequest, SavepointFormat, TriggerId};
use serde_json::Value;

use crate::flink_support::{
    Cleanup, Cluster, assert_state_continued, before_change, on_every_cluster, wait_state, wait_tasks_running,
};

on_every_cluster! {
    a_job_runs_with_a_chosen_id_is_listed_savepointed_and_cancelled (1) => run_list_savepoint_cancel;
    a_job_id_can_be_submitted_only_once (1) => job_id_is_single_use;
    stop_with_savepoint_then_restore_with_no_claim_continues_the_counter (1) => stop_and_restore;
    a_missing_savepoint_path_is_reported_as_such (1) => missing_savepoint_path;
    a_throwing_main_is_a_program_failure_with_its_message (1) => failing_main;
    a_wrong_entry_class_or_jar_id_is_reported_as_such (1) => wrong_entry_class_or_jar;
    a_failing_job_reports_its_root_cause (1) => failing_job_exceptions;
    the_status_command_lists_a_running_job_as_text_and_json (1) => status_command;
}

/// The test job at 50 records/s, parallelism 1 (one slot), a fresh job id, a name unique enough
/// to read in `flinkops status` output.
fn counter_job(c: &Cluster, name: &str) -> RunRequest {
    let name = format!("{name}-{}", c.version);
    RunRequest {
        entry_class: Some("dev.flinkops.testjob.CounterJob".into()),
        program_args: vec!["--name".into(), name, "--rate".into(), "50".into()],
        job_id: Some(JobId::random()),
        ..RunRequest::new(1)
    }
}

/// Upload, list, run with a chosen id, see it in the overview with all tasks running, take a
/// savepoint twice with the same trigger id (one savepoint), cancel twice (idempotent).
async fn run_list_savepoint_cancel(c: &Cluster) {
    let client = c.client();
    let mut cleanup = Cleanup::new(&client);
    let jar = cleanup.jar(client.upload_jar(&c.jar).await.expect("upload"));
    let jars = client.list_jars().await.unwrap();
    let listed = jars.iter().find(|j| j.id == jar).expect("the uploaded jar is listed");
    assert!(listed.name.ends_with(".jar"), "{listed:?}");

    let request = counter_job(c, "e2e-basic");
    let chosen = request.job_id.clone().unwrap();
    let job = cleanup.job(client.run_jar(&jar, &request).await.expect("run"));
    assert_eq!(job, chosen, "Flink takes the client's job id");
    wait_tasks_running(&client, &job).await;
    let overview = client.jobs_overview().await.unwrap();
    let listed = overview.jobs.iter().find(|j| j.jid == job).expect("the job is in the overview");
    assert!(listed.name.starts_with("e2e-basic"), "{listed:?}");
    let details = client.job(&job).await.unwrap();
    assert!(details.vertices.iter().any(|v| v.name.starts_with("Counter")), "{details:?}");
    assert_eq!(client.job_config(&job).await.unwrap().jid, job);

    let trigger = TriggerId::random();
    let first =
        client.trigger_savepoint(&job, None, SavepointFormat::Canonical, &trigger, false).await.unwrap();
    let again =
        client.trigger_savepoint(&job, None, SavepointFormat::Canonical, &trigger, false).await.unwrap();
    assert_eq!((&first, &again), (&trigger, &trigger), "a trigger id is idempotent");
    let location = wait_savepoint(&client, &job, &trigger).await;
    cleanup.savepoint(&location);
    assert!(location.starts_with("file:/"), "{location}");
    assert!(local(&location).join("_metadata").is_file(), "{location} has _metadata");
    assert_eq!(
        client.job(&job).await.unwrap().state,
        JobState::Running,
        "a plain savepoint keeps the job running"
    );

    client.cancel(&job).await.expect("cancel");
    wait_state(&client, &job, JobState::Canceled).await;
    client.cancel(&job).await.expect("cancelling a cancelled job is fine");
    cleanup.finish().await;
    assert!(!client.list_jars().await.unwrap().iter().any(|j| j.id == jar), "the jar was deleted");
}

/// A job id is single-use for the life of the cluster, even after the job ended.
async fn job_id_is_single_use(c: &Cluster) {
    let client = c.client();
    let mut cleanup = Cleanup::new(&client);
    let jar = cleanup.jar(client.upload_jar(&c.jar).await.unwrap());
    let request = counter_job(c, "e2e-dup");
    let job = cleanup.job(client.run_jar(&jar, &request).await.unwrap());
    client.cancel(&job).await.unwrap();
    wait_state(&client, &job, JobState::Canceled).await;
    let err = client.run_jar(&jar, &request).await.expect_err("the same job id again");
    eprintln!("Flink {}: {err}", c.version);
    assert!(matches!(err, Error::DuplicateJobId { .. }), "Flink {}: {err:?}", c.version);
    assert!(err.to_string().contains("already been submitted"), "{err}");
    assert_eq!(err.job(), Some(&job));
    cleanup.finish().await;
}

/// Stop with a savepoint, restore under a new id with NO_CLAIM: the keyed counter continues, the
/// savepoint survives, a changed operator uid cannot map its state, and disposal removes it.
async fn stop_and_restore(c: &Cluster) {
    let client = c.client();
    let mut cleanup = Cleanup::new(&client);
    let jar = cleanup.jar(client.upload_jar(&c.jar).await.unwrap());
    let first = cleanup.job(client.run_jar(&jar, &counter_job(c, "e2e-restore")).await.unwrap());
    wait_tasks_running(&client, &first).await;
    let before = before_change(&client, &first).await;

    let trigger = TriggerId::random();
    let request =
        client.stop_with_savepoint(&first, None, SavepointFormat::Canonical, false, &trigger).await.unwrap();
    let location = wait_savepoint(&client, &first, &request).await;
    cleanup.savepoint(&location);
    wait_state(&client, &first, JobState::Finished).await;

    let restore = RunRequest { savepoint_path: Some(location.clone()), ..counter_job(c, "e2e-restore") };
    let second = cleanup.job(client.run_jar(&jar, &restore).await.expect("restore"));
    assert_ne!(first, second);
    wait_tasks_running(&client, &second).await;
    assert_state_continued(&client, &before, &second, Some(&location)).await;

    let mut renamed = RunRequest { savepoint_path: Some(location.clone()), ..counter_job(c, "e2e-renamed") };
    renamed.program_args.extend(["--uid-suffix".into(), "-v2".into()]);
    let renamed_id = cleanup.job(renamed.job_id.clone().unwrap());
    let err = client.run_jar(&jar, &renamed).await.expect_err("uid changed");
    eprintln!("Flink {}: {err}", c.version);
    assert!(matches!(err, Error::StateNotMappable { .. }), "Flink {}: {err:?}", c.version);
    assert_eq!(err.job(), Some(&renamed_id));

    client.cancel(&second).await.unwrap();
    wait_state(&client, &second, JobState::Canceled).await;
    assert!(local(&location).join("_metadata").is_file(), "NO_CLAIM left the savepoint alone");
    client.dispose_savepoint(&location, Duration::from_secs(60)).await.expect("dispose");
    assert!(!local(&location).exists(), "disposal removed {location}");
    cleanup.finish().await;
}

async fn missing_savepoint_path(c: &Cluster) {
    let client = c.client();
    let mut cleanup = Cleanup::new(&client);
    let jar = cleanup.jar(client.upload_jar(&c.jar).await.unwrap());
    let request = RunRequest {
        savepoint_path: Some(format!("file:///nonexistent/flinkops-e2e/{}", JobId::random())),
        ..counter_job(c, "e2e-missing-sp")
    };
    cleanup.job(request.job_id.clone().unwrap());
    let err = client.run_jar(&jar, &request).await.expect_err("no such savepoint");
    eprintln!("Flink {}: {err}", c.version);
    assert!(matches!(err, Error::SavepointPathNotFound { .. }), "Flink {}: {err:?}", c.version);
    assert!(err.to_string().contains("nonexistent/flinkops-e2e"), "{err}");
    cleanup.finish().await;
}

async fn failing_main(c: &Cluster) {
    let client = c.client();
    let mut cleanup = Cleanup::new(&client);
    let jar = cleanup.jar(client.upload_jar(&c.jar).await.unwrap());
    let mut request = counter_job(c, "e2e-main-fails");
    request.program_args.extend(["--fail-in-main".into(), "true".into()]);
    cleanup.job(request.job_id.clone().unwrap());
    let err = client.run_jar(&jar, &request).await.expect_err("main() throws");
    eprintln!("Flink {}: {err}", c.version);
    assert!(matches!(err, Error::ProgramFailed { .. }), "Flink {}: {err:?}", c.version);
    assert!(err.to_string().contains("CounterJob: failing in main() on purpose"), "{err}");
    cleanup.finish().await;
}

async fn wrong_entry_class_or_jar(c: &Cluster) {
    let client = c.client();
    let mut cleanup = Cleanup::new(&client);
    let jar = cleanup.jar(client.upload_jar(&c.jar).await.unwrap());
    let request =
        RunRequest { entry_class: Some("dev.flinkops.Nope".into()), ..counter_job(c, "e2e-no-class") };
    cleanup.job(request.job_id.clone().unwrap());
    let err = client.run_jar(&jar, &request).await.expect_err("no such class");
    eprintln!("Flink {}: {err}", c.version);
    assert!(matches!(err, Error::EntryClassNotFound { .. }), "Flink {}: {err:?}", c.version);
    assert!(err.to_string().contains("dev.flinkops.Nope"), "{err}");

    let unknown = flinkops::flink::JarId::new("00000000-0000-0000-0000-000000000000_gone.jar");
    let err = client.run_jar(&unknown, &counter_job(c, "e2e-no-jar")).await.expect_err("no such jar");
    eprintln!("Flink {}: {err}", c.version);
    assert!(matches!(err, Error::NotFound { .. }), "Flink {}: {err:?}", c.version);
    cleanup.finish().await;
}

/// `/exceptions` changed shape in 2.0; the root cause must come out the same on both.
async fn failing_job_exceptions(c: &Cluster) {
    let client = c.client();
    let mut cleanup = Cleanup::new(&client);
    let jar = cleanup.jar(client.upload_jar(&c.jar).await.unwrap());
    let mut request = counter_job(c, "e2e-fails-later");
    request.program_args.extend(["--fail-after-seconds".into(), "1".into()]);
    let job = cleanup.job(client.run_jar(&jar, &request).await.unwrap());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let cause = loop {
        let ex = client.exceptions(&job).await.unwrap();
        if let Some(cause) = ex.root_cause.clone().filter(|c| c.contains("failing on purpose")) {
            break cause;
        }
        assert!(tokio::time::Instant::now() < deadline, "Flink {}: no root cause yet: {ex:?}", c.version);
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(!cause.contains("\tat "), "only the cause line: {cause}");
    cleanup.finish().await;
}

async fn status_command(c: &Cluster) {
    let client = c.client();
    let mut cleanup = Cleanup::new(&client);
    let jar = cleanup.jar(client.upload_jar(&c.jar).await.unwrap());
    let job = cleanup.job(client.run_jar(&jar, &counter_job(c, "e2e-status")).await.unwrap());
    wait_tasks_running(&client, &job).await;
    let url = c.url.clone();
    let (text, json) =
        tokio::task::spawn_blocking(move || (run_status(&url, "text"), run_status(&url, "json")))
            .await
            .unwrap();
    assert!(text.starts_with(&format!("Flink {} at {}", c.version, c.url)), "{text}");
    let line =
        text.lines().find(|l| l.starts_with(job.as_str())).unwrap_or_else(|| panic!("{job} in {text}"));
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert!(cells[1].starts_with("e2e-status") && cells[2] == "RUNNING", "{line}");
    let (running, total) = cells[3].split_once('/').expect("TASKS is running/total");
    assert_eq!(running, total, "all tasks running: {line}");
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["formatVersion"], 1);
    assert_eq!(json["cluster"]["flinkVersion"], c.version.as_str());
    let listed =
        json["jobs"].as_array().unwrap().iter().find(|j| j["id"] == job.as_str()).expect("job in JSON");
    assert_eq!(listed["state"], "RUNNING");
    assert_eq!(listed["tasks"]["running"], listed["tasks"]["total"]);
    cleanup.finish().await;
}

fn run_status(url: &str, format: &str) -> String {
    let out = assert_cmd::Command::new(env!("CARGO_BIN_EXE_flinkops"))
        .args(["status", "--color", "never", "-o", format])
        .env("FLINK_URL", url)
        .assert()
        .success();
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

async fn wait_savepoint(client: &flinkops::flink::Client, job: &JobId, request: &TriggerId) -> String {
    client
        .wait_for_savepoint(job, request, Duration::from_secs(120), Duration::from_millis(250), |_| {})
        .await
        .expect("savepoint")
}

/// The local directory of a `file:` savepoint location (clusters run on this machine).
fn local(location: &str) -> &Path {
    let path = location.strip_prefix("file:").expect("a file: location");
    Path::new(path.trim_start_matches("//"))
}

//! The Flink client and `flinkops status` against wiremock: exact request shapes per Flink version,
//! and faults a real cluster cannot be made to produce on demand (5xx, proxies, timeouts).

use std::time::Duration;

use flinkops::flink::{
    Auth, Client, ClientConfig, Error, JarId, JobId, RetryPolicy, RunRequest, SavepointFormat, Secret,
    TriggerId,
};
use serde_json::{Value, json};
use wiremock::matchers::{basic_auth, bearer_token, body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const JOB: &str = "0123456789abcdef0123456789abcdef";
const TRIGGER: &str = "fedcba9876543210fedcba9876543210";

fn job() -> JobId {
    JOB.parse().unwrap()
}

fn trigger() -> TriggerId {
    TRIGGER.parse().unwrap()
}

/// Retries with millisecond delays, so that retry tests cost no wall time to speak of.
fn fast_config(base: &str) -> ClientConfig {
    let mut config = ClientConfig::new(base);
    config.retry = RetryPolicy {
        max_retries: 3,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_total_delay: Duration::from_secs(1),
    };
    config
}

fn client(server: &MockServer) -> Client {
    Client::new(fast_config(&server.uri())).unwrap()
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// A Flink error body as Flink sends it: one string with the exception and its stack.
fn flink_errors(status: u16, errors: &[&str]) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "errors": errors }))
}

async fn mock_version(server: &MockServer, version: &str) {
    Mock::given(method("GET"))
        .and(path("/config"))
        .respond_with(ok(
            json!({"flink-version": version, "flink-revision": "abc @ 2025", "refresh-interval": 3000}),
        ))
        .mount(server)
        .await;
}

async fn received_json(server: &MockServer, path_: &str) -> Vec<Value> {
    let requests: Vec<Request> = server.received_requests().await.unwrap();
    requests
        .iter()
        .filter(|r| r.url.path() == path_)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn run_request() -> RunRequest {
    RunRequest {
        entry_class: Some("dev.flinkops.testjob.CounterJob".into()),
        program_args: vec!["--name".into(), "orders".into()],
        job_id: Some(job()),
        savepoint_path: Some("file:/sp/savepoint-012345-0123456789ab".into()),
        flink_configuration: [("pipeline.name".to_string(), "orders".to_string())].into(),
        ..RunRequest::new(2)
    }
}

/// The exact body `run_jar` sends to a cluster reporting `version`.
async fn run_body_for(version: &str) -> Value {
    let server = MockServer::start().await;
    mock_version(&server, version).await;
    Mock::given(method("POST"))
        .and(path("/jars/abc_counter.jar/run"))
        .respond_with(ok(json!({"jobid": JOB})))
        .expect(1)
        .mount(&server)
        .await;
    let id = client(&server).run_jar(&JarId::new("abc_counter.jar"), &run_request()).await.unwrap();
    assert_eq!(id, job());
    received_json(&server, "/jars/abc_counter.jar/run").await.remove(0)
}

fn expected_run_body(mode_field: &str) -> Value {
    let mut body = json!({
        "entryClass": "dev.flinkops.testjob.CounterJob",
        "programArgsList": ["--name", "orders"],
        "parallelism": 2,
        "jobId": JOB,
        "savepointPath": "file:/sp/savepoint-012345-0123456789ab",
        "allowNonRestoredState": false,
        "flinkConfiguration": {"pipeline.name": "orders"}
    });
    body[mode_field] = json!("NO_CLAIM");
    body
}

#[tokio::test]
async fn run_on_flink_1_19_sends_restore_mode_and_no_claim_mode() {
    assert_eq!(run_body_for("1.19.3").await, expected_run_body("restoreMode"));
}

#[tokio::test]
async fn run_on_flink_1_20_sends_claim_mode() {
    assert_eq!(run_body_for("1.20.5").await, expected_run_body("claimMode"));
}

#[tokio::test]
async fn run_on_flink_2_3_sends_claim_mode_and_tolerates_the_application_id() {
    let server = MockServer::start().await;
    mock_version(&server, "2.3-SNAPSHOT").await;
    Mock::given(method("POST"))
        .and(path("/jars/j.jar/run"))
        .and(body_json(expected_run_body("claimMode")))
        .respond_with(ok(json!({"jobid": JOB, "applicationId": JOB})))
        .expect(1)
        .mount(&server)
        .await;
    let id = client(&server).run_jar(&JarId::new("j.jar"), &run_request()).await.unwrap();
    assert_eq!(id, job());
}

#[tokio::test]
async fn the_version_is_read_once_and_cached() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/config"))
        .respond_with(ok(json!({"flink-version": "2.3.0"})))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    assert_eq!(c.version().await.unwrap().to_string(), "2.3.0");
    assert_eq!(c.clone().version().await.unwrap().minor, 3);
}

#[tokio::test]
async fn a_savepoint_trigger_is_kebab_case_and_a_stop_is_camel_case() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/jobs/{JOB}/savepoints")))
        .and(body_json(json!({
            "target-directory": "file:///sp", "cancel-job": false, "formatType": "CANONICAL", "triggerId": TRIGGER
        })))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"request-id": TRIGGER})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/jobs/{JOB}/stop")))
        .and(body_json(json!({"drain": false, "formatType": "NATIVE", "triggerId": TRIGGER})))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"request-id": TRIGGER})))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let id =
        c.trigger_savepoint(&job(), Some("file:///sp"), SavepointFormat::Canonical, &trigger(), false).await;
    assert_eq!(id.unwrap(), trigger());
    let id = c.stop_with_savepoint(&job(), None, SavepointFormat::Native, false, &trigger()).await;
    assert_eq!(id.unwrap(), trigger());
}

#[tokio::test]
async fn a_503_on_a_read_is_retried_until_it_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jobs/overview"))
        .respond_with(flink_errors(
            503,
            &["Service temporarily unavailable due to an ongoing leader election."],
        ))
        .up_to_n_times(2)
        .expect(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jobs/overview"))
        .respond_with(ok(json!({"jobs": []})))
        .expect(1)
        .mount(&server)
        .await;
    let overview = client(&server).jobs_overview().await.unwrap();
    assert!(overview.jobs.is_empty());
}

#[tokio::test]
async fn a_500_on_run_is_not_retried_and_shows_the_root_cause() {
    let server = MockServer::start().await;
    mock_version(&server, "2.3.0").await;
    let trace = "<Exception on server side:\norg.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\n\tat org.apache.flink.runtime.webmonitor.handlers.JarRunHandler.lambda$handleRequest$1(JarRunHandler.java:114)\nCaused by: java.util.concurrent.CompletionException: java.lang.OutOfMemoryError: Metaspace\n\tat java.base/java.util.concurrent.CompletableFuture.encodeThrowable(CompletableFuture.java:315)\nCaused by: java.lang.OutOfMemoryError: Metaspace\n\t... 9 more\n\nEnd of exception on server side>";
    Mock::given(method("POST"))
        .and(path("/jars/j.jar/run"))
        .respond_with(flink_errors(500, &["Internal server error.", trace]))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).run_jar(&JarId::new("j.jar"), &run_request()).await.unwrap_err();
    assert!(matches!(err, Error::Http { status: 500, .. }), "{err:?}");
    let msg = err.to_string();
    assert_eq!(
        msg,
        format!("POST /jars/j.jar/run (job {JOB}): HTTP 500: java.lang.OutOfMemoryError: Metaspace")
    );
    assert_eq!(err.job(), Some(&job()));
}

#[tokio::test]
async fn a_timeout_on_run_is_ambiguous_and_not_retried() {
    let server = MockServer::start().await;
    mock_version(&server, "2.3.0").await;
    Mock::given(method("POST"))
        .and(path("/jars/j.jar/run"))
        .respond_with(ok(json!({"jobid": JOB})).set_delay(Duration::from_secs(5)))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = fast_config(&server.uri());
    config.request_timeout = Duration::from_millis(300);
    let err = Client::new(config).unwrap().run_jar(&JarId::new("j.jar"), &run_request()).await.unwrap_err();
    assert!(matches!(err, Error::Ambiguous { .. }), "{err:?}");
    assert!(err.help().unwrap().contains("may or may not"));
}

#[tokio::test]
async fn a_closed_port_is_connection_refused_with_a_hint_about_flink_url() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = fast_config(&format!("http://127.0.0.1:{port}"));
    config.retry = RetryPolicy::none();
    let err = Client::new(config).unwrap().jobs_overview().await.unwrap_err();
    assert!(matches!(err, Error::ConnectionRefused { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.help().unwrap().contains("FLINK_URL"));
}

#[tokio::test]
async fn a_slow_answer_beyond_the_request_timeout_is_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jobs/overview"))
        .respond_with(ok(json!({"jobs": []})).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let mut config = fast_config(&server.uri());
    config.request_timeout = Duration::from_millis(200);
    config.retry = RetryPolicy::none();
    let err = Client::new(config).unwrap().jobs_overview().await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_401_login_page_from_a_proxy_is_unauthorized_with_a_hint() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).insert_header("content-type", "text/html").set_body_string(
            "<html><head><title>401 Authorization Required</title></head><body>nginx</body></html>",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).jobs_overview().await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { status: 401, .. }), "{err:?}");
    assert!(err.help().unwrap().contains("FLINKOPS_FLINK_TOKEN"));
    assert!(err.help().unwrap().contains("FLINKOPS_FLINK_USERNAME"));
}

#[tokio::test]
async fn a_bearer_token_and_extra_headers_are_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jobs/overview"))
        .and(bearer_token("t0ken"))
        .and(header("x-tenant", "analytics"))
        .respond_with(ok(json!({"jobs": []})))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = fast_config(&server.uri());
    config.auth = Auth::Bearer(Secret::new("t0ken".into()));
    config.headers = vec![("X-Tenant".into(), Secret::new("analytics".into()))];
    Client::new(config).unwrap().jobs_overview().await.unwrap();
}

#[tokio::test]
async fn basic_auth_is_sent_and_the_password_never_shows_in_debug_output() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jobs/overview"))
        .and(basic_auth("flinkops", "hunter2"))
        .respond_with(ok(json!({"jobs": []})))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = fast_config(&server.uri());
    config.auth = Auth::Basic { username: "flinkops".into(), password: Secret::new("hunter2".into()) };
    assert!(!format!("{config:?}").contains("hunter2"));
    let c = Client::new(config).unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
    c.jobs_overview().await.unwrap();
}

#[tokio::test]
async fn a_base_url_with_a_path_prefix_keeps_the_prefix() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("/gateway/flink/jobs/{JOB}")))
        .and(query_param("mode", "cancel"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let c = Client::new(fast_config(&format!("{}/gateway/flink", server.uri()))).unwrap();
    c.cancel(&job()).await.unwrap();
}

#[tokio::test]
async fn an_unknown_job_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/jobs/{JOB}")))
        .respond_with(flink_errors(404, &["org.apache.flink.runtime.rest.NotFoundException: Job 0123456789abcdef0123456789abcdef not found\n\tat org.apache.flink.runtime.rest.handler.job.AbstractExecutionGraphHandler.lambda$handleRequest$1(AbstractExecutionGraphHandler.java:99)"]))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).job(&job()).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().ends_with(&format!("Job {JOB} not found")), "{err}");
}

async fn mock_savepoint_status(server: &MockServer, answers: Vec<Value>) {
    let status_path = format!("/jobs/{JOB}/savepoints/{TRIGGER}");
    let last = answers.len() - 1;
    for (i, answer) in answers.into_iter().enumerate() {
        let mock = Mock::given(method("GET")).and(path(status_path.clone())).respond_with(ok(answer));
        // Earlier answers first, each once; the last one stays.
        let mock = if i < last {
            mock.up_to_n_times(1).with_priority(u8::try_from(i + 1).unwrap())
        } else {
            mock.with_priority(100)
        };
        mock.mount(server).await;
    }
}

#[tokio::test]
async fn waiting_for_a_savepoint_returns_its_location_and_reports_progress() {
    let server = MockServer::start().await;
    let in_progress = json!({"status": {"id": "IN_PROGRESS"}, "operation": null});
    let done = json!({"status": {"id": "COMPLETED"}, "operation": {"location": "file:/sp/savepoint-012345-0123456789ab"}});
    mock_savepoint_status(&server, vec![in_progress.clone(), in_progress, done]).await;
    let mut polls = 0;
    let location = client(&server)
        .wait_for_savepoint(&job(), &trigger(), Duration::from_secs(10), Duration::from_millis(10), |_| {
            polls += 1
        })
        .await
        .unwrap();
    assert_eq!(location, "file:/sp/savepoint-012345-0123456789ab");
    assert_eq!(polls, 2);
}

#[tokio::test]
async fn completed_with_a_failure_cause_is_a_failed_savepoint_with_the_root_cause() {
    let server = MockServer::start().await;
    let failed = json!({"status": {"id": "COMPLETED"}, "operation": {"failure-cause": {
        "class": "java.util.concurrent.CompletionException",
        "stack-trace": "java.util.concurrent.CompletionException: java.util.concurrent.CompletionException: org.apache.flink.runtime.checkpoint.CheckpointException: Task local checkpoint failure.\n\tat java.base/java.util.concurrent.CompletableFuture.encodeThrowable(CompletableFuture.java:332)\nCaused by: org.apache.flink.runtime.checkpoint.CheckpointException: Task local checkpoint failure.\n\tat org.apache.flink.runtime.checkpoint.PendingCheckpoint.abort(PendingCheckpoint.java:550)\nCaused by: java.nio.file.AccessDeniedException: /sp/savepoint-012345-0123456789ab\n\tat java.base/sun.nio.fs.UnixException.translateToIOException(UnixException.java:90)\n",
        "serialized-throwable": "rO0ABXNyABxqYXZh"
    }}});
    mock_savepoint_status(&server, vec![failed]).await;
    let err = client(&server)
        .wait_for_savepoint(&job(), &trigger(), Duration::from_secs(10), Duration::from_millis(10), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SavepointFailed { .. }), "{err:?}");
    assert!(
        err.to_string().ends_with(
            "savepoint failed: java.nio.file.AccessDeniedException: /sp/savepoint-012345-0123456789ab"
        ),
        "{err}"
    );
    assert_eq!(err.job(), Some(&job()));
}

#[tokio::test]
async fn a_savepoint_request_flink_forgot_is_its_own_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/jobs/{JOB}/savepoints/{TRIGGER}")))
        .respond_with(flink_errors(404, &["org.apache.flink.runtime.rest.handler.RestHandlerException: There is no savepoint operation with triggerId=fedcba9876543210fedcba9876543210 for job 0123456789abcdef0123456789abcdef.\n\tat x"]))
        .mount(&server)
        .await;
    let err = client(&server).savepoint_status(&job(), &trigger()).await.unwrap_err();
    assert!(matches!(err, Error::SavepointExpired { .. }), "{err:?}");
    assert!(err.help().unwrap().contains("rest.async.store-duration"));
}

#[tokio::test]
async fn a_savepoint_still_running_at_the_deadline_times_out() {
    let server = MockServer::start().await;
    mock_savepoint_status(&server, vec![json!({"status": {"id": "IN_PROGRESS"}})]).await;
    let err = client(&server)
        .wait_for_savepoint(&job(), &trigger(), Duration::from_millis(100), Duration::from_millis(20), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SavepointWaitTimedOut { .. }), "{err:?}");
}

#[tokio::test]
async fn a_jar_is_uploaded_as_a_java_archive_in_the_jarfile_field() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/jars/upload"))
        .respond_with(ok(
            json!({"filename": "/tmp/flink-web-upload/7f1c_counter-1.0.jar", "status": "success"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let jar = dir.path().join("counter-1.0");
    std::fs::write(&jar, b"PK\x03\x04 not really a jar").unwrap();
    let id = client(&server).upload_jar(&jar).await.unwrap();
    assert_eq!(id, JarId::new("7f1c_counter-1.0.jar"));
    let request = server.received_requests().await.unwrap().remove(0);
    let body = String::from_utf8_lossy(&request.body);
    assert!(body.contains(r#"name="jarfile"; filename="counter-1.0.jar""#), "{body}");
    assert!(body.contains("Content-Type: application/x-java-archive"), "{body}");
    assert!(body.contains("not really a jar"));
}

#[tokio::test]
async fn a_missing_jar_file_fails_before_any_request() {
    let server = MockServer::start().await;
    let err = client(&server).upload_jar(std::path::Path::new("/nonexistent/x.jar")).await.unwrap_err();
    assert!(matches!(err, Error::JarUnreadable { .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_disposal_is_polled_until_it_completes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/savepoint-disposal"))
        .and(body_json(json!({"savepoint-path": "file:/sp/savepoint-1"})))
        .respond_with(ok(json!({"request-id": TRIGGER})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/savepoint-disposal/{TRIGGER}")))
        .respond_with(ok(json!({"status": {"id": "COMPLETED"}, "operation": {}})))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).dispose_savepoint("file:/sp/savepoint-1", Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn metrics_are_asked_for_by_name() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/jobs/{JOB}/vertices/abcd/subtasks/metrics")))
        .and(query_param("get", "Counter.maxCount"))
        .respond_with(ok(json!([{"id": "Counter.maxCount", "min": 10.0, "max": 12.0, "avg": 11.0, "sum": 22.0, "skew": 9.0}])))
        .expect(1)
        .mount(&server)
        .await;
    let metrics =
        client(&server).vertex_subtask_metrics(&job(), "abcd", &["Counter.maxCount"]).await.unwrap();
    assert_eq!(metrics[0].max, Some(12.0));
}

mod status {
    //! `flinkops status` rendering against a mocked overview.

    use assert_cmd::Command;
    use flinkops::output::Styles;
    use flinkops::status::{fetch_at, render_json, render_text};
    use jiff::Timestamp;

    use super::*;

    const RUNNING: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
    const SCHEDULED: &str = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";
    const FINISHED: &str = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3";

    /// 2025-01-01T12:00:00Z in epoch milliseconds.
    const NOW_MS: i64 = 1_735_732_800_000;

    fn now() -> Timestamp {
        Timestamp::from_millisecond(NOW_MS).unwrap()
    }

    fn overview_job(id: &str, name: &str, state: &str, age_ms: i64, running: u32, total: u32) -> Value {
        let ended = state == "FINISHED";
        json!({
            "jid": id, "name": name, "state": state,
            "start-time": NOW_MS - age_ms,
            "end-time": if ended { NOW_MS - 1000 } else { -1 },
            "duration": if ended { age_ms - 1000 } else { age_ms },
            "last-modification": NOW_MS - 5000,
            "tasks": {"total": total, "running": running, "scheduled": total - running, "finished": 0}
        })
    }

    /// A cluster with three jobs; `runs` is how many status runs will ask for the checkpoints
    /// of each unfinished job (exactly one call per job and run).
    async fn cluster(runs: u64) -> MockServer {
        let server = MockServer::start().await;
        mock_version(&server, "2.3.0").await;
        Mock::given(method("GET"))
            .and(path("/jobs/overview"))
            .respond_with(ok(json!({"jobs": [
                overview_job(FINISHED, "old-enricher", "FINISHED", 7_200_000, 0, 2),
                overview_job(RUNNING, "orders-enricher", "RUNNING", 192_000, 3, 3),
                overview_job(SCHEDULED, "clicks", "RUNNING", 45_000, 1, 2),
            ]})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/jobs/{RUNNING}/checkpoints")))
            .respond_with(ok(json!({
                "counts": {"completed": 42, "failed": 0, "in_progress": 0, "restored": 1, "total": 43},
                "latest": {
                    "completed": {"className": "completed", "id": 42, "latest_ack_timestamp": NOW_MS - 5000, "trigger_timestamp": NOW_MS - 5200, "external_path": "file:/ck/a1/chk-42", "is_savepoint": false},
                    "savepoint": {"className": "completed", "id": 7, "latest_ack_timestamp": NOW_MS - 7_500_000, "trigger_timestamp": NOW_MS - 7_500_100, "external_path": "file:/sp/savepoint-a1a1a1-0123456789ab", "is_savepoint": true},
                    "failed": null, "restored": null
                }
            })))
            .expect(runs)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/jobs/{SCHEDULED}/checkpoints")))
            .respond_with(ok(json!({"counts": {}, "latest": {"completed": null, "savepoint": null, "failed": null, "restored": null}})))
            .expect(runs)
            .mount(&server)
            .await;
        // Ended jobs cost no call.
        Mock::given(method("GET"))
            .and(path(format!("/jobs/{FINISHED}/checkpoints")))
            .respond_with(ok(json!({})))
            .expect(0)
            .mount(&server)
            .await;
        server
    }

    async fn report() -> flinkops::status::StatusReport {
        let server = cluster(1).await;
        let mut report = fetch_at(&client(&server), now()).await.unwrap();
        report.cluster.url = "http://flink.test:8081".into();
        report
    }

    fn text(report: &flinkops::status::StatusReport, styles: Styles) -> String {
        let mut out = Vec::new();
        render_text(report, &styles, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn status_text_lists_live_jobs_first_with_tasks_uptime_checkpoint_and_savepoint() {
        insta::assert_snapshot!(text(&report().await, Styles::plain()));
    }

    #[tokio::test]
    async fn status_text_colours_the_state_by_health() {
        let coloured = text(&report().await, Styles::colored()).replace('\x1b', "␛");
        insta::assert_snapshot!(coloured);
    }

    #[tokio::test]
    async fn status_json_has_a_format_version_and_a_stable_shape() {
        let mut out = Vec::new();
        render_json(&report().await, &mut out).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }

    #[tokio::test]
    async fn status_without_jobs_says_so() {
        let server = MockServer::start().await;
        mock_version(&server, "1.20.5").await;
        Mock::given(method("GET"))
            .and(path("/jobs/overview"))
            .respond_with(ok(json!({"jobs": []})))
            .mount(&server)
            .await;
        let report = fetch_at(&client(&server), now()).await.unwrap();
        let out = text(&report, Styles::plain());
        assert_eq!(out, format!("Flink 1.20.5 at {}\nNo jobs.\n", server.uri()));
    }

    /// A cluster of thousands of live jobs: the checkpoint lookups stop at the documented number,
    /// and every job is still listed.
    #[tokio::test]
    async fn checkpoint_lookups_are_bounded_however_many_jobs_run() {
        let server = MockServer::start().await;
        mock_version(&server, "2.3.0").await;
        let n = flinkops::status::MAX_CHECKPOINT_LOOKUPS + 100;
        let jobs: Vec<Value> = (0..n)
            .map(|i| {
                json!({"jid": format!("{i:032x}"), "name": format!("j{i}"), "state": "RUNNING",
                "start-time": 1, "end-time": -1, "duration": 1, "last-modification": 1,
                "tasks": {"total": 1, "running": 1}})
            })
            .collect();
        Mock::given(method("GET"))
            .and(path("/jobs/overview"))
            .respond_with(ok(json!({ "jobs": jobs })))
            .mount(&server)
            .await;
        let report = fetch_at(&client(&server), now()).await.unwrap();
        assert_eq!(report.jobs.len(), n);
        let lookups = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path().ends_with("/checkpoints"))
            .count();
        assert_eq!(lookups, flinkops::status::MAX_CHECKPOINT_LOOKUPS);
    }

    /// A job name anyone may submit to a shared cluster: 70,000 characters (which panicked
    /// `status`) with escape sequences (which retitled the window and cleared the screen).
    #[tokio::test]
    async fn a_hostile_job_name_is_cut_short_and_escaped_never_a_panic() {
        let server = MockServer::start().await;
        mock_version(&server, "2.3.0\u{1b}[2J").await;
        let name = format!("\u{1b}]0;owned\u{7}\u{1b}[2J{}", "n".repeat(70_000));
        Mock::given(method("GET"))
            .and(path("/jobs/overview"))
            .respond_with(ok(json!({"jobs": [{"jid": RUNNING, "name": name, "state": "FINISHED",
                "start-time": 1, "end-time": 2, "duration": 1, "last-modification": 2,
                "tasks": {"total": 1, "running": 0, "finished": 1}}]})))
            .mount(&server)
            .await;
        let report = fetch_at(&client(&server), now()).await.unwrap();
        let out = text(&report, Styles::plain());
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{}", &out[..300.min(out.len())]);
        assert!(out.contains("\\u{1b}]0;owned") && out.contains('…'), "{}", &out[..300.min(out.len())]);
        assert!(out.lines().all(|l| l.chars().count() < 400), "no line carries the whole name");
    }

    #[tokio::test]
    async fn the_status_command_prints_the_table_and_json() {
        let server = cluster(2).await;
        let url = server.uri();
        let (text, json) = tokio::task::spawn_blocking(move || {
            let run = |format: &str| {
                let out = Command::new(env!("CARGO_BIN_EXE_flinkops"))
                    .args(["status", "--color", "never", "-o", format])
                    .env("FLINK_URL", &url)
                    .env_remove("FLINKOPS_FLINK_TOKEN")
                    .env_remove("FLINKOPS_FLINK_PASSWORD")
                    .env_remove("FLINKOPS_FLINK_HEADERS")
                    .assert()
                    .success();
                String::from_utf8(out.get_output().stdout.clone()).unwrap()
            };
            (run("text"), run("json"))
        })
        .await
        .unwrap();
        assert!(text.starts_with(&format!("Flink 2.3.0 at {}\nJOB ID", server.uri())), "{text}");
        assert!(text.contains(RUNNING) && text.contains("orders-enricher"), "{text}");
        let json: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(json["formatVersion"], 1);
        let orders = json["jobs"].as_array().unwrap().iter().find(|j| j["id"] == RUNNING).unwrap();
        assert_eq!(orders["latestCheckpoint"]["id"], 42);
    }

    #[tokio::test]
    async fn the_status_command_fails_with_a_hint_when_flink_is_unreachable() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let out = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_flinkops"))
                .args(["status", "--color", "never", "--retries", "0"])
                .env("FLINK_URL", format!("http://127.0.0.1:{port}"))
                .assert()
                .code(1)
                .get_output()
                .clone()
        })
        .await
        .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains(&format!("error: GET /config: connection refused by http://127.0.0.1:{port}")),
            "{stderr}"
        );
        assert!(stderr.contains("hint: Is Flink running"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

/// A proxy (or a hostile cluster) that redirects to another host: nothing is sent there — not
/// the token, not the extra headers, not a run request's arguments — and the error names the
/// target. (reqwest follows redirects by default and drops only `Authorization` on the way.)
#[tokio::test]
async fn redirects_are_never_followed_and_are_reported_with_their_target() {
    let elsewhere = MockServer::start().await;
    Mock::given(wiremock::matchers::any()).respond_with(ok(json!({"jobid": JOB}))).mount(&elsewhere).await;
    let server = MockServer::start().await;
    mock_version(&server, "2.3.0").await;
    for (verb, at, status) in [("POST", "/jars/abc_counter.jar/run", 307), ("GET", "/jobs/overview", 302)] {
        Mock::given(method(verb))
            .and(path(at))
            .respond_with(
                ResponseTemplate::new(status).insert_header("Location", format!("{}{at}", elsewhere.uri())),
            )
            .mount(&server)
            .await;
    }
    let mut config = fast_config(&server.uri());
    config.auth = Auth::Bearer(Secret::new("s3cr3t-token".into()));
    config.headers = vec![("X-Api-Key".into(), Secret::new("header-secret".into()))];
    let client = Client::new(config).unwrap();

    let err = client.run_jar(&JarId::new("abc_counter.jar"), &run_request()).await.unwrap_err();
    assert!(matches!(err, Error::Redirected { status: 307, .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!("redirect to {}/jars/abc_counter.jar/run", elsewhere.uri())),
        "{err}"
    );
    assert!(err.help().unwrap().contains("--flink-url"), "{:?}", err.help());
    let err = client.jobs_overview().await.unwrap_err();
    assert!(matches!(err, Error::Redirected { status: 302, .. }), "{err:?}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty(), "a request reached the other host");
}

/// An answer longer than the limit is an error, read no further than the limit: announced by its
/// length, or a chunked body that never ends (which grew to gigabytes before).
#[tokio::test]
async fn answers_longer_than_the_limit_are_refused_and_never_read_whole() {
    let server = MockServer::start().await;
    mock_version(&server, "2.3.0").await;
    let big = format!("{{\"jobs\": [], \"pad\": \"{}\"}}", "x".repeat(2 << 20));
    Mock::given(method("GET"))
        .and(path("/jobs/overview"))
        .respond_with(ResponseTemplate::new(200).set_body_string(big))
        .mount(&server)
        .await;
    let mut config = fast_config(&server.uri());
    config.max_response_bytes = 1 << 20;
    let err = Client::new(config).unwrap().jobs_overview().await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("longer than 1 MiB"), "{err}");

    // A server that answers with a chunked body and never stops.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let head =
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 64 << 10, "y".repeat(64 << 10));
                while stream.write_all(chunk.as_bytes()).is_ok() {}
            });
        }
    });
    let mut config = fast_config(&format!("http://{addr}"));
    config.max_response_bytes = 1 << 20;
    let started = std::time::Instant::now();
    let err = Client::new(config).unwrap().config().await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "stopped at the limit: {:?}", started.elapsed());
}

/// A proxy that echoes the request headers in its error page, and a Flink error that quotes them:
/// flinkops knows its secrets, and no error it builds from an answer shows them.
#[tokio::test]
async fn secrets_echoed_back_in_an_answer_are_redacted_from_the_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/config"))
        .respond_with(ResponseTemplate::new(400).set_body_string(
            "Bad request. You sent: Authorization: Bearer tok-echo-91c2f0 X-Api-Key: hdr-echo-55d1e7",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jobs/overview"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"errors": [
            "java.lang.RuntimeException: bad header hdr-echo-55d1e7\nCaused by: token tok-echo-91c2f0 refused"
        ]})))
        .mount(&server)
        .await;
    let mut config = fast_config(&server.uri());
    config.retry.max_retries = 0;
    config.auth = Auth::Bearer(Secret::new("tok-echo-91c2f0".into()));
    config.headers = vec![("X-Api-Key".into(), Secret::new("hdr-echo-55d1e7".into()))];
    let client = Client::new(config).unwrap();
    for err in [client.config().await.unwrap_err(), client.jobs_overview().await.unwrap_err()] {
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("tok-echo-91c2f0") && !shown.contains("hdr-echo-55d1e7"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }
}

/// A server that accepts connections and never answers: each attempt times out, and the call
/// with all its retries still ends at the request timeout plus the slack (it cost 5 × 30 s).
#[tokio::test]
async fn a_server_that_never_answers_costs_one_bounded_call_not_every_retry() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream); // accepted, read by nobody, answered never
        }
    });
    let mut config = fast_config(&format!("http://{addr}"));
    config.request_timeout = Duration::from_millis(700);
    config.retry_slack = Duration::from_millis(800);
    config.retry.max_retries = 10;
    let started = std::time::Instant::now();
    let err = Client::new(config).unwrap().config().await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(took < Duration::from_secs(3), "11 attempts of 0.7 s were not cut short: {took:?}");
    assert!(err.to_string().contains("1.5"), "names the whole budget: {err}");
}

/// A secret that happens to appear in a successful answer (here a number: a timestamp) is data,
/// not an echo: the answer is parsed as sent. Redacting it there broke the answer's JSON.
#[tokio::test]
async fn successful_answers_are_parsed_as_sent_even_when_they_contain_a_secret_value() {
    let server = MockServer::start().await;
    mock_version(&server, "2.3.0").await;
    Mock::given(method("GET"))
        .and(path("/jobs/overview"))
        .respond_with(ok(json!({"jobs": [{"jid": JOB, "name": "x", "state": "RUNNING",
            "start-time": 1_733_325_000_123_i64, "end-time": -1, "duration": 1, "last-modification": 1,
            "tasks": {"total": 1, "running": 1}}]})))
        .mount(&server)
        .await;
    let mut config = fast_config(&server.uri());
    config.headers = vec![("X-Api-Key".into(), Secret::new("1733325000123".into()))];
    let overview = Client::new(config).unwrap().jobs_overview().await.unwrap();
    assert_eq!(overview.jobs[0].start_time, 1_733_325_000_123);
}

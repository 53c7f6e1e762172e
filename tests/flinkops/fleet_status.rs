//! `status` and `audit` over several cluster documents: a fake Flink that answers with a running
//! job, and a cluster that is down (a closed port). Each cluster is shown under its name, the one
//! down as such, and the exit code says that one could not be observed.

use std::path::PathBuf;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{flinkops, job_spec, scratch};

const JOB_ID: &str = "0123456789abcdef0123456789abcdef";
/// Nothing listens here: connecting is refused at once.
const DOWN: &str = "http://127.0.0.1:1";

/// A fake Flink 2.3.0 running one job, `eu-orders`, that no flinkops spec describes.
async fn flink_with_a_job() -> MockServer {
    let server = MockServer::start().await;
    let dirs = scratch(&format!("fleet-status-flink-dirs-{}", server.address().port()));
    let job = json!({"jid": JOB_ID, "name": "eu-orders", "state": "RUNNING", "start-time": 1_000,
        "end-time": -1, "duration": 60_000, "last-modification": 1_000,
        "tasks": {"total": 2, "running": 2, "finished": 0}});
    let answers = [
        ("/config", json!({"flink-version": "2.3.0"})),
        ("/jobs/overview", json!({"jobs": [job]})),
        ("/overview", json!({"slots-total": 8, "slots-available": 6, "taskmanagers": 1})),
        (
            "/jobmanager/config",
            json!([{"key": "execution.checkpointing.savepoint-dir",
                    "value": format!("file:{}", dirs.join("s").display())}]),
        ),
    ];
    for (at, body) in answers {
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    server
}

/// Two cluster documents, `eu` (the fake Flink) and `us` (down), one job spec on each.
fn fleet_specs(name: &str, eu: &str) -> PathBuf {
    let dir = scratch(name);
    crate::support::stand_in_jar(&dir.join("app.jar"), "");
    let jobs = [
        job_spec("name: eu-ingest\njar: app.jar\ncluster: eu\n"),
        job_spec("name: us-ingest\njar: app.jar\ncluster: us\n"),
    ];
    std::fs::write(dir.join("jobs.yaml"), jobs.join("---\n")).unwrap();
    let cluster = |name: &str, url: &str| {
        format!("apiVersion: flinkops.dev/v1\nkind: FlinkCluster\nname: {name}\nurl: {url}\n")
    };
    std::fs::write(dir.join("clusters.yaml"), [cluster("eu", eu), cluster("us", DOWN)].join("---\n"))
        .unwrap();
    dir
}

/// `flinkops ARGS --retries 0 [--state-dir DIR/.state] DIR`: its exit code, stdout and stderr.
fn run(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = flinkops();
    cmd.env_remove("FLINK_URL").args(args).args(["--retries", "0"]);
    // `status` keeps no state.
    if args[0] != "status" {
        cmd.arg("--state-dir").arg(dir.join(".state"));
    }
    let out = cmd.arg(dir).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn status_shows_each_cluster_under_its_name_and_the_one_down_as_such() {
    let eu = flink_with_a_job().await;
    let dir = fleet_specs("fleet-status-text", &eu.uri());
    let (code, stdout, stderr) = run(&dir, &["status"]);
    assert_eq!(code, Some(1), "a cluster down must fail the run\n{stdout}\n{stderr}");
    let eu_at = stdout.find("cluster eu").expect(&stdout);
    let us_at = stdout.find("cluster us").expect(&stdout);
    let job_at = stdout.find("eu-orders").expect(&stdout);
    assert!(eu_at < job_at && job_at < us_at, "eu's job under eu:\n{stdout}");
    assert!(stdout.contains(&format!("not reachable at {DOWN}")), "{stdout}");
    // The hint names `us`'s document (line 8 of clusters.yaml), which gave the URL, not FLINK_URL.
    assert!(stdout.contains("`url` of cluster `us` (") && stdout.contains("clusters.yaml:8)"), "{stdout}");
    assert!(!stdout.contains("FLINK_URL"), "{stdout}");
    assert!(stderr.contains("1 of 2 clusters could not be observed"), "{stderr}");

    let (code, stdout, stderr) = run(&dir, &["status", "-o", "json"]);
    assert_eq!(code, Some(1), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["formatVersion"], 2, "{doc}");
    assert_eq!(doc["clusters"][0]["name"], "eu", "{doc}");
    assert_eq!(doc["clusters"][0]["reachable"], true, "{doc}");
    assert_eq!(doc["clusters"][0]["jobs"][0]["name"], "eu-orders", "{doc}");
    assert_eq!(doc["clusters"][1]["name"], "us", "{doc}");
    assert_eq!(doc["clusters"][1]["reachable"], false, "{doc}");
    assert_eq!(doc["clusters"][1]["url"], DOWN, "{doc}");
    assert!(doc["clusters"][1]["error"].as_str().is_some_and(|e| !e.is_empty()), "{doc}");
}

#[tokio::test]
async fn status_of_a_single_cluster_document_is_the_single_cluster_report() {
    let eu = flink_with_a_job().await;
    let dir = scratch("fleet-status-single");
    std::fs::write(
        dir.join("cluster.yaml"),
        format!("apiVersion: flinkops.dev/v1\nkind: FlinkCluster\nname: eu\nurl: {}\n", eu.uri()),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&dir, &["status", "-o", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["formatVersion"], 1, "{doc}");
    assert_eq!(doc["jobs"][0]["name"], "eu-orders", "{doc}");
}

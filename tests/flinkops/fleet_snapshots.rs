//! `savepoint`, `savepoints`, `gc` and `plan --refresh-only` over several cluster documents,
//! against a fake Flink (`east`, running the managed job `orders`, with its ledger) and a cluster
//! that is down (`west`, a closed port, with the job `billing`): each command does `east`'s part,
//! names `west` with its error and exits 1; the grouped outputs are snapshots. A `--job` on
//! `east` alone never contacts `west`, and `--cluster-name` is refused before any request.

use std::path::{Path, PathBuf};
use std::process::Output;

use flinkops::flink::{Client, ClientConfig, JobId};
use flinkops::ledger::{Ledger, Record, SavepointReason, SavepointRecord};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::apply_checks::writes;
use crate::support::{flinkops, job_spec, scratch};

/// Nothing listens here: connecting is refused at once.
const DOWN: &str = "http://127.0.0.1:1";
const TRIGGER: &str = "fedcba9876543210fedcba9876543210";
const NEW_SAVEPOINT: &str = "file:/sp/east/savepoint-new";

/// A fake Flink 2.3.0 running `orders` as `id` (in `state`), which answers a savepoint and a
/// disposal.
async fn east(id: &JobId, state: &str) -> MockServer {
    let server = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let ended = state != "RUNNING";
    let job = json!({"jid": id.to_string(), "name": "orders", "state": state, "start-time": 1_000,
        "end-time": if ended { 2_000 } else { -1 }, "duration": 60_000, "last-modification": 1_000,
        "tasks": {"total": 1, "running": if ended { 0 } else { 1 }}});
    let port = server.address().port().to_string();
    let answers = [
        ("/config", json!({"flink-version": "2.3.0"})),
        ("/jobs/overview", json!({"jobs": [job]})),
        ("/overview", json!({"slots-total": 8, "slots-available": 7, "taskmanagers": 1})),
        (
            "/jobmanager/config",
            json!([{"key": "rest.port", "value": port},
                   {"key": "execution.checkpointing.savepoint-dir", "value": "file:/sp/east"}]),
        ),
        (
            &format!("/jobs/{id}/checkpoints") as &str,
            json!({"counts": {"completed": 0}, "latest": {"completed": null, "savepoint": null,
                   "failed": null, "restored": null}}),
        ),
        (
            &format!("/jobs/{id}/savepoints/{TRIGGER}"),
            json!({"status": {"id": "COMPLETED"}, "operation": {"location": NEW_SAVEPOINT}}),
        ),
        (&format!("/savepoint-disposal/{TRIGGER}"), json!({"status": {"id": "COMPLETED"}, "operation": {}})),
    ];
    for (at, body) in answers {
        Mock::given(method("GET")).and(path(at)).respond_with(ok(body)).mount(&server).await;
    }
    Mock::given(method("POST"))
        .and(path_regex("^/jobs/[0-9a-f]{32}/savepoints$"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"request-id": TRIGGER})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/savepoint-disposal"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"request-id": TRIGGER})))
        .mount(&server)
        .await;
    server
}

/// The spec tree: `east` at `east_url` with `orders` (keeps 1 savepoint), `west` at `west_url`
/// with `billing`.
fn specs(name: &str, east_url: &str, west_url: &str) -> PathBuf {
    let dir = scratch(name);
    crate::support::stand_in_jar(&dir.join("app.jar"), "");
    let jobs = [
        job_spec("name: orders\njar: app.jar\ncluster: east\nsavepoint:\n  retain: { count: 1 }\n"),
        job_spec("name: billing\njar: app.jar\ncluster: west\n"),
    ];
    std::fs::write(dir.join("jobs.yaml"), jobs.join("---\n")).unwrap();
    let cluster = |name: &str, url: &str| {
        format!("apiVersion: flinkops.dev/v1\nkind: FlinkCluster\nname: {name}\nurl: {url}\n")
    };
    std::fs::write(
        dir.join("clusters.yaml"),
        [cluster("east", east_url), cluster("west", west_url)].join("---\n"),
    )
    .unwrap();
    dir
}

/// The id flinkops gives the first submission of `orders`.
fn orders_id(dir: &Path) -> JobId {
    let (desired, _) = flinkops::spec::load(dir).into_result().expect("valid specs");
    let spec = &desired.jobs["orders"];
    flinkops::plan::identity::job_id(&spec.name, &spec.fingerprint, [0, 0, 1])
}

/// `east`'s ledger (the state directory `dir/.state`).
async fn east_ledger(dir: &Path, url: &str) -> Ledger {
    let client = Client::new(ClientConfig::new(url)).unwrap();
    let identity = flinkops::cluster::resolve(&client, None).await.unwrap();
    Ledger::new(&flinkops::cluster::claim(&dir.join(".state"), &identity, url).unwrap())
}

/// A scenario: `east` running `orders` (in `state`), its record with two savepoints, the older one
/// beyond `retain.count`.
struct Scenario {
    dir: PathBuf,
    east: MockServer,
    ledger: Ledger,
}

async fn scenario(name: &str, state: &str) -> Scenario {
    // The job id depends on the spec only, not on the URLs: learn it first.
    let dir = specs(name, "http://127.0.0.1:2", DOWN);
    let id = orders_id(&dir);
    let east = east(&id, state).await;
    let dir = specs(name, &east.uri(), DOWN);
    let ledger = east_ledger(&dir, &east.uri()).await;
    let mut record = Record::new("orders");
    record.job_id = Some(id);
    let at = |path: &str, when: &str| SavepointRecord::new(path, None, when.into(), SavepointReason::Upgrade);
    record.savepoints = vec![
        at("file:/sp/east/savepoint-old", "2026-01-01T00:00:00Z"),
        at("file:/sp/east/savepoint-mid", "2026-01-02T00:00:00Z"),
    ];
    ledger.write(&record).unwrap();
    Scenario { dir, east, ledger }
}

fn run(dir: &Path, args: &[&str]) -> Output {
    flinkops()
        .env_remove("FLINK_URL")
        .args(args)
        .args(["--retries", "0", "--connect-timeout", "2s", "--state-dir"])
        .arg(dir.join(".state"))
        .arg(dir)
        .output()
        .unwrap()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// The output with what changes between runs (the fake Flink's port, the seconds a savepoint
/// took, ages) and between machines (where the spec directory is) made stable.
fn stable(out: &Output, s: &Scenario) -> String {
    let cwd = std::env::current_dir().unwrap();
    let relative = s.dir.strip_prefix(&cwd).unwrap_or(&s.dir).display().to_string();
    let text = String::from_utf8_lossy(&out.stdout)
        .replace(&s.east.uri(), "http://EAST")
        .replace(&s.dir.display().to_string(), "SPECS")
        .replace(&relative, "SPECS");
    let seconds = regex_lite(&text, " (", "s)");
    seconds.lines().map(|l| l.trim_end().to_owned() + "\n").collect()
}

/// `text` with every `(NUMBERs)` after `open` written `(Ns)`: durations vary between runs.
fn regex_lite(text: &str, open: &str, close: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(open) {
        let after = &rest[i + open.len()..];
        match after.find(close) {
            Some(j) if after[..j].chars().all(|c| c.is_ascii_digit() || c == '.') && j > 0 => {
                out.push_str(&rest[..i]);
                out.push_str(" (Ns)");
                rest = &after[j + close.len()..];
            }
            _ => {
                out.push_str(&rest[..i + open.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn cluster<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name}: {doc:#}"))
}

#[tokio::test]
async fn savepoint_takes_each_job_on_its_cluster_and_names_the_cluster_out_of_reach() {
    let s = scenario("fleet-snapshots-savepoint", "RUNNING").await;
    let out = run(&s.dir, &["savepoint"]);
    assert_eq!(out.status.code(), Some(1), "west is down: {}", String::from_utf8_lossy(&out.stderr));
    insta::assert_snapshot!("savepoint_text", stable(&out, &s));
    let record = s.ledger.read("orders").unwrap().unwrap();
    let newest = record.savepoints.last().unwrap();
    assert_eq!(
        (newest.path.as_str(), newest.reason),
        (NEW_SAVEPOINT, SavepointReason::Manual),
        "in east's ledger"
    );

    // `--job orders` is east's alone: west is not contacted, and nothing failed.
    let out = run(&s.dir, &["savepoint", "--job", "orders", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json_of(&out);
    assert_eq!(doc["formatVersion"], 2);
    assert_eq!(doc["clusters"], json!([{"name": "east"}]));
    let job = &doc["jobs"][0];
    assert_eq!(
        (&job["cluster"], &job["job"], &job["result"]),
        (&json!("east"), &json!("orders"), &json!("completed")),
        "{doc:#}"
    );
    assert_eq!(writes(&s.east).await.len(), 2, "one savepoint per run");

    // Every job: west's part fails on its own, in JSON too.
    let out = run(&s.dir, &["savepoint", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out);
    assert!(cluster(&doc, "west")["error"].as_str().unwrap().contains("127.0.0.1:1"), "{doc:#}");
    assert_eq!(doc["jobs"].as_array().unwrap().len(), 1, "{doc:#}");
}

#[tokio::test]
async fn savepoints_lists_each_clusters_ledger_under_its_name() {
    let s = scenario("fleet-snapshots-list", "RUNNING").await;
    let out = run(&s.dir, &["savepoints"]);
    assert_eq!(out.status.code(), Some(1), "west is down: {}", String::from_utf8_lossy(&out.stderr));
    let text = stable(&out, &s);
    // The AGE column grows with the clock, and the columns' widths with it: the words of each
    // line are compared, without the ages.
    let shown: String = text
        .lines()
        .map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [job, taken, _age, ref rest @ ..] if taken.ends_with('Z') => {
                format!("{job} {taken} {}\n", rest.join(" "))
            }
            ["JOB", "TAKEN", "AGE", ref rest @ ..] => format!("JOB TAKEN {}\n", rest.join(" ")),
            _ => format!("{l}\n"),
        })
        .collect();
    insta::assert_snapshot!("savepoints_text", shown);

    let out = run(&s.dir, &["savepoints", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out);
    assert_eq!(doc["formatVersion"], 2);
    assert!(cluster(&doc, "west")["error"].as_str().unwrap().contains("127.0.0.1:1"), "{doc:#}");
    let snapshots = doc["snapshots"].as_array().unwrap();
    let listed: Vec<(&str, &str, bool)> = snapshots
        .iter()
        .map(|s| {
            (s["cluster"].as_str().unwrap(), s["path"].as_str().unwrap(), s["newest"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(
        listed,
        [("east", "file:/sp/east/savepoint-mid", true), ("east", "file:/sp/east/savepoint-old", false)]
    );
    assert!(writes(&s.east).await.is_empty(), "read-only");
}

#[tokio::test]
async fn gc_decides_and_disposes_per_cluster() {
    let s = scenario("fleet-snapshots-gc", "RUNNING").await;
    let out = run(&s.dir, &["gc", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "west is down: {}", String::from_utf8_lossy(&out.stderr));
    insta::assert_snapshot!("gc_dry_run_text", stable(&out, &s));
    assert!(writes(&s.east).await.is_empty(), "a dry run disposes of nothing");

    let out = run(&s.dir, &["gc", "--dry-run", "-o", "json"]);
    let doc = json_of(&out);
    assert_eq!((&doc["formatVersion"], &doc["dryRun"]), (&json!(2), &json!(true)));
    let doomed: Vec<(&str, &str)> = doc["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["verdict"] == "dispose")
        .map(|d| (d["cluster"].as_str().unwrap(), d["path"].as_str().unwrap()))
        .collect();
    assert_eq!(doomed, [("east", "file:/sp/east/savepoint-old")], "{doc:#}");

    // A plan saved over the fleet (format 2) keeps what it names, as a plan of one cluster does.
    let saved = s.dir.join("plan.json");
    let fleet_plan = serde_json::json!({"formatVersion": 2, "specs": s.dir, "options": {"prune": false, "adopt": false},
        "clusters": [{"name": "east", "outcome": {"type": "unobserved", "error": "file:/sp/east/savepoint-old", "jobs": []}}],
        "waves": []});
    std::fs::write(&saved, fleet_plan.to_string()).unwrap();
    let out = run(&s.dir, &["gc", "--dry-run", "-o", "json", "--keep-plan", saved.to_str().unwrap()]);
    let doc = json_of(&out);
    let old =
        doc["snapshots"].as_array().unwrap().iter().find(|d| d["path"] == "file:/sp/east/savepoint-old");
    assert_eq!(old.unwrap()["why"], "named-by-plan", "{doc:#}");

    let out = run(&s.dir, &["gc", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1), "west is down: {}", String::from_utf8_lossy(&out.stderr));
    insta::assert_snapshot!("gc_text", stable(&out, &s));
    assert_eq!(writes(&s.east).await, ["POST /savepoint-disposal"]);
    let kept: Vec<String> =
        s.ledger.read("orders").unwrap().unwrap().savepoints.iter().map(|s| s.path.clone()).collect();
    assert_eq!(kept, ["file:/sp/east/savepoint-mid"], "east's ledger forgets the disposed one");
}

#[tokio::test]
async fn refresh_only_reports_drift_per_cluster() {
    // `orders` was cancelled by hand on east.
    let s = scenario("fleet-snapshots-drift", "CANCELED").await;
    for (format, name) in [("text", "drift_text"), ("markdown", "drift_markdown")] {
        let out = run(&s.dir, &["plan", "--refresh-only", "--detailed-exitcode", "-o", format]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "west is down, before drift's 2: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        insta::assert_snapshot!(name, stable(&out, &s));
    }
    let out = run(&s.dir, &["plan", "--refresh-only", "-o", "json"]);
    let doc = json_of(&out);
    assert_eq!(doc["formatVersion"], 2);
    let east = cluster(&doc, "east");
    assert_eq!(east["drift"][0]["kind"], "cancelled", "{doc:#}");
    assert!(cluster(&doc, "west")["error"].as_str().unwrap().contains("127.0.0.1:1"), "{doc:#}");

    // Both clusters up: drift alone exits 2 with --detailed-exitcode.
    let west = crate::cluster_documents::flink_wanting_the_token().await;
    std::fs::write(s.dir.join("token.txt"), format!("{}\n", crate::cluster_documents::TOKEN)).unwrap();
    let clusters = format!(
        "apiVersion: flinkops.dev/v1\nkind: FlinkCluster\nname: east\nurl: {}\n---\n\
         apiVersion: flinkops.dev/v1\nkind: FlinkCluster\nname: west\nurl: {}\ntokenFile: token.txt\n",
        s.east.uri(),
        west.uri()
    );
    std::fs::write(s.dir.join("clusters.yaml"), clusters).unwrap();
    let out = run(&s.dir, &["plan", "--refresh-only", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stdout));
    let out = run(&s.dir, &["plan", "--refresh-only"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

/// `--cluster-name` names one cluster: over several, each command refuses it before any request.
#[tokio::test]
async fn cluster_name_is_refused_over_several_clusters_by_every_command() {
    let s = scenario("fleet-snapshots-cluster-name", "RUNNING").await;
    let before = s.east.received_requests().await.unwrap().len();
    for command in [&["savepoint"][..], &["savepoints"], &["gc", "--dry-run"], &["plan", "--refresh-only"]] {
        let args: Vec<&str> = command.iter().copied().chain(["--cluster-name", "prod"]).collect();
        let out = run(&s.dir, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command:?}: {stderr}");
        assert!(stderr.contains("--cluster-name") && stderr.contains("2 clusters"), "{command:?}: {stderr}");
    }
    assert_eq!(s.east.received_requests().await.unwrap().len(), before, "Flink was called");
}

/// Each cluster's savepoints are taken under its own lock: with east's lock held (by an apply,
/// here this test), east's part fails, naming the lock, and west's is done.
#[tokio::test]
async fn a_cluster_whose_lock_is_held_fails_its_part_alone() {
    let s = scenario("fleet-snapshots-lock", "RUNNING").await;
    let west = east(&JobId::from_bytes([7; 16]), "RUNNING").await;
    let clusters = format!(
        "apiVersion: flinkops.dev/v1\nkind: FlinkCluster\nname: east\nurl: {}\n---\n\
         apiVersion: flinkops.dev/v1\nkind: FlinkCluster\nname: west\nurl: {}\n",
        s.east.uri(),
        west.uri()
    );
    std::fs::write(s.dir.join("clusters.yaml"), clusters).unwrap();
    let client = Client::new(ClientConfig::new(s.east.uri())).unwrap();
    // The ledger's directory is `jobs/` in the cluster's directory, where the lock is.
    let held = flinkops::pipeline::lock_cluster(
        s.ledger.dir().parent().unwrap(),
        &client,
        "flinkops apply",
        std::time::Duration::ZERO,
        true,
    )
    .unwrap();
    let out = run(&s.dir, &["savepoint"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("Cluster `east` (not observed)") && stdout.contains("lock"), "{stdout}");
    assert!(stdout.contains("Cluster `west`:\n-  billing: skipped"), "west's part is done: {stdout}");
    assert!(writes(&s.east).await.is_empty(), "no savepoint on the locked cluster");
    drop(held);
    let out = run(&s.dir, &["savepoint", "--job", "orders"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        writes(&s.east).await,
        ["POST /jobs/".to_owned() + &orders_id(&s.dir).to_string() + "/savepoints"]
    );
}

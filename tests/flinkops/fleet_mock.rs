//! `plan` over several clusters (cluster documents) against fake Flinks: one plan grouped by
//! cluster, JSON format 2, a cluster that cannot be reached failing its jobs and the exit code
//! while the others are planned, waves across clusters, and the name flags checked across the
//! fleet, a long-running `watch` over two clusters with one out of reach, and watch's periodic
//! savepoints and gc over two clusters (each cluster's requests on that cluster only).

use std::path::{Path, PathBuf};
use std::time::Duration;

use flinkops::flink::JobId;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::cluster_documents::{TOKEN, flink_wanting_the_token};
use crate::support::{flinkops, job_spec, scratch};

/// A spec tree: clusters `(name, url)`, jobs `(name, cluster, depends on)`.
fn fleet_specs(name: &str, clusters: &[(&str, &str)], jobs: &[(&str, &str, &[&str])]) -> PathBuf {
    let dir = scratch(name);
    crate::support::stand_in_jar(&dir.join("app.jar"), "");
    std::fs::write(dir.join("token.txt"), format!("{TOKEN}\n")).unwrap();
    let docs: Vec<String> = clusters
        .iter()
        .map(|(n, url)| {
            format!("apiVersion: flinkops.dev/v1\nkind: FlinkCluster\nname: {n}\nurl: {url}\ntokenFile: token.txt\n")
        })
        .collect();
    std::fs::write(dir.join("clusters.yaml"), docs.join("---\n")).unwrap();
    for (job, cluster, deps) in jobs {
        let deps =
            if deps.is_empty() { String::new() } else { format!("dependsOn: [{}]\n", deps.join(", ")) };
        let body = format!("name: {job}\njar: app.jar\ncluster: {cluster}\n{deps}");
        std::fs::write(dir.join(format!("{job}.yaml")), job_spec(&body)).unwrap();
    }
    dir
}

fn plan(dir: &Path, extra: &[&str]) -> std::process::Output {
    flinkops()
        .env_remove("FLINK_URL")
        .args(["plan", "--retries", "0", "--connect-timeout", "2s", "--state-dir"])
        .arg(dir.join(".state"))
        .args(extra)
        .arg(dir)
        .output()
        .unwrap()
}

/// `watch --once` over `dir`, its state in `dir/.state`.
fn watch_once(dir: &Path) -> std::process::Output {
    flinkops()
        .env_remove("FLINK_URL")
        .args(["watch", "--once", "--listen", "127.0.0.1:0", "--retries", "0", "--state-dir"])
        .arg(dir.join(".state"))
        .arg(dir)
        .output()
        .unwrap()
}

/// The JSON plan printed, checked against the committed fleet plan schema.
fn json(out: &std::process::Output) -> Value {
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(flinkops::render::FLEET_PLAN_SCHEMA_PATH).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    doc
}

/// The action of `job` in cluster `cluster`'s plan.
fn action(plan: &Value, cluster: &str, job: &str) -> Value {
    let c = plan["clusters"].as_array().unwrap().iter().find(|c| c["name"] == cluster).unwrap();
    let jobs = c["outcome"]["plan"]["jobs"].as_array().unwrap();
    jobs.iter().find(|j| j["name"] == job).unwrap_or_else(|| panic!("{job} in {c}")).clone()
}

#[tokio::test]
async fn an_unreachable_cluster_fails_its_jobs_and_the_exit_code_and_the_others_are_planned() {
    let up = flink_wanting_the_token().await;
    // Nothing listens on port 9 of the loopback: connecting is refused at once.
    let dir = fleet_specs(
        "fleet-mock-unreachable",
        &[("east", &up.uri()), ("west", "http://127.0.0.1:9")],
        &[("orders", "east", &[]), ("billing", "west", &[]), ("report", "east", &["billing"])],
    );
    let out = plan(&dir, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out);
    assert_eq!(doc["formatVersion"], 2);
    assert_eq!(doc["hasUnobserved"], true);
    let west = doc["clusters"].as_array().unwrap().iter().find(|c| c["name"] == "west").unwrap();
    assert_eq!(west["outcome"]["type"], "unobserved", "{west}");
    assert_eq!(west["outcome"]["jobs"], serde_json::json!(["billing"]));
    let error = west["outcome"]["error"].as_str().unwrap();
    assert!(error.contains("127.0.0.1:9"), "{west}");
    // The URL came from `west`'s document (line 9 of clusters.yaml), not from FLINK_URL.
    assert!(error.contains("cluster `west` (") && error.contains("clusters.yaml:9)"), "{error}");
    assert!(error.contains("is Flink running there") && !error.contains("FLINK_URL"), "{error}");
    assert_eq!(action(&doc, "east", "orders")["action"]["type"], "deploy");
    // `report` waits for `billing`, whose cluster could not be seen: it is not started.
    let report = action(&doc, "east", "report");
    assert!(report["blockedBy"].as_str().is_some_and(|b| b.contains("`west`")), "{report}");

    let out = plan(&dir, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for part in
        ["Cluster `east`", "Cluster `west` (not observed)", "billing", "1 cluster(s) could not be observed"]
    {
        assert!(text.contains(part), "{part} in {text}");
    }
    let out = plan(&dir, &["-o", "markdown"]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("## Cluster `east`") && md.contains("## Cluster `west` (not observed)"), "{md}");
}

#[tokio::test]
async fn waves_cross_clusters_and_names_are_checked_across_the_fleet() {
    let (a, b) = (flink_wanting_the_token().await, flink_wanting_the_token().await);
    let dir = fleet_specs(
        "fleet-mock-waves",
        &[("east", &a.uri()), ("west", &b.uri())],
        &[("source", "east", &[]), ("sink", "west", &["source"])],
    );
    let out = plan(&dir, &["-o", "json", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out);
    assert_eq!(
        doc["waves"],
        serde_json::json!([
            {"kind": "start", "jobs": [{"cluster": "east", "job": "source"}]},
            {"kind": "start", "jobs": [{"cluster": "west", "job": "sink"}]},
        ])
    );
    assert_eq!(doc["summary"]["deploy"], 2);
    let text = String::from_utf8_lossy(&plan(&dir, &[]).stdout).to_string();
    eprintln!("{text}");
    assert!(text.contains("1. east/source") && text.contains("2. west/sink"), "{text}");
    // A name on the second cluster is no typo; a typo is refused before anything is planned.
    assert_eq!(plan(&dir, &["--target", "sink"]).status.code(), Some(0));
    let out = plan(&dir, &["--target", "sinc"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("sinc") && stderr.contains("sink"), "{stderr}");
    // `plan --out` saves format 2, which `apply PLANFILE` reads (and finds still true here).
    let saved = dir.join("plan.json");
    assert_eq!(plan(&dir, &["--out", saved.to_str().unwrap()]).status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    assert_eq!(doc["formatVersion"], 2);
    assert!(doc["specs"].as_str().is_some_and(|s| s.ends_with("fleet-mock-waves")), "{doc}");
}

/// `--cluster-name` names one cluster: over several it would name none of them, so the run is
/// refused before any cluster is contacted, for `plan` and `apply` alike.
#[tokio::test]
async fn cluster_name_is_refused_over_several_clusters_before_any_request() {
    let east = wiremock::MockServer::start().await;
    let west = wiremock::MockServer::start().await;
    let dir = fleet_specs(
        "fleet-mock-cluster-name",
        &[("east", &east.uri()), ("west", &west.uri())],
        &[("orders", "east", &[]), ("billing", "west", &[])],
    );
    let applied = flinkops()
        .env_remove("FLINK_URL")
        .args(["apply", "--auto-approve", "--cluster-name", "prod-eu", "--state-dir"])
        .arg(dir.join(".state"))
        .arg(&dir)
        .output()
        .unwrap();
    for out in [plan(&dir, &["--cluster-name", "prod-eu"]), applied] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("--cluster-name") && stderr.contains("(east, west)"), "{stderr}");
        assert!(stderr.contains("remove it"), "the hint: {stderr}");
    }
    for server in [&east, &west] {
        let requests = server.received_requests().await.unwrap_or_default();
        assert!(requests.is_empty(), "contacted: {requests:?}");
    }
}

/// A long-running `watch` over two cluster documents, one of them out of reach: each cluster's
/// `flinkops_flink_up` says which, `/readyz` names the one out of reach, and it keeps running.
#[tokio::test]
async fn watch_over_two_clusters_reports_the_one_out_of_reach_on_its_own() {
    let up = flink_wanting_the_token().await;
    let dir = fleet_specs("fleet-mock-watch", &[("east", &up.uri()), ("west", "http://127.0.0.1:9")], &[]);
    let extra = ["--retries", "0", "--connect-timeout", "2s", "--resync", "1s"];
    let mut w = crate::watch_support::Watch::spawn(
        "",
        &dir,
        &dir.join(".state"),
        "127.0.0.1:0",
        &extra,
        std::time::Duration::from_secs(30),
    )
    .listening()
    .await;
    w.wait_metric("flinkops_flink_up{cluster=\"west\"}", 0.0).await;
    w.wait_metric("flinkops_flink_up{cluster=\"east\"}", 1.0).await;
    let body = w.wait_ready(503, "cluster `west`: not observed, its jobs untouched").await;
    assert!(body.contains("cluster `east`"), "the reachable cluster is reported too: {body}");
    // Logged at every reconcile, not once.
    w.wait_log("the error logged again", |log| {
        (log.matches("cluster=west").count() + log.matches("cluster=\"west\"").count() >= 2).then_some(())
    })
    .await;
    w.signal("TERM");
    assert_eq!(w.exited(std::time::Duration::from_secs(30)).await, 0, "log:\n{}", w.log());
}

/// A fleet watch whose tick finds one cluster's lock held by an apply: that cluster is busy, not
/// down. Logged with the holder the lock names, counted `result="locked"`, `flink_up` 1, and the
/// tick is not failed (`/readyz` 200, saying which cluster was skipped); `watch --once` exits 1,
/// since that cluster was not reconciled.
#[tokio::test]
async fn watch_skips_a_cluster_an_apply_holds_the_lock_of_without_failing_the_tick() {
    let (east, west) = (flink_wanting_the_token().await, flink_wanting_the_token().await);
    // Two clusters of their own (the fakes' configurations alone give both one identity, and so
    // one directory and one lock).
    for server in [&east, &west] {
        let port = server.address().port().to_string();
        wiremock::Mock::given(wiremock::matchers::method("GET"))
            .and(wiremock::matchers::path("/jobmanager/config"))
            .respond_with(
                wiremock::ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!([{"key": "rest.port", "value": port}])),
            )
            .with_priority(1)
            .mount(server)
            .await;
    }
    let dir = fleet_specs("fleet-mock-watch-busy", &[("east", &east.uri()), ("west", &west.uri())], &[]);
    let state = dir.join(".state");
    let once = || watch_once(&dir);
    let first = once();
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    // An apply on `west` (this process) holds its lock.
    let west_dir = flinkops::cluster::last_known_at(&state, &west.uri()).expect("west's directory");
    let holder = flinkops::apply::lock::Holder::current("flinkops apply fleet-mock-busy-holder");
    let _lock = flinkops::apply::lock::acquire(&west_dir, &west.uri(), Duration::ZERO, &holder, |_, _| {})
        .expect("the lock is free");

    let out = once();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "west was not reconciled: {stderr}");
    assert!(
        stderr.contains("busy, skipped this tick") && stderr.contains("fleet-mock-busy-holder"),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot observe the cluster"), "busy is not down: {stderr}");

    let extra = ["--retries", "0", "--resync", "1s"];
    let mut w =
        crate::watch_support::Watch::spawn("", &dir, &state, "127.0.0.1:0", &extra, Duration::from_secs(30))
            .listening()
            .await;
    let body = w.wait_ready(200, "cluster `west`: busy, skipped this tick").await;
    assert!(body.contains(&format!("pid {}", std::process::id())), "the holder is named: {body}");
    w.wait_metric("flinkops_flink_up{cluster=\"west\"}", 1.0).await;
    assert!(w.metric("flinkops_reconciles_total{cluster=\"west\",result=\"locked\"}").await >= 1.0);
    let failed = w.metric_value("flinkops_reconciles_total{cluster=\"west\",result=\"failed\"}").await;
    assert_eq!(failed.unwrap_or(0.0), 0.0, "log:\n{}", w.log());
    assert!(w.metric("flinkops_reconciles_total{cluster=\"east\",result=\"ok\"}").await >= 1.0);
    w.signal("TERM");
    assert_eq!(w.exited(Duration::from_secs(30)).await, 0, "log:\n{}", w.log());
}

/// Two cluster documents whose clusters report one identity share one state directory: the
/// tick's second lock is refused to the watch itself. That is not an apply at work: it stays an
/// error (not "busy"), so the configuration gets fixed.
#[test]
fn a_lock_refused_to_the_watch_itself_is_an_error_not_a_busy_cluster() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The fakes report no identity fields: both are one cluster to flinkops.
    let (east, west) =
        rt.block_on(async { (flink_wanting_the_token().await, flink_wanting_the_token().await) });
    let dir =
        fleet_specs("fleet-mock-watch-one-identity", &[("east", &east.uri()), ("west", &west.uri())], &[]);
    let out = watch_once(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot observe the cluster"), "{stderr}");
    assert!(!stderr.contains("busy"), "{stderr}");
}

/// A fake Flink `name` running the managed job `id` (in sync with its spec, started a day ago):
/// savepoints of it complete at `file:/sp/<name>-<trigger>`; disposals complete, or answer 500
/// when `disposals_fail`.
async fn scheduled_cluster(name: &str, id: &JobId, disposals_fail: bool) -> MockServer {
    let server = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let get = |p: String, body: Value| Mock::given(method("GET")).and(path(p)).respond_with(ok(body));
    get("/config".into(), json!({"flink-version": "2.3.0"})).mount(&server).await;
    // Its own directories: its own identity, so its own ledger and lock.
    get(
        "/jobmanager/config".into(),
        json!([
            {"key": "high-availability.cluster-id", "value": name},
            {"key": "execution.checkpointing.dir", "value": format!("file:/ck/{name}")},
            {"key": "execution.checkpointing.savepoint-dir", "value": format!("file:/sp/{name}")},
        ]),
    )
    .mount(&server)
    .await;
    get("/jars".into(), json!({"files": []})).mount(&server).await;
    let started = jiff::Timestamp::now().as_millisecond() - 86_400_000;
    get(
        "/jobs/overview".into(),
        json!({"jobs": [{"jid": id.to_string(), "name": name, "state": "RUNNING", "start-time": started,
                         "end-time": -1, "duration": 1, "last-modification": 1,
                         "tasks": {"total": 1, "running": 1}}]}),
    )
    .mount(&server)
    .await;
    get(
        format!("/jobs/{id}/checkpoints"),
        json!({"latest": {"completed": {"id": 9, "latest_ack_timestamp": 1, "external_path": "file:/ck/chk-9"},
                          "restored": null}}),
    )
    .mount(&server)
    .await;
    Mock::given(method("POST"))
        .and(path(format!("/jobs/{id}/savepoints")))
        .respond_with(|r: &wiremock::Request| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            ResponseTemplate::new(202).set_body_json(json!({"request-id": body["triggerId"]}))
        })
        .mount(&server)
        .await;
    let at = name.to_owned();
    Mock::given(method("GET"))
        .and(path_regex(format!("^/jobs/{id}/savepoints/[0-9a-f]+$")))
        .respond_with(move |r: &wiremock::Request| {
            let trigger = r.url.path().rsplit('/').next().unwrap().to_owned();
            let location = format!("file:/sp/{at}/savepoint-{trigger}");
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": {"id": "COMPLETED"}, "operation": {"location": location}}))
        })
        .mount(&server)
        .await;
    let disposal = if disposals_fail {
        ResponseTemplate::new(500).set_body_json(json!({"errors": ["disk on fire"]}))
    } else {
        ok(json!({"request-id": "0123456789abcdef0123456789abcdef"}))
    };
    Mock::given(method("POST")).and(path("/savepoint-disposal")).respond_with(disposal).mount(&server).await;
    get(
        "/savepoint-disposal/0123456789abcdef0123456789abcdef".into(),
        json!({"status": {"id": "COMPLETED"}, "operation": {}}),
    )
    .mount(&server)
    .await;
    server
}

/// The savepoint paths of what `server` was asked to dispose of, and to savepoint (job ids).
async fn scheduled_requests(server: &MockServer) -> (Vec<String>, Vec<String>) {
    let requests = server.received_requests().await.unwrap();
    let posts = requests.iter().filter(|r| r.method.as_str() == "POST");
    let (mut disposed, mut savepointed) = (Vec::new(), Vec::new());
    for r in posts {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        match r.url.path() {
            "/savepoint-disposal" => disposed.push(body["savepoint-path"].as_str().unwrap().to_owned()),
            p => savepointed.push(p.trim_start_matches("/jobs/").trim_end_matches("/savepoints").to_owned()),
        }
    }
    (disposed, savepointed)
}

/// The savepoints the ledger of the cluster at `url` records for `job`, oldest first (read only,
/// as `plan` finds the ledger).
pub(crate) async fn ledger_savepoints(
    state: &Path,
    url: &str,
    job: &str,
) -> Vec<flinkops::ledger::SavepointRecord> {
    let client = flinkops::flink::Client::new(flinkops::flink::ClientConfig::new(url)).unwrap();
    let identity = flinkops::cluster::resolve(&client, None).await.unwrap();
    let dir = flinkops::cluster::locate(state, &identity, url).unwrap();
    let mut records = flinkops::ledger::Ledger::new(&dir).read_all().unwrap().ok;
    records.remove(job).map_or_else(Vec::new, |r| r.savepoints)
}

async fn ledger_paths(state: &Path, url: &str, job: &str) -> Vec<String> {
    ledger_savepoints(state, url, job).await.into_iter().map(|s| s.path).collect()
}

/// A spec tree with job `a` on `east` and `b` on `west`, each `savepoint: { every: 1s, retain:
/// { count: 1 } }`; a writer of its cluster documents (east's URL, west's URL), and the ids the
/// jobs run as when in sync.
fn periodic_specs(name: &str) -> (PathBuf, impl Fn(&str, &str), [JobId; 2]) {
    let dir = scratch(name);
    crate::support::stand_in_jar(&dir.join("app.jar"), "");
    let every = "savepoint: { every: 1s, retain: { count: 1 } }\n";
    for (job, cluster) in [("a", "east"), ("b", "west")] {
        let body = format!("name: {job}\njar: app.jar\ncluster: {cluster}\n{every}");
        std::fs::write(dir.join(format!("{job}.yaml")), job_spec(&body)).unwrap();
    }
    let doc = |n: &str, url: &str| {
        format!("apiVersion: flinkops.dev/v1\nkind: FlinkCluster\nname: {n}\nurl: {url}\n")
    };
    let to = dir.join("clusters.yaml");
    let docs = move |east: &str, west: &str| {
        std::fs::write(&to, format!("{}---\n{}", doc("east", east), doc("west", west))).unwrap();
    };
    // The jobs' ids do not depend on where their clusters are.
    docs("http://127.0.0.1:9", "http://127.0.0.1:9");
    let (desired, _) = flinkops::spec::load(&dir).into_result().expect("valid specs");
    let id = |name: &str| {
        let spec = &desired.jobs[name];
        flinkops::plan::identity::job_id(&spec.name, &spec.fingerprint, [0, 0, 1])
    };
    (dir, docs, [id("a"), id("b")])
}

/// `watch --once` over two clusters with `savepoint.every` and `--gc-every`: each cluster gets
/// the savepoint of its own job and, after the next one, the disposal of its own older one
/// (`retain: 1`), each recorded in its own ledger. West's disposal fails: east's goes on. With
/// west out of reach, east still takes its savepoint and disposes of its older one; west's are
/// said to wait, and the tick fails.
#[tokio::test]
async fn watch_over_two_clusters_takes_and_disposes_each_clusters_savepoints_on_that_cluster() {
    let (dir, docs, [a, b]) = periodic_specs("fleet-mock-periodic");
    let (east, west) =
        (scheduled_cluster("east", &a, false).await, scheduled_cluster("west", &b, true).await);
    docs(&east.uri(), &west.uri());
    let state = dir.join(".state");
    let once = || {
        let out = flinkops()
            .env_remove("FLINK_URL")
            .args(["watch", "-v", "--once", "--retries", "0", "--connect-timeout", "2s", "--gc-every", "1s"])
            .arg("--state-dir")
            .arg(&state)
            .arg(&dir)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    let (code, log) = once();
    assert_eq!(code, Some(0), "{log}");
    let (east_first, west_first) =
        (ledger_paths(&state, &east.uri(), "a").await, ledger_paths(&state, &west.uri(), "b").await);
    assert_eq!(east_first.len(), 1, "{log}");
    assert!(east_first[0].starts_with("file:/sp/east/"), "{east_first:?}");
    assert_eq!(west_first.len(), 1, "{log}");
    assert!(west_first[0].starts_with("file:/sp/west/"), "{west_first:?}");
    assert_eq!(scheduled_requests(&east).await, (vec![], vec![a.to_string()]), "east: its own job only");
    assert_eq!(scheduled_requests(&west).await, (vec![], vec![b.to_string()]), "west: its own job only");

    // Due again: `every: 1s`, and the ledger records times rounded to the second.
    std::thread::sleep(std::time::Duration::from_millis(1600));
    let (code, log) = once();
    assert_eq!(code, Some(0), "a failed disposal does not fail the tick: {log}");
    assert!(log.contains("disk on fire"), "west's failed disposal is logged with Flink's cause: {log}");
    let (disposed, savepointed) = scheduled_requests(&east).await;
    assert_eq!(disposed, east_first, "east disposed of its own older savepoint: {log}");
    assert_eq!(savepointed, [a.to_string(), a.to_string()], "{log}");
    let (disposed, savepointed) = scheduled_requests(&west).await;
    assert_eq!(disposed, west_first, "west was asked to dispose of its own older savepoint");
    assert_eq!(savepointed, [b.to_string(), b.to_string()]);
    let east_now = ledger_paths(&state, &east.uri(), "a").await;
    assert_eq!(east_now.len(), 1, "east's ledger keeps the newest only: {east_now:?}");
    assert_ne!(east_now, east_first);
    assert_eq!(
        ledger_paths(&state, &west.uri(), "b").await.len(),
        2,
        "west's failed disposal keeps its entry"
    );

    // Due again: `every: 1s`, and the ledger records times rounded to the second.
    std::thread::sleep(std::time::Duration::from_millis(1600));
    docs(&east.uri(), "http://127.0.0.1:9");
    let (code, log) = once();
    assert_eq!(code, Some(1), "a cluster out of reach fails the tick: {log}");
    assert!(
        log.contains("the cluster is not observed: the periodic savepoints of its 1 job(s) with savepoint.every and its gc"),
        "{log}"
    );
    let (disposed, savepointed) = scheduled_requests(&east).await;
    assert_eq!(disposed.len(), 2, "east's gc ran without west: {disposed:?}");
    assert_eq!(savepointed.len(), 3, "east's savepoint was taken without west: {savepointed:?}");
    assert_eq!(ledger_paths(&state, &east.uri(), "a").await.len(), 1);
}

/// A long-running watch over two clusters with `--gc-every`, one out of reach: the reachable
/// one's periodic savepoints and gc are counted under its `cluster`, the other's gc as failed
/// under its own, its periodic series at 0.
#[tokio::test]
async fn a_long_running_watch_counts_each_clusters_periodic_work_under_its_name() {
    let (dir, docs, [a, _]) = periodic_specs("fleet-mock-periodic-metrics");
    let east = scheduled_cluster("east", &a, false).await;
    docs(&east.uri(), "http://127.0.0.1:9");
    let extra = ["--retries", "0", "--connect-timeout", "2s", "--resync", "1s", "--gc-every", "1s"];
    let deadline = std::time::Duration::from_secs(30);
    let mut w =
        crate::watch_support::Watch::spawn("", &dir, &dir.join(".state"), "127.0.0.1:0", &extra, deadline)
            .listening()
            .await;
    let series = |metric: &str, labels: &str| format!("flinkops_{metric}{{{labels}}}");
    for (metric, labels) in [
        ("periodic_savepoints_total", r#"cluster="east",job="a",result="completed""#),
        ("gc_runs_total", r#"cluster="east",result="ok""#),
        ("gc_runs_total", r#"cluster="west",result="failed""#),
    ] {
        w.wait_metric_at_least(&series(metric, labels), 1.0, std::time::Duration::from_secs(20)).await;
    }
    let west_periodic = series("periodic_savepoints_total", r#"cluster="west",job="b",result="completed""#);
    assert_eq!(w.metric(&west_periodic).await, 0.0);
    assert_eq!(w.metric(&series("savepoint_interval_seconds", r#"cluster="west",job="b""#)).await, 1.0);
    assert_eq!(w.metric(&series("gc_runs_total", r#"cluster="west",result="ok""#)).await, 0.0);
    w.signal("TERM");
    assert_eq!(w.exited(std::time::Duration::from_secs(30)).await, 0, "log:\n{}", w.log());
}

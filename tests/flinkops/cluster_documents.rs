//! `kind: FlinkCluster` documents as the connection: a fake Flink reached through a document's
//! `url` and `tokenFile`, and the refusals (flags and a document together, several documents for
//! a command that does not run across clusters yet).

use std::path::{Path, PathBuf};

use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{flinkops, job_spec, scratch};

pub(crate) const TOKEN: &str = "t0ken-from-a-file";

/// A fake Flink that answers only requests carrying `Authorization: Bearer TOKEN`.
pub(crate) async fn flink_wanting_the_token() -> MockServer {
    flink_wanting(&format!("Bearer {TOKEN}")).await
}

/// A fake Flink that answers only requests whose `Authorization` header is `authorization`.
async fn flink_wanting(authorization: &str) -> MockServer {
    let server = MockServer::start().await;
    // One directory per fake Flink: tests run at once, and `scratch` empties what it names.
    let dirs = scratch(&format!("cluster-doc-flink-dirs-{}", server.address().port()));
    let answers = [
        ("/config", json!({"flink-version": "2.3.0"})),
        ("/jobs/overview", json!({"jobs": []})),
        ("/overview", json!({"slots-total": 8, "slots-available": 8, "taskmanagers": 1})),
        (
            "/jobmanager/config",
            json!([
                {"key": "execution.checkpointing.dir", "value": format!("file:{}", dirs.join("c").display())},
                {"key": "execution.checkpointing.savepoint-dir", "value": format!("file:{}", dirs.join("s").display())},
            ]),
        ),
    ];
    for (at, body) in answers {
        Mock::given(method("GET"))
            .and(path(at))
            .and(header("authorization", authorization))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    server
}

/// A spec directory with one job and `cluster` (a cluster document's fields after the header).
fn specs_with_cluster(name: &str, clusters: &[String]) -> PathBuf {
    let dir = scratch(name);
    crate::support::stand_in_jar(&dir.join("app.jar"), "");
    std::fs::write(dir.join("job.yaml"), job_spec("name: orders\njar: app.jar\n")).unwrap();
    let docs: Vec<String> =
        clusters.iter().map(|c| format!("apiVersion: flinkops.dev/v1\nkind: FlinkCluster\n{c}")).collect();
    std::fs::write(dir.join("cluster.yaml"), docs.join("---\n")).unwrap();
    std::fs::write(dir.join("token.txt"), format!("{TOKEN}\n")).unwrap();
    dir
}

fn plan(dir: &Path, extra: &[&str]) -> std::process::Output {
    plan_with_env(dir, extra, &[])
}

/// `plan -o json` of `dir`, with variables set (`Some`) or removed (`None`).
fn plan_with_env(dir: &Path, extra: &[&str], env: &[(&str, Option<&str>)]) -> std::process::Output {
    let mut cmd = flinkops();
    cmd.env_remove("FLINK_URL");
    for (name, value) in env {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    cmd.args(["plan", "-o", "json", "--retries", "0", "--state-dir"])
        .arg(dir.join(".state"))
        .args(extra)
        .arg(dir)
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_single_cluster_document_is_the_connection_with_its_token_file() {
    let server = flink_wanting_the_token().await;
    let cluster = format!("name: prod\nurl: {}\ntokenFile: token.txt\n", server.uri());
    let dir = specs_with_cluster("cluster-doc-connection", &[cluster]);
    let out = plan(&dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(plan.to_string().contains("orders"), "{plan}");
    let requests = server.received_requests().await.unwrap();
    assert!(!requests.is_empty());
    for r in &requests {
        let auth = r.headers.get("authorization").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(auth.as_deref(), Some(format!("Bearer {TOKEN}").as_str()), "{} {}", r.method, r.url);
    }
}

/// `validate` names each cluster and job in bold (the job names padded inside the bold, to line
/// the columns up), then where it was written and what it is.
#[test]
fn validate_lists_each_cluster_and_job_with_its_name_in_bold() {
    let dir =
        specs_with_cluster("cluster-doc-validate-lines", &["name: prod\nurl: http://127.0.0.1:9\n".into()]);
    std::fs::write(dir.join("late.yaml"), job_spec("name: ab\njar: app.jar\ndependsOn: [orders]\n")).unwrap();
    let out = flinkops().args(["validate", "--color", "always"]).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let (bold, reset) = ("\u{1b}[1m", "\u{1b}[0m");
    let lines: Vec<&str> = stdout.lines().skip(1).collect();
    // The files as validate shows them (relative to where it runs).
    let shown = lines[0].split("  ").nth(2).and_then(|o| o.strip_suffix("cluster.yaml:3")).expect(&stdout);
    assert!(shown.ends_with("cluster-doc-validate-lines/"), "{stdout}");
    let at = |file: &str, line: u32| format!("{shown}{file}:{line}");
    assert_eq!(
        lines[0],
        format!("  cluster {bold}prod{reset}  {}  http://127.0.0.1:9", at("cluster.yaml", 3))
    );
    assert!(
        lines[1].starts_with(&format!("  {bold}ab    {reset}  {}  fingerprint ", at("late.yaml", 3))),
        "{stdout}"
    );
    assert!(lines[1].ends_with("  after orders"), "{stdout}");
    assert!(
        lines[2].starts_with(&format!("  {bold}orders{reset}  {}   fingerprint ", at("job.yaml", 3))),
        "{stdout}"
    );
}

/// One cluster document whose cluster is down: every command's hint names the document (its
/// file:line and name), which gave the URL, and not FLINK_URL, which did not (watch logs it).
#[test]
fn an_unreachable_cluster_documents_hint_names_the_document_not_flink_url() {
    let dir =
        specs_with_cluster("cluster-doc-unreachable", &["name: prod\nurl: http://127.0.0.1:9\n".into()]);
    let commands: [&[&str]; 8] = [
        &["plan"],
        &["plan", "--refresh-only"],
        &["apply", "--auto-approve"],
        &["audit"],
        &["savepoints"],
        &["status"],
        &["gc", "--auto-approve"],
        &["watch", "--once", "--listen", "127.0.0.1:0"],
    ];
    for args in commands {
        let mut cmd = flinkops();
        cmd.env_remove("FLINK_URL").args(args).args(["--retries", "0"]);
        if args[0] != "status" {
            cmd.arg("--state-dir").arg(dir.join(".state"));
        }
        let out = cmd.arg(&dir).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("connection refused"), "{args:?}: {stderr}");
        assert!(
            stderr.contains("the URL is the `url` of cluster `prod` (") && stderr.contains("cluster.yaml:3)"),
            "{args:?}: {stderr}"
        );
        assert!(args[0] == "watch" || stderr.contains("hint: the URL is"), "{args:?}: {stderr}");
        assert!(!stderr.contains("FLINK_URL"), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn connection_flags_beside_a_cluster_document_are_refused_before_any_call() {
    let server = flink_wanting_the_token().await;
    let cluster = format!("name: prod\nurl: {}\ntokenFile: token.txt\n", server.uri());
    let dir = specs_with_cluster("cluster-doc-and-flags", &[cluster]);
    let out = plan(&dir, &["--flink-url", &server.uri()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cluster document `prod`") && stderr.contains("--flink-url"), "{stderr}");
    assert!(server.received_requests().await.unwrap().is_empty(), "Flink was called");
}

#[tokio::test]
async fn several_clusters_are_valid_and_watch_refuses_periodic_work_over_them() {
    let server = flink_wanting_the_token().await;
    let clusters = [
        format!("name: prod-eu\nurl: {}\n", server.uri()),
        format!("name: prod-us\nurl: {}\n", server.uri()),
    ];
    let dir = specs_with_cluster("cluster-doc-several", &clusters);
    // The job must name its cluster when there are two.
    std::fs::write(dir.join("job.yaml"), job_spec("name: orders\njar: app.jar\ncluster: prod-eu\n")).unwrap();
    let out = flinkops().arg("validate").arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("2 clusters") && stdout.contains("cluster prod-us"), "{stdout}");
    // `plan` and `apply` take several clusters (tests/flinkops/fleet_mock.rs), `status` and `audit`
    // too (tests/flinkops/fleet_status.rs), `watch` with its periodic savepoints and gc
    // (tests/flinkops/fleet_watch_e2e.rs, fleet_periodic_e2e.rs), and `savepoint`, `savepoints`,
    // `gc` and `plan --refresh-only` (tests/flinkops/fleet_snapshots.rs): none is refused.
    assert!(server.received_requests().await.unwrap().is_empty(), "Flink was called");
}

#[tokio::test]
async fn an_unset_token_variable_names_the_cluster_and_the_variable() {
    let server = flink_wanting_the_token().await;
    let cluster = format!("name: prod\nurl: {}\ntokenEnv: FLINKOPS_TEST_UNSET_TOKEN\n", server.uri());
    let dir = specs_with_cluster("cluster-doc-unset-token", &[cluster]);
    let out = plan(&dir, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cluster `prod`") && stderr.contains("$FLINKOPS_TEST_UNSET_TOKEN"), "{stderr}");
}

/// `Basic base64(ops:pa55word)`, what a proxy wants for user `ops` and password `pa55word`.
const BASIC: &str = "Basic b3BzOnBhNTV3b3Jk";

fn assert_every_request_carries(requests: &[wiremock::Request], authorization: &str) {
    assert!(!requests.is_empty());
    for r in requests {
        let auth = r.headers.get("authorization").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(auth.as_deref(), Some(authorization), "{} {}", r.method, r.url);
    }
}

#[tokio::test]
async fn basic_auth_from_a_written_user_and_a_password_file_is_sent_on_every_call() {
    let server = flink_wanting(BASIC).await;
    let cluster =
        format!("name: prod\nurl: {}\nbasicAuth: {{username: ops, passwordFile: pw.txt}}\n", server.uri());
    let dir = specs_with_cluster("cluster-doc-basic-file", &[cluster]);
    std::fs::write(dir.join("pw.txt"), "pa55word\n").unwrap();
    let out = plan(&dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_every_request_carries(&server.received_requests().await.unwrap(), BASIC);
}

#[tokio::test]
async fn basic_auth_from_variables_is_sent_and_an_unset_one_is_named() {
    let server = flink_wanting(BASIC).await;
    let cluster = format!(
        "name: prod\nurl: {}\nbasicAuth: {{usernameEnv: FLINKOPS_TEST_USER, passwordEnv: FLINKOPS_TEST_PW}}\n",
        server.uri()
    );
    let dir = specs_with_cluster("cluster-doc-basic-env", &[cluster]);
    let user = ("FLINKOPS_TEST_USER", Some("ops"));
    let out = plan_with_env(&dir, &[], &[user, ("FLINKOPS_TEST_PW", Some("pa55word"))]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_every_request_carries(&server.received_requests().await.unwrap(), BASIC);

    let out = plan_with_env(&dir, &[], &[user, ("FLINKOPS_TEST_PW", None)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cluster `prod`") && stderr.contains("$FLINKOPS_TEST_PW"), "{stderr}");
}

#[tokio::test]
async fn a_written_password_is_refused_before_any_call_and_never_shown() {
    let server = flink_wanting(BASIC).await;
    let cluster =
        format!("name: prod\nurl: {}\nbasicAuth: {{username: ops, password: pa55word}}\n", server.uri());
    let dir = specs_with_cluster("cluster-doc-basic-literal", &[cluster]);
    for out in [flinkops().arg("validate").arg(&dir).output().unwrap(), plan(&dir, &[])] {
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_ne!(out.status.code(), Some(0), "{all}");
        assert!(all.contains("basicAuth.password") && all.contains("passwordFile"), "{all}");
        assert!(!all.contains("pa55word"), "the password was printed: {all}");
    }
    assert!(server.received_requests().await.unwrap().is_empty(), "Flink was called");
}

#[tokio::test]
async fn insecure_skip_tls_verify_warns_in_validate_and_on_every_run() {
    let server = flink_wanting_the_token().await;
    let cluster =
        format!("name: prod\nurl: {}\ntokenFile: token.txt\ninsecureSkipTlsVerify: true\n", server.uri());
    let dir = specs_with_cluster("cluster-doc-insecure", &[cluster]);
    let out = flinkops().arg("validate").arg(&dir).output().unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("accepts any certificate") && all.contains("cluster.yaml:6:24"), "{all}");
    for _ in 0..2 {
        let out = plan(&dir, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("TLS certificate verification is off for cluster `prod`"), "{stderr}");
    }
}

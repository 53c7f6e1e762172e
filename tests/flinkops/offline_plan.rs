//! The offline plan (`plan --base DIR` / `--base-rev REV`) through the binary: its three outputs
//! (snapshots), its JSON schema, its exit codes, that it never contacts a cluster, and the git
//! form on a real repository of two commits.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use flinkops::render::{OFFLINE_SCHEMA_PATH, offline_schema_json};

use crate::support::{flinkops, job_spec, scratch, stand_in_jar};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn jar(path: &Path, variant: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    stand_in_jar(path, variant);
}

/// `base/` and `head/` under `dir`, one job per kind of change.
fn two_trees(dir: &Path) {
    for side in ["base", "head"] {
        jar(&dir.join(side).join("app.jar"), "v1");
    }
    jar(&dir.join("head/new.jar"), "v2");
    let b = |f: &str, body: &str| write(&dir.join("base").join(f), &job_spec(body));
    let h = |f: &str, body: &str| write(&dir.join("head").join(f), &job_spec(body));
    b("same.yaml", "name: same\njar: app.jar\n");
    h("same.yaml", "name: same\njar: app.jar\n");
    b("orders.yaml", "name: orders\njar: app.jar\nparallelism: 2\n");
    h("orders.yaml", "name: orders\njar: app.jar\nparallelism: 4\nupgradeMode: stateless\n");
    b("pay.yaml", "name: pay\njar: app.jar\n");
    h("pay.yaml", "name: pay\njar: new.jar\nentryClass: dev.flinkops.testjob.CounterJob\n");
    b("unbuilt.yaml", "name: unbuilt\njar: target/unbuilt.jar\n");
    h("unbuilt.yaml", "name: unbuilt\njar: target/unbuilt.jar\nhealth:\n  stableFor: 1m\n");
    b("clicks.yaml", "name: clicks\njar: app.jar\nargs: [--topic, clicks]\n");
    h("clicks.yaml", "name: clickstream\njar: app.jar\nargs: [--topic, clicks]\n");
    b("agg.yaml", "name: old-agg\njar: app.jar\n");
    h("agg.yaml", "name: agg\njar: app.jar\npreviousNames: [old-agg]\nargs: [\"${AGG_TOKEN}\"]\n");
    h("fresh.yaml", "name: fresh\njar: app.jar\n");
}

fn offline(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = flinkops()
        .current_dir(dir)
        .args(["plan", "--base", "base", "head"])
        .args(extra)
        .env("FLINK_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn text_json_and_markdown_outputs() {
    let dir = scratch("offline-outputs");
    two_trees(&dir);
    for (name, format) in
        [("offline_text", "text"), ("offline_json", "json"), ("offline_markdown", "markdown")]
    {
        let (code, stdout, stderr) = offline(&dir, &["-o", format]);
        assert_eq!(code, 0, "{stderr}");
        insta::assert_snapshot!(name, stdout);
    }
}

#[test]
fn exit_codes_tell_no_changes_changes_and_state_dropped_apart() {
    let dir = scratch("offline-exit");
    two_trees(&dir);
    assert_eq!(offline(&dir, &["--detailed-exitcode"]).0, 3, "orders turns stateless");
    write(&dir.join("head/orders.yaml"), &job_spec("name: orders\njar: app.jar\nparallelism: 4\n"));
    assert_eq!(offline(&dir, &["--detailed-exitcode"]).0, 2);
    std::fs::remove_dir_all(dir.join("head")).unwrap();
    crate::support::copy_tree(&dir.join("base"), &dir.join("head"));
    let (code, stdout, _) = offline(&dir, &["--detailed-exitcode"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("No changes."), "{stdout}");
}

#[test]
fn no_cluster_is_contacted_even_with_flink_url_set() {
    let dir = scratch("offline-no-cluster");
    two_trees(&dir);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let out = flinkops()
        .current_dir(&dir)
        .args(["plan", "--base", "base", "head", "--detailed-exitcode"])
        .env("FLINK_URL", &url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let contacted = listener.accept();
    assert!(
        matches!(&contacted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the offline plan connected to FLINK_URL: {contacted:?}"
    );
}

#[test]
fn spec_errors_name_their_tree_and_file_line() {
    let dir = scratch("offline-spec-errors");
    two_trees(&dir);
    write(&dir.join("base/bad.yaml"), &job_spec("name: bad\njar: app.jar\nparallelism: 0\n"));
    let (code, stdout, stderr) = offline(&dir, &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stderr.contains("in the base tree (base):"), "{stderr}");
    assert!(stderr.contains("base/bad.yaml:5"), "{stderr}");
    assert!(!stderr.contains("in the head tree"), "{stderr}");
}

#[test]
fn the_committed_offline_schema_is_current_and_every_output_is_valid_by_it() {
    if std::env::var_os("FLINKOPS_UPDATE_SCHEMA").is_some() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "FLINKOPS_UPDATE_SCHEMA is refused when CI=true"
        );
        std::fs::write(OFFLINE_SCHEMA_PATH, offline_schema_json()).unwrap();
    }
    let committed = std::fs::read_to_string(OFFLINE_SCHEMA_PATH).unwrap_or_default();
    assert!(
        committed == offline_schema_json(),
        "{OFFLINE_SCHEMA_PATH} is stale: run `FLINKOPS_UPDATE_SCHEMA=1 cargo test --test flinkops offline_schema` and commit it"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let dir = scratch("offline-schema");
    two_trees(&dir);
    for extra in [&["-o", "json"][..], &["-o", "json", "--prune"]] {
        let doc: serde_json::Value = serde_json::from_str(&offline(&dir, extra).1).unwrap();
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        let mut broken = doc.clone();
        broken["jobs"][0]["change"] = "deleted".into();
        assert!(!validator.is_valid(&broken), "an unknown change kind must be rejected");
    }
}

fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(repo)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn base_rev_reads_the_committed_tree_with_git() {
    let repo = scratch("offline-git");
    git(&repo, &["init", "-q", "-b", "main"]);
    // Jars are build output: ignored by git, so the base revision has none (compared by path).
    write(&repo.join(".gitignore"), "*.jar\n");
    jar(&repo.join("jobs/app.jar"), "v1");
    write(&repo.join("jobs/specs/orders.yaml"), &job_spec("name: orders\njar: ../app.jar\nparallelism: 2\n"));
    write(&repo.join("jobs/specs/clicks.yaml"), &job_spec("name: clicks\njar: ../app.jar\n"));
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    write(&repo.join("jobs/specs/orders.yaml"), &job_spec("name: orders\njar: ../app.jar\nparallelism: 3\n"));
    write(
        &repo.join("jobs/specs/clicks.yaml"),
        &job_spec("name: clickstream\njar: ../app.jar\npreviousNames: [clicks]\n"),
    );
    git(&repo, &["commit", "-q", "-am", "head"]);
    let run = || {
        let out = flinkops()
            .current_dir(repo.join("jobs"))
            .args(["plan", "--base-rev", "HEAD~1", "specs", "-o", "json", "--detailed-exitcode"])
            .env("FLINK_URL", "http://127.0.0.1:9")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run();
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(doc["base"].as_str().unwrap().starts_with("HEAD~1 ("), "{doc:#}");
    let job =
        |name: &str| doc["jobs"].as_array().unwrap().iter().find(|j| j["name"] == name).cloned().unwrap();
    assert_eq!(job("orders")["change"], "redeploy");
    assert_eq!(job("orders")["jarComparedBy"]["by"], "path", "the base revision has no jar");
    assert_eq!(job("clickstream")["change"], "renamed");
    assert_eq!(job("clickstream")["renamedFrom"], "clicks");
    // An error in the base revision is shown at REV:path:line.
    write(&repo.join("jobs/specs/bad.yaml"), &job_spec("name: bad\njar: ../app.jar\nparallelism: 0\n"));
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "bad"]);
    std::fs::remove_file(repo.join("jobs/specs/bad.yaml")).unwrap();
    let against = |rev: &str| {
        let out =
            flinkops().current_dir(repo.join("jobs")).args(["plan", "--base-rev", rev, "specs"]).output();
        let out = out.unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, stderr) = against("HEAD");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("in the base tree (HEAD ("), "{stderr}");
    assert!(stderr.contains("HEAD:jobs/specs/bad.yaml:5"), "{stderr}");
    let (code, stderr) = against("no-such-branch");
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("does not know the revision `no-such-branch`") && stderr.contains("fetch-depth"),
        "{stderr}"
    );
}

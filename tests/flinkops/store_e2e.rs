//! Snapshots on an object store, on real Flink: a savepoint and a retained checkpoint that real
//! Flink wrote (to `file:`), copied file by file into the local S3-compatible server that
//! `scripts/test` starts (`scripts/s3-local`, moto), under the names Flink gives them. A spec
//! whose directories are on `s3://` and that has no ledger (a second CI runner, an `emptyDir`)
//! must be planned to restore from the newest of them; a bucket that cannot be listed must stop
//! the job, never start it empty.
//!
//! The distribution the tests fetch has no S3 file system plugin, so Flink itself cannot read
//! `s3://`: these tests check what flinkops finds and decides (`plan`), not a restore by Flink.

use std::path::Path;

use flinkops::flink::JobId;
use flinkops::plan::identity;
use flinkops::spec::fingerprint::Fingerprint;

use crate::apply_e2e::{Scenario, Spec, spec, text};
use crate::flink_support::{
    Cluster, before_change, cancel_with_savepoint, on_every_cluster, wait_checkpoint_after,
};

on_every_cluster! {
    a_spec_without_a_ledger_restores_from_the_newest_snapshot_on_s3 (1) => newest_on_s3;
}

/// The S3 endpoint `scripts/test` started; the tests refuse to skip silently.
fn s3_url() -> String {
    std::env::var("FLINKOPS_E2E_S3_URL").unwrap_or_else(|_| {
        panic!("the object-store tests need FLINKOPS_E2E_S3_URL: run `scripts/test`, which starts `scripts/s3-local`")
    })
}

/// `flinkops plan -o json` of the scenario (its state directory holds no ledger) with the S3
/// server's credentials in the environment.
fn plan(t: &Scenario) -> (Option<i32>, serde_json::Value, String) {
    let out = t
        .plan_command(&["-o", "json"])
        .env("AWS_ENDPOINT", s3_url())
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "flinkops-test")
        .env("AWS_SECRET_ACCESS_KEY", "flinkops-test")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), json, text(&out.stderr))
}

/// Upload every file under the local directory `from` to `<bucket>/<key>/…` (moto takes
/// unsigned requests).
async fn upload(bucket: &str, key: &str, from: &Path) {
    let http = reqwest::Client::new();
    let mut stack = vec![from.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(from).unwrap().display().to_string();
            let url = format!("{}/{bucket}/{key}/{rel}", s3_url());
            let resp = http.put(&url).body(std::fs::read(&path).unwrap()).send().await.unwrap();
            assert!(resp.status().is_success(), "PUT {url}: {}", resp.status());
        }
    }
}

fn local(path: &str) -> &Path {
    Path::new(path.trim_start_matches("file://").trim_start_matches("file:"))
}

async fn newest_on_s3(c: &Cluster) {
    let client = c.client();
    // A real savepoint and a real retained checkpoint of a running job.
    let s = Scenario::new(c, "s3src");
    let retained = "flinkConfiguration:\n  execution.checkpointing.interval: 500ms\n  \
                    execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION\n";
    s.write(&Spec { extra_yaml: retained, ..spec("counter") });
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let job = s.live(&client, "counter").await;
    before_change(&client, &job).await;
    let checkpoint = wait_checkpoint_after(&client, &job, jiff::Timestamp::now().as_millisecond()).await;
    let savepoint = cancel_with_savepoint(&client, &job).await;

    // The spec under test has a name this cluster never ran, so Flink's history cannot answer:
    // only the bucket can. Its snapshots get the names Flink gives a job of that name.
    let t = Scenario::new(c, "s3");
    let name = t.name("counter");
    let bucket = t.prefix.to_lowercase();
    let made = reqwest::Client::new().put(format!("{}/{bucket}", s3_url())).send().await.unwrap();
    assert!(made.status().is_success(), "create bucket {bucket}: {}", made.status());
    let tag = identity::name_tag(&name);
    let theirs: JobId = identity::job_id(&name, &Fingerprint("ab".repeat(32)), [1, 2, 3]);
    let sp_name = format!("savepoint-{tag}-0123456789ab");
    upload(&bucket, &format!("sp/{sp_name}"), local(&savepoint)).await;
    let chk_name = local(&checkpoint).file_name().unwrap().to_string_lossy().into_owned();
    let n: u64 = chk_name.strip_prefix("chk-").unwrap().parse().unwrap();
    // Uploaded after the savepoint: newer by its `_metadata`'s time, as a checkpoint taken after
    // the last savepoint is.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    upload(&bucket, &format!("chk/{theirs}/{chk_name}"), local(&checkpoint)).await;
    // A later checkpoint a crash cut short: no `_metadata`, so not a candidate.
    let partial = reqwest::Client::new()
        .put(format!("{}/{bucket}/chk/{theirs}/chk-{}/some-state-file", s3_url(), n + 1))
        .body("x")
        .send()
        .await
        .unwrap();
    assert!(partial.status().is_success());

    let dirs = format!(
        "savepoint: {{ directory: s3://{bucket}/sp }}\nflinkConfiguration:\n  execution.checkpointing.dir: s3://{bucket}/chk\n"
    );
    t.write(&Spec { extra_yaml: &dirs, ..spec("counter") });
    let (code, json, stderr) = plan(&t);
    assert_eq!(code, Some(0), "{json:#}\n{stderr}");
    let job_plan = json["jobs"].as_array().unwrap().iter().find(|j| j["name"] == name.as_str()).unwrap();
    let restore = &job_plan["restore"];
    let expected = format!("s3://{bucket}/chk/{theirs}/{chk_name}");
    assert_eq!(restore["path"], expected.as_str(), "{job_plan:#}");
    assert!(restore["origin"].as_str().unwrap().contains("checkpoint directory"), "{restore:#}");
    assert_eq!(restore["found"], 2, "the savepoint and the complete checkpoint: {restore:#}");

    // A bucket that is not there cannot be read: the job is not started, and the plan says why.
    let gone = format!(
        "savepoint: {{ directory: s3://{bucket}-missing/sp }}\nflinkConfiguration:\n  execution.checkpointing.dir: s3://{bucket}-missing/chk\n"
    );
    t.write(&Spec { extra_yaml: &gone, ..spec("counter") });
    let (code, json, stderr) = plan(&t);
    assert_eq!(code, Some(1), "{json:#}\n{stderr}");
    let problems = json["problems"].to_string();
    assert!(
        problems.contains(&format!("s3://{bucket}-missing/sp")) && problems.contains("cannot list"),
        "{problems}"
    );
    s.cleanup(&client).await;
}

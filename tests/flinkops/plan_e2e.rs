//! `flinkops plan` end to end against real Flink: the built binary, real jobs, a real ledger.
//!
//! apply is not built yet, so the test starts "managed" jobs the way apply will: with the job id
//! that `plan::identity` chooses for the spec, and a ledger record of what was applied. Other
//! tests run on the same clusters at the same time, so assertions look at this test's jobs only.

use std::path::{Path, PathBuf};

use flinkops::flink::{JobId, RunRequest};
use flinkops::ledger::{AppliedSpec, Ledger, Record};
use flinkops::plan::identity;
use serde_json::Value;

use crate::flink_support::{Cleanup, Cluster, cancel_with_savepoint, clusters, wait_tasks_running};
use crate::support::{flinkops, job_spec, scratch};

#[tokio::test]
async fn plan_follows_jobs_through_deploy_sync_change_failure_orphan_and_unmanaged() {
    for cluster in clusters() {
        // Up to three of this test's jobs run at once.
        let _slots = cluster.slots(3);
        eprintln!("== plan scenario on Flink {} at {}", cluster.version, cluster.url);
        scenario(&cluster).await;
    }
}

/// A spec directory for this cluster, and the names in it.
struct Specs {
    dir: PathBuf,
    state: PathBuf,
    prefix: String,
}

impl Specs {
    fn new(c: &Cluster) -> Self {
        // A fresh name per run: a cluster remembers ended jobs, and their names' tags would
        // (rightly) make a rerun plan "restore from the latest state" instead of a first deploy.
        let run = &JobId::random().to_string()[..6];
        let prefix = format!("plan-{}-{run}", c.version.replace('.', ""));
        let root = scratch(&prefix);
        let dir = root.join("specs");
        std::fs::create_dir_all(&dir).unwrap();
        let specs = Specs { dir, state: root.join("state"), prefix };
        specs.write("ingest", &c.jar, &[], "v1");
        specs.write("enrich", &c.jar, &["ingest"], "v1");
        specs
    }

    fn name(&self, short: &str) -> String {
        format!("{}-{short}", self.prefix)
    }

    fn write(&self, short: &str, jar: &Path, deps: &[&str], tag: &str) {
        let name = self.name(short);
        let deps: Vec<String> = deps.iter().map(|d| self.name(d)).collect();
        let text = job_spec(&format!(
            "name: {name}\njar: {jar}\nentryClass: dev.flinkops.testjob.CounterJob\n\
             args: [--name, {name}, --rate, \"20\", --tag, {tag}]\ndependsOn: [{deps}]\n",
            jar = jar.display(),
            deps = deps.join(", ")
        ));
        std::fs::write(self.dir.join(format!("{short}.yaml")), text).unwrap();
    }

    fn plan(&self, c: &Cluster, extra: &[&str]) -> (Option<i32>, Value) {
        let out = flinkops()
            .args(["plan", "-o", "json", "--detailed-exitcode", "--flink-url", &c.url, "--state-dir"])
            .arg(&self.state)
            .arg(&self.dir)
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
        (out.status.code(), json)
    }

    fn plan_text(&self, c: &Cluster) -> String {
        let out = flinkops()
            .args(["plan", "--flink-url", &c.url, "--state-dir"])
            .arg(&self.state)
            .arg(&self.dir)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// This test's entry in a plan's `jobs`.
fn job<'p>(plan: &'p Value, name: &str) -> &'p Value {
    plan["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing: {plan:#}"))
}

fn action(plan: &Value, name: &str) -> String {
    job(plan, name)["action"]["type"].as_str().unwrap().to_string()
}

/// Start the spec's job as apply would: the managed id, and a ledger record.
async fn start_managed(
    c: &Cluster,
    specs: &Specs,
    short: &str,
    cleanup: &mut Cleanup,
    jar: &flinkops::flink::JarId,
) -> JobId {
    let client = c.client();
    let loaded = flinkops::spec::load(&specs.dir);
    let (desired, _) = loaded.into_result().expect("valid specs");
    let spec = &desired.jobs[&specs.name(short)];
    let id = identity::job_id(&spec.name, &spec.fingerprint, identity::random_submission());
    let request = RunRequest {
        entry_class: spec.entry_class.clone(),
        program_args: spec.args.iter().map(|a| a.value.clone()).collect(),
        job_id: Some(id.clone()),
        ..RunRequest::new(spec.parallelism)
    };
    let id = cleanup.job(client.run_jar(jar, &request).await.expect("run"));
    wait_tasks_running(&client, &id).await;
    let mut record = Record::new(&spec.name);
    record.applied = Some(AppliedSpec::of(spec));
    record.job_id = Some(id.clone());
    Ledger::new(&crate::flink_support::cluster_dir(&specs.state, client.base_url()).await)
        .write(&record)
        .unwrap();
    id
}

async fn scenario(c: &Cluster) {
    let client = c.client();
    let mut cleanup = Cleanup::new(&client);
    let specs = Specs::new(c);
    let (ingest, enrich) = (specs.name("ingest"), specs.name("enrich"));

    // 1. Nothing running: both are deployed, ingest first.
    let (code, plan) = specs.plan(c, &[]);
    assert_eq!(code, Some(2), "{plan:#}");
    assert_eq!(action(&plan, &ingest), "deploy");
    assert_eq!(job(&plan, &enrich)["restore"]["from"], "first-deployment");
    let wave_of = |plan: &Value, name: &str| {
        plan["waves"]
            .as_array()
            .unwrap()
            .iter()
            .position(|w| w["jobs"].as_array().unwrap().iter().any(|j| j == name))
    };
    assert!(wave_of(&plan, &ingest).unwrap() < wave_of(&plan, &enrich).unwrap(), "{plan:#}");
    assert_eq!(plan["cluster"]["flinkVersion"], c.version);

    // 2. Both running the current specs: nothing to do.
    let jar = cleanup.jar(client.upload_jar(&c.jar).await.unwrap());
    let ingest_id = start_managed(c, &specs, "ingest", &mut cleanup, &jar).await;
    start_managed(c, &specs, "enrich", &mut cleanup, &jar).await;
    let (code, plan) = specs.plan(c, &[]);
    assert_eq!(
        (action(&plan, &ingest).as_str(), action(&plan, &enrich).as_str()),
        ("none", "none"),
        "{plan:#}"
    );
    assert_eq!(code, Some(0), "no change of ours, and other tests' jobs are never changes: {plan:#}");

    // 3. enrich changed: an upgrade with the changed argument, from a new savepoint.
    specs.write("enrich", &c.jar, &["ingest"], "v2");
    let (code, plan) = specs.plan(c, &[]);
    assert_eq!(code, Some(2));
    let e = job(&plan, &enrich);
    assert_eq!(e["action"], serde_json::json!({"type": "upgrade", "mode": "savepoint"}));
    assert_eq!(
        e["changes"][0],
        serde_json::json!({"field": "args[5]", "old": "v1", "new": "v2", "forcesRedeploy": true})
    );
    assert_eq!(e["restore"]["from"], "new-savepoint");

    // 4. ingest cancelled by hand with a savepoint: drift, and a deploy from that savepoint, the
    // newest snapshot of the spec.
    let savepoint = cancel_with_savepoint(&client, &ingest_id).await;
    cleanup.savepoint(&savepoint);
    let (_, plan) = specs.plan(c, &[]);
    let i = job(&plan, &ingest);
    assert_eq!(i["action"]["type"], "deploy", "{i:#}");
    assert!(i["drift"].as_str().unwrap().contains("cancelled outside flinkops"), "{i:#}");
    assert_eq!(
        (&i["restore"]["from"], &i["restore"]["path"]),
        (&"newest".into(), &savepoint.clone().into()),
        "{i:#}"
    );

    // 5. enrich's spec deleted: an orphan, stopped only with --prune.
    std::fs::remove_file(specs.dir.join("enrich.yaml")).unwrap();
    let (_, plan) = specs.plan(c, &[]);
    assert_eq!(action(&plan, &enrich), "orphan", "named from the ledger: {plan:#}");
    let (_, pruned) = specs.plan(c, &["--prune"]);
    assert_eq!(action(&pruned, &enrich), "stop");

    // 6. A job flinkops did not start: listed, never touched; a spec with its name conflicts.
    let extra = specs.name("extra");
    let request = RunRequest {
        entry_class: Some("dev.flinkops.testjob.CounterJob".into()),
        program_args: vec!["--name".into(), extra.clone(), "--rate".into(), "5".into()],
        job_id: Some(JobId::random()),
        ..RunRequest::new(1)
    };
    let extra_id = cleanup.job(client.run_jar(&jar, &request).await.unwrap());
    wait_tasks_running(&client, &extra_id).await;
    let (_, plan) = specs.plan(c, &[]);
    assert!(
        plan["unmanaged"].as_array().unwrap().iter().any(|u| u["id"] == extra_id.to_string()),
        "{plan:#}"
    );
    specs.write("extra", &c.jar, &[], "v1");
    let (code, plan) = specs.plan(c, &[]);
    assert_eq!(action(&plan, &extra), "conflict");
    assert_eq!(code, Some(1), "apply could not act on it: an error");
    let (_, adopted) = specs.plan(c, &["--adopt"]);
    assert_eq!(action(&adopted, &extra), "adopt");

    // The human plan names the jobs and never shows secrets (none here) or stack traces.
    let text = specs.plan_text(c);
    assert!(text.contains(&ingest), "{text}");
    cleanup.finish().await;
}

/// The plan refuses to run on invalid specs, before contacting Flink.
#[test]
fn plan_on_invalid_specs_exits_1_without_contacting_flink() {
    flinkops()
        .args(["plan", "--flink-url", "http://127.0.0.1:9", "tests/cases/bad/unknown-field-typo"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("Flink was not contacted"))
        .stderr(predicates::str::contains("did you mean `parallelism`?"));
}

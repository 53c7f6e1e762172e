//! The committed JSON Schema and examples: the schema is current, agrees with the reader, and
//! every example is valid both by the schema and by `flinkops validate`.

use std::path::Path;

use flinkops::spec::{model, schema};

use crate::support::{copy_tree, flinkops, scratch};

const SCHEMA_PATH: &str = "schemas/flinkjob.schema.json";

fn committed_schema() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(SCHEMA_PATH).unwrap()).unwrap()
}

#[test]
fn the_committed_schema_is_current() {
    let committed = std::fs::read_to_string(SCHEMA_PATH).unwrap();
    assert!(
        committed == schema::schema_json(),
        "{SCHEMA_PATH} is stale: run `cargo run -- schema --out {SCHEMA_PATH}` and commit it"
    );
}

fn property_names(schema: &serde_json::Value, pointer: &str) -> Vec<String> {
    let mut names: Vec<String> =
        schema.pointer(pointer).unwrap().as_object().unwrap().keys().cloned().collect();
    names.sort();
    names
}

fn sorted(fields: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn the_schema_and_the_reader_accept_the_same_fields() {
    let schema = committed_schema();
    assert_eq!(property_names(&schema, "/$defs/JobSpec/properties"), sorted(model::JOB_FIELDS));
    assert_eq!(property_names(&schema, "/$defs/ClusterSpec/properties"), sorted(model::CLUSTER_FIELDS));
    assert_eq!(
        property_names(&schema, "/$defs/ClusterDefaults/properties"),
        sorted(model::CLUSTER_DEFAULTS_FIELDS)
    );
    assert_eq!(property_names(&schema, "/$defs/BasicAuthSpec/properties"), sorted(model::BASIC_AUTH_FIELDS));
    assert_eq!(property_names(&schema, "/$defs/UpgradeSpec/properties"), sorted(model::UPGRADE_FIELDS));
    assert_eq!(property_names(&schema, "/$defs/SavepointSpec/properties"), sorted(model::SAVEPOINT_FIELDS));
    assert_eq!(property_names(&schema, "/$defs/RestoreSpec/properties"), sorted(model::RESTORE_FIELDS));
    assert_eq!(property_names(&schema, "/$defs/HealthSpec/properties"), sorted(model::HEALTH_FIELDS));
}

fn example_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir("examples/specs").unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 4, "the example pipeline has at least four jobs");
    files
}

#[test]
fn every_example_is_valid_by_the_schema() {
    let validator = jsonschema::validator_for(&committed_schema()).expect("the schema compiles");
    for file in example_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../../schemas/flinkjob.schema.json\n"),
            "{}",
            file.display()
        );
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
        for doc in docs {
            let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", file.display());
        }
    }
}

#[test]
fn the_schema_rejects_what_the_reader_rejects() {
    let validator = jsonschema::validator_for(&committed_schema()).unwrap();
    let job = |fields: serde_json::Value| {
        let mut doc = serde_json::json!({"apiVersion": "flinkops.dev/v1", "kind": "FlinkJob"});
        doc.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        doc
    };
    assert!(validator.is_valid(&job(serde_json::json!({"name": "x", "jar": "a.jar"}))));
    for bad in [
        job(serde_json::json!({"name": "x", "jar": "a.jar", "paralelism": 2})),
        job(serde_json::json!({"name": "Bad_Name", "jar": "a.jar"})),
        job(serde_json::json!({"name": "x", "jar": "a.jar", "upgradeMode": "fast"})),
        job(serde_json::json!({"name": "x"})),
        job(serde_json::json!({"name": "x", "jar": "a.jar", "savepoint": {"timout": "5m"}})),
        serde_json::json!({"name": "x", "jar": "a.jar"}),
        serde_json::json!({"apiVersion": "flinkops.dev/v2", "kind": "FlinkJob", "name": "x", "jar": "a.jar"}),
        serde_json::json!({"apiVersion": "flinkops.dev/v1", "kind": "FlinkJobs", "name": "x", "jar": "a.jar"}),
        serde_json::json!({"apiVersion": "flinkops.dev/v1", "kind": "FlinkCluster", "name": "x", "jar": "a.jar"}),
        serde_json::json!({"apiVersion": "flinkops.dev/v1", "kind": "FlinkCluster", "name": "x", "url": "http://f:8081", "token": "t"}),
        serde_json::json!({"apiVersion": "flinkops.dev/v1", "kind": "FlinkCluster", "name": "x", "url": "http://f:8081", "basicAuth": {"username": "u", "password": "p"}}),
    ] {
        assert!(!validator.is_valid(&bad), "schema accepted {bad}");
    }
}

#[test]
fn the_schema_accepts_a_cluster_document_by_kind() {
    let validator = jsonschema::validator_for(&committed_schema()).unwrap();
    let cluster = serde_json::json!({
        "apiVersion": "flinkops.dev/v1", "kind": "FlinkCluster", "name": "prod-eu",
        "url": "https://flink.example.com/", "tokenFile": "/run/secrets/flink-token",
        "caFile": "ca.pem", "headersFromEnv": {"X-Tenant": "TENANT_KEY"},
        "basicAuth": {"username": "ops", "passwordFile": "/run/secrets/pw"}, "insecureSkipTlsVerify": false,
        "defaults": {"savepointDirectory": "s3://bucket/savepoints", "health": {"stableFor": "1m"}},
    });
    let errors: Vec<String> = validator.iter_errors(&cluster).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

/// The examples with a stand-in jar where the build would put the real one.
fn examples_with_a_jar(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    copy_tree(Path::new("examples/specs"), &dir.join("specs"));
    std::fs::create_dir_all(dir.join("jars")).unwrap();
    crate::support::stand_in_jar(&dir.join("jars/flinkops-testjob.jar"), "");
    dir
}

#[test]
fn every_example_passes_flinkops_validate() {
    let dir = examples_with_a_jar("examples-valid");
    let out = flinkops().arg("validate").arg(&dir).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("4 job specs in 4 files"), "{stdout}");
    for job in ["orders-ingest", "orders-enrich", "orders-aggregate", "metrics-forwarder"] {
        assert!(stdout.contains(job), "{job} missing from:\n{stdout}");
    }
}

/// The whole examples/ tree (CI workflow, Kubernetes manifests, .flinkopsignore) with a stand-in
/// jar, as a new user would validate it.
fn whole_examples_with_a_jar(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    copy_tree(Path::new("examples"), &dir);
    crate::support::stand_in_jar(&dir.join("jars/flinkops-testjob.jar"), "");
    dir
}

#[test]
fn flinkops_validate_passes_on_the_whole_examples_directory() {
    let dir = whole_examples_with_a_jar("examples-whole");
    assert!(dir.join("ci/flinkops.yml").is_file() && dir.join(".flinkopsignore").is_file());
    let out = flinkops().arg("validate").arg(&dir).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    // Four specs and four Kubernetes files (six manifests) read; the workflow never is.
    assert!(
        stdout.contains("4 job specs in 8 files") && stdout.contains("; 6 documents of other kinds skipped."),
        "{stdout}"
    );
    let out = flinkops().args(["validate", "-o", "json"]).arg(&dir).assert().success();
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!((report["valid"].as_bool(), report["skippedDocuments"].as_u64()), (Some(true), Some(6)));
}

#[test]
fn without_its_ignore_file_the_examples_workflow_is_an_error_with_the_header_hint() {
    let dir = whole_examples_with_a_jar("examples-unignored");
    std::fs::remove_file(dir.join(".flinkopsignore")).unwrap();
    let out = flinkops().arg("validate").arg(&dir).assert().failure();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    // The diagnostic points at the workflow's first key, wherever its header comment ends.
    let workflow = std::fs::read_to_string(dir.join("ci/flinkops.yml")).unwrap();
    let line = workflow.lines().position(|l| l.starts_with("name:")).unwrap() + 1;
    let at = format!("ci/flinkops.yml:{line}:1");
    assert!(stderr.contains(&at) && stderr.contains("kind: FlinkJob"), "{at}: {stderr}");
}

#[test]
fn a_kubernetes_manifest_beside_a_spec_is_skipped_and_counted() {
    let dir = examples_with_a_jar("examples-with-a-manifest");
    let manifest =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: apps/v1\nkind: Deployment\n";
    std::fs::write(dir.join("specs/manifests.yaml"), manifest).unwrap();
    let out = flinkops().arg("validate").arg(&dir).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains("4 job specs in 5 files") && stdout.contains("2 documents of other kinds skipped"),
        "{stdout}"
    );
    let out = flinkops().args(["validate", "-o", "json"]).arg(&dir).assert().success();
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(report["skippedDocuments"], 2);
    assert_eq!(report["jobs"].as_array().unwrap().len(), 4);
}

#[test]
fn the_examples_form_the_documented_pipeline() {
    let dir = examples_with_a_jar("examples-pipeline");
    let (desired, _) = flinkops::spec::load(&dir).into_result().unwrap();
    let deps = |n: &str| desired.jobs[n].depends_on.clone();
    assert_eq!(deps("orders-enrich"), ["orders-ingest"]);
    assert_eq!(deps("orders-aggregate"), ["orders-enrich"]);
    assert!(deps("metrics-forwarder").is_empty());
    assert_eq!(desired.jobs["metrics-forwarder"].upgrade_mode, model::UpgradeMode::Stateless);
}

/// The README's `kind: FlinkCluster` example, as written there.
fn readme_cluster_example() -> String {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let blocks: Vec<&str> =
        readme.split("```yaml\n").skip(1).map(|b| b.split("```").next().unwrap()).collect();
    // A multi-document block is the fleet example (see the test below).
    let found: Vec<&&str> =
        blocks.iter().filter(|b| b.contains("kind: FlinkCluster\nname:") && !b.contains("\n---\n")).collect();
    assert_eq!(found.len(), 1, "one FlinkCluster example in the README");
    found[0].to_string()
}

#[test]
fn the_readme_cluster_example_is_valid_by_the_schema_and_by_flinkops() {
    let text = readme_cluster_example();
    let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&committed_schema()).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let dir = examples_with_a_jar("readme-cluster-example");
    std::fs::write(dir.join("specs/cluster.yaml"), &text).unwrap();
    let loaded = flinkops::spec::load(&dir);
    assert_eq!(loaded.error_count(), 0, "{:?}", loaded.diagnostics);
    let cluster = &loaded.desired.clusters["prod-eu"];
    assert!(cluster.url.starts_with("https://") && cluster.token_file.is_some(), "{cluster:?}");
    // Its defaults reach the example jobs that set no savepoint directory of their own.
    let job = &loaded.desired.jobs["metrics-forwarder"];
    assert_eq!(job.cluster.as_deref(), Some("prod-eu"));
    assert_eq!(job.savepoint.directory.as_ref().map(|d| d.value.as_str()), Some("s3://flink-eu/savepoints"));
}

#[test]
fn the_readme_fleet_example_loads_as_two_clusters_with_a_dependency_across_them() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let blocks: Vec<&str> =
        readme.split("```yaml\n").skip(1).map(|b| b.split("```").next().unwrap()).collect();
    let fleet: Vec<&&str> = blocks.iter().filter(|b| b.starts_with("# clusters.yaml")).collect();
    assert_eq!(fleet.len(), 1, "one fleet example in the README");
    let dir = crate::support::scratch("readme-fleet-example");
    std::fs::create_dir_all(dir.join("jars")).unwrap();
    for jar in ["enrich", "report"] {
        crate::support::stand_in_jar(&dir.join(format!("jars/{jar}.jar")), jar);
    }
    std::fs::write(dir.join("fleet.yaml"), fleet[0]).unwrap();
    let loaded = flinkops::spec::load(&dir);
    assert_eq!(loaded.error_count(), 0, "{:?}", loaded.diagnostics);
    let d = &loaded.desired;
    assert_eq!(d.clusters.keys().collect::<Vec<_>>(), ["east", "west"]);
    assert_eq!(d.jobs["orders-report"].cluster.as_deref(), Some("west"));
    assert_eq!(d.jobs["orders-report"].depends_on, ["orders-enrich"]);
    assert_eq!(d.jobs["orders-enrich"].cluster.as_deref(), Some("east"));
}

//! The committed JSON Schema and examples: the schema is current, agrees with the reader, and
//! every example is valid both by the schema and by `flinkops validate`.

use std::path::Path;

use flinkops::spec::{cmd, model};

use crate::support::{copy_tree, flinkops, scratch};

const SCHEMA_PATH: &str = "schemas/flinkjob.schema.json";

fn committed_schema() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(SCHEMA_PATH).unwrap()).unwrap()
}

#[test]
fn the_committed_schema_is_current() {
    let committed = std::fs::read_to_string(SCHEMA_PATH).unwrap();
    assert!(
        committed == cmd::schema_json(),
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
    assert_eq!(property_names(&schema, "/properties"), sorted(model::JOB_FIELDS));
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
    for bad in [
        serde_json::json!({"name": "x", "jar": "a.jar", "paralelism": 2}),
        serde_json::json!({"name": "Bad_Name", "jar": "a.jar"}),
        serde_json::json!({"name": "x", "jar": "a.jar", "upgradeMode": "fast"}),
        serde_json::json!({"name": "x"}),
        serde_json::json!({"name": "x", "jar": "a.jar", "savepoint": {"timout": "5m"}}),
    ] {
        assert!(!validator.is_valid(&bad), "schema accepted {bad}");
    }
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

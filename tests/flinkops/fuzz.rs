//! Property-based fuzzing of everything that reads outside input: the spec reader (with the
//! diagnostics renderer `validate` uses) over arbitrary bytes and YAML-shaped text, and the
//! decoding of every Flink answer over arbitrary bytes and JSON-shaped values. None may panic.
//!
//! CI runs a short setting (`FLINKOPS_FUZZ_CASES`, default 256 cases per property, a few seconds);
//! run longer with e.g. `FLINKOPS_FUZZ_CASES=100000 cargo test --test flinkops -- fuzz`. A failing
//! case is written to `tests/fuzz-regressions/` and replayed first by every later run: commit it.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use crate::support::job_spec;

fn config(name: &'static str) -> ProptestConfig {
    let cases = std::env::var("FLINKOPS_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    let path = Box::leak(format!("tests/fuzz-regressions/{name}.txt").into_boxed_str());
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(path))),
        ..ProptestConfig::default()
    }
}

/// Read `text` as a spec file and render its diagnostics, as `flinkops validate FILE` does.
fn read_spec(text: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spec.yaml");
    std::fs::write(&file, text).unwrap();
    crate::support::stand_in_jar(&dir.path().join("app.jar"), "");
    let env = |k: &str| (k == "SET").then(|| "value".to_string());
    let hash = |_: &Path| Ok("0".repeat(64));
    let loaded = flinkops::spec::load_with(
        &file,
        &flinkops::spec::Inputs { env: &env, hash_jar: &hash, allow_missing_jar: false },
    );
    let mut out = Vec::new();
    flinkops::spec::diag::render(&loaded.diagnostics, false, &mut out).unwrap();
}

/// Decode `bytes` as every answer flinkops reads from Flink, and as an error body.
fn decode_answers(bytes: &[u8]) {
    flinkops::flink::decode_every_answer(bytes);
}

/// Text built from the pieces specs are made of, so the reader gets past the YAML parser.
fn yaml_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(crate::support::JOB_HEADER.to_string()),
        Just("apiVersion: flinkops.dev/v1\nkind: FlinkCluster\nurl: ".to_string()),
        Just("apiVersion: v1\nkind: ".to_string()),
        Just("name: orders\n".to_string()),
        Just("jar: app.jar\n".to_string()),
        Just("---\n".to_string()),
        Just("health:\n  timeout: ".to_string()),
        Just("savepoint: { directory: ".to_string()),
        Just("dependsOn: [".to_string()),
        Just("args: [\"${SET}\", \"${UNSET}\", \"$${".to_string()),
        Just("flinkConfiguration:\n  ".to_string()),
        Just("parallelism: ".to_string()),
        Just("&a [*a, *a]\n".to_string()),
        Just("restore:\n  from: ".to_string()),
        "[a-zA-Z0-9_:{}\\[\\]\"'&*!|>#%@`,.\\- \n\t]{0,24}",
        any::<String>().prop_map(|s| s.chars().take(16).collect()),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// JSON values shaped like Flink's answers: the keys it uses, nested, with values of any type.
fn json_like() -> impl Strategy<Value = serde_json::Value> {
    let key = prop_oneof![
        Just("jobs"),
        Just("jid"),
        Just("name"),
        Just("state"),
        Just("start-time"),
        Just("end-time"),
        Just("tasks"),
        Just("latest"),
        Just("completed"),
        Just("savepoint"),
        Just("restored"),
        Just("external_path"),
        Just("id"),
        Just("status"),
        Just("operation"),
        Just("location"),
        Just("failure-cause"),
        Just("vertices"),
        Just("errors"),
        Just("flink-version"),
        Just("counts"),
        Just("value"),
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        "[0-9a-f]{32}".prop_map(serde_json::Value::from),
        prop_oneof![Just("RUNNING"), Just("COMPLETED"), Just("FAILED"), Just("IN_PROGRESS")]
            .prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..8).prop_map(|kv| {
                serde_json::Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #![proptest_config(config("spec-bytes"))]
    #[test]
    fn the_spec_reader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        read_spec(&bytes);
    }
}

proptest! {
    #![proptest_config(config("spec-yaml"))]
    #[test]
    fn the_spec_reader_never_panics_on_yaml_shaped_text(text in yaml_like()) {
        read_spec(text.as_bytes());
    }
}

proptest! {
    #![proptest_config(config("answer-bytes"))]
    #[test]
    fn flink_answers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        decode_answers(&bytes);
    }
}

proptest! {
    #![proptest_config(config("answer-json"))]
    #[test]
    fn flink_answers_never_panic_on_json_shaped_values(value in json_like()) {
        decode_answers(&serde_json::to_vec(&value).unwrap());
        // Also as the whole list of an overview, where one entry may be anything.
        let overview = serde_json::json!({"jobs": [value]});
        decode_answers(&serde_json::to_vec(&overview).unwrap());
    }
}

/// Inputs that once broke or nearly broke the reader, replayed as plain cases.
#[test]
fn inputs_that_once_broke_the_reader_stay_fixed() {
    let many_documents = job_spec("name: a\njar: app.jar\n---\n").repeat(1100);
    let deep = format!("{}x{}", "[".repeat(5000), "]".repeat(5000));
    for text in [
        job_spec("name: orders\njar: app.jar\nhealth:\n  timeout: PT9223372036854775807S\n"),
        job_spec("name: orders\njar: app.jar\nparallelism: 18446744073709551616\n"),
        job_spec("name: orders\njar: app.jar\nargs: [\"${\"]\n"),
        "a: &a [*a]\n".to_string(),
        many_documents,
        deep,
        "\u{feff}apiVersion: flinkops.dev/v1\r\nkind: FlinkJob\r\nname: orders\r\njar: app.jar\r\n"
            .to_string(),
    ] {
        read_spec(text.as_bytes());
    }
}

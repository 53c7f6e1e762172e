//! The command line as a user meets it: help, exit codes, output formats, and the flags every command shares.

use predicates::prelude::*;

use crate::support::flinkops;

#[test]
fn every_command_has_help_with_an_example_or_description() {
    for cmd in ["validate", "schema", "completions", "status", "plan", "apply", "watch", "audit"] {
        flinkops().args([cmd, "--help"]).assert().success().stdout(predicate::str::is_empty().not());
    }
}

#[test]
fn validate_exits_1_and_names_the_place_of_each_problem() {
    flinkops()
        .args(["validate", "tests/cases/bad/many-errors-in-one-document"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("tests/cases/bad/many-errors-in-one-document/spec.yaml:5:1"))
        .stderr(predicate::str::contains("did you mean `parallelism`?"))
        .stderr(predicate::str::contains("problems in the job specs"));
}

#[test]
fn validate_json_lists_every_diagnostic_with_its_location() {
    let out = flinkops()
        .args(["validate", "-o", "json", "tests/cases/bad/errors-in-several-files"])
        .assert()
        .code(1);
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(report["formatVersion"], 1);
    assert_eq!(report["valid"], false);
    let diags = report["diagnostics"].as_array().unwrap();
    assert!(diags.len() >= 3, "{report:#}");
    for d in diags {
        assert!(d["file"].is_string() && d["line"].is_u64() && d["column"].is_u64(), "{d}");
    }
}

#[test]
fn environment_variables_set_flags() {
    flinkops()
        .env("FLINKOPS_OUTPUT", "json")
        .args(["validate", "tests/cases/bad/empty-file"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("\"valid\": false"));
}

#[test]
fn schema_prints_the_committed_schema() {
    let committed = std::fs::read_to_string("schemas/flinkjob.schema.json").unwrap();
    flinkops().arg("schema").assert().success().stdout(committed);
}

#[test]
fn completions_are_generated_for_bash() {
    flinkops()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("flinkops").and(predicate::str::contains("validate")));
}

#[test]
fn schema_plan_prints_the_committed_plan_schema() {
    let committed = std::fs::read_to_string("schemas/plan.schema.json").unwrap();
    flinkops().args(["schema", "--plan"]).assert().success().stdout(committed);
}

#[test]
fn apply_on_invalid_specs_exits_1_without_contacting_flink() {
    flinkops()
        .args(["apply", "--flink-url", "http://127.0.0.1:9", "tests/cases/bad/unknown-field-typo"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("Flink was not contacted"));
}

/// `--target` / `--exclude` exist on watch only for one pass: a long-running watch that ignored
/// part of the fleet would leave it unattended. Refused before anything is read or contacted.
#[test]
fn watch_refuses_target_and_exclude_without_once() {
    for flag in ["--target", "--exclude"] {
        flinkops()
            .args(["watch", flag, "orders", "--flink-url", "http://127.0.0.1:9", "tests/cases/bad/none"])
            .timeout(std::time::Duration::from_secs(20))
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--once"));
    }
}

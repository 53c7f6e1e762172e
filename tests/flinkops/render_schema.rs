//! The JSON plan and its committed schema (`schemas/plan.schema.json`): the file is current, every
//! rendered plan is valid by it, it rejects what is not a plan, and the JSON reads back as the plan.

use flinkops::plan::Plan;
use flinkops::render::{PLAN_SCHEMA_PATH, plan_schema_json};

use crate::render_fixtures::{self as fx, render};

fn committed_schema() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(PLAN_SCHEMA_PATH).unwrap()).unwrap()
}

#[test]
fn the_committed_plan_schema_is_current() {
    if std::env::var_os("FLINKOPS_UPDATE_SCHEMA").is_some() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "FLINKOPS_UPDATE_SCHEMA is refused when CI=true: CI compares the committed schema, it never rewrites it"
        );
        std::fs::write(PLAN_SCHEMA_PATH, plan_schema_json()).unwrap();
    }
    let committed = std::fs::read_to_string(PLAN_SCHEMA_PATH).unwrap_or_default();
    assert!(
        committed == plan_schema_json(),
        "{PLAN_SCHEMA_PATH} is stale: run `FLINKOPS_UPDATE_SCHEMA=1 cargo test the_committed_plan_schema_is_current` and commit it"
    );
}

#[test]
fn every_rendered_plan_is_valid_by_the_schema() {
    let validator = jsonschema::validator_for(&committed_schema()).expect("the schema compiles");
    for case in fx::all() {
        let doc: serde_json::Value = serde_json::from_str(&render(&case.plan).json).unwrap();
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", case.name);
    }
}

#[test]
fn the_schema_rejects_what_is_not_a_plan() {
    let validator = jsonschema::validator_for(&committed_schema()).unwrap();
    let good: serde_json::Value = serde_json::from_str(&render(&fx::one_failed()).json).unwrap();
    let broken = |pointer: &str, value: serde_json::Value| {
        let mut doc = good.clone();
        *doc.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer} in {good:#}")) = value;
        doc
    };
    for (what, doc) in [
        ("a short job id", broken("/jobs/0/live/id", "abc".into())),
        ("an uppercase job id", broken("/jobs/0/live/id", "06F67DF1A55FF11240E831000001E847".into())),
        ("a lowercase job state", broken("/jobs/0/live/state", "running".into())),
        ("an unknown action", broken("/jobs/0/action/type", "delete".into())),
        ("an unknown restore source", broken("/jobs/3/restore/from", "somewhere".into())),
        ("a count as text", broken("/summary/deploy", "1".into())),
        ("hasChanges missing", {
            let mut d = good.clone();
            d.as_object_mut().unwrap().remove("hasChanges");
            d
        }),
    ] {
        assert!(!validator.is_valid(&doc), "the schema accepts {what}");
    }
}

#[test]
fn the_json_plan_reads_back_as_the_same_plan() {
    for case in fx::all() {
        let back: Plan = serde_json::from_str(&render(&case.plan).json).unwrap();
        // Everything but the fingerprint an older flinkops would have computed, which is never
        // written out: it hashes secrets in clear.
        let mut expected = case.plan.clone();
        expected.jobs.iter_mut().for_each(|j| j.legacy_fingerprint = None);
        assert_eq!(back, expected, "{}", case.name);
        for legacy in case.plan.jobs.iter().filter_map(|j| j.legacy_fingerprint.as_deref()) {
            assert!(!render(&case.plan).json.contains(legacy), "{}", case.name);
        }
    }
}

#[test]
fn the_summary_and_has_changes_agree_with_the_plan() {
    for case in fx::all() {
        let doc: serde_json::Value = serde_json::from_str(&render(&case.plan).json).unwrap();
        let s = case.plan.summary();
        assert_eq!(
            doc["summary"],
            serde_json::json!({"deploy": s.deploy, "upgrade": s.upgrade, "settings": s.settings, "stop": s.stop}),
            "{}",
            case.name
        );
        assert_eq!(doc["hasChanges"], serde_json::json!(case.plan.has_changes()));
        assert_eq!(doc["formatVersion"], serde_json::json!(1));
    }
}

#[test]
fn the_committed_fleet_plan_schema_is_current() {
    use flinkops::render::{FLEET_PLAN_SCHEMA_PATH, fleet_plan_schema_json};
    if std::env::var_os("FLINKOPS_UPDATE_SCHEMA").is_some() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "FLINKOPS_UPDATE_SCHEMA is refused when CI=true: CI compares the committed schema, it never rewrites it"
        );
        std::fs::write(FLEET_PLAN_SCHEMA_PATH, fleet_plan_schema_json()).unwrap();
    }
    let committed = std::fs::read_to_string(FLEET_PLAN_SCHEMA_PATH).unwrap_or_default();
    assert!(
        committed == fleet_plan_schema_json(),
        "{FLEET_PLAN_SCHEMA_PATH} is stale: run `FLINKOPS_UPDATE_SCHEMA=1 cargo test the_committed_fleet_plan_schema_is_current` and commit it"
    );
}

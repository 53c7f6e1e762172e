//! The JSON Schema of a flinkops document, generated from the spec types (committed as
//! `schemas/flinkjob.schema.json`; a test keeps it current).

/// A flinkops document: `kind: FlinkJob` (a job) or `kind: FlinkCluster` (the cluster jobs run on).
#[derive(schemars::JsonSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)] // Only its schema is used; `read` reads the documents.
enum Document {
    FlinkJob(super::model::JobSpec),
    FlinkCluster(super::model::ClusterSpec),
}

/// The JSON Schema of a flinkops document, as committed in `schemas/flinkjob.schema.json`.
pub fn schema_json() -> String {
    let mut schema = schemars::schema_for!(Document);
    let one_of = schema.remove("anyOf").expect("an untagged enum is an anyOf");
    schema.insert("title".into(), "flinkops document (FlinkJob or FlinkCluster)".into());
    schema.insert("oneOf".into(), one_of);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema always serialises");
    text.push('\n');
    text
}

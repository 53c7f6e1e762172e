//! The plan for machines: the `Plan` itself (versioned by `formatVersion`), with the summary
//! counts and `hasChanges` beside it so a CI script reads them without counting. Its JSON Schema
//! is generated from the same types and committed as `schemas/plan.schema.json`.

use std::io::{self, Write};

use schemars::JsonSchema;
use serde::Serialize;

use crate::plan::model::{Plan, Summary};

/// What `plan -o json` prints: the plan, then what its summary line says.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    title = "flinkops plan",
    description = "What `flinkops apply` will do, as `flinkops plan -o json` prints it."
)]
struct JsonPlan<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    /// Whether applying would change anything (`false`: "No changes.").
    has_changes: bool,
    /// Counts per kind of change, as on the summary line.
    summary: Summary,
}

/// Write the plan as pretty JSON, with a trailing newline.
pub fn json(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    let doc = JsonPlan { plan, has_changes: plan.has_changes(), summary: plan.summary() };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

/// The JSON Schema of what [`json`] prints, as committed in `schemas/plan.schema.json`. It
/// describes the output (serialisation), so a field that is always written is required.
pub fn plan_schema_json() -> String {
    schema_json::<JsonPlan<'static>>()
}

/// The JSON Schema of what serialising `T` writes, pretty, with a trailing newline.
pub(super) fn schema_json<T: JsonSchema>() -> String {
    let generator = schemars::generate::SchemaSettings::default().for_serialize().into_generator();
    let schema = generator.into_root_schema_for::<T>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema always serialises");
    text.push('\n');
    text
}

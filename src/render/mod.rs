//! Renderers of a `Plan`: for people (Terraform-like text), for machines (versioned JSON) and for
//! pull requests (Markdown). Each writes to `&mut impl Write`; none decides anything: every fact
//! comes from the plan, and the shared wording (symbols, headlines, where state comes from) lives
//! in `words` so the three agree.

mod human;
mod json;
mod markdown;
mod words;

pub use human::human;
pub use json::{json, plan_schema_json};
pub use markdown::markdown;
pub use words::NO_CHANGES;

/// Where the committed plan schema lives (relative to the repository root).
pub const PLAN_SCHEMA_PATH: &str = "schemas/plan.schema.json";

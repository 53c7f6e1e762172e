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

/// One line of a text table (`status`, `audit`): cells padded to the column widths (styles wrap
/// the text, not the padding); the last cell is not padded, so lines carry no trailing spaces.
pub fn table_row(
    out: &mut impl std::io::Write,
    cells: &[String],
    widths: &[usize],
    style: impl Fn(usize) -> anstyle::Style,
) -> std::io::Result<()> {
    for (i, cell) in cells.iter().enumerate() {
        let s = style(i);
        write!(out, "{}{cell}{}", s.render(), s.render_reset())?;
        if i + 1 < cells.len() {
            let pad = widths[i] - cell.chars().count() + 2;
            write!(out, "{:pad$}", "")?;
        }
    }
    writeln!(out)
}

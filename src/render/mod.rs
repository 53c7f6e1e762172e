//! Renderers of a `Plan`: for people (Terraform-like text), for machines (versioned JSON) and for
//! pull requests (Markdown). Each writes to `&mut impl Write`; none decides anything: every fact
//! comes from the plan, and the shared wording (symbols, headlines, where state comes from) lives
//! in `words` so the three agree.

mod drift;
mod fleet;
mod human;
mod json;
mod markdown;
mod offline;
mod reasons;
mod words;

pub use drift::{NO_DRIFT, drift_fleet_human, drift_fleet_markdown, drift_human, drift_markdown};
pub use fleet::{
    FLEET_FORMAT_VERSION, FLEET_PLAN_SCHEMA_PATH, JsonFleetPlan, fleet_human, fleet_json, fleet_markdown,
    fleet_plan_schema_json,
};
pub use human::human;
pub use json::{json, plan_schema_json};
pub use markdown::markdown;
pub use offline::{OFFLINE_SCHEMA_PATH, offline_json, offline_markdown, offline_schema_json, offline_text};
pub use reasons::{human_duration, slots_never_came};
pub use words::{NO_CHANGES, clean};

/// A line that names something in bold, then says more: `{lead}{name}{rest}`, the name padded to
/// `width` (0: not padded) inside the bold. `validate`'s cluster and job lines, `apply`'s result
/// lines and the drift report's lines.
pub fn bold_name_line(
    out: &mut impl std::io::Write,
    s: &crate::output::Styles,
    lead: &str,
    (name, width): (&str, usize),
    rest: std::fmt::Arguments<'_>,
) -> std::io::Result<()> {
    writeln!(out, "{lead}{}{name:<width$}{}{rest}", s.bold.render(), s.bold.render_reset())
}

/// Where the committed plan schema lives (relative to the repository root).
pub const PLAN_SCHEMA_PATH: &str = "schemas/plan.schema.json";

/// The most characters a table cell shows: longer text (a job name anyone may submit to a shared
/// cluster) is cut short with `…`, so one name cannot push every other column off the screen.
pub const MAX_CELL: usize = 120;

/// How wide a cell is drawn (see [`MAX_CELL`]), control characters escaped.
pub fn cell_width(cell: &str) -> usize {
    clean(cell).chars().count().min(MAX_CELL)
}

/// One line of a text table (`status`, `audit`): cells padded to the column widths (styles wrap
/// the text, not the padding); the last non-empty cell is not padded, so lines carry no trailing
/// spaces.
/// Widths come from [`cell_width`].
pub fn table_row(
    out: &mut impl std::io::Write,
    cells: &[String],
    widths: &[usize],
    style: impl Fn(usize) -> anstyle::Style,
) -> std::io::Result<()> {
    for (i, cell) in cells.iter().enumerate() {
        let s = style(i);
        // Cells come from outside (job names anyone may submit): escaped, and cut short unless
        // last (nothing after it to push away).
        let last = cells[i + 1..].iter().all(String::is_empty);
        let cleaned = clean(cell);
        let shown: std::borrow::Cow<'_, str> = if !last && cleaned.chars().count() > MAX_CELL {
            format!("{}…", cleaned.chars().take(MAX_CELL - 1).collect::<String>()).into()
        } else {
            cleaned
        };
        write!(out, "{}{shown}{}", s.render(), s.render_reset())?;
        if last {
            break;
        }
        // Not `{:pad$}`: a width of 65,536 or more panics in `format!`.
        let pad = widths[i].saturating_sub(cell_width(cell)) + 2;
        out.write_all(" ".repeat(pad).as_bytes())?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_cell_is_cut_short_and_never_panics() {
        let huge = "x".repeat(70_000);
        let cells = vec![huge.clone(), "RUNNING".to_string()];
        let widths = vec![cell_width(&huge), 7];
        let mut out = Vec::new();
        table_row(&mut out, &cells, &widths, |_| anstyle::Style::new()).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert_eq!(line, format!("{}…  RUNNING\n", "x".repeat(MAX_CELL - 1)));
    }

    #[test]
    fn cells_from_outside_cannot_reach_the_terminal() {
        let cells = vec!["\u{1b}]0;owned\u{7}evil".to_string(), "\u{202e}RUNNING".to_string()];
        let widths: Vec<usize> = cells.iter().map(|c| cell_width(c)).collect();
        let mut out = Vec::new();
        table_row(&mut out, &cells, &widths, |_| anstyle::Style::new()).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert!(!line.chars().any(|c| c.is_control() && c != '\n') && !line.contains('\u{202e}'), "{line:?}");
        assert!(line.starts_with("\\u{1b}]0;owned\\u{7}evil  \\u{202e}RUNNING"), "{line:?}");
    }
}

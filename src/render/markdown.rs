//! The plan as a pull-request comment (GitHub-flavoured Markdown): the summary as the heading, a
//! table of the jobs apply acts on, a folded block per job with its changed fields as a diff.
//! Everything that came from a spec or from Flink is escaped, so a job name or a value cannot
//! break the table, open a code block or inject HTML.

use std::io::{self, Write};

use super::words::{self, clean};
use crate::plan::model::{FieldChange, Plan};

/// Write the plan as Markdown.
pub fn markdown(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    // Sections end with a blank line; the output does not.
    let mut buf = Vec::new();
    sections(plan, &mut buf)?;
    while buf.ends_with(b"\n\n") {
        buf.pop();
    }
    out.write_all(&buf)
}

fn sections(plan: &Plan, out: &mut Vec<u8>) -> io::Result<()> {
    writeln!(out, "### {}\n", words::summary_line(plan))?;
    if let Some(c) = &plan.cluster {
        writeln!(out, "flinkops plan for {} (Flink {}).\n", code(&c.url), text(&c.flink_version))?;
    }
    if let Some(caveat) = words::summary_caveat(plan) {
        writeln!(out, "**{}**\n", prose(&caveat))?;
    }
    errors(plan, out)?;
    warnings(plan, out)?;
    drift(plan, out)?;
    if plan.has_changes() {
        table(plan, out)?;
        for shown in words::shown(plan) {
            details(plan, &shown, out)?;
        }
        if let Some(note) = words::details_note(plan) {
            writeln!(out, "> [!NOTE]\n> {}\n", text(&note))?;
        }
    }
    left_alone(plan, out)
}

fn table(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "| | Job | Action | Why |")?;
    writeln!(out, "|:-:|---|---|---|")?;
    for shown in words::shown(plan) {
        let job = shown.job;
        let symbol = words::mark(job).map(|m| m.symbol()).unwrap_or_default();
        writeln!(
            out,
            "| `{symbol}` | {} | {} | {} |",
            code(&job.name),
            text(&words::action_word(job)),
            prose(&job.reason.to_string())
        )?;
    }
    writeln!(out)?;
    match words::unchanged(plan) {
        0 => Ok(()),
        n => writeln!(out, "{} unchanged.\n", words::jobs(n)),
    }
}

fn details(plan: &Plan, shown: &words::Shown, out: &mut impl Write) -> io::Result<()> {
    let job = shown.job;
    writeln!(
        out,
        "<details><summary><code>{}</code> {}</summary>\n",
        html(&job.name),
        html(&words::headline(job))
    )?;
    if let Some(why) = &job.blocked_by {
        writeln!(out, "- **will not run:** {}", prose(&why.to_string()))?;
    }
    if let Some(why) = &job.pulled_in {
        writeln!(out, "- {}", prose(&why.to_string()))?;
    }
    if let Some(live) = &job.live {
        let (label, what) = words::live(job, live);
        writeln!(out, "- {label}: {}", text(&what))?;
    }
    if let Some(r) = &job.restore {
        writeln!(out, "- state: {}", text(&words::restore(r, job.live.as_ref())))?;
    }
    if let Some(order) = shown.wave.and_then(|w| words::order(plan, job, w)) {
        writeln!(out, "- order: {}", text(&order))?;
    }
    if !job.changes.is_empty() {
        let diff: String = job.changes.iter().map(diff_lines).collect();
        let fence = fence_for(&diff);
        writeln!(out, "\n{fence}diff\n{diff}{fence}")?;
    }
    writeln!(out, "\n</details>\n")
}

/// `- parallelism: 1` / `+ parallelism: 4  # forces redeploy`.
fn diff_lines(c: &FieldChange) -> String {
    let field = clean(&c.field);
    let marker = if c.forces_redeploy { "  # forces redeploy" } else { "" };
    let mut lines = String::new();
    if let Some(old) = &c.old {
        let m = if c.new.is_none() { marker } else { "" };
        lines.push_str(&format!("- {field}: {}{m}\n", words::value(old)));
    }
    if let Some(new) = &c.new {
        lines.push_str(&format!("+ {field}: {}{marker}\n", words::value(new)));
    }
    lines
}

fn drift(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    let drifted: Vec<_> = words::drifted(plan).collect();
    if drifted.is_empty() {
        return Ok(());
    }
    writeln!(out, "#### Changed outside of flinkops\n")?;
    for (job, what) in drifted {
        writeln!(out, "- {}: {}; {}", code(&job.name), prose(&what), prose(&words::drift_outcome(job)))?;
    }
    writeln!(out)
}

fn warnings(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    if plan.warnings.is_empty() {
        return Ok(());
    }
    writeln!(out, "#### Warnings\n\nApply acts on these jobs; read what it will do first:\n")?;
    for w in &plan.warnings {
        writeln!(out, "- {}", prose(&w.to_string()))?;
    }
    writeln!(out)
}

fn errors(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    if plan.problems.is_empty() {
        return Ok(());
    }
    writeln!(out, "#### Errors\n\nApply will not act on the jobs concerned until these are resolved:\n")?;
    for p in &plan.problems {
        // A problem may list what it found, a line each: a nested list.
        let text = p.to_string();
        let mut lines = text.lines();
        writeln!(out, "- {}", prose(lines.next().unwrap_or_default()))?;
        for line in lines.map(str::trim).filter(|l| !l.is_empty()) {
            writeln!(out, "  - {}", prose(line))?;
        }
    }
    writeln!(out)
}

fn left_alone(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    let skipped: Vec<_> = words::skipped(plan).collect();
    if !skipped.is_empty() {
        writeln!(out, "#### Skipped in this run (`--target` / `--exclude`)\n")?;
        for job in skipped {
            writeln!(out, "- {}: {}", code(&job.name), prose(&words::skipped_line(job)))?;
        }
        writeln!(out)?;
    }
    let orphans: Vec<_> = words::orphans(plan).collect();
    let untouched: Vec<_> = words::untouched(plan).collect();
    if orphans.is_empty() && untouched.is_empty() {
        return Ok(());
    }
    writeln!(out, "#### Not touched\n")?;
    for job in orphans {
        let live = job.live.as_ref().map(|l| words::live(job, l).1).unwrap_or_default();
        writeln!(
            out,
            "- {}: spec gone, left running (`--prune` stops it); {}",
            code(&job.name),
            text(&live)
        )?;
    }
    for live in untouched {
        let what = format!("{} ({})", live.id, live.state);
        writeln!(out, "- {}: not managed by flinkops; {}", code(&live.name), text(&what))?;
    }
    writeln!(out)
}

/// Inline text: every character Markdown or HTML could read as syntax is escaped, and `|` so a
/// table cell cannot be split.
pub(super) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in clean(s).chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '~' | '#' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text written by flinkops with `code` in backticks (reasons, problems): the backticked parts
/// become code spans, the rest is escaped. Unbalanced backticks are escaped like any text.
pub(super) fn prose(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return text(s);
    }
    parts.iter().enumerate().map(|(i, p)| if i % 2 == 1 { code(p) } else { text(p) }).collect()
}

/// A code span that holds any text: delimited by more backticks than it contains in a row, with
/// `|` escaped (GitHub reads `\|` as `|` inside table cells, code spans included).
pub(super) fn code(s: &str) -> String {
    let s = clean(s).replace('|', "\\|");
    let ticks = "`".repeat(longest_run(&s, '`') + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') { " " } else { "" };
    format!("{ticks}{pad}{s}{pad}{ticks}")
}

/// Text inside HTML (the `<summary>` of a folded block).
pub(super) fn html(s: &str) -> String {
    clean(s).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A code fence longer than any run of backticks in the block.
pub(super) fn fence_for(block: &str) -> String {
    "`".repeat((longest_run(block, '`') + 1).max(3))
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for x in s.chars() {
        run = if x == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_outlast_the_backticks_inside() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a``b"), "```a``b```");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(code("a|b"), "`a\\|b`");
    }

    #[test]
    fn fences_outlast_the_backticks_inside() {
        assert_eq!(fence_for("x"), "```");
        assert_eq!(fence_for("x ```` y"), "`````");
    }

    #[test]
    fn prose_keeps_backticked_names_as_code_and_escapes_the_rest() {
        assert_eq!(prose("`a|b` has 2 live jobs <x>"), "`a\\|b` has 2 live jobs \\<x\\>");
        assert_eq!(prose("odd ` tick"), "odd \\` tick");
    }

    #[test]
    fn text_escapes_markdown_and_html() {
        assert_eq!(text("a|b `c` <b>"), "a\\|b \\`c\\` \\<b\\>");
    }
}

//! Renderers of the offline plan (`plan --base`/`--base-rev`): text for people, JSON for
//! machines (schema: `schemas/offline-plan.schema.json`), Markdown for a pull-request comment.
//! All three open with the same warning when a change drops a job's state, and use the same
//! symbol per kind of change (`symbol`, `word`).

use std::io::{self, Write};

use super::markdown::{code, prose, text};
use super::words::{clean, value};
use crate::output::Styles;
use crate::plan::model::FieldChange;
use crate::plan::offline::{ChangeKind, JarComparison, OfflineJob, OfflinePlan};

/// Where the committed offline plan schema lives (relative to the repository root).
pub const OFFLINE_SCHEMA_PATH: &str = "schemas/offline-plan.schema.json";

/// The exact line for an offline plan without changes.
pub const NO_OFFLINE_CHANGES: &str = "No changes. The head specs match the base specs.";

/// What every renderer says about what an offline plan cannot know.
const CAVEAT: &str = "No cluster was contacted: this compares two spec trees, as if the base tree were what runs now. \
Drift (failed, cancelled or rescaled jobs), savepoints and checks against the cluster are in the live `flinkops plan`.";

/// The gutter symbol of a kind of change.
pub fn symbol(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::New | ChangeKind::Resume => "+",
        ChangeKind::Removed | ChangeKind::Suspend => "-",
        ChangeKind::Redeploy => "-/+",
        ChangeKind::RedeployWithoutState => "-/0",
        ChangeKind::Renamed => "=>",
        ChangeKind::SettingsOnly => "~",
        ChangeKind::Unchanged => "",
    }
}

/// The kind of change in words (table column, summary line).
pub fn word(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::New => "new",
        ChangeKind::Removed => "removed",
        ChangeKind::Redeploy => "redeploy from a savepoint",
        ChangeKind::RedeployWithoutState => "redeploy WITHOUT state",
        ChangeKind::Renamed => "renamed (state carried over)",
        ChangeKind::Suspend => "suspend",
        ChangeKind::Resume => "resume",
        ChangeKind::SettingsOnly => "settings only",
        ChangeKind::Unchanged => "unchanged",
    }
}

/// `2 new, 1 redeploy from a savepoint, 3 unchanged.` or [`NO_OFFLINE_CHANGES`].
pub fn summary_line(plan: &OfflinePlan) -> String {
    if !plan.has_changes {
        return NO_OFFLINE_CHANGES.into();
    }
    let parts: Vec<String> = plan.summary.iter().map(|(k, n)| format!("{n} {}", word(*k))).collect();
    format!("Offline plan: {}.", parts.join(", "))
}

/// The jobs whose state this change drops, with why.
fn state_losses(plan: &OfflinePlan) -> Vec<(&str, &str)> {
    plan.jobs
        .iter()
        .filter_map(|j| {
            j.state_dropped.as_ref().filter(|s| s.introduced).map(|s| (j.name.as_str(), s.why.as_str()))
        })
        .collect()
}

fn jar_note(j: &OfflineJob) -> Option<String> {
    match j.jar_compared_by.as_ref()? {
        JarComparison::ContentHash => Some("jar compared by content hash".into()),
        JarComparison::Path { why } => Some(format!("jar compared by path only ({why})")),
    }
}

fn field_line(c: &FieldChange) -> String {
    let v = |x: &Option<String>| x.as_deref().map_or_else(|| "(none)".to_string(), |s| value(s).into_owned());
    let forces = if c.forces_redeploy { "   (forces a redeploy)" } else { "" };
    format!("{}: {} -> {}{forces}", clean(&c.field), v(&c.old), v(&c.new))
}

/// The plan for people.
pub fn offline_text(plan: &OfflinePlan, s: &Styles, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "{}Offline plan:{} base {} -> head {}",
        s.bold.render(),
        s.bold.render_reset(),
        clean(&plan.base),
        clean(&plan.head)
    )?;
    writeln!(out, "{}{CAVEAT}{}\n", s.dim.render(), s.dim.render_reset())?;
    let losses = state_losses(plan);
    if !losses.is_empty() {
        writeln!(
            out,
            "{}WARNING: {} would lose its state:{}",
            s.error.render(),
            jobs(losses.len()),
            s.error.render_reset()
        )?;
        for (name, why) in &losses {
            writeln!(out, "  - {}: {}", clean(name), clean(why))?;
        }
        writeln!(out)?;
    }
    let width = plan.jobs.iter().map(|j| clean(&j.name).chars().count()).max().unwrap_or(0);
    for j in plan.jobs.iter().filter(|j| j.change != ChangeKind::Unchanged) {
        let style = match j.change {
            ChangeKind::New | ChangeKind::Resume => s.add,
            ChangeKind::Removed | ChangeKind::Suspend | ChangeKind::RedeployWithoutState => s.remove,
            _ => s.change,
        };
        let name = clean(&j.name);
        writeln!(
            out,
            "{}{:>3}{} {name:<width$}  {}: {}",
            style.render(),
            symbol(j.change),
            style.render_reset(),
            word(j.change),
            clean(&j.reason.to_string())
        )?;
        for c in &j.changes {
            writeln!(out, "        {}", field_line(c))?;
        }
        if let Some(note) = jar_note(j).filter(|_| j.change != ChangeKind::Unchanged) {
            writeln!(out, "        {}{note}{}", s.dim.render(), s.dim.render_reset())?;
        }
        for hint in &j.hints {
            writeln!(
                out,
                "        {}hint:{} {}",
                s.warn.render(),
                s.warn.render_reset(),
                clean(&hint.to_string())
            )?;
        }
        writeln!(out, "        {}at {}{}", s.dim.render(), clean(&j.origin), s.dim.render_reset())?;
    }
    let unchanged: Vec<&str> =
        plan.jobs.iter().filter(|j| j.change == ChangeKind::Unchanged).map(|j| j.name.as_str()).collect();
    if !unchanged.is_empty() {
        writeln!(out, "Unchanged: {}", clean(&unchanged.join(", ")))?;
    }
    if plan.has_changes {
        writeln!(out, "\n{}", legend(plan))?;
    }
    writeln!(out, "\n{}{}{}", s.bold.render(), summary_line(plan), s.bold.render_reset())
}

fn jobs(n: usize) -> String {
    if n == 1 { "1 job".into() } else { format!("{n} jobs") }
}

/// The symbols that appear, explained.
fn legend(plan: &OfflinePlan) -> String {
    let mut kinds: Vec<ChangeKind> =
        plan.jobs.iter().map(|j| j.change).filter(|k| *k != ChangeKind::Unchanged).collect();
    kinds.dedup();
    let parts: Vec<String> = kinds.iter().map(|k| format!("{} {}", symbol(*k), word(*k))).collect();
    format!("Legend: {}", parts.join(", "))
}

/// The plan as pretty JSON, with a trailing newline.
pub fn offline_json(plan: &OfflinePlan, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, plan)?;
    writeln!(out)
}

/// The JSON Schema of [`offline_json`], as committed in [`OFFLINE_SCHEMA_PATH`].
pub fn offline_schema_json() -> String {
    let generator = schemars::generate::SchemaSettings::default().for_serialize().into_generator();
    let schema = generator.into_root_schema_for::<OfflinePlan>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema always serialises");
    text.push('\n');
    text
}

/// The plan as a pull-request comment.
pub fn offline_markdown(plan: &OfflinePlan, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "### {}\n", text(&summary_line(plan)))?;
    writeln!(out, "flinkops offline plan: base {} → head {}.\n", code(&plan.base), code(&plan.head))?;
    let losses = state_losses(plan);
    if !losses.is_empty() {
        writeln!(out, "> [!CAUTION]\n> **{} would lose its state:**", jobs(losses.len()))?;
        for (name, why) in &losses {
            writeln!(out, "> - {}: {}", code(name), prose(why))?;
        }
        writeln!(out)?;
    }
    if plan.has_changes {
        writeln!(out, "| | Job | Change | Why |\n|:-:|---|---|---|")?;
        for j in plan.jobs.iter().filter(|j| j.change != ChangeKind::Unchanged) {
            let sym = symbol(j.change);
            writeln!(
                out,
                "| `{sym}` | {} | {} | {} |",
                code(&j.name),
                text(word(j.change)),
                prose(&j.reason.to_string())
            )?;
        }
        writeln!(out)?;
        for j in plan.jobs.iter().filter(|j| j.change != ChangeKind::Unchanged) {
            details(j, out)?;
        }
    }
    let unchanged = plan.jobs.iter().filter(|j| j.change == ChangeKind::Unchanged).count();
    if unchanged > 0 {
        writeln!(out, "{} unchanged.\n", jobs(unchanged))?;
    }
    writeln!(out, "> [!NOTE]\n> {}", prose(CAVEAT))
}

fn details(j: &OfflineJob, out: &mut impl Write) -> io::Result<()> {
    let mut lines: Vec<String> = j.changes.iter().map(field_line).collect();
    lines.extend(jar_note(j));
    if lines.is_empty() && j.hints.is_empty() {
        return Ok(());
    }
    writeln!(out, "<details><summary>{} {}</summary>\n", symbol(j.change), super::markdown::html(&j.name))?;
    if !lines.is_empty() {
        let block = lines.join("\n");
        let fence = super::markdown::fence_for(&block);
        writeln!(out, "{fence}\n{block}\n{fence}")?;
    }
    for hint in &j.hints {
        writeln!(out, "\n- hint: {}", prose(&hint.to_string()))?;
    }
    writeln!(out, "\nAt {}.\n\n</details>\n", code(&j.origin))
}

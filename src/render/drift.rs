//! The drift report of `plan --refresh-only`, for people and for a pull request or an alert.

use std::io::{self, Write};

use super::words::clean;
use crate::output::Styles;
use crate::plan::drift::{DriftKind, DriftReport};

/// The line said when nothing drifted.
pub const NO_DRIFT: &str = "No drift. The cluster is as flinkops left it.";

fn kind(k: DriftKind) -> &'static str {
    match k {
        DriftKind::Failed => "failed",
        DriftKind::Cancelled => "cancelled outside flinkops",
        DriftKind::Finished => "finished",
        DriftKind::Gone => "gone",
        DriftKind::Degraded => "degraded",
        DriftKind::Restarted => "restarted",
        DriftKind::Rescaled => "rescaled",
        DriftKind::Replaced => "replaced outside flinkops",
        DriftKind::Unmanaged => "not managed by flinkops",
        DriftKind::Orphan => "orphan (spec gone)",
        DriftKind::Conflict => "conflict",
    }
}

fn summary(report: &DriftReport) -> String {
    match report.drift.len() {
        0 => NO_DRIFT.into(),
        n => format!(
            "Drift: {n} change(s) on the cluster outside flinkops. No action is planned (refresh only)."
        ),
    }
}

const ADVICE: &str = "`flinkops plan` shows what apply would do about it; `flinkops apply` converges.";

pub fn drift_human(report: &DriftReport, s: &Styles, out: &mut impl Write) -> io::Result<()> {
    if let Some(c) = &report.cluster {
        writeln!(out, "Cluster: {} (Flink {})\n", clean(&c.url), clean(&c.flink_version))?;
    }
    for d in &report.drift {
        let id = d.job_id.as_ref().map(|i| format!(" [{i}]")).unwrap_or_default();
        let rest = format_args!(
            ": {}{}{}: {}{id}",
            s.warn.render(),
            kind(d.kind),
            s.warn.render_reset(),
            clean(&d.detail)
        );
        super::bold_name_line(out, s, "  ", (&clean(&d.name), 0), rest)?;
    }
    if !report.drift.is_empty() {
        writeln!(out)?;
    }
    writeln!(out, "{}{}{}", s.bold.render(), summary(report), s.bold.render_reset())?;
    if !report.drift.is_empty() {
        writeln!(out, "{ADVICE}")?;
    }
    Ok(())
}

pub fn drift_markdown(report: &DriftReport, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "### {}\n", summary(report))?;
    if report.drift.is_empty() {
        return Ok(());
    }
    writeln!(out, "| Job | Drift | Detail |\n|---|---|---|")?;
    let cell = |t: &str| clean(t).replace('|', "\\|").replace('<', "&lt;");
    for d in &report.drift {
        writeln!(out, "| `{}` | {} | {} |", cell(&d.name).replace('`', "'"), kind(d.kind), cell(&d.detail))?;
    }
    writeln!(out, "\n{ADVICE}")
}

//! The drift report of `plan --refresh-only`, for people and for a pull request or an alert.

use std::fmt::{self, Display, Formatter};
use std::io::{self, Write};

use super::words::clean;
use crate::output::Styles;
use crate::plan::drift::{ClusterDrift, Drift, DriftDetail, DriftKind, DriftReport, FleetDrift};

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

/// How many vertices a `rescaled` detail names before it counts the rest.
const VERTICES_NAMED: usize = 3;

/// What was seen, in words (the text, Markdown and JSON reports).
impl Display for DriftDetail {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            DriftDetail::Planned(reason) => reason.fmt(f),
            DriftDetail::Replaced => {
                f.write_str("runs another version than flinkops last applied, and the spec is unchanged")
            }
            DriftDetail::Seen(what) => what.fmt(f),
            DriftDetail::Restarted { restarts } => {
                write!(f, "Flink restarted it {restarts} time(s) since it was started (numRestarts)")
            }
            DriftDetail::Rescaled { vertices } => {
                let named: Vec<String> = vertices
                    .iter()
                    .take(VERTICES_NAMED)
                    .map(|v| format!("{} {} → {}", v.vertex, v.was, v.now))
                    .collect();
                write!(
                    f,
                    "runs with another parallelism than when flinkops started it: {}",
                    named.join(", ")
                )?;
                match vertices.len().checked_sub(VERTICES_NAMED) {
                    Some(more) if more > 0 => write!(f, " and {more} more vertices"),
                    _ => Ok(()),
                }
            }
            DriftDetail::Unmanaged { state } => write!(f, "not started by flinkops ({state})"),
        }
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
        drift_line(d, s, out)?;
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
    drift_table(&report.drift, out)?;
    writeln!(out, "\n{ADVICE}")
}

fn drift_line(d: &Drift, s: &Styles, out: &mut impl Write) -> io::Result<()> {
    let id = d.job_id.as_ref().map(|i| format!(" [{i}]")).unwrap_or_default();
    let detail = d.detail.to_string();
    let rest = format_args!(
        ": {}{}{}: {}{id}",
        s.warn.render(),
        kind(d.kind),
        s.warn.render_reset(),
        clean(&detail)
    );
    super::bold_name_line(out, s, "  ", (&clean(&d.name), 0), rest)
}

fn drift_table(drift: &[Drift], out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "| Job | Drift | Detail |\n|---|---|---|")?;
    let cell = |t: &str| clean(t).replace('|', "\\|").replace('<', "&lt;");
    for d in drift {
        writeln!(
            out,
            "| `{}` | {} | {} |",
            cell(&d.name).replace('`', "'"),
            kind(d.kind),
            cell(&d.detail.to_string())
        )?;
    }
    Ok(())
}

/// A cluster's heading: its name, and where it is or that it could not be observed.
fn fleet_heading(c: &ClusterDrift) -> String {
    match (&c.cluster, &c.error) {
        (_, Some(_)) => format!("Cluster `{}` (not observed)", clean(&c.name)),
        (Some(r), None) => {
            format!("Cluster `{}` ({}, Flink {})", clean(&c.name), clean(&r.url), clean(&r.flink_version))
        }
        (None, None) => format!("Cluster `{}`", clean(&c.name)),
    }
}

/// One line for the fleet: the drift of every cluster observed, and the clusters not observed.
fn fleet_summary(report: &FleetDrift) -> String {
    let mut line = match report.drift_count() {
        0 => "No drift on the clusters observed.".to_owned(),
        n => format!(
            "Drift: {n} change(s) on the clusters outside flinkops. No action is planned (refresh only)."
        ),
    };
    let failed: Vec<String> = report
        .clusters
        .iter()
        .filter(|c| c.error.is_some())
        .map(|c| format!("`{}`", clean(&c.name)))
        .collect();
    if !failed.is_empty() {
        line.push_str(&format!(" {} cluster(s) could not be observed: {}.", failed.len(), failed.join(", ")));
    }
    line
}

/// The drift over several clusters, grouped by cluster.
pub fn drift_fleet_human(report: &FleetDrift, s: &Styles, out: &mut impl Write) -> io::Result<()> {
    for c in &report.clusters {
        writeln!(out, "{}{}:{}", s.bold.render(), fleet_heading(c), s.bold.render_reset())?;
        match &c.error {
            Some(error) => {
                writeln!(out, "{}Error:{} {}", s.error.render(), s.error.render_reset(), clean(error))?
            }
            None if c.drift.is_empty() => writeln!(out, "  No drift.")?,
            None => {
                for d in &c.drift {
                    drift_line(d, s, out)?;
                }
            }
        }
        writeln!(out)?;
    }
    writeln!(out, "{}{}{}", s.bold.render(), fleet_summary(report), s.bold.render_reset())?;
    if report.drift_count() > 0 {
        writeln!(out, "{ADVICE}")?;
    }
    Ok(())
}

/// The drift over several clusters, for a pull request or an alert: a section per cluster.
pub fn drift_fleet_markdown(report: &FleetDrift, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "### {}\n", fleet_summary(report))?;
    for c in &report.clusters {
        writeln!(out, "## {}\n", fleet_heading(c))?;
        match &c.error {
            Some(error) => writeln!(
                out,
                "> [!CAUTION]\n> Could not be observed: `{}`\n",
                clean(error).replace('`', "'")
            )?,
            None if c.drift.is_empty() => writeln!(out, "No drift.\n")?,
            None => {
                drift_table(&c.drift, out)?;
                writeln!(out)?;
            }
        }
    }
    if report.drift_count() > 0 {
        writeln!(out, "{ADVICE}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::drift::Rescale;

    #[test]
    fn a_rescale_of_many_vertices_names_a_few_and_counts_the_rest() {
        let vertex = |i: u32| Rescale { vertex: format!("op-{i}"), was: 1, now: 4 };
        let many = DriftDetail::Rescaled { vertices: (0..5).map(vertex).collect() };
        assert!(many.to_string().ends_with("op-2 1 → 4 and 2 more vertices"), "{many}");
        let few = DriftDetail::Rescaled { vertices: (0..3).map(vertex).collect() };
        assert!(few.to_string().ends_with(": op-0 1 → 4, op-1 1 → 4, op-2 1 → 4"), "{few}");
    }

    #[test]
    fn the_json_report_carries_the_words() {
        let detail = DriftDetail::Restarted { restarts: 3 };
        assert_eq!(
            serde_json::to_string(&detail).unwrap(),
            r#""Flink restarted it 3 time(s) since it was started (numRestarts)""#
        );
    }
}

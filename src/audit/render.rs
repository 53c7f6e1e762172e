//! The audit report for people (an aligned table and a summary line) and for machines (one JSON
//! document). Writers to `&mut impl Write` with a `Styles` value, so tests capture plain and
//! coloured output through the same path. Owns layout only: no classification, no I/O of its own.

use std::io::{self, Write};

use anstyle::Style;

use super::fleet::FleetReport;
use super::report::{Report, Row, Summary, human};
use crate::cli::Severity;
use crate::output::Styles;
use crate::plan::ClusterRef;

const HEADER: [&str; 8] =
    ["NAME", "STATUS", "SEVERITY", "JOB", "STATE", "SAVEPOINT", "CHECKPOINT", "FINDING"];

/// Columns coloured by the row's severity.
const STATUS_COLUMN: usize = 1;
const SEVERITY_COLUMN: usize = 2;

/// The cluster line, the table (`No jobs and no specs.` when empty) and the summary line.
pub fn text(report: &Report, styles: &Styles, out: &mut impl Write) -> io::Result<()> {
    body(report.cluster.as_ref(), &report.jobs, styles, out)?;
    writeln!(out)?;
    summary(report.jobs.len(), report.summary, styles, out)
}

/// The cluster line and the table of one cluster's rows.
fn body(cluster: Option<&ClusterRef>, jobs: &[Row], styles: &Styles, out: &mut impl Write) -> io::Result<()> {
    if let Some(c) = cluster {
        writeln!(out, "Flink {} at {}", crate::render::clean(&c.flink_version), c.url)?;
    }
    if jobs.is_empty() { writeln!(out, "No jobs and no specs.") } else { table(jobs, styles, out) }
}

/// Each cluster under its name (its table, or the finding that it could not be observed), then
/// one summary line for all.
pub fn fleet_text(fleet: &FleetReport, styles: &Styles, out: &mut impl Write) -> io::Result<()> {
    for c in &fleet.clusters {
        writeln!(out, "{}cluster {}{}", styles.bold.render(), c.name, styles.bold.render_reset())?;
        if c.reachable {
            body(c.cluster.as_ref(), &c.jobs, styles, out)?;
        }
        for f in &c.findings {
            let style = severity_style(f.severity, styles);
            let word = severity_word(f.severity);
            writeln!(out, "{}{word}:{} {}", style.render(), style.render_reset(), f.message)?;
        }
        writeln!(out)?;
    }
    let rows = fleet.clusters.iter().map(|c| c.jobs.len()).sum::<usize>();
    let down = fleet.unreachable();
    // The counts include each cluster not observed (an error finding): the line says so, so that
    // they add up.
    let counted = match down {
        0 => jobs_counted(rows),
        n => format!("{}, {n} cluster{} not observed", jobs_counted(rows), if n == 1 { "" } else { "s" }),
    };
    counts(&counted, fleet.summary, styles, out)?;
    let drifted = fleet.clusters.iter().flat_map(|c| &c.jobs).any(|r| r.severity > Severity::Ok);
    if drifted {
        writeln!(out, "{DRIFT_ADVICE}")?;
    }
    if down > 0 {
        writeln!(
            out,
            "{down} of {} clusters could not be observed (counted as errors): none of their jobs was audited; \
             see the hint under each, check with `flinkops status`, then audit again.",
            fleet.clusters.len()
        )?;
    }
    Ok(())
}

/// The fleet as one pretty-printed JSON document (format version 2).
pub fn fleet_json(fleet: &FleetReport, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, fleet)?;
    writeln!(out)
}

fn table(jobs: &[Row], styles: &Styles, out: &mut impl Write) -> io::Result<()> {
    let header: Vec<String> = HEADER.iter().map(|h| h.to_string()).collect();
    let rows: Vec<Vec<String>> = jobs.iter().map(cells).collect();
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| rows.iter().chain([&header]).map(|r| crate::render::cell_width(&r[i])).max().unwrap_or(0))
        .collect();
    crate::render::table_row(out, &header, &widths, |_| styles.bold)?;
    for (cells, row) in rows.iter().zip(jobs) {
        let style = severity_style(row.severity, styles);
        let pick = |i| if i == STATUS_COLUMN || i == SEVERITY_COLUMN { style } else { Style::new() };
        crate::render::table_row(out, cells, &widths, pick)?;
    }
    Ok(())
}

fn cells(row: &Row) -> Vec<String> {
    let (job, state) = match &row.live {
        Some(l) => (l.id.as_str()[..8].to_string(), format!("{} {}", l.state, l.tasks.text())),
        None => ("-".into(), "-".into()),
    };
    let age = |age: Option<u64>| age.map_or("?".into(), human);
    vec![
        row.name.clone(),
        row.status.as_str().into(),
        severity_word(row.severity).into(),
        job,
        state,
        row.latest_savepoint.as_ref().map_or("-".into(), |s| age(s.age_seconds)),
        row.latest_checkpoint.as_ref().map_or("-".into(), |c| age(c.age_seconds)),
        finding(row),
    ]
}

/// What needs attention, most severe first; for a row with nothing to fix, what is right.
fn finding(row: &Row) -> String {
    let notable: Vec<&str> =
        row.findings.iter().filter(|f| f.severity > Severity::Ok).map(|f| f.message.as_str()).collect();
    if notable.is_empty() {
        row.findings.first().map(|f| f.message.clone()).unwrap_or_default()
    } else {
        notable.join("; ")
    }
}

/// `5 jobs: 3 ok, 1 warn, 1 error`, then the drift advice when something is not ok.
fn summary(jobs: usize, s: Summary, styles: &Styles, out: &mut impl Write) -> io::Result<()> {
    counts(&jobs_counted(jobs), s, styles, out)?;
    if s.warn + s.error > 0 {
        writeln!(out, "{DRIFT_ADVICE}")?;
    }
    Ok(())
}

/// `5 jobs`.
fn jobs_counted(jobs: usize) -> String {
    format!("{jobs} job{}", if jobs == 1 { "" } else { "s" })
}

/// `WHAT: 3 ok, 1 warn, 1 error`, each count in its severity's colour when not zero.
fn counts(what: &str, s: Summary, styles: &Styles, out: &mut impl Write) -> io::Result<()> {
    let count = |n: usize, severity: Severity| {
        let style = if n == 0 { Style::new() } else { severity_style(severity, styles) };
        format!("{}{n} {}{}", style.render(), severity_word(severity), style.render_reset())
    };
    writeln!(
        out,
        "{what}: {}, {}, {}",
        count(s.ok, Severity::Ok),
        count(s.warn, Severity::Warn),
        count(s.error, Severity::Error)
    )
}

/// Where to go from an audit with findings: the drift report is the one to alert on.
pub const DRIFT_ADVICE: &str = "What changed on the cluster outside flinkops: `flinkops plan --refresh-only` \
(with --detailed-exitcode it exits 2 on drift, for a CI alert).";

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Ok => "ok",
        Severity::Warn => "warn",
        Severity::Error => "error",
    }
}

fn severity_style(severity: Severity, styles: &Styles) -> Style {
    match severity {
        Severity::Ok => styles.ok,
        Severity::Warn => styles.warn,
        Severity::Error => styles.error,
    }
}

/// The report as one pretty-printed JSON document.
pub fn json(report: &Report, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::report::{Finding, Live, Savepoint, SavepointSource, Status, Summary};
    use crate::flink::{JobId, JobState};
    use crate::plan::ClusterRef;
    use crate::status::Tasks;

    fn report() -> Report {
        let finding = |severity, message: &str| Finding { severity, message: message.into() };
        let rows = vec![
            Row {
                name: "orders".into(),
                status: Status::InSync,
                severity: Severity::Ok,
                findings: vec![finding(Severity::Ok, "runs the spec")],
                live: Some(Live {
                    id: JobId::from_bytes([0xab; 16]),
                    state: JobState::Running,
                    tasks: Tasks { running: 2, finished: 0, total: 2 },
                }),
                latest_savepoint: Some(Savepoint {
                    path: "file:/sp/1".into(),
                    age_seconds: Some(7500),
                    source: SavepointSource::Ledger,
                }),
                latest_checkpoint: None,
                retention: None,
                savepoint_every_seconds: None,
            },
            Row {
                name: "clicks".into(),
                status: Status::Failed,
                severity: Severity::Error,
                findings: vec![
                    finding(Severity::Error, "failed: `flinkops apply` redeploys it from its latest state"),
                    finding(Severity::Warn, "no savepoint yet"),
                ],
                live: None,
                latest_savepoint: None,
                latest_checkpoint: None,
                retention: None,
                savepoint_every_seconds: None,
            },
        ];
        Report {
            format_version: 1,
            cluster: Some(ClusterRef { url: "http://flink:8081".into(), flink_version: "2.3.0".into() }),
            observed_at: "2026-01-10T00:00:00Z".parse().unwrap(),
            fail_on: Severity::Error,
            jobs: rows,
            summary: Summary { ok: 1, warn: 0, error: 1 },
        }
    }

    fn plain(report: &Report) -> String {
        let mut out = Vec::new();
        text(report, &Styles::plain(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_table_is_aligned_and_ends_with_the_summary() {
        let expected = "\
Flink 2.3.0 at http://flink:8081
NAME    STATUS   SEVERITY  JOB       STATE        SAVEPOINT  CHECKPOINT  FINDING
orders  in-sync  ok        abababab  RUNNING 2/2  2h 5m      -           runs the spec
clicks  failed   error     -         -            -          -           failed: `flinkops apply` redeploys it from its latest state; no savepoint yet

2 jobs: 1 ok, 0 warn, 1 error
What changed on the cluster outside flinkops: `flinkops plan --refresh-only` (with --detailed-exitcode it exits 2 on drift, for a CI alert).
";
        assert_eq!(plain(&report()), expected);
    }

    #[test]
    fn colour_marks_status_severity_and_counts_only() {
        let mut out = Vec::new();
        text(&report(), &Styles::colored(), &mut out).unwrap();
        let coloured = String::from_utf8(out).unwrap();
        let red = Styles::colored().error.render().to_string();
        assert!(coloured.contains(&format!("{red}failed")), "{coloured:?}");
        assert!(coloured.contains(&format!("{red}1 error")), "{coloured:?}");
        assert!(!coloured.contains(&format!("{red}clicks")));
    }

    fn fleet_text_of(clusters: Vec<crate::audit::fleet::ClusterReport>) -> String {
        let fleet = FleetReport::new(clusters, Severity::Error, "2026-01-10T00:00:00Z".parse().unwrap());
        let mut out = Vec::new();
        fleet_text(&fleet, &Styles::plain(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_fleet_summary_counts_a_cluster_not_observed_and_gives_no_drift_advice_for_it() {
        use crate::audit::fleet::ClusterReport;
        let mut in_sync = report();
        in_sync.jobs.truncate(1);
        let text = fleet_text_of(vec![
            ClusterReport::audited("eu", in_sync),
            ClusterReport::unreachable("us", "http://us", "connection refused", None),
        ]);
        assert!(text.contains("\n1 job, 1 cluster not observed: 1 ok, 0 warn, 1 error\n"), "{text}");
        assert!(!text.contains(DRIFT_ADVICE), "nothing drifted: {text}");
        assert!(text.contains("1 of 2 clusters could not be observed"), "{text}");
        assert!(text.contains("check with `flinkops status`, then audit again"), "{text}");
        // A job that drifted still gets the drift advice beside the cluster's.
        let text = fleet_text_of(vec![
            ClusterReport::audited("eu", report()),
            ClusterReport::unreachable("us", "http://us", "connection refused", None),
        ]);
        assert!(text.contains("\n2 jobs, 1 cluster not observed: 1 ok, 0 warn, 2 error\n"), "{text}");
        assert!(text.contains(DRIFT_ADVICE), "{text}");
    }

    #[test]
    fn an_empty_report_says_so() {
        let mut r = report();
        r.jobs.clear();
        r.summary = Summary::default();
        assert!(plain(&r).contains("No jobs and no specs.\n\n0 jobs: 0 ok, 0 warn, 0 error\n"));
    }

    #[test]
    fn the_json_document_has_the_promised_shape() {
        let mut out = Vec::new();
        json(&report(), &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["formatVersion"], 1);
        assert_eq!(v["cluster"]["flinkVersion"], "2.3.0");
        assert_eq!(v["observedAt"], "2026-01-10T00:00:00Z");
        assert_eq!(v["failOn"], "error");
        let orders = &v["jobs"][0];
        assert_eq!(orders["status"], "in-sync");
        assert_eq!(orders["severity"], "ok");
        assert_eq!(orders["live"]["tasks"], serde_json::json!({"running": 2, "total": 2}));
        assert_eq!(
            orders["latestSavepoint"],
            serde_json::json!({"path": "file:/sp/1", "ageSeconds": 7500, "source": "ledger"})
        );
        assert_eq!(orders["latestCheckpoint"], serde_json::Value::Null);
        assert_eq!(
            v["jobs"][1]["findings"][1],
            serde_json::json!({"severity": "warn", "message": "no savepoint yet"})
        );
        assert_eq!(v["summary"], serde_json::json!({"ok": 1, "warn": 0, "error": 1}));
    }
}

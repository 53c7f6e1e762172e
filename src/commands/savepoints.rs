//! `flinkops savepoints`: the snapshot history the ledger holds for the cluster, newest first.
//! Read-only: asks Flink only who the cluster is (its ledger is keyed by that identity).
//!
//! Marks, per job, the newest snapshot (what a start of a stopped job restores) and the one its
//! running version started from (what a rollback of that version restores), since those are
//! the entries that must never be lost.

use std::collections::BTreeMap;
use std::io::Write;

use jiff::Timestamp;
use serde::Serialize;

use super::CommandError;
use super::fleet_parts::{self, Group};
use crate::cli::{ColorChoice, OutputFormat, SavepointsArgs};
use crate::flink::JobId;
use crate::ledger::{Ledger, Record, SavepointRecord};
use crate::output::Styles;
use crate::pipeline::fleet;
use crate::pipeline::{Connection, Threads, load_specs};
use crate::spec::fingerprint::Fingerprint;
use crate::spec::model::FormatType;
use crate::{exit, render};

/// One snapshot as listed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    pub job: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_id: Option<u64>,
    pub taken_at: String,
    /// `None` when `takenAt` cannot be read.
    pub age_seconds: Option<u64>,
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flink_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<FormatType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_backend: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
    /// The job's newest snapshot.
    pub newest: bool,
    /// The snapshot the job's running version started from.
    pub rollback_target: bool,
    /// A disposal by `flinkops gc` that began and did not finish (with why, when it failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disposing: Option<crate::ledger::Disposing>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    format_version: u32,
    snapshots: &'a [Listed],
}

pub fn run(args: &SavepointsArgs, color: ColorChoice) -> Result<u8, CommandError> {
    let Some(desired) = load_specs(&args.path, &args.state.state_dir, color) else {
        return Ok(exit::ERROR);
    };
    if desired.clusters.len() > 1 {
        return fleet(args, &desired, color);
    }
    let records = read_records(args, &desired.clusters).map_err(|e| e.on_document(&desired.clusters))?;
    if let Some(unknown) = unknown_job(&args.jobs, &desired, [&records]) {
        eprintln!("error: --job {}: neither a spec nor a ledger record of that name", render::clean(unknown));
        return Ok(exit::ERROR);
    }
    let listed = list(chosen(&records, &args.jobs), Timestamp::now());
    let mut out = std::io::stdout().lock();
    let written = match args.output {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &Document { format_version: 1, snapshots: &listed })
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        }
        OutputFormat::Text => render_text(&listed, &Styles::stdout(color), &mut out),
    };
    super::written(written.and_then(|()| out.flush()))?;
    Ok(exit::OK)
}

/// A `--job` name that is neither a spec nor a record of any of the ledgers.
fn unknown_job<'a, 'r>(
    jobs: &'a [String],
    desired: &crate::spec::Desired,
    ledgers: impl IntoIterator<Item = &'r BTreeMap<String, Record>> + Clone,
) -> Option<&'a String> {
    jobs.iter().find(|j| {
        !desired.jobs.contains_key(*j) && !ledgers.clone().into_iter().any(|records| records.contains_key(*j))
    })
}

fn chosen<'a>(records: &'a BTreeMap<String, Record>, jobs: &'a [String]) -> impl Iterator<Item = &'a Record> {
    records.values().filter(move |r| jobs.is_empty() || jobs.contains(&r.name))
}

/// Several clusters: each one's ledger (found by the identity its JobManager reports), listed
/// under its name; a cluster that cannot be reached is named with its error and fails the run.
fn fleet(
    args: &SavepointsArgs,
    desired: &crate::spec::Desired,
    color: ColorChoice,
) -> Result<u8, CommandError> {
    let members = super::fleet_parts::read_members(&args.connection, &args.limit, &args.state, desired)?;
    let reached = super::block_on(Threads::One, async {
        let (state, deadline) = (&args.state, args.limit.max_time);
        Ok(fleet::reach_all(members, &state.state_dir, None, fleet::Access::Read, deadline).await)
    })?;
    let ledgers: Vec<Group<BTreeMap<String, Record>>> = reached
        .into_iter()
        .map(|(name, r)| {
            let part = r
                .map_err(|u| u.error)
                .and_then(|r| read_ledger(&r.dir, &name).map_err(|e| format!("cannot read its ledger: {e}")));
            Group { name, part }
        })
        .collect();
    let read: Vec<&BTreeMap<String, Record>> = ledgers.iter().filter_map(|g| g.part.as_ref().ok()).collect();
    // A name known to no ledger read may be on a cluster not reached: only refused when all were.
    if !fleet_parts::any_failed(&ledgers)
        && let Some(unknown) = unknown_job(&args.jobs, desired, read.iter().copied())
    {
        eprintln!("error: --job {}: neither a spec nor a ledger record of that name", render::clean(unknown));
        return Ok(exit::ERROR);
    }
    let now = Timestamp::now();
    let listed: Vec<Group<Vec<Listed>>> = ledgers
        .into_iter()
        .map(|g| Group { part: g.part.map(|records| list(chosen(&records, &args.jobs), now)), name: g.name })
        .collect();
    let mut out = std::io::stdout().lock();
    let written = match args.output {
        OutputFormat::Json => {
            let doc = FleetDocument {
                format_version: render::FLEET_FORMAT_VERSION,
                clusters: fleet_parts::ClusterEntry::all(&listed),
                snapshots: fleet_parts::flat(&listed),
            };
            serde_json::to_writer_pretty(&mut out, &doc)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        }
        OutputFormat::Text => {
            let styles = Styles::stdout(color);
            fleet_parts::write_grouped(&listed, &styles, &mut out, |l, mut out| {
                render_text(l, &styles, &mut out)
            })
        }
    };
    super::written(written.and_then(|()| out.flush()))?;
    Ok(if fleet_parts::any_failed(&listed) { exit::ERROR } else { exit::OK })
}

/// The JSON list over several clusters (`formatVersion: 2`): each cluster (with its error when
/// it could not be read), and every snapshot with its `cluster`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FleetDocument<'a> {
    format_version: u32,
    clusters: Vec<fleet_parts::ClusterEntry<'a>>,
    snapshots: Vec<fleet_parts::InCluster<'a, Listed>>,
}

fn read_records(
    args: &SavepointsArgs,
    clusters: &BTreeMap<String, crate::spec::clusters::Cluster>,
) -> Result<BTreeMap<String, Record>, CommandError> {
    let client = Connection::resolve(&args.connection, clusters)?.limited(&args.limit).client()?;
    let dir = super::block_on(Threads::One, async { Ok(args.state.cluster_dir_to_read(&client).await?) })?;
    read_ledger(&dir, "").map_err(|e| CommandError::Output(std::io::Error::other(e)))
}

/// The ledger's records in `dir`, with a warning for each that cannot be read (naming `cluster`
/// when there are several).
fn read_ledger(
    dir: &std::path::Path,
    cluster: &str,
) -> Result<BTreeMap<String, Record>, crate::ledger::Error> {
    let all = Ledger::new(dir).read_all()?;
    let on =
        if cluster.is_empty() { String::new() } else { format!(" on cluster `{}`", render::clean(cluster)) };
    for (name, why) in &all.unreadable {
        eprintln!(
            "warning: the ledger record of `{}`{on} cannot be read: {}",
            render::clean(name),
            render::clean(why)
        );
    }
    Ok(all.ok)
}

/// Every snapshot of `records`, newest first, marked. Pure.
pub fn list<'a>(records: impl Iterator<Item = &'a Record>, now: Timestamp) -> Vec<Listed> {
    let mut out = Vec::new();
    for r in records {
        let newest = r.savepoints.last().map(|s| s.path.clone());
        for s in r.savepoints.iter().rev() {
            out.push(listed(r, s, newest.as_deref() == Some(s.path.as_str()), now));
        }
    }
    // Newest first; RFC 3339 in UTC sorts as text, and the ledger's order (pushed newest first,
    // the sort is stable) breaks ties within a second.
    out.sort_by(|a, b| b.taken_at.cmp(&a.taken_at));
    out
}

fn listed(r: &Record, s: &SavepointRecord, newest: bool, now: Timestamp) -> Listed {
    let age =
        s.taken_at.parse::<Timestamp>().ok().map(|t| now.duration_since(t).as_secs().max(0).cast_unsigned());
    Listed {
        job: r.name.clone(),
        path: s.path.clone(),
        job_id: s.job_id.clone(),
        checkpoint_id: s.checkpoint_id,
        taken_at: s.taken_at.clone(),
        age_seconds: age,
        reason: s.reason.as_str(),
        flink_version: s.flink_version.clone(),
        format: s.format,
        state_backend: s.state_backend.clone(),
        fingerprint: s.fingerprint.clone(),
        newest,
        rollback_target: r.started_from.as_deref() == Some(s.path.as_str()),
        disposing: s.disposing.clone(),
    }
}

fn render_text(listed: &[Listed], styles: &Styles, out: &mut impl Write) -> std::io::Result<()> {
    if listed.is_empty() {
        return writeln!(out, "No snapshots in the ledger.");
    }
    let header = ["JOB", "TAKEN", "AGE", "REASON", "FLINK", "PATH", "NOTE"].map(String::from);
    let rows: Vec<[String; 7]> = listed.iter().map(row).collect();
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().chain([&header]).map(|r| render::cell_width(&r[i])).max().unwrap_or(0))
        .collect();
    render::table_row(out, &header, &widths, |_| styles.bold)?;
    for row in &rows {
        render::table_row(out, row, &widths, |i| if i == 6 { styles.ok } else { anstyle::Style::new() })?;
    }
    Ok(())
}

fn row(l: &Listed) -> [String; 7] {
    let mut notes = Vec::new();
    if l.newest {
        notes.push("newest");
    }
    if l.rollback_target {
        notes.push("rollback target");
    }
    if l.disposing.is_some() {
        notes.push("disposal unfinished (flinkops gc retries it)");
    }
    let note = notes.join(", ");
    [
        l.job.clone(),
        l.taken_at.clone(),
        l.age_seconds.map_or_else(|| "?".into(), crate::render::human_duration),
        l.reason.to_string(),
        l.flink_version.clone().unwrap_or_else(|| "-".into()),
        l.path.clone(),
        note,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::SavepointReason;

    fn at(path: &str, taken_at: &str, reason: SavepointReason) -> SavepointRecord {
        SavepointRecord::new(path, None, taken_at.into(), reason)
    }

    #[test]
    fn the_history_is_newest_first_and_marks_the_newest_and_the_rollback_target() {
        let mut orders = Record::new("orders");
        orders.savepoints = vec![
            at("file:/sp/1", "2026-12-01T10:00:00Z", SavepointReason::Upgrade),
            at("file:/sp/2", "2026-12-02T10:00:00Z", SavepointReason::Manual),
        ];
        orders.started_from = Some("file:/sp/1".into());
        let mut other = Record::new("other");
        other.savepoints = vec![at("file:/sp/3", "2026-12-01T12:00:00Z", SavepointReason::Suspend)];
        let now: Timestamp = "2026-12-02T11:00:00Z".parse().unwrap();
        let l = list([&orders, &other].into_iter(), now);
        let shown: Vec<(&str, &str, bool, bool, Option<u64>)> = l
            .iter()
            .map(|l| (l.job.as_str(), l.path.as_str(), l.newest, l.rollback_target, l.age_seconds))
            .collect();
        assert_eq!(
            shown,
            [
                ("orders", "file:/sp/2", true, false, Some(3600)),
                ("other", "file:/sp/3", true, false, Some(23 * 3600)),
                ("orders", "file:/sp/1", false, true, Some(25 * 3600)),
            ]
        );
        let mut text = Vec::new();
        render_text(&l, &Styles::plain(), &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.lines().nth(3).unwrap().ends_with("rollback target"), "{text}");
        assert!(text.contains("manual") && text.contains("1h"), "{text}");
    }
}

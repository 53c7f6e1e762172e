//! What `flinkops status` shows (`commands::status` runs it): the jobs a Flink cluster knows, with
//! their tasks, uptime, latest checkpoint and latest savepoint. Read-only.
//!
//! Owns fetching that snapshot (`fetch`: one `GET /config`, one `GET /jobs/overview`, then one
//! `GET /jobs/:id/checkpoints` per job that is not terminal, a few at a time) and rendering it
//! (`render_text`, `render_json`, which only write to `&mut impl Write`). It never changes
//! anything on the cluster.
//!
//! The JSON document (`-o json`), format version 1; fields are only ever added within a version:
//!
//! ```json
//! {
//!   "formatVersion": 1,
//!   "cluster": { "url": "http://127.0.0.1:8081", "flinkVersion": "2.3.0" },
//!   "observedAt": "2025-01-01T12:00:00Z",
//!   "jobs": [{
//!     "id": "<32 hex>", "name": "orders", "state": "RUNNING",
//!     "tasks": { "running": 3, "total": 3 },
//!     "startTime": "2025-01-01T11:00:00Z", "endTime": null, "uptimeSeconds": 3600,
//!     "latestCheckpoint": { "id": 42, "completedAt": "…", "ageSeconds": 5 },
//!     "latestSavepoint": { "path": "file:/…/savepoint-…", "completedAt": "…", "ageSeconds": 600 }
//!   }]
//! }
//! ```
//!
//! `latestCheckpoint` and `latestSavepoint` are `null` when there is none, and for ended jobs
//! (whose checkpoints are not fetched). Jobs are listed unfinished first, newest first.
//!
//! Over several clusters (the specs' cluster documents, `FleetStatus`), the document is format
//! version 2: one entry per cluster, in the documents' name order, each either observed or not:
//!
//! ```json
//! {
//!   "formatVersion": 2,
//!   "clusters": [
//!     { "name": "eu", "reachable": true, "cluster": { "url": "…", "flinkVersion": "2.3.0" },
//!       "observedAt": "…", "jobs": [ … as above … ] },
//!     { "name": "us", "reachable": false, "url": "…", "error": "…", "hint": "…" }
//!   ]
//! }
//! ```

use std::collections::HashMap;
use std::io::{self, Write};

use jiff::Timestamp;
use serde::Serialize;

use crate::flink::{Checkpoints, Client, Error, JobId, JobOverview, JobState};
use crate::output::Styles;
use crate::render::human_duration;

/// At most this many `/checkpoints` calls at once: enough to be quick, gentle on the JobManager.
const CONCURRENT_CHECKPOINT_CALLS: usize = 8;

/// The most jobs whose checkpoints one `status` or `audit` looks up: past it (a cluster of
/// thousands of live jobs, 20,000 took 11,431 calls and 68 s), the rest are shown without their
/// checkpoint and savepoint columns, and a warning says how many.
pub const MAX_CHECKPOINT_LOOKUPS: usize = 500;

/// A snapshot of the cluster's jobs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub format_version: u32,
    pub cluster: ClusterInfo,
    pub observed_at: Timestamp,
    pub jobs: Vec<JobStatus>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    pub url: String,
    pub flink_version: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    pub id: JobId,
    pub name: String,
    pub state: JobState,
    pub tasks: Tasks,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
    /// Running time so far, or from start to end for an ended job (Flink's own `duration`).
    pub uptime_seconds: u64,
    pub latest_checkpoint: Option<CheckpointRef>,
    pub latest_savepoint: Option<SavepointRef>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Tasks {
    pub running: u32,
    /// FINISHED tasks (a source subtask without a split after a rescale); left out when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub finished: u32,
    pub total: u32,
}

impl Tasks {
    /// "3/4" or "3/4 (1 finished)".
    pub fn text(&self) -> String {
        match self.finished {
            0 => format!("{}/{}", self.running, self.total),
            f => format!("{}/{} ({f} finished)", self.running, self.total),
        }
    }

    /// See [`crate::flink::tasks_up`].
    pub fn all_up(&self) -> bool {
        crate::flink::tasks_up(self.running, self.finished, self.total)
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointRef {
    pub id: u64,
    pub completed_at: Option<Timestamp>,
    pub age_seconds: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SavepointRef {
    pub path: String,
    pub completed_at: Option<Timestamp>,
    pub age_seconds: Option<u64>,
}

/// Read the cluster's version, its jobs, and the checkpoints of the jobs that are not terminal.
pub async fn fetch(client: &Client) -> Result<StatusReport, crate::flink::Error> {
    let now = Timestamp::now().round(jiff::Unit::Millisecond).unwrap_or_else(|_| Timestamp::now());
    fetch_at(client, now).await
}

/// [`fetch`], with ages computed relative to `observed_at` (fixed in tests).
pub async fn fetch_at(client: &Client, observed_at: Timestamp) -> Result<StatusReport, crate::flink::Error> {
    let config = client.config().await?;
    let mut overview = client.jobs_overview().await?.jobs;
    // Unfinished first, then newest first; the id makes the order total.
    overview.sort_by(|a, b| {
        (a.state.is_terminal(), -a.start_time, &a.jid).cmp(&(b.state.is_terminal(), -b.start_time, &b.jid))
    });
    let live: Vec<JobId> =
        overview.iter().filter(|j| !j.state.is_terminal()).map(|j| j.jid.clone()).collect();
    let mut checkpoints = fetch_checkpoints(client, live).await;
    let jobs = overview
        .into_iter()
        .map(|job| {
            let cp = checkpoints.remove(&job.jid);
            job_status(job, cp.as_ref(), observed_at)
        })
        .collect();
    let cluster = ClusterInfo { url: client.base_url().to_owned(), flink_version: config.flink_version };
    Ok(StatusReport { format_version: 1, cluster, observed_at, jobs })
}

/// `/checkpoints` of each job (the first [`MAX_CHECKPOINT_LOOKUPS`]), at most
/// `CONCURRENT_CHECKPOINT_CALLS` at a time. A failure for one
/// job (it may have ended since the overview) leaves its columns empty instead of failing all;
/// once Flink stops answering (the network, a timeout, `--max-time`) no further lookup starts.
pub async fn fetch_checkpoints(client: &Client, jobs: Vec<JobId>) -> HashMap<JobId, Checkpoints> {
    let mut found = HashMap::new();
    if jobs.len() > MAX_CHECKPOINT_LOOKUPS {
        tracing::warn!(
            "{} jobs: the checkpoints of the first {MAX_CHECKPOINT_LOOKUPS} are looked up, the other {} are shown without",
            jobs.len(),
            jobs.len() - MAX_CHECKPOINT_LOOKUPS
        );
    }
    let asked = jobs.len().min(MAX_CHECKPOINT_LOOKUPS);
    let mut pending = jobs.into_iter().take(MAX_CHECKPOINT_LOOKUPS);
    let mut running = tokio::task::JoinSet::new();
    let mut stopped = None;
    loop {
        while running.len() < CONCURRENT_CHECKPOINT_CALLS && stopped.is_none() {
            let Some(job) = pending.next() else { break };
            let client = client.clone();
            running.spawn(async move { (client.checkpoints(&job).await, job) });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        match joined {
            Ok((Ok(cp), job)) => {
                found.insert(job, cp);
            }
            // Flink stopped answering, or the time limit ran out: the other lookups would only
            // wait as long again, one after another.
            Ok((Err(e), _)) if matches!(e, Error::OutOfTime { .. }) || e.is_transient() => {
                stopped.get_or_insert(e);
            }
            Ok((Err(e), job)) => tracing::warn!(%job, "no checkpoint information: {e}"),
            Err(e) => tracing::warn!("checkpoint lookup aborted: {e}"),
        }
    }
    if let Some(e) = stopped {
        let without = asked - found.len();
        tracing::warn!(
            "checkpoint lookups stopped ({e}): {without} of {asked} jobs are shown without checkpoints"
        );
    }
    found
}

fn job_status(job: JobOverview, cp: Option<&Checkpoints>, now: Timestamp) -> JobStatus {
    let (latest_checkpoint, latest_savepoint) = cp.map_or((None, None), |cp| latest_refs(cp, now));
    JobStatus {
        tasks: Tasks { running: job.tasks.running, finished: job.tasks.finished(), total: job.tasks.total },
        start_time: millis(job.start_time),
        end_time: millis(job.end_time),
        uptime_seconds: u64::try_from(job.duration / 1000).unwrap_or(0),
        id: job.jid,
        name: job.name,
        state: job.state,
        latest_checkpoint,
        latest_savepoint,
    }
}

/// The latest completed checkpoint and the latest savepoint in a job's `/checkpoints`, with their
/// ages relative to `now`.
pub fn latest_refs(cp: &Checkpoints, now: Timestamp) -> (Option<CheckpointRef>, Option<SavepointRef>) {
    let checkpoint = cp.latest.completed.as_ref().map(|c| {
        let completed_at = millis(c.latest_ack_timestamp);
        CheckpointRef { id: c.id, completed_at, age_seconds: age(completed_at, now) }
    });
    let savepoint = cp.latest.savepoint.as_ref().map(|s| {
        let completed_at = millis(s.latest_ack_timestamp);
        let path = s.external_path.clone().unwrap_or_default();
        SavepointRef { path, completed_at, age_seconds: age(completed_at, now) }
    });
    (checkpoint, savepoint)
}

/// Flink's epoch milliseconds; 0 and -1 mean "not set".
fn millis(ms: i64) -> Option<Timestamp> {
    if ms <= 0 { None } else { Timestamp::from_millisecond(ms).ok() }
}

fn age(at: Option<Timestamp>, now: Timestamp) -> Option<u64> {
    let secs = now.duration_since(at?).as_secs();
    Some(u64::try_from(secs).unwrap_or(0))
}

/// The job table, aligned, with the cluster in a first line; `No jobs.` when there are none.
pub fn render_text(report: &StatusReport, styles: &Styles, out: &mut impl Write) -> io::Result<()> {
    let cluster = &report.cluster;
    writeln!(out, "Flink {} at {}", crate::render::clean(&cluster.flink_version), cluster.url)?;
    if report.jobs.is_empty() {
        return writeln!(out, "No jobs.");
    }
    let header = ["JOB ID", "NAME", "STATE", "TASKS", "UPTIME", "CHECKPOINT", "SAVEPOINT"].map(String::from);
    let rows: Vec<[String; 7]> = report.jobs.iter().map(text_row).collect();
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().chain([&header]).map(|r| crate::render::cell_width(&r[i])).max().unwrap_or(0))
        .collect();
    crate::render::table_row(out, &header, &widths, |_| styles.bold)?;
    for (row, job) in rows.iter().zip(&report.jobs) {
        let state_style = state_style(job, styles);
        crate::render::table_row(out, row, &widths, |i| {
            if i == 2 { state_style } else { anstyle::Style::new() }
        })?;
    }
    Ok(())
}

fn text_row(job: &JobStatus) -> [String; 7] {
    let checkpoint =
        job.latest_checkpoint.as_ref().map_or("-".into(), |c| format!("#{}{}", c.id, ago(c.age_seconds)));
    let savepoint =
        job.latest_savepoint.as_ref().map_or("-".into(), |s| format!("{}{}", s.path, ago(s.age_seconds)));
    [
        job.id.to_string(),
        job.name.clone(),
        job.state.to_string(),
        job.tasks.text(),
        human_duration(job.uptime_seconds),
        checkpoint,
        savepoint,
    ]
}

fn ago(age: Option<u64>) -> String {
    age.map(|a| format!(" ({} ago)", human_duration(a))).unwrap_or_default()
}

/// Green when healthy (all tasks running or finished), yellow while on its way or degraded, red when failing,
/// dim when ended normally.
fn state_style(job: &JobStatus, styles: &Styles) -> anstyle::Style {
    match job.state {
        JobState::Running if job.tasks.all_up() => styles.ok,
        JobState::Failed | JobState::Failing => styles.error,
        JobState::Finished | JobState::Canceled => styles.dim,
        _ => styles.warn,
    }
}

/// The report as one pretty-printed JSON document (see the module docs for its shape).
pub fn render_json(report: &StatusReport, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

/// The status of every cluster of a fleet, each observed on its own: one that cannot be reached
/// is shown as such, the others as usual.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetStatus {
    pub format_version: u32,
    pub clusters: Vec<ClusterStatus>,
}

/// One cluster of a fleet: its name (the cluster document's) and its report or why there is none.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    pub name: String,
    #[serde(flatten)]
    pub seen: Seen,
}

/// A fleet cluster's status, or why it could not be read.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged, rename_all = "camelCase")]
pub enum Seen {
    Reachable {
        reachable: True,
        cluster: ClusterInfo,
        #[serde(rename = "observedAt")]
        observed_at: Timestamp,
        jobs: Vec<JobStatus>,
    },
    Unreachable {
        reachable: False,
        url: String,
        error: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        hint: Option<String>,
    },
}

/// `true` in JSON, always (a tag for [`Seen`]).
#[derive(Debug, Clone, Copy)]
pub struct True;
/// `false` in JSON, always.
#[derive(Debug, Clone, Copy)]
pub struct False;

impl Serialize for True {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(true)
    }
}

impl Serialize for False {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(false)
    }
}

impl ClusterStatus {
    /// A cluster observed.
    pub fn reachable(name: &str, report: StatusReport) -> Self {
        let StatusReport { cluster, observed_at, jobs, .. } = report;
        Self { name: name.to_owned(), seen: Seen::Reachable { reachable: True, cluster, observed_at, jobs } }
    }

    /// A cluster that could not be observed: its URL, the error and its fix.
    pub fn unreachable(name: &str, url: &str, error: String, hint: Option<String>) -> Self {
        Self {
            name: name.to_owned(),
            seen: Seen::Unreachable { reachable: False, url: url.to_owned(), error, hint },
        }
    }
}

impl FleetStatus {
    pub fn new(clusters: Vec<ClusterStatus>) -> Self {
        Self { format_version: 2, clusters }
    }

    /// How many clusters could not be observed.
    pub fn unreachable(&self) -> usize {
        self.clusters.iter().filter(|c| matches!(c.seen, Seen::Unreachable { .. })).count()
    }
}

/// Each cluster under its name: its job table as [`render_text`] writes it, or why it could not
/// be observed; a blank line between clusters.
pub fn render_fleet_text(fleet: &FleetStatus, styles: &Styles, out: &mut impl Write) -> io::Result<()> {
    for (i, c) in fleet.clusters.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}cluster {}{}", styles.bold.render(), c.name, styles.bold.render_reset())?;
        match &c.seen {
            Seen::Reachable { cluster, observed_at, jobs, .. } => {
                let report = StatusReport {
                    format_version: 1,
                    cluster: cluster.clone(),
                    observed_at: *observed_at,
                    jobs: jobs.clone(),
                };
                render_text(&report, styles, out)?;
            }
            Seen::Unreachable { url, error, hint, .. } => {
                let (e, reset) = (styles.error.render(), styles.error.render_reset());
                writeln!(out, "{e}not reachable{reset} at {url}: {error}")?;
                if let Some(hint) = hint {
                    writeln!(out, "  hint: {hint}")?;
                }
            }
        }
    }
    Ok(())
}

/// The fleet as one pretty-printed JSON document (format version 2, see the module docs).
pub fn render_fleet_json(fleet: &FleetStatus, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, fleet)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_job_with_a_finished_source_subtask_is_healthy() {
        let overview: JobOverview = serde_json::from_value(serde_json::json!({
            "jid": "0123456789abcdef0123456789abcdef", "name": "orders", "state": "RUNNING",
            "start-time": 1_000, "end-time": -1, "duration": 5_000, "last-modification": 1_000,
            "tasks": { "total": 4, "running": 3, "finished": 1 }
        }))
        .unwrap();
        let status = job_status(overview, None, Timestamp::UNIX_EPOCH);
        assert!(status.tasks.all_up());
        assert_eq!(status.tasks.text(), "3/4 (1 finished)");
        let json = serde_json::to_value(status.tasks).unwrap();
        assert_eq!(json, serde_json::json!({ "running": 3, "finished": 1, "total": 4 }));
        let short = Tasks { running: 3, finished: 0, total: 4 };
        assert!(!short.all_up(), "a task missing is not healthy");
        assert_eq!(serde_json::to_value(short).unwrap(), serde_json::json!({ "running": 3, "total": 4 }));
    }

    #[test]
    fn unset_flink_timestamps_are_absent() {
        assert!(millis(-1).is_none());
        assert!(millis(0).is_none());
        assert_eq!(millis(1_000).unwrap().as_second(), 1);
    }

    #[test]
    fn a_fleet_shows_each_cluster_under_its_name_and_one_that_cannot_be_reached_as_such() {
        let at = Timestamp::UNIX_EPOCH;
        let report = StatusReport {
            format_version: 1,
            cluster: ClusterInfo { url: "http://127.0.0.1:1".into(), flink_version: "2.3.0".into() },
            observed_at: at,
            jobs: Vec::new(),
        };
        let fleet = FleetStatus::new(vec![
            ClusterStatus::reachable("eu", report),
            ClusterStatus::unreachable(
                "us",
                "http://127.0.0.1:2",
                "connection refused".into(),
                Some("start it".into()),
            ),
        ]);
        assert_eq!(fleet.unreachable(), 1);
        let mut text = Vec::new();
        render_fleet_text(&fleet, &Styles::plain(), &mut text).unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "cluster eu\nFlink 2.3.0 at http://127.0.0.1:1\nNo jobs.\n\n\
             cluster us\nnot reachable at http://127.0.0.1:2: connection refused\n  hint: start it\n"
        );
        let json = serde_json::to_value(&fleet).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "formatVersion": 2, "clusters": [
                { "name": "eu", "reachable": true,
                  "cluster": { "url": "http://127.0.0.1:1", "flinkVersion": "2.3.0" },
                  "observedAt": "1970-01-01T00:00:00Z", "jobs": [] },
                { "name": "us", "reachable": false, "url": "http://127.0.0.1:2",
                  "error": "connection refused", "hint": "start it" },
            ]})
        );
    }
}

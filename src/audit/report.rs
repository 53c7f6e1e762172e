//! The audit's pure part: from a plan, the specs, the ledger and Flink's checkpoint statistics to
//! one row per spec and per live job no spec covers, each with a status, findings that say what to
//! do, and a severity.
//!
//! No I/O, no clock, no async: `now` and the thresholds come in, so the same observations give the
//! same report. It must not re-decide what the planner decides (which live job belongs to which
//! spec, what counts as drift): it reads the plan's verdicts and only adds ages and severities.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::cli::Severity;
use crate::flink::{JobId, JobState};
use crate::ledger::{Record, SavepointReason};
use crate::plan::model::LiveRef;
use crate::plan::{Action, ClusterRef, JobPlan, Plan, Problem, Restore};
use crate::spec::model::{JobState as SpecState, UpgradeMode};
use crate::spec::{Desired, Job};
use crate::status::{CheckpointRef, SavepointRef, Tasks};

/// The version of the JSON document; fields are only ever added within a version.
pub const FORMAT_VERSION: u32 = 1;

/// The ages above which a stateful job gets a warning.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub max_savepoint_age: Duration,
    pub max_checkpoint_age: Duration,
}

/// What Flink's checkpoint statistics (`GET /jobs/:id/checkpoints`) say about one job.
#[derive(Debug, Clone, Default)]
pub struct FlinkSnapshots {
    pub checkpoint: Option<CheckpointRef>,
    pub savepoint: Option<SavepointRef>,
}

/// Everything the audit looks at, observed at `now`.
#[derive(Debug, Clone, Copy)]
pub struct Observations<'a> {
    /// The plan with default options (no prune, no adopt), its `cluster` set.
    pub plan: &'a Plan,
    pub desired: &'a Desired,
    pub ledger: &'a BTreeMap<String, Record>,
    /// By job id, for the jobs whose statistics could be read.
    pub flink: &'a HashMap<JobId, FlinkSnapshots>,
    pub now: Timestamp,
}

/// The audit report; its JSON form is `audit -o json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub format_version: u32,
    pub cluster: Option<ClusterRef>,
    pub observed_at: Timestamp,
    pub fail_on: Severity,
    pub jobs: Vec<Row>,
    pub summary: Summary,
}

/// One spec, orphan or unmanaged job.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub name: String,
    pub status: Status,
    /// The highest severity of its findings.
    pub severity: Severity,
    /// Most severe first.
    pub findings: Vec<Finding>,
    pub live: Option<Live>,
    pub latest_savepoint: Option<Savepoint>,
    pub latest_checkpoint: Option<Checkpoint>,
    /// The savepoint history in the ledger against the spec's retention (specs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// The spec's `savepoint.every` in seconds, when set: a newest savepoint older than twice
    /// this is a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub savepoint_every_seconds: Option<u64>,
}

/// How many savepoints the ledger holds for a spec, and how many `savepoint.retain` keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    /// Savepoints in the history (retained checkpoints are not counted).
    pub recorded: usize,
    /// `savepoint.retain.count` in effect (the default 5 when nothing is set); absent: no limit.
    pub keep_count: Option<u32>,
    /// `savepoint.retain.maxAge` in seconds, when set.
    pub max_age_seconds: Option<u64>,
}

/// What is wrong (or right) with a job, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub message: String,
}

/// The live job a row is about (for a job that is not running: the last one that ended).
#[derive(Debug, Clone, Serialize)]
pub struct Live {
    pub id: JobId,
    pub state: JobState,
    pub tasks: Tasks,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Savepoint {
    pub path: String,
    /// `null` when the time it was taken is unknown.
    pub age_seconds: Option<u64>,
    pub source: SavepointSource,
}

/// Who knows about a savepoint: the ledger (flinkops took it) or Flink's statistics of the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SavepointSource {
    Ledger,
    Flink,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub id: u64,
    pub age_seconds: Option<u64>,
}

/// Rows per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub ok: usize,
    pub warn: usize,
    pub error: usize,
}

/// What a row's job is doing compared with its spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The live job runs the spec, healthy.
    InSync,
    /// The live job runs the spec; settings that only decide how flinkops acts changed.
    SettingsChanged,
    /// The live job runs another version of the spec, or runs although the spec says suspended.
    Drifted,
    Restarting,
    /// Active but not healthy: not all tasks running, failing, cancelling, starting.
    Degraded,
    Failed,
    /// Cancelled outside flinkops.
    Cancelled,
    /// Finished although the spec says running.
    Finished,
    /// Deployed before, and now gone even from the cluster's job history.
    NotRunning,
    NotDeployed,
    Suspended,
    /// A managed job whose spec is gone.
    Orphan,
    /// A job flinkops did not start.
    Unmanaged,
    /// Something apply will not act on (two live jobs for one spec, a namesake unmanaged job).
    Conflict,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InSync => "in-sync",
            Status::SettingsChanged => "settings-changed",
            Status::Drifted => "drifted",
            Status::Restarting => "restarting",
            Status::Degraded => "degraded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Finished => "finished",
            Status::NotRunning => "not-running",
            Status::NotDeployed => "not-deployed",
            Status::Suspended => "suspended",
            Status::Orphan => "orphan",
            Status::Unmanaged => "unmanaged",
            Status::Conflict => "conflict",
        }
    }
}

impl Report {
    /// Whether any row reaches `fail_on` (exit code 2).
    pub fn fails(&self) -> bool {
        self.jobs.iter().any(|j| j.severity >= self.fail_on)
    }
}

/// The report: the plan's jobs (specs and orphans) in name order, then the unmanaged jobs that no
/// spec row already shows.
pub fn build(obs: &Observations, limits: &Thresholds, fail_on: Severity) -> Report {
    let mut jobs: Vec<Row> = obs.plan.jobs.iter().map(|p| planned_row(p, obs, limits)).collect();
    let shown: HashSet<&JobId> =
        obs.plan.jobs.iter().filter_map(|p| p.live.as_ref().map(|l| &l.id)).collect();
    let mut unmanaged: Vec<&LiveRef> = obs.plan.unmanaged.iter().filter(|u| !shown.contains(&u.id)).collect();
    unmanaged.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    jobs.extend(unmanaged.into_iter().map(|u| unmanaged_row(u, obs)));
    Report {
        format_version: FORMAT_VERSION,
        cluster: obs.plan.cluster.clone(),
        observed_at: obs.now,
        fail_on,
        summary: summarise(&jobs),
        jobs,
    }
}

fn summarise(rows: &[Row]) -> Summary {
    let mut s = Summary::default();
    for r in rows {
        match r.severity {
            Severity::Ok => s.ok += 1,
            Severity::Warn => s.warn += 1,
            Severity::Error => s.error += 1,
        }
    }
    s
}

fn planned_row(p: &JobPlan, obs: &Observations, limits: &Thresholds) -> Row {
    let spec = obs.desired.jobs.get(&p.name);
    let record = obs.ledger.get(&p.name);
    let flink = p.live.as_ref().and_then(|l| obs.flink.get(&l.id));
    let problems = problems_naming(obs.plan, &p.name);
    let (status, mut findings) = classify(p, spec, record, &problems);
    if let Some(blocker) = &p.blocked_by {
        findings.push(warn(format!("apply will not start it: {blocker}")));
    }
    let savepoint = latest_savepoint(record, flink.and_then(|f| f.savepoint.as_ref()), obs.now);
    let checkpoint = latest_checkpoint(flink, obs.now);
    if let Some(spec) = spec {
        let state = StateSeen { savepoint: savepoint.as_ref(), checkpoint: checkpoint.as_ref() };
        findings.extend(state_findings(spec, p, status, state, limits));
    }
    let mut r = row(p.name.clone(), status, findings, p.live.as_ref(), savepoint, checkpoint);
    r.retention = spec.map(|s| Retention {
        recorded: record.map_or(0, |r| {
            r.savepoints.iter().filter(|s| s.reason != SavepointReason::RetainedCheckpoint).count()
        }),
        keep_count: crate::spec::model::RetainSpec::count(s.savepoint.retain.as_ref()),
        max_age_seconds: s
            .savepoint
            .retain
            .as_ref()
            .and_then(|r| r.max_age.as_ref())
            .map(|a| a.value.as_std().as_secs()),
    });
    r.savepoint_every_seconds =
        spec.and_then(|s| s.savepoint.every.as_ref()).map(|e| e.value.as_std().as_secs());
    r
}

fn unmanaged_row(u: &LiveRef, obs: &Observations) -> Row {
    let flink = obs.flink.get(&u.id);
    let savepoint = latest_savepoint(None, flink.and_then(|f| f.savepoint.as_ref()), obs.now);
    let findings = vec![ok("not started by flinkops: left alone")];
    row(u.name.clone(), Status::Unmanaged, findings, Some(u), savepoint, latest_checkpoint(flink, obs.now))
}

fn row(
    name: String,
    status: Status,
    mut findings: Vec<Finding>,
    live: Option<&LiveRef>,
    latest_savepoint: Option<Savepoint>,
    latest_checkpoint: Option<Checkpoint>,
) -> Row {
    // Stable: equal severities keep the order they were found in (the status first).
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let severity = findings.first().map_or(Severity::Ok, |f| f.severity);
    let live = live.map(|l| Live {
        id: l.id.clone(),
        state: l.state,
        tasks: Tasks { running: l.tasks_running, finished: l.tasks_finished, total: l.tasks_total },
    });
    Row {
        name,
        status,
        severity,
        findings,
        live,
        latest_savepoint,
        latest_checkpoint,
        retention: None,
        savepoint_every_seconds: None,
    }
}

/// The planner's problems about this job: conflicts, shared id tags.
fn problems_naming<'p>(plan: &'p Plan, name: &str) -> Vec<&'p Problem> {
    plan.problems.iter().filter(|p| p.names(name)).collect()
}

/// The status and its findings: the plan's verdict, the planner's problems naming the job, and
/// the health of its live job when the verdict is about something else (a drifted job that also
/// restarts).
fn classify(
    p: &JobPlan,
    spec: Option<&Job>,
    record: Option<&Record>,
    problems: &[&Problem],
) -> (Status, Vec<Finding>) {
    let unhealthy = p.live.as_ref().and_then(unhealthy);
    let (status, first) = verdict(p, spec, record, unhealthy.clone());
    let mut findings = if status == Status::Conflict && !problems.is_empty() { vec![] } else { vec![first] };
    findings.extend(problems.iter().map(|p| error(p.to_string())));
    if status != Status::Conflict
        && let Some((s, finding)) = unhealthy
        && s != status
    {
        findings.push(finding);
    }
    (status, findings)
}

/// What the plan's action says about the job, as a status and its main finding.
fn verdict(
    p: &JobPlan,
    spec: Option<&Job>,
    record: Option<&Record>,
    unhealthy: Option<(Status, Finding)>,
) -> (Status, Finding) {
    match p.action {
        Action::None if spec.is_some_and(|s| s.state == SpecState::Suspended) => {
            (Status::Suspended, ok(p.reason.to_string()))
        }
        Action::None => unhealthy.unwrap_or_else(|| (Status::InSync, ok("runs the spec"))),
        Action::UpdateSettings => (Status::SettingsChanged, warn(settings_changed(p))),
        Action::Upgrade { .. } => (Status::Drifted, warn(another_version(p))),
        Action::Confirm => (
            Status::Drifted,
            warn(
                "runs a new version whose health gate an interrupted run did not finish: `flinkops apply` finishes it",
            ),
        ),
        Action::Suspend => (
            Status::Drifted,
            warn("runs, but the spec says suspended: `flinkops apply` stops it with a savepoint"),
        ),
        Action::Resume => (
            Status::Suspended,
            warn(
                "suspended, but the spec says running: `flinkops apply` resumes it from its suspension savepoint",
            ),
        ),
        Action::Deploy => not_running(p),
        Action::Rename => (
            Status::Drifted,
            warn(
                "renamed (previousNames): its old name's job runs; `flinkops apply` moves it to this name with a savepoint",
            ),
        ),
        Action::Move => (
            Status::Drifted,
            warn(
                "its `cluster:` changed: it runs on its old cluster; `flinkops apply` moves it with a savepoint",
            ),
        ),
        Action::Orphan | Action::Stop => (Status::Orphan, warn(orphan(record.is_some()))),
        Action::Conflict | Action::Adopt => (Status::Conflict, error(p.reason.to_string())),
        // Audit plans without --target / --exclude; a skipped job is never called in sync.
        Action::Skipped => (Status::Conflict, warn(p.reason.to_string())),
    }
}

/// An active live job that is not running all its tasks.
fn unhealthy(live: &LiveRef) -> Option<(Status, Finding)> {
    let tasks = live.tasks();
    if live.state.is_terminal() || live.all_tasks_up() {
        return None;
    }
    Some(match live.state {
        JobState::Restarting => (
            Status::Restarting,
            warn(format!("restarting ({tasks}): look at its exceptions in the Flink UI")),
        ),
        JobState::Running => {
            (Status::Degraded, warn(format!("only {tasks}: are there enough free task slots?")))
        }
        state => (Status::Degraded, warn(format!("{state} with {tasks}: not healthy"))),
    })
}

fn settings_changed(p: &JobPlan) -> String {
    let fields: Vec<&str> = p.changes.iter().map(|c| c.field.as_str()).collect();
    format!(
        "only settings changed ({}): `flinkops apply` records them, the job is not touched",
        fields.join(", ")
    )
}

fn another_version(p: &JobPlan) -> String {
    let fields: Vec<&str> =
        p.changes.iter().filter(|c| c.forces_redeploy).map(|c| c.field.as_str()).collect();
    let what = if fields.is_empty() { String::new() } else { format!(" ({} changed)", fields.join(", ")) };
    format!("runs another version of the spec{what}: `flinkops apply` upgrades it")
}

/// A spec with no live job (the plan deploys it).
fn not_running(p: &JobPlan) -> (Status, Finding) {
    let how = match &p.restore {
        Some(Restore::Empty { why }) => format!("`flinkops apply` starts it again, empty ({why})"),
        _ => "`flinkops apply` redeploys it from its latest state".to_string(),
    };
    match (&p.drift, p.live.as_ref().map(|l| l.state)) {
        (None, _) => (Status::NotDeployed, warn("not deployed yet: `flinkops apply` deploys it")),
        (Some(_), Some(JobState::Failed)) => (Status::Failed, error(format!("failed: {how}"))),
        (Some(_), Some(JobState::Canceled)) => {
            (Status::Cancelled, error(format!("cancelled outside flinkops: {how}")))
        }
        (Some(_), Some(_)) => {
            (Status::Finished, error(format!("finished, but the spec says running: {how}")))
        }
        (Some(_), None) => (
            Status::NotRunning,
            error(format!("not running, and gone from the cluster's job history: {how}")),
        ),
    }
}

fn orphan(in_ledger: bool) -> &'static str {
    if in_ledger {
        "its spec is gone, it still runs: `flinkops apply --prune` stops it with a savepoint (or restore the spec)"
    } else {
        "started by flinkops, but not from this state directory: find the spec directory that owns it"
    }
}

/// The latest savepoint and checkpoint a row shows.
#[derive(Clone, Copy)]
struct StateSeen<'a> {
    savepoint: Option<&'a Savepoint>,
    checkpoint: Option<&'a Checkpoint>,
}

/// Old or missing savepoints and checkpoints of a stateful job the spec wants running, while its
/// job is live: only then does its state move on from the last snapshot. A job that is not running
/// already has its own finding, which says where `apply` restarts it from; a suspended job's
/// state is its suspension savepoint, which does not age; a conflict's live job is not ours.
fn state_findings(
    spec: &Job,
    p: &JobPlan,
    status: Status,
    seen: StateSeen,
    limits: &Thresholds,
) -> Vec<Finding> {
    let stateful = spec.upgrade_mode != UpgradeMode::Stateless && spec.state == SpecState::Running;
    let Some(live) = p.live.as_ref().filter(|l| !l.state.is_terminal()) else {
        return Vec::new();
    };
    if !stateful || status == Status::Conflict {
        return Vec::new();
    }
    let every = spec.savepoint.every.as_ref().map(|e| e.value.as_std());
    let periodic = every.and_then(|every| periodic_finding(&spec.name, seen.savepoint, every));
    let mut out: Vec<Finding> = match periodic {
        Some(f) => vec![f],
        None => savepoint_finding(&spec.name, seen.savepoint, limits.max_savepoint_age).into_iter().collect(),
    };
    if live.state == JobState::Running {
        out.extend(checkpoint_finding(seen.checkpoint, limits.max_checkpoint_age));
    }
    out
}

fn savepoint_finding(name: &str, savepoint: Option<&Savepoint>, max: Duration) -> Option<Finding> {
    let Some(savepoint) = savepoint else {
        return Some(warn(format!(
            "no savepoint yet: take one (`flinkops savepoint --job {name}`) so its state can be restored"
        )));
    };
    let age = savepoint.age_seconds.filter(|age| *age > max.as_secs())?;
    Some(warn(format!(
        "latest savepoint is {} old (more than {}): take a new one (`flinkops savepoint --job {name}`)",
        human(age),
        human(max.as_secs())
    )))
}

/// A job with `savepoint.every` whose newest savepoint is older than twice the interval: the
/// periodic savepoints are not being taken (watch is not running, or they fail).
fn periodic_finding(name: &str, savepoint: Option<&Savepoint>, every: Duration) -> Option<Finding> {
    let age = savepoint?.age_seconds.filter(|age| *age > 2 * every.as_secs())?;
    Some(warn(format!(
        "latest savepoint is {} old, more than twice its savepoint.every ({}): periodic savepoints are not being \
         taken (is `flinkops watch` running? its log and flinkops_periodic_savepoints_total say why); take one now \
         (`flinkops savepoint --job {name}`)",
        human(age),
        human(every.as_secs())
    )))
}

/// No finding without any completed checkpoint: checkpointing may be off on purpose, or the job
/// has only just started; the table shows `-`.
fn checkpoint_finding(checkpoint: Option<&Checkpoint>, max: Duration) -> Option<Finding> {
    let age = checkpoint?.age_seconds.filter(|age| *age > max.as_secs())?;
    Some(warn(format!(
        "latest checkpoint is {} old (more than {}): checkpoints fail or take too long; see the job's Checkpoints tab",
        human(age),
        human(max.as_secs())
    )))
}

/// The newer of the latest savepoint flinkops recorded and the one Flink reports for the job.
/// Retained checkpoints in the ledger (a `last-state` upgrade's) are not savepoints, and one
/// being disposed of is no longer one (as for the schedule and `/metrics`).
fn latest_savepoint(
    record: Option<&Record>,
    flink: Option<&SavepointRef>,
    now: Timestamp,
) -> Option<Savepoint> {
    let ledger = record
        .and_then(Record::newest_savepoint)
        .map(|s| (s.path.clone(), s.taken_at.parse::<Timestamp>().ok(), SavepointSource::Ledger));
    let flink = flink.map(|s| (s.path.clone(), s.completed_at, SavepointSource::Flink));
    let (path, at, source) = [ledger, flink].into_iter().flatten().max_by_key(|(_, at, _)| *at)?;
    Some(Savepoint { path, age_seconds: at.map(|at| age(at, now)), source })
}

fn latest_checkpoint(flink: Option<&FlinkSnapshots>, now: Timestamp) -> Option<Checkpoint> {
    let c = flink?.checkpoint.as_ref()?;
    Some(Checkpoint { id: c.id, age_seconds: c.completed_at.map(|at| age(at, now)) })
}

/// Whole seconds from `at` to `now`; 0 when `at` is in the future (clock skew).
fn age(at: Timestamp, now: Timestamp) -> u64 {
    u64::try_from(now.duration_since(at).as_secs()).unwrap_or(0)
}

/// `45s`, `3m 12s`, `3h 12m`, `5d`, `4d 3h`: the two largest units, a zero second one left out.
pub fn human(secs: u64) -> String {
    let units = [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")];
    let Some(first) = units.iter().position(|(size, _)| secs >= *size) else {
        return "0s".into();
    };
    let (size, unit) = units[first];
    let mut out = format!("{}{unit}", secs / size);
    if let Some((next, next_unit)) = units.get(first + 1) {
        let rest = secs % size / next;
        if rest > 0 {
            out.push_str(&format!(" {rest}{next_unit}"));
        }
    }
    out
}

fn ok(message: impl Into<String>) -> Finding {
    Finding { severity: Severity::Ok, message: message.into() }
}

fn warn(message: impl Into<String>) -> Finding {
    Finding { severity: Severity::Warn, message: message.into() }
}

fn error(message: impl Into<String>) -> Finding {
    Finding { severity: Severity::Error, message: message.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::SavepointRecord;
    use crate::plan::fixtures::*;
    use crate::plan::{LiveJob, Observed, Options};

    const NOW: &str = "2026-01-10T00:00:00Z";
    const HOUR: u64 = 3600;
    const DAY: u64 = 86_400;

    fn limits() -> Thresholds {
        Thresholds {
            max_savepoint_age: Duration::from_secs(7 * DAY),
            max_checkpoint_age: Duration::from_secs(HOUR),
        }
    }

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    fn ago(secs: u64) -> Timestamp {
        now() - jiff::SignedDuration::from_secs(secs as i64)
    }

    /// The observations of one test, built up step by step.
    #[derive(Default)]
    struct World {
        desired: Vec<Job>,
        live: Vec<LiveJob>,
        records: Vec<Record>,
        flink: HashMap<JobId, FlinkSnapshots>,
    }

    impl World {
        fn spec(mut self, job: Job) -> Self {
            self.desired.push(job);
            self
        }
        fn live(mut self, live: LiveJob) -> Self {
            self.live.push(live);
            self
        }
        fn record(mut self, record: Record) -> Self {
            self.records.push(record);
            self
        }
        /// Flink's statistics for `id`: a checkpoint and a savepoint this old (in seconds).
        fn flink(mut self, id: &JobId, checkpoint: Option<u64>, savepoint: Option<u64>) -> Self {
            let snapshots = FlinkSnapshots {
                checkpoint: checkpoint.map(|a| CheckpointRef {
                    id: 7,
                    completed_at: Some(ago(a)),
                    age_seconds: None,
                }),
                savepoint: savepoint.map(|a| SavepointRef {
                    path: "file:/sp/flink".into(),
                    completed_at: Some(ago(a)),
                    age_seconds: None,
                }),
            };
            self.flink.insert(id.clone(), snapshots);
            self
        }
        fn report(&self, fail_on: Severity) -> Report {
            let desired = desired(self.desired.clone());
            let ledger = ledger(self.records.clone());
            let plan = crate::plan::plan(
                &desired,
                &Observed { jobs: self.live.clone(), ..Default::default() },
                &ledger,
                &Options::default(),
            );
            let obs = Observations {
                plan: &plan,
                desired: &desired,
                ledger: &ledger,
                flink: &self.flink,
                now: now(),
            };
            build(&obs, &limits(), fail_on)
        }
        fn row(&self, name: &str) -> Row {
            let report = self.report(Severity::Error);
            report.jobs.into_iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no row {name}"))
        }
    }

    /// A ledger record of `job` with a savepoint taken `secs` ago.
    fn with_savepoint(mut record: Record, secs: u64, reason: SavepointReason) -> Record {
        record.savepoints.push(SavepointRecord::new("file:/sp/ledger", None, ago(secs).to_string(), reason));
        record
    }

    /// A running job of `spec` with a fresh savepoint (ledger) and checkpoint (Flink): nothing to say.
    fn healthy(spec: &Job) -> World {
        let live = live_of(spec, 1, JobState::Running);
        World::default().spec(spec.clone()).flink(&live.id, Some(60), None).live(live).record(with_savepoint(
            record_of(spec),
            DAY,
            SavepointReason::Upgrade,
        ))
    }

    fn messages(row: &Row) -> String {
        row.findings.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join(" | ")
    }

    #[test]
    fn a_job_running_its_spec_with_fresh_state_is_in_sync_and_ok() {
        let row = healthy(&job("orders")).row("orders");
        assert_eq!((row.status, row.severity), (Status::InSync, Severity::Ok), "{}", messages(&row));
        assert_eq!(row.findings, [ok("runs the spec")]);
        let live = row.live.unwrap();
        assert_eq!((live.state, live.tasks.running, live.tasks.total), (JobState::Running, 1, 1));
        assert_eq!(row.latest_checkpoint.unwrap().age_seconds, Some(60));
    }

    #[test]
    fn a_job_running_another_version_is_drifted_and_says_to_apply() {
        let old = job("orders");
        let live = live_of(&old, 1, JobState::Running);
        let w = World::default()
            .spec(job("orders").with_parallelism(4))
            .flink(&live.id, Some(60), Some(HOUR))
            .live(live)
            .record(record_of(&old));
        let row = w.row("orders");
        assert_eq!((row.status, row.severity), (Status::Drifted, Severity::Warn));
        assert_eq!(
            row.findings[0].message,
            "runs another version of the spec (parallelism changed): `flinkops apply` upgrades it"
        );
    }

    #[test]
    fn only_changed_settings_are_a_warning_naming_the_fields() {
        let old = job("orders");
        let mut new = job("orders");
        new.health.stable_for.value = crate::spec::model::Duration::seconds(60);
        let mut w = healthy(&old);
        w.desired = vec![new];
        let row = w.row("orders");
        assert_eq!((row.status, row.severity), (Status::SettingsChanged, Severity::Warn));
        assert!(row.findings[0].message.contains("(health.stableFor)"), "{}", messages(&row));
    }

    #[test]
    fn a_failed_job_is_an_error_that_apply_redeploys_from_its_latest_state() {
        let spec = job("orders");
        let w = World::default().spec(spec.clone()).live(live_of(&spec, 1, JobState::Failed));
        let row = w.row("orders");
        assert_eq!((row.status, row.severity), (Status::Failed, Severity::Error));
        assert_eq!(row.findings, [error("failed: `flinkops apply` redeploys it from its latest state")]);
        assert_eq!(row.live.unwrap().state, JobState::Failed, "the ended job is shown");
    }

    #[test]
    fn a_job_cancelled_outside_flinkops_is_an_error() {
        let spec = job("orders");
        let row =
            World::default().spec(spec.clone()).live(live_of(&spec, 1, JobState::Canceled)).row("orders");
        assert_eq!((row.status, row.severity), (Status::Cancelled, Severity::Error));
        assert!(row.findings[0].message.starts_with("cancelled outside flinkops: `flinkops apply`"));
    }

    #[test]
    fn a_stateless_job_that_ended_is_said_to_start_again_empty() {
        let spec = job("orders").mode(UpgradeMode::Stateless);
        let row =
            World::default().spec(spec.clone()).live(live_of(&spec, 1, JobState::Finished)).row("orders");
        assert_eq!((row.status, row.severity), (Status::Finished, Severity::Error));
        assert_eq!(
            row.findings[0].message,
            "finished, but the spec says running: `flinkops apply` starts it again, empty (upgradeMode: stateless)"
        );
        assert_eq!(row.findings.len(), 1, "no savepoint finding for a stateless job: {}", messages(&row));
    }

    #[test]
    fn a_deployed_job_gone_from_the_job_history_is_an_error() {
        let spec = job("orders");
        let mut record = with_savepoint(record_of(&spec), HOUR, SavepointReason::Upgrade);
        record.job_id = Some(live_of(&spec, 1, JobState::Running).id);
        let row = World::default().spec(spec).record(record).row("orders");
        assert_eq!((row.status, row.severity), (Status::NotRunning, Severity::Error));
        assert_eq!(row.findings.len(), 1, "its state does not age while it does not run: {}", messages(&row));
        assert!(row.live.is_none());
        assert_eq!(row.latest_savepoint.unwrap().source, SavepointSource::Ledger);
    }

    #[test]
    fn a_spec_never_deployed_is_a_warning_without_state_findings() {
        let row = World::default().spec(job("orders")).row("orders");
        assert_eq!((row.status, row.severity), (Status::NotDeployed, Severity::Warn));
        assert_eq!(row.findings, [warn("not deployed yet: `flinkops apply` deploys it")]);
    }

    #[test]
    fn a_start_waiting_for_a_suspended_job_says_apply_will_not_start_it() {
        let w = World::default().spec(job("ingest").suspended()).spec(job("enrich").after(&["ingest"]));
        let row = w.row("enrich");
        assert_eq!(row.status, Status::NotDeployed);
        assert!(
            messages(&row).contains("apply will not start it: `ingest` is suspended"),
            "{}",
            messages(&row)
        );
    }

    #[test]
    fn a_restarting_job_is_a_warning() {
        let spec = job("orders");
        let mut w = healthy(&spec);
        w.live = vec![live_of(&spec, 1, JobState::Restarting)];
        let row = w.row("orders");
        assert_eq!((row.status, row.severity), (Status::Restarting, Severity::Warn));
        assert!(row.findings[0].message.starts_with("restarting (0/1 tasks running)"), "{}", messages(&row));
    }

    #[test]
    fn a_running_job_missing_tasks_is_degraded() {
        let spec = job("orders");
        let mut live = live_of(&spec, 1, JobState::Running);
        (live.tasks_running, live.tasks_total) = (1, 2);
        let mut w = healthy(&spec);
        w.live = vec![live];
        let row = w.row("orders");
        assert_eq!((row.status, row.severity), (Status::Degraded, Severity::Warn));
        assert!(row.findings[0].message.starts_with("only 1/2 tasks running"), "{}", messages(&row));
    }

    #[test]
    fn a_rescaled_job_with_a_finished_source_subtask_is_in_sync() {
        let spec = job("orders");
        let mut live = live_of(&spec, 1, JobState::Running);
        (live.tasks_running, live.tasks_finished, live.tasks_total) = (3, 1, 4);
        let mut w = healthy(&spec);
        w.live = vec![live];
        let row = w.row("orders");
        assert_eq!((row.status, row.severity), (Status::InSync, Severity::Ok), "{}", messages(&row));
    }

    #[test]
    fn a_drifted_job_that_also_restarts_reports_both() {
        let old = job("orders");
        let w = World::default()
            .spec(job("orders").with_parallelism(2))
            .live(live_of(&old, 1, JobState::Restarting))
            .record(with_savepoint(record_of(&old), HOUR, SavepointReason::Upgrade));
        let row = w.row("orders");
        assert_eq!(row.status, Status::Drifted);
        assert!(messages(&row).contains("restarting"), "{}", messages(&row));
    }

    #[test]
    fn a_job_suspended_as_the_spec_says_is_ok_however_old_its_savepoint() {
        let running = job("orders");
        let mut record = with_savepoint(record_of(&running), 90 * DAY, SavepointReason::Suspend);
        record.applied = Some(crate::ledger::AppliedSpec::of(&job("orders").suspended()));
        let row = World::default().spec(job("orders").suspended()).record(record).row("orders");
        assert_eq!((row.status, row.severity), (Status::Suspended, Severity::Ok), "{}", messages(&row));
        assert_eq!(row.findings, [ok("suspended, as the spec says")]);
    }

    #[test]
    fn a_suspended_job_the_spec_wants_running_again_is_a_warning() {
        let mut record = with_savepoint(record_of(&job("orders")), 90 * DAY, SavepointReason::Suspend);
        record.applied = Some(crate::ledger::AppliedSpec::of(&job("orders").suspended()));
        let row = World::default().spec(job("orders")).record(record).row("orders");
        assert_eq!((row.status, row.severity), (Status::Suspended, Severity::Warn));
        assert_eq!(row.findings.len(), 1, "its suspension savepoint does not age: {}", messages(&row));
        assert!(row.findings[0].message.contains("resumes it"));
    }

    #[test]
    fn a_running_job_the_spec_suspends_is_drifted() {
        let spec = job("orders");
        let mut w = healthy(&spec);
        w.desired = vec![job("orders").suspended()];
        let row = w.row("orders");
        assert_eq!((row.status, row.severity), (Status::Drifted, Severity::Warn));
        assert!(row.findings[0].message.contains("the spec says suspended"));
    }

    #[test]
    fn an_orphan_from_this_ledger_is_a_warning_that_names_prune() {
        let gone = job("gone");
        let w = World::default().live(live_of(&gone, 1, JobState::Running)).record(record_of(&gone));
        let row = w.row("gone");
        assert_eq!((row.status, row.severity), (Status::Orphan, Severity::Warn));
        assert!(row.findings[0].message.contains("`flinkops apply --prune`"), "{}", messages(&row));
    }

    #[test]
    fn an_orphan_from_another_state_directory_is_a_warning_that_says_so() {
        let gone = job("gone");
        let report = World::default().live(live_of(&gone, 1, JobState::Running)).report(Severity::Error);
        let row = &report.jobs[0];
        assert_eq!((row.status, row.severity), (Status::Orphan, Severity::Warn));
        assert!(row.name.starts_with("gone ("), "{}", row.name);
        assert!(row.findings[0].message.contains("not from this state directory"));
    }

    #[test]
    fn an_unmanaged_job_is_listed_once_as_ok_with_its_flink_state() {
        let other = unmanaged("clicks", 9, JobState::Running);
        let w = healthy(&job("orders")).flink(&other.id, Some(30), Some(2 * HOUR)).live(other.clone());
        let report = w.report(Severity::Warn);
        let names: Vec<&str> = report.jobs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["orders", "clicks"], "specs first, then jobs no spec covers");
        let row = &report.jobs[1];
        assert_eq!((row.status, row.severity), (Status::Unmanaged, Severity::Ok));
        assert_eq!(row.latest_savepoint.as_ref().unwrap().source, SavepointSource::Flink);
        assert!(!report.fails(), "not ours, even with --fail-on warn");
    }

    #[test]
    fn two_live_jobs_for_one_spec_are_a_conflict_error_saying_what_to_do() {
        let spec = job("orders");
        let w = World::default().spec(spec.clone()).live(live_of(&spec, 1, JobState::Running)).live(live_of(
            &spec,
            2,
            JobState::Running,
        ));
        let row = w.row("orders");
        assert_eq!((row.status, row.severity), (Status::Conflict, Severity::Error));
        assert_eq!(row.findings.len(), 1, "{}", messages(&row));
        assert!(row.findings[0].message.contains("cancel all but one by hand"));
    }

    #[test]
    fn an_unmanaged_namesake_is_a_conflict_and_not_listed_again() {
        let report = World::default()
            .spec(job("orders"))
            .live(unmanaged("orders", 9, JobState::Running))
            .report(Severity::Error);
        assert_eq!(report.jobs.len(), 1);
        assert_eq!((report.jobs[0].status, report.jobs[0].severity), (Status::Conflict, Severity::Error));
        assert!(report.jobs[0].findings[0].message.contains("--adopt"));
    }

    #[test]
    fn a_savepoint_older_than_the_limit_is_a_warning() {
        let spec = job("orders");
        let mut w = healthy(&spec);
        w.records = vec![with_savepoint(record_of(&spec), 8 * DAY, SavepointReason::Upgrade)];
        let row = w.row("orders");
        assert_eq!((row.status, row.severity), (Status::InSync, Severity::Warn));
        assert_eq!(
            row.findings[0].message,
            "latest savepoint is 8d old (more than 7d): take a new one (`flinkops savepoint --job orders`)"
        );
    }

    fn every(mut spec: Job, every: &str) -> Job {
        let d = crate::spec::read::parse_duration(every).unwrap();
        spec.savepoint.every = Some(crate::spec::model::Located::new(d, Default::default()));
        spec
    }

    #[test]
    fn a_job_whose_periodic_savepoints_stopped_gets_a_warning_after_twice_its_interval() {
        let spec = every(job("orders"), "6h");
        let mut w = healthy(&spec);
        w.records = vec![with_savepoint(record_of(&spec), 12 * HOUR, SavepointReason::Periodic)];
        let row = w.row("orders");
        assert_eq!(row.severity, Severity::Ok, "twice the interval is still fine: {}", messages(&row));
        assert_eq!(row.savepoint_every_seconds, Some(6 * HOUR));
        w.records = vec![with_savepoint(record_of(&spec), 12 * HOUR + 60, SavepointReason::Periodic)];
        let row = w.row("orders");
        assert_eq!((row.status, row.severity), (Status::InSync, Severity::Warn));
        let message = &row.findings[0].message;
        assert!(
            message.starts_with("latest savepoint is 12h 1m old, more than twice its savepoint.every (6h)"),
            "{message}"
        );
        assert!(message.ends_with("(`flinkops savepoint --job orders`)"), "{message}");
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(json["savepointEverySeconds"], 6 * HOUR);
        assert_eq!(json["findings"][0]["message"], message.as_str());
        // Past both limits (7d and twice 4d): the one finding that says why.
        let spec = every(job("orders"), "4d");
        let mut w = healthy(&spec);
        w.records = vec![with_savepoint(record_of(&spec), 9 * DAY, SavepointReason::Periodic)];
        let row = w.row("orders");
        let warnings: Vec<&Finding> = row.findings.iter().filter(|f| f.severity == Severity::Warn).collect();
        assert_eq!(warnings.len(), 1, "{}", messages(&row));
        assert!(
            warnings[0].message.contains("more than twice its savepoint.every (4d)"),
            "{}",
            messages(&row)
        );
    }

    #[test]
    fn a_savepoint_just_within_the_limit_is_fine() {
        let spec = job("orders");
        let mut w = healthy(&spec);
        w.records = vec![with_savepoint(record_of(&spec), 7 * DAY, SavepointReason::Upgrade)];
        assert_eq!(w.row("orders").severity, Severity::Ok);
    }

    #[test]
    fn a_spec_row_counts_its_recorded_savepoints_against_its_retention() {
        let spec = job("orders");
        let mut w = healthy(&spec);
        let mut record = with_savepoint(record_of(&spec), 3 * DAY, SavepointReason::Upgrade);
        record = with_savepoint(record, 2 * DAY, SavepointReason::Manual);
        record = with_savepoint(record, DAY, SavepointReason::RetainedCheckpoint);
        w.records = vec![record];
        let expected = Retention { recorded: 2, keep_count: Some(5), max_age_seconds: None };
        assert_eq!(w.row("orders").retention, Some(expected), "retained checkpoints are not counted");
    }

    #[test]
    fn a_deployed_stateful_job_without_any_savepoint_is_a_warning() {
        let spec = job("orders");
        let mut w = healthy(&spec);
        w.records = vec![record_of(&spec)];
        let row = w.row("orders");
        assert_eq!(row.severity, Severity::Warn);
        assert!(row.findings[0].message.starts_with("no savepoint yet"), "{}", messages(&row));
        assert!(row.latest_savepoint.is_none());
    }

    #[test]
    fn a_stateless_job_needs_neither_savepoints_nor_checkpoints() {
        let spec = job("orders").mode(UpgradeMode::Stateless);
        let live = live_of(&spec, 1, JobState::Running);
        let w = World::default().spec(spec.clone()).flink(&live.id, Some(DAY), None).live(live);
        assert_eq!(w.row("orders").severity, Severity::Ok);
    }

    #[test]
    fn the_newer_of_the_ledger_and_flink_savepoints_counts() {
        let spec = job("orders");
        let live = live_of(&spec, 1, JobState::Running);
        let w = healthy(&spec).flink(&live.id, Some(60), Some(HOUR));
        let row = w.row("orders");
        let sp = row.latest_savepoint.unwrap();
        assert_eq!(
            (sp.source, sp.age_seconds, sp.path.as_str()),
            (SavepointSource::Flink, Some(HOUR), "file:/sp/flink")
        );

        let mut w = healthy(&spec).flink(&live.id, Some(60), Some(30 * DAY));
        w.records = vec![with_savepoint(record_of(&spec), 2 * DAY, SavepointReason::Upgrade)];
        let sp = w.row("orders").latest_savepoint.unwrap();
        assert_eq!((sp.source, sp.age_seconds), (SavepointSource::Ledger, Some(2 * DAY)));
    }

    #[test]
    fn a_retained_checkpoint_in_the_ledger_is_not_a_savepoint() {
        let spec = job("orders");
        let mut record = with_savepoint(record_of(&spec), 10 * DAY, SavepointReason::Upgrade);
        record = with_savepoint(record, HOUR, SavepointReason::RetainedCheckpoint);
        let mut w = healthy(&spec);
        w.records = vec![record];
        let row = w.row("orders");
        assert_eq!(row.latest_savepoint.unwrap().age_seconds, Some(10 * DAY));
        assert_eq!(row.severity, Severity::Warn);
    }

    #[test]
    fn a_checkpoint_older_than_the_limit_on_a_running_job_is_a_warning() {
        let spec = job("orders");
        let live = live_of(&spec, 1, JobState::Running);
        let row = healthy(&spec).flink(&live.id, Some(2 * HOUR + 300), None).row("orders");
        assert_eq!((row.status, row.severity), (Status::InSync, Severity::Warn));
        assert!(row.findings[0].message.starts_with("latest checkpoint is 2h 5m old (more than 1h)"));
    }

    #[test]
    fn checkpoint_age_is_not_judged_when_there_is_none_or_the_job_does_not_run() {
        let spec = job("orders");
        let live = live_of(&spec, 1, JobState::Running);
        let mut none = healthy(&spec);
        none.flink.remove(&live.id);
        assert_eq!(none.row("orders").severity, Severity::Ok, "checkpointing may be off on purpose");

        let mut ended = healthy(&spec).flink(&live.id, Some(5 * DAY), None);
        ended.live = vec![live_of(&spec, 1, JobState::Failed)];
        let row = ended.row("orders");
        assert!(!messages(&row).contains("checkpoint is"), "{}", messages(&row));
    }

    #[test]
    fn fail_on_error_ignores_warnings_and_fail_on_warn_does_not() {
        let drifted = World::default().spec(job("orders"));
        assert!(!drifted.report(Severity::Error).fails());
        assert!(drifted.report(Severity::Warn).fails());
        let spec = job("orders");
        let failed = World::default().spec(spec.clone()).live(live_of(&spec, 1, JobState::Failed));
        assert!(failed.report(Severity::Error).fails());
        assert!(failed.report(Severity::Warn).fails());
        assert!(!healthy(&spec).report(Severity::Warn).fails());
    }

    #[test]
    fn the_summary_counts_rows_by_severity() {
        let spec = job("orders");
        let w = healthy(&spec)
            .spec(job("fresh"))
            .spec(job("broken"))
            .live(live_of(&job("broken"), 1, JobState::Failed))
            .live(unmanaged("other", 3, JobState::Running));
        let report = w.report(Severity::Error);
        assert_eq!(report.summary, Summary { ok: 2, warn: 1, error: 1 });
        assert_eq!(report.format_version, 1);
    }

    #[test]
    fn ages_show_their_two_largest_units_for_people() {
        assert_eq!(human(0), "0s");
        assert_eq!(human(45), "45s");
        assert_eq!(human(125), "2m 5s");
        assert_eq!(human(3 * HOUR + 12 * 60 + 9), "3h 12m");
        assert_eq!(human(5 * DAY), "5d");
        assert_eq!(human(4 * DAY + 3 * HOUR), "4d 3h");
    }
}

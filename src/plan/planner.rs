//! The planner: classify every spec and every live job, decide one action each, order them.
//!
//! Pure and deterministic: the same desired state, observations and ledger give the same plan,
//! byte for byte. Identity comes from the job ids alone (see `identity`); the ledger only adds
//! detail (field diffs, known savepoints), never changes a decision's safety.

use std::collections::BTreeMap;

use super::checks;
use super::control::{self, Control};
use super::diff;
use super::identity;
use super::model::*;
use super::observed::{LiveJob, Observed};
use super::reasons::{Changed, Note};
use super::renames;
use crate::ledger::{Pending, Record};
use crate::restore::{self, Decision};
use crate::spec::model::{JobState as SpecState, RestoreFrom, UpgradeMode};
use crate::spec::{Desired, Job, fingerprint};

/// What the user allowed beyond the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Stop (with a savepoint) managed jobs whose spec is gone.
    pub prune: bool,
    /// Take over a running unmanaged job whose Flink job name is a spec's name.
    pub adopt: bool,
    /// Which jobs this run acts on, and what it may do to them (see `control`).
    pub control: Control,
}

/// The live jobs of one spec, split by whether they still run.
struct Lives<'a> {
    active: Vec<&'a LiveJob>,
    /// The most recently ended one.
    last_ended: Option<&'a LiveJob>,
}

/// Decide what apply will do.
pub fn plan(
    desired: &Desired,
    observed: &Observed,
    ledger: &BTreeMap<String, Record>,
    opts: &Options,
) -> Plan {
    let mut problems = Vec::new();
    let (managed, unmanaged) = partition(observed);
    let tags = spec_tags(desired, &mut problems);
    let mut jobs: Vec<JobPlan> = desired
        .jobs
        .values()
        .map(|job| {
            let lives = lives(managed.get(&identity::name_tag(&job.name)));
            let record = renames::record_for(job, ledger);
            let mut p = plan_job(job, &lives, record, &unmanaged, observed, opts, &mut problems);
            match renames::claimed(job, &managed, ledger) {
                Some((old, live)) if p.action != Action::Conflict => p = renames::rename(p, old, live),
                _ => renames::note_inherited(&mut p, job, ledger),
            }
            p
        })
        .collect();
    let mut not_orphans = tags.clone();
    for tag in renames::claimed_tags(&jobs) {
        not_orphans.insert(tag, "");
    }
    jobs.extend(orphans(&managed, &not_orphans, ledger, opts));
    renames::hint_unlisted(&mut jobs, ledger);
    control::replace(&mut jobs, desired, &opts.control, &mut problems);
    control::protect(&mut jobs, desired, ledger, &opts.control, &mut problems);
    let mut warnings = Vec::new();
    for p in &mut jobs {
        check_checkpoint_age(p, desired, observed, &mut warnings);
        check_savepoint_dir(p, desired, ledger, observed, &mut problems);
        check_savepoint_timeout(p, desired, ledger, observed, &mut problems);
        if let Some(total) = observed.total_slots {
            check_slots(p, desired, total, &mut problems);
        }
        check_free_slots(p, desired, observed, &mut warnings);
    }
    jobs.sort_by(|a, b| a.name.cmp(&b.name));
    mark_blocked(&mut jobs, desired);
    control::scope(&mut jobs, desired, &opts.control);
    let waves = waves(&jobs, desired);
    let details_known = jobs.iter().filter(|j| j.action.is_change()).all(|j| ledger.contains_key(&j.name));
    let mut observed_refs: Vec<LiveRef> =
        observed.jobs.iter().filter(|j| j.is_active()).map(LiveJob::to_ref).collect();
    for j in &jobs {
        if let Some(live) = &j.live
            && !observed_refs.contains(live)
        {
            observed_refs.push(live.clone());
        }
    }
    observed_refs.sort_by(|a, b| a.id.cmp(&b.id));
    Plan {
        format_version: FORMAT_VERSION,
        cluster: None,
        specs: None,
        options: PlanOptions { prune: opts.prune, adopt: opts.adopt, control: opts.control.clone() },
        jobs,
        waves,
        unmanaged: unmanaged.iter().filter(|j| j.is_active()).map(|j| j.to_ref()).collect(),
        problems,
        warnings,
        details_known,
        observed: observed_refs,
    }
}

use renames::ByTag;

fn partition(observed: &Observed) -> (ByTag<'_>, Vec<&LiveJob>) {
    let mut managed: ByTag = BTreeMap::new();
    let mut unmanaged = Vec::new();
    for job in &observed.jobs {
        match identity::parse(&job.id) {
            Some(m) => managed.entry(m.name_tag).or_default().push(job),
            None => unmanaged.push(job),
        }
    }
    // Flink lists jobs in no promised order; the plan must not depend on it.
    unmanaged.sort_by(|a, b| a.id.cmp(&b.id));
    for jobs in managed.values_mut() {
        jobs.sort_by(|a, b| a.id.cmp(&b.id));
    }
    (managed, unmanaged)
}

/// Name tag → spec name; two names with one tag cannot be told apart in job ids.
fn spec_tags<'a>(desired: &'a Desired, problems: &mut Vec<Problem>) -> BTreeMap<String, &'a str> {
    let mut tags: BTreeMap<String, &str> = BTreeMap::new();
    for name in desired.jobs.keys() {
        if let Some(other) = tags.insert(identity::name_tag(name), name) {
            problems.push(Problem::SharedTag {
                first: other.to_string(),
                second: name.clone(),
                tag: identity::name_tag(name),
            });
        }
    }
    tags
}

fn lives<'a>(jobs: Option<&Vec<&'a LiveJob>>) -> Lives<'a> {
    let jobs = jobs.map(Vec::as_slice).unwrap_or_default();
    let active = jobs.iter().copied().filter(|j| j.is_active()).collect();
    let last_ended =
        jobs.iter().copied().filter(|j| !j.is_active()).max_by_key(|j| (j.end_time, j.id.clone()));
    Lives { active, last_ended }
}

pub(crate) fn base(job: &Job, action: Action, reason: Reason) -> JobPlan {
    JobPlan {
        name: job.name.clone(),
        action,
        reason,
        changes: Vec::new(),
        live: None,
        restore: None,
        drift: None,
        depends_on: job.depends_on.clone(),
        conflict: (action == Action::Conflict).then_some(ConflictScope::Job),
        blocked_by: None,
        would: None,
        pulled_in: None,
        replace: false,
        origin: Some(job.origin.clone()),
        renamed_from: None,
        moved_from: None,
        fingerprint: Some(job.fingerprint.0.clone()),
        legacy_fingerprint: fingerprint::legacy(job).map(|f| f.0),
    }
}

fn plan_job(
    job: &Job,
    lives: &Lives,
    record: Option<&Record>,
    unmanaged: &[&LiveJob],
    observed: &Observed,
    opts: &Options,
    problems: &mut Vec<Problem>,
) -> JobPlan {
    if let Some(why) = observed.unreadable_records.get(&job.name) {
        problems.push(Problem::RecordUnreadable { job: job.name.clone(), why: why.to_string() });
        let mut p = base(job, Action::Conflict, Reason::RecordUnreadable);
        p.live = lives.active.first().map(|l| l.to_ref());
        return p;
    }
    match lives.active.as_slice() {
        [] => not_running(job, lives.last_ended, record, unmanaged, observed, opts, problems),
        // A record that knows this spec's jobs, and not this one: another state directory (or
        // another tool) started it under the same name, and acting on it would act on their job.
        [live] if record.is_some_and(|r| r.job_id.is_some() && !r.knows(&live.id)) => {
            problems.push(Problem::StartedElsewhere {
                job: job.name.clone(),
                live: live.id.clone(),
                recorded: record
                    .and_then(|r| r.job_id.as_ref())
                    .map_or_else(String::new, ToString::to_string),
            });
            let mut p = base(job, Action::Conflict, Reason::StartedElsewhere);
            p.live = Some(live.to_ref());
            p
        }
        [live] => running(job, live, record),
        many => {
            let ids: Vec<String> = many.iter().map(|j| j.id.to_string()).collect();
            problems.push(Problem::ManyLive { job: job.name.clone(), ids });
            let mut p = base(job, Action::Conflict, Reason::ManyLive { count: many.len() });
            p.live = Some(many[0].to_ref());
            p
        }
    }
}

/// The spec has exactly one live job.
fn running(job: &Job, live: &LiveJob, record: Option<&Record>) -> JobPlan {
    let managed = identity::parse(&live.id).expect("grouped by managed tag");
    let applied = record.and_then(|r| r.applied.as_ref());
    let changes =
        record.and_then(|r| Some(diff::changes(r.applied.as_ref()?, &r.name, job))).unwrap_or_default();
    let mut p = if job.state == SpecState::Suspended {
        let mut p = base(job, Action::Suspend, Reason::Suspend);
        p.changes = changes.into_iter().filter(|c| c.field != "state").collect();
        p
    } else if runs_spec(&managed, job)
        && let Some(Pending::Starting { job_id, rollback: false, .. }) =
            record.and_then(|r| r.pending.as_ref())
        && *job_id == live.id
    {
        base(job, Action::Confirm, Reason::Confirm)
    } else if runs_spec(&managed, job) {
        let settings: Vec<FieldChange> = changes.into_iter().filter(|c| !c.forces_redeploy).collect();
        if settings.is_empty() {
            base(job, Action::None, Reason::RunsSpec)
        } else {
            let mut p = base(job, Action::UpdateSettings, Reason::SettingsOnly);
            p.changes = settings;
            p
        }
    } else {
        upgrade(job, changes, applied.is_some())
    };
    let live = live.to_ref();
    if !live.all_tasks_up() {
        p.drift = Some(JobDrift::Degraded {
            state: live.state,
            tasks_running: live.tasks_running,
            tasks_total: live.tasks_total,
            tasks_finished: live.tasks_finished,
        });
    }
    p.live = Some(live);
    p
}

/// The keys of a job's own configuration that name its default savepoint directory (the 1.20+
/// key, and the 1.18/1.19 one).
pub const SAVEPOINT_DIR_KEYS: [&str; 2] = ["execution.checkpointing.savepoint-dir", "state.savepoints.dir"];

/// Whether the action stops the live job with a savepoint (a `last-state` upgrade only falls back
/// to one, which Flink refuses before touching the job).
fn stops_with_savepoint(action: Action) -> bool {
    matches!(
        action,
        Action::Upgrade { mode: UpgradeMode::Savepoint }
            | Action::Suspend
            | Action::Stop
            | Action::Adopt
            | Action::Rename
    )
}

/// Whether the plan takes a savepoint of the live job: a stop with a savepoint, or a `last-state`
/// upgrade that the checkpoint age check turned into one.
fn takes_savepoint(p: &JobPlan) -> bool {
    stops_with_savepoint(p.action)
        || (p.action == (Action::Upgrade { mode: UpgradeMode::LastState })
            && p.restore == Some(Restore::NewSavepoint))
}

/// A check before the stop failed: apply leaves the job alone. It concerns the next version only
/// when the live job is this spec's own (not for an adoption, whose live job is not managed yet).
fn refuse_next_version(p: &mut JobPlan, reason: Reason) {
    p.conflict =
        Some(if p.action == Action::Adopt { ConflictScope::Job } else { ConflictScope::NextVersion });
    p.action = Action::Conflict;
    p.reason = reason;
}

/// A `last-state` upgrade whose newest checkpoint is older than `upgrade.maxCheckpointAge` goes
/// through a savepoint instead: a warning says so, with the checkpoint's age, and the plan's
/// restore source becomes the new savepoint (apply decides again right before the stop).
fn check_checkpoint_age(
    p: &mut JobPlan,
    desired: &Desired,
    observed: &Observed,
    warnings: &mut Vec<Warning>,
) {
    if p.action != (Action::Upgrade { mode: UpgradeMode::LastState }) {
        return;
    }
    let (Some(job), Some(live)) = (desired.jobs.get(&p.name), &p.live) else { return };
    let facts = observed.checkpoints.get(&live.id).copied().unwrap_or_default();
    let max = job.upgrade.max_checkpoint_age.as_ref().map(|m| m.value);
    if let Some(old) = checks::checkpoint_age(max, &facts, observed.now_ms) {
        warnings.push(Warning::CheckpointTooOld { job: p.name.clone(), old });
        p.restore = Some(Restore::NewSavepoint);
        p.reason.note(Note::CheckpointTooOld);
    }
}

/// A savepoint that takes longer than `savepoint.timeout` leaves the stop's outcome unknown (Flink
/// may still finish it and stop the job after flinkops gave up). When the job's recent checkpoints
/// took longer than the timeout, the stop is refused up front with the numbers and the fix.
fn check_savepoint_timeout(
    p: &mut JobPlan,
    desired: &Desired,
    ledger: &BTreeMap<String, Record>,
    observed: &Observed,
    problems: &mut Vec<Problem>,
) {
    if !takes_savepoint(p) {
        return;
    }
    let Some(facts) = p.live.as_ref().and_then(|l| observed.checkpoints.get(&l.id)) else { return };
    // Its spec's timeout, or for a job whose spec is gone the one last applied (else the default).
    let timeout = match desired.jobs.get(&p.name) {
        Some(job) => job.savepoint.timeout.value,
        None => ledger
            .get(&p.name)
            .and_then(Record::applied_savepoint_timeout)
            .unwrap_or_else(|| crate::spec::model::SavepointSpec::default().timeout.value),
    };
    if let Err(short) = checks::savepoint_timeout(timeout.as_std(), facts) {
        problems.push(Problem::SavepointTimeout { job: p.name.clone(), short });
        refuse_next_version(p, Reason::SavepointWouldTimeOut);
    }
}

/// The new version should fit the free slots plus those its old version frees. Only a warning:
/// free slots change as other jobs start and end (and a job just cancelled holds its slots for a
/// moment), so apply checks again right before the stop and waits a bounded time.
fn check_free_slots(p: &JobPlan, desired: &Desired, observed: &Observed, warnings: &mut Vec<Warning>) {
    let replaces = matches!(p.action, Action::Upgrade { .. } | Action::Adopt);
    let starts = replaces || matches!(p.action, Action::Deploy | Action::Resume);
    let (Some(free), Some(job)) = (observed.free_slots, desired.jobs.get(&p.name).filter(|_| starts)) else {
        return;
    };
    let freed = match (&p.live, replaces) {
        (Some(live), true) => observed.slots_held.get(&live.id).copied().unwrap_or(0),
        _ => 0,
    };
    if let Err(short) = checks::free_slots(job.parallelism, free, freed) {
        warnings.push(Warning::FreeSlots { job: p.name.clone(), short });
    }
}

/// A stop with a savepoint needs a directory: the spec's, its Flink configuration's or the
/// cluster's. Flink 1.19 fails the stop with `Config key [state.savepoints.dir] is not set`, found
/// before today only once apply was under way; the plan refuses it instead, saying how to fix it.
fn check_savepoint_dir(
    p: &mut JobPlan,
    desired: &Desired,
    ledger: &BTreeMap<String, Record>,
    observed: &Observed,
    problems: &mut Vec<Problem>,
) {
    if !stops_with_savepoint(p.action) || observed.cluster_savepoint_dir != Some(None) {
        return;
    }
    let own = match desired.jobs.get(&p.name) {
        Some(job) => {
            job.savepoint.directory.is_some()
                || SAVEPOINT_DIR_KEYS.iter().any(|k| job.flink_configuration.contains_key(*k))
        }
        // A job whose spec is gone: what was applied last.
        None => ledger
            .get(&p.name)
            .and_then(|r| r.applied.as_ref())
            .is_some_and(|a| a.settings.contains_key("savepoint.directory")),
    };
    if own {
        return;
    }
    problems.push(Problem::NoSavepointDir { job: p.name.clone(), action: p.action });
    refuse_next_version(p, Reason::NoSavepointDir);
}

/// A job wider than the cluster waits for slots, then restart-loops with
/// `NoResourceAvailableException`; for an upgrade the old version would be stopped by then. Refused
/// up front when its parallelism (one slot per parallel subtask, the default slot sharing) is more
/// than the cluster's task slots in all. Free slots are not compared: they change as other jobs
/// end, and a job just cancelled still holds its slots for a moment.
fn check_slots(p: &mut JobPlan, desired: &Desired, total: u32, problems: &mut Vec<Problem>) {
    let starts = matches!(
        p.action,
        Action::Deploy | Action::Resume | Action::Upgrade { .. } | Action::Adopt | Action::Rename
    );
    let Some(job) = desired.jobs.get(&p.name).filter(|_| starts) else { return };
    let need = job.parallelism;
    if need <= total {
        return;
    }
    let stopped = matches!(p.action, Action::Upgrade { .. } | Action::Adopt | Action::Rename);
    problems.push(Problem::TooWide { job: p.name.clone(), need, total, stopped });
    refuse_next_version(p, Reason::TooWide);
}

/// Whether a live job runs this spec version: its id carries the fingerprint, or the form an
/// older flinkops computed for the same spec (so changing how secrets are hashed redeploys nothing).
fn runs_spec(managed: &identity::ManagedId, job: &Job) -> bool {
    managed.runs(&job.fingerprint) || fingerprint::legacy(job).is_some_and(|f| managed.runs(&f))
}

fn upgrade(job: &Job, changes: Vec<FieldChange>, known: bool) -> JobPlan {
    let mode = job.upgrade_mode;
    let changed = if known {
        let fields: Vec<String> =
            changes.iter().filter(|c| c.forces_redeploy).map(|c| c.field.clone()).collect();
        if fields.is_empty() { Changed::Spec } else { Changed::Fields(fields) }
    } else {
        Changed::Unknown
    };
    let mut p = base(job, Action::Upgrade { mode }, Reason::Upgrade { changed, mode });
    p.changes = changes;
    p.restore = Some(match mode {
        UpgradeMode::Savepoint => Restore::NewSavepoint,
        UpgradeMode::LastState => Restore::LastCheckpoint,
        UpgradeMode::Stateless => Restore::Empty { why: "upgradeMode: stateless".into() },
    });
    p
}

/// The spec has no live job.
fn not_running(
    job: &Job,
    last_ended: Option<&LiveJob>,
    record: Option<&Record>,
    unmanaged: &[&LiveJob],
    observed: &Observed,
    opts: &Options,
    problems: &mut Vec<Problem>,
) -> JobPlan {
    let namesake = unmanaged.iter().find(|u| u.is_active() && u.name == job.name);
    if let Some(u) = namesake {
        return adopt_or_block(job, u, opts, problems);
    }
    let suspended_by_us =
        record.and_then(|r| r.applied.as_ref()).is_some_and(|a| a.state == SpecState::Suspended);
    if job.state == SpecState::Suspended {
        let reason = if last_ended.is_some() || record.is_some() {
            Reason::StaysSuspended
        } else {
            Reason::SuspendedNeverDeployed
        };
        let mut p = base(job, Action::None, reason);
        p.live = last_ended.map(LiveJob::to_ref);
        return p;
    }
    let (action, reason, drift) = match (last_ended, suspended_by_us) {
        (_, true) => (Action::Resume, Reason::Resume, None),
        (Some(ended), false) => (
            Action::Deploy,
            Reason::Ended { state: ended.state },
            Some(JobDrift::Ended { state: ended.state }),
        ),
        (None, false) if record.is_some() => (Action::Deploy, Reason::Forgotten, Some(JobDrift::Forgotten)),
        (None, false) => (Action::Deploy, Reason::NotDeployed, None),
    };
    let restore = match restore_for(job, last_ended, record, observed) {
        Ok(restore) => restore,
        Err(why) => {
            problems.push(Problem::NotStarted { job: job.name.clone(), why });
            let mut p = base(job, Action::Conflict, Reason::StateUnusable);
            p.live = last_ended.map(LiveJob::to_ref);
            p.drift = drift;
            return p;
        }
    };
    let mut p = base(job, action, reason);
    p.live = last_ended.map(LiveJob::to_ref);
    p.drift = drift;
    p.restore = Some(restore);
    p
}

/// Where a job that is not running starts from: the newest snapshot any source names
/// (`crate::restore`), never an older one and never empty by accident; an error says why not.
fn restore_for(
    job: &Job,
    last_ended: Option<&LiveJob>,
    record: Option<&Record>,
    observed: &Observed,
) -> Result<Restore, String> {
    if job.upgrade_mode == UpgradeMode::Stateless {
        return Ok(Restore::Empty { why: "upgradeMode: stateless".into() });
    }
    match &job.restore.from.value {
        RestoreFrom::None => Ok(Restore::Empty { why: "restore.from: none".into() }),
        RestoreFrom::Path(path) => Ok(Restore::Path { path: path.clone(), source: "restore.from".into() }),
        RestoreFrom::Latest => match observed.snapshots.get(&job.name) {
            Some(evidence) => match restore::decide(evidence) {
                Decision::Use(c) => Ok(Restore::Newest {
                    path: c.path.clone(),
                    origin: c.origin.clone(),
                    taken_at: jiff::Timestamp::from_millisecond(c.taken_ms)
                        .map_or_else(|_| c.taken_ms.to_string(), |t| t.to_string()),
                    age_seconds: (observed.now_ms - c.taken_ms).max(0) / 1000,
                    found: evidence.found.len(),
                    discarded: evidence.discarded_since(c, observed.now_ms),
                }),
                Decision::FirstDeployment => Ok(Restore::FirstDeployment),
                Decision::Refuse(why) => Err(why),
            },
            // Not gathered: apply gathers it.
            None => {
                let last = last_ended.map(|j| j.id.clone()).or_else(|| record.and_then(|r| r.job_id.clone()));
                Ok(match last {
                    Some(job_id) => Restore::LatestOf { job_id },
                    None => Restore::FirstDeployment,
                })
            }
        },
    }
}

fn adopt_or_block(job: &Job, u: &LiveJob, opts: &Options, problems: &mut Vec<Problem>) -> JobPlan {
    let mut p = if opts.adopt {
        let mut p = base(job, Action::Adopt, Reason::Adopt);
        p.restore = Some(Restore::NewSavepoint);
        p
    } else {
        problems.push(Problem::UnmanagedNamesake { job: job.name.clone(), id: u.id.clone() });
        base(job, Action::Conflict, Reason::UnmanagedNamesake)
    };
    p.live = Some(u.to_ref());
    p
}

/// Managed jobs still running whose spec is gone.
fn orphans(
    managed: &ByTag,
    tags: &BTreeMap<String, &str>,
    ledger: &BTreeMap<String, Record>,
    opts: &Options,
) -> Vec<JobPlan> {
    let ledger_names: BTreeMap<String, &str> =
        ledger.keys().map(|n| (identity::name_tag(n), n.as_str())).collect();
    let mut out = Vec::new();
    for (tag, lives) in managed {
        if tags.contains_key(tag) {
            continue;
        }
        for live in lives.iter().filter(|j| j.is_active()) {
            let known = ledger_names.get(tag);
            let name = known
                .map_or_else(|| format!("{} ({})", live.name, &live.id.as_str()[..6]), |n| n.to_string());
            // Only jobs this state directory applied are ever pruned: another spec directory
            // (another team, another pipeline) may share the cluster, and its jobs look orphaned
            // from here. Never stop what you cannot show you started.
            let (action, reason) = match (known, opts.prune) {
                (Some(_), true) => (Action::Stop, Reason::Prune),
                (Some(_), false) => (Action::Orphan, Reason::Orphan),
                (None, _) => (Action::Orphan, Reason::ForeignOrphan),
            };
            out.push(JobPlan {
                name,
                action,
                reason,
                changes: Vec::new(),
                live: Some(live.to_ref()),
                restore: None,
                drift: None,
                depends_on: Vec::new(),
                conflict: None,
                blocked_by: None,
                would: None,
                pulled_in: None,
                replace: false,
                origin: None,
                renamed_from: None,
                moved_from: None,
                fingerprint: None,
                legacy_fingerprint: None,
            });
        }
    }
    out
}

/// A start waits for its dependencies to be running and healthy: one that will not be (a
/// conflict, a suspension) blocks it and everything after it. Adds only: a blocker already set
/// stays, so that the fleet runs it again over every cluster's jobs (`fleet`).
pub(crate) fn mark_blocked(jobs: &mut [JobPlan], desired: &Desired) {
    let by_name: BTreeMap<String, (Action, bool)> = jobs
        .iter()
        .map(|j| {
            let suspended = desired.jobs.get(&j.name).is_some_and(|d| d.state == SpecState::Suspended);
            (j.name.clone(), (j.action, suspended))
        })
        .collect();
    let blocker = |start: &str| -> Option<Blocker> {
        desired.upstream(start).into_iter().find_map(|dep| {
            let upstream = dep.to_string();
            match by_name.get(dep) {
                Some((Action::Conflict, _)) => Some(Blocker::UpstreamConflict { upstream }),
                Some((_, true)) => Some(Blocker::UpstreamSuspended { upstream }),
                _ => None,
            }
        })
    };
    for job in jobs.iter_mut().filter(|j| j.action.starts_a_job() && j.blocked_by.is_none()) {
        job.blocked_by = blocker(&job.name);
    }
}

/// Keep apply's hands off some jobs for now (`watch`: a failed action backing off, self-heal
/// turned off). Each held job is marked blocked with its reason, and so is every start that
/// depends on it, as apply would skip it after a failure; the waves are made again without them.
pub fn hold(plan: &mut Plan, desired: &Desired, held: &BTreeMap<String, String>) {
    let holds = |j: &JobPlan| j.action.is_change() && held.contains_key(&j.name);
    let held_now: Vec<String> = plan.jobs.iter().filter(|j| holds(j)).map(|j| j.name.clone()).collect();
    if held_now.is_empty() {
        return;
    }
    for job in plan.jobs.iter_mut() {
        if held_now.contains(&job.name) {
            job.blocked_by = held.get(&job.name).map(|reason| Blocker::Held { reason: reason.clone() });
        } else if job.action.starts_a_job() && job.blocked_by.is_none() {
            job.blocked_by =
                desired.upstream(&job.name).into_iter().find(|dep| held_now.iter().any(|h| h == dep)).map(
                    |dep| Blocker::UpstreamHeld { upstream: dep.to_string(), reason: held[dep].clone() },
                );
        }
    }
    plan.waves = waves(&plan.jobs, desired);
}

/// Stops first, downstream first; then starts, upstream first. Jobs in one wave are independent.
fn waves(jobs: &[JobPlan], desired: &Desired) -> Vec<Wave> {
    ordered(jobs.iter().map(|j| (j.name.clone(), j)), desired)
        .into_iter()
        .map(|(kind, jobs)| Wave { kind, jobs })
        .collect()
}

/// [`waves`] for jobs known by any key `K` (a name; a cluster and a name across a fleet), each
/// wave sorted by key.
pub(crate) fn ordered<'j, K: Ord>(
    jobs: impl IntoIterator<Item = (K, &'j JobPlan)>,
    desired: &Desired,
) -> Vec<(WaveKind, Vec<K>)> {
    let level = levels(desired);
    let max = level.values().copied().max().unwrap_or(0);
    let mut stops: BTreeMap<usize, Vec<K>> = BTreeMap::new();
    let mut starts: BTreeMap<usize, Vec<K>> = BTreeMap::new();
    for (key, j) in jobs.into_iter().filter(|(_, j)| j.action.touches_cluster() && j.blocked_by.is_none()) {
        let l = level.get(&j.name).copied();
        match j.action {
            // Orphans have no place in the graph: they stop first.
            Action::Stop | Action::Suspend => {
                stops.entry(l.map_or(0, |l| max - l + 1)).or_default().push(key)
            }
            _ => starts.entry(l.unwrap_or(0)).or_default().push(key),
        }
    }
    let sorted = |mut keys: Vec<K>| {
        keys.sort();
        keys
    };
    let stop_waves = stops.into_values().map(|jobs| (WaveKind::Stop, sorted(jobs)));
    let start_waves = starts.into_values().map(|jobs| (WaveKind::Start, sorted(jobs)));
    stop_waves.chain(start_waves).collect()
}

/// 0 for a job without dependencies, else one more than its deepest dependency. The spec layer
/// guarantees there are no cycles; a cycle here would only stop the recursion early.
pub fn levels(desired: &Desired) -> BTreeMap<String, usize> {
    fn level(name: &str, desired: &Desired, memo: &mut BTreeMap<String, usize>, depth: usize) -> usize {
        if let Some(l) = memo.get(name) {
            return *l;
        }
        let deps = desired.jobs.get(name).map(|j| j.depends_on.as_slice()).unwrap_or_default();
        let l = if depth > desired.jobs.len() {
            0
        } else {
            deps.iter().map(|d| level(d, desired, memo, depth + 1) + 1).max().unwrap_or(0)
        };
        memo.insert(name.to_string(), l);
        l
    }
    let mut memo = BTreeMap::new();
    for name in desired.jobs.keys() {
        level(name, desired, &mut memo, 0);
    }
    memo
}

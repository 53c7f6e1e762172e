//! What one run may touch: `--target` / `--exclude` (which jobs), `--replace` (redeploy a job
//! that runs its spec), and `protect: true` with `--allow-destroy` (what may never happen to a
//! job's state without saying so). Passes over the planner's decisions, pure like the planner.
//!
//! Order inside `planner::plan`: [`replace`] and [`protect`] run on the decided actions before
//! the savepoint-directory and slot checks (a replace is an upgrade like any other); [`scope`]
//! runs last, after `mark_blocked`, and only ever takes actions away.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::model::{Action, ConflictScope, JobPlan, Plan, Restore};
use super::reasons::{Destroy, LeftOut, Note, Problem, Reason, ReplaceRefusal};
use crate::ledger::Record;
use crate::spec::Desired;
use crate::spec::model::UpgradeMode;

/// The job names a run was limited to or allowed to do more with; saved in a plan file, so that
/// `apply PLANFILE` applies exactly what was planned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Control {
    /// `--target`: act only on these jobs (and the upstream jobs they must wait for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<String>,
    /// `--exclude`: never act on these jobs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// `--replace`: redeploy these running jobs from a fresh savepoint with no spec change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace: Vec<String>,
    /// `--allow-destroy`: lift `protect: true` for these jobs in this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_destroy: Vec<String>,
}

/// A job name given on the command line that names no job.
#[derive(Debug, thiserror::Error)]
#[error("{flag} {name}: no job has this name{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
pub struct UnknownName {
    pub flag: &'static str,
    pub name: String,
    pub suggestion: Option<String>,
}

impl Control {
    /// Whether nothing limits or widens the run.
    pub fn is_empty(&self) -> bool {
        *self == Control::default()
    }

    fn lists(&self) -> [(&'static str, &[String]); 4] {
        [
            ("--target", &self.target),
            ("--exclude", &self.exclude),
            ("--replace", &self.replace),
            ("--allow-destroy", &self.allow_destroy),
        ]
    }

    /// Whether `scope` will skip this job for sure (a job that would start may still be pulled
    /// in by a target downstream of it).
    fn leaves_out(&self, name: &str, action: Action) -> bool {
        let pullable = matches!(action, Action::Deploy | Action::Resume);
        self.exclude.iter().any(|e| e == name)
            || (!self.target.is_empty() && !self.target.iter().any(|t| t == name) && !pullable)
    }

    /// Every name must be a job of the plan (a spec, or a managed job whose spec is gone): a typo
    /// in `--exclude` would otherwise act on the very job it meant to spare.
    pub fn check_names(&self, plan: &Plan) -> Result<(), UnknownName> {
        let known: Vec<&str> = plan.jobs.iter().map(|j| j.name.as_str()).collect();
        self.check_names_in(&known)
    }

    /// [`Control::check_names`] against a list of names (`watch --once` knows the specs before
    /// any plan; a fleet's plan knows every cluster's names, and a name on another cluster than
    /// the first is no typo).
    pub fn check_names_in(&self, known: &[&str]) -> Result<(), UnknownName> {
        for (flag, names) in self.lists() {
            if let Some(name) = names.iter().find(|n| !known.contains(&n.as_str())) {
                return Err(UnknownName {
                    flag,
                    name: name.clone(),
                    suggestion: crate::spec::read::did_you_mean(name, known).map(String::from),
                });
            }
        }
        Ok(())
    }
}

/// `--replace NAME`: a job that runs its spec is upgraded in place (a fresh savepoint, the same
/// fingerprint in a new job id, health gate and rollback as for any upgrade). A job that is not
/// running cannot be replaced: it is refused with what to do instead.
pub fn replace(jobs: &mut [JobPlan], desired: &Desired, control: &Control, problems: &mut Vec<Problem>) {
    for p in jobs.iter_mut().filter(|p| control.replace.contains(&p.name)) {
        let Some(job) = desired.jobs.get(&p.name) else {
            refuse_replace(p, ReplaceRefusal::SpecGone, problems);
            continue;
        };
        let running = p.live.as_ref().is_some_and(|l| !l.state.is_terminal());
        match p.action {
            Action::None | Action::UpdateSettings if running => {
                // A fresh savepoint is what --replace promises: last-state would reuse a checkpoint.
                let mode = match job.upgrade_mode {
                    UpgradeMode::Stateless => UpgradeMode::Stateless,
                    _ => UpgradeMode::Savepoint,
                };
                p.action = Action::Upgrade { mode };
                p.replace = true;
                p.reason = Reason::Replace { mode };
                p.restore = Some(match mode {
                    UpgradeMode::Stateless => Restore::Empty { why: "upgradeMode: stateless".into() },
                    _ => Restore::NewSavepoint,
                });
            }
            Action::Upgrade { .. } => {
                p.replace = true;
                p.reason.note(Note::AlsoReplace);
            }
            _ if running => refuse_replace(p, ReplaceRefusal::OtherAction, problems),
            _ => refuse_replace(p, ReplaceRefusal::NotRunning, problems),
        }
    }
}

fn refuse_replace(p: &mut JobPlan, why: ReplaceRefusal, problems: &mut Vec<Problem>) {
    problems.push(Problem::ReplaceRefused { job: p.name.clone(), why, reason: Box::new(p.reason.clone()) });
    // Refusing a flag doubts nothing about the job: a running job that is the spec's own stays
    // so (an adoption's live job is not managed yet, and a conflict keeps the scope it has).
    if p.action != Action::Conflict {
        p.conflict = Some(if running_own(p) { ConflictScope::NextVersion } else { ConflictScope::Job });
    }
    p.action = Action::Conflict;
    p.reason = Reason::ReplaceRefused { why };
}

/// Whether the plan's live job runs and is flinkops' own (not one an adoption would take over).
fn running_own(p: &JobPlan) -> bool {
    p.action != Action::Adopt && p.live.as_ref().is_some_and(|l| !l.state.is_terminal())
}

/// `protect: true` (in the spec, or for a job whose spec is gone in its last applied record):
/// actions that could lose its state become errors unless `--allow-destroy NAME` was given.
/// Blocked: pruning it; stopping it without a savepoint (a `last-state` or `stateless`
/// upgrade); starting it empty or from anything but its newest snapshot once it has state.
/// Moving it to another cluster too (`fleet` calls this again once it has planned the move).
pub fn protect(
    jobs: &mut [JobPlan],
    desired: &Desired,
    ledger: &BTreeMap<String, Record>,
    control: &Control,
    problems: &mut Vec<Problem>,
) {
    for p in jobs.iter_mut() {
        if control.allow_destroy.contains(&p.name)
            || control.leaves_out(&p.name, p.action)
            || !is_protected(&p.name, desired, ledger)
        {
            continue;
        }
        let has_state = p.live.is_some() || ledger.contains_key(&p.name);
        if let Some(would) = blocked(p, has_state) {
            problems.push(Problem::Protected { job: p.name.clone(), would: would.clone() });
            p.conflict = Some(blocked_scope(p.action));
            p.action = Action::Conflict;
            p.reason = Reason::Protected { would };
        }
    }
}

/// Whether `protect: true` holds for a job: its spec says so, or its spec is gone and what was
/// last applied said so.
pub fn is_protected(name: &str, desired: &Desired, ledger: &BTreeMap<String, Record>) -> bool {
    match desired.jobs.get(name) {
        Some(job) => job.protect,
        None => ledger
            .get(name)
            .and_then(|r| r.applied.as_ref())
            .is_some_and(|a| a.settings.get("protect").is_some_and(|v| v == "true")),
    }
}

/// Whom a blocked action's conflict concerns. An upgrade: only the next version; the running job
/// is the spec's own and keeps running, so `savepoint`, `gc` and watch's periodic savepoints go
/// on with it. A prune: nothing about the job is in doubt either (it keeps running as the orphan
/// it was without `--prune`, its record sound); no command acts on orphans' snapshots today, and
/// one that would may. A start (empty, or from another snapshot than the newest): `Job`, since
/// which snapshot holds the state is the very question, so `gc` keeps its hands off all of them.
fn blocked_scope(action: Action) -> ConflictScope {
    match action {
        Action::Upgrade { .. } | Action::Stop => ConflictScope::NextVersion,
        _ => ConflictScope::Job,
    }
}

/// What of a planned action `protect` forbids; `None` when it is safe.
fn blocked(p: &JobPlan, has_state: bool) -> Option<Destroy> {
    match (p.action, &p.restore) {
        (Action::Stop, _) => Some(Destroy::Prune),
        (Action::Move, _) => Some(Destroy::Move { from: p.moved_from.clone().unwrap_or_else(|| "?".into()) }),
        (Action::Upgrade { mode: UpgradeMode::Stateless }, _) => Some(Destroy::Stateless),
        (Action::Upgrade { mode: UpgradeMode::LastState }, _) => Some(Destroy::LastState),
        (Action::Deploy | Action::Resume, Some(Restore::Empty { why })) if has_state => {
            Some(Destroy::StartEmpty { why: why.clone() })
        }
        (Action::Deploy | Action::Resume, Some(Restore::Path { path, source }))
            if has_state && source != "ledger" =>
        {
            Some(Destroy::StartFrom { path: path.clone(), source: source.clone() })
        }
        _ => None,
    }
}

/// `--target` / `--exclude`: every job outside the run becomes `skipped`, keeping what it would
/// have done in `would`; an upstream job a targeted one must wait for (it is not running and
/// would be deployed or resumed) is pulled in, saying why. A job whose needed upstream is
/// excluded is blocked. Orphans follow the same rule: `--prune --target old` stops only `old`.
pub fn scope(jobs: &mut [JobPlan], desired: &Desired, control: &Control) {
    if control.target.is_empty() && control.exclude.is_empty() {
        return;
    }
    let needs_start: BTreeMap<String, bool> =
        jobs.iter().map(|j| (j.name.clone(), matches!(j.action, Action::Deploy | Action::Resume))).collect();
    let mut pulled: BTreeMap<String, String> = BTreeMap::new();
    for t in &control.target {
        for dep in desired.upstream(t) {
            if needs_start.get(dep).copied().unwrap_or(false) && !control.target.iter().any(|n| n == dep) {
                pulled.entry(dep.to_string()).or_insert_with(|| t.clone());
            }
        }
    }
    let excluded = |n: &str| control.exclude.iter().any(|e| e == n);
    for p in jobs.iter_mut() {
        let targeted = control.target.is_empty() || control.target.contains(&p.name);
        if excluded(&p.name) {
            skip(p, LeftOut::Excluded);
        } else if targeted {
            if p.action.starts_a_job() && p.blocked_by.is_none() {
                let dep = desired
                    .upstream(&p.name)
                    .into_iter()
                    .find(|d| excluded(d) && needs_start.get(*d).copied().unwrap_or(false));
                if let Some(dep) = dep {
                    p.blocked_by =
                        Some(super::model::Blocker::UpstreamExcluded { upstream: dep.to_string() });
                }
            }
        } else if let Some(by) = pulled.get(&p.name) {
            p.pulled_in = Some(super::model::PulledIn::ByTarget { target: by.clone() });
        } else {
            skip(p, LeftOut::NotTargeted);
        }
    }
}

fn skip(p: &mut JobPlan, by: LeftOut) {
    if p.action == Action::Skipped {
        return;
    }
    p.would = Some(p.action);
    p.action = Action::Skipped;
    let otherwise = std::mem::replace(&mut p.reason, Reason::Saved(String::new()));
    p.reason = Reason::Skipped { by, otherwise: Box::new(otherwise) };
    p.blocked_by = None;
}

//! Why the plan decided what it did, as facts: a job's [`Reason`], the plan's [`Problem`]s (what
//! stops apply from acting on a job) and [`Warning`]s (what a reviewer should know first). The
//! planner decides them with their data (names, ids, counts, durations); `render::reasons`
//! writes their words (their `Display`), and the JSON plan carries those words as plain strings,
//! as it always has (`reason`, `problems`, `warnings`).
//!
//! A saved plan read back (`apply PLANFILE`) turns the words into the fact again when they are
//! words this flinkops writes: each form is written once with markers for its fields, and the
//! saved words are matched against it ([`read_forms`]). Forms whose words hold a duration
//! (`3s 400ms`, `1h0m`) cannot be read back; they, and words another flinkops wrote, come back
//! as `Saved` and are shown as they were written. Nothing decides on a saved plan's words.

use std::collections::BTreeMap;
use std::fmt::Display;

use super::checks::{CheckpointTooOld, SlotShortfall, TimeoutTooShort};
use super::facts::as_words;
use super::model::Action;
use crate::flink::{JobId, JobState};
use crate::spec::model::UpgradeMode;

/// Why a job gets its action, in the plan (`reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The spec's ledger record cannot be read.
    RecordUnreadable,
    /// A live job carries the spec's name tag, but this state directory did not start it.
    StartedElsewhere,
    /// Several live jobs run the spec.
    ManyLive { count: usize },
    /// `state: suspended` and the job runs: stop it with a savepoint.
    Suspend,
    /// An interrupted run started this version: finish its health gate.
    Confirm,
    /// The live job runs the spec.
    RunsSpec,
    /// Only settings changed.
    SettingsOnly,
    /// The live job runs another version: what changed, and how state is carried.
    Upgrade { changed: Changed, mode: UpgradeMode },
    /// `state: suspended`, and the job was deployed once (or has a record).
    StaysSuspended,
    /// `state: suspended`, never deployed.
    SuspendedNeverDeployed,
    /// The spec says running again after a suspension.
    Resume,
    /// The job ended outside flinkops (failed, cancelled, finished).
    Ended { state: JobState },
    /// Not running and gone from the cluster's job history.
    Forgotten,
    /// A first deployment.
    NotDeployed,
    /// Its newest state cannot be used or found.
    StateUnusable,
    /// `--adopt`: an unmanaged namesake runs.
    Adopt,
    /// An unmanaged namesake runs, without `--adopt`.
    UnmanagedNamesake,
    /// Its spec is gone, `--prune`.
    Prune,
    /// Its spec is gone, no `--prune`.
    Orphan,
    /// Started by flinkops from another state directory.
    ForeignOrphan,
    /// The check before the stop: the savepoint would likely time out.
    SavepointWouldTimeOut,
    /// The check before the stop: no savepoint directory.
    NoSavepointDir,
    /// Wider than the cluster's task slots.
    TooWide,
    /// `--replace` of a job that runs its spec.
    Replace { mode: UpgradeMode },
    /// `--replace` refused.
    ReplaceRefused { why: ReplaceRefusal },
    /// `protect: true` forbids what the plan would do.
    Protected { would: Destroy },
    /// Left out by `--target` / `--exclude`, with what it would otherwise do.
    Skipped { by: LeftOut, otherwise: Box<Reason> },
    /// Renamed (`previousNames`): the old name's job is stopped and this name starts from it.
    Rename { old: String, name: String },
    /// Renamed, the old name's job not running: start from its newest state.
    Inherited { old: String, name: String },
    /// A move: stop it on cluster `from`, start it here.
    Move { from: String },
    /// An interrupted move from `from`: start here from what `job_id` left there.
    MoveInterrupted { from: String, job_id: JobId },
    /// A move whose job no longer runs on `from`: start from `from`'s ledger's last savepoint.
    MoveFromLedger { from: String },
    /// A move from `from` refused.
    MoveRefused { from: String },
    /// A stand-in for a job of a cluster that could not be observed.
    ClusterUnobserved { cluster: String },
    /// A reason with a note after it.
    Noted { reason: Box<Reason>, note: Note },
    /// Read back from a saved plan: the words it was written with.
    Saved(String),
}

/// What a spec change is, for an upgrade's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// These fields, each of which forces a redeploy.
    Fields(Vec<String>),
    /// The spec (the ledger knows the job, no single field forces it).
    Spec,
    /// Unknown: the ledger has no record of the job.
    Unknown,
}

/// Why `--replace` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceRefusal {
    SpecGone,
    OtherAction,
    NotRunning,
}

/// What `protect: true` forbids, after "would".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destroy {
    /// Stop it because its spec is gone (`--prune`).
    Prune,
    /// Move it from cluster `from`.
    Move { from: String },
    /// Cancel it and start the new version empty.
    Stateless,
    /// Cancel it without a savepoint.
    LastState,
    /// Start it empty.
    StartEmpty { why: String },
    /// Start it from a path that is not its newest snapshot.
    StartFrom { path: String, source: String },
}

/// Which flag left a job out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOut {
    Excluded,
    NotTargeted,
}

/// What is added after a job's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// An upgrade `--replace` also asked for.
    AlsoReplace,
    /// A `last-state` upgrade whose newest checkpoint is too old goes through a savepoint.
    CheckpointTooOld,
    /// A first deployment that may be one of `orphans` renamed without `previousNames`.
    MaybeRenamedFrom { orphans: Vec<String> },
    /// An orphan (`name`) that may be `fresh` renamed without `previousNames`.
    MaybeRenamedTo { fresh: String, name: String },
}

/// What stops apply from acting on a job (`problems`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Two spec names share a job id tag.
    SharedTag { first: String, second: String, tag: String },
    /// A ledger record cannot be read (`why`: the reader's error).
    RecordUnreadable { job: String, why: String },
    /// The live job carries the spec's tag, but the record names another job.
    StartedElsewhere { job: String, live: JobId, recorded: String },
    /// Several live jobs run one spec. (Read back from a saved plan for two or three.)
    ManyLive { job: String, ids: Vec<String> },
    /// The savepoint timeout is shorter than a recent checkpoint.
    SavepointTimeout { job: String, short: TimeoutTooShort },
    /// A stop with a savepoint without a savepoint directory; `action` says which stop.
    NoSavepointDir { job: String, action: Action },
    /// Wider than the cluster; `stopped`: the old version would already be stopped by then.
    TooWide { job: String, need: u32, total: u32, stopped: bool },
    /// Not started: its newest state cannot be used (`why`: the restore decision's words).
    NotStarted { job: String, why: String },
    /// An unmanaged namesake runs, without `--adopt`.
    UnmanagedNamesake { job: String, id: JobId },
    /// `--replace` refused, with the reason the job had.
    ReplaceRefused { job: String, why: ReplaceRefusal, reason: Box<Reason> },
    /// `protect: true` forbids it.
    Protected { job: String, would: Destroy },
    /// A move between clusters refused.
    MoveRefused { job: String, from: String, to: String, why: MoveRefusal },
    /// Read back from a saved plan: the words it was written with.
    Saved(String),
}

/// Why a move between clusters cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveRefusal {
    /// The job is known on several other clusters (`from` lists them). (Read back for two or three.)
    KnownOnMany { clusters: Vec<String> },
    /// Its spec says `state: suspended`.
    Suspended,
    /// It does not run on its old cluster, whose ledger has no savepoint of it.
    NothingToStartFrom,
    /// The clusters run different Flink versions (`None`: unknown).
    Versions { old: Option<String>, new: Option<String> },
    /// The savepoint would be written where the new cluster does not read (`None`: not set).
    SavepointDirs { writes: Option<String>, reads: Option<String> },
    /// It is also renamed in the same commit (`previousNames`): `old` is found on the old cluster.
    Renamed { old: String },
}

/// What apply will act on but a reviewer should know first (`warnings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// A `last-state` upgrade's newest checkpoint is too old: a savepoint is taken instead.
    CheckpointTooOld { job: String, old: CheckpointTooOld },
    /// Too few free task slots right now.
    FreeSlots { job: String, short: SlotShortfall },
    /// Read back from a saved plan: the words it was written with.
    Saved(String),
}

/// What applying the head tree does to a job, in the offline plan (`plan --base`). Written
/// once, never read back: the offline plan is not saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfflineReason {
    /// Both trees have it, the same.
    NoChange,
    /// New, but `state: suspended`.
    NewSuspended,
    /// New: deployed.
    New,
    /// New, deployed from `restore.from`.
    NewFrom { path: String },
    /// Gone from the head tree: an orphan, or stopped under `--prune`.
    Removed { prune: bool },
    /// Renamed with `previousNames`.
    Renamed { old: String, new: String },
    /// Renamed, but starting empty.
    RenamedEmpty { old: String, why: String },
    /// `state: suspended` now.
    Suspend,
    /// `state: running` again.
    Resume,
    /// Suspended in both trees.
    SuspendedInBoth,
    /// Fields that force a redeploy changed.
    Redeploy { fields: Vec<String>, last_state: bool },
    /// Fields changed, and it starts empty.
    RedeployEmpty { fields: Vec<String>, why: String },
    /// Only settings changed.
    SettingsOnly,
}

as_words!(write OfflineReason);

/// Advice for the reviewer in the offline plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfflineHint {
    /// `old` (removed) and `new` (added) look like one job renamed without `previousNames`.
    MaybeRenamed { old: String, new: String },
}

as_words!(write OfflineHint);

/// Which side of the offline plan's jars has no hash, so that they were compared by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JarUnhashed {
    pub tree: Tree,
    /// The (first named) tree's jar is a URL without `jarSha256`, not a missing local file.
    pub url: bool,
}

/// A tree of the offline plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    Base,
    Head,
    /// Both: the base tree is named first.
    Both,
}

as_words!(write JarUnhashed);

impl Reason {
    /// `reason` with `note` after it.
    pub fn noted(self, note: Note) -> Self {
        Self::Noted { reason: Box::new(self), note }
    }

    /// Add `note` after the reason.
    pub fn note(&mut self, note: Note) {
        let reason = std::mem::replace(self, Self::Saved(String::new()));
        *self = reason.noted(note);
    }

    /// The reason itself, under any notes.
    pub fn base(&self) -> &Reason {
        match self {
            Self::Noted { reason, .. } => reason.base(),
            other => other,
        }
    }

    /// A reason inside another fact's words. A marker (the template being made) stays as it
    /// is: reading it would make the templates again, without end.
    fn read_or_saved(words: &str) -> Self {
        let marker = words.len() == 10 && words.starts_with("4000000");
        (!marker).then(|| Self::read(words)).flatten().unwrap_or_else(|| Self::Saved(words.to_string()))
    }

    fn read(words: &str) -> Option<Self> {
        read_forms(words, &reason_forms())
    }
}

impl Problem {
    /// The jobs the problem is about (two for a shared id tag).
    pub fn jobs(&self) -> Vec<&str> {
        match self {
            Self::SharedTag { first, second, .. } => vec![first, second],
            Self::RecordUnreadable { job, .. }
            | Self::StartedElsewhere { job, .. }
            | Self::ManyLive { job, .. }
            | Self::SavepointTimeout { job, .. }
            | Self::NoSavepointDir { job, .. }
            | Self::TooWide { job, .. }
            | Self::NotStarted { job, .. }
            | Self::UnmanagedNamesake { job, .. }
            | Self::ReplaceRefused { job, .. }
            | Self::Protected { job, .. }
            | Self::MoveRefused { job, .. } => vec![job],
            Self::Saved(_) => vec![],
        }
    }

    /// Whether the problem is about job `name`. Saved words are searched for its quoted name.
    pub fn names(&self, name: &str) -> bool {
        match self {
            Self::Saved(words) => words.contains(&format!("`{name}`")),
            _ => self.jobs().contains(&name),
        }
    }

    fn read(words: &str) -> Option<Self> {
        read_forms(words, &problem_forms())
    }
}

impl Warning {
    fn read(words: &str) -> Option<Self> {
        read_forms(words, &warning_forms())
    }
}

as_words!(Reason);
as_words!(Problem);
as_words!(Warning);

/// One form a fact's words take: the fact built from its fields, which come as text (markers
/// when the template is made, the saved words' parts when they are read).
type Form<T> = fn(&dyn Fn(usize) -> String) -> Option<T>;

/// The `i`th field's marker: digits, so that it also stands in for a number field.
fn marker(i: usize) -> String {
    format!("4000000{i:03}")
}

/// The fact `words` say, found by matching them against each form's words written with
/// markers. Kept only when the fact says exactly the same words again.
fn read_forms<T: Display>(words: &str, forms: &[Form<T>]) -> Option<T> {
    forms.iter().find_map(|form| {
        let template = form(&marker)?.to_string();
        let fields = fields(&template, words)?;
        let fact = form(&|i| fields.get(&i).cloned().unwrap_or_default())?;
        (fact.to_string() == words).then_some(fact)
    })
}

/// The parts of `words` where `template` has markers, by field (the first one of each).
fn fields(template: &str, words: &str) -> Option<BTreeMap<usize, String>> {
    // Literal text and the marker after it; the last literal has none.
    let template = template.replace(&format!("{ID_PADDING}4000000"), "4000000");
    let mut pieces: Vec<(&str, Option<usize>)> = Vec::new();
    let mut rest = template.as_str();
    while let Some(at) = rest.find("4000000") {
        let i = rest.get(at + 7..at + 10)?.parse().ok()?;
        pieces.push((&rest[..at], Some(i)));
        rest = &rest[at + 10..];
    }
    pieces.push((rest, None));
    let mut out = BTreeMap::new();
    let mut words = words.strip_prefix(pieces[0].0)?;
    for k in 0..pieces.len() - 1 {
        let (next, last) = (pieces[k + 1].0, k + 2 == pieces.len());
        let value = if last {
            let v = words.strip_suffix(next)?;
            words = "";
            v
        } else {
            if next.is_empty() {
                return None;
            }
            let (v, after) = words.split_once(next)?;
            words = after;
            v
        };
        out.entry(pieces[k].1?).or_insert_with(|| value.to_string());
    }
    Some(out)
}

/// A job id field. A marker is not a job id: it stands in padded with zeros to one, which
/// [`fields`] takes as the marker again.
fn job_id(text: String) -> Option<JobId> {
    text.parse().ok().or_else(|| format!("{text:0>32}").parse().ok())
}

/// The zeros a marker is padded with to stand in for a job id ([`job_id`]).
const ID_PADDING: &str = "0000000000000000000000";

fn list(text: String) -> Vec<String> {
    text.split(", ").map(String::from).collect()
}

fn optional(text: String, absent: &str) -> Option<String> {
    (text != absent).then_some(text)
}

const MODES: [UpgradeMode; 3] = [UpgradeMode::Savepoint, UpgradeMode::LastState, UpgradeMode::Stateless];

fn reason_forms() -> Vec<Form<Reason>> {
    use Reason::*;
    let mut forms: Vec<Form<Reason>> = vec![
        |_| Some(RecordUnreadable),
        |_| Some(StartedElsewhere),
        |f| Some(ManyLive { count: f(0).parse().ok()? }),
        |_| Some(Suspend),
        |_| Some(Confirm),
        |_| Some(RunsSpec),
        |_| Some(SettingsOnly),
        |_| Some(StaysSuspended),
        |_| Some(SuspendedNeverDeployed),
        |_| Some(Resume),
        |_| Some(Ended { state: JobState::Failed }),
        |_| Some(Ended { state: JobState::Canceled }),
        |_| Some(Ended { state: JobState::Finished }),
        |_| Some(Forgotten),
        |_| Some(NotDeployed),
        |_| Some(StateUnusable),
        |_| Some(Adopt),
        |_| Some(UnmanagedNamesake),
        |_| Some(Prune),
        |_| Some(Orphan),
        |_| Some(ForeignOrphan),
        |_| Some(SavepointWouldTimeOut),
        |_| Some(NoSavepointDir),
        |_| Some(TooWide),
        |_| Some(Replace { mode: UpgradeMode::Savepoint }),
        |_| Some(Replace { mode: UpgradeMode::Stateless }),
        |_| Some(ReplaceRefused { why: ReplaceRefusal::SpecGone }),
        |_| Some(ReplaceRefused { why: ReplaceRefusal::OtherAction }),
        |_| Some(ReplaceRefused { why: ReplaceRefusal::NotRunning }),
        |f| Some(Skipped { by: LeftOut::Excluded, otherwise: Box::new(Reason::read_or_saved(&f(0))) }),
        |f| Some(Skipped { by: LeftOut::NotTargeted, otherwise: Box::new(Reason::read_or_saved(&f(0))) }),
        |f| Some(Rename { old: f(0), name: f(1) }),
        |f| Some(Inherited { old: f(0), name: f(1) }),
        |f| Some(Move { from: f(0) }),
        |f| Some(MoveInterrupted { from: f(0), job_id: job_id(f(1))? }),
        |f| Some(MoveFromLedger { from: f(0) }),
        |f| Some(MoveRefused { from: f(0) }),
        |f| Some(ClusterUnobserved { cluster: f(0) }),
        |f| Some(Reason::read_or_saved(&f(0)).noted(Note::AlsoReplace)),
        |f| Some(Reason::read_or_saved(&f(0)).noted(Note::CheckpointTooOld)),
        |f| Some(Reason::read_or_saved(&f(0)).noted(Note::MaybeRenamedFrom { orphans: vec![f(1)] })),
        |f| {
            let orphans = format!("{}` or `{}", f(1), f(2)).split("` or `").map(String::from).collect();
            Some(Reason::read_or_saved(&f(0)).noted(Note::MaybeRenamedFrom { orphans }))
        },
        |f| Some(Reason::read_or_saved(&f(0)).noted(Note::MaybeRenamedTo { fresh: f(1), name: f(2) })),
    ];
    forms.extend(PROTECTED_FORMS);
    forms.extend(UPGRADE_FORMS);
    forms
}

/// `protect: true` refusals.
const PROTECTED_FORMS: [Form<Reason>; 6] = [
    |_| Some(Reason::Protected { would: Destroy::Prune }),
    |f| Some(Reason::Protected { would: Destroy::Move { from: f(0) } }),
    |_| Some(Reason::Protected { would: Destroy::Stateless }),
    |_| Some(Reason::Protected { would: Destroy::LastState }),
    |f| Some(Reason::Protected { would: Destroy::StartEmpty { why: f(0) } }),
    |f| Some(Reason::Protected { would: Destroy::StartFrom { path: f(0), source: f(1) } }),
];

/// Upgrades, by what changed (the spec, unknown, then fields: words that say "the spec changed"
/// are the spec's, not a field's) and mode.
const UPGRADE_FORMS: [Form<Reason>; 9] = [
    |_| Some(Reason::Upgrade { changed: Changed::Spec, mode: MODES[0] }),
    |_| Some(Reason::Upgrade { changed: Changed::Spec, mode: MODES[1] }),
    |_| Some(Reason::Upgrade { changed: Changed::Spec, mode: MODES[2] }),
    |_| Some(Reason::Upgrade { changed: Changed::Unknown, mode: MODES[0] }),
    |_| Some(Reason::Upgrade { changed: Changed::Unknown, mode: MODES[1] }),
    |_| Some(Reason::Upgrade { changed: Changed::Unknown, mode: MODES[2] }),
    |f| Some(Reason::Upgrade { changed: Changed::Fields(list(f(0))), mode: MODES[0] }),
    |f| Some(Reason::Upgrade { changed: Changed::Fields(list(f(0))), mode: MODES[1] }),
    |f| Some(Reason::Upgrade { changed: Changed::Fields(list(f(0))), mode: MODES[2] }),
];

fn problem_forms() -> Vec<Form<Problem>> {
    use Problem::*;
    vec![
        |f| Some(SharedTag { first: f(0), second: f(1), tag: f(2) }),
        |f| Some(RecordUnreadable { job: f(0), why: f(1) }),
        |f| Some(StartedElsewhere { job: f(0), live: job_id(f(1))?, recorded: f(2) }),
        |f| Some(ManyLive { job: f(0), ids: vec![f(1), f(2)] }),
        |f| Some(ManyLive { job: f(0), ids: vec![f(1), f(2), f(3)] }),
        |f| Some(NoSavepointDir { job: f(0), action: Action::Suspend }),
        |f| Some(NoSavepointDir { job: f(0), action: Action::Stop }),
        |f| Some(NoSavepointDir { job: f(0), action: Action::Adopt }),
        |f| Some(NoSavepointDir { job: f(0), action: Action::Rename }),
        |f| Some(NoSavepointDir { job: f(0), action: Action::Upgrade { mode: UpgradeMode::Savepoint } }),
        |f| Some(TooWide { job: f(0), need: f(1).parse().ok()?, total: f(2).parse().ok()?, stopped: true }),
        |f| Some(TooWide { job: f(0), need: f(1).parse().ok()?, total: f(2).parse().ok()?, stopped: false }),
        |f| Some(NotStarted { job: f(0), why: f(1) }),
        |f| Some(UnmanagedNamesake { job: f(0), id: job_id(f(1))? }),
        |f| {
            Some(ReplaceRefused {
                job: f(0),
                why: ReplaceRefusal::SpecGone,
                reason: Box::new(Reason::read_or_saved(&f(1))),
            })
        },
        |f| {
            Some(ReplaceRefused {
                job: f(0),
                why: ReplaceRefusal::OtherAction,
                reason: Box::new(Reason::read_or_saved(&f(1))),
            })
        },
        |f| {
            Some(ReplaceRefused {
                job: f(0),
                why: ReplaceRefusal::NotRunning,
                reason: Box::new(Reason::read_or_saved(&f(1))),
            })
        },
        |f| Some(Protected { job: f(0), would: Destroy::Prune }),
        |f| Some(Protected { job: f(0), would: Destroy::Move { from: f(1) } }),
        |f| Some(Protected { job: f(0), would: Destroy::Stateless }),
        |f| Some(Protected { job: f(0), would: Destroy::LastState }),
        |f| Some(Protected { job: f(0), would: Destroy::StartEmpty { why: f(1) } }),
        |f| Some(Protected { job: f(0), would: Destroy::StartFrom { path: f(1), source: f(2) } }),
        |f| {
            let why = MoveRefusal::KnownOnMany { clusters: vec![f(3), f(4)] };
            Some(MoveRefused { job: f(0), from: f(1), to: f(2), why })
        },
        |f| {
            let why = MoveRefusal::KnownOnMany { clusters: vec![f(3), f(4), f(5)] };
            Some(MoveRefused { job: f(0), from: f(1), to: f(2), why })
        },
        |f| Some(MoveRefused { job: f(0), from: f(1), to: f(2), why: MoveRefusal::Suspended }),
        |f| Some(MoveRefused { job: f(0), from: f(1), to: f(2), why: MoveRefusal::NothingToStartFrom }),
        |f| {
            let why =
                MoveRefusal::Versions { old: optional(f(3), "unknown"), new: optional(f(4), "unknown") };
            Some(MoveRefused { job: f(0), from: f(1), to: f(2), why })
        },
        |f| {
            let why = MoveRefusal::SavepointDirs {
                writes: optional(f(3), "no directory"),
                reads: optional(f(4), "not set"),
            };
            Some(MoveRefused { job: f(0), from: f(1), to: f(2), why })
        },
        |f| Some(MoveRefused { job: f(0), from: f(1), to: f(2), why: MoveRefusal::Renamed { old: f(3) } }),
    ]
}

fn warning_forms() -> Vec<Form<Warning>> {
    vec![
        |f| {
            let short = SlotShortfall { need: f(1).parse().ok()?, free: f(2).parse().ok()?, freed: 0 };
            Some(Warning::FreeSlots { job: f(0), short })
        },
        |f| {
            let short = SlotShortfall {
                need: f(1).parse().ok()?,
                free: f(2).parse().ok()?,
                freed: f(3).parse().ok()?,
            };
            Some(Warning::FreeSlots { job: f(0), short })
        },
    ]
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::spec::model::Duration;

    fn back<T: Serialize + for<'de> Deserialize<'de>>(fact: &T) -> T {
        serde_json::from_str(&serde_json::to_string(fact).unwrap()).unwrap()
    }

    fn id(n: u8) -> JobId {
        JobId::from_bytes([n; 16])
    }

    fn reasons() -> Vec<Reason> {
        use Reason::*;
        let s = |t: &str| t.to_string();
        let mut all = vec![
            RecordUnreadable,
            StartedElsewhere,
            ManyLive { count: 3 },
            Suspend,
            Confirm,
            RunsSpec,
            SettingsOnly,
            StaysSuspended,
            SuspendedNeverDeployed,
            Resume,
            Ended { state: JobState::Failed },
            Ended { state: JobState::Canceled },
            Ended { state: JobState::Finished },
            Forgotten,
            NotDeployed,
            StateUnusable,
            Adopt,
            UnmanagedNamesake,
            Prune,
            Orphan,
            ForeignOrphan,
            SavepointWouldTimeOut,
            NoSavepointDir,
            TooWide,
            Replace { mode: UpgradeMode::Savepoint },
            Replace { mode: UpgradeMode::Stateless },
            ReplaceRefused { why: ReplaceRefusal::SpecGone },
            ReplaceRefused { why: ReplaceRefusal::OtherAction },
            ReplaceRefused { why: ReplaceRefusal::NotRunning },
            Protected { would: Destroy::Prune },
            Protected { would: Destroy::Move { from: s("east") } },
            Protected { would: Destroy::Stateless },
            Protected { would: Destroy::LastState },
            Protected { would: Destroy::StartEmpty { why: s("restore.from: none") } },
            Protected { would: Destroy::StartFrom { path: s("file:/sp/x"), source: s("restore.from") } },
            Rename { old: s("orders"), name: s("orders-v2") },
            Inherited { old: s("orders"), name: s("orders-v2") },
            Move { from: s("east") },
            MoveInterrupted { from: s("east"), job_id: id(7) },
            MoveFromLedger { from: s("east") },
            MoveRefused { from: s("east") },
            ClusterUnobserved { cluster: s("west") },
        ];
        for mode in MODES {
            for changed in
                [Changed::Fields(vec![s("parallelism"), s("args[2]")]), Changed::Spec, Changed::Unknown]
            {
                all.push(Upgrade { changed, mode });
            }
        }
        let upgrade = Upgrade { changed: Changed::Fields(vec![s("jar")]), mode: UpgradeMode::LastState };
        all.extend([
            Skipped { by: LeftOut::Excluded, otherwise: Box::new(upgrade.clone()) },
            Skipped { by: LeftOut::NotTargeted, otherwise: Box::new(NotDeployed) },
            upgrade.clone().noted(Note::AlsoReplace),
            upgrade.clone().noted(Note::CheckpointTooOld).noted(Note::AlsoReplace),
            NotDeployed.noted(Note::MaybeRenamedFrom { orphans: vec![s("old")] }),
            NotDeployed.noted(Note::MaybeRenamedFrom { orphans: vec![s("a"), s("b"), s("c")] }),
            Orphan.noted(Note::MaybeRenamedTo { fresh: s("new"), name: s("old") }),
            Skipped { by: LeftOut::NotTargeted, otherwise: Box::new(Orphan.noted(Note::AlsoReplace)) },
        ]);
        all
    }

    fn problems() -> Vec<Problem> {
        use Problem::*;
        let (job, s) = (|| "orders".to_string(), |t: &str| t.to_string());
        let mut all = vec![
            SharedTag { first: s("a"), second: s("b"), tag: s("1a2b3c") },
            RecordUnreadable { job: job(), why: s("expected value at line 1 column 1") },
            StartedElsewhere { job: job(), live: id(1), recorded: id(2).to_string() },
            ManyLive { job: job(), ids: vec![id(1).to_string(), id(2).to_string()] },
            ManyLive { job: job(), ids: vec![id(1).to_string(), id(2).to_string(), id(3).to_string()] },
            TooWide { job: job(), need: 8, total: 4, stopped: true },
            TooWide { job: job(), need: 8, total: 4, stopped: false },
            NotStarted { job: job(), why: s("its newest snapshot file:/sp/a is gone; set `restore.from`") },
            UnmanagedNamesake { job: job(), id: id(9) },
            Protected { job: job(), would: Destroy::LastState },
            Protected {
                job: job(),
                would: Destroy::StartFrom { path: s("file:/sp/x"), source: s("restore.from") },
            },
        ];
        for action in [Action::Suspend, Action::Stop, Action::Adopt, Action::Rename] {
            all.push(NoSavepointDir { job: job(), action });
        }
        all.push(NoSavepointDir { job: job(), action: Action::Upgrade { mode: UpgradeMode::Savepoint } });
        for why in [ReplaceRefusal::SpecGone, ReplaceRefusal::OtherAction, ReplaceRefusal::NotRunning] {
            let reason =
                Box::new(Reason::Skipped { by: LeftOut::Excluded, otherwise: Box::new(Reason::Orphan) });
            all.push(ReplaceRefused { job: job(), why, reason });
        }
        let (from, to) = (s("east"), s("west"));
        for why in [
            MoveRefusal::Suspended,
            MoveRefusal::NothingToStartFrom,
            MoveRefusal::Versions { old: Some(s("1.20.5")), new: None },
            MoveRefusal::SavepointDirs { writes: None, reads: Some(s("s3://b/sp")) },
            MoveRefusal::Renamed { old: s("orders-old") },
        ] {
            all.push(MoveRefused { job: job(), from: from.clone(), to: to.clone(), why });
        }
        let clusters = vec![s("east"), s("north")];
        let why = MoveRefusal::KnownOnMany { clusters: clusters.clone() };
        all.push(MoveRefused { job: job(), from: clusters.join(", "), to, why });
        all
    }

    /// A saved plan (`plan --out`, `apply PLANFILE`) reads back as the facts it was written from,
    /// for every form whose words hold no duration.
    #[test]
    fn every_reason_and_problem_reads_back_as_the_same_fact() {
        for r in reasons() {
            assert!(!r.to_string().is_empty(), "{r:?} has no words");
            assert_eq!(back(&r), r, "{r}");
        }
        for p in problems() {
            assert_eq!(back(&p), p, "{p}");
        }
        for short in
            [SlotShortfall { need: 4, free: 1, freed: 0 }, SlotShortfall { need: 4, free: 1, freed: 2 }]
        {
            let w = Warning::FreeSlots { job: "orders".into(), short };
            assert_eq!(back(&w), w, "{w}");
        }
    }

    /// Durations are written for people (`3s 400ms`, `1h0m`) and not read back: those facts
    /// come back as their words, which show the same.
    #[test]
    fn facts_with_durations_read_back_as_their_words() {
        let short = TimeoutTooShort { timeout_ms: 3000, checkpoint_id: 6, took_ms: 3400 };
        let old = CheckpointTooOld { checkpoint_id: 4, age_ms: 3_600_001, max: Duration::seconds(3600) };
        let p = Problem::SavepointTimeout { job: "orders".into(), short };
        assert_eq!(back(&p), Problem::Saved(p.to_string()));
        let w = Warning::CheckpointTooOld { job: "orders".into(), old };
        assert_eq!(back(&w), Warning::Saved(w.to_string()));
    }

    #[test]
    fn words_this_flinkops_does_not_write_stay_as_they_were() {
        for words in ["an older flinkops's reason", "not deployed yet, really", "4000000001 live jobs"] {
            let r: Reason = serde_json::from_value(serde_json::Value::String(words.into())).unwrap();
            assert_eq!(r, Reason::Saved(words.into()));
        }
        let p: Problem = serde_json::from_value(serde_json::Value::String("`x`: new".into())).unwrap();
        assert!(p.names("x") && !p.names("y"), "saved words name the job they quote");
    }

    /// Audit picks a job's problems by the facts: a shared id tag is both jobs'.
    #[test]
    fn a_problem_names_the_jobs_it_is_about() {
        let tag = Problem::SharedTag { first: "a".into(), second: "b".into(), tag: "t".into() };
        assert!(tag.names("a") && tag.names("b") && !tag.names("t"));
        let p = Problem::UnmanagedNamesake { job: "orders".into(), id: id(1) };
        assert!(p.names("orders") && !p.names("order"));
    }

    #[test]
    fn the_json_plan_carries_the_words() {
        let r = Reason::Ended { state: JobState::Failed };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#""the job failed: start it again from its latest state""#
        );
    }
}

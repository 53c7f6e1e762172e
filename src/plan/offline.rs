//! The offline plan: two spec trees compared with no cluster (`plan --base`, `plan --base-rev`).
//!
//! For a pull request whose CI runner cannot reach Flink: every job of either tree is classified
//! by what applying the head tree would do to it if the base tree is what runs now. The field
//! diff is the live plan's (`diff::changes`), so both plans agree on what forces a redeploy.
//! Pure: the command layer reads the trees (and git), this module only compares.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;

use super::diff;
use super::model::FieldChange;
use super::reasons::{JarUnhashed, OfflineHint, OfflineReason, Tree};
use crate::ledger::AppliedSpec;
use crate::spec::model::{JobState, RestoreFrom, UpgradeMode};
use crate::spec::{Desired, JarSource, Job};

/// The version of the JSON document; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// Every job of both trees, classified.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    title = "flinkops offline plan",
    description = "Two spec trees compared with no cluster, as `flinkops plan --base`/`--base-rev` prints it with `-o json`."
)]
pub struct OfflinePlan {
    /// The version of this document's shape (currently 1).
    pub format_version: u32,
    /// The base tree: a directory, or `REV (commit)` for `--base-rev`.
    pub base: String,
    /// The head tree: the spec directory.
    pub head: String,
    /// Whether removed jobs are planned to be stopped (`--prune`).
    pub prune: bool,
    /// Every job of either tree, by name.
    pub jobs: Vec<OfflineJob>,
    /// Whether applying the head tree would change anything.
    pub has_changes: bool,
    /// Whether some change drops a job's state (the warning block; exit code 3 with
    /// `--detailed-exitcode`).
    pub drops_state: bool,
    /// How many jobs per kind of change.
    pub summary: BTreeMap<ChangeKind, usize>,
}

/// One job and what applying the head tree does to it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OfflineJob {
    pub name: String,
    pub change: ChangeKind,
    /// What happens, in a sentence.
    pub reason: OfflineReason,
    /// For `renamed`: the name the job had in the base tree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// Every field that differs; `forcesRedeploy` marks those that make the job restart.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    /// How the jar was compared, when both trees have the job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jar_compared_by: Option<JarComparison>,
    /// Why the job would start without its state; absent when it keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dropped: Option<StateDrop>,
    /// Advice for the reviewer (e.g. `previousNames` for what looks like a rename).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<OfflineHint>,
    /// Where the spec is written (`file:line`): the head tree's, or the base tree's for a
    /// removed job.
    pub origin: String,
}

/// The kinds of change, in the order they are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ChangeKind {
    /// Restarts with its state dropped.
    RedeployWithoutState,
    /// In the base tree only: an orphan, stopped with a savepoint only under `--prune`.
    Removed,
    /// Renamed with `previousNames`: the new name starts from the old job's savepoint.
    Renamed,
    /// A field that decides what runs changed: stop with a savepoint, start from it.
    Redeploy,
    /// In the head tree only: deployed.
    New,
    /// `state: suspended`: stopped with a savepoint.
    Suspend,
    /// `state: running` again: started from the suspension savepoint.
    Resume,
    /// Only settings that do not restart the job (health, savepoint, restore, …).
    SettingsOnly,
    /// Nothing differs.
    Unchanged,
}

/// Whether the jar was compared by its content or only by where it is.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", tag = "by")]
pub enum JarComparison {
    /// Both trees' jars were hashed (or declare `jarSha256`).
    ContentHash,
    /// By path or URL: `why` says which side has no hash.
    Path { why: JarUnhashed },
}

/// Why a job would lose its state.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StateDrop {
    /// The setting responsible: `upgradeMode: stateless`, `restore.from: none`.
    pub why: String,
    /// `true` when this change introduces it (the warning block, exit code 3); `false` for a job
    /// that was stateless in the base tree already.
    pub introduced: bool,
}

impl OfflinePlan {
    pub fn job(&self, name: &str) -> Option<&OfflineJob> {
        self.jobs.iter().find(|j| j.name == name)
    }
}

/// Compare the trees. Local jar paths must already be relative to each tree's root
/// ([`relative_jars`]), so that the same jar in both checkouts compares equal.
pub fn classify(base: &Desired, head: &Desired, prune: bool, labels: (&str, &str)) -> OfflinePlan {
    let renames = renames(base, head);
    let taken: BTreeSet<&str> = renames.values().map(String::as_str).collect();
    let mut jobs = Vec::new();
    for (name, new) in &head.jobs {
        let job = match (base.jobs.get(name), renames.get(name.as_str())) {
            (Some(old), _) => compared(old, new),
            (None, Some(from)) => renamed(&base.jobs[from], new),
            (None, None) => added(new),
        };
        jobs.push(job);
    }
    for (name, old) in &base.jobs {
        if !head.jobs.contains_key(name) && !taken.contains(name.as_str()) {
            jobs.push(removed(old, prune));
        }
    }
    hint_unlisted_renames(&mut jobs, base, head);
    jobs.sort_by(|a, b| (a.change, &a.name).cmp(&(b.change, &b.name)));
    let mut summary = BTreeMap::new();
    for j in &jobs {
        *summary.entry(j.change).or_insert(0) += 1;
    }
    OfflinePlan {
        format_version: FORMAT_VERSION,
        base: labels.0.to_string(),
        head: labels.1.to_string(),
        prune,
        has_changes: jobs.iter().any(|j| j.change != ChangeKind::Unchanged),
        drops_state: jobs.iter().any(|j| j.state_dropped.as_ref().is_some_and(|s| s.introduced)),
        jobs,
        summary,
    }
}

/// New name -> old name, for head jobs whose `previousNames` lists a base job no head spec keeps.
fn renames(base: &Desired, head: &Desired) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, job) in &head.jobs {
        if base.jobs.contains_key(name) {
            continue;
        }
        // The newest previous name still in the base tree (the list is oldest first).
        let from = job
            .previous_names
            .iter()
            .rev()
            .find(|old| base.jobs.contains_key(old.as_str()) && !head.jobs.contains_key(old.as_str()));
        if let Some(from) = from {
            out.insert(name.clone(), from.clone());
        }
    }
    out
}

fn entry(job: &Job, change: ChangeKind, reason: OfflineReason) -> OfflineJob {
    OfflineJob {
        name: job.name.clone(),
        change,
        reason,
        renamed_from: None,
        changes: Vec::new(),
        jar_compared_by: None,
        state_dropped: None,
        hints: Vec::new(),
        origin: job.origin.clone(),
    }
}

fn added(new: &Job) -> OfflineJob {
    if new.state == JobState::Suspended {
        return entry(new, ChangeKind::Unchanged, OfflineReason::NewSuspended);
    }
    let mut j = entry(new, ChangeKind::New, OfflineReason::New);
    if let RestoreFrom::Path(path) = &new.restore.from.value {
        j.reason = OfflineReason::NewFrom { path: path.clone() };
    }
    j
}

fn removed(old: &Job, prune: bool) -> OfflineJob {
    entry(old, ChangeKind::Removed, OfflineReason::Removed { prune })
}

fn renamed(old: &Job, new: &Job) -> OfflineJob {
    let mut j = compared(old, new);
    j.change = ChangeKind::Renamed;
    j.renamed_from = Some(old.name.clone());
    j.reason = OfflineReason::Renamed { old: old.name.clone(), new: new.name.clone() };
    if let Some(drop) = &j.state_dropped {
        j.reason = OfflineReason::RenamedEmpty { old: old.name.clone(), why: drop.why.clone() };
    }
    j
}

/// Both trees have the job: what differs, and what that does to it.
fn compared(old: &Job, new: &Job) -> OfflineJob {
    let changes = diff::changes(&AppliedSpec::of(old), &old.name, new);
    let forcing: Vec<String> =
        changes.iter().filter(|c| c.forces_redeploy).map(|c| c.field.clone()).collect();
    let mut j = entry(new, ChangeKind::Unchanged, OfflineReason::NoChange);
    j.jar_compared_by = Some(jar_comparison(old, new));
    let (was, is) = (old.state, new.state);
    if was == JobState::Running && is == JobState::Suspended {
        j.change = ChangeKind::Suspend;
        j.reason = OfflineReason::Suspend;
    } else if was == JobState::Suspended && is == JobState::Running {
        j.change = ChangeKind::Resume;
        j.reason = OfflineReason::Resume;
        j.state_dropped = start_drop(old, new);
    } else if is == JobState::Suspended {
        j.change = if changes.is_empty() { ChangeKind::Unchanged } else { ChangeKind::SettingsOnly };
        j.reason = OfflineReason::SuspendedInBoth;
    } else if !forcing.is_empty() {
        j.change = ChangeKind::Redeploy;
        let last_state = new.upgrade_mode == UpgradeMode::LastState;
        j.reason = OfflineReason::Redeploy { fields: forcing.clone(), last_state };
        j.state_dropped = upgrade_drop(old, new);
    } else if !changes.is_empty() {
        j.change = ChangeKind::SettingsOnly;
        j.reason = OfflineReason::SettingsOnly;
        j.state_dropped = later_drop(old, new);
    }
    if let Some(drop) = &j.state_dropped
        && j.change == ChangeKind::Redeploy
    {
        j.change = ChangeKind::RedeployWithoutState;
        j.reason = OfflineReason::RedeployEmpty { fields: forcing, why: drop.why.clone() };
    }
    j.changes = changes;
    j
}

/// A running job redeployed: only `upgradeMode: stateless` starts it empty.
fn upgrade_drop(old: &Job, new: &Job) -> Option<StateDrop> {
    (new.upgrade_mode == UpgradeMode::Stateless).then(|| StateDrop {
        why: "upgradeMode: stateless".into(),
        introduced: old.upgrade_mode != UpgradeMode::Stateless,
    })
}

/// A job started again (resume): stateless, or `restore.from: none`, starts empty.
fn start_drop(old: &Job, new: &Job) -> Option<StateDrop> {
    upgrade_drop(old, new).or_else(|| {
        (new.restore.from.value == RestoreFrom::None).then(|| StateDrop {
            why: "restore.from: none".into(),
            introduced: old.restore.from.value != RestoreFrom::None,
        })
    })
}

/// Settings only, but the next restart (a failure, the next upgrade) would start it empty: the
/// reviewer must know now, when the setting is merged.
fn later_drop(old: &Job, new: &Job) -> Option<StateDrop> {
    let drop = start_drop(old, new).filter(|d| d.introduced)?;
    Some(StateDrop { why: format!("{}: its next start is empty", drop.why), introduced: true })
}

fn jar_comparison(old: &Job, new: &Job) -> JarComparison {
    let url = |job: &Job| matches!(job.jar, JarSource::Url { .. });
    let why = match (&old.jar_sha256, &new.jar_sha256) {
        (Some(_), Some(_)) => return JarComparison::ContentHash,
        (None, Some(_)) => JarUnhashed { tree: Tree::Base, url: url(old) },
        (Some(_), None) => JarUnhashed { tree: Tree::Head, url: url(new) },
        (None, None) => JarUnhashed { tree: Tree::Both, url: url(old) },
    };
    JarComparison::Path { why }
}

/// A spec renamed without `previousNames` shows as removed + new: say so on both, naming the
/// likely pair (the same spec file name, else the only pair there is; jars are often shared).
fn hint_unlisted_renames(jobs: &mut [OfflineJob], base: &Desired, head: &Desired) {
    let names = |kind: ChangeKind| -> Vec<String> {
        jobs.iter().filter(|j| j.change == kind).map(|j| j.name.clone()).collect()
    };
    let (removed, added) = (names(ChangeKind::Removed), names(ChangeKind::New));
    let file = |job: &Job| {
        let path = job.origin.rsplit_once(':').map_or(job.origin.as_str(), |(p, _)| p);
        Path::new(path).file_name().map(|f| f.to_os_string())
    };
    let mut pairs = Vec::new();
    for new in &added {
        let same_file: Vec<&String> =
            removed.iter().filter(|old| file(&base.jobs[*old]) == file(&head.jobs[new])).collect();
        let old = match (same_file.as_slice(), removed.as_slice()) {
            ([one], _) => Some(*one),
            (_, [one]) if added.len() == 1 => Some(one),
            _ => None,
        };
        if let Some(old) = old {
            pairs.push((old.clone(), new.clone()));
        }
    }
    for (old, new) in pairs {
        let hint = OfflineHint::MaybeRenamed { old: old.clone(), new: new.clone() };
        for j in jobs.iter_mut().filter(|j| j.name == old || j.name == new) {
            j.hints.push(hint.clone());
        }
    }
}

/// Every local jar path of `desired` made relative to `root`, so that two checkouts of one
/// repository name the same jar alike.
pub fn relative_jars(desired: &mut Desired, root: &Path) {
    for job in desired.jobs.values_mut() {
        if let JarSource::Local { path } = &mut job.jar {
            *path = relative(path, root);
        }
    }
}

/// `path` relative to `root` (both absolute and normalised), with `..` where it lies outside.
fn relative(path: &Path, root: &Path) -> PathBuf {
    let (p, r): (Vec<Component>, Vec<Component>) = (path.components().collect(), root.components().collect());
    let common = p.iter().zip(&r).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..r.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures::{JobExt, desired, job};
    use crate::spec::model::RestoreFrom;

    fn one(base: Vec<Job>, head: Vec<Job>, prune: bool) -> OfflinePlan {
        classify(&desired(base), &desired(head), prune, ("base", "head"))
    }

    fn kind(plan: &OfflinePlan, name: &str) -> ChangeKind {
        plan.job(name).unwrap_or_else(|| panic!("{name} in {plan:#?}")).change
    }

    #[test]
    fn identical_trees_have_no_changes() {
        let p = one(vec![job("a")], vec![job("a")], false);
        assert_eq!(kind(&p, "a"), ChangeKind::Unchanged);
        assert!(!p.has_changes && !p.drops_state);
    }

    #[test]
    fn a_runtime_field_redeploys_from_a_savepoint_and_names_the_field() {
        let p = one(vec![job("a")], vec![job("a").with_parallelism(4)], false);
        let a = p.job("a").unwrap();
        assert_eq!(a.change, ChangeKind::Redeploy);
        assert_eq!(
            a.changes.iter().filter(|c| c.forces_redeploy).map(|c| &c.field).collect::<Vec<_>>(),
            ["parallelism"]
        );
        assert!(a.state_dropped.is_none() && !p.drops_state);
    }

    #[test]
    fn each_fingerprint_input_forces_a_redeploy() {
        type Edit = Box<dyn Fn(&mut Job)>;
        let edits: Vec<(&str, Edit)> = vec![
            ("jar", Box::new(|j| j.jar_sha256 = Some("cd".repeat(32)))),
            ("entryClass", Box::new(|j| j.entry_class = Some("x.Other".into()))),
            ("args", Box::new(|j| j.args.push(crate::spec::Param::plain("--more")))),
            (
                "flinkConfiguration.k",
                Box::new(|j| {
                    j.flink_configuration.insert("k".into(), crate::spec::Param::plain("v"));
                }),
            ),
            ("restartNonce", Box::new(|j| j.restart_nonce = 7)),
        ];
        for (field, edit) in edits {
            let mut head = job("a");
            edit(&mut head);
            let p = one(vec![job("a")], vec![head], false);
            let a = p.job("a").unwrap();
            assert_eq!(a.change, ChangeKind::Redeploy, "{field}");
            assert!(
                a.changes.iter().any(|c| c.forces_redeploy && c.field.starts_with(field)),
                "{field}: {a:#?}"
            );
        }
    }

    #[test]
    fn settings_alone_do_not_redeploy() {
        let mut head = job("a");
        head.health.stable_for.value = crate::spec::model::Duration::seconds(90);
        let p = one(vec![job("a")], vec![head], false);
        assert_eq!(kind(&p, "a"), ChangeKind::SettingsOnly);
        assert!(p.has_changes && !p.drops_state);
    }

    #[test]
    fn a_redeploy_turned_stateless_drops_state() {
        let p = one(vec![job("a")], vec![job("a").with_parallelism(3).mode(UpgradeMode::Stateless)], false);
        let a = p.job("a").unwrap();
        assert_eq!(a.change, ChangeKind::RedeployWithoutState);
        assert!(a.state_dropped.as_ref().is_some_and(|s| s.introduced && s.why.contains("stateless")));
        assert!(p.drops_state);
    }

    #[test]
    fn a_job_stateless_in_both_trees_is_redeployed_empty_but_drops_nothing_new() {
        let base = job("a").mode(UpgradeMode::Stateless);
        let p = one(vec![base], vec![job("a").mode(UpgradeMode::Stateless).with_parallelism(2)], false);
        assert_eq!(kind(&p, "a"), ChangeKind::RedeployWithoutState);
        assert!(!p.drops_state, "stateless by design: no warning, no exit code 3");
    }

    #[test]
    fn turning_stateless_or_restore_none_without_a_redeploy_still_warns() {
        let p = one(vec![job("a")], vec![job("a").mode(UpgradeMode::Stateless)], false);
        assert_eq!(kind(&p, "a"), ChangeKind::SettingsOnly);
        assert!(p.drops_state);
        let mut head = job("a");
        head.restore.from.value = RestoreFrom::None;
        let p = one(vec![job("a")], vec![head], false);
        assert_eq!(kind(&p, "a"), ChangeKind::SettingsOnly);
        assert!(p.drops_state, "{p:#?}");
    }

    #[test]
    fn resume_with_restore_none_starts_empty() {
        let mut head = job("a");
        head.restore.from.value = RestoreFrom::None;
        let p = one(vec![job("a").suspended()], vec![head], false);
        assert_eq!(kind(&p, "a"), ChangeKind::Resume);
        assert!(p.drops_state);
        let p = one(vec![job("a")], vec![job("a").suspended()], false);
        assert_eq!(kind(&p, "a"), ChangeKind::Suspend);
        assert!(!p.drops_state);
    }

    #[test]
    fn new_and_removed_say_what_prune_does() {
        let p = one(vec![job("old")], vec![job("fresh")], false);
        assert_eq!(kind(&p, "fresh"), ChangeKind::New);
        let old = p.job("old").unwrap();
        assert_eq!(old.change, ChangeKind::Removed);
        assert_eq!(old.reason, OfflineReason::Removed { prune: false });
        assert!(old.reason.to_string().contains("only under --prune"), "{}", old.reason);
        let pruned = one(vec![job("old")], vec![], true);
        assert!(pruned.job("old").unwrap().reason.to_string().contains("stopped with a savepoint (--prune)"));
    }

    #[test]
    fn a_rename_without_previous_names_hints_at_it_on_both_jobs() {
        let p = one(vec![job("old"), job("other")], vec![job("fresh"), job("other")], false);
        for name in ["old", "fresh"] {
            let j = p.job(name).unwrap();
            assert!(
                j.hints
                    .iter()
                    .any(|h| h == &OfflineHint::MaybeRenamed { old: "old".into(), new: "fresh".into() }
                        && h.to_string().contains("previousNames: [old]")
                        && h.to_string().contains("not carried over")),
                "{j:#?}"
            );
        }
        // Two new jobs: the one written in the removed job's file is the likely rename.
        let mut moved = job("fresh");
        moved.origin = "specs/old.yaml:3".into();
        let p = one(vec![job("old")], vec![moved, job("unrelated")], false);
        assert_eq!(p.job("fresh").unwrap().hints.len(), 1);
        assert!(p.job("unrelated").unwrap().hints.is_empty(), "{p:#?}");
    }

    #[test]
    fn previous_names_make_a_rename_and_the_old_name_is_not_removed() {
        let mut renamed = job("new-name");
        renamed.previous_names = vec!["older".into(), "old".into()];
        let p = one(vec![job("old")], vec![renamed], false);
        let j = p.job("new-name").unwrap();
        assert_eq!(j.change, ChangeKind::Renamed);
        assert_eq!(j.renamed_from.as_deref(), Some("old"));
        assert!(p.job("old").is_none(), "the old name is carried, not removed: {p:#?}");
        assert!(j.hints.is_empty());
    }

    /// A secret is stored as a digest salted with the job's name: an unchanged `${VAR}` must
    /// match across a rename as it does under one name, in args and in flinkConfiguration.
    #[test]
    fn an_unchanged_secret_is_unchanged_across_a_rename() {
        let secret = || crate::spec::Param { value: "${DB_PASSWORD}".into(), sensitive: true };
        let with_secret = |name: &str| {
            let mut j = job(name);
            j.args = vec![secret()];
            j.flink_configuration.insert("db.password".into(), secret());
            j
        };
        let mut renamed = with_secret("new-name");
        renamed.previous_names = vec!["old".into()];
        let p = one(vec![with_secret("old")], vec![renamed.clone()], false);
        let j = p.job("new-name").unwrap();
        assert_eq!(j.change, ChangeKind::Renamed);
        assert!(j.changes.is_empty(), "{:#?}", j.changes);
        // A secret that did change still shows, redacted.
        renamed.args.last_mut().unwrap().value = "${OTHER}".into();
        let p = one(vec![with_secret("old")], vec![renamed], false);
        let fields: Vec<&str> = p.job("new-name").unwrap().changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields.len(), 1, "{fields:?}");
        assert!(fields[0].starts_with("args["), "{fields:?}");
    }

    #[test]
    fn jars_are_compared_by_content_when_both_are_hashed_else_by_path() {
        let p = one(vec![job("a")], vec![job("a")], false);
        assert!(matches!(p.job("a").unwrap().jar_compared_by, Some(JarComparison::ContentHash)));
        let mut unbuilt = job("a");
        unbuilt.jar_sha256 = None;
        let p = one(vec![unbuilt.clone()], vec![job("a")], false);
        assert_eq!(kind(&p, "a"), ChangeKind::Unchanged, "same path, base jar absent: no change");
        match &p.job("a").unwrap().jar_compared_by {
            Some(JarComparison::Path { why }) => {
                assert_eq!(why, &JarUnhashed { tree: Tree::Base, url: false });
                assert!(why.to_string().contains("base"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        let mut moved = unbuilt;
        moved.jar = JarSource::Local { path: "/jars/elsewhere.jar".into() };
        let p = one(vec![moved], vec![job("a")], false);
        assert_eq!(kind(&p, "a"), ChangeKind::Redeploy);
    }

    #[test]
    fn relative_paths_reach_outside_the_root_with_dot_dots() {
        assert_eq!(relative(Path::new("/r/specs/a.jar"), Path::new("/r/specs")), PathBuf::from("a.jar"));
        assert_eq!(
            relative(Path::new("/r/jars/a.jar"), Path::new("/r/specs")),
            PathBuf::from("../jars/a.jar")
        );
    }
}

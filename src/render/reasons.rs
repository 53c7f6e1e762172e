//! The words for why the plan decided what it did (`plan::reasons`: a job's reason, the plan's
//! problems and warnings) and for the checks before a stop (`plan::checks`), and the way
//! durations are written for people. The JSON plan carries these words too, so they must not
//! change by accident: the plan snapshots pin them.

use std::fmt::{self, Display, Formatter};

use crate::plan::checks::{CheckpointTooOld, SlotShortfall, TimeoutTooShort};
use crate::plan::model::Action;
use crate::plan::reasons::{
    Changed, Destroy, JarUnhashed, LeftOut, MoveRefusal, Note, OfflineHint, OfflineReason, Problem, Reason,
    ReplaceRefusal, Tree, Warning,
};
use crate::spec::model::{Duration, UpgradeMode};

/// `45s`, `3m12s`, `2h5m`, `4d3h`: the two largest units, for people.
pub fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s}s"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

/// `1.5s`-style text of a number of milliseconds (`250ms` below a second).
fn millis(ms: u64) -> String {
    Duration(jiff::SignedDuration::from_millis(i64::try_from(ms).unwrap_or(i64::MAX))).to_string()
}

/// Twice the duration, rounded up to a whole second, in the spec's duration syntax.
fn suggested_timeout(took_ms: u64) -> String {
    let secs = (took_ms.saturating_mul(2)).div_ceil(1000).max(1);
    Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX)).to_string()
}

/// The problem, with the fix.
impl Display for TimeoutTooShort {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not stopped: `savepoint.timeout` is {}, shorter than its recent checkpoints (checkpoint {} took \
             {} end to end), so the savepoint would likely time out with the stop's outcome unknown. Raise \
             `savepoint.timeout` above it, e.g. `savepoint.timeout: {}`; the job keeps running",
            millis(self.timeout_ms),
            self.checkpoint_id,
            millis(self.took_ms),
            suggested_timeout(self.took_ms),
        )
    }
}

impl Display for CheckpointTooOld {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "its newest checkpoint ({}) completed {} ago, more than `upgrade.maxCheckpointAge` ({}): the \
             last-state upgrade takes a savepoint instead of going back to it (are checkpoints failing? see the \
             job's Checkpoints tab)",
            self.checkpoint_id,
            human_duration(self.age_ms / 1000),
            self.max,
        )
    }
}

/// "1 free", "1 free plus the 2 its old version frees".
fn counted(s: &SlotShortfall) -> String {
    if s.freed == 0 {
        format!("{} free", s.free)
    } else {
        format!("{} free plus the {} its old version frees", s.free, s.freed)
    }
}

/// For the plan: a warning, since free slots change as other jobs start and end.
impl Display for SlotShortfall {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "needs {} task slots (parallelism {}) and, right now, the cluster has {}. Free slots change as other \
             jobs end: apply checks again right before it stops anything, waits for slots (`--slot-wait`, 60s by \
             default), and otherwise leaves the running version alone. Add task managers or slots \
             (taskmanager.numberOfTaskSlots) or lower `parallelism` to be sure",
            self.need,
            self.need,
            counted(self),
        )
    }
}

/// For apply, after waiting `waited`: the refusal, with what still runs and the fix.
pub fn slots_never_came(short: &SlotShortfall, waited: std::time::Duration) -> String {
    format!(
        "not stopped: it needs {} task slots and, after waiting {}s, the cluster has {}: Flink would keep the \
         new version waiting, then restart it in a loop. The running version is untouched. Add task managers or \
         slots (taskmanager.numberOfTaskSlots), lower `parallelism`, or apply again once other jobs have ended",
        short.need,
        waited.as_secs(),
        counted(short),
    )
}

impl Display for Reason {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Reason::ManyLive { count } => {
                write!(f, "{count} live jobs run this spec; flinkops will not guess which to keep")
            }
            Reason::Upgrade { changed, mode } => write!(f, "{changed}: {}", upgrade_how(*mode)),
            Reason::Ended { state } => {
                write!(f, "the job {}: start it again from its latest state", super::words::ended(*state))
            }
            Reason::Replace { mode: UpgradeMode::Stateless } => {
                f.write_str("--replace: cancel and start the same version empty (upgradeMode: stateless)")
            }
            Reason::Replace { .. } => f.write_str(
                "--replace: stop with a savepoint, start the same version from it (no spec change)",
            ),
            Reason::ReplaceRefused { why } => write!(f, "--replace refused: {why} (see Errors)"),
            Reason::Protected { would } => write!(f, "protected: would {would} (see Errors)"),
            Reason::Skipped { by, otherwise } => write!(f, "{by}; otherwise: {otherwise}"),
            Reason::Rename { old, name } => write!(
                f,
                "renamed from `{old}` (previousNames): stop `{old}`'s job with a savepoint, start `{name}` from it"
            ),
            Reason::Inherited { old, name } => write!(
                f,
                "renamed from `{old}` (previousNames), whose job is not running: start `{name}` from `{old}`'s \
                 newest state"
            ),
            Reason::Move { from } => write!(
                f,
                "its `cluster:` changed: it runs on cluster `{from}`; stop it there with a savepoint and start it \
                 here from it"
            ),
            Reason::MoveInterrupted { from, job_id } => write!(
                f,
                "an interrupted run was moving it from cluster `{from}`: start it here from the state {job_id} left \
                 there"
            ),
            Reason::MoveFromLedger { from } => write!(
                f,
                "its `cluster:` changed: start it here from the last savepoint cluster `{from}`'s ledger recorded \
                 for it"
            ),
            Reason::MoveRefused { from } => write!(f, "move from cluster `{from}` refused (see Errors)"),
            Reason::ClusterUnobserved { cluster } => {
                write!(f, "cluster `{cluster}` could not be observed (see Errors)")
            }
            Reason::Noted { reason, note } => write!(f, "{reason}{note}"),
            Reason::Saved(words) => f.write_str(words),
            fixed => f.write_str(fixed_reason(fixed).unwrap_or_default()),
        }
    }
}

/// The words of a reason without data; `None` for those with data, which `Display` writes. (No
/// catch-all: a new reason must be sorted here.)
fn fixed_reason(r: &Reason) -> Option<&'static str> {
    Some(match r {
        Reason::RecordUnreadable => "its ledger record cannot be read",
        Reason::StartedElsewhere => "a job of this name that this state directory did not start runs",
        Reason::Suspend => "the spec says `state: suspended`: stop with a savepoint, keep it stopped",
        Reason::Confirm => {
            "an interrupted run started this version and did not finish its health gate: finish it, then record \
             the version or roll back"
        }
        Reason::RunsSpec => "the live job runs this spec",
        Reason::SettingsOnly => "only settings changed: recorded, the job is not touched",
        Reason::StaysSuspended => "suspended, as the spec says",
        Reason::SuspendedNeverDeployed => "suspended, never deployed",
        Reason::Resume => "the spec says running again: start from the suspension savepoint",
        Reason::Forgotten => {
            "not running, and no longer in the cluster's job history: start it from its latest known state"
        }
        Reason::NotDeployed => "not deployed yet",
        Reason::StateUnusable => "its newest state cannot be used or found (see Errors)",
        Reason::Adopt => {
            "an unmanaged job with this name runs: savepoint it and redeploy it under management"
        }
        Reason::UnmanagedNamesake => {
            "an unmanaged job with this name runs; deploying would run the job twice"
        }
        Reason::Prune => "its spec is gone: stop it with a savepoint (--prune)",
        Reason::Orphan => "its spec is gone; left running (stop it with --prune)",
        Reason::ForeignOrphan => {
            "started by flinkops, but not from this state directory (another spec directory?): never pruned from here"
        }
        Reason::SavepointWouldTimeOut => "its savepoint would likely time out (see Errors)",
        Reason::NoSavepointDir => "no savepoint directory to stop it with a savepoint (see Errors)",
        Reason::TooWide => "wider than the cluster's task slots (see Errors)",
        Reason::ManyLive { .. }
        | Reason::Upgrade { .. }
        | Reason::Ended { .. }
        | Reason::Replace { .. }
        | Reason::ReplaceRefused { .. }
        | Reason::Protected { .. }
        | Reason::Skipped { .. }
        | Reason::Rename { .. }
        | Reason::Inherited { .. }
        | Reason::Move { .. }
        | Reason::MoveInterrupted { .. }
        | Reason::MoveFromLedger { .. }
        | Reason::MoveRefused { .. }
        | Reason::ClusterUnobserved { .. }
        | Reason::Noted { .. }
        | Reason::Saved(_) => return None,
    })
}

/// How an upgrade carries state, after what changed.
fn upgrade_how(mode: UpgradeMode) -> &'static str {
    match mode {
        UpgradeMode::Savepoint => "stop with a savepoint, start the new version from it",
        UpgradeMode::LastState => {
            "cancel, start the new version from the latest retained checkpoint (a savepoint if none is kept)"
        }
        UpgradeMode::Stateless => "cancel, start the new version empty (upgradeMode: stateless)",
    }
}

impl Display for Changed {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Changed::Fields(fields) => write!(f, "{} changed", fields.join(", ")),
            Changed::Spec => f.write_str("the spec changed"),
            Changed::Unknown => f.write_str(
                "the live job runs another version of the spec (no ledger record: field details unknown)",
            ),
        }
    }
}

impl Display for ReplaceRefusal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReplaceRefusal::SpecGone => "its spec is gone",
            ReplaceRefusal::OtherAction => "it has another action in this plan",
            ReplaceRefusal::NotRunning => "it is not running",
        })
    }
}

impl Display for Destroy {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Destroy::Prune => f.write_str("stop and remove it (--prune) because its spec is gone"),
            Destroy::Move { from } => {
                write!(f, "move it from cluster `{from}` to another cluster (its `cluster:` changed)")
            }
            Destroy::Stateless => f.write_str("cancel it and start the new version empty (upgradeMode: stateless)"),
            Destroy::LastState => f.write_str(
                "cancel it without a savepoint (upgradeMode: last-state); use upgradeMode: savepoint for a protected \
                 job",
            ),
            Destroy::StartEmpty { why } => write!(f, "start it empty ({why}), dropping its state"),
            Destroy::StartFrom { path, source } => {
                write!(f, "start it from {path} ({source}) instead of its newest snapshot")
            }
        }
    }
}

impl Display for LeftOut {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LeftOut::Excluded => "excluded (--exclude)",
            LeftOut::NotTargeted => "not targeted (--target)",
        })
    }
}

impl Display for Note {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Note::AlsoReplace => f.write_str(" (also asked by --replace)"),
            Note::CheckpointTooOld => f.write_str(
                "; its newest checkpoint is older than `upgrade.maxCheckpointAge`: a savepoint is taken instead (see \
                 Warnings)",
            ),
            Note::MaybeRenamedFrom { orphans } => {
                let list = orphans.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(" or ");
                let old = match orphans.as_slice() {
                    [one] => one.as_str(),
                    _ => "OLD-NAME",
                };
                write!(
                    f,
                    ". If it is {list} renamed, that job's state is not carried over: add `previousNames: [{old}]` \
                     to its spec"
                )
            }
            Note::MaybeRenamedTo { fresh, name } => write!(
                f,
                ". If `{fresh}` is this job renamed, its state is not carried over: add `previousNames: [{name}]` \
                 to `{fresh}`'s spec"
            ),
        }
    }
}

impl Display for Problem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Problem::SharedTag { first, second, tag } => write!(
                f,
                "jobs `{first}` and `{second}` share the job id tag {tag}: rename one of them (this is a 1 in 16 \
                 million coincidence)"
            ),
            Problem::RecordUnreadable { job, why } => write!(
                f,
                "`{job}`: its ledger record cannot be read: {why}. flinkops will neither act on this job nor \
                 overwrite the record; fix or move the file, then plan again"
            ),
            Problem::StartedElsewhere { job, live, recorded } => write!(
                f,
                "`{job}`: the live job {live} carries this spec's name tag, but this state directory never started \
                 it (its ledger record names {recorded}): another flinkops state directory may manage it. Stop one \
                 of them; to take the job over here, delete this spec's record and plan again"
            ),
            Problem::ManyLive { job, ids } => write!(
                f,
                "`{job}` has {} live jobs ({}); cancel all but one by hand, then plan again",
                ids.len(),
                ids.join(", ")
            ),
            Problem::SavepointTimeout { job, short } => write!(f, "`{job}`: {short}"),
            Problem::NoSavepointDir { job, action } => write!(
                f,
                "`{job}`: cannot {}: no savepoint directory is set, neither `savepoint.directory` in the spec nor \
                 `execution.checkpointing.savepoint-dir` in its flinkConfiguration or the cluster's configuration, \
                 and Flink cannot take a savepoint without one. Set `savepoint.directory` (e.g. \
                 `file:///flink/savepoints` or `s3://bucket/savepoints`, a place every JobManager and TaskManager \
                 can reach); the job is not touched",
                stop_verb(*action)
            ),
            Problem::TooWide { job, need, total, stopped } => write!(
                f,
                "`{job}`: not started: it needs {need} task slots (parallelism {need}) and the cluster has {total} \
                 in all. Flink would keep it waiting, then restart it in a loop (NoResourceAvailableException){}. \
                 Add task managers or slots (taskmanager.numberOfTaskSlots), or lower `parallelism`; nothing is \
                 touched",
                if *stopped { ", with its old version already stopped" } else { "" }
            ),
            Problem::NotStarted { job, why } => write!(f, "`{job}`: not started: {why}"),
            Problem::UnmanagedNamesake { job, id } => write!(
                f,
                "an unmanaged job named `{job}` ({id}) runs: adopt it with --adopt, or cancel it, before flinkops \
                 deploys the spec"
            ),
            Problem::ReplaceRefused { job, why, reason } => write!(
                f,
                "`{job}`: --replace refused: {why} ({reason}). --replace redeploys a running job; to start a stopped \
                 one run `flinkops apply` without --replace (it starts from its newest snapshot), and drop --replace \
                 {job} for this run"
            ),
            Problem::Protected { job, would } => write!(
                f,
                "`{job}` is protected (`protect: true`): flinkops would {would}. Nothing is done to it; to allow it \
                 for this run, pass --allow-destroy {job}"
            ),
            Problem::MoveRefused { job, from, to, why } => {
                let (why, fix) = move_refusal(why, from, to);
                write!(
                    f,
                    "`{job}`: cannot move it from `{from}` to `{to}`: {why}. Nothing is done to it; {fix}"
                )
            }
            Problem::Saved(words) => f.write_str(words),
        }
    }
}

/// The stop a missing savepoint directory prevents, after "cannot".
fn stop_verb(action: Action) -> &'static str {
    match action {
        Action::Suspend => "suspend it",
        Action::Stop => "stop it (--prune)",
        Action::Adopt => "adopt it",
        Action::Rename => "rename it",
        _ => "upgrade it",
    }
}

/// Why a move is refused, and the fix.
fn move_refusal(why: &MoveRefusal, from: &str, to: &str) -> (String, String) {
    match why {
        MoveRefusal::KnownOnMany { clusters } => (
            format!("it is known on {} other clusters ({})", clusters.len(), clusters.join(", ")),
            "stop it on all but one of them (or remove their ledger records), then run again".into(),
        ),
        MoveRefusal::Suspended => (
            "its spec says `state: suspended`".into(),
            format!("move it while running (set `state: running`), or set `cluster: {from}` back"),
        ),
        MoveRefusal::NothingToStartFrom => (
            format!("it does not run on `{from}`, and `{from}`'s ledger has no savepoint of it"),
            "name the snapshot to start from in `restore.from`".into(),
        ),
        MoveRefusal::Versions { old, new } => (
            format!(
                "the clusters run different Flink versions (`{from}`: {}, `{to}`: {}); a savepoint restores only on \
                 the same or a newer version, and a move to a newer one could not be rolled back",
                old.as_deref().unwrap_or("unknown"),
                new.as_deref().unwrap_or("unknown")
            ),
            "run both clusters on one Flink major.minor version first, then move".into(),
        ),
        MoveRefusal::SavepointDirs { writes, reads } => (
            format!(
                "the savepoint would be written to {} by `{from}` and must be read by `{to}`, whose savepoint \
                 directory is {}",
                writes.as_deref().unwrap_or("no directory"),
                reads.as_deref().unwrap_or("not set")
            ),
            "give both clusters one savepoint directory both reach (`defaults.savepointDirectory` in their cluster \
             documents), or set `savepoint.directory` in the job spec"
                .into(),
        ),
        MoveRefusal::Renamed { old } => (
            format!("it is also renamed from `{old}` (previousNames), whose job or record is there"),
            format!("rename first (keep `cluster: {from}` and apply), then change `cluster:` in a second commit"),
        ),
    }
}

impl Display for Warning {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Warning::CheckpointTooOld { job, old } => write!(f, "`{job}`: {old}"),
            Warning::FreeSlots { job, short } => write!(f, "`{job}`: {short}"),
            Warning::Saved(words) => f.write_str(words),
        }
    }
}

impl Display for OfflineReason {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            OfflineReason::NoChange => f.write_str("no change"),
            OfflineReason::NewSuspended => f.write_str("new, but `state: suspended`: not started"),
            OfflineReason::New => f.write_str("not in the base tree: deployed"),
            OfflineReason::NewFrom { path } => write!(f, "not in the base tree: deployed from {path} (restore.from)"),
            OfflineReason::Removed { prune: true } => {
                f.write_str("not in the head tree: stopped with a savepoint (--prune)")
            }
            OfflineReason::Removed { prune: false } => f.write_str(
                "not in the head tree: left running and reported as an orphan (stopped with a savepoint only under \
                 --prune)",
            ),
            OfflineReason::Renamed { old, new } => write!(
                f,
                "renamed from `{old}` (previousNames): `{old}` is stopped with a savepoint and `{new}` starts from it"
            ),
            OfflineReason::RenamedEmpty { old, why } => {
                write!(f, "renamed from `{old}` (previousNames), but starts empty: {why}")
            }
            OfflineReason::Suspend => f.write_str("state: suspended: stopped with a savepoint"),
            OfflineReason::Resume => f.write_str("state: running: started from the suspension savepoint"),
            OfflineReason::SuspendedInBoth => f.write_str("suspended in both trees: applied when it resumes"),
            OfflineReason::Redeploy { fields, last_state: false } => {
                write!(f, "{} changed: stop with a savepoint, start the new version from it", fields.join(", "))
            }
            OfflineReason::Redeploy { fields, last_state: true } => {
                write!(f, "{} changed: cancel, start from the latest checkpoint", fields.join(", "))
            }
            OfflineReason::RedeployEmpty { fields, why } => {
                write!(f, "{} changed: cancel, start the new version EMPTY ({why})", fields.join(", "))
            }
            OfflineReason::SettingsOnly => f.write_str("only settings changed: the job keeps running"),
        }
    }
}

impl Display for OfflineHint {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            OfflineHint::MaybeRenamed { old, new } => write!(
                f,
                "if `{new}` is `{old}` renamed, the state of `{old}` is not carried over: add `previousNames: [{old}]` \
                 to `{new}`'s spec to keep it"
            ),
        }
    }
}

impl Display for JarUnhashed {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let side = if self.tree == Tree::Head { "head" } else { "base" };
        match self.url {
            false => write!(f, "the {side} tree's jar is not present")?,
            true => write!(f, "the {side} tree's jar is a URL without jarSha256")?,
        }
        if self.tree == Tree::Both {
            f.write_str(", nor the head tree's")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words the offline plan wrote as sentences before they were facts, every form.
    #[test]
    fn an_unhashed_jar_says_which_tree_and_why() {
        let words = |tree, url| JarUnhashed { tree, url }.to_string();
        assert_eq!(words(Tree::Base, false), "the base tree's jar is not present");
        assert_eq!(words(Tree::Head, true), "the head tree's jar is a URL without jarSha256");
        assert_eq!(words(Tree::Both, false), "the base tree's jar is not present, nor the head tree's");
        assert_eq!(
            words(Tree::Both, true),
            "the base tree's jar is a URL without jarSha256, nor the head tree's"
        );
    }

    #[test]
    fn durations_show_their_two_largest_units() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(192), "3m12s");
        assert_eq!(human_duration(7500), "2h5m");
        assert_eq!(human_duration(356_400), "4d3h");
    }
}

//! What the renderers share: the order jobs are shown in, a symbol and words per action, where a
//! started job's state comes from, and the cleaning of text that came from outside (job names
//! from Flink, values from specs). The wording lives here so that the terminal and the pull
//! request say the same thing; nothing here writes or decides.

use std::borrow::Cow;

use crate::flink::JobState;
use crate::plan::model::{
    Action, Blocker, JobDrift, JobPlan, LiveRef, Plan, PulledIn, Restore, WaveKind, tasks_text,
};
use crate::spec::model::UpgradeMode;

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blocker::UpstreamConflict { upstream } => {
                write!(f, "`{upstream}` cannot be acted on (see Errors)")
            }
            Blocker::UpstreamSuspended { upstream } => {
                write!(f, "`{upstream}` is suspended and will not become healthy")
            }
            Blocker::UpstreamExcluded { upstream } => write!(
                f,
                "`{upstream}` must be started first and is excluded (--exclude {upstream}): drop that --exclude, \
                 or start it first"
            ),
            Blocker::Held { reason } | Blocker::Saved(reason) => f.write_str(reason),
            Blocker::UpstreamHeld { upstream, reason } => write!(f, "`{upstream}` is held: {reason}"),
            Blocker::ClusterUnobserved { cluster, ledger_has_job: true } => write!(
                f,
                "cluster `{cluster}` could not be observed, and its ledger has this job: it may run there, and a \
                 first deployment here would start it a second time, empty"
            ),
            Blocker::ClusterUnobserved { cluster, ledger_has_job: false } => write!(
                f,
                "cluster `{cluster}` could not be observed, and this state directory has no ledger for it: the job \
                 may run there, and a first deployment here would start it a second time, empty"
            ),
        }
    }
}

impl std::fmt::Display for PulledIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PulledIn::ByTarget { target } => {
                write!(f, "pulled in by --target {target}: `{target}` waits for it, and it is not running")
            }
            PulledIn::Saved(words) => f.write_str(words),
        }
    }
}

impl std::fmt::Display for JobDrift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobDrift::Ended { state } => write!(f, "{} ({state})", ended(*state)),
            JobDrift::Forgotten => f.write_str("not running (the cluster has no record of it)"),
            JobDrift::Degraded { state, tasks_running, tasks_total, tasks_finished } => {
                write!(f, "{state} with {}", tasks_text(*tasks_running, *tasks_total, *tasks_finished))
            }
            JobDrift::Saved(words) => f.write_str(words),
        }
    }
}

/// How a job of a spec that says running ended: "failed", "was cancelled outside flinkops".
pub(super) fn ended(state: JobState) -> &'static str {
    match state {
        JobState::Failed => "failed",
        JobState::Canceled => "was cancelled outside flinkops",
        _ => "finished",
    }
}

/// The exact line for a plan without changes.
pub const NO_CHANGES: &str = "No changes. Live jobs match the specs.";
/// Said instead of [`NO_CHANGES`] when nothing will change but some job cannot be acted on: the
/// live jobs then do not all match the specs, and saying so would hide it.
pub const NO_CHANGES_BUT_ERRORS: &str =
    "No changes that apply can make; some jobs need attention (see Errors).";

/// A symbol in the gutter: what happens to the job on the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    /// A job starts where none runs (deploy, resume).
    Start,
    /// The job is replaced by a new version.
    Replace,
    /// Only the ledger changes.
    Settings,
    /// The job stops with a savepoint.
    Stop,
    /// An unmanaged job is replaced by a managed one.
    Adopt,
    /// The job of an old name is replaced by this name's (`previousNames`).
    Rename,
    /// Apply will not act (a conflict, or blocked by one).
    Cannot,
}

impl Mark {
    pub fn symbol(self) -> &'static str {
        match self {
            Mark::Start => "+",
            Mark::Replace => "-/+",
            Mark::Settings => "~",
            Mark::Stop => "-",
            Mark::Adopt => ">",
            Mark::Rename => "=>",
            Mark::Cannot => "!",
        }
    }
}

/// One line of the legend. The order is the legend's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entry {
    Deploy,
    Resume,
    Upgrade,
    Replace,
    Settings,
    Suspend,
    Stop,
    Adopt,
    Rename,
    Move,
    Confirm,
    Conflict,
    Blocked,
}

impl Entry {
    pub fn of(job: &JobPlan) -> Option<Entry> {
        if job.blocked_by.is_some() {
            return Some(Entry::Blocked);
        }
        Some(match job.action {
            Action::None | Action::Orphan | Action::Skipped => return None,
            Action::Upgrade { .. } if job.replace => Entry::Replace,
            Action::Deploy => Entry::Deploy,
            Action::Resume => Entry::Resume,
            Action::Upgrade { .. } => Entry::Upgrade,
            Action::UpdateSettings => Entry::Settings,
            Action::Suspend => Entry::Suspend,
            Action::Stop => Entry::Stop,
            Action::Adopt => Entry::Adopt,
            Action::Rename => Entry::Rename,
            Action::Move => Entry::Move,
            Action::Confirm => Entry::Confirm,
            Action::Conflict => Entry::Conflict,
        })
    }

    pub fn mark(self) -> Mark {
        match self {
            Entry::Deploy | Entry::Resume => Mark::Start,
            Entry::Upgrade | Entry::Replace | Entry::Confirm => Mark::Replace,
            Entry::Settings => Mark::Settings,
            Entry::Suspend | Entry::Stop => Mark::Stop,
            Entry::Adopt => Mark::Adopt,
            Entry::Rename | Entry::Move => Mark::Rename,
            Entry::Conflict | Entry::Blocked => Mark::Cannot,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Entry::Deploy => "deploy (start a job that is not running)",
            Entry::Resume => "resume (start a suspended job from its suspension savepoint)",
            Entry::Upgrade => "upgrade (replace the job; state carried as its upgradeMode says)",
            Entry::Replace => "replace (--replace: redeploy the same version from a fresh savepoint)",
            Entry::Settings => "update settings only (the job is not touched)",
            Entry::Suspend => "suspend (stop with a savepoint, keep it stopped)",
            Entry::Stop => "stop with a savepoint (its spec is gone, --prune)",
            Entry::Adopt => "adopt (savepoint an unmanaged job, redeploy it under management)",
            Entry::Rename => "rename (stop the old name's job with a savepoint, start this name from it)",
            Entry::Move => {
                "move (stop it with a savepoint on its old cluster, start it on its new one from it)"
            }
            Entry::Confirm => "confirm (finish the health gate of a version an interrupted run started)",
            Entry::Conflict => "cannot act (see Errors)",
            Entry::Blocked => "blocked (waits for a job that will not become healthy)",
        }
    }
}

/// The mark of a job, `None` for jobs without a change (unchanged, orphans).
pub fn mark(job: &JobPlan) -> Option<Mark> {
    Entry::of(job).map(Entry::mark)
}

/// The legend: one line per symbol used, in a fixed order.
pub fn legend(jobs: &[Shown]) -> Vec<(Mark, String)> {
    let mut entries: Vec<Entry> = jobs.iter().filter_map(|s| Entry::of(s.job)).collect();
    entries.sort();
    entries.dedup();
    let mut lines: Vec<(Mark, String)> = Vec::new();
    for e in entries {
        match lines.last_mut() {
            Some((m, text)) if *m == e.mark() => {
                text.push_str("; ");
                text.push_str(e.text());
            }
            _ => lines.push((e.mark(), e.text().to_string())),
        }
    }
    lines
}

/// A job to show, with its place in the apply order.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a> {
    pub job: &'a JobPlan,
    /// Index into `plan.waves`, when apply runs it.
    pub wave: Option<usize>,
}

/// The jobs with something to show, in the order apply runs them: wave by wave, then the jobs
/// that are in no wave (settings only, blocked, conflicts).
pub fn shown(plan: &Plan) -> Vec<Shown<'_>> {
    let mut used = vec![false; plan.jobs.len()];
    let mut out = Vec::new();
    for (w, wave) in plan.waves.iter().enumerate() {
        for name in &wave.jobs {
            // Two live jobs of one removed spec share a name: take each once.
            let found = plan.jobs.iter().enumerate().find(|(i, j)| !used[*i] && &j.name == name);
            if let Some((i, job)) = found {
                used[i] = true;
                out.push(Shown { job, wave: Some(w) });
            }
        }
    }
    let mut rest: Vec<&JobPlan> = plan
        .jobs
        .iter()
        .enumerate()
        .filter(|(i, j)| !used[*i] && mark(j).is_some())
        .map(|(_, j)| j)
        .collect();
    // A conflict before the jobs it blocks: the cause, then its effect.
    let group = |j: &JobPlan| match Entry::of(j) {
        Some(Entry::Settings) => 0,
        Some(Entry::Conflict) => 1,
        _ => 2,
    };
    rest.sort_by_key(|j| (group(j), depth(plan, &j.name)));
    out.extend(rest.into_iter().map(|job| Shown { job, wave: None }));
    out
}

/// How many `dependsOn` steps lead from a job to one without dependencies (upstream first).
fn depth(plan: &Plan, name: &str) -> usize {
    fn go(plan: &Plan, name: &str, seen: &mut Vec<String>) -> usize {
        // `seen` guards against a cycle, which the spec layer already rejects.
        if seen.iter().any(|s| s == name) {
            return 0;
        }
        seen.push(name.to_string());
        let deps = plan.jobs.iter().find(|j| j.name == name).map(|j| j.depends_on.as_slice());
        let d = deps.unwrap_or_default().iter().map(|d| go(plan, d, seen) + 1).max().unwrap_or(0);
        seen.pop();
        d
    }
    go(plan, name, &mut Vec::new())
}

pub fn mode(m: UpgradeMode) -> &'static str {
    match m {
        UpgradeMode::Savepoint => "savepoint",
        UpgradeMode::LastState => "last-state",
        UpgradeMode::Stateless => "stateless",
    }
}

/// "be upgraded (savepoint)": what happens to the job, after "will" or "would".
fn passive(action: Action) -> String {
    match action {
        Action::None => "stay as it is".into(),
        Action::UpdateSettings => "have its settings updated".into(),
        Action::Deploy => "be deployed".into(),
        Action::Resume => "be resumed".into(),
        Action::Upgrade { mode: m } => format!("be upgraded ({})", mode(m)),
        Action::Suspend => "be suspended".into(),
        Action::Stop => "be stopped (its spec is gone)".into(),
        Action::Adopt => "be adopted".into(),
        Action::Rename => "take over its old name's job (renamed)".into(),
        Action::Move => "be moved from another cluster".into(),
        Action::Confirm => "have its interrupted upgrade finished".into(),
        Action::Conflict => "not be acted on".into(),
        Action::Orphan => "be left running (its spec is gone)".into(),
        Action::Skipped => "be skipped".into(),
    }
}

/// The block header after the job name: "will be upgraded (savepoint)".
pub fn headline(job: &JobPlan) -> String {
    match (job.action, &job.blocked_by) {
        (Action::Conflict, _) => "cannot be acted on".into(),
        (action, Some(_)) => format!("would {}, but is blocked", passive(action)),
        (Action::Upgrade { mode: m }, None) if job.replace => {
            format!("will be replaced ({}, --replace)", mode(m))
        }
        (action, None) => format!("will {}", passive(action)),
    }
}

/// The action in a word or two, for tables.
pub fn action_word(job: &JobPlan) -> String {
    let word = match job.action {
        Action::None => "none".to_string(),
        Action::UpdateSettings => "update settings".into(),
        Action::Deploy => "deploy".into(),
        Action::Resume => "resume".into(),
        Action::Upgrade { mode: m } if job.replace => format!("replace ({})", mode(m)),
        Action::Upgrade { mode: m } => format!("upgrade ({})", mode(m)),
        Action::Suspend => "suspend".into(),
        Action::Stop => "stop (prune)".into(),
        Action::Adopt => "adopt".into(),
        Action::Rename => "rename".into(),
        Action::Move => match &job.moved_from {
            Some(from) => format!("move (from {from})"),
            None => "move".into(),
        },
        Action::Confirm => "confirm".into(),
        Action::Conflict => "cannot act".into(),
        Action::Orphan => "none (orphan)".into(),
        Action::Skipped => match job.would {
            Some(would) => format!("skipped (would {})", passive(would)),
            None => "skipped".into(),
        },
    };
    if job.blocked_by.is_some() { format!("{word}: blocked") } else { word }
}

/// Where a started job's state comes from, after "state: ". `live` is the job the action acts
/// on, shown just before, so its id is not repeated.
pub fn restore(r: &Restore, live: Option<&LiveRef>) -> String {
    match r {
        Restore::LatestOf { job_id } if live.is_some_and(|l| &l.id == job_id) => {
            "latest state of the previous job, found at apply time".into()
        }
        Restore::NewSavepoint => "from a new savepoint".into(),
        Restore::LastCheckpoint => {
            "from the latest retained checkpoint of the running job (a new savepoint if it keeps none on cancel)".into()
        }
        Restore::Path { path, source } if source == "ledger" => {
            format!("from savepoint {} (ledger)", clean(path))
        }
        Restore::Path { path, source } => format!("from {} ({})", clean(path), clean(source)),
        Restore::LatestOf { job_id } => format!("latest state of job {job_id}, found at apply time"),
        Restore::Newest { path, origin, age_seconds, found, discarded, .. } => {
            let age = crate::restore::age(age_seconds * 1000, 0);
            let of = if *found > 1 { format!("; the newest of {found} snapshots found") } else { String::new() };
            let note = discarded.as_ref().map_or_else(String::new, |d| format!(". Note: {}", clean(d)));
            format!("from {} ({}, {age}{of}){note}", clean(path), clean(origin))
        }
        Restore::Empty { why } => format!("starts empty ({})", clean(why)),
        Restore::FirstDeployment => "starts empty (first deployment)".into(),
    }
}

/// "live job: <id> (RUNNING, 1/1 tasks running)" as a label and a text.
pub fn live(job: &JobPlan, live: &LiveRef) -> (&'static str, String) {
    let label = if live.state.is_terminal() { "previous job" } else { "live job" };
    let mut text = format!("{} ({}", live.id, live.state);
    if !live.state.is_terminal() && live.tasks_total > 0 {
        text.push_str(&format!(", {}", live.tasks()));
    }
    text.push(')');
    if live.name != job.name {
        text.push_str(&format!(", named {:?}", clean(&live.name)));
    }
    (label, text)
}

/// "wave 2 of 3, after orders-ingest"; nothing when there is one wave (nothing to order).
pub fn order(plan: &Plan, job: &JobPlan, wave: usize) -> Option<String> {
    if plan.waves.len() < 2 {
        return None;
    }
    let mut text = format!("wave {} of {}", wave + 1, plan.waves.len());
    if plan.waves[wave].kind == WaveKind::Stop {
        text.push_str(" (stops run first, downstream first)");
    } else if !job.depends_on.is_empty() {
        text.push_str(&format!(", after {}", job.depends_on.join(", ")));
    }
    Some(text)
}

/// The live jobs flinkops does not manage and will not touch (an adopted one is acted on).
pub fn untouched(plan: &Plan) -> impl Iterator<Item = &LiveRef> {
    let adopted: Vec<&LiveRef> =
        plan.jobs.iter().filter(|j| j.action == Action::Adopt).filter_map(|j| j.live.as_ref()).collect();
    plan.unmanaged.iter().filter(move |u| !adopted.iter().any(|a| a.id == u.id))
}

/// Jobs `--target` / `--exclude` left out of the run.
pub fn skipped(plan: &Plan) -> impl Iterator<Item = &JobPlan> {
    plan.jobs.iter().filter(|j| j.action == Action::Skipped)
}

/// "not targeted (--target); would be upgraded (savepoint)": a skipped job in one line.
pub fn skipped_line(job: &JobPlan) -> String {
    let why = match &job.reason {
        crate::plan::Reason::Skipped { by, .. } => by.to_string(),
        other => other.to_string().split(';').next().unwrap_or_default().to_string(),
    };
    match job.would {
        Some(Action::None) => format!("{why}; runs its spec, not checked further in this run"),
        Some(would) => format!("{why}; would otherwise {}", passive(would)),
        None => why.to_string(),
    }
}

/// The summary line, or [`NO_CHANGES`].
pub fn summary_line(plan: &Plan) -> String {
    let skipped = skipped(plan).count();
    if !plan.has_changes() && skipped > 0 {
        return format!(
            "No changes to the jobs in this run; {} not in it (listed as skipped).",
            jobs(skipped)
        );
    }
    if !plan.has_changes() {
        return if plan.problems.is_empty() { NO_CHANGES } else { NO_CHANGES_BUT_ERRORS }.into();
    }
    let s = plan.summary();
    format!(
        "Plan: {} to deploy, {} to upgrade{}, {} to update, {} to stop.",
        s.deploy,
        s.upgrade,
        moves_note(s.moves),
        s.settings,
        s.stop
    )
}

/// " (1 of them a move between clusters)" after the upgrade count, or nothing.
pub fn moves_note(moves: usize) -> String {
    match moves {
        0 => String::new(),
        1 => " (1 of them a move between clusters)".into(),
        n => format!(" ({n} of them moves between clusters)"),
    }
}

/// What the summary line's counts do not say: actions that will not run.
pub fn summary_caveat(plan: &Plan) -> Option<String> {
    let blocked = plan.jobs.iter().filter(|j| j.blocked_by.is_some()).count();
    let conflicts = plan.jobs.iter().filter(|j| j.action == Action::Conflict).count();
    let mut parts = Vec::new();
    match blocked {
        0 => {}
        1 => parts.push("1 of them is blocked and will not run.".to_string()),
        n => parts.push(format!("{n} of them are blocked and will not run.")),
    }
    if conflicts > 0 {
        parts.push(format!("Apply cannot act on {} (see Errors).", jobs(conflicts)));
    }
    let skipped = skipped(plan).count();
    if skipped > 0 && plan.has_changes() {
        parts.push(format!("{} skipped (not in this run's --target / --exclude).", jobs(skipped)));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// "1 job", "3 jobs".
pub fn jobs(n: usize) -> String {
    if n == 1 { "1 job".into() } else { format!("{n} jobs") }
}

/// How many jobs stay as they are.
pub fn unchanged(plan: &Plan) -> usize {
    plan.jobs.iter().filter(|j| j.action == Action::None).count()
}

/// Upgrades whose changed fields are unknown because the ledger has no record of the job.
pub fn without_details(plan: &Plan) -> Vec<&str> {
    if plan.details_known {
        return Vec::new();
    }
    plan.jobs
        .iter()
        .filter(|j| matches!(j.action, Action::Upgrade { .. }) && j.changes.is_empty())
        .map(|j| j.name.as_str())
        .collect()
}

/// The note for [`without_details`], when there is something to say.
pub fn details_note(plan: &Plan) -> Option<String> {
    let names = without_details(plan);
    (!names.is_empty()).then(|| {
        format!(
            "Field-level changes are unknown for {}: the ledger has no record of {} (a first run, or CI without the state directory); the plan still knows {} changed.",
            names.iter().map(|n| clean(n)).collect::<Vec<_>>().join(", "),
            if names.len() == 1 { "it" } else { "them" },
            if names.len() == 1 { "it" } else { "they" },
        )
    })
}

/// Orphans: managed jobs whose spec is gone, left running.
pub fn orphans(plan: &Plan) -> impl Iterator<Item = &JobPlan> {
    plan.jobs.iter().filter(|j| j.action == Action::Orphan)
}

/// Jobs with drift, in name order.
pub fn drifted(plan: &Plan) -> impl Iterator<Item = (&JobPlan, String)> {
    plan.jobs.iter().filter_map(|j| j.drift.as_ref().map(|d| (j, d.to_string())))
}

/// What the plan does about a drifted job, after its drift.
pub fn drift_outcome(job: &JobPlan) -> String {
    match job.action {
        Action::None => "no action planned".into(),
        _ => format!("it {}", headline(job)),
    }
}

/// Text from outside (Flink job names, spec values) with control characters and bidirectional
/// overrides escaped, so it cannot move the cursor, recolour the terminal or break a line.
pub fn clean(s: &str) -> Cow<'_, str> {
    let tricky = |c: char| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if !s.chars().any(tricky) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if tricky(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A field value as shown: quoted when it is empty or has surrounding spaces, else as is.
pub fn value(s: &str) -> Cow<'_, str> {
    if s.is_empty() || s.trim() != s { Cow::Owned(format!("{s:?}")) } else { clean(s) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_bidi_overrides_are_escaped() {
        assert_eq!(clean("ok-name"), "ok-name");
        assert_eq!(clean("a\x1b[31mred\nb"), "a\\u{1b}[31mred\\nb");
        assert_eq!(clean("x\u{202E}y"), "x\\u{202e}y");
    }

    #[test]
    fn empty_and_padded_values_are_quoted() {
        assert_eq!(value(""), "\"\"");
        assert_eq!(value(" a"), "\" a\"");
        assert_eq!(value("a b"), "a b");
    }
}

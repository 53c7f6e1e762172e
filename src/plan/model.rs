//! What a plan says: per job the action, its reason and the changed fields; the order (waves);
//! drift; jobs flinkops does not manage; and the live state the plan rests on. Serialisable: the
//! JSON form (`plan -o json`, `plan --out`) is this, versioned by `formatVersion`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::facts::{Blocker, JobDrift, PulledIn};
pub use super::reasons::{Problem, Reason, Warning};
use crate::flink::{JobId, JobState};
use crate::spec::model::UpgradeMode;

pub const FORMAT_VERSION: u32 = 1;

/// The decided actions and the observations they rest on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub format_version: u32,
    /// The cluster the plan was made against (set by the `plan` command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterRef>,
    /// The spec directory or file the plan was made from (set by the `plan` command), so that
    /// `apply PLANFILE` can load the same specs and check they did not change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specs: Option<String>,
    /// `--prune` and `--adopt` as they were given to `plan`.
    #[serde(default)]
    pub options: PlanOptions,
    /// One entry per spec and per managed job without a spec, by name.
    pub jobs: Vec<JobPlan>,
    /// Names of the jobs with a cluster action, in the order apply runs them: stops first
    /// (downstream first), then deploys and upgrades wave by wave (upstream first).
    pub waves: Vec<Wave>,
    /// Live jobs flinkops did not start. Never touched (unless adopted).
    pub unmanaged: Vec<LiveRef>,
    /// Problems that stop apply from acting on a job (two live jobs for one spec, ...).
    pub problems: Vec<Problem>,
    /// What apply will act on but a reviewer should know first (a savepoint taken in place of an
    /// old checkpoint, too few free task slots now).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    /// Whether the ledger had a record for every job that has a change (field-level details).
    pub details_known: bool,
    /// The live jobs this plan was decided on; apply refuses a saved plan when they changed.
    pub observed: Vec<LiveRef>,
}

/// What the user allowed beyond the default when planning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanOptions {
    /// `--prune`: stop managed jobs whose spec is gone.
    pub prune: bool,
    /// `--adopt`: take over unmanaged jobs named like a spec.
    pub adopt: bool,
    /// `--target`, `--exclude`, `--replace`, `--allow-destroy`.
    #[serde(default, flatten)]
    pub control: super::control::Control,
}

/// Which cluster, and which Flink version it ran when observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRef {
    /// The REST URL flinkops talked to.
    pub url: String,
    /// The Flink version the cluster reported.
    pub flink_version: String,
}

/// A group of actions that may run at the same time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Wave {
    pub kind: WaveKind,
    /// Job names, sorted.
    pub jobs: Vec<String>,
}

/// Whether a wave stops or starts jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WaveKind {
    /// Stops (suspend, prune), downstream first.
    Stop,
    /// Deploys, resumes, upgrades and adoptions, upstream first.
    Start,
}

/// One job's part of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobPlan {
    /// The spec name; for a managed job without a spec, its ledger name or its Flink job name
    /// with the first 6 hex digits of its id.
    pub name: String,
    pub action: Action,
    /// Why, in one sentence a reviewer understands.
    pub reason: Reason,
    /// Field-level changes (empty when unknown or none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    /// The live job this acts on, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveRef>,
    /// Where the new job's state comes from, for actions that start a job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<Restore>,
    /// A managed job that failed, was cancelled or finished outside flinkops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<JobDrift>,
    /// Jobs this one waits for (its `dependsOn`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// For a conflict: whether it concerns only the next version (the running job is this spec's
    /// own, and `savepoint` and `gc` still act on it) or the job itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<ConflictScope>,
    /// Why apply will not run this action (an upstream job that cannot be acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<Blocker>,
    /// Where the spec was written (`file:line`); absent for orphans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// What the job would have done had `--target` / `--exclude` not left it out (for `skipped`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub would: Option<Action>,
    /// Why a job that was not targeted is acted on anyway (an upstream a target waits for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pulled_in: Option<PulledIn>,
    /// `--replace` asked for this upgrade (the spec may be unchanged).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replace: bool,
    /// For a `rename` (and a deploy that starts from an old name's snapshot): the job's previous
    /// name, whose state it takes over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// For a `move`: the cluster the job leaves, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<String>,
    /// The fingerprint of the spec (absent for orphans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The fingerprint an older flinkops computed for this spec (see `spec::fingerprint::legacy`):
    /// a live job carrying it runs this spec too. Never written out.
    #[serde(skip)]
    #[schemars(skip)]
    pub legacy_fingerprint: Option<String>,
}

impl JobPlan {
    /// Whether flinkops must leave the job alone altogether (a conflict about the job itself),
    /// as opposed to a conflict about its next version only, which leaves the running job, a
    /// savepoint of it and its snapshots this spec's own.
    pub fn in_doubt(&self) -> bool {
        self.action == Action::Conflict && self.conflict != Some(ConflictScope::NextVersion)
    }

    /// Whether the live job `id` was started for this spec version (either fingerprint form).
    pub fn runs_this_version(&self, id: &crate::flink::JobId) -> bool {
        let Some(managed) = super::identity::parse(id) else { return false };
        [&self.fingerprint, &self.legacy_fingerprint]
            .into_iter()
            .flatten()
            .any(|f| f.starts_with(&managed.fingerprint_tag))
    }
}

/// Whom a conflict concerns, so that commands other than apply know whether they may still act
/// on the running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictScope {
    /// Only the next version: it cannot be started, or the stop before it would fail (wider than
    /// the cluster, a savepoint timeout shorter than the job's checkpoints, no savepoint
    /// directory, a protected job's upgrade without a savepoint; or a protected orphan's prune).
    /// The running job is flinkops' own and keeps running: a savepoint of it, and gc of its
    /// snapshots, go on.
    NextVersion,
    /// The job itself: which live job is the spec's, or where its state is, is in doubt (another
    /// state directory's job, several live jobs, an unreadable record, an unmanaged namesake, an
    /// unusable newest snapshot). Nothing acts on it.
    Job,
}

/// What apply does with a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum Action {
    /// Nothing: the live job runs the spec (or is suspended as the spec says).
    None,
    /// Only settings that decide how flinkops acts changed: record them, touch nothing.
    UpdateSettings,
    /// Start a job that is not running: first deployment, or after a failure or cancellation.
    Deploy,
    /// Start a job that the spec suspended, from its suspension savepoint.
    Resume,
    /// Replace the running job by the new version, carrying state as `mode` says.
    Upgrade {
        /// How state is carried to the new version.
        mode: UpgradeMode,
    },
    /// Stop with a savepoint and keep it stopped (`state: suspended`).
    Suspend,
    /// Stop with a savepoint a managed job whose spec is gone (`--prune`).
    Stop,
    /// Savepoint an unmanaged job and redeploy it under management (`--adopt`).
    Adopt,
    /// The spec was renamed (`previousNames`): stop the old name's live job with a savepoint and
    /// start this name from it; the old name's ledger history moves to this name.
    Rename,
    /// The live job is a new version an interrupted run started (its write-ahead record says so)
    /// without finishing the health gate: finish it, then record the version or roll back.
    Confirm,
    /// The spec's `cluster:` changed: stop the job with a savepoint on the cluster it runs on
    /// (`movedFrom`) and start it on its new cluster from that savepoint (or, when it no longer
    /// runs there, from the last savepoint that cluster's ledger recorded).
    Move,
    /// Apply cannot act: see `problems`.
    Conflict,
    /// A managed job whose spec is gone, left running because `--prune` was not given.
    Orphan,
    /// Left out of this run by `--target` / `--exclude`: nothing is done, whatever its state
    /// (`would` says what the plan would otherwise do).
    Skipped,
}

impl Action {
    /// Whether apply changes something on the cluster or in the ledger.
    pub fn is_change(self) -> bool {
        !matches!(self, Action::None | Action::Conflict | Action::Orphan | Action::Skipped)
    }

    /// Whether apply touches the cluster.
    pub fn touches_cluster(self) -> bool {
        self.is_change() && self != Action::UpdateSettings
    }

    /// Whether the action starts a job.
    pub fn starts_a_job(self) -> bool {
        matches!(
            self,
            Action::Deploy
                | Action::Resume
                | Action::Upgrade { .. }
                | Action::Adopt
                | Action::Rename
                | Action::Move
                | Action::Confirm
        )
    }
}

/// One changed field: `parallelism: 2 -> 4`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    /// The field as written in the spec: `parallelism`, `args[2]`, `flinkConfiguration.<key>`.
    pub field: String,
    /// The value last applied (absent for an added field). Secrets show as `(sensitive)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// The value in the spec now (absent for a removed field). Secrets show as `(sensitive)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    /// This change alone makes the job redeploy.
    pub forces_redeploy: bool,
}

/// Where a started job's state comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", rename_all_fields = "camelCase", tag = "from")]
pub enum Restore {
    /// A savepoint taken by this action just before (upgrade, adopt).
    NewSavepoint,
    /// The latest retained checkpoint of the running job (`last-state`).
    LastCheckpoint,
    /// A savepoint or checkpoint known now.
    Path {
        /// Where the savepoint or checkpoint is (`file:/…`, `s3://…`).
        path: String,
        /// How flinkops knows it: `ledger` (a savepoint it took) or `restore.from` (the spec).
        source: String,
    },
    /// The newest snapshot every source names (Flink, the ledger, the savepoint and checkpoint
    /// directories), as found when planning; apply looks again and takes anything newer.
    Newest {
        /// Where the snapshot is.
        path: String,
        /// Where it was found, in words.
        origin: String,
        /// When it was taken (RFC 3339).
        taken_at: String,
        /// Its age in seconds when planned.
        age_seconds: i64,
        /// How many snapshots were found in all (the others are older, or the same one).
        found: usize,
        /// What Flink discarded after it (checkpoints not retained on cancel), if anything.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        discarded: Option<String>,
    },
    /// The latest state of an ended job, found at apply time (every source, as for `newest`);
    /// apply refuses to start empty when there is none.
    LatestOf {
        /// The ended job whose state is looked up.
        job_id: JobId,
    },
    /// Empty on purpose: `restore.from: none`, `upgradeMode: stateless`.
    Empty {
        /// The setting that asks for it.
        why: String,
    },
    /// Empty because the job was never deployed.
    FirstDeployment,
}

/// A live job as observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveRef {
    pub id: JobId,
    /// The Flink job name.
    pub name: String,
    pub state: JobState,
    /// Tasks in state RUNNING.
    #[serde(default)]
    pub tasks_running: u32,
    /// Tasks in state FINISHED (a source subtask without a split, after a rescale); left out when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tasks_finished: u32,
    /// All tasks of the job.
    #[serde(default)]
    pub tasks_total: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl LiveRef {
    /// RUNNING with every task running or finished, at least one running.
    pub fn all_tasks_up(&self) -> bool {
        self.state == JobState::Running
            && crate::flink::tasks_up(self.tasks_running, self.tasks_finished, self.tasks_total)
    }

    /// "3/4 tasks running (1 finished)".
    pub fn tasks(&self) -> String {
        tasks_text(self.tasks_running, self.tasks_total, self.tasks_finished)
    }
}

/// "3/4 tasks running (1 finished)".
pub fn tasks_text(running: u32, total: u32, finished: u32) -> String {
    let mut text = format!("{running}/{total} tasks running");
    if finished > 0 {
        text.push_str(&format!(" ({finished} finished)"));
    }
    text
}

impl Plan {
    /// Counts per kind of change, for the summary line.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for j in &self.jobs {
            match j.action {
                Action::Deploy | Action::Resume | Action::Adopt => s.deploy += 1,
                Action::Upgrade { .. } | Action::Rename | Action::Confirm => s.upgrade += 1,
                Action::Move => {
                    s.upgrade += 1;
                    s.moves += 1;
                }
                Action::UpdateSettings => s.settings += 1,
                Action::Suspend | Action::Stop => s.stop += 1,
                Action::None | Action::Conflict | Action::Orphan | Action::Skipped => {}
            }
        }
        s
    }

    /// Whether applying would change anything.
    pub fn has_changes(&self) -> bool {
        self.jobs.iter().any(|j| j.action.is_change())
    }
}

/// How many jobs each kind of action touches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Summary {
    /// Jobs to start: deploy, resume, adopt.
    pub deploy: usize,
    /// Jobs to replace by a new version.
    pub upgrade: usize,
    /// Jobs whose settings only are recorded (the job is not touched).
    pub settings: usize,
    /// Jobs to stop with a savepoint: suspend, prune.
    pub stop: usize,
    /// Of the upgrades, the moves between clusters. Only a fleet has them, so only the fleet's
    /// JSON (format 2, `render::fleet::FleetSummary`) writes it: format 1 stays as it was.
    #[serde(skip)]
    pub moves: usize,
}

//! What the ledger stores per job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::flink::{JarId, JobId, TriggerId};
use crate::spec::fingerprint::{Fingerprint, hex, secret_digest};
use crate::spec::model::{FormatType, JobState, UpgradeMode};
use crate::spec::{JarSource, Job, Param};

/// One job's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub format_version: u32,
    pub name: String,
    /// The spec as last applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<AppliedSpec>,
    /// The job id of the last submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    /// The uploaded jar of the applied version, kept on the cluster for a rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jar_id: Option<JarId>,
    /// The jar of the version before, also kept (a rollback target during the next upgrade).
    /// Older uploads this ledger recorded are deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_jar_id: Option<JarId>,
    /// Savepoints taken by flinkops, oldest first.
    #[serde(default)]
    pub savepoints: Vec<SavepointRecord>,
    /// The step of an upgrade being attempted, written before it starts (write-ahead): what a run
    /// killed half-way was doing. Cleared when the step's outcome is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    /// New versions that failed their health gate and were rolled back (newest last, at most
    /// [`Record::REJECTED_KEPT`]): their checkpoints hold the state of a version that was
    /// refused, so they are never a restore source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<JobId>,
    /// The snapshot the running version was started from: what a rollback of it restores, so it
    /// is kept while that version runs. `None` for an empty start or a record from before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_from: Option<String>,
    /// The parallelism of each vertex Flink reported for the job when flinkops' health gate
    /// passed: what `plan --refresh-only` compares the running job with to see a rescale done
    /// outside flinkops. `None` in records written before it existed (no rescale is reported
    /// for them until the next apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_shape: Option<Shape>,
}

/// A job's per-vertex parallelism, as Flink reported it for `job_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shape {
    pub job_id: JobId,
    pub vertices: Vec<VertexParallelism>,
}

/// One vertex: Flink's id (stable across restarts of the same job graph), its name and parallelism.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VertexParallelism {
    pub id: String,
    pub name: String,
    pub parallelism: u32,
}

/// A step in flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", rename_all_fields = "camelCase", tag = "step")]
pub enum Pending {
    /// Stopping `job_id` with a savepoint under `trigger_id` (idempotent: the same trigger id
    /// never starts a second savepoint).
    Stopping { job_id: JobId, trigger_id: TriggerId, started_at: String },
    /// Cancelling `job_id` for a `last-state` upgrade: its retained checkpoint carries the state.
    Cancelling { job_id: JobId, started_at: String },
    /// Starting `job_id` (the new version, or the previous one when rolling back) from `from`.
    Starting { job_id: JobId, from: Option<String>, started_at: String, rollback: bool },
}

impl Record {
    /// The record format this flinkops writes and the newest it reads.
    pub const FORMAT_VERSION: u32 = 1;

    /// A non-runtime setting as last applied (`savepoint.timeout`, `savepoint.directory`, …):
    /// what a job whose spec is gone is still handled with.
    pub fn applied_setting(&self, key: &str) -> Option<&str> {
        self.applied.as_ref()?.settings.get(key).map(String::as_str)
    }

    /// The `savepoint.timeout` last applied; `None` when the record does not say or it cannot be
    /// read (the caller falls back to the default).
    pub fn applied_savepoint_timeout(&self) -> Option<crate::spec::model::Duration> {
        crate::spec::read::parse_duration(self.applied_setting("savepoint.timeout")?).ok()
    }

    pub fn new(name: &str) -> Self {
        Self {
            format_version: Self::FORMAT_VERSION,
            name: name.to_string(),
            applied: None,
            job_id: None,
            jar_id: None,
            previous_jar_id: None,
            savepoints: Vec::new(),
            pending: None,
            rejected: Vec::new(),
            started_from: None,
            healthy_shape: None,
        }
    }

    pub const REJECTED_KEPT: usize = 20;

    /// Whether this record knows `id` as a job of its spec: the last one started, one a step
    /// was in flight for, one a savepoint was taken from, or a rolled-back one.
    pub fn knows(&self, id: &JobId) -> bool {
        let pending = match &self.pending {
            Some(
                Pending::Stopping { job_id, .. }
                | Pending::Cancelling { job_id, .. }
                | Pending::Starting { job_id, .. },
            ) => Some(job_id),
            None => None,
        };
        self.job_id.as_ref() == Some(id)
            || pending == Some(id)
            || self.rejected.contains(id)
            || self.savepoints.iter().any(|s| s.job_id.as_ref() == Some(id))
    }

    /// Remember a rolled-back version's job id (see `rejected`).
    pub fn reject(&mut self, id: &JobId) {
        if !self.rejected.contains(id) {
            self.rejected.push(id.clone());
        }
        let extra = self.rejected.len().saturating_sub(Self::REJECTED_KEPT);
        self.rejected.drain(..extra);
    }

    /// The newest savepoint of the history (of any reason) that is not being disposed of:
    /// retained checkpoints are Flink's and retire with its retention, so they do not count.
    /// What `savepoint.every` and the savepoint age in `/metrics` are measured from.
    pub fn newest_savepoint(&self) -> Option<&SavepointRecord> {
        self.savepoints
            .iter()
            .rev()
            .find(|s| s.reason != SavepointReason::RetainedCheckpoint && s.disposing.is_none())
    }
}

/// A savepoint flinkops took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavepointRecord {
    /// Where Flink wrote it (`file:/…`, `s3://…`).
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    /// RFC 3339.
    pub taken_at: String,
    pub reason: SavepointReason,
    /// The id Flink gave it in the job's checkpoint sequence (savepoints share it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_id: Option<u64>,
    /// The Flink version of the cluster that wrote it (a restore across major versions is not
    /// guaranteed to work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flink_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FormatType>,
    /// `state.backend.type` of the job, when known (`hashmap`, `rocksdb`, `forst`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_backend: Option<String>,
    /// The fingerprint of the spec version that was running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
    /// Set by `flinkops gc` before it asks Flink to dispose of the snapshot; the entry is removed
    /// only once Flink confirms. Still set: the disposal failed or was interrupted (its files may
    /// be partly gone), and the next gc tries again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposing: Option<Disposing>,
}

/// A disposal begun (see `SavepointRecord::disposing`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disposing {
    /// RFC 3339.
    pub started_at: String,
    /// Why the last attempt failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

impl SavepointRecord {
    /// A snapshot at `path` of job `job_id`, taken now; the details are filled in by the caller
    /// where known (records written before they existed have none).
    pub fn new(
        path: impl Into<String>,
        job_id: Option<JobId>,
        taken_at: String,
        reason: SavepointReason,
    ) -> Self {
        Self {
            path: path.into(),
            job_id,
            taken_at,
            reason,
            checkpoint_id: None,
            flink_version: None,
            format: None,
            state_backend: None,
            fingerprint: None,
            disposing: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SavepointReason {
    Upgrade,
    /// Not a savepoint: the retained checkpoint a `last-state` upgrade restored from.
    RetainedCheckpoint,
    Suspend,
    Prune,
    Adopt,
    /// `flinkops savepoint`: asked for, the job kept running.
    Manual,
    /// `flinkops watch`, on the spec's `savepoint.every`; the job kept running.
    Periodic,
}

impl SavepointReason {
    /// The word `savepoints` and `-o json` show.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upgrade => "upgrade",
            Self::RetainedCheckpoint => "retained-checkpoint",
            Self::Suspend => "suspend",
            Self::Prune => "prune",
            Self::Adopt => "adopt",
            Self::Manual => "manual",
            Self::Periodic => "periodic",
        }
    }
}

/// A value as stored: plain, or only a digest of a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stored {
    Plain(String),
    /// The slow digest fingerprints use (`spec::fingerprint::secret_digest`).
    Secret {
        pbkdf2: String,
    },
    /// What earlier flinkops versions stored: one SHA-256, cheap to brute-force. Still read and
    /// compared; every record written now uses `Secret`.
    LegacySecret {
        sha256: String,
    },
}

impl Stored {
    /// How a resolved parameter of job `name` is stored: a sensitive value only as a digest.
    pub fn of(name: &str, param: &Param) -> Self {
        if param.sensitive {
            Stored::Secret { pbkdf2: secret_digest(name, &param.value) }
        } else {
            Stored::Plain(param.value.clone())
        }
    }

    /// Whether a resolved parameter of job `name` has this stored value.
    pub fn matches(&self, name: &str, param: &Param) -> bool {
        match self {
            Stored::Plain(v) => !param.sensitive && *v == param.value,
            Stored::Secret { pbkdf2 } => param.sensitive && *pbkdf2 == secret_digest(name, &param.value),
            Stored::LegacySecret { sha256 } => param.sensitive && *sha256 == legacy_secret_hash(&param.value),
        }
    }

    /// Whether this is a secret's digest (of either form).
    pub fn is_secret(&self) -> bool {
        !matches!(self, Stored::Plain(_))
    }

    /// What may be shown.
    pub fn shown(&self) -> &str {
        match self {
            Stored::Plain(s) => s,
            Stored::Secret { .. } | Stored::LegacySecret { .. } => Param::REDACTED,
        }
    }
}

fn legacy_secret_hash(value: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"flinkops-secret\0");
    h.update(value.as_bytes());
    hex(&h.finalize())
}

/// The resolved spec as applied, with secrets hashed: enough for field-level diffs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedSpec {
    pub fingerprint: Fingerprint,
    /// The jar as the spec named it: an absolute path or a URL.
    pub jar: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jar_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_class: Option<String>,
    pub args: Vec<Stored>,
    pub parallelism: u32,
    pub flink_configuration: BTreeMap<String, Stored>,
    pub state: JobState,
    pub upgrade_mode: UpgradeMode,
    /// Non-runtime settings, as displayed (durations as written by flinkops, e.g. `5m`).
    pub settings: BTreeMap<String, String>,
    pub depends_on: Vec<String>,
    pub restart_nonce: u64,
}

impl AppliedSpec {
    pub fn of(job: &Job) -> Self {
        Self {
            fingerprint: job.fingerprint.clone(),
            jar: jar_display(&job.jar),
            jar_sha256: job.jar_sha256.clone(),
            entry_class: job.entry_class.clone(),
            args: job.args.iter().map(|a| Stored::of(&job.name, a)).collect(),
            parallelism: job.parallelism,
            flink_configuration: job
                .flink_configuration
                .iter()
                .map(|(k, v)| (k.clone(), Stored::of(&job.name, v)))
                .collect(),
            state: job.state,
            upgrade_mode: job.upgrade_mode,
            settings: settings_of(job),
            depends_on: job.depends_on.clone(),
            restart_nonce: job.restart_nonce,
        }
    }
}

/// The jar as people read it.
pub fn jar_display(jar: &JarSource) -> String {
    match jar {
        JarSource::Local { path } => path.display().to_string(),
        JarSource::Url { url } => url.clone(),
    }
}

/// Settings that change how flinkops acts but not what runs, flattened to `field: value`.
pub fn settings_of(job: &Job) -> BTreeMap<String, String> {
    let format = |f: FormatType| if f == FormatType::Canonical { "canonical" } else { "native" };
    let mut s = BTreeMap::new();
    if let Some(d) = &job.savepoint.directory {
        s.insert("savepoint.directory".into(), d.value.clone());
    }
    s.insert("savepoint.timeout".into(), job.savepoint.timeout.value.to_string());
    s.insert("savepoint.formatType".into(), format(job.savepoint.format_type.value).into());
    s.insert("savepoint.drain".into(), job.savepoint.drain.value.to_string());
    // Only when written: records from before retention existed then still match specs without it.
    if let Some(retain) = &job.savepoint.retain {
        if let Some(count) = &retain.count {
            s.insert("savepoint.retain.count".into(), count.value.to_string());
        }
        if let Some(age) = &retain.max_age {
            s.insert("savepoint.retain.maxAge".into(), age.value.to_string());
        }
    }
    if let Some(every) = &job.savepoint.every {
        s.insert("savepoint.every".into(), every.value.to_string());
    }
    if let Some(age) = &job.upgrade.max_checkpoint_age {
        s.insert("upgrade.maxCheckpointAge".into(), age.value.to_string());
    }
    let from = serde_json::to_value(&job.restore.from.value).ok().and_then(|v| v.as_str().map(String::from));
    s.insert("restore.from".into(), from.unwrap_or_default());
    s.insert("restore.allowNonRestoredState".into(), job.restore.allow_non_restored_state.value.to_string());
    // Only when set: records from before it existed still match specs without it.
    if job.restore.allow_flink_version_change.value {
        s.insert("restore.allowFlinkVersionChange".into(), "true".into());
    }
    // Only when set, as above; an orphan whose last record says so stays protected.
    if job.protect {
        s.insert("protect".into(), "true".into());
    }
    s.insert("health.stableFor".into(), job.health.stable_for.value.to_string());
    s.insert("health.timeout".into(), job.health.timeout.value.to_string());
    s.insert("health.rollback".into(), job.health.rollback.value.to_string());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_savepoint_timeout_last_applied_is_read_back_and_an_unreadable_one_is_unknown() {
        let mut job = crate::plan::fixtures::job("orders");
        job.savepoint.timeout.value = crate::spec::model::Duration::minutes(25);
        let mut record = crate::plan::fixtures::record_of(&job);
        assert_eq!(record.applied_setting("savepoint.timeout"), Some("25m"));
        assert_eq!(record.applied_savepoint_timeout(), Some(crate::spec::model::Duration::minutes(25)));
        let settings = &mut record.applied.as_mut().unwrap().settings;
        settings.insert("savepoint.timeout".into(), "soon".into());
        assert_eq!(record.applied_savepoint_timeout(), None, "the caller falls back to the default");
        assert_eq!(Record::new("orders").applied_savepoint_timeout(), None, "never applied");
    }

    #[test]
    fn a_secret_is_stored_as_its_slow_digest_and_an_older_sha256_still_matches() {
        let secret = Param { value: "hunter2".into(), sensitive: true };
        let stored = Stored::of("orders", &secret);
        let json = serde_json::to_string(&stored).unwrap();
        assert_eq!(json, format!(r#"{{"pbkdf2":"{}"}}"#, secret_digest("orders", "hunter2")));
        assert!(stored.matches("orders", &secret));
        assert!(!stored.matches("orders", &Param { value: "hunter3".into(), sensitive: true }));
        assert!(!stored.matches("orders", &Param::plain("hunter2")), "a secret never equals a plain value");
        // A record written before: SHA-256("flinkops-secret\0hunter2") (Python's hashlib).
        let old: Stored = serde_json::from_str(
            r#"{"sha256":"a12468e8396599e39986406fa1057b88b11282ef88031b06e40b96ef3721dd77"}"#,
        )
        .unwrap();
        assert!(matches!(old, Stored::LegacySecret { .. }));
        assert!(old.matches("orders", &secret) && old.is_secret());
        assert_eq!(old.shown(), Param::REDACTED);
        let plain: Stored = serde_json::from_str(r#""orders""#).unwrap();
        assert!(plain.matches("any", &Param::plain("orders")) && !plain.is_secret());
    }

    /// The shape is an optional field of format 1: records written before it still read, and
    /// it round-trips.
    #[test]
    fn a_record_without_a_healthy_shape_still_reads_and_one_with_it_round_trips() {
        let old: Record =
            serde_json::from_str(r#"{"formatVersion": 1, "name": "a", "savepoints": []}"#).unwrap();
        assert_eq!(old.healthy_shape, None);
        let mut r = Record::new("a");
        r.healthy_shape = Some(Shape {
            job_id: "0123456789abcdef0123456789abcdef".parse().unwrap(),
            vertices: vec![VertexParallelism { id: "v".into(), name: "Source".into(), parallelism: 2 }],
        });
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""healthyShape""#), "{json}");
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), r);
    }
}

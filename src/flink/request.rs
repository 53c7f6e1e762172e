//! Request bodies, shaped per Flink version. Owns the field names and which version needs which:
//! `/jars/:id/run` takes `restoreMode` up to 1.19 (whose strict parser rejects `claimMode` with a
//! 400) and `claimMode` from 1.20; savepoint triggers are kebab-case, stop is camelCase.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ids::{JobId, TriggerId};
use super::version::FlinkVersion;

/// How a job restored from a snapshot treats that snapshot's files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RestoreMode {
    /// The new job takes its own first checkpoint and never touches the snapshot. What flinkops
    /// always uses: the savepoint stays available for a rollback or a retry.
    #[default]
    NoClaim,
    /// The new job owns the snapshot and deletes it once later checkpoints complete (observed).
    /// flinkops never uses it, because a rollback to the previous version needs that savepoint;
    /// it exists so the wire format is complete and documented.
    Claim,
}

/// On-disk format of a savepoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SavepointFormat {
    /// Portable across state backends.
    #[default]
    Canonical,
    /// The state backend's own format: faster for big state, tied to the backend.
    Native,
}

/// What to run from an uploaded jar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    /// The main class; `None` uses the jar manifest's.
    pub entry_class: Option<String>,
    /// Program arguments, sent as a list (`programArgs`, the old string form, is ignored by 2.3).
    pub program_args: Vec<String>,
    /// Always sent: without it Flink uses `parallelism.default` of the job, or 1.
    pub parallelism: u32,
    /// A job id chosen by the caller; it can be used once per cluster lifetime.
    pub job_id: Option<JobId>,
    /// A savepoint or retained checkpoint to restore from.
    pub savepoint_path: Option<String>,
    /// Start even if some state of the snapshot belongs to no operator (that state is dropped).
    pub allow_non_restored_state: bool,
    /// Per-job Flink configuration (`execution.checkpointing.interval`, `pipeline.name`…).
    pub flink_configuration: BTreeMap<String, String>,
    pub restore_mode: RestoreMode,
}

impl RunRequest {
    /// A request with the given parallelism and everything else empty / default.
    pub fn new(parallelism: u32) -> Self {
        Self {
            entry_class: None,
            program_args: Vec::new(),
            parallelism,
            job_id: None,
            savepoint_path: None,
            allow_non_restored_state: false,
            flink_configuration: BTreeMap::new(),
            restore_mode: RestoreMode::NoClaim,
        }
    }

    /// The JSON body for a cluster of this version.
    pub fn body(&self, version: FlinkVersion) -> serde_json::Value {
        let (restore_mode, claim_mode) = if version.has_claim_mode() {
            (None, Some(self.restore_mode))
        } else {
            (Some(self.restore_mode), None)
        };
        let body = RunBody {
            entry_class: self.entry_class.as_deref(),
            program_args_list: &self.program_args,
            parallelism: self.parallelism,
            job_id: self.job_id.as_ref(),
            savepoint_path: self.savepoint_path.as_deref(),
            allow_non_restored_state: self.allow_non_restored_state,
            flink_configuration: &self.flink_configuration,
            restore_mode,
            claim_mode,
        };
        serde_json::to_value(body).expect("a run request always serialises")
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    entry_class: Option<&'a str>,
    program_args_list: &'a [String],
    parallelism: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    job_id: Option<&'a JobId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    savepoint_path: Option<&'a str>,
    allow_non_restored_state: bool,
    flink_configuration: &'a BTreeMap<String, String>,
    /// 1.18/1.19 only: their strict parser rejects the unknown `claimMode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    restore_mode: Option<RestoreMode>,
    /// 1.20+ (`restoreMode` still works there as an alias, but is deprecated).
    #[serde(skip_serializing_if = "Option::is_none")]
    claim_mode: Option<RestoreMode>,
}

/// `POST /jobs/:id/savepoints` — kebab-case, except `formatType` and `triggerId`.
#[derive(Serialize)]
pub(crate) struct SavepointBody<'a> {
    #[serde(rename = "target-directory", skip_serializing_if = "Option::is_none")]
    pub target_directory: Option<&'a str>,
    #[serde(rename = "cancel-job")]
    pub cancel_job: bool,
    #[serde(rename = "formatType")]
    pub format: SavepointFormat,
    #[serde(rename = "triggerId")]
    pub trigger_id: &'a TriggerId,
}

/// `POST /jobs/:id/stop` — camelCase throughout.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StopBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_directory: Option<&'a str>,
    pub drain: bool,
    #[serde(rename = "formatType")]
    pub format: SavepointFormat,
    pub trigger_id: &'a TriggerId,
}

/// `POST /savepoint-disposal`.
#[derive(Serialize)]
pub(crate) struct DisposalBody<'a> {
    #[serde(rename = "savepoint-path")]
    pub savepoint_path: &'a str,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request() -> RunRequest {
        RunRequest {
            entry_class: Some("dev.flinkops.testjob.CounterJob".into()),
            program_args: vec!["--name".into(), "a b".into()],
            job_id: Some("0123456789abcdef0123456789abcdef".parse().unwrap()),
            savepoint_path: Some("file:/sp/savepoint-012345-abcdefabcdef".into()),
            ..RunRequest::new(2)
        }
    }

    #[test]
    fn flink_1_19_gets_restore_mode_and_never_claim_mode() {
        let body = request().body(FlinkVersion::new(1, 19, 3));
        assert_eq!(body["restoreMode"], "NO_CLAIM");
        assert!(body.get("claimMode").is_none(), "{body}");
    }

    #[test]
    fn flink_1_20_and_later_get_claim_mode_only() {
        for v in [FlinkVersion::new(1, 20, 0), FlinkVersion::new(2, 3, 0)] {
            let body = request().body(v);
            assert_eq!(body["claimMode"], "NO_CLAIM");
            assert!(body.get("restoreMode").is_none(), "{body}");
        }
    }

    #[test]
    fn arguments_go_as_a_list_and_parallelism_is_always_sent() {
        let body = request().body(FlinkVersion::new(2, 3, 0));
        assert_eq!(body["programArgsList"], json!(["--name", "a b"]));
        assert!(body.get("programArgs").is_none());
        assert_eq!(body["parallelism"], 2);
    }

    #[test]
    fn absent_optional_fields_are_omitted_not_null() {
        let body = RunRequest::new(1).body(FlinkVersion::new(2, 3, 0));
        assert_eq!(
            body,
            json!({
                "programArgsList": [],
                "parallelism": 1,
                "allowNonRestoredState": false,
                "flinkConfiguration": {},
                "claimMode": "NO_CLAIM"
            })
        );
    }

    #[test]
    fn savepoint_bodies_are_kebab_case_and_stop_bodies_camel_case() {
        let trigger: TriggerId = "fedcba9876543210fedcba9876543210".parse().unwrap();
        let sp = SavepointBody {
            target_directory: Some("file:///sp"),
            cancel_job: false,
            format: SavepointFormat::Canonical,
            trigger_id: &trigger,
        };
        assert_eq!(
            serde_json::to_value(sp).unwrap(),
            json!({"target-directory": "file:///sp", "cancel-job": false, "formatType": "CANONICAL", "triggerId": trigger.as_str()})
        );
        let stop = StopBody {
            target_directory: None,
            drain: true,
            format: SavepointFormat::Native,
            trigger_id: &trigger,
        };
        assert_eq!(
            serde_json::to_value(stop).unwrap(),
            json!({"drain": true, "formatType": "NATIVE", "triggerId": trigger.as_str()})
        );
    }
}

//! Test builders for desired jobs, live jobs and ledger records (struct literals hide intent).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::identity;
use super::observed::LiveJob;
use crate::flink::{JobId, JobState};
use crate::ledger::{AppliedSpec, Record};
use crate::spec::fingerprint::{self, Fingerprint};
use crate::spec::model::{HealthSpec, JobState as SpecState, RestoreSpec, SavepointSpec, UpgradeMode};
use crate::spec::{Desired, JarSource, Job, Param};

/// A valid running job with a local jar and no dependencies.
pub fn job(name: &str) -> Job {
    let mut j = Job {
        name: name.to_string(),
        origin: format!("specs/{name}.yaml:1"),
        jar: JarSource::Local { path: PathBuf::from(format!("/jars/{name}.jar")) },
        jar_sha256: Some("ab".repeat(32)),
        entry_class: Some("com.example.Main".into()),
        args: vec![Param::plain("--name"), Param::plain(name)],
        parallelism: 1,
        flink_configuration: BTreeMap::new(),
        state: SpecState::Running,
        upgrade_mode: UpgradeMode::Savepoint,
        upgrade: Default::default(),
        savepoint: SavepointSpec::default(),
        restore: RestoreSpec::default(),
        depends_on: Vec::new(),
        health: HealthSpec::default(),
        restart_nonce: 0,
        protect: false,
        previous_names: Vec::new(),
        cluster: None,
        fingerprint: Fingerprint::default(),
    };
    j.fingerprint = fingerprint::of(&j);
    j
}

pub trait JobExt {
    fn after(self, deps: &[&str]) -> Self;
    fn with_parallelism(self, p: u32) -> Self;
    fn suspended(self) -> Self;
    fn mode(self, m: UpgradeMode) -> Self;
}

impl JobExt for Job {
    fn after(mut self, deps: &[&str]) -> Self {
        self.depends_on = deps.iter().map(|d| d.to_string()).collect();
        self
    }
    fn with_parallelism(mut self, p: u32) -> Self {
        self.parallelism = p;
        self.fingerprint = fingerprint::of(&self);
        self
    }
    fn suspended(mut self) -> Self {
        self.state = SpecState::Suspended;
        self
    }
    fn mode(mut self, m: UpgradeMode) -> Self {
        self.upgrade_mode = m;
        self
    }
}

pub fn desired(jobs: impl IntoIterator<Item = Job>) -> Desired {
    Desired { jobs: jobs.into_iter().map(|j| (j.name.clone(), j)).collect(), ..Desired::default() }
}

/// A live job that flinkops started for `job` (submission `n` picks the id).
pub fn live_of(job: &Job, n: u8, state: JobState) -> LiveJob {
    live(identity::job_id(&job.name, &job.fingerprint, [0, 0, n]), &job.name, state)
}

pub fn live(id: JobId, name: &str, state: JobState) -> LiveJob {
    let ended = state.is_terminal();
    LiveJob {
        id,
        name: name.to_string(),
        state,
        start_time: 1_000,
        end_time: if ended { 2_000 } else { -1 },
        tasks_running: if state == JobState::Running { 1 } else { 0 },
        tasks_finished: 0,
        tasks_total: 1,
    }
}

/// A job flinkops did not start.
pub fn unmanaged(name: &str, n: u8, state: JobState) -> LiveJob {
    live(JobId::from_bytes([n; 16]), name, state)
}

/// The ledger record after `job` was applied.
pub fn record_of(job: &Job) -> Record {
    let mut r = Record::new(&job.name);
    r.applied = Some(AppliedSpec::of(job));
    r
}

pub fn ledger(records: impl IntoIterator<Item = Record>) -> BTreeMap<String, Record> {
    records.into_iter().map(|r| (r.name.clone(), r)).collect()
}

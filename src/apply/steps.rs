//! The steps an action is made of, each recorded in the ledger before (write-ahead) and after it
//! runs: upload, stop with a savepoint, cancel, start from a snapshot, health gate, rollback.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::health::{self, Gate};
use super::jars;
use super::progress::Progress;
use crate::flink::{
    Client, Error as FlinkError, JarId, JobId, JobOverview, RestoreMode, RunRequest, SavepointFormat,
    SavepointStatus, TriggerId,
};
use crate::ledger::{AppliedSpec, Ledger, Pending, Record, SavepointReason, SavepointRecord, Shape, Stored};
use crate::plan::{checks, identity};
use crate::restore;
use crate::spec::fingerprint::Fingerprint;
use crate::spec::model::FormatType;
use crate::spec::{JarSource, Job};

/// Everything a step needs: the cluster, the ledger, progress output.
pub struct Context {
    pub client: Client,
    pub ledger: Ledger,
    pub records: Mutex<BTreeMap<String, Record>>,
    pub progress: Progress,
    /// How often the health gate and waits poll Flink.
    pub poll: Duration,
    /// Jar uploads that fell out of every record during this run (deleted at the end).
    pub dropped_jars: Mutex<Vec<JarId>>,
    /// Once cancelled (watch got SIGTERM), no new action starts; the ones in flight finish.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Uploads run one at a time, so that jobs of one wave sharing a jar upload it once (the
    /// second finds the first's upload by name).
    pub uploads: tokio::sync::Mutex<()>,
    /// How long, right before a stop, apply waits for the task slots the new version needs
    /// (`apply --slot-wait`; the default is also watch's).
    pub slot_wait: Duration,
}

use super::outcome::JobSeen;
pub use super::outcome::StepError;

/// What to run: a job version with its resolved arguments.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub name: String,
    pub fingerprint: Fingerprint,
    pub entry_class: Option<String>,
    pub args: Vec<String>,
    pub parallelism: u32,
    pub flink_configuration: BTreeMap<String, String>,
    pub allow_non_restored_state: bool,
}

impl RunSpec {
    pub fn of(job: &Job) -> Self {
        Self {
            name: job.name.clone(),
            fingerprint: job.fingerprint.clone(),
            entry_class: job.entry_class.clone(),
            args: job.args.iter().map(|a| a.value.clone()).collect(),
            parallelism: job.parallelism,
            flink_configuration: job
                .flink_configuration
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect(),
            allow_non_restored_state: job.restore.allow_non_restored_state.value,
        }
    }

    /// The previously applied version, for a rollback, run under `name` (the job's name then:
    /// another one for a rename). Sensitive values are stored only as hashes salted with that
    /// name: they are taken from the current spec when their hash matches, otherwise the
    /// previous version cannot be run again and this says which value is missing.
    pub fn previous(applied: &AppliedSpec, name: &str, current: &Job) -> Result<Self, StepError> {
        fn secret<'a>(
            name: &str,
            stored: &Stored,
            mut candidates: impl Iterator<Item = &'a crate::spec::Param>,
        ) -> Option<String> {
            match stored {
                Stored::Plain(v) => Some(v.clone()),
                _ => candidates.find(|p| stored.matches(name, p)).map(|p| p.value.clone()),
            }
        }
        let mut args = Vec::new();
        for (i, stored) in applied.args.iter().enumerate() {
            let value = secret(name, stored, current.args.iter()).ok_or(StepError::SensitiveArgChanged(i))?;
            args.push(value);
        }
        let mut flink_configuration = BTreeMap::new();
        for (key, stored) in &applied.flink_configuration {
            let value = secret(name, stored, current.flink_configuration.values())
                .ok_or_else(|| StepError::SensitiveConfigChanged(key.clone()))?;
            flink_configuration.insert(key.clone(), value);
        }
        let allow = applied.settings.get("restore.allowNonRestoredState").is_some_and(|v| v == "true");
        Ok(Self {
            name: name.to_string(),
            fingerprint: applied.fingerprint.clone(),
            entry_class: applied.entry_class.clone(),
            args,
            parallelism: applied.parallelism,
            flink_configuration,
            allow_non_restored_state: allow,
        })
    }
}

/// Test hook: with `FLINKOPS_FAULT=<point>` the process dies at that point as if killed
/// (abort: no destructors, no flushing), so the end-to-end tests can prove that the next run
/// converges. Off unless the variable names this exact point.
fn fault_point(point: &str) {
    if std::env::var("FLINKOPS_FAULT").is_ok_and(|f| f == point) {
        eprintln!("FLINKOPS_FAULT={point}: dying here on purpose");
        std::process::abort();
    }
}

/// Test hook: with `FLINKOPS_FAULT=restore-empty` a start sends no snapshot to Flink while
/// saying and recording that it restores from one: the silent empty start that the end-to-end
/// tests' state oracle must catch (and a test proves it does).
fn restore_path(from: Option<&str>) -> Option<String> {
    if std::env::var("FLINKOPS_FAULT").is_ok_and(|f| f == "restore-empty") {
        return None;
    }
    from.map(String::from)
}

fn now() -> String {
    jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| jiff::Timestamp::now()).to_string()
}

/// The cause of a Flink error with its hint, for one summary line.
pub fn describe(e: &FlinkError) -> String {
    match e.help() {
        Some(h) => format!("{e} ({h})"),
        None => e.to_string(),
    }
}

impl Context {
    /// A context for one run against `client`, its ledger and the records read from it.
    pub fn new(
        client: Client,
        ledger: Ledger,
        records: BTreeMap<String, Record>,
        progress: Progress,
    ) -> Self {
        Self {
            client,
            ledger,
            records: Mutex::new(records),
            progress,
            poll: Duration::from_secs(1),
            dropped_jars: Mutex::new(Vec::new()),
            shutdown: Default::default(),
            uploads: Default::default(),
            slot_wait: Duration::from_secs(60),
        }
    }

    /// Change a job's ledger record and write it at once (atomically).
    pub fn record(&self, name: &str, change: impl FnOnce(&mut Record)) -> Result<(), StepError> {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if !records.contains_key(name) {
            // Not read at plan time: a record that appeared since, or one that could not be read,
            // is never replaced by a blank one.
            let found = self
                .ledger
                .read(name)
                .map_err(|e| StepError::LedgerUnreadable(crate::output::error_chain(&e)))?;
            records.insert(name.to_string(), found.unwrap_or_else(|| Record::new(name)));
        }
        let record = records.get_mut(name).expect("inserted above");
        change(record);
        self.ledger.write(record).map_err(|e| StepError::LedgerWrite(e.to_string()))
    }

    pub fn current_record(&self, name: &str) -> Option<Record> {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    /// Upload the job's jar, or reuse an upload with the same content.
    pub async fn upload(&self, job: &Job) -> Result<JarId, StepError> {
        let (JarSource::Local { path }, Some(sha)) = (&job.jar, &job.jar_sha256) else {
            return Err(StepError::JarFromUrl);
        };
        let shown = crate::spec::diag::display_path(path);
        let _one_at_a_time = self.uploads.lock().await;
        match jars::ensure_uploaded(&self.client, Path::new(path), sha).await {
            Ok((id, true)) => {
                self.progress.step(&job.name, &format!("uploaded {shown} as {}", jars::upload_name(sha)));
                Ok(id)
            }
            Ok((id, false)) => {
                self.progress.step(&job.name, &format!("{shown} is on the cluster already"));
                Ok(id)
            }
            Err(jars::UploadError::Flink(e)) => Err(StepError::Upload(describe(&e))),
            Err(e) => Err(StepError::Upload(crate::output::error_chain(&e))),
        }
    }

    /// Stop a job with a savepoint and record the savepoint before anything else happens.
    pub async fn stop_with_savepoint(
        &self,
        name: &str,
        live: &JobId,
        settings: &SavepointSettings,
        reason: SavepointReason,
    ) -> Result<String, StepError> {
        let trigger = self.stop_trigger(name, live, settings).await?;
        self.stop_with_savepoint_as(name, live, settings, reason, &trigger).await
    }

    /// The trigger id a stop of `live` is asked for under: a run killed during this same stop
    /// left its trigger id, and asking again under it cannot start a second savepoint but finds
    /// the first one's result. A failed or forgotten one is not reused (its cached failure would
    /// be answered again); a new one is first checked against the job's checkpoint durations.
    pub async fn stop_trigger(
        &self,
        name: &str,
        live: &JobId,
        settings: &SavepointSettings,
    ) -> Result<TriggerId, StepError> {
        match self.current_record(name).and_then(|r| r.pending) {
            Some(Pending::Stopping { job_id, trigger_id, .. })
                if job_id == *live
                    && matches!(
                        self.client.savepoint_status(live, &trigger_id).await,
                        Ok(SavepointStatus::InProgress | SavepointStatus::Completed { .. })
                    ) =>
            {
                Ok(trigger_id)
            }
            _ => {
                self.check_savepoint_timeout(live, settings.timeout).await?;
                Ok(TriggerId::random())
            }
        }
    }

    /// [`Context::stop_with_savepoint`] under a trigger id chosen by [`Context::stop_trigger`]
    /// (a move writes it to the new cluster's ledger first).
    pub async fn stop_with_savepoint_as(
        &self,
        name: &str,
        live: &JobId,
        settings: &SavepointSettings,
        reason: SavepointReason,
        trigger: &TriggerId,
    ) -> Result<String, StepError> {
        let trigger = trigger.clone();
        self.record(name, |r| {
            r.pending = Some(Pending::Stopping {
                job_id: live.clone(),
                trigger_id: trigger.clone(),
                started_at: now(),
            })
        })?;
        self.progress.step(name, &format!("stopping {live} with a savepoint"));
        let c = &self.client;
        let asked = c.stop_with_savepoint(
            live,
            settings.directory.as_deref(),
            settings.format,
            settings.drain,
            &trigger,
        );
        if let Err(e) = asked.await {
            // Sent, and no answer came back (the cluster went away under it): Flink may be
            // stopping the job, so it is not said to keep running. Refused, or never sent: it does.
            return Err(match e.may_have_arrived() {
                true => self.stop_outcome_unknown(live, &e).await,
                false => StepError::StopRefused(describe(&e)),
            });
        }
        fault_point("after-stop-request");
        let started = Instant::now();
        let _spinner = self.progress.waiting(name, "waiting for the savepoint");
        let location = match c.wait_for_savepoint(live, &trigger, settings.timeout, self.poll, |_| {}).await {
            Ok(location) => location,
            // Flink said it failed: a failed stop leaves the job running.
            Err(e @ FlinkError::SavepointFailed { .. }) => {
                return Err(StepError::SavepointFailed(describe(&e)));
            }
            // No answer in time, or none at all: say only what the job itself shows.
            Err(e) => return Err(self.stop_outcome_unknown(live, &e).await),
        };
        let snapshot = self.snapshot(name, &location, live, reason, Some(settings.format)).await;
        self.record(name, |r| {
            r.savepoints.push(snapshot);
            r.pending = None;
        })?;
        self.progress.ok(name, &format!("savepoint {location} ({:.1}s)", started.elapsed().as_secs_f64()));
        fault_point("after-savepoint");
        // The savepoint completes a moment before the job reaches FINISHED: a new version must
        // not start while the old one may still be writing to the same sinks.
        self.wait_ended(live, Duration::from_secs(120)).await?;
        Ok(location)
    }

    /// Right before a stop with a savepoint: refuse it (the job keeps running) when the job's recent
    /// checkpoints took longer than the savepoint may (`plan::checks::savepoint_timeout`). A job
    /// Flink reports no checkpoint statistics for passes.
    async fn check_savepoint_timeout(&self, live: &JobId, timeout: Duration) -> Result<(), StepError> {
        let Ok(cp) = self.client.checkpoints(live).await else { return Ok(()) };
        checks::savepoint_timeout(timeout, &checks::CheckpointFacts::of(&cp))
            .map_err(StepError::SavepointTimeoutTooShort)
    }

    /// Right before stopping `old` for a new version that needs `need` task slots: they must fit
    /// the free slots plus those `old` holds. Free slots change as other jobs end (a job just
    /// cancelled holds its slots a moment longer), so a shortfall is waited out for `slot_wait`,
    /// with progress shown, before the stop is refused with `old` untouched. Clusters whose slots
    /// are not fixed pass, and so does a cluster that cannot say.
    pub async fn ensure_slots(&self, name: &str, need: u32, old: &JobId) -> Result<(), StepError> {
        let c = &self.client;
        let Ok(config) = c.jobmanager_config().await else { return Ok(()) };
        if !checks::slots_are_fixed(&config) {
            return Ok(());
        }
        let freed = c.job(old).await.map(|d| checks::slots_held(&d)).unwrap_or(0);
        let started = Instant::now();
        let mut spinner = None;
        loop {
            let Ok(overview) = c.cluster_overview().await else { return Ok(()) };
            let short = match checks::free_slots(need, overview.slots_available, freed) {
                Ok(()) => return Ok(()),
                Err(short) => short,
            };
            // No wait helps a job wider than the whole cluster.
            if started.elapsed() >= self.slot_wait || need > overview.slots_total {
                return Err(StepError::SlotsNeverCame { short, waited: started.elapsed() });
            }
            spinner.get_or_insert_with(|| {
                self.progress.warn(
                    name,
                    &format!(
                        "needs {need} task slots; {} free and {freed} held by {old}: waiting up to {}s for more",
                        overview.slots_available,
                        self.slot_wait.as_secs()
                    ),
                );
                self.progress.waiting(name, "waiting for free task slots")
            });
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Take a savepoint of a running job, which keeps running, and record it (`flinkops
    /// savepoint`). The trigger id makes a repeated request (a retry) find the same savepoint.
    pub async fn take_savepoint(
        &self,
        name: &str,
        live: &JobId,
        settings: &SavepointSettings,
        reason: SavepointReason,
    ) -> Result<String, StepError> {
        self.progress.step(name, &format!("taking a savepoint of {live}"));
        let c = &self.client;
        let trigger = c
            .trigger_savepoint(
                live,
                settings.directory.as_deref(),
                settings.format,
                &TriggerId::random(),
                false,
            )
            .await
            .map_err(|e| StepError::SavepointNotStarted(describe(&e)))?;
        let started = Instant::now();
        let _spinner = self.progress.waiting(name, "waiting for the savepoint");
        let location = c
            .wait_for_savepoint(live, &trigger, settings.timeout, self.poll, |_| {})
            .await
            .map_err(|e| StepError::SavepointFailed(describe(&e)))?;
        let snapshot = self.snapshot(name, &location, live, reason, Some(settings.format)).await;
        self.record(name, |r| r.savepoints.push(snapshot))?;
        self.progress.ok(name, &format!("savepoint {location} ({:.1}s)", started.elapsed().as_secs_f64()));
        Ok(location)
    }

    /// The history entry for a snapshot of `live` just taken: what Flink and the record tell
    /// about it (each detail is left out when it cannot be learnt; none of them is worth failing for).
    async fn snapshot(
        &self,
        name: &str,
        path: &str,
        live: &JobId,
        reason: SavepointReason,
        format: Option<SavepointFormat>,
    ) -> SavepointRecord {
        let mut s = SavepointRecord::new(path, Some(live.clone()), now(), reason);
        s.flink_version = self.client.version().await.ok().map(|v| v.to_string());
        s.format = format.map(|f| match f {
            SavepointFormat::Canonical => FormatType::Canonical,
            SavepointFormat::Native => FormatType::Native,
        });
        let record = self.current_record(name);
        s.fingerprint = record.as_ref().and_then(|r| r.applied.as_ref()).map(|a| a.fingerprint.clone());
        s.state_backend = record
            .as_ref()
            .and_then(|r| r.applied.as_ref())
            .and_then(|a| a.flink_configuration.get("state.backend.type"))
            .map(|v| v.shown().to_owned());
        if s.state_backend.is_none() {
            s.state_backend = self
                .client
                .jobmanager_config()
                .await
                .ok()
                .and_then(|c| c.get("state.backend.type").map(str::to_owned));
        }
        if let Ok(cp) = self.client.checkpoints(live).await {
            s.checkpoint_id =
                cp.latest.savepoint.filter(|sp| sp.external_path.as_deref() == Some(path)).map(|sp| sp.id);
        }
        s
    }

    /// Why a stop's result is unknown, with what the job shows now (checked, not assumed).
    async fn stop_outcome_unknown(&self, live: &JobId, e: &FlinkError) -> StepError {
        let job = live.clone();
        let seen = match self.client.job(live).await {
            Ok(d) if d.state.is_terminal() => JobSeen::Ended { job, state: d.state },
            Ok(d) => JobSeen::Still { job, state: d.state },
            Err(_) => JobSeen::Unknown { job },
        };
        StepError::StopTimedOut { cause: describe(e), seen }
    }

    /// For `upgradeMode: last-state`: cancel the job and return its latest retained checkpoint.
    /// `None` (nothing touched) when the job does not keep checkpoints on cancel or has none yet:
    /// the caller then takes a savepoint instead, never risking a cancel that deletes the state.
    /// Also `None` when the newest checkpoint is older than `max_age` (`upgrade.maxCheckpointAge`).
    pub async fn stop_keeping_last_checkpoint(
        &self,
        name: &str,
        live: &JobId,
        max_age: Option<crate::spec::model::Duration>,
    ) -> Result<Option<String>, StepError> {
        let c = &self.client;
        let config =
            c.checkpoint_config(live).await.map_err(|e| StepError::CheckpointConfig(describe(&e)))?;
        if !config.retained_on_cancel() {
            self.progress.warn(name, "checkpoints are not retained on cancel (execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION): taking a savepoint instead");
            return Ok(None);
        }
        let before = c.checkpoints(live).await.ok().and_then(|cp| cp.latest.completed);
        let Some(named) = before.as_ref().and_then(|b| b.external_path.as_ref()) else {
            self.progress.warn(name, "no completed checkpoint yet: taking a savepoint instead");
            return Ok(None);
        };
        let facts = checks::CheckpointFacts {
            newest: before.as_ref().map(|b| (b.id, b.latest_ack_timestamp)),
            slowest: None,
        };
        if let Some(old) = checks::checkpoint_age(max_age, &facts, jiff::Timestamp::now().as_millisecond()) {
            self.progress.warn(name, &old.to_string());
            return Ok(None);
        }
        // Checked before the cancel, which cannot be taken back: a checkpoint that is gone with
        // nothing complete beside it would leave the job stopped without its state.
        if let Some(problem) = restore::disk::problem(named)
            && restore::disk::newest_beside(named).is_none()
        {
            self.progress.warn(
                name,
                &format!("the last checkpoint Flink names, {named}, cannot be used ({problem}): taking a savepoint instead"),
            );
            return Ok(None);
        }
        self.record(name, |r| {
            r.pending = Some(Pending::Cancelling { job_id: live.clone(), started_at: now() })
        })?;
        self.cancel(name, live).await?;
        fault_point("after-cancel");
        // The statistics can lag a few seconds behind; the job has ended, so the newest of what
        // was seen before and after the cancel is its final checkpoint.
        let after = c.checkpoints(live).await.ok().and_then(|cp| cp.latest.completed);
        let newest = [before, after]
            .into_iter()
            .flatten()
            .filter_map(|cp| Some((cp.id, cp.external_path?)))
            .max_by_key(|(id, _)| *id);
        // Both answers may come from the same cache; the job's checkpoint directory, when this
        // machine can see it, shows the checkpoint the cancel really ended on.
        let newest = newest.map(|(id, path)| match restore::disk::newest_beside(&path) {
            Some((n, on_disk)) if n > id => (n, on_disk),
            _ => (id, path),
        });
        let Some((_, path)) = newest.filter(|(_, p)| restore::disk::problem(p).is_none()) else {
            return Err(StepError::RetainedCheckpointMissing(live.clone()));
        };
        let snapshot = self.snapshot(name, &path, live, SavepointReason::RetainedCheckpoint, None).await;
        self.record(name, |r| {
            r.savepoints.push(snapshot);
            r.pending = None;
        })?;
        self.progress.ok(name, &format!("cancelled; state in the retained checkpoint {path}"));
        Ok(Some(path))
    }

    /// Cancel a job and wait until it has ended.
    pub async fn cancel(&self, name: &str, live: &JobId) -> Result<(), StepError> {
        self.progress.step(name, &format!("cancelling {live}"));
        self.client.cancel(live).await.map_err(|e| StepError::CancelFailed(describe(&e)))?;
        self.wait_ended(live, Duration::from_secs(120)).await
    }

    async fn wait_ended(&self, job: &JobId, timeout: Duration) -> Result<(), StepError> {
        let deadline = Instant::now() + timeout;
        // Usually ended at the first look (Flink reports a stop complete once the job finished);
        // when not, look again soon, then less often.
        let mut wait = Duration::from_millis(50).min(self.poll);
        loop {
            match self.client.job(job).await {
                Ok(d) if d.state.is_terminal() => return Ok(()),
                Err(FlinkError::NotFound { .. }) => return Ok(()),
                Ok(_) | Err(_) if Instant::now() > deadline => {
                    return Err(StepError::NotEnded { job: job.clone(), within: timeout });
                }
                _ => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(self.poll);
                }
            }
        }
    }

    /// Run a job version from a snapshot (or empty) under a fresh managed job id, with NO_CLAIM
    /// so the snapshot stays for a rollback or a retry.
    pub async fn start(
        &self,
        spec: &RunSpec,
        jar: &JarId,
        from: Option<&str>,
        rollback: bool,
    ) -> Result<JobId, StartFailure> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let id = identity::job_id(&spec.name, &spec.fingerprint, identity::random_submission());
            self.record(&spec.name, |r| {
                r.pending = Some(Pending::Starting {
                    job_id: id.clone(),
                    from: from.map(String::from),
                    started_at: now(),
                    rollback,
                })
            })
            .map_err(|why| StartFailure { why, unknown: None })?;
            let what = if rollback { "the previous version" } else { "the new version" };
            let source = from.map_or_else(|| "empty".to_string(), |f| format!("from {f}"));
            self.progress.step(&spec.name, &format!("starting {what} as {id}, {source}"));
            let request = RunRequest {
                entry_class: spec.entry_class.clone(),
                program_args: spec.args.clone(),
                parallelism: spec.parallelism,
                job_id: Some(id.clone()),
                savepoint_path: restore_path(from),
                allow_non_restored_state: spec.allow_non_restored_state,
                flink_configuration: spec.flink_configuration.clone(),
                restore_mode: RestoreMode::NoClaim,
            };
            match self.client.run_jar(jar, &request).await {
                Ok(started) => {
                    fault_point(if rollback { "after-rollback-start" } else { "after-start" });
                    return Ok(started);
                }
                // The random part collided with an id this cluster saw before: draw again.
                Err(FlinkError::DuplicateJobId { .. }) if attempt < 3 => continue,
                // The outcome is unknown (a timeout, a lost answer): the job may still land, from
                // a slow main() or a loaded JobManager. Look for it for a while, and never submit
                // again while the outcome is unknown.
                Err(e @ FlinkError::Ambiguous { .. }) => {
                    return match self.listed_within(AMBIGUOUS_LOOK, |j| j.jid == id).await {
                        true => Ok(id),
                        false => Err(StartFailure {
                            why: StepError::StartAmbiguous {
                                cause: describe(&e),
                                job: id.clone(),
                                within: AMBIGUOUS_LOOK,
                            },
                            unknown: Some(id),
                        }),
                    };
                }
                Err(e) => {
                    return Err(StartFailure { why: StepError::StartFailed(describe(&e)), unknown: None });
                }
            }
        }
    }

    /// The health gate for a started job; on failure, which check failed (`StepError::Unhealthy`).
    pub async fn health(&self, job: &Job, id: &JobId) -> Result<Duration, StepError> {
        self.health_as(job, id, &job.name).await
    }

    /// [`Context::health`] for a job that runs under `name` (a rename rolled back runs the old
    /// name again, with the new spec's health settings): what the gate saw is recorded there.
    pub async fn health_as(&self, job: &Job, id: &JobId, name: &str) -> Result<Duration, StepError> {
        let gate = Gate {
            stable_for: job.health.stable_for.value.as_std(),
            timeout: job.health.timeout.value.as_std(),
            poll: self.poll,
        };
        self.progress.step(
            &job.name,
            &format!("waiting until healthy (all tasks running for {})", job.health.stable_for.value),
        );
        let report = |p: &health::HealthProgress| {
            if p.restarted {
                self.progress.warn(&job.name, &format!("restarted ({} so far): {p}", p.restarts));
            }
        };
        let _spinner = self.progress.waiting(&job.name, "waiting until healthy");
        match health::wait_healthy(&self.client, id, &gate, report).await {
            Ok(h) => {
                self.progress.ok(&job.name, &format!("healthy ({:.1}s)", h.after.as_secs_f64()));
                if !h.vertices.is_empty() {
                    let shape = Shape { job_id: id.clone(), vertices: h.vertices };
                    self.record(name, |r| r.healthy_shape = Some(shape))?;
                }
                Ok(h.after)
            }
            Err(u) => Err(StepError::Unhealthy(Box::new(u))),
        }
    }

    /// Record a successful start of the spec's current version.
    pub fn applied(&self, job: &Job, id: &JobId, jar: Option<&JarId>) -> Result<(), StepError> {
        let mut dropped = None;
        self.record(&job.name, |r| {
            r.applied = Some(AppliedSpec::of(job));
            if let Some(Pending::Starting { from, .. }) = &r.pending {
                r.started_from = from.clone();
            }
            r.job_id = Some(id.clone());
            if let Some(jar) = jar
                && r.jar_id.as_ref() != Some(jar)
            {
                // Keep the current and the previous upload; the one before falls out.
                dropped = r.previous_jar_id.take().filter(|old| old != jar);
                r.previous_jar_id = r.jar_id.take();
                r.jar_id = Some(jar.clone());
            }
            r.pending = None;
        })?;
        if let Some(old) = dropped {
            self.dropped_jars.lock().unwrap_or_else(|e| e.into_inner()).push(old);
        }
        Ok(())
    }

    /// Delete the uploads that fell out of the ledger during this run, unless a job still refers
    /// to them (jobs with the same jar content share one upload). Only jars this ledger recorded
    /// are ever deleted: other users' uploads on the cluster are not flinkops' to clean.
    pub async fn remove_dropped_jars(&self) -> usize {
        let dropped = std::mem::take(&mut *self.dropped_jars.lock().unwrap_or_else(|e| e.into_inner()));
        let in_use: Vec<JarId> = {
            let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
            records.values().flat_map(|r| [r.jar_id.clone(), r.previous_jar_id.clone()]).flatten().collect()
        };
        let mut removed = 0;
        for jar in dropped.iter().filter(|j| !in_use.contains(j)) {
            match self.client.delete_jar(jar).await {
                Ok(()) => removed += 1,
                // Already gone (deleted by hand, or the JobManager restarted): nothing to do.
                Err(e) => tracing::debug!("could not delete the unused jar {jar}: {e}"),
            }
        }
        removed
    }

    /// Whether a job is still active: `Some(false)` when it has ended or Flink does not know it,
    /// `None` when Flink cannot be asked (then nothing may be started in its place).
    pub async fn is_active(&self, id: &JobId) -> Option<bool> {
        match self.client.job(id).await {
            Ok(d) => Some(!d.state.is_terminal()),
            Err(FlinkError::NotFound { .. }) => Some(false),
            Err(_) => None,
        }
    }

    /// Wait (at most `within`) until every task of `job` runs, as a savepoint needs. Gives up
    /// quietly: the savepoint then fails with Flink's reason, and the job keeps running.
    pub async fn wait_tasks_up(&self, name: &str, job: &JobId, within: Duration) {
        self.progress.step(name, &format!("waiting for every task of {job} to run (a savepoint needs them)"));
        self.listed_within(within, |j| j.jid == *job && (j.state.is_terminal() || j.tasks.all_up())).await;
    }

    /// Whether the cluster's job list shows a job for which `seen` holds within `within`
    /// (looked at least once; a list that cannot be read counts as not showing it).
    async fn listed_within(&self, within: Duration, seen: impl Fn(&JobOverview) -> bool) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(o) = self.client.jobs_overview().await
                && o.jobs.iter().any(&seen)
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(self.poll.min(Duration::from_millis(500))).await;
        }
    }
}

/// How long a start with no clear answer is looked for before its outcome is called unknown
/// (short in unit tests).
const AMBIGUOUS_LOOK: Duration = Duration::from_secs(if cfg!(test) { 1 } else { 30 });

/// Why a job was not started.
#[derive(Debug)]
pub struct StartFailure {
    pub why: StepError,
    /// The job id submitted when the outcome is unknown: Flink may still run it, so nothing may
    /// be started in its place (no rollback) until a later run sees what happened.
    pub unknown: Option<JobId>,
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.why.fmt(f)
    }
}

impl From<StartFailure> for StepError {
    fn from(f: StartFailure) -> Self {
        f.why
    }
}

/// How to take a savepoint for a job.
#[derive(Debug, Clone)]
pub struct SavepointSettings {
    pub directory: Option<String>,
    pub format: SavepointFormat,
    pub drain: bool,
    pub timeout: Duration,
}

impl SavepointSettings {
    pub fn of(job: &Job) -> Self {
        Self {
            directory: job.savepoint.directory.as_ref().map(|d| d.value.clone()),
            format: match job.savepoint.format_type.value {
                FormatType::Canonical => SavepointFormat::Canonical,
                FormatType::Native => SavepointFormat::Native,
            },
            drain: job.savepoint.drain.value,
            timeout: job.savepoint.timeout.value.as_std(),
        }
    }

    /// For a job whose spec is gone: what the ledger remembers, else the cluster's defaults.
    pub fn remembered(record: Option<&Record>) -> Self {
        let get = |k: &str| record.and_then(|r| r.applied_setting(k));
        Self {
            directory: get("savepoint.directory").map(String::from),
            format: if get("savepoint.formatType") == Some("native") {
                SavepointFormat::Native
            } else {
                SavepointFormat::Canonical
            },
            drain: get("savepoint.drain") == Some("true"),
            timeout: record
                .and_then(Record::applied_savepoint_timeout)
                .map_or(Duration::from_secs(600), |d| d.as_std()),
        }
    }
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::flink::ClientConfig;
    use crate::plan::fixtures::job;

    fn context(server: &MockServer, state: &Path) -> Context {
        let client = Client::new(ClientConfig::new(server.uri())).unwrap();
        let progress = Progress::to(Box::new(std::io::sink()));
        Context {
            poll: Duration::from_millis(10),
            ..Context::new(client, Ledger::new(state), BTreeMap::new(), progress)
        }
    }

    /// A renamed job's secrets were recorded salted with its old name: the rollback of a rename
    /// finds them there, and runs the old name again.
    #[test]
    fn a_previous_version_recorded_under_another_name_runs_under_it_with_its_secrets() {
        let mut old = job("old");
        old.args = vec![crate::spec::Param { value: "hunter2".into(), sensitive: true }];
        let applied = AppliedSpec::of(&old);
        let mut current = job("new");
        current.args = old.args.clone();
        let spec = RunSpec::previous(&applied, "old", &current).unwrap();
        assert_eq!((spec.name.as_str(), spec.args.as_slice()), ("old", ["hunter2".to_string()].as_slice()));
        assert!(RunSpec::previous(&applied, "new", &current).is_err(), "salted with the old name");
    }

    fn jar(n: u8) -> JarId {
        JarId::new(format!("uuid{n}_flinkops-{n:016x}.jar"))
    }

    /// A run whose answer is lost: the job id flinkops chose is looked for, and the run is never
    /// posted twice, whether the job shows up (started) or not (outcome unknown, no rollback).
    #[tokio::test]
    async fn a_start_without_an_answer_is_looked_for_and_never_submitted_twice() {
        use std::sync::{Arc, Mutex as StdMutex};
        use wiremock::matchers::{path, path_regex};
        use wiremock::{Request, Respond};

        #[derive(Clone, Default)]
        struct Submitted(Arc<StdMutex<Option<String>>>, bool);
        impl Respond for Submitted {
            fn respond(&self, req: &Request) -> ResponseTemplate {
                let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
                *self.0.lock().unwrap() = body["jobId"].as_str().map(str::to_owned);
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"jobid": body["jobId"]}))
                    .set_delay(Duration::from_secs(3))
            }
        }
        struct Overview(Submitted);
        impl Respond for Overview {
            fn respond(&self, _: &Request) -> ResponseTemplate {
                let lands = self.0.1;
                let jobs: Vec<serde_json::Value> = (self.0.0.lock().unwrap().clone())
                    .filter(|_| lands)
                    .map(|id| {
                        serde_json::json!({"jid": id, "name": "a", "state": "RUNNING", "start-time": 1,
                            "end-time": -1, "duration": 1, "last-modification": 1, "tasks": {"total": 1, "running": 1}})
                    })
                    .into_iter()
                    .collect();
                ResponseTemplate::new(200).set_body_json(serde_json::json!({ "jobs": jobs }))
            }
        }

        for lands in [true, false] {
            let server = MockServer::start().await;
            Mock::given(method("GET"))
                .and(path("/config"))
                .respond_with(
                    ResponseTemplate::new(200).set_body_json(serde_json::json!({"flink-version": "2.3.0"})),
                )
                .mount(&server)
                .await;
            let submitted = Submitted(Default::default(), lands);
            Mock::given(method("POST"))
                .and(path_regex("^/jars/.*/run$"))
                .respond_with(submitted.clone())
                .expect(1)
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path("/jobs/overview"))
                .respond_with(Overview(submitted.clone()))
                .mount(&server)
                .await;
            let state = tempfile::tempdir().unwrap();
            let mut ctx = context(&server, state.path());
            let mut config = ClientConfig::new(server.uri());
            config.request_timeout = Duration::from_millis(300);
            ctx.client = Client::new(config).unwrap();
            let started = ctx.start(&RunSpec::of(&job("a")), &jar(1), Some("file:/sp/1"), false).await;
            let chosen: JobId =
                submitted.0.lock().unwrap().clone().unwrap_or_else(|| panic!("{started:?}")).parse().unwrap();
            match started {
                Ok(id) => assert!(lands && id == chosen, "{id}"),
                Err(f) => assert!(!lands && f.unknown.as_ref() == Some(&chosen), "{f:?}"),
            }
            // The write-ahead record names the job that may be running.
            let pending = ctx.current_record("a").unwrap().pending;
            assert!(matches!(pending, Some(Pending::Starting { job_id, .. }) if job_id == chosen));
        }
    }

    /// A stop whose savepoint does not complete in time: the message says the outcome is unknown
    /// and what the job shows when asked, never "the job keeps running" unchecked.
    #[tokio::test]
    async fn a_stop_that_times_out_is_an_unknown_outcome_with_the_jobs_checked_state() {
        use wiremock::matchers::{path, path_regex};
        for (state, says) in [("RUNNING", "still RUNNING (checked)"), ("FINISHED", "the job is STOPPED")] {
            let server = MockServer::start().await;
            let live = JobId::random();
            let ok = |body: serde_json::Value| ResponseTemplate::new(200).set_body_json(body);
            Mock::given(method("GET"))
                .and(path("/config"))
                .respond_with(ok(serde_json::json!({"flink-version": "2.3.0"})))
                .mount(&server)
                .await;
            Mock::given(method("POST"))
                .and(path_regex("/stop$"))
                .respond_with(ok(serde_json::json!({"request-id": TriggerId::random().to_string()})))
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path_regex("/savepoints/"))
                .respond_with(ok(serde_json::json!({"status": {"id": "IN_PROGRESS"}})))
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path(format!("/jobs/{live}")))
                .respond_with(ok(serde_json::json!({"jid": live.to_string(), "name": "a", "state": state,
                    "start-time": 1})))
                .mount(&server)
                .await;
            let state_dir = tempfile::tempdir().unwrap();
            let ctx = context(&server, state_dir.path());
            let settings = SavepointSettings {
                directory: None,
                format: SavepointFormat::Canonical,
                drain: false,
                timeout: Duration::from_millis(200),
            };
            let err =
                ctx.stop_with_savepoint("a", &live, &settings, SavepointReason::Upgrade).await.unwrap_err();
            assert!(matches!(err, StepError::StopTimedOut { .. }), "{err:?}");
            let err = err.to_string();
            assert!(err.contains("outcome is unknown") && err.contains(says), "{err}");
            assert!(!err.contains("keeps running"), "{err}");
        }
    }

    /// The stop request sent and no answer back (the cluster went away, or answered too late):
    /// Flink may be stopping the job, so the outcome is unknown and the job is asked, never said
    /// to keep running; the write-ahead step stays for the next run.
    #[tokio::test]
    async fn a_stop_request_without_an_answer_is_an_unknown_outcome_not_a_refusal() {
        use wiremock::matchers::{path, path_regex};
        let server = MockServer::start().await;
        let live = JobId::random();
        let answer = ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"request-id": TriggerId::random().to_string()}));
        Mock::given(method("POST"))
            .and(path_regex("/stop$"))
            .respond_with(answer.set_delay(Duration::from_secs(2)))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/jobs/{live}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"jid": live.to_string(), "name": "a", "state": "RUNNING", "start-time": 1}),
            ))
            .mount(&server)
            .await;
        let state_dir = tempfile::tempdir().unwrap();
        let config = ClientConfig {
            request_timeout: Duration::from_millis(200),
            retry: crate::flink::RetryPolicy { max_retries: 0, ..Default::default() },
            ..ClientConfig::new(server.uri())
        };
        let ctx = Context { client: Client::new(config).unwrap(), ..context(&server, state_dir.path()) };
        let settings = SavepointSettings {
            directory: None,
            format: SavepointFormat::Canonical,
            drain: false,
            timeout: Duration::from_secs(5),
        };
        let trigger = TriggerId::random();
        let err = ctx
            .stop_with_savepoint_as("a", &live, &settings, SavepointReason::Upgrade, &trigger)
            .await
            .unwrap_err();
        assert!(matches!(err, StepError::StopTimedOut { .. }), "{err:?}");
        let said = err.to_string();
        assert!(said.contains("outcome is unknown") && said.contains("still RUNNING (checked)"), "{said}");
        assert!(!said.contains("keeps running"), "{said}");
        let pending = ctx.ledger.read("a").unwrap().and_then(|r| r.pending);
        assert!(
            matches!(pending, Some(Pending::Stopping { trigger_id, .. }) if trigger_id == trigger),
            "the next run finds the stop under its trigger id"
        );
    }

    #[tokio::test]
    async fn the_current_and_previous_uploads_are_kept_and_older_ones_deleted() {
        let server = MockServer::start().await;
        Mock::given(method("DELETE"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
            .mount(&server)
            .await;
        let state = tempfile::tempdir().unwrap();
        let ctx = context(&server, state.path());
        let (a, b) = (job("a"), job("b"));
        let id = JobId::random();
        ctx.applied(&a, &id, Some(&jar(1))).unwrap();
        ctx.applied(&a, &id, Some(&jar(2))).unwrap();
        ctx.applied(&a, &id, Some(&jar(3))).unwrap(); // jar 1 falls out
        // Job b uses jar 1 (the same content): it must stay.
        ctx.applied(&b, &id, Some(&jar(1))).unwrap();
        ctx.applied(&a, &id, Some(&jar(4))).unwrap(); // jar 2 falls out, used by nobody
        assert_eq!(ctx.remove_dropped_jars().await, 1);
        let deleted: Vec<String> =
            server.received_requests().await.unwrap().iter().map(|r| r.url.path().to_string()).collect();
        assert_eq!(deleted, [format!("/jars/{}", jar(2))]);
        let record = ctx.current_record("a").unwrap();
        assert_eq!((record.jar_id, record.previous_jar_id), (Some(jar(4)), Some(jar(3))));
        // Reapplying the same upload changes nothing.
        ctx.applied(&a, &id, Some(&jar(4))).unwrap();
        assert_eq!(ctx.remove_dropped_jars().await, 0);
    }

    #[tokio::test]
    async fn two_jobs_sharing_a_jar_and_started_together_upload_it_once() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        use wiremock::matchers::path;
        use wiremock::{Request, Respond};

        struct Listing(Arc<AtomicBool>, String);
        impl Respond for Listing {
            fn respond(&self, _: &Request) -> ResponseTemplate {
                let files = if self.0.load(Ordering::SeqCst) {
                    serde_json::json!([{"id": format!("u1_{}", self.1), "name": self.1, "uploaded": 1, "entry": []}])
                } else {
                    serde_json::json!([])
                };
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"address": "x", "files": files}))
            }
        }
        struct Upload(Arc<AtomicBool>, String);
        impl Respond for Upload {
            fn respond(&self, _: &Request) -> ResponseTemplate {
                self.0.store(true, Ordering::SeqCst);
                // Slow, so that without the upload lock the other job would look before it lands.
                ResponseTemplate::new(200)
                    .set_body_json(
                        serde_json::json!({"filename": format!("/tmp/u1_{}", self.1), "status": "success"}),
                    )
                    .set_delay(Duration::from_millis(200))
            }
        }

        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("shared.jar");
        std::fs::write(&local, b"shared content").unwrap();
        let sha = crate::spec::fingerprint::sha256_file(&local).unwrap();
        let name = jars::upload_name(&sha);
        let server = MockServer::start().await;
        let listed = Arc::new(AtomicBool::new(false));
        Mock::given(method("GET"))
            .and(path("/jars"))
            .respond_with(Listing(listed.clone(), name.clone()))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/jars/upload"))
            .respond_with(Upload(listed, name.clone()))
            .expect(1)
            .mount(&server)
            .await;
        let ctx = context(&server, dir.path());
        let with_jar = |n: &str| {
            let mut j = job(n);
            j.jar = JarSource::Local { path: local.clone() };
            j.jar_sha256 = Some(sha.clone());
            j
        };
        let (a, b) = (with_jar("a"), with_jar("b"));
        let (ida, idb) = tokio::join!(ctx.upload(&a), ctx.upload(&b));
        assert_eq!(ida.unwrap(), idb.unwrap());
    }
}

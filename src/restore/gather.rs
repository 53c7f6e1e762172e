//! Ask every source for the snapshots of one spec: Flink (each ended job of the spec it still
//! lists), the ledger, the savepoint directory and the checkpoint directory.

use super::{Candidate, Discarded, Evidence, disk, store};
use crate::flink::{Client, ClusterDirs, CompletedCheckpoint, Error as FlinkError, JobId, SavepointStatus};
use crate::ledger::{Pending, Record};
use crate::spec::Job;

/// The spec's checkpoint directory keys, the 1.20+ one first.
const CHECKPOINT_DIR_KEYS: [&str; 2] = ["execution.checkpointing.dir", "state.checkpoints.dir"];

/// Every snapshot of `job` the sources name. `listed` holds the jobs of this spec that Flink
/// lists now (id, and whether it has ended); `cluster` is the cluster's configured directories
/// (read once per run by [`cluster_dirs`]), used where the spec names none.
pub async fn gather(
    client: &Client,
    job: &Job,
    record: Option<&Record>,
    listed: &[(JobId, bool)],
    cluster: &ClusterDirsRead,
) -> Evidence {
    let rejected: &[JobId] = record.map_or(&[], |r| r.rejected.as_slice());
    let mut e = Evidence {
        cluster_version: client.version().await.ok(),
        allow_version_change: job.restore.allow_flink_version_change.value,
        ..Evidence::default()
    };
    if let Some(pending) = record.and_then(|r| r.pending.as_ref()) {
        interrupted(client, pending, &mut e).await;
    }
    // The job a killed run was stopping may not carry this spec's tag (an `--adopt` stops the
    // unmanaged job): ask Flink about it too.
    let stopping = record.and_then(|r| match &r.pending {
        Some(Pending::Stopping { job_id, .. } | Pending::Cancelling { job_id, .. }) => Some(job_id.clone()),
        _ => None,
    });
    let extra = stopping.filter(|id| !listed.iter().any(|(l, _)| l == id)).map(|id| (id, true));
    let ended = listed.iter().chain(extra.iter()).filter(|(id, ended)| *ended && !rejected.contains(id));
    for (id, _) in ended {
        match client.checkpoints(id).await {
            Ok(cp) => {
                let latest = cp.latest;
                if let Some(sp) = latest.savepoint {
                    add_flink(&mut e, &sp, format!("Flink: latest savepoint of {id}"), id);
                }
                if let Some(chk) = latest.completed {
                    add_flink(&mut e, &chk, format!("Flink: latest checkpoint {} of {id}", chk.id), id);
                }
                if let Some(r) = latest.restored
                    && let Some(path) = r.external_path
                {
                    let taken_ms = disk::metadata_time(&path).unwrap_or(r.restore_timestamp);
                    let problem = disk::problem(&path);
                    let origin = format!("Flink: what {id} was restored from");
                    let job_id = None; // taken by an earlier job
                    e.add(Candidate { path, origin, taken_ms, checkpoint_id: Some(r.id), job_id, problem });
                }
            }
            Err(FlinkError::NotFound { .. }) => {}
            Err(err) => e.unread.push(format!("Flink's checkpoint statistics of {id}: {err}")),
        }
    }
    if let Some(r) = record {
        for sp in &r.savepoints {
            if let Some(v) = &sp.flink_version {
                e.written_by.insert(super::same_path(&sp.path), v.clone());
            }
            let recorded = sp.taken_at.parse::<jiff::Timestamp>().map_or(0, |t| t.as_millisecond());
            let of = sp.job_id.as_ref().map_or_else(String::new, |id| format!(" of {id}"));
            let why = serde_json::to_value(sp.reason).ok().and_then(|v| v.as_str().map(str::to_owned));
            e.add(Candidate {
                path: sp.path.clone(),
                origin: format!("the ledger: {} snapshot{of}", why.unwrap_or_default()),
                taken_ms: disk::metadata_time(&sp.path).unwrap_or(recorded),
                checkpoint_id: None,
                job_id: sp.job_id.clone(),
                problem: match &sp.disposing {
                    Some(_) => Some("flinkops gc began disposing of it".into()),
                    None => disk::problem(&sp.path),
                },
            });
        }
    }
    let (savepoint_dir, checkpoint_dir) = dirs(job, cluster, &mut e);
    // A renamed spec's snapshots may carry an old name's tag (`previousNames`).
    for tag in crate::plan::renames::tags(job) {
        scan_dirs(&mut e, savepoint_dir.as_deref(), checkpoint_dir.as_deref(), &tag, rejected).await;
    }
    e.mark_foreign(record);
    let last = record.and_then(|r| r.job_id.clone()).filter(|id| !rejected.contains(id));
    e.forgotten = last.filter(|id| !listed.iter().any(|(l, _)| l == id));
    e.ran_before = !listed.is_empty()
        || !e.found.is_empty()
        || record.is_some_and(|r| r.job_id.is_some() || !r.savepoints.is_empty() || r.pending.is_some());
    e
}

/// What a run killed in the middle of a stop left: the savepoint its trigger id produced, if
/// Flink still remembers the request (it may have completed after the kill).
async fn interrupted(client: &Client, pending: &Pending, e: &mut Evidence) {
    let Pending::Stopping { job_id, trigger_id, started_at } = pending else { return };
    // Taken after the stop was asked for: the lower bound where `_metadata` cannot be seen.
    let asked_ms = started_at.parse::<jiff::Timestamp>().map_or(0, |t| t.as_millisecond());
    match client.savepoint_status(job_id, trigger_id).await {
        Ok(SavepointStatus::Completed { location }) => e.add(Candidate {
            taken_ms: disk::metadata_time(&location).unwrap_or(asked_ms),
            problem: disk::problem(&location),
            path: location,
            origin: format!("the savepoint of {job_id} an interrupted run asked for"),
            checkpoint_id: None,
            job_id: Some(job_id.clone()),
        }),
        Ok(SavepointStatus::InProgress) => {
            e.unread
                .push(format!("the savepoint of {job_id} an interrupted run asked for is still in progress"));
        }
        // Failed: the job kept running, nothing new. Forgotten (expired, or a restarted
        // cluster): the other sources still name what it wrote.
        Ok(SavepointStatus::Failed { .. })
        | Err(FlinkError::NotFound { .. } | FlinkError::SavepointExpired { .. }) => {}
        Err(err) => e.unread.push(format!("the savepoint of {job_id} an interrupted run asked for: {err}")),
    }
}

fn add_flink(e: &mut Evidence, c: &CompletedCheckpoint, origin: String, id: &JobId) {
    let Some(path) = c.external_path.clone() else { return };
    if c.discarded {
        // Not a snapshot any more: Flink deleted it as its retention says (a job whose
        // checkpoints are not retained on cancel). Nothing was promised, but say so.
        e.discarded.push(Discarded {
            what: format!("checkpoint {} of {id}", c.id),
            taken_ms: c.latest_ack_timestamp,
        });
        return;
    }
    let problem = disk::problem(&path);
    e.add(Candidate {
        taken_ms: disk::metadata_time(&path).unwrap_or(c.latest_ack_timestamp),
        path,
        origin,
        checkpoint_id: Some(c.id),
        job_id: Some(id.clone()),
        problem,
    });
}

/// The cluster's directories, or why they could not be read.
pub type ClusterDirsRead = Result<ClusterDirs, String>;

/// Read the cluster's configured savepoint and checkpoint directories (`GET /jobmanager/config`).
pub async fn cluster_dirs(client: &Client) -> ClusterDirsRead {
    client.jobmanager_config().await.map(|c| c.dirs()).map_err(|err| {
        format!("the cluster's savepoint and checkpoint directories (GET /jobmanager/config): {err}")
    })
}

/// The spec's savepoint and checkpoint directories, else the cluster's. A cluster configuration
/// that could not be read is noted as unread when the spec leaves a directory out.
fn dirs(job: &Job, cluster: &ClusterDirsRead, e: &mut Evidence) -> (Option<String>, Option<String>) {
    let savepoints = job.savepoint.directory.as_ref().map(|d| d.value.clone());
    let checkpoints =
        CHECKPOINT_DIR_KEYS.iter().find_map(|k| job.flink_configuration.get(*k)).map(|p| p.value.clone());
    if savepoints.is_some() && checkpoints.is_some() {
        return (savepoints, checkpoints);
    }
    match cluster {
        Ok(c) => (savepoints.or_else(|| c.savepoints.clone()), checkpoints.or_else(|| c.checkpoints.clone())),
        Err(why) => {
            e.unread.push(why.clone());
            (savepoints, checkpoints)
        }
    }
}

/// The snapshots of one name tag in the savepoint and checkpoint directories.
async fn scan_dirs(
    e: &mut Evidence,
    savepoints: Option<&str>,
    checkpoints: Option<&str>,
    tag: &str,
    rejected: &[JobId],
) {
    if let Some(dir) = savepoints {
        let listed = if store::supported(dir) {
            store::savepoints(dir, tag).await
        } else {
            disk::savepoints(dir, tag)
        };
        match listed {
            Ok(found) => found.into_iter().for_each(|c| e.add(c)),
            Err(why) => e.unread.push(format!("{dir} (the savepoint directory): {why}")),
        }
    }
    if let Some(dir) = checkpoints {
        let listed = if store::supported(dir) {
            store::checkpoints(dir, tag, rejected).await
        } else {
            disk::checkpoints(dir, tag, rejected)
        };
        match listed {
            Ok(found) => found.into_iter().for_each(|c| e.add(c)),
            Err(why) => e.unread.push(format!("{dir} (the checkpoint directory): {why}")),
        }
    }
}

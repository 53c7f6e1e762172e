//! Snapshots in the savepoint and checkpoint directories, read from this machine's file system.
//!
//! Flink names a savepoint `savepoint-<first 6 hex of the job id>-<random>` and a retained
//! checkpoint `<checkpoint dir>/<job id>/chk-<id>`, and every managed job id starts with its
//! spec's name tag, so the listings say which snapshots belong to a spec even when Flink's job
//! history and the ledger are gone (a restarted non-HA cluster, a CI run without the state
//! directory). A snapshot is complete only with its `_metadata` (Flink writes it last; a crash can
//! leave a directory without it). This module lists `file:` URIs and absolute paths; `store`
//! lists the object stores; any other scheme (`hdfs://`, `oss://`) is reported as unread, never
//! as empty.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::Candidate;
use crate::flink::JobId;
use crate::plan::identity;

/// A local directory, or why it cannot be listed from here.
fn local_dir(uri: &str) -> Result<Option<PathBuf>, String> {
    let path = match uri.split_once("://") {
        Some(("file", rest)) => rest,
        Some((scheme, _)) => {
            return Err(format!(
                "flinkops cannot list `{scheme}://` directories (it lists file:, {})",
                super::store::SCHEMES.map(|s| format!("{s}://")).join(", ")
            ));
        }
        None => uri.strip_prefix("file:").unwrap_or(uri),
    };
    let path = Path::new(path);
    if !path.is_absolute() {
        return Err("not an absolute path".into());
    }
    if path.is_dir() {
        return Ok(Some(path.to_path_buf()));
    }
    // Flink creates the directory with the first snapshot: a missing directory whose parent is
    // here holds nothing; a missing parent means the directory is not visible from this machine.
    match path.parent() {
        Some(parent) if parent.is_dir() => Ok(None),
        _ => Err("the directory is not visible from this machine".into()),
    }
}

/// The local directory of a `file:` snapshot path, if it is one.
fn local_snapshot(path: &str) -> Option<&Path> {
    let local = path.strip_prefix("file://").or_else(|| path.strip_prefix("file:"))?;
    Some(Path::new(local))
}

fn mtime_ms(path: &Path) -> Option<i64> {
    let t = path.metadata().ok()?.modified().ok()?;
    Some(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64))
}

/// When a local snapshot's `_metadata` was written; `None` for other file systems or when it
/// cannot be seen.
pub fn metadata_time(path: &str) -> Option<i64> {
    mtime_ms(&local_snapshot(path)?.join("_metadata"))
}

/// Why a snapshot cannot be restored from, when this machine can tell: a local snapshot needs
/// its `_metadata`. Snapshots on other file systems, or in a directory this machine cannot see,
/// are left to Flink.
pub fn problem(path: &str) -> Option<String> {
    let dir = local_snapshot(path)?;
    let parent_here = dir.parent().is_some_and(Path::is_dir);
    if !parent_here || dir.join("_metadata").is_file() {
        return None;
    }
    Some(if dir.exists() { "its _metadata is missing (incomplete)" } else { "it was deleted" }.into())
}

/// Every complete savepoint of the spec with this name tag under `dir`.
pub fn savepoints(dir: &str, name_tag: &str) -> Result<Vec<Candidate>, String> {
    let Some(local) = local_dir(dir)? else { return Ok(Vec::new()) };
    let prefix = format!("savepoint-{name_tag}-");
    let entries = std::fs::read_dir(&local).map_err(|e| format!("cannot list it: {e}"))?;
    let mut found = Vec::new();
    for e in entries.filter_map(Result::ok) {
        if !e.file_name().to_string_lossy().starts_with(&prefix) {
            continue;
        }
        if let Some(taken_ms) = mtime_ms(&e.path().join("_metadata")) {
            found.push(Candidate::in_savepoint_dir(format!("file:{}", e.path().display()), taken_ms));
        }
    }
    Ok(found)
}

/// The newest complete retained checkpoint (`<dir>/<job id>/chk-N/_metadata`) of every job of
/// the spec with this name tag under the checkpoint directory `dir`, except the jobs in `skip`.
pub fn checkpoints(dir: &str, name_tag: &str, skip: &[JobId]) -> Result<Vec<Candidate>, String> {
    let Some(local) = local_dir(dir)? else { return Ok(Vec::new()) };
    let entries = std::fs::read_dir(&local).map_err(|e| format!("cannot list it: {e}"))?;
    let mut found = Vec::new();
    for e in entries.filter_map(Result::ok) {
        let Ok(id) = e.file_name().to_string_lossy().parse::<JobId>() else { continue };
        if skip.contains(&id) || identity::parse(&id).is_none_or(|m| m.name_tag != name_tag) {
            continue;
        }
        if let Some((n, taken_ms, path)) = newest_complete(&e.path()) {
            found.push(Candidate {
                path: format!("file:{}", path.display()),
                origin: format!("retained checkpoint {n} of {id}, in the checkpoint directory"),
                taken_ms,
                checkpoint_id: Some(n),
                job_id: Some(id),
                problem: None,
            });
        }
    }
    Ok(found)
}

/// The complete `chk-N` with the highest N in one job's checkpoint directory: (N, when its
/// `_metadata` was written, its directory).
fn newest_complete(job_dir: &Path) -> Option<(u64, i64, PathBuf)> {
    std::fs::read_dir(job_dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|c| {
            let n: u64 = c.file_name().to_string_lossy().strip_prefix("chk-")?.parse().ok()?;
            Some((n, mtime_ms(&c.path().join("_metadata"))?, c.path()))
        })
        .max_by_key(|(n, ..)| *n)
}

/// For a local retained checkpoint `…/<job id>/chk-N`, the complete checkpoint of the same job
/// with the highest id on disk (N itself or a later one), as (id, `file:` path). Flink's
/// checkpoint statistics are cached for a few seconds and can name an older checkpoint than the
/// last one written; the directory cannot. `None` when the path is not local or not visible.
pub fn newest_beside(checkpoint: &str) -> Option<(u64, String)> {
    let job_dir = local_snapshot(checkpoint)?.parent()?;
    let (n, _, path) = newest_complete(job_dir)?;
    Some((n, format!("file:{}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(root: &Path, name: &str, complete: bool) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        if complete {
            std::fs::write(dir.join("_metadata"), b"x").unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(20)); // distinct mtimes
        dir
    }

    #[test]
    fn the_complete_savepoints_of_the_spec_are_found() {
        let dir = tempfile::tempdir().unwrap();
        snapshot(dir.path(), "savepoint-abc123-000000000001", true);
        snapshot(dir.path(), "savepoint-abc123-000000000002", false); // crashed half-way
        snapshot(dir.path(), "savepoint-ffffff-000000000003", true); // another spec's
        let uri = format!("file://{}", dir.path().display());
        let found = savepoints(&uri, "abc123").unwrap();
        let paths: Vec<_> = found.iter().map(|c| c.path.clone()).collect();
        assert_eq!(paths, [format!("file:{}", dir.path().join("savepoint-abc123-000000000001").display())]);
        assert!(savepoints(&uri, "000000").unwrap().is_empty());
    }

    #[test]
    fn the_newest_complete_checkpoint_of_each_job_of_the_spec_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let tag = identity::name_tag("orders");
        let fp = crate::spec::fingerprint::Fingerprint("ab".repeat(32));
        let (a, b) = (
            identity::job_id("orders", &fp, identity::random_submission()),
            identity::job_id("orders", &fp, identity::random_submission()),
        );
        let other = identity::job_id("payments", &fp, identity::random_submission());
        snapshot(dir.path(), &format!("{a}/chk-9"), true);
        snapshot(dir.path(), &format!("{a}/chk-10"), true);
        snapshot(dir.path(), &format!("{a}/chk-11"), false); // in flight when the cluster died
        snapshot(dir.path(), &format!("{a}/shared"), false);
        snapshot(dir.path(), &format!("{b}/chk-3"), true);
        snapshot(dir.path(), &format!("{other}/chk-50"), true);
        let found = checkpoints(&dir.path().display().to_string(), &tag, std::slice::from_ref(&b)).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].checkpoint_id, Some(10));
        assert_eq!(found[0].job_id.as_ref(), Some(&a));
        assert!(found[0].path.ends_with("/chk-10"));
    }

    #[test]
    fn the_checkpoint_directory_names_a_later_checkpoint_than_a_stale_statistic() {
        let dir = tempfile::tempdir().unwrap();
        let job = dir.path().join("job");
        snapshot(&job, "chk-4", true);
        snapshot(&job, "chk-5", true);
        snapshot(&job, "chk-6", false); // in flight
        let stale = format!("file:{}", job.join("chk-4").display());
        let (n, path) = newest_beside(&stale).unwrap();
        assert_eq!((n, path), (5, format!("file:{}", job.join("chk-5").display())));
        assert_eq!(newest_beside("s3://bucket/chk/job/chk-4"), None);
    }

    #[test]
    fn what_cannot_be_listed_says_so_and_an_absent_directory_is_empty() {
        let err = savepoints("s3://bucket/savepoints", "abc123").unwrap_err();
        assert!(err.contains("s3://"), "{err}");
        assert!(checkpoints("file:///does/not/exist/here", "abc123", &[]).is_err());
        let dir = tempfile::tempdir().unwrap();
        let absent = dir.path().join("not-yet");
        assert!(savepoints(&absent.display().to_string(), "abc123").unwrap().is_empty());
    }

    #[test]
    fn a_local_snapshot_without_metadata_is_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let good = snapshot(dir.path(), "good", true);
        let half = snapshot(dir.path(), "half", false);
        assert_eq!(problem(&format!("file:{}", good.display())), None);
        assert!(problem(&format!("file://{}", half.display())).unwrap().contains("_metadata"));
        assert!(problem(&format!("file:{}", dir.path().join("gone").display())).unwrap().contains("deleted"));
        assert_eq!(problem("s3://bucket/sp/savepoint-1"), None);
        assert_eq!(problem("file:/not/visible/here/sp"), None);
        assert!(metadata_time(&format!("file:{}", good.display())).is_some());
    }
}

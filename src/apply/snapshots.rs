//! The last place to look for a job's state: its savepoints in the savepoint directory.
//!
//! Flink names a savepoint directory `savepoint-<first 6 hex of the job id>-<random>`, and every
//! managed job id starts with its spec's name tag, so the directory listing says which savepoints
//! belong to a spec even when Flink's job history and the ledger are gone (a restarted non-HA
//! cluster, a CI run without the state directory). Only directories this machine can read
//! (`file:` URIs) can be listed; a savepoint counts only with its `_metadata` (a crash can leave a
//! directory without it).

use std::path::{Path, PathBuf};

/// The newest complete savepoint of the spec with this name tag under `dir` (a `file:` URI or an
/// absolute path), as the `file:` URI Flink expects; `None` when there is none or the directory
/// is not local.
pub fn newest_savepoint(dir: &str, name_tag: &str) -> Option<String> {
    newest_savepoint_at(dir, name_tag).map(|(_, path)| path)
}

/// [`newest_savepoint`] with the time its `_metadata` was written (epoch ms).
pub fn newest_savepoint_at(dir: &str, name_tag: &str) -> Option<(i64, String)> {
    let local = local_dir(dir)?;
    let prefix = format!("savepoint-{name_tag}-");
    let newest = std::fs::read_dir(&local)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .filter(|e| e.path().join("_metadata").is_file())
        .filter_map(|e| Some((e.path().join("_metadata").metadata().ok()?.modified().ok()?, e.path())))
        .max()?;
    let ms = newest.0.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    Some((ms, format!("file:{}", newest.1.display())))
}

fn local_dir(dir: &str) -> Option<PathBuf> {
    let path = dir.strip_prefix("file://").or_else(|| dir.strip_prefix("file:")).unwrap_or(dir);
    let path = Path::new(path);
    (path.is_absolute() && path.is_dir()).then(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn savepoint(root: &Path, name: &str, complete: bool) {
        std::fs::create_dir_all(root.join(name)).unwrap();
        if complete {
            std::fs::write(root.join(name).join("_metadata"), b"x").unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(20)); // distinct mtimes
    }

    #[test]
    fn the_newest_complete_savepoint_of_the_spec_is_found() {
        let dir = tempfile::tempdir().unwrap();
        savepoint(dir.path(), "savepoint-abc123-000000000001", true);
        savepoint(dir.path(), "savepoint-abc123-000000000002", true);
        savepoint(dir.path(), "savepoint-abc123-000000000003", false); // crashed half-way
        savepoint(dir.path(), "savepoint-ffffff-000000000004", true); // another spec's
        let uri = format!("file://{}", dir.path().display());
        let found = newest_savepoint(&uri, "abc123").unwrap();
        assert_eq!(found, format!("file:{}", dir.path().join("savepoint-abc123-000000000002").display()));
        assert_eq!(newest_savepoint(&uri, "000000"), None);
    }

    #[test]
    fn remote_or_missing_directories_are_not_listed() {
        assert_eq!(newest_savepoint("s3://bucket/savepoints", "abc123"), None);
        assert_eq!(newest_savepoint("file:///does/not/exist", "abc123"), None);
    }
}

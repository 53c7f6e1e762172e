//! One apply at a time per state directory and cluster (docs/design.md, "Safety rules").
//!
//! The lock is an advisory `flock` (std's `File::try_lock`) on
//! `<state-dir>/clusters/<cluster key>/apply.lock` (the key: `crate::cluster`). The kernel
//! releases it when the holding process
//! ends, however it ends, so a crash never leaves a stale lock behind: the file itself means
//! nothing, only the lock on it does. Its contents say who holds it (pid, host, command, since
//! when), for the error message of the next apply; they are never used to decide anything.
//!
//! The file is never deleted: unlinking a lock file lets two processes lock two different inodes
//! under the same name. Locks belong to an open file description, so two `File`s opened by one
//! process conflict with each other, and std opens files close-on-exec, so child processes do not
//! inherit (and keep alive) a lock. This module must not talk to Flink or touch the ledger.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// How often a waiting apply tries the lock again.
const POLL: Duration = Duration::from_millis(250);
/// How often a waiting apply tells its caller that it is still waiting.
const REPORT_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another flinkops apply holds the lock for {flink_url}: {}{}",
        describe_holder(.holder.as_deref()),
        describe_wait(.waited)
    )]
    Held { flink_url: String, path: PathBuf, holder: Option<Box<HolderInfo>>, waited: Duration },
    #[error("cannot open the lock file {path}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("cannot lock {path}")]
    Lock { path: PathBuf, source: std::io::Error },
    #[error("cannot record the lock holder in {path}")]
    Record { path: PathBuf, source: std::io::Error },
}

impl LockError {
    /// What the user can do about it, for the edge to print under the message.
    pub fn help(&self) -> String {
        match self {
            LockError::Held { path, .. } => format!(
                "Wait for it with --lock-timeout (e.g. --lock-timeout 5m). If that process is gone, \
                 the lock is free already: the operating system releases it when its holder exits, \
                 so there is nothing to delete ({} may stay; a leftover file never blocks anyone).",
                path.display()
            ),
            LockError::Open { .. } | LockError::Lock { .. } | LockError::Record { .. } => {
                "Check that the state directory (--state-dir) exists on a local or NFS file \
                 system and that this user may write to it."
                    .into()
            }
        }
    }
}

/// Who holds the lock, as recorded in the lock file (camelCase JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HolderInfo {
    pub pid: u32,
    pub host: String,
    /// The command line as the holder chose to show it (never secrets).
    pub command: String,
    /// When the holder took the lock (RFC 3339).
    pub started_at: Timestamp,
}

/// This process, as it will describe itself in the lock file once it holds the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub command: String,
}

impl Holder {
    /// The current process, with `command_line` as given (e.g. `flinkops apply specs/`). It is
    /// written to the state directory in clear: pass what the user typed minus any secret values.
    pub fn current(command_line: &str) -> Self {
        Self { pid: std::process::id(), host: host_name(), command: command_line.to_string() }
    }

    fn info_now(&self) -> HolderInfo {
        let now = Timestamp::now();
        HolderInfo {
            pid: self.pid,
            host: self.host.clone(),
            command: self.command.clone(),
            started_at: now.round(jiff::Unit::Second).unwrap_or(now),
        }
    }
}

/// The held lock. Dropping it releases the lock (and so does the end of the process).
#[derive(Debug)]
pub struct ApplyLock {
    file: File,
    path: PathBuf,
}

impl ApplyLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ApplyLock {
    fn drop(&mut self) {
        // Clear the record while still holding the lock, so nobody reads a departed holder's
        // details as those of the next one; closing the file releases the lock either way.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// The lock file of the cluster whose directory (see `crate::cluster`) is `cluster_dir`.
pub fn lock_path(cluster_dir: &Path) -> PathBuf {
    cluster_dir.join("apply.lock")
}

/// Take the apply lock of the cluster whose directory is `cluster_dir` (reached at `flink_url`,
/// for messages), waiting up to `timeout` for another holder
/// to let go (zero: fail at once). While waiting, `on_wait` is called about once a second with the
/// holder (`None` if it did not record itself) and the time waited so far.
pub fn acquire(
    cluster_dir: &Path,
    flink_url: &str,
    timeout: Duration,
    holder: &Holder,
    mut on_wait: impl FnMut(Option<&HolderInfo>, Duration),
) -> Result<ApplyLock, LockError> {
    let path = lock_path(cluster_dir);
    let file = open(&path)?;
    let start = Instant::now();
    let mut last_report: Option<Instant> = None;
    loop {
        if try_lock(&file, &path)? {
            return record(ApplyLock { file, path }, holder);
        }
        let current = read_holder(&path);
        let waited = start.elapsed();
        if waited >= timeout {
            let waited = if timeout.is_zero() { Duration::ZERO } else { waited };
            let holder = current.map(Box::new);
            return Err(LockError::Held { flink_url: flink_url.to_string(), path, holder, waited });
        }
        if last_report.is_none_or(|at| at.elapsed() >= REPORT_EVERY) {
            on_wait(current.as_ref(), waited);
            last_report = Some(Instant::now());
        }
        std::thread::sleep(POLL.min(timeout - waited));
    }
}

fn open(path: &Path) -> Result<File, LockError> {
    let err = |source| LockError::Open { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        crate::ledger::create_private_dir(dir).map_err(err)?;
    }
    // Never truncate on open: the file names the current holder until we hold the lock. Private:
    // it names who holds the lock, from which host.
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(path).map_err(err)
}

/// `Ok(true)` if this file now holds the lock, `Ok(false)` if someone else does.
fn try_lock(file: &File, path: &Path) -> Result<bool, LockError> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(source)) => Err(LockError::Lock { path: path.to_path_buf(), source }),
    }
}

/// Replace the file's contents with this holder's details, on disk before apply goes on.
fn record(mut lock: ApplyLock, holder: &Holder) -> Result<ApplyLock, LockError> {
    let mut bytes = serde_json::to_vec_pretty(&holder.info_now()).expect("holder info always serialises");
    bytes.push(b'\n');
    let written = lock
        .file
        .set_len(0)
        .and_then(|()| lock.file.rewind())
        .and_then(|()| lock.file.write_all(&bytes))
        .and_then(|()| lock.file.sync_all());
    match written {
        Ok(()) => Ok(lock),
        Err(source) => Err(LockError::Record { path: lock.path.clone(), source }),
    }
}

/// The holder's details, if the file holds them: it may be empty (the holder has only just taken
/// the lock, or is not a flinkops) or from another version.
fn read_holder(path: &Path) -> Option<HolderInfo> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn describe_holder(holder: Option<&HolderInfo>) -> String {
    match holder {
        Some(h) => format!("pid {} on host {}, `{}`, since {}", h.pid, h.host, h.command, h.started_at),
        None => "the holder did not record who it is (it may have only just started, or not be \
                 this version of flinkops)"
            .into(),
    }
}

fn describe_wait(waited: &Duration) -> String {
    let waited = *waited;
    if waited.is_zero() {
        return String::new();
    }
    let shown = if waited < Duration::from_secs(1) {
        jiff::SignedDuration::from_millis(waited.as_millis() as i64)
    } else {
        jiff::SignedDuration::from_secs(waited.as_secs_f64().round() as i64)
    };
    format!("; waited {shown:#}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:8081";

    fn ci_runner() -> Holder {
        Holder { pid: 4242, host: "ci-runner-3".into(), command: "flinkops apply specs/".into() }
    }

    fn no_waiting(_: Option<&HolderInfo>, _: Duration) {
        panic!("a zero timeout must not wait");
    }

    #[test]
    fn a_second_acquire_fails_at_once_naming_the_first_holder() {
        let dir = tempfile::tempdir().unwrap();
        let _first = acquire(dir.path(), URL, Duration::ZERO, &ci_runner(), no_waiting).unwrap();
        // A second open file in the same process: flock locks belong to the open file, so this
        // conflicts exactly as another process would.
        let me = Holder::current("flinkops apply other/");
        let err = acquire(dir.path(), URL, Duration::ZERO, &me, no_waiting).unwrap_err();
        let LockError::Held { holder: Some(info), waited, path, .. } = &err else {
            panic!("expected Held with the holder's details, got {err:?}");
        };
        assert_eq!((info.pid, info.host.as_str()), (4242, "ci-runner-3"));
        assert_eq!(info.command, "flinkops apply specs/");
        assert_eq!(*waited, Duration::ZERO);
        assert_eq!(path, &dir.path().join("apply.lock"));
        let message = err.to_string();
        assert!(
            message.starts_with(
                "another flinkops apply holds the lock for http://127.0.0.1:8081: pid 4242 on host \
                 ci-runner-3, `flinkops apply specs/`, since 20"
            ),
            "{message}"
        );
        assert!(!message.contains("waited"), "{message}");
    }

    #[test]
    fn a_waiting_acquire_succeeds_once_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), URL, Duration::ZERO, &ci_runner(), no_waiting).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(first);
        });
        let mut reports = Vec::new();
        let start = Instant::now();
        let me = Holder::current("flinkops apply specs/");
        let second = acquire(dir.path(), URL, Duration::from_secs(10), &me, |h, waited| {
            reports.push((h.map(|h| h.pid), waited))
        })
        .unwrap();
        releaser.join().unwrap();
        assert!(start.elapsed() >= Duration::from_millis(300), "it waited for the release");
        assert!(start.elapsed() < Duration::from_secs(5), "it did not wait for the timeout");
        assert_eq!(reports.first().map(|r| r.0), Some(Some(4242)), "the wait named the holder");
        assert_eq!(read_holder(second.path()).unwrap().pid, std::process::id(), "the new holder is recorded");
    }

    #[test]
    fn a_waiting_acquire_gives_up_after_the_timeout_and_reports_about_once_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let _first = acquire(dir.path(), URL, Duration::ZERO, &ci_runner(), no_waiting).unwrap();
        let mut reports = Vec::new();
        let err = acquire(dir.path(), URL, Duration::from_millis(1300), &ci_runner(), |h, waited| {
            reports.push((h.cloned(), waited))
        })
        .unwrap_err();
        let LockError::Held { waited, .. } = &err else { panic!("expected Held, got {err:?}") };
        assert!(*waited >= Duration::from_millis(1300) && *waited < Duration::from_secs(3), "{waited:?}");
        assert_eq!(reports.len(), 2, "one report at once and one a second later: {reports:?}");
        assert!(reports.iter().all(|(h, _)| h.as_ref().is_some_and(|h| h.pid == 4242)));
        assert!(reports[1].1 >= Duration::from_secs(1));
        assert!(err.to_string().ends_with("; waited 1s"), "{err}");
    }

    #[test]
    fn dropping_the_guard_releases_the_lock_and_clears_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), URL, Duration::ZERO, &ci_runner(), no_waiting).unwrap();
        let path = first.path().to_path_buf();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "private");
        drop(first);
        assert_eq!(std::fs::read(&path).unwrap(), b"", "a departed holder is not named");
        acquire(dir.path(), URL, Duration::ZERO, &ci_runner(), no_waiting).unwrap();
    }

    #[test]
    fn each_cluster_has_its_own_lock() {
        let dir = tempfile::tempdir().unwrap();
        let a = acquire(&dir.path().join("a"), URL, Duration::ZERO, &ci_runner(), no_waiting).unwrap();
        let b = acquire(&dir.path().join("b"), URL, Duration::ZERO, &ci_runner(), no_waiting).unwrap();
        assert_ne!(a.path(), b.path());
        assert!(b.path().ends_with("b/apply.lock"));
    }

    #[test]
    fn the_holder_is_recorded_in_the_lock_file_as_camel_case_json() {
        let dir = tempfile::tempdir().unwrap();
        let lock = acquire(dir.path(), URL, Duration::ZERO, &ci_runner(), no_waiting).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(lock.path()).unwrap()).unwrap();
        assert_eq!(json["pid"], 4242);
        assert_eq!(json["host"], "ci-runner-3");
        assert_eq!(json["command"], "flinkops apply specs/");
        let since: Timestamp = json["startedAt"].as_str().unwrap().parse().unwrap();
        assert!(Timestamp::now().duration_since(since).as_secs() < 60);
    }

    #[test]
    fn a_holder_without_a_readable_record_is_still_reported_as_holding_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{\"from\": \"an older flinkops\"}").unwrap();
        let other = File::open(&path).unwrap();
        other.try_lock().unwrap();
        let err = acquire(dir.path(), URL, Duration::ZERO, &ci_runner(), no_waiting).unwrap_err();
        assert!(matches!(err, LockError::Held { holder: None, .. }), "{err:?}");
        assert!(err.to_string().contains("did not record who it is"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"from\": \"an older flinkops\"}", "untouched");
    }

    #[test]
    fn the_help_for_a_held_lock_says_how_to_wait_and_that_stale_files_do_not_matter() {
        let dir = tempfile::tempdir().unwrap();
        let _first = acquire(dir.path(), URL, Duration::ZERO, &ci_runner(), no_waiting).unwrap();
        let err = acquire(dir.path(), URL, Duration::ZERO, &ci_runner(), no_waiting).unwrap_err();
        let help = err.help();
        assert!(help.contains("--lock-timeout 5m"), "{help}");
        assert!(help.contains("the lock is free already"), "{help}");
        assert!(help.contains("nothing to delete"), "{help}");
    }

    #[test]
    fn an_unusable_state_directory_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("state");
        let cluster_dir = not_a_dir.join("clusters/c");
        std::fs::write(&not_a_dir, "").unwrap();
        let err = acquire(&cluster_dir, URL, Duration::ZERO, &ci_runner(), no_waiting).unwrap_err();
        assert!(matches!(err, LockError::Open { .. }), "{err:?}");
        assert!(err.to_string().contains("state/clusters/c/apply.lock"), "{err}");
    }

    #[test]
    fn waits_are_shown_rounded_to_the_second_from_one_second_on() {
        assert_eq!(describe_wait(&Duration::ZERO), "");
        assert_eq!(describe_wait(&Duration::from_millis(400)), "; waited 400ms");
        assert_eq!(describe_wait(&Duration::from_millis(30_200)), "; waited 30s");
        assert_eq!(describe_wait(&Duration::from_secs(303)), "; waited 5m 3s");
    }
}

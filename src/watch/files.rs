//! Seeing spec changes: file events (inotify, or a directory scan with `--poll`) sent to the loop
//! as "something changed"; the loop debounces them and reloads everything, so which file changed
//! does not matter. (Not `notify-debouncer-mini`: it drops the event kinds, and without them the
//! inotify open events of the loop's own reads would wake it up forever.)
//!
//! git-sync and Kubernetes ConfigMap volumes publish a new revision by swapping a symlink, and
//! editors save by renaming a temporary file over the old one: a watch on the files themselves,
//! or on a directory resolved once, would go blind after the first swap. So this watches the spec
//! directory recursively *and* the directory holding every symlink on the way to it, and
//! re-establishes the watches after each batch of events (`rewatch`). Events under the state
//! directory (the ledger, the jar hash cache: written by every reconcile) are ignored, or watch
//! would wake itself up forever. So are events on paths `.flinkopsignore` excludes (they are never
//! read, so a change to them changes nothing); the rules are read again at each event, so an edit
//! of `.flinkopsignore` itself takes effect at once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

/// Why the spec directory cannot be watched.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot watch {path} for changes")]
    Watch {
        path: PathBuf,
        #[source]
        source: notify::Error,
    },
}

/// Watches the spec directory; every relevant event sends one `()` (the loop debounces).
pub struct SpecWatcher {
    watcher: Box<dyn Watcher + Send>,
    root: PathBuf,
    watched: Vec<PathBuf>,
}

impl SpecWatcher {
    /// Start watching `root`, scanning every `poll` instead of using inotify when given; `ignore`
    /// (the state directory) is never reported.
    pub fn new(
        root: &Path,
        ignore: &Path,
        poll: Option<Duration>,
        tx: UnboundedSender<()>,
    ) -> Result<Self, Error> {
        let ignore = std::path::absolute(ignore).unwrap_or_else(|_| ignore.to_path_buf());
        let ignore_real = std::fs::canonicalize(&ignore).ok();
        let specs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        let ignored = move |p: &Path| {
            p.starts_with(&ignore)
                || ignore_real.as_ref().is_some_and(|r| p.starts_with(r))
                || excluded_from_specs(&specs, p)
        };
        let handler = move |result: notify::Result<notify::Event>| match result {
            Ok(event) if is_change(&event.kind) && !event.paths.iter().all(|p| ignored(p)) => {
                tracing::debug!(paths = ?event.paths, kind = ?event.kind, "spec files changed");
                // The receiver is gone only when watch is exiting.
                let _ = tx.send(());
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("file watching reported an error ({e}); the resync interval still applies")
            }
        };
        let err = |source| Error::Watch { path: root.to_path_buf(), source };
        let watcher: Box<dyn Watcher + Send> = match poll {
            Some(interval) => {
                let config = notify::Config::default().with_poll_interval(interval);
                Box::new(PollWatcher::new(handler, config).map_err(err)?)
            }
            None => Box::new(RecommendedWatcher::new(handler, notify::Config::default()).map_err(err)?),
        };
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        let mut w = Self { watcher, root, watched: Vec::new() };
        w.rewatch()?;
        Ok(w)
    }

    /// Watch again from scratch: a symlink on the way may point somewhere new.
    pub fn rewatch(&mut self) -> Result<(), Error> {
        for path in std::mem::take(&mut self.watched) {
            // Already gone with its directory: nothing to undo.
            let _ = self.watcher.unwatch(&path);
        }
        for (path, mode) in targets(&self.root) {
            self.watcher.watch(&path, mode).map_err(|source| Error::Watch { path: path.clone(), source })?;
            self.watched.push(path);
        }
        Ok(())
    }
}

/// Whether `.flinkopsignore` in `specs` excludes `path` (the ignore file itself never is).
fn excluded_from_specs(specs: &Path, path: &Path) -> bool {
    use crate::spec::discover::{IGNORE_FILE, ignore_rules, is_ignored};
    if path.file_name().is_some_and(|n| n == IGNORE_FILE) {
        return false;
    }
    // Invalid rules are reported by the reload the event triggers; here they exclude nothing.
    let rules = ignore_rules(specs, &mut Vec::new());
    is_ignored(&rules, path, path.is_dir())
}

/// Reading a file (which every reconcile does) is not a change; finishing a write is.
fn is_change(kind: &EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// The spec directory (recursively), and the directory of every symlink on the path to it.
fn targets(root: &Path) -> Vec<(PathBuf, RecursiveMode)> {
    let mut out = vec![(root.to_path_buf(), RecursiveMode::Recursive)];
    for ancestor in root.ancestors() {
        let is_link = std::fs::symlink_metadata(ancestor).is_ok_and(|m| m.file_type().is_symlink());
        if is_link && let Some(parent) = ancestor.parent() {
            out.push((parent.to_path_buf(), RecursiveMode::NonRecursive));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn changed(rx: &mut tokio::sync::mpsc::UnboundedReceiver<()>) -> bool {
        tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.is_ok()
    }

    fn quiet(rx: &mut tokio::sync::mpsc::UnboundedReceiver<()>) {
        std::thread::sleep(Duration::from_millis(400));
        while rx.try_recv().is_ok() {}
    }

    #[tokio::test]
    async fn a_symlink_swap_like_git_sync_is_seen_and_so_are_edits_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let (rev1, rev2) = (dir.path().join("rev1"), dir.path().join("rev2"));
        for rev in [&rev1, &rev2] {
            std::fs::create_dir(rev).unwrap();
            std::fs::write(rev.join("job.yaml"), "name: a\n").unwrap();
        }
        let link = dir.path().join("current");
        std::os::unix::fs::symlink(&rev1, &link).unwrap();
        let state = dir.path().join("state");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut w = SpecWatcher::new(&link, &state, None, tx).unwrap();
        quiet(&mut rx);
        // git-sync: a new symlink renamed over the old one.
        std::os::unix::fs::symlink(&rev2, dir.path().join("tmp-link")).unwrap();
        std::fs::rename(dir.path().join("tmp-link"), &link).unwrap();
        assert!(changed(&mut rx).await, "the swap was not seen");
        w.rewatch().unwrap();
        quiet(&mut rx);
        std::fs::write(rev2.join("job.yaml"), "name: b\n").unwrap();
        assert!(changed(&mut rx).await, "an edit in the new revision was not seen");
    }

    #[tokio::test]
    async fn reading_specs_and_writing_the_state_directory_are_not_changes() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".flinkops");
        std::fs::create_dir(&state).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _w = SpecWatcher::new(dir.path(), &state, None, tx).unwrap();
        quiet(&mut rx);
        std::fs::write(state.join("ledger.json"), "{}").unwrap();
        std::fs::write(dir.path().join("job.yaml"), "name: a\n").unwrap();
        quiet(&mut rx);
        std::fs::read_to_string(dir.path().join("job.yaml")).unwrap();
        let woke = tokio::time::timeout(Duration::from_millis(1500), rx.recv()).await.is_ok();
        assert!(!woke, "reading a spec or writing the ledger is not a change");
        std::fs::write(dir.path().join("job.yaml"), "name: a\n").unwrap();
        assert!(changed(&mut rx).await);
    }

    #[tokio::test]
    async fn changes_to_files_the_ignore_file_excludes_are_not_changes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("ci")).unwrap();
        std::fs::write(dir.path().join(".flinkopsignore"), "ci/\nscratch.yaml\n").unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _w = SpecWatcher::new(dir.path(), &dir.path().join("state"), None, tx).unwrap();
        quiet(&mut rx);
        std::fs::write(dir.path().join("ci/workflow.yml"), "on: push\n").unwrap();
        std::fs::write(dir.path().join("scratch.yaml"), "x: 1\n").unwrap();
        let woke = tokio::time::timeout(Duration::from_millis(1500), rx.recv()).await.is_ok();
        assert!(!woke, "a change to an ignored file is not a change");
        std::fs::write(dir.path().join("job.yaml"), "name: a\n").unwrap();
        assert!(changed(&mut rx).await, "a change to a spec is");
    }

    #[tokio::test]
    async fn polling_sees_an_atomic_save() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("job.yaml"), "name: a\n").unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let state = dir.path().join("state");
        let poll = Some(Duration::from_millis(100));
        let _w = SpecWatcher::new(dir.path(), &state, poll, tx).unwrap();
        quiet(&mut rx);
        // notify's poller compares modification times in whole seconds.
        std::thread::sleep(Duration::from_millis(1100));
        std::fs::write(dir.path().join(".job.yaml.tmp"), "name: b\nparallelism: 2\n").unwrap();
        std::fs::rename(dir.path().join(".job.yaml.tmp"), dir.path().join("job.yaml")).unwrap();
        assert!(changed(&mut rx).await);
    }
}

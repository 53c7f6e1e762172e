//! The apply lock across processes: it belongs to a live process and dies with it. (Same-process
//! behaviour is unit-tested in `src/apply/lock.rs`.)

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flinkops::apply::lock::{self, Holder, LockError};

use crate::support::scratch;

const URL: &str = "http://127.0.0.1:8081";

/// A shell that locks `path` with util-linux `flock` on its own descriptor, says so, and becomes
/// `sleep`: one process (the child's pid) holds the lock, as a flinkops apply would.
fn hold_lock_in_child(path: &std::path::Path) -> Child {
    let mut child = Command::new("sh")
        .args(["-c", "exec 9>>\"$1\" && flock -n 9 && echo locked && exec sleep 30", "sh"])
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line, "locked\n", "the child took the lock (is util-linux `flock` installed?)");
    child
}

fn try_acquire(state_dir: &std::path::Path) -> Result<lock::ApplyLock, LockError> {
    let me = Holder::current("flinkops apply specs/");
    lock::acquire(state_dir, URL, Duration::ZERO, &me, |_, _| panic!("a zero timeout must not wait"))
}

#[test]
fn the_lock_dies_with_the_process_that_held_it() {
    let state_dir = scratch("apply-lock-dies-with-its-process");
    let path = lock::lock_path(&state_dir);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut child = hold_lock_in_child(&path);

    let err = try_acquire(&state_dir).map(|_| ()).unwrap_err();
    assert!(
        matches!(err, LockError::Held { holder: None, .. }),
        "held by a process that wrote no record: {err:?}"
    );

    child.kill().unwrap();
    child.wait().unwrap();
    assert!(path.exists(), "the lock file stays behind");
    let lock = try_acquire(&state_dir).expect("the lock died with its holder");
    assert_eq!(lock.path(), path);
}

#[test]
fn a_waiting_apply_gets_the_lock_when_its_holder_is_killed() {
    let state_dir = scratch("apply-lock-waits-for-a-killed-holder");
    let path = lock::lock_path(&state_dir);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut child = hold_lock_in_child(&path);
    let pid = child.id();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        child.kill().unwrap();
        child.wait().unwrap();
    });

    let me = Holder::current("flinkops apply specs/");
    let mut waits = 0;
    let lock = lock::acquire(&state_dir, URL, Duration::from_secs(20), &me, |_, _| waits += 1);
    killer.join().unwrap();
    let lock = lock.unwrap_or_else(|e| panic!("holder {pid} was killed, yet: {e}"));
    assert!(waits >= 1, "it told the caller it was waiting");
    assert!(lock.path().exists());
}

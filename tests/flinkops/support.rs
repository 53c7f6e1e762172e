//! Helpers shared by the test modules: running the built binary, scratch directories.

use std::path::{Path, PathBuf};

/// The built `flinkops` binary, with colour off and a clean environment for flinkops' own vars.
pub fn flinkops() -> assert_cmd::Command {
    assert_cmd::Command::from_std(flinkops_process())
}

/// [`flinkops`] as a `std::process::Command`, for a test that spawns it and kills it.
pub fn flinkops_process() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("flinkops"));
    cmd.env("NO_COLOR", "1");
    for (key, _) in std::env::vars() {
        if key.starts_with("FLINKOPS_") && !key.starts_with("FLINKOPS_E2E") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// The two lines every job spec starts with. Tests write specs through [`job_spec`], so the next
/// change to the header is one line here.
pub const JOB_HEADER: &str = "apiVersion: flinkops.dev/v1\nkind: FlinkJob\n";

/// A job spec document: the header, then `body` (the fields, from `name:` on).
pub fn job_spec(body: &str) -> String {
    format!("{JOB_HEADER}{body}")
}

/// Write a stand-in job jar: the zip archive `tests/cases/fixture.jar` (a manifest,
/// `com.example.Main` and `dev.flinkops.testjob.CounterJob`), after `variant`'s bytes so that
/// different variants hash differently (a zip is read from its end; leading bytes are allowed).
pub fn stand_in_jar(path: &Path, variant: &str) {
    let mut bytes = variant.as_bytes().to_vec();
    bytes.extend(std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases/fixture.jar")).unwrap());
    std::fs::write(path, bytes).unwrap();
}

/// A fresh directory under target/ for one test (stable paths, removed and re-created each run).
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scratch").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Copy a directory tree (files only, no links).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

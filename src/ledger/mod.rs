//! The ledger: what Flink cannot tell flinkops (docs/design.md, "The ledger").
//!
//! One JSON file per job under `<state-dir>/clusters/<cluster key>/jobs/<name>.json` (the key:
//! `crate::cluster`): the spec last
//! applied (secrets only as hashes), the job id, and the savepoints taken. Plan reads it for
//! field-level diffs and restore sources; apply writes it — every write atomic (temporary file,
//! fsync, rename, fsync of the directory), so a crash leaves the old record or the new one.
//! Correctness never depends on it: without a ledger, plan still decides from the job ids.

pub mod record;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use record::{
    AppliedSpec, Disposing, Pending, Record, SavepointReason, SavepointRecord, Shape, Stored,
    VertexParallelism,
};

/// Where the ledger lives unless `--state-dir` says otherwise.
pub const DEFAULT_DIR: &str = ".flinkops";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the ledger file {path}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write the ledger file {path}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error(
        "the ledger file {path} is not valid (delete it to start over: plan still works from the live job ids)"
    )]
    Corrupt { path: PathBuf, source: serde_json::Error },
    #[error(
        "the ledger file {path} has format version {version}, newer than this flinkops reads ({}): upgrade flinkops",
        Record::FORMAT_VERSION
    )]
    Newer { path: PathBuf, version: u32 },
}

/// What [`Ledger::read_all`] found.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// The records that could be read, by job name.
    pub ok: BTreeMap<String, Record>,
    /// Job name → why its record file cannot be read (with the path). flinkops neither acts on
    /// such a job nor overwrites its record: it may hold the only note of where its state is.
    pub unreadable: BTreeMap<String, String>,
}

/// The ledger of one cluster in one state directory.
#[derive(Debug, Clone)]
pub struct Ledger {
    dir: PathBuf,
}

impl Ledger {
    /// The ledger of the cluster whose directory (see `crate::cluster`) is `cluster_dir`.
    /// Nothing is created until the first write.
    pub fn new(cluster_dir: &Path) -> Self {
        Self { dir: cluster_dir.join("jobs") }
    }

    /// The directory holding the job records.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// The record of one job, if there is one.
    pub fn read(&self, name: &str) -> Result<Option<Record>, Error> {
        let path = self.path(name);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let record: Record = serde_json::from_slice(&bytes)
                    .map_err(|source| Error::Corrupt { path: path.clone(), source })?;
                if record.format_version > Record::FORMAT_VERSION {
                    return Err(Error::Newer { path, version: record.format_version });
                }
                Ok(Some(record))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Read { path, source }),
        }
    }

    /// Every record, by job name, and every record file that cannot be read, with why. A missing
    /// directory is an empty ledger; a directory that cannot be listed is an error (no record
    /// can be trusted to be absent). One bad file never hides the others.
    pub fn read_all(&self) -> Result<Records, Error> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Records::default()),
            Err(source) => return Err(Error::Read { path: self.dir.clone(), source }),
        };
        let mut out = Records::default();
        for entry in entries {
            let entry = entry.map_err(|source| Error::Read { path: self.dir.clone(), source })?;
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(name) = file.strip_suffix(".json") else { continue };
            match self.read(name) {
                Ok(Some(record)) => {
                    out.ok.insert(name.to_string(), record);
                }
                Ok(None) => {}
                Err(e) => {
                    out.unreadable.insert(name.to_string(), crate::output::error_chain(&e));
                }
            }
        }
        Ok(out)
    }

    /// Delete a job's record (its history moved to a renamed job's record first). A record that
    /// is already gone is no error.
    pub fn remove(&self, name: &str) -> Result<(), Error> {
        let path = self.path(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Write { path, source: e }),
            _ => std::fs::File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
                .map_err(|source| Error::Write { path: self.dir.clone(), source }),
        }
    }

    /// Write a record atomically: readers see the old record or the new one, never a mix.
    pub fn write(&self, record: &Record) -> Result<(), Error> {
        let path = self.path(&record.name);
        let err = |source| Error::Write { path: path.clone(), source };
        create_private_dir(&self.dir).map_err(err)?;
        let tmp = self.dir.join(format!(".{}.json.tmp", record.name));
        let mut bytes = serde_json::to_vec_pretty(record).expect("records always serialise");
        bytes.push(b'\n');
        let mut file = create_private_file(&tmp).map_err(err)?;
        file.write_all(&bytes).map_err(err)?;
        file.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
        // The rename itself must reach the disk before anyone acts on it.
        std::fs::File::open(&self.dir).and_then(|d| d.sync_all()).map_err(err)
    }
}

/// Create a directory of the state directory (and its missing parents) readable by its owner
/// only: the ledger names jobs, jars and savepoint paths, and the lock file who holds it.
/// Directories that exist keep their mode.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path)
}

/// Create (or truncate) a file of the state directory readable and writable by its owner only
/// (`0600`, also when a leftover file of that name had another mode).
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Write `bytes` to a private temporary file beside `path`, then rename it over `path`: readers
/// see the old content or the new, and the file is `0600`.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    create_private_file(&tmp)?.write_all(bytes)?;
    std::fs::rename(&tmp, path)
}

/// A warning for a relative state directory, if it is one: another working directory means
/// another ledger and another lock for the same cluster.
pub fn relative_state_dir_warning(state_dir: &Path) -> Option<String> {
    if state_dir.is_absolute() {
        return None;
    }
    let here = std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    Some(format!(
        "the state directory `{}` is relative (here: {}): a run from another working directory uses another \
         ledger and another lock for the same cluster; pass an absolute --state-dir (or FLINKOPS_STATE_DIR)",
        state_dir.display(),
        here.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_writes_replace_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path());
        assert!(ledger.read_all().unwrap().ok.is_empty());
        let mut record = Record::new("orders");
        ledger.write(&record).unwrap();
        record.savepoints.push(SavepointRecord::new(
            "file:/sp/savepoint-abc",
            None,
            "2026-01-01T00:00:00Z".into(),
            SavepointReason::Upgrade,
        ));
        ledger.write(&record).unwrap();
        assert_eq!(ledger.read("orders").unwrap().unwrap(), record);
        assert_eq!(ledger.read_all().unwrap().ok.len(), 1);
        let leftovers: Vec<_> =
            std::fs::read_dir(ledger.dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, ["orders.json"], "no temporary file is left behind");
    }

    #[test]
    fn the_state_directory_is_created_for_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(&dir.path().join("state"));
        ledger.write(&Record::new("a")).unwrap();
        for d in [dir.path().join("state"), ledger.dir().to_path_buf()] {
            let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", d.display());
        }
        // Files too, whatever the umask, and also over a leftover file of another mode.
        let leftover = ledger.dir().join("b.json");
        std::fs::write(&leftover, "{}").unwrap();
        std::fs::set_permissions(&leftover, std::fs::Permissions::from_mode(0o644)).unwrap();
        ledger.write(&Record::new("b")).unwrap();
        write_private(&dir.path().join("state/cluster.json"), b"{}").unwrap();
        for f in [ledger.path("a"), leftover, dir.path().join("state/cluster.json")] {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
        assert!(relative_state_dir_warning(Path::new(".flinkops")).unwrap().contains("absolute --state-dir"));
        assert_eq!(relative_state_dir_warning(dir.path()), None);
    }

    #[test]
    fn one_unreadable_record_is_listed_and_the_others_are_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path());
        ledger.write(&Record::new("good")).unwrap();
        std::fs::write(
            ledger.dir().join("newer.json"),
            r#"{"formatVersion": 99, "name": "newer", "savepoints": []}"#,
        )
        .unwrap();
        std::fs::write(ledger.dir().join("stray.json"), "{not json").unwrap();
        let all = ledger.read_all().unwrap();
        assert_eq!(all.ok.keys().collect::<Vec<_>>(), ["good"]);
        assert_eq!(all.unreadable.keys().collect::<Vec<_>>(), ["newer", "stray"]);
        assert!(all.unreadable["stray"].contains("stray.json"), "{}", all.unreadable["stray"]);
        assert!(all.unreadable["newer"].contains("format version 99"), "{}", all.unreadable["newer"]);
    }

    #[test]
    fn a_corrupt_record_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path());
        std::fs::create_dir_all(ledger.dir()).unwrap();
        std::fs::write(ledger.dir().join("bad.json"), "{not json").unwrap();
        let err = ledger.read("bad").unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }));
        assert!(err.to_string().contains("bad.json"));
    }
}

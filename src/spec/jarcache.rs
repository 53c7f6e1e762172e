//! A cache of jar content hashes keyed by (path, size, modification time), so re-planning does
//! not re-read large jars. Stored as one JSON file in the state directory.
//!
//! Stale entries are harmless: a jar whose size or mtime changed is hashed again. A cache that
//! cannot be read is ignored; one that cannot be written only costs the next run some time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::fingerprint::sha256_file;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    size: u64,
    mtime_ns: u128,
    sha256: String,
}

/// The cache file and its entries.
#[derive(Debug)]
pub struct JarHashCache {
    file: PathBuf,
    entries: Mutex<BTreeMap<PathBuf, Entry>>,
    changed: Mutex<bool>,
}

impl JarHashCache {
    /// Load `<state_dir>/cache/jar-hashes.json` (empty when missing or unreadable).
    pub fn load(state_dir: &Path) -> Self {
        let file = state_dir.join("cache").join("jar-hashes.json");
        let entries =
            std::fs::read(&file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        Self { file, entries: Mutex::new(entries), changed: Mutex::new(false) }
    }

    /// The SHA-256 of a jar: from the cache when its size and mtime are unchanged.
    pub fn hash(&self, path: &Path) -> std::io::Result<String> {
        let meta = std::fs::metadata(path)?;
        let mtime_ns = meta.modified()?.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let key = path.to_path_buf();
        if let Some(e) = self.entries.lock().expect("not poisoned").get(&key)
            && e.size == meta.len()
            && e.mtime_ns == mtime_ns
        {
            return Ok(e.sha256.clone());
        }
        let sha256 = sha256_file(path)?;
        let entry = Entry { size: meta.len(), mtime_ns, sha256: sha256.clone() };
        self.entries.lock().expect("not poisoned").insert(key, entry);
        *self.changed.lock().expect("not poisoned") = true;
        Ok(sha256)
    }

    /// Write the cache back if anything was added (atomically; failures are only logged).
    pub fn save(&self) {
        if !*self.changed.lock().expect("not poisoned") {
            return;
        }
        let entries = self.entries.lock().expect("not poisoned");
        let write = || -> std::io::Result<()> {
            let dir = self.file.parent().expect("has a parent");
            crate::ledger::create_private_dir(dir)?;
            crate::ledger::write_private(
                &self.file,
                &serde_json::to_vec(&*entries).map_err(std::io::Error::other)?,
            )
        };
        if let Err(e) = write() {
            tracing::debug!("cannot write the jar hash cache {}: {e}", self.file.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_hash_is_reused_until_the_jar_changes() {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("app.jar");
        std::fs::write(&jar, b"one").unwrap();
        let cache = JarHashCache::load(dir.path());
        let first = cache.hash(&jar).unwrap();
        cache.save();
        // Poison the cache entry: a reused entry must come back unchanged, proving no re-read.
        let file = dir.path().join("cache/jar-hashes.json");
        let text = std::fs::read_to_string(&file).unwrap().replace(&first, &"0".repeat(64));
        std::fs::write(&file, text).unwrap();
        let reloaded = JarHashCache::load(dir.path());
        assert_eq!(reloaded.hash(&jar).unwrap(), "0".repeat(64));
        std::fs::write(&jar, b"two, longer").unwrap();
        assert_eq!(reloaded.hash(&jar).unwrap(), sha256_file(&jar).unwrap());
    }

    #[test]
    fn an_unreadable_cache_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cache")).unwrap();
        std::fs::write(dir.path().join("cache/jar-hashes.json"), "garbage").unwrap();
        let jar = dir.path().join("a.jar");
        std::fs::write(&jar, b"x").unwrap();
        assert_eq!(JarHashCache::load(dir.path()).hash(&jar).unwrap(), sha256_file(&jar).unwrap());
    }
}

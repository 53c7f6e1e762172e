//! The fingerprint: a hash of everything that decides what runs.
//!
//! Jar content, entry class, resolved arguments, parallelism, Flink configuration and the restart
//! nonce — nothing else (health, ordering and savepoint settings change how flinkops acts, not what
//! runs). Canonical JSON of a fixed-order struct with sorted maps, so it is identical across runs
//! and machines and insensitive to key order and formatting in the YAML.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::resolve::{JarSource, Job};

/// Bumped if the canonical form ever changes, so old and new fingerprints never collide.
const VERSION: u32 = 1;

/// A SHA-256 of the canonical form, as 64 lowercase hex digits.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Fingerprint(pub String);

impl Fingerprint {
    /// The first `n` hex digits, for job ids and short displays.
    pub fn short(&self, n: usize) -> &str {
        &self.0[..n.min(self.0.len())]
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Canonical<'a> {
    version: u32,
    jar: String,
    entry_class: Option<&'a str>,
    args: Vec<&'a str>,
    parallelism: u32,
    flink_configuration: BTreeMap<&'a str, &'a str>,
    restart_nonce: u64,
}

/// The fingerprint of a resolved job (its own `fingerprint` field is ignored).
pub fn of(job: &Job) -> Fingerprint {
    let jar = match (&job.jar_sha256, &job.jar) {
        (Some(h), _) => format!("sha256:{h}"),
        (None, JarSource::Url { url }) => format!("url:{url}"),
        (None, JarSource::Local { path }) => format!("path:{}", path.display()),
    };
    let canonical = Canonical {
        version: VERSION,
        jar,
        entry_class: job.entry_class.as_deref(),
        args: job.args.iter().map(|a| a.value.as_str()).collect(),
        parallelism: job.parallelism,
        flink_configuration: job.flink_configuration.iter().map(|(k, v)| (k.as_str(), v.value.as_str())).collect(),
        restart_nonce: job.restart_nonce,
    };
    let bytes = serde_json::to_vec(&canonical).expect("plain data always serialises");
    Fingerprint(hex(&Sha256::digest(&bytes)))
}

/// SHA-256 of a file's content, read in chunks (jars can be large).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lowercase hex (sha2 0.11 digests do not implement `LowerHex`).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

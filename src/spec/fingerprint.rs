//! The fingerprint: a hash of everything that decides what runs.
//!
//! Jar content, entry class, resolved arguments, parallelism, Flink configuration and the restart
//! nonce — nothing else (health, ordering and savepoint settings change how flinkops acts, not what
//! runs). Canonical JSON of a fixed-order struct with sorted maps, so it is identical across runs
//! and machines and insensitive to key order and formatting in the YAML.
//!
//! Fingerprints are published (`plan -o json`, saved plans, 48 bits in every job id), so a
//! sensitive value (one resolved from `${VAR}`) enters the canonical form only as its
//! [`secret_digest`]: 600,000 rounds of PBKDF2-HMAC-SHA256 salted with the job's name. A guess at a
//! secret then costs what a guess at a stored password costs, and a change of the secret still
//! changes the fingerprint. Fingerprints of jobs without sensitive values are unchanged by this;
//! jobs with them had a plain-SHA-256 form before, which [`legacy`] still computes so that a job
//! started by an older flinkops is not redeployed only because the hashing changed.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::resolve::{JarSource, Job, Param};

/// Bumped if the canonical form ever changes, so old and new fingerprints never collide.
const VERSION: u32 = 1;

/// A SHA-256 of the canonical form, as 64 lowercase hex digits.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
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
    args: Vec<Value<'a>>,
    parallelism: u32,
    flink_configuration: BTreeMap<&'a str, Value<'a>>,
    restart_nonce: u64,
}

/// A value in the canonical form: a plain value as its JSON string (so fingerprints of jobs
/// without secrets are what they always were), a secret as an object no string can equal.
#[derive(Serialize)]
#[serde(untagged)]
enum Value<'a> {
    Plain(&'a str),
    Secret { pbkdf2: String },
}

/// PBKDF2-HMAC-SHA256 with 600,000 rounds (OWASP's 2023 figure for this hash, and the crate's
/// `RECOMMENDED`; a test pins both). Changing it changes the fingerprint of every job with a
/// secret: bump [`VERSION`] with it. The crate's non-generic entry point is used because it is
/// compiled optimised even in debug builds (a generic instance here would take seconds there).
const SECRET_PARAMS: pbkdf2::Params = pbkdf2::Params::RECOMMENDED;

/// The slow, salted digest of a secret used in job `name`, in lowercase hex. Fingerprints and the
/// ledger both use it; each (name, value) is computed once per process.
pub fn secret_digest(name: &str, value: &str) -> String {
    static DONE: Mutex<Option<HashMap<(String, String), String>>> = Mutex::new(None);
    let key = (name.to_owned(), value.to_owned());
    if let Some(d) = DONE.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert_default().get(&key) {
        return d.clone();
    }
    let salt = format!("flinkops-secret-v2\0{name}");
    let mut out = [0u8; 32];
    let sha256 = pbkdf2::Algorithm::Pbkdf2Sha256;
    pbkdf2::pbkdf2_hmac_with_params(value.as_bytes(), salt.as_bytes(), sha256, SECRET_PARAMS, &mut out);
    let digest = hex(&out);
    DONE.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert_default().insert(key, digest.clone());
    digest
}

/// The fingerprint of a resolved job (its own `fingerprint` field is ignored).
pub fn of(job: &Job) -> Fingerprint {
    canonical(job, |p| {
        if p.sensitive {
            Value::Secret { pbkdf2: secret_digest(&job.name, &p.value) }
        } else {
            Value::Plain(&p.value)
        }
    })
}

/// The fingerprint flinkops computed before secrets were digested (sensitive values in clear),
/// for a job that has any; `None` when it equals [`of`]. Only ever compared, never shown.
pub fn legacy(job: &Job) -> Option<Fingerprint> {
    let sensitive = job.args.iter().chain(job.flink_configuration.values()).any(|p| p.sensitive);
    sensitive.then(|| canonical(job, |p| Value::Plain(&p.value)))
}

fn canonical<'a>(job: &'a Job, value: impl Fn(&'a Param) -> Value<'a>) -> Fingerprint {
    let jar = match (&job.jar_sha256, &job.jar) {
        (Some(h), _) => format!("sha256:{h}"),
        (None, JarSource::Url { url }) => format!("url:{url}"),
        (None, JarSource::Local { path }) => format!("path:{}", path.display()),
    };
    let canonical = Canonical {
        version: VERSION,
        jar,
        entry_class: job.entry_class.as_deref(),
        args: job.args.iter().map(&value).collect(),
        parallelism: job.parallelism,
        flink_configuration: job.flink_configuration.iter().map(|(k, v)| (k.as_str(), value(v))).collect(),
        restart_nonce: job.restart_nonce,
    };
    let bytes = serde_json::to_vec(&canonical).expect("plain data always serialises");
    Fingerprint(hex(&Sha256::digest(&bytes)))
}

/// SHA-256 of a file's content, read in chunks (jars can be large).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    sha256_of_file(&mut std::fs::File::open(path)?)
}

/// SHA-256 of an open file, reading no more than the size its metadata gives: a file that yields
/// more (a kernel pseudo-file reports size 0 and may never end) is an error, not a long read.
pub fn sha256_of_file(file: &mut std::fs::File) -> std::io::Result<String> {
    let len = file.metadata()?.len();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut limited = file.take(len.saturating_add(1));
    let mut read = 0u64;
    loop {
        let n = limited.read(&mut buf)?;
        if n == 0 {
            break;
        }
        read += n as u64;
        hasher.update(&buf[..n]);
    }
    if read > len {
        return Err(std::io::Error::other(format!(
            "it yields more than the {len} bytes its size says (not a regular file?)"
        )));
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use proptest::prelude::*;

    use super::*;
    use crate::spec::model::{HealthSpec, JobState, RestoreSpec, SavepointSpec, UpgradeMode};
    use crate::spec::resolve::Param;

    /// A job with every fingerprint input set; tests change one thing at a time.
    fn job() -> Job {
        Job {
            name: "orders".into(),
            origin: "specs/orders.yaml:1".into(),
            jar: JarSource::Local { path: PathBuf::from("/jars/app.jar") },
            jar_sha256: Some("ab".repeat(32)),
            entry_class: Some("com.example.Main".into()),
            args: vec![Param::plain("--topic"), Param::plain("orders")],
            parallelism: 2,
            flink_configuration: [
                ("a.b".to_string(), Param::plain("1")),
                ("c.d".to_string(), Param::plain("x")),
            ]
            .into(),
            state: JobState::Running,
            upgrade_mode: UpgradeMode::Savepoint,
            upgrade: Default::default(),
            savepoint: SavepointSpec::default(),
            restore: RestoreSpec::default(),
            depends_on: vec![],
            health: HealthSpec::default(),
            restart_nonce: 0,
            protect: false,
            previous_names: vec![],
            cluster: None,
            fingerprint: Fingerprint::default(),
        }
    }

    #[test]
    fn the_fingerprint_of_a_known_job_never_changes() {
        // Live job ids carry this value: a change here would make every running job look changed.
        // Bump VERSION and migrate deliberately instead of editing this constant. (The value is the
        // SHA-256 of the canonical JSON, checked independently with Python's hashlib.)
        assert_eq!(of(&job()).0, "730b81d7675fe8351d137eb50e63a71548147e72f7bdac82e1e430f38e470604");
    }

    #[test]
    fn what_does_not_decide_what_runs_does_not_change_the_fingerprint() {
        let base = of(&job());
        let mut j = job();
        j.name = "other".into();
        j.origin = "elsewhere.yaml:9".into();
        j.state = JobState::Suspended;
        j.upgrade_mode = UpgradeMode::Stateless;
        j.depends_on = vec!["x".into()];
        j.health.rollback.value = false;
        j.jar = JarSource::Local { path: PathBuf::from("/moved/app.jar") };
        assert_eq!(of(&j), base);
        assert_eq!(legacy(&j), None, "a job without secrets has one form");
    }

    #[test]
    fn a_secret_is_digested_with_600000_rounds_of_pbkdf2_salted_by_the_job_name() {
        assert_eq!((SECRET_PARAMS.rounds(), SECRET_PARAMS.output_len()), (600_000, 32));
        // Python: hashlib.pbkdf2_hmac('sha256', b'hunter2', b'flinkops-secret-v2\x00orders', 600000)
        assert_eq!(
            secret_digest("orders", "hunter2"),
            "8e1490ee05a9464c2956a86f8fdb0c13afa33d77387248c26dc95b2482acfc74"
        );
        assert_ne!(secret_digest("payments", "hunter2"), secret_digest("orders", "hunter2"));
    }

    #[test]
    fn a_secret_enters_the_fingerprint_only_through_its_digest() {
        let mut j = job();
        j.args[1] = Param { value: "hunter2".into(), sensitive: true };
        let fingerprint = of(&j);
        // The old form hashed the secret in clear: one SHA-256 per guess. It is still computed (for
        // jobs an older flinkops started) but is no longer what `of` publishes.
        let clear = legacy(&j).expect("the job has a secret");
        let mut plain = j.clone();
        plain.args[1].sensitive = false;
        assert_eq!(clear, of(&plain));
        assert_ne!(fingerprint, clear);
        // A changed secret still changes the fingerprint.
        j.args[1].value = "hunter3".into();
        assert_ne!(of(&j), fingerprint);
        let mut c = job();
        c.flink_configuration.get_mut("c.d").unwrap().sensitive = true;
        assert_ne!(of(&c), of(&job()));
    }

    #[test]
    fn each_input_changes_the_fingerprint() {
        let base = of(&job());
        type Change = Box<dyn Fn(&mut Job)>;
        let changes: Vec<Change> = vec![
            Box::new(|j| j.jar_sha256 = Some("cd".repeat(32))),
            Box::new(|j| j.entry_class = None),
            Box::new(|j| j.args.push(Param::plain("--x"))),
            Box::new(|j| j.args.swap(0, 1)),
            Box::new(|j| j.parallelism = 3),
            Box::new(|j| j.flink_configuration.get_mut("a.b").unwrap().value = "2".into()),
            Box::new(|j| drop(j.flink_configuration.remove("c.d"))),
            Box::new(|j| j.restart_nonce = 1),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut j = job();
            change(&mut j);
            assert_ne!(of(&j), base, "change #{i} did not change the fingerprint");
        }
    }

    #[test]
    fn argument_boundaries_matter() {
        let mut a = job();
        a.args = vec![Param::plain("a b")];
        let mut b = job();
        b.args = vec![Param::plain("a"), Param::plain("b")];
        assert_ne!(of(&a), of(&b));
    }

    proptest! {
        #[test]
        fn fingerprints_are_deterministic_and_hex(args in proptest::collection::vec(".*", 0..5), p in 1u32..100, nonce in any::<u64>()) {
            let mut j = job();
            j.args = args.into_iter().map(Param::plain).collect();
            j.parallelism = p;
            j.restart_nonce = nonce;
            let f = of(&j);
            prop_assert_eq!(&f, &of(&j.clone()));
            prop_assert_eq!(f.0.len(), 64);
            prop_assert!(f.0.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        }

        #[test]
        fn configuration_insertion_order_does_not_matter(keys in proptest::collection::btree_set("[a-z.]{1,8}", 1..6)) {
            let keys: Vec<String> = keys.into_iter().collect();
            let mut forward = job();
            let mut backward = job();
            forward.flink_configuration.clear();
            backward.flink_configuration.clear();
            for k in &keys {
                forward.flink_configuration.insert(k.clone(), Param::plain(k.clone()));
            }
            for k in keys.iter().rev() {
                backward.flink_configuration.insert(k.clone(), Param::plain(k.clone()));
            }
            prop_assert_eq!(of(&forward), of(&backward));
        }
    }

    #[test]
    fn a_file_is_hashed_up_to_its_size_and_one_that_yields_more_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.jar");
        std::fs::write(&path, b"abc").unwrap();
        // SHA-256("abc"), the FIPS 180-2 example.
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // /proc files say size 0 and yield text.
        #[cfg(target_os = "linux")]
        {
            let err = sha256_file(Path::new("/proc/self/status")).unwrap_err();
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
    }

    #[test]
    fn yaml_formatting_and_key_order_do_not_change_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.jar"), include_bytes!("../../tests/cases/fixture.jar")).unwrap();
        let a = "apiVersion: flinkops.dev/v1\nkind: FlinkJob\nname: j\njar: app.jar\nparallelism: 2\nargs: [--a, b]\nflinkConfiguration: {x.y: 1, a.b: on}\n";
        let b = "# reordered, block style, quoted\nflinkConfiguration:\n  a.b: 'on'\n  x.y: \"1\"\nargs:\n  - \"--a\"\n  - b\nparallelism: 2\njar: ./app.jar\nname: j\nkind: FlinkJob\napiVersion: flinkops.dev/v1\n";
        let fingerprint = |text: &str| {
            std::fs::write(dir.path().join("spec.yaml"), text).unwrap();
            let (desired, _) = crate::spec::load(dir.path()).into_result().unwrap();
            desired.jobs["j"].fingerprint.clone()
        };
        assert_eq!(fingerprint(a), fingerprint(b));
    }
}

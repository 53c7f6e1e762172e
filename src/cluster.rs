//! Which cluster a run talks to, and where its ledger and lock live in the state directory.
//!
//! A cluster is known by what it reports about itself, not by the URL a run reaches it through:
//! a port-forward, a second host name or a proxy path are the same cluster, and must share one
//! ledger and one apply lock. Flink has no cluster id outside high availability, so the identity
//! is the part of `GET /jobmanager/config` that names the JobManager and stays put across
//! restarts (the HA and Kubernetes cluster ids, the RPC address and port, the REST port), or a
//! name the user gives (`--cluster-name`) where that is not unique (two hosts with the same
//! configuration).
//!
//! Each cluster's directory, `<state-dir>/clusters/<key>/`, holds `cluster.json` (the identity
//! and the URLs it was reached at), the ledger (`jobs/`) and the lock (`apply.lock`). The
//! reverse check guards the state: a URL this directory knew as one cluster now answering as
//! another (a re-pointed port-forward, or a reconfigured cluster) is refused until the user
//! says which it is, since reading the wrong ledger, or none, could start a job from the wrong
//! snapshot or from none. Directories of older flinkops versions, keyed on the URL as written
//! and without `cluster.json`, are taken over by the first run that may write.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::flink::{Client, JobManagerConfig};

/// The configuration keys that make up a cluster's identity, in a fixed order.
const IDENTITY_KEYS: [&str; 6] = [
    "high-availability.cluster-id",
    "kubernetes.cluster-id",
    "kubernetes.namespace",
    "jobmanager.rpc.address",
    "jobmanager.rpc.port",
    "rest.port",
];

/// The file in each cluster directory that says which cluster it belongs to.
const CLUSTER_FILE: &str = "cluster.json";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Flink could not be asked at all (down, unreachable, credentials refused).
    #[error(transparent)]
    Flink(Box<crate::flink::Error>),
    /// Flink, or a proxy in front of it, would not say.
    #[error(
        "cannot read the identity of the cluster at {url} (GET /jobmanager/config), which decides \
         where its ledger and apply lock are kept"
    )]
    Unreadable { url: String, source: Box<crate::flink::Error> },
    #[error(
        "the cluster at {} is not the one this state directory knew at that URL: it reports {}, \
         and the ledger {} belongs to {}",
        .0.url, .0.now, .0.dir.display(), .0.was
    )]
    Changed(Box<Changed>),
    #[error("cannot use the cluster directory {path}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "`{0}` is not a usable cluster name: use 1 to 63 lower-case letters, digits, `-` and `.`, \
         starting with a letter or digit"
    )]
    BadName(String),
}

/// A URL this state directory knew as another cluster (see [`Error::Changed`]).
#[derive(Debug)]
pub struct Changed {
    pub url: String,
    /// The directory of the cluster the URL belonged to.
    pub dir: PathBuf,
    /// That cluster's identity, and the one reported now, in words.
    pub was: String,
    pub now: String,
    /// The key of the identity reported now.
    pub key: String,
}

impl Error {
    /// What the user can do about it.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            Error::Flink(e) => return e.help().map(str::to_string),
            Error::Unreadable { .. } => "Check that the cluster is up and that a proxy in front of it \
                 lets GET /jobmanager/config through; or name the cluster yourself with --cluster-name \
                 (FLINKOPS_CLUSTER_NAME), the same in every run against it."
                .into(),
            Error::Changed(c) => {
                let (dir, key) = (&c.dir, &c.key);
                let parent = dir.parent().unwrap_or(dir);
                format!(
                    "If it is the same cluster with a new configuration, move its ledger to the new identity \
                     (`mv {} {}`) and run again. If it is another cluster that is now reached at this URL, \
                     give one of them a name of its own with --cluster-name, in every run against it. \
                     Nothing was done.",
                    dir.display(),
                    parent.join(key).display()
                )
            }
            Error::Io { .. } => {
                "Check that the state directory (--state-dir) is writable by this user.".into()
            }
            Error::BadName(_) => "For example --cluster-name prod-eu-1.".into(),
        })
    }
}

/// A cluster's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The directory name under `<state-dir>/clusters/`.
    pub key: String,
    /// The name given with `--cluster-name`, if any.
    pub name: Option<String>,
    /// The reported configuration values it is made of (empty for a name).
    pub fields: BTreeMap<String, String>,
}

impl Identity {
    /// A cluster the user named.
    pub fn named(name: &str) -> Result<Self, Error> {
        let ok = (1..=63).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && !name.contains("..");
        if !ok {
            return Err(Error::BadName(name.to_string()));
        }
        Ok(Self { key: format!("name-{name}"), name: Some(name.to_string()), fields: BTreeMap::new() })
    }

    /// A cluster as its JobManager configuration describes it: a readable part and a hash of all
    /// the identifying values (`localhost-8081-1a2b3c4d`, `session-a-1a2b3c4d`).
    pub fn reported(config: &JobManagerConfig) -> Self {
        let fields: BTreeMap<String, String> = IDENTITY_KEYS
            .iter()
            .filter_map(|k| config.get(k).map(|v| ((*k).to_string(), v.trim().to_string())))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let mut hash = Sha256::new();
        for (k, v) in &fields {
            hash.update(format!("{k}={v}\n"));
        }
        let digest = hash.finalize();
        let short: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
        let get = |k: &str| fields.get(k).map(String::as_str);
        let readable = get("kubernetes.cluster-id")
            .or(get("high-availability.cluster-id"))
            .map(str::to_string)
            .unwrap_or_else(|| {
                [get("jobmanager.rpc.address"), get("rest.port")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("-")
            });
        let readable = slug(&readable);
        let key =
            if readable.is_empty() { format!("cluster-{short}") } else { format!("{readable}-{short}") };
        Self { key, name: None, fields }
    }

    /// For messages: `name prod-eu-1`, or the reported values.
    pub fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("the name `{name}`"),
            None if self.fields.is_empty() => "no identifying configuration".into(),
            None => self.fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", "),
        }
    }
}

/// The identity of the cluster `client` talks to: the given name, else what it reports.
pub async fn resolve(client: &Client, name: Option<&str>) -> Result<Identity, Error> {
    if let Some(name) = name {
        return Identity::named(name);
    }
    let config = client.jobmanager_config().await.map_err(|source| match source {
        crate::flink::Error::NotFound { .. } | crate::flink::Error::Forbidden { .. } => {
            Error::Unreadable { url: client.base_url().to_string(), source: Box::new(source) }
        }
        other => Error::Flink(Box::new(other)),
    })?;
    Ok(Identity::reported(&config))
}

/// What `cluster.json` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClusterFile {
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default)]
    identity: BTreeMap<String, String>,
    /// Every URL a run reached this cluster at.
    #[serde(default)]
    urls: Vec<String>,
}

/// The cluster directory to read the ledger from, for a run that writes nothing: the identity's
/// own, else (before any run of this version wrote) the one an older flinkops kept for this URL.
/// `Err(Changed)` when the URL belonged to another cluster in this state directory.
pub fn locate(state_dir: &Path, identity: &Identity, url: &str) -> Result<PathBuf, Error> {
    let dir = clusters(state_dir).join(&identity.key);
    if dir.exists() {
        return Ok(dir);
    }
    check_not_changed(state_dir, identity, url)?;
    Ok(legacy_dir(state_dir, url).unwrap_or(dir))
}

/// The cluster directory, made ready for a run that writes (apply, watch): an older flinkops's
/// directory for this URL is moved into place (with its lock file: an older flinkops still
/// holding it is still seen), and `url` is added to the URLs the cluster is known by.
pub fn claim(state_dir: &Path, identity: &Identity, url: &str) -> Result<PathBuf, Error> {
    let dir = clusters(state_dir).join(&identity.key);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    if !dir.exists() {
        check_not_changed(state_dir, identity, url)?;
        if let Some(old) = legacy_dir(state_dir, url) {
            match std::fs::rename(&old, &dir) {
                Ok(()) => {
                    tracing::info!("moved the ledger of {url} from {} to {}", old.display(), dir.display())
                }
                // Another run moved it first.
                Err(_) if dir.exists() => {}
                Err(e) => return Err(io(&old)(e)),
            }
        }
    }
    crate::ledger::create_private_dir(&dir).map_err(io(&dir))?;
    let path = dir.join(CLUSTER_FILE);
    let mut file = read_file(&path).unwrap_or_default();
    let url = normalise(url);
    if file.key == identity.key && file.identity == identity.fields && file.urls.contains(&url) {
        return Ok(dir);
    }
    file.key = identity.key.clone();
    file.name = identity.name.clone();
    file.identity = identity.fields.clone();
    if !file.urls.contains(&url) {
        file.urls.push(url);
    }
    let mut bytes = serde_json::to_vec_pretty(&file).expect("cluster files always serialise");
    bytes.push(b'\n');
    crate::ledger::write_private(&path, &bytes).map_err(io(&path))?;
    Ok(dir)
}

/// The directory of the cluster last reached at `url`, without asking it: for a cluster that
/// cannot be reached now, whose ledger still says which jobs it had (a fleet plan blocks their
/// first deployment elsewhere). `None` when no directory, or more than one (one URL re-pointed
/// from one cluster to another), knew the URL: the caller cannot tell which ledger is meant.
pub fn last_known_at(state_dir: &Path, url: &str) -> Option<PathBuf> {
    let url = normalise(url);
    let entries = std::fs::read_dir(clusters(state_dir)).ok()?;
    let mut knew = entries
        .flatten()
        .map(|e| e.path())
        .filter(|dir| read_file(&dir.join(CLUSTER_FILE)).is_some_and(|f| f.urls.contains(&url)));
    match (knew.next(), knew.next()) {
        (Some(dir), None) => Some(dir),
        (Some(_), Some(_)) => None,
        (None, _) => legacy_dir(state_dir, &url),
    }
}

/// Another cluster directory that knew `url`, for a reported identity seen for the first time.
/// A named cluster is the user's word, and is not checked.
fn check_not_changed(state_dir: &Path, identity: &Identity, url: &str) -> Result<(), Error> {
    if identity.name.is_some() {
        return Ok(());
    }
    let url = normalise(url);
    let Ok(entries) = std::fs::read_dir(clusters(state_dir)) else { return Ok(()) };
    for entry in entries.flatten() {
        let dir = entry.path();
        let Some(file) = read_file(&dir.join(CLUSTER_FILE)) else { continue };
        if file.name.is_none() && file.key != identity.key && file.urls.contains(&url) {
            let was = Identity { key: file.key, name: None, fields: file.identity };
            return Err(Error::Changed(Box::new(Changed {
                url,
                dir,
                was: was.describe(),
                now: identity.describe(),
                key: identity.key.clone(),
            })));
        }
    }
    Ok(())
}

/// The directory an older flinkops kept for `url`, if there is one and no run of this version
/// has claimed it.
fn legacy_dir(state_dir: &Path, url: &str) -> Option<PathBuf> {
    let dir = clusters(state_dir).join(url_key(url));
    (dir.is_dir() && !dir.join(CLUSTER_FILE).exists()).then_some(dir)
}

fn read_file(path: &Path) -> Option<ClusterFile> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn clusters(state_dir: &Path) -> PathBuf {
    state_dir.join("clusters")
}

fn normalise(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

/// Lower-case letters, digits, `.` and single `-`.
fn slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c.to_ascii_lowercase() } else { '-' })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches(['-', '.']).to_string()
}

/// How older versions named a cluster's directory: after the URL as written
/// (`127.0.0.1-8081`, `gateway.example.com-flink`).
fn url_key(url: &str) -> String {
    let key = slug(url.split_once("://").map_or(url, |(_, r)| r));
    if key.is_empty() { "default".into() } else { key }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> JobManagerConfig {
        JobManagerConfig(pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect())
    }

    fn local(rpc_port: &str) -> Identity {
        Identity::reported(&config(&[
            ("jobmanager.rpc.address", "localhost"),
            ("jobmanager.rpc.port", rpc_port),
            ("rest.port", "8081"),
            ("web.tmpdir", "/tmp/flink-web-1234"),
            ("blob.server.port", "40111"),
        ]))
    }

    #[test]
    fn the_identity_is_what_the_jobmanager_reports_and_ignores_what_changes_at_every_start() {
        let a = local("6123");
        assert!(a.key.starts_with("localhost-8081-"), "{}", a.key);
        assert_eq!(a.key.len(), "localhost-8081-".len() + 8);
        assert_eq!(
            a.describe(),
            "jobmanager.rpc.address=localhost, jobmanager.rpc.port=6123, rest.port=8081"
        );
        let mut restarted = config(&[
            ("jobmanager.rpc.address", "localhost"),
            ("jobmanager.rpc.port", "6123"),
            ("rest.port", "8081"),
        ]);
        restarted.0.insert("web.tmpdir".into(), "/tmp/flink-web-5678".into());
        assert_eq!(Identity::reported(&restarted), a, "a restart is the same cluster");
        assert_ne!(local("6124").key, a.key, "another JobManager is another cluster");
        let k8s = Identity::reported(&config(&[
            ("kubernetes.cluster-id", "Session_A"),
            ("kubernetes.namespace", "flink"),
            ("jobmanager.rpc.address", "session-a.flink"),
        ]));
        assert!(k8s.key.starts_with("session-a-"), "{}", k8s.key);
        assert!(Identity::reported(&config(&[])).key.starts_with("cluster-"));
    }

    #[test]
    fn cluster_names_are_checked() {
        assert_eq!(Identity::named("prod-eu-1").unwrap().key, "name-prod-eu-1");
        for bad in ["", "Prod", "../x", "a/b", "-a", &"a".repeat(64)] {
            assert!(matches!(Identity::named(bad), Err(Error::BadName(_))), "{bad:?}");
        }
    }

    #[test]
    fn two_urls_of_one_cluster_share_its_directory() {
        let state = tempfile::tempdir().unwrap();
        let id = local("6123");
        let a = claim(state.path(), &id, "http://127.0.0.1:8081").unwrap();
        let b = claim(state.path(), &id, "http://localhost:18081/flink/").unwrap();
        assert_eq!(a, b);
        assert_eq!(locate(state.path(), &id, "http://proxy:1").unwrap(), a);
        let file = read_file(&a.join(CLUSTER_FILE)).unwrap();
        assert_eq!(file.urls, ["http://127.0.0.1:8081", "http://localhost:18081/flink"]);
        assert_eq!(file.identity, id.fields);
    }

    #[test]
    fn a_url_that_now_answers_as_another_cluster_is_refused_until_the_user_says_which_it_is() {
        let state = tempfile::tempdir().unwrap();
        let url = "http://127.0.0.1:8081";
        let old = claim(state.path(), &local("6123"), url).unwrap();
        let now = local("7000");
        for err in [claim(state.path(), &now, url).unwrap_err(), locate(state.path(), &now, url).unwrap_err()]
        {
            let Error::Changed(changed) = &err else { panic!("{err:?}") };
            assert_eq!(changed.dir, old);
            assert!(err.to_string().contains("jobmanager.rpc.port=6123"), "{err}");
            let help = err.help().unwrap();
            assert!(help.contains(&format!("mv {}", old.display())), "{help}");
        }
        assert!(!state.path().join("clusters").join(&now.key).exists(), "nothing was created");
        // Named, it is the user's word.
        claim(state.path(), &Identity::named("other").unwrap(), url).unwrap();
    }

    #[test]
    fn the_directory_last_known_at_a_url_is_found_without_asking_the_cluster() {
        let state = tempfile::tempdir().unwrap();
        let url = "http://127.0.0.1:8081";
        assert_eq!(last_known_at(state.path(), url), None);
        let dir = claim(state.path(), &local("6123"), url).unwrap();
        claim(state.path(), &local("7000"), "http://127.0.0.1:9091").unwrap();
        assert_eq!(last_known_at(state.path(), "http://127.0.0.1:8081/"), Some(dir));
        // A URL two clusters were reached at (a named one took it over): which ledger is unknown.
        claim(state.path(), &Identity::named("other").unwrap(), url).unwrap();
        assert_eq!(last_known_at(state.path(), url), None);
    }

    #[test]
    fn an_older_versions_directory_for_the_url_is_read_and_then_taken_over() {
        let state = tempfile::tempdir().unwrap();
        let url = "http://127.0.0.1:8081/";
        let old = state.path().join("clusters/127.0.0.1-8081");
        std::fs::create_dir_all(old.join("jobs")).unwrap();
        std::fs::write(old.join("jobs/orders.json"), "{}").unwrap();
        let id = local("6123");
        assert_eq!(locate(state.path(), &id, url).unwrap(), old, "read in place");
        assert!(old.exists(), "a read-only run moves nothing");
        let dir = claim(state.path(), &id, url).unwrap();
        assert_eq!(dir, state.path().join("clusters").join(&id.key));
        assert!(dir.join("jobs/orders.json").exists());
        assert!(!old.exists());
        assert_eq!(url_key("https://Gateway.example.com/flink/"), "gateway.example.com-flink");
        assert_eq!(url_key("http://../../etc"), "etc");
    }
}

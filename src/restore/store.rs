//! Snapshots in savepoint and checkpoint directories on object stores: Amazon S3 (and stores
//! that speak its API), Google Cloud Storage and Azure storage, listed through the
//! `object_store` crate with the same rules as the local listing (`disk`): a snapshot is
//! complete only with its `_metadata`, whose last-modified time is when it was taken.
//!
//! Credentials come from each store's standard environment, as its own tools read them:
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT` (for S3-compatible stores), web identity and container credentials, then the
//! instance metadata service; `GOOGLE_APPLICATION_CREDENTIALS` or `GOOGLE_SERVICE_ACCOUNT` (a
//! key file) and the application-default credentials file; `AZURE_STORAGE_ACCOUNT_KEY`,
//! `AZURE_STORAGE_SAS_KEY` or a service principal / managed identity for Azure. Listing needs
//! read access only. A listing that fails, for whatever reason, is "could not be read" — never
//! "no state".

use std::time::Duration;

use object_store::path::Path as ObjectPath;
use object_store::{ClientConfigKey, ObjectStore, ObjectStoreExt, RetryConfig};

use super::Candidate;
use crate::flink::JobId;
use crate::plan::identity;

/// The URI schemes of the object stores flinkops lists, as Flink writes them.
pub const SCHEMES: [&str; 8] = ["s3", "s3a", "s3p", "gs", "abfs", "abfss", "wasb", "wasbs"];

/// Whether `uri` is on an object store this module lists.
pub fn supported(uri: &str) -> bool {
    uri.split_once("://").is_some_and(|(scheme, _)| SCHEMES.contains(&scheme))
}

/// Directories whose listing failed lately, with why: the specs of one run often share a
/// directory, and each would otherwise wait out the store's timeouts and retries again (20 specs
/// on a store that does not answer: 40 listings of a minute each). Remembered for a while, so a
/// long-running `watch` asks again later.
static FAILED: std::sync::Mutex<Vec<(String, std::time::Instant, String)>> =
    std::sync::Mutex::new(Vec::new());

/// How long a failed listing is taken as the answer for its directory.
const FAILED_FOR: Duration = Duration::from_secs(60);

/// `listing` of `dir`, unless it failed in the last [`FAILED_FOR`] (then that failure again).
async fn remembering_failure<T>(
    dir: &str,
    listing: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let key = dir.trim_end_matches('/').to_string();
    {
        let mut failed = FAILED.lock().unwrap_or_else(|e| e.into_inner());
        failed.retain(|(_, at, _)| at.elapsed() < FAILED_FOR);
        if let Some((_, _, why)) = failed.iter().find(|(d, ..)| *d == key) {
            return Err(why.clone());
        }
    }
    let result = listing.await;
    if let Err(why) = &result {
        FAILED.lock().unwrap_or_else(|e| e.into_inner()).push((key, std::time::Instant::now(), why.clone()));
    }
    result
}

/// Every complete savepoint of the spec with this name tag under `dir`.
pub async fn savepoints(dir: &str, name_tag: &str) -> Result<Vec<Candidate>, String> {
    remembering_failure(dir, savepoints_uncached(dir, name_tag)).await
}

async fn savepoints_uncached(dir: &str, name_tag: &str) -> Result<Vec<Candidate>, String> {
    let at = Place::open(dir)?;
    let prefix = format!("savepoint-{name_tag}-");
    let mut found = Vec::new();
    for name in at.children(&at.prefix).await? {
        if !name.starts_with(&prefix) {
            continue;
        }
        if let Some(taken_ms) = at.metadata_time(&[&name]).await? {
            found.push(Candidate::in_savepoint_dir(at.uri(&[&name]), taken_ms));
        }
    }
    Ok(found)
}

/// The newest complete retained checkpoint (`<dir>/<job id>/chk-N/_metadata`) of every job of
/// the spec with this name tag under the checkpoint directory `dir`, except the jobs in `skip`.
pub async fn checkpoints(dir: &str, name_tag: &str, skip: &[JobId]) -> Result<Vec<Candidate>, String> {
    remembering_failure(dir, checkpoints_uncached(dir, name_tag, skip)).await
}

async fn checkpoints_uncached(dir: &str, name_tag: &str, skip: &[JobId]) -> Result<Vec<Candidate>, String> {
    let at = Place::open(dir)?;
    let mut found = Vec::new();
    for name in at.children(&at.prefix).await? {
        let Ok(id) = name.parse::<JobId>() else { continue };
        if skip.contains(&id) || identity::parse(&id).is_none_or(|m| m.name_tag != name_tag) {
            continue;
        }
        let mut ids: Vec<u64> = at
            .children(&at.prefix.clone().join(name.as_str()))
            .await?
            .iter()
            .filter_map(|c| c.strip_prefix("chk-")?.parse().ok())
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        // The highest complete one: a crash can leave the newest without its `_metadata`.
        for n in ids {
            let chk = format!("chk-{n}");
            if let Some(taken_ms) = at.metadata_time(&[&name, &chk]).await? {
                found.push(Candidate {
                    path: at.uri(&[&name, &chk]),
                    origin: format!("retained checkpoint {n} of {id}, in the checkpoint directory"),
                    taken_ms,
                    checkpoint_id: Some(n),
                    job_id: Some(id),
                    problem: None,
                });
                break;
            }
        }
    }
    Ok(found)
}

/// A directory on an object store.
struct Place {
    store: Box<dyn ObjectStore>,
    /// The directory's path inside the bucket or container.
    prefix: ObjectPath,
    /// The directory as Flink names it, without a trailing `/`.
    base: String,
}

impl Place {
    fn open(dir: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(dir).map_err(|e| format!("not a URI: {e}"))?;
        // Bounded: a store that does not answer makes the directory "not read" within about a
        // minute, once per run (see `FAILED`).
        // Set key by key, as `with_client_options` would drop what the environment set
        // (`AWS_ALLOW_HTTP`, proxies).
        let timeouts = [(ClientConfigKey::ConnectTimeout, "10s"), (ClientConfigKey::Timeout, "30s")];
        let retry =
            RetryConfig { max_retries: 2, retry_timeout: Duration::from_secs(60), ..Default::default() };
        let scheme = url.scheme();
        let built: object_store::Result<Box<dyn ObjectStore>> = match scheme {
            "s3" | "s3a" | "s3p" => {
                let mut b = object_store::aws::AmazonS3Builder::from_env()
                    // The builder knows `s3a://`; `s3p://` (Flink's Presto file system) is the same bucket.
                    .with_url(dir.replacen("s3p://", "s3a://", 1))
                    .with_retry(retry);
                for (k, v) in timeouts {
                    b = b.with_config(object_store::aws::AmazonS3ConfigKey::Client(k), v);
                }
                b.build().map(|s| Box::new(s) as Box<dyn ObjectStore>)
            }
            "gs" => {
                let mut b =
                    object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(dir).with_retry(retry);
                for (k, v) in timeouts {
                    b = b.with_config(object_store::gcp::GoogleConfigKey::Client(k), v);
                }
                b.build().map(|s| Box::new(s) as Box<dyn ObjectStore>)
            }
            // `wasb[s]://container@account.blob.core.windows.net/…` is the same container as abfss.
            "abfs" | "abfss" | "wasb" | "wasbs" => {
                let mut b = object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(format!("abfss{}", &dir[scheme.len()..]))
                    .with_retry(retry);
                for (k, v) in timeouts {
                    b = b.with_config(object_store::azure::AzureConfigKey::Client(k), v);
                }
                b.build().map(|s| Box::new(s) as Box<dyn ObjectStore>)
            }
            other => return Err(format!("flinkops cannot list `{other}://` directories")),
        };
        let store = built.map_err(|e| format!("cannot open it: {}", one_line(&e)))?;
        let prefix =
            ObjectPath::parse(url.path().trim_matches('/')).map_err(|e| format!("not a usable path: {e}"))?;
        Ok(Place { store, prefix, base: dir.trim_end_matches('/').to_string() })
    }

    /// The names of the "directories" right under `prefix`.
    async fn children(&self, prefix: &ObjectPath) -> Result<Vec<String>, String> {
        let prefix = (prefix.as_ref() != "").then_some(prefix);
        let listed = self
            .store
            .list_with_delimiter(prefix)
            .await
            .map_err(|e| format!("cannot list it: {}", one_line(&e)))?;
        Ok(listed.common_prefixes.iter().filter_map(|p| p.filename().map(str::to_string)).collect())
    }

    /// When `<dir>/<parts…>/_metadata` was written; `None` when it does not exist.
    async fn metadata_time(&self, parts: &[&str]) -> Result<Option<i64>, String> {
        let mut path = self.prefix.clone();
        for part in parts.iter().chain(&["_metadata"]) {
            path = path.join(*part);
        }
        match self.store.head(&path).await {
            Ok(meta) => Ok(Some(meta.last_modified.timestamp_millis())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(format!("cannot read {}: {}", self.uri(parts), one_line(&e))),
        }
    }

    /// `<dir>/<parts…>` as Flink takes it in `savepointPath`.
    fn uri(&self, parts: &[&str]) -> String {
        let mut uri = self.base.clone();
        for part in parts {
            uri.push('/');
            uri.push_str(part);
        }
        uri
    }
}

/// An error on one line (object_store's messages already carry their causes), with an XML error
/// body (S3, Azure) cut down to its code and message.
fn one_line(e: &object_store::Error) -> String {
    shorten(&e.to_string().replace('\n', " "))
}

fn shorten(s: &str) -> String {
    let between = |open: &str, close: &str| {
        let from = s.find(open)? + open.len();
        Some(&s[from..from + s[from..].find(close)?])
    };
    match (s.find("<?xml").or_else(|| s.find("<Error>")), between("<Code>", "</Code>")) {
        (Some(at), Some(code)) => {
            let message = between("<Message>", "</Message>").map_or_else(String::new, |m| format!(": {m}"));
            format!("{}{code}{message}", &s[..at])
        }
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_directory_that_failed_is_not_asked_again_for_a_while() {
        let asked = std::sync::atomic::AtomicUsize::new(0);
        let list = || async {
            asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err::<(), _>("cannot list it: timed out".to_string())
        };
        let dir = "s3://remembered-failure-test/sp/";
        for _ in 0..3 {
            let err = remembering_failure(dir, list()).await.unwrap_err();
            assert!(err.contains("timed out"), "{err}");
        }
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1, "the store was asked once");
        // Another directory is asked.
        let _ = remembering_failure("s3://remembered-failure-test/chk", list()).await;
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn the_schemes_flink_writes_are_recognised() {
        for uri in
            ["s3://b/sp", "s3a://b/sp", "s3p://b/sp", "gs://b/sp", "abfss://c@a.dfs.core.windows.net/sp"]
        {
            assert!(supported(uri), "{uri}");
        }
        for uri in ["file:/sp", "/sp", "hdfs://nn/sp", "oss://b/sp", "viewfs://x/sp"] {
            assert!(!supported(uri), "{uri}");
        }
    }

    #[test]
    fn xml_error_bodies_are_cut_down_to_their_code_and_message() {
        let raw = "Error performing GET http://s3/b?list-type=2 - Server returned non-2xx status code: 404 Not Found: \
                   <?xml version=\"1.0\"?> <Error><Code>NoSuchBucket</Code><Message>The specified bucket does not \
                   exist</Message><RequestId>x</RequestId></Error>";
        assert_eq!(
            shorten(raw),
            "Error performing GET http://s3/b?list-type=2 - Server returned non-2xx status code: 404 Not Found: \
             NoSuchBucket: The specified bucket does not exist"
        );
        assert_eq!(shorten("connection refused"), "connection refused");
    }

    #[test]
    fn paths_are_named_as_flink_takes_them() {
        // Opening a store contacts nobody.
        let at = Place::open("gs://bucket/flink/savepoints/").unwrap();
        assert_eq!(at.prefix.as_ref(), "flink/savepoints");
        assert_eq!(
            at.uri(&["savepoint-abc123-0123456789ab"]),
            "gs://bucket/flink/savepoints/savepoint-abc123-0123456789ab"
        );
        let at = Place::open("wasbs://state@acct.blob.core.windows.net/chk").unwrap();
        assert_eq!(at.uri(&["j", "chk-3"]), "wasbs://state@acct.blob.core.windows.net/chk/j/chk-3");
        let Err(why) = Place::open("hdfs://nn/sp") else { panic!("hdfs:// is not listed") };
        assert!(why.contains("cannot list `hdfs://`"), "{why}");
    }
}

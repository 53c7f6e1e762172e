//! The jars flinkops uploads: at most one upload per jar content, found again by name.
//!
//! Flink stores an upload as `<uuid>_<file name>` and lists it under the file name it was sent
//! with, so flinkops sends every jar as `flinkops-<first 16 hex of its sha256>.jar`: the name alone
//! says which content it holds. Before an upload it checks the file still has the content the caller
//! planned with, on the very file descriptor it then sends. Deleting
//! uploads is the ledger's business (`steps::Context::remove_dropped_jars`): only uploads this
//! state directory recorded may go, never any `flinkops-*.jar` on a shared cluster.

use std::path::Path;

use crate::flink::{self, Client, JarId};

/// Hex digits of the content hash kept in the name: 64 bits, plenty to tell jars apart.
const HASH_DIGITS: usize = 16;
const PREFIX: &str = "flinkops-";
const SUFFIX: &str = ".jar";

/// The name flinkops uploads a jar under: `flinkops-<first 16 hex of sha256>.jar`.
///
/// # Panics
/// If `sha256` does not start with 16 hexadecimal digits: the caller computed it, so that is a
/// bug, not an input error.
pub fn upload_name(sha256: &str) -> String {
    let digits = sha256.get(..HASH_DIGITS).filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
    let digits = digits.unwrap_or_else(|| panic!("not a sha256 in hex: {sha256:?}"));
    format!("{PREFIX}{}{SUFFIX}", digits.to_ascii_lowercase())
}

/// Whether Flink lists this file name as one of flinkops' uploads (exactly the form
/// [`upload_name`] makes).
pub fn is_flinkops_jar(name: &str) -> bool {
    let hash = name.strip_prefix(PREFIX).and_then(|rest| rest.strip_suffix(SUFFIX));
    hash.is_some_and(|h| h.len() == HASH_DIGITS && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// Why a jar could not be made available on the cluster.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Flink(#[from] flink::Error),
    #[error("cannot read {path}")]
    Unreadable {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file no longer has the content the specs were planned with (git-sync moved to a new
    /// commit meanwhile, say): uploading it would run other code than the plan said.
    #[error(
        "{path} changed since the specs were read (sha256 {found}, the plan has {expected}); nothing was uploaded: the next run plans with the new content"
    )]
    Changed { path: std::path::PathBuf, expected: String, found: String },
}

/// The id of the jar with content `sha256` on the cluster, and whether it was uploaded now (or
/// found there). Uploads `local` only when no jar of that name is listed yet, and only after
/// checking that the file still has that content: the bytes checked are the bytes sent (one open
/// file), whatever the path points to by then.
///
/// The upload is not retried, but a lost answer ([`flink::Error::Ambiguous`]) is resolved by
/// looking for the name again: the jar may have arrived.
pub async fn ensure_uploaded(
    client: &Client,
    local: &Path,
    sha256: &str,
) -> Result<(JarId, bool), UploadError> {
    let name = upload_name(sha256);
    if let Some(id) = find(client, &name).await? {
        tracing::debug!(jar = %id, "jar already uploaded; reusing it");
        return Ok((id, false));
    }
    let file = checked_open(local, sha256).await?;
    match client.upload_jar_file(file, local, &name).await {
        Err(err @ flink::Error::Ambiguous { .. }) => Ok((find(client, &name).await?.ok_or(err)?, true)),
        other => Ok((other?, true)),
    }
}

/// Open `path` and check its content hashes to `sha256`; the file is rewound for reading.
async fn checked_open(path: &Path, sha256: &str) -> Result<tokio::fs::File, UploadError> {
    let unreadable = |source| UploadError::Unreadable { path: path.to_path_buf(), source };
    let owned = path.to_path_buf();
    let hashed = tokio::task::spawn_blocking(move || {
        use std::io::Seek;
        let mut file = std::fs::File::open(&owned)?;
        let found = crate::spec::fingerprint::sha256_of_file(&mut file)?;
        file.rewind()?;
        Ok::<_, std::io::Error>((file, found))
    })
    .await
    .map_err(|e| unreadable(std::io::Error::other(e)))?;
    let (file, found) = hashed.map_err(unreadable)?;
    if !found.eq_ignore_ascii_case(sha256) {
        return Err(UploadError::Changed { path: path.to_path_buf(), expected: sha256.to_string(), found });
    }
    Ok(tokio::fs::File::from_std(file))
}

/// The newest listed jar with exactly this name.
async fn find(client: &Client, name: &str) -> Result<Option<JarId>, flink::Error> {
    let jars = client.list_jars().await?;
    Ok(jars.into_iter().find(|j| j.name == name).map(|j| j.id))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    use super::*;
    use crate::flink::ClientConfig;

    const SHA: &str = "0123456789ABCDEF00112233445566778899aabbccddeeff0011223344556677";
    const NAME: &str = "flinkops-0123456789abcdef.jar";

    fn listed_jar(id: &str, name: &str) -> Value {
        json!({"id": id, "name": name, "uploaded": 1_700_000_000_000i64,
               "entry": [{"name": "dev.flinkops.testjob.CounterJob", "description": null}]})
    }

    async fn cluster_with_jars(jars: Vec<Value>) -> (MockServer, Client) {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/jars"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"address": "x", "files": jars})))
            .mount(&server)
            .await;
        let client = Client::new(ClientConfig::new(server.uri())).unwrap();
        (server, client)
    }

    async fn requests(server: &MockServer, verb: &str) -> Vec<Request> {
        let all = server.received_requests().await.unwrap();
        all.into_iter().filter(|r| r.method.as_str() == verb).collect()
    }

    #[test]
    fn the_upload_name_carries_the_first_16_hex_of_the_hash_in_lowercase() {
        assert_eq!(upload_name(SHA), NAME);
        assert!(is_flinkops_jar(NAME));
    }

    #[test]
    fn only_the_exact_hashed_name_is_flinkops_jar() {
        for other in [
            "flinkops-0123456789abcde.jar",
            "flinkops-0123456789ABCDEF.jar",
            "flinkops-0123456789abcdefa.jar",
            "flinkops-tool.jar",
            "my-flinkops-0123456789abcdef.jar",
            "flinkops-0123456789abcdef.jar.bak",
            "counter.jar",
        ] {
            assert!(!is_flinkops_jar(other), "{other}");
        }
    }

    #[test]
    #[should_panic(expected = "not a sha256")]
    fn a_hash_that_is_not_hex_is_a_bug() {
        upload_name("not-a-hash-at-all-really");
    }

    #[tokio::test]
    async fn a_listed_jar_with_the_hashed_name_is_reused_without_uploading() {
        let (server, client) = cluster_with_jars(vec![
            listed_jar("aaaa_counter.jar", "counter.jar"),
            listed_jar("bbbb_flinkops-0123456789abcdef.jar", NAME),
            listed_jar("cccc_flinkops-0123456789abcdef.jar", NAME),
        ])
        .await;
        let (id, uploaded) = ensure_uploaded(&client, Path::new("/does/not/exist.jar"), SHA).await.unwrap();
        assert_eq!(id, JarId::new("bbbb_flinkops-0123456789abcdef.jar"), "the newest (first listed) one");
        assert!(!uploaded);
        assert!(requests(&server, "POST").await.is_empty(), "nothing uploaded");
    }

    /// A local jar and its sha256 and upload name.
    fn local_jar(dir: &Path, bytes: &[u8]) -> (std::path::PathBuf, String, String) {
        let local = dir.join("enricher-1.5.0.jar");
        std::fs::write(&local, bytes).unwrap();
        let sha = crate::spec::fingerprint::sha256_file(&local).unwrap();
        let name = upload_name(&sha);
        (local, sha, name)
    }

    #[tokio::test]
    async fn an_unlisted_jar_is_uploaded_under_the_hashed_name() {
        let (server, client) = cluster_with_jars(vec![listed_jar("aaaa_counter.jar", "counter.jar")]).await;
        let dir = tempfile::tempdir().unwrap();
        let (local, sha, name) = local_jar(dir.path(), b"PK\x03\x04 not really a jar");
        Mock::given(method("POST"))
            .and(path("/jars/upload"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "filename": format!("/tmp/flink-web-upload/dddd_{name}"), "status": "success"})))
            .expect(1)
            .mount(&server)
            .await;

        let (id, uploaded) = ensure_uploaded(&client, &local, &sha).await.unwrap();
        assert_eq!(id.as_str(), format!("dddd_{name}"));
        assert!(uploaded);
        let upload = &requests(&server, "POST").await[0];
        let body = String::from_utf8_lossy(&upload.body);
        assert!(body.contains(&format!("filename=\"{name}\"")), "{body}");
        assert!(!body.contains("enricher"), "the local name is not sent: {body}");
        assert!(body.contains("not really a jar"), "the file's bytes are sent: {body}");
    }

    #[tokio::test]
    async fn a_jar_that_changed_since_planning_is_not_uploaded() {
        let (server, client) = cluster_with_jars(vec![]).await;
        let dir = tempfile::tempdir().unwrap();
        let (local, planned, _) = local_jar(dir.path(), b"version 1");
        std::fs::write(&local, b"version 2, checked out meanwhile").unwrap();
        let err = ensure_uploaded(&client, &local, &planned).await.unwrap_err();
        assert!(matches!(err, UploadError::Changed { .. }), "{err}");
        assert!(err.to_string().contains("changed since the specs were read"), "{err}");
        assert!(requests(&server, "POST").await.is_empty(), "nothing uploaded");
    }
}

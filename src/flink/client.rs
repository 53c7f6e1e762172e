//! `Client`: one Flink cluster's REST API. Owns the HTTP client (auth, headers, TLS, timeouts),
//! URL building under a path prefix, the retry decision per call, reading answers into types or
//! errors, and the cached Flink version. The endpoints themselves live in `jars`, `jobs` and
//! `savepoints`.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::config::{Auth, ClientConfig, TlsConfig};
use super::error::{Call, Error, Failure, Transport};
use super::ids::JobId;
use super::retry::RetryPolicy;
use super::types::ClusterConfig;
use super::version::FlinkVersion;

/// An async client for one Flink cluster. Cheap to clone; clones share connections and the
/// cached version.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    request_timeout: Duration,
    upload_timeout: Duration,
    retry: RetryPolicy,
    max_response_bytes: usize,
    retry_slack: Duration,
    /// When the command's time limit runs out, and the limit.
    deadline: Option<(tokio::time::Instant, Duration)>,
    version: OnceLock<FlinkVersion>,
    jobmanager_config: Mutex<Option<Arc<JobManagerConfig>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base_url", &self.base_url()).finish_non_exhaustive()
    }
}

/// Whether and how a call may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Safe to repeat (GET, savepoint with a trigger id, cancel): retried per the policy.
    Idempotent,
    /// A write that must not be repeated blindly (upload, run): a lost answer is `Ambiguous`.
    Write,
    /// Sent once; failures are reported as they are.
    Once,
}

/// One REST call: method, path segments under the base URL, query, JSON body, the job concerned.
pub(crate) struct Req {
    method: Method,
    segments: Vec<String>,
    query: Vec<(&'static str, String)>,
    body: Option<serde_json::Value>,
    job: Option<JobId>,
}

impl Req {
    pub fn new(method: Method, segments: &[&str]) -> Self {
        let segments = segments.iter().map(|s| (*s).to_owned()).collect();
        Self { method, segments, query: Vec::new(), body: None, job: None }
    }

    pub fn get(segments: &[&str]) -> Self {
        Self::new(Method::GET, segments)
    }

    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }

    pub fn json(mut self, body: impl Serialize) -> Self {
        self.body = Some(serde_json::to_value(body).expect("request bodies always serialise"));
        self
    }

    pub fn job(mut self, job: &JobId) -> Self {
        self.job = Some(job.clone());
        self
    }

    pub fn call(&self) -> Call {
        let mut path = format!("/{}", self.segments.join("/"));
        for (i, (k, v)) in self.query.iter().enumerate() {
            path.push(if i == 0 { '?' } else { '&' });
            path.push_str(&format!("{k}={v}"));
        }
        Call::new(self.method.clone(), path)
    }
}

impl Client {
    /// Build a client. Fails on a bad base URL or unusable TLS material; contacts nobody.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let base = parse_base_url(&config.base_url)?;
        // Whatever echoes them back (a proxy's error page) must not show them.
        match &config.auth {
            Auth::None => {}
            Auth::Bearer(token) => super::secret::remember(token.expose()),
            Auth::Basic { password, .. } => super::secret::remember(password.expose()),
        }
        for (_, value) in &config.headers {
            super::secret::remember(value.expose());
        }
        let builder = reqwest::Client::builder()
            .user_agent(concat!("flinkops/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            // Never follow: see `Error::Redirected`.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.request_timeout)
            .default_headers(extra_headers(&config.headers)?);
        let http = with_tls(builder, &config.tls)?
            .build()
            .map_err(|e| config_error(format!("cannot build the HTTP client: {e}")))?;
        let inner = Inner {
            http,
            base,
            auth: config.auth,
            request_timeout: config.request_timeout,
            upload_timeout: config.upload_timeout,
            retry: config.retry,
            max_response_bytes: config.max_response_bytes,
            retry_slack: config.retry_slack,
            deadline: config.max_time.map(|limit| (tokio::time::Instant::now() + limit, limit)),
            version: OnceLock::new(),
            jobmanager_config: Mutex::new(None),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The base URL, as used in messages (never carries credentials: `new` rejects them).
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str().trim_end_matches('/')
    }

    /// `GET /config`: the cluster's version and dashboard settings.
    pub async fn config(&self) -> Result<ClusterConfig, Error> {
        self.send(Req::get(&["config"]), Repeat::Idempotent).await
    }

    /// `GET /jobmanager/config`: the cluster's configuration as the JobManager runs with it,
    /// read once per client and then kept (it changes only with a restart of the JobManager, and
    /// `watch` makes a new client for every reconcile). A failed read is not kept.
    pub async fn jobmanager_config(&self) -> Result<Arc<JobManagerConfig>, Error> {
        if let Some(config) = self.inner.jobmanager_config.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(config);
        }
        #[derive(serde::Deserialize)]
        struct Entry {
            key: String,
            value: String,
        }
        let entries: Vec<Entry> = self.send(Req::get(&["jobmanager", "config"]), Repeat::Idempotent).await?;
        let config = Arc::new(JobManagerConfig(entries.into_iter().map(|e| (e.key, e.value)).collect()));
        *self.inner.jobmanager_config.lock().unwrap_or_else(|e| e.into_inner()) = Some(config.clone());
        Ok(config)
    }

    /// The cluster's Flink version, read from `GET /config` once and then cached.
    pub async fn version(&self) -> Result<FlinkVersion, Error> {
        if let Some(v) = self.inner.version.get() {
            return Ok(*v);
        }
        let config = self.config().await?;
        let version = config.flink_version.parse::<FlinkVersion>().map_err(|e| Error::InvalidResponse {
            call: Req::get(&["config"]).call(),
            detail: e.to_string(),
        })?;
        Ok(*self.inner.version.get_or_init(|| version))
    }

    /// Send a JSON request and read a JSON answer, repeating it as `repeat` allows, and never
    /// past the command's time limit.
    pub(crate) async fn send<T: DeserializeOwned>(&self, req: Req, repeat: Repeat) -> Result<T, Error> {
        let Some((deadline, limit)) = self.inner.deadline else {
            return self.send_unlimited(req, repeat).await;
        };
        let call = req.call();
        tokio::time::timeout_at(deadline, self.send_unlimited(req, repeat))
            .await
            .unwrap_or(Err(Error::OutOfTime { call, limit }))
    }

    async fn send_unlimited<T: DeserializeOwned>(&self, req: Req, repeat: Repeat) -> Result<T, Error> {
        let call = req.call();
        match repeat {
            Repeat::Idempotent => {
                // The whole call, retries included, is bounded: attempts that each time out would
                // otherwise add up (5 × 30 s against a server that never answers).
                let budget = self.inner.request_timeout + self.inner.retry_slack;
                match tokio::time::timeout(budget, self.inner.retry.run(|| self.attempt(&call, &req, false)))
                    .await
                {
                    Ok(result) => result,
                    Err(_) => Err(Error::Timeout { call, after: budget }),
                }
            }
            Repeat::Write => self.attempt(&call, &req, true).await,
            Repeat::Once => self.attempt(&call, &req, false).await,
        }
    }

    async fn attempt<T: DeserializeOwned>(&self, call: &Call, req: &Req, write: bool) -> Result<T, Error> {
        let mut builder = self.request(req.method.clone(), &req.segments);
        if !req.query.is_empty() {
            builder = builder.query(&req.query);
        }
        if let Some(body) = &req.body {
            builder = builder.json(body);
        }
        let timeout = self.inner.request_timeout;
        self.execute(builder, call, req.job.clone(), timeout, write).await
    }

    /// A request builder for a path under the base URL, with auth applied.
    pub(crate) fn request(&self, method: Method, segments: &[impl AsRef<str>]) -> reqwest::RequestBuilder {
        let builder = self.inner.http.request(method, self.url(segments));
        match &self.inner.auth {
            Auth::None => builder,
            Auth::Bearer(token) => builder.bearer_auth(token.expose()),
            Auth::Basic { username, password } => builder.basic_auth(username, Some(password.expose())),
        }
    }

    pub(crate) fn upload_timeout(&self) -> Duration {
        self.inner.upload_timeout
    }

    /// Send a prepared request and read its answer.
    pub(crate) async fn execute<T: DeserializeOwned>(
        &self,
        builder: reqwest::RequestBuilder,
        call: &Call,
        job: Option<JobId>,
        timeout: Duration,
        write: bool,
    ) -> Result<T, Error> {
        let transport = |e: reqwest::Error| {
            let url = self.base_url();
            Transport { call: call.clone(), job: job.clone(), url, timeout, write }.into_error(&e)
        };
        tracing::debug!(%call, "flink request");
        let response = builder.send().await.map_err(transport)?;
        let status = response.status();
        if status.is_redirection() {
            let location = response.headers().get(reqwest::header::LOCATION).map_or_else(
                || "(no Location header)".to_string(),
                // From outside: no control characters on the terminal, and not a page of it.
                |l| {
                    String::from_utf8_lossy(l.as_bytes())
                        .chars()
                        .take(200)
                        .map(|c| if c.is_control() { '?' } else { c })
                        .collect()
                },
            );
            return Err(Error::Redirected { call: call.clone(), status: status.as_u16(), location });
        }
        let body = self.read_body(response, call).await.map_err(|e| {
            e.map_or_else(
                || Error::TooLarge { call: call.clone(), limit: self.inner.max_response_bytes },
                transport,
            )
        })?;
        if !status.is_success() {
            // Redacted here, once: an error body is the text that may echo a secret back (a
            // proxy repeating the request headers, Flink quoting the run request), and every
            // error, log line and output made from it is clean. Answers that succeed are data,
            // parsed, never printed whole, and redacting in them could break their JSON.
            let body = super::secret::redact(&body);
            let failure = Failure { call: call.clone(), job, status: status.as_u16(), body: &body, write };
            return Err(failure.into_error());
        }
        serde_json::from_str(&body).map_err(|e| {
            // Redacted before it is cut, so that no secret is left half shown.
            let start: String = super::secret::redact(&body).chars().take(120).collect();
            Error::InvalidResponse { call: call.clone(), detail: format!("{e}; body starts with {start:?}") }
        })
    }

    /// The answer's body as text, read a chunk at a time and never past the size limit
    /// (`Err(None)`): a body that never ends must not grow without bound. The request timeout
    /// covers the whole body, so a trickling one cannot extend the call either.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        call: &Call,
    ) -> Result<String, Option<reqwest::Error>> {
        let limit = self.inner.max_response_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            tracing::debug!(%call, "answer announced longer than {limit} bytes");
            return Err(None);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(Some)? {
            if body.len() + chunk.len() > limit {
                return Err(None);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    fn url(&self, segments: &[impl AsRef<str>]) -> Url {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .expect("the base URL is http(s), so it has a path")
            .pop_if_empty()
            .extend(segments.iter().map(AsRef::as_ref));
        url
    }
}

fn config_error(reason: impl Into<String>) -> Error {
    Error::Config { reason: reason.into() }
}

/// The base URL, checked: http(s), no credentials (they would end up in logs), no query; the
/// path ends with `/` so that a prefix such as `/flink` is kept when joining.
fn parse_base_url(raw: &str) -> Result<Url, Error> {
    let mut url = Url::parse(raw.trim()).map_err(|e| config_error(format!("invalid Flink URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(config_error(format!(
            "the Flink URL must start with http:// or https://, not {}:",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(config_error(
            "the Flink URL must not contain credentials; use FLINKOPS_FLINK_USERNAME and FLINKOPS_FLINK_PASSWORD",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(config_error("the Flink URL must not have a query (?…) or fragment (#…)"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Extra headers, marked sensitive so that they never show in debug output.
fn extra_headers(headers: &[(String, super::secret::Secret<String>)]) -> Result<HeaderMap, Error> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| config_error(format!("invalid header name `{name}`")))?;
        let mut value = HeaderValue::from_str(value.expose().trim())
            .map_err(|_| config_error(format!("invalid value for header `{name}` (value not shown)")))?;
        value.set_sensitive(true);
        map.append(header, value);
    }
    Ok(map)
}

fn with_tls(mut builder: reqwest::ClientBuilder, tls: &TlsConfig) -> Result<reqwest::ClientBuilder, Error> {
    for pem in &tls.ca_certs_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| config_error(format!("invalid CA certificate: {e}")))?;
        if certs.is_empty() {
            return Err(config_error("the CA file holds no PEM certificate"));
        }
        // Merge, not replace: a private CA must not stop public certificates from working.
        builder = builder.tls_certs_merge(certs);
    }
    if let Some(identity) = &tls.client_identity {
        // rustls wants the certificate chain and the key in one PEM buffer.
        let mut pem = identity.cert_pem.clone();
        pem.push(b'\n');
        pem.extend_from_slice(identity.key_pem.expose());
        let id = reqwest::Identity::from_pem(&pem)
            .map_err(|e| config_error(format!("invalid client certificate or key: {e}")))?;
        builder = builder.identity(id);
    }
    if tls.insecure_skip_verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    Ok(builder)
}

/// Where the cluster writes snapshots unless a job says otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterDirs {
    pub savepoints: Option<String>,
    pub checkpoints: Option<String>,
}

/// The JobManager's configuration (`GET /jobmanager/config`), by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobManagerConfig(pub std::collections::BTreeMap<String, String>);

impl JobManagerConfig {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The default savepoint and checkpoint directories (the 1.20+ keys, else the 1.18/1.19 ones).
    pub fn dirs(&self) -> ClusterDirs {
        let get = |new: &str, old: &str| self.get(new).or_else(|| self.get(old)).map(str::to_string);
        ClusterDirs {
            savepoints: get("execution.checkpointing.savepoint-dir", "state.savepoints.dir"),
            checkpoints: get("execution.checkpointing.dir", "state.checkpoints.dir"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Client {
        Client::new(ClientConfig::new(base)).unwrap()
    }

    #[test]
    fn paths_join_under_a_prefix_with_or_without_a_trailing_slash() {
        for base in ["https://gw/flink", "https://gw/flink/"] {
            assert_eq!(client(base).url(&["jobs", "overview"]).as_str(), "https://gw/flink/jobs/overview");
        }
        assert_eq!(client("http://127.0.0.1:8081").url(&["config"]).as_str(), "http://127.0.0.1:8081/config");
    }

    #[test]
    fn credentials_in_the_url_are_rejected_without_echoing_them() {
        let err = Client::new(ClientConfig::new("https://admin:hunter2@gw/")).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn non_http_urls_are_rejected() {
        assert!(Client::new(ClientConfig::new("ftp://gw/")).is_err());
        assert!(Client::new(ClientConfig::new("not a url")).is_err());
    }

    #[test]
    fn the_call_shows_method_path_and_query() {
        let req = Req::new(Method::PATCH, &["jobs", "abc"]).query("mode", "cancel");
        assert_eq!(req.call().to_string(), "PATCH /jobs/abc?mode=cancel");
    }

    #[test]
    fn a_bad_ca_file_is_a_config_error() {
        let mut config = ClientConfig::new("https://gw/");
        config.tls.ca_certs_pem.push(b"not a certificate".to_vec());
        assert!(matches!(Client::new(config), Err(Error::Config { .. })));
    }
}

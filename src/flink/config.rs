//! `ClientConfig`: where Flink is and how to talk to it (auth, headers, TLS, timeouts, retries).
//! Plain data with defaults; reading files and environment variables is the CLI's job
//! (`cli::connection`), building the HTTP client is `Client::new`'s.

use std::time::Duration;

use super::retry::RetryPolicy;
use super::secret::Secret;

/// Everything the client needs to reach one Flink cluster.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The REST API's base URL, with an optional path prefix (`https://gw/flink/`).
    pub base_url: String,
    pub auth: Auth,
    /// Extra headers sent with every request (values may be secrets, so they are redacted).
    pub headers: Vec<(String, Secret<String>)>,
    pub tls: TlsConfig,
    pub connect_timeout: Duration,
    /// For every call except the jar upload.
    pub request_timeout: Duration,
    /// For the jar upload, which streams a possibly large file.
    pub upload_timeout: Duration,
    pub retry: RetryPolicy,
    /// The largest answer read from Flink; a longer one is an error, never read whole.
    pub max_response_bytes: usize,
    /// How much longer than `request_timeout` a call that may be repeated takes at most, all its
    /// retries included (30 s).
    pub retry_slack: Duration,
    /// The longest all calls of this client together may take, counted from `Client::new`
    /// (`--max-time` of the read-only commands). `None`: each call is bounded on its own.
    pub max_time: Option<Duration>,
}

/// The default [`ClientConfig::max_response_bytes`]: 64 MiB, some six times the
/// `/jobs/overview` of a cluster with 20,000 jobs.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;

impl ClientConfig {
    /// A configuration with the defaults: no auth, system roots, 10 s connect, 30 s requests,
    /// 10 min uploads, the default retry policy, answers of at most 64 MiB.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            auth: Auth::None,
            headers: Vec::new(),
            tls: TlsConfig::default(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(600),
            retry: RetryPolicy::default(),
            max_response_bytes: MAX_RESPONSE_BYTES,
            retry_slack: Duration::from_secs(30),
            max_time: None,
        }
    }
}

/// Credentials for a proxy in front of Flink (Flink's REST API has no HTTP auth of its own).
#[derive(Debug, Clone, Default)]
pub enum Auth {
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(Secret<String>),
    /// `Authorization: Basic …`.
    Basic { username: String, password: Secret<String> },
}

/// TLS settings beyond the system's trust store.
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    /// PEM bundles of extra CAs, trusted in addition to the system roots.
    pub ca_certs_pem: Vec<Vec<u8>>,
    /// A client certificate for mutual TLS.
    pub client_identity: Option<ClientIdentity>,
    /// Accept any server certificate. Off by default; only for throw-away test clusters.
    pub insecure_skip_verify: bool,
}

/// A PEM certificate chain (leaf first) and its PEM private key.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    pub cert_pem: Vec<u8>,
    pub key_pem: Secret<Vec<u8>>,
}

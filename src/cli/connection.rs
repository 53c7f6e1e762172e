//! Connection flags for a Flink cluster: URL, proxy credentials, extra headers, TLS, timeouts and
//! retries, each also settable by environment variable.
//!
//! Owns turning them into a `flink::ClientConfig`, reading the files they name. Secrets (token,
//! password) come only from the environment or files, never from a flag value, so they stay out
//! of `ps`; they are never printed, not even in errors. Contacts nobody.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use crate::flink::{Auth, ClientConfig, ClientIdentity, RetryPolicy, Secret};
use crate::spec::clusters::{BasicAuth, Cluster, DEFAULT_CLUSTER, Reference};

/// Environment variable holding the bearer token (deliberately not a flag).
pub const TOKEN_ENV: &str = "FLINKOPS_FLINK_TOKEN";
/// Environment variable holding the basic-auth password (deliberately not a flag).
pub const PASSWORD_ENV: &str = "FLINKOPS_FLINK_PASSWORD";
/// Environment variable with extra headers, one per line or comma-separated.
pub const HEADERS_ENV: &str = "FLINKOPS_FLINK_HEADERS";

/// How to reach a Flink cluster's REST API.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnectionArgs {
    /// Base URL of the Flink REST API, with an optional path prefix
    /// (e.g. http://127.0.0.1:8081 or https://gateway.example.com/flink/).
    #[arg(long, env = "FLINK_URL", value_name = "URL")]
    pub flink_url: Option<String>,

    /// File with a bearer token for a proxy in front of Flink. The token itself can be given
    /// only through the FLINKOPS_FLINK_TOKEN environment variable, never as a flag value.
    #[arg(long, env = "FLINKOPS_FLINK_TOKEN_FILE", value_name = "FILE")]
    pub flink_token_file: Option<PathBuf>,

    /// User name for basic auth at a proxy in front of Flink. The password comes from the
    /// FLINKOPS_FLINK_PASSWORD environment variable or --flink-password-file.
    #[arg(long, env = "FLINKOPS_FLINK_USERNAME", value_name = "USER")]
    pub flink_username: Option<String>,

    /// File with the basic-auth password (instead of FLINKOPS_FLINK_PASSWORD).
    #[arg(long, env = "FLINKOPS_FLINK_PASSWORD_FILE", value_name = "FILE")]
    pub flink_password_file: Option<PathBuf>,

    /// Extra header for every request, repeatable, its value by reference so that it never sits
    /// in the command line (which `ps` shows): 'Name: ${VAR}' (from the environment) or
    /// 'Name: @FILE' (a file's contents, trimmed). Literal values only from the environment:
    /// FLINKOPS_FLINK_HEADERS, one 'Name: value' per line (or comma-separated when the values
    /// have no commas). Values are treated as secrets.
    #[arg(long = "flink-header", value_name = "NAME: ${VAR}|@FILE")]
    pub flink_headers: Vec<String>,

    /// TLS flags, boxed: they are rarely set, and every command that flattens these flags is a
    /// variant of `cli::Command` (clippy::large_enum_variant).
    #[command(flatten)]
    pub tls: Box<TlsArgs>,

    /// How long to wait for a TCP/TLS connection to Flink (e.g. 10s, 1m).
    #[arg(long, env = "FLINKOPS_CONNECT_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// How long to wait for Flink's answer to one call, its whole body included (e.g. 30s, 2m).
    /// A call and its retries together take at most this plus 30 s (60 s by default), so a
    /// server that accepts connections and never answers fails a call within a minute.
    #[arg(long, env = "FLINKOPS_REQUEST_TIMEOUT", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// How long a jar upload may take (e.g. 10m, 1h 30m).
    #[arg(long, env = "FLINKOPS_UPLOAD_TIMEOUT", value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub upload_timeout: Duration,

    /// Retries of calls that are safe to repeat (reads, savepoints with a trigger id, cancel)
    /// after a network error, a timeout or a 502/503/504, within the request timeout plus 30 s
    /// for the call and all its retries. Uploads and job submissions are never retried.
    #[arg(long, env = "FLINKOPS_RETRIES", value_name = "N", default_value_t = RetryPolicy::default().max_retries)]
    pub retries: usize,
}

/// TLS beyond the system's trust store: a private CA, mutual TLS, or (for tests) no verification.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connection")]
pub struct TlsArgs {
    /// PEM file with the CA certificate(s) that signed Flink's (or the proxy's) certificate,
    /// trusted in addition to the system's; repeatable.
    #[arg(long, env = "FLINKOPS_CA_CERT", value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,

    /// PEM client certificate (chain, leaf first) for mutual TLS; needs --client-key.
    #[arg(long, env = "FLINKOPS_CLIENT_CERT", value_name = "FILE")]
    pub client_cert: Option<PathBuf>,

    /// PEM private key of --client-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "FLINKOPS_CLIENT_KEY", value_name = "FILE")]
    pub client_key: Option<PathBuf>,

    /// Accept any TLS certificate from Flink. Dangerous: anyone on the network path can read
    /// and change the traffic, credentials included. Only for throw-away test clusters.
    #[arg(long, env = "FLINKOPS_INSECURE_SKIP_TLS_VERIFY")]
    pub insecure_skip_tls_verify: bool,
}

/// Why the connection flags cannot be turned into a client configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("no Flink URL: pass --flink-url or set FLINK_URL")]
    MissingUrl,

    #[error("cannot read the {what} file {}", path.display())]
    Unreadable {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the {what} is empty")]
    Empty { what: String },

    #[error("both {0} and {1} are set; use one")]
    Conflict(&'static str, &'static str),

    #[error(
        "basic auth needs both a user name (--flink-username) and a password (FLINKOPS_FLINK_PASSWORD or --flink-password-file)"
    )]
    IncompleteBasicAuth,

    #[error("mutual TLS needs both --client-cert and --client-key")]
    IncompleteClientCert,

    #[error("extra header number {index} has no `:`; expected 'Name: value' (value not shown)")]
    BadHeader { index: usize },

    #[error(
        "--flink-header `{name}` gives its value on the command line, where `ps` shows it to every \
         user of the machine (value not shown)"
    )]
    HeaderValueOnCommandLine { name: String },

    #[error("--flink-header `{name}` refers to ${{{var}}}, which is not set")]
    HeaderVariableUnset { name: String, var: String },

    #[error("cluster `{cluster}` ({origin}) takes its {what} from ${var}, which is not set")]
    ClusterVariableUnset { cluster: String, origin: String, what: String, var: String },

    #[error("the specs define {count} clusters ({names}), and this `watch` was started over one cluster")]
    SeveralClusters { count: usize, names: String },

    #[error(
        "--cluster-name (or FLINKOPS_CLUSTER_NAME) names one cluster, and the specs define {count} clusters ({names})"
    )]
    ClusterNameForFleet { count: usize, names: String },

    #[error(
        "both the cluster document `{cluster}` ({origin}) and connection settings ({given}) say how to reach Flink"
    )]
    ClusterGivenTwice { cluster: String, origin: String, given: String },
}

impl ConnectionError {
    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            ConnectionError::MissingUrl => {
                "e.g. FLINK_URL=http://127.0.0.1:8081 (the JobManager's REST address)"
            }
            ConnectionError::Unreadable { .. } | ConnectionError::Empty { .. } => {
                "check the path and its permissions"
            }
            ConnectionError::Conflict(..) => "a proxy takes one kind of credentials: unset one of them",
            ConnectionError::IncompleteBasicAuth | ConnectionError::IncompleteClientCert => {
                "give both, or neither"
            }
            ConnectionError::BadHeader { .. } => "e.g. --flink-header 'X-Tenant: ${TENANT_KEY}'",
            ConnectionError::HeaderValueOnCommandLine { .. } => {
                "give it by reference: --flink-header 'Name: ${VAR}' (from the environment) or \
                 'Name: @/run/secrets/file', or put 'Name: value' in FLINKOPS_FLINK_HEADERS"
            }
            ConnectionError::HeaderVariableUnset { .. } | ConnectionError::ClusterVariableUnset { .. } => {
                "export it before running flinkops"
            }
            ConnectionError::SeveralClusters { .. } => {
                "every command takes several clusters, but a `watch` started over one cluster keeps to that one: \
                 restart it to watch them all"
            }
            ConnectionError::ClusterNameForFleet { .. } => {
                "remove it: with several clusters each is known by the identity its JobManager reports (a name per \
                 cluster document is not supported yet); clusters whose identities collide need a run each, on a \
                 directory holding that cluster's document and jobs, with --cluster-name"
            }
            ConnectionError::ClusterGivenTwice { .. } => {
                "flinkops does not guess which one is meant: unset the flags and environment variables \
                 (the cluster document is the connection), or remove the cluster document"
            }
        }
    }
}

impl ConnectionArgs {
    /// The client configuration for the specs' clusters: the one `kind: FlinkCluster` document,
    /// or the flags when there is none (the cluster named `default`). Several documents, or a
    /// document and connection flags together, are refused.
    pub fn client_config_for(
        &self,
        clusters: &BTreeMap<String, Cluster>,
    ) -> Result<ClientConfig, ConnectionError> {
        self.client_config_for_with(clusters, &|name| std::env::var(name).ok())
    }

    /// [`Self::client_config_for`], reading variables through `env`.
    pub fn client_config_for_with(
        &self,
        clusters: &BTreeMap<String, Cluster>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ClientConfig, ConnectionError> {
        if clusters.len() > 1 {
            let names: Vec<&str> = clusters.keys().map(String::as_str).collect();
            return Err(ConnectionError::SeveralClusters { count: names.len(), names: names.join(", ") });
        }
        let mut one = self.fleet_configs_with(clusters, env)?;
        Ok(one.pop().expect("one configuration per cluster, and there is one").1)
    }

    /// The client configuration of every cluster of the specs, by name: each `kind: FlinkCluster`
    /// document, or the flags as the cluster named `default` when there is none. Connection
    /// flags beside cluster documents are refused (flinkops does not guess which one is meant).
    pub fn fleet_configs_with(
        &self,
        clusters: &BTreeMap<String, Cluster>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<(String, ClientConfig)>, ConnectionError> {
        let Some(first) = clusters.values().next() else {
            return Ok(vec![(DEFAULT_CLUSTER.to_owned(), self.client_config_with(env)?)]);
        };
        let given = self.cluster_settings_given(env);
        if !given.is_empty() {
            return Err(ConnectionError::ClusterGivenTwice {
                cluster: first.name.clone(),
                origin: first.origin.clone(),
                given: given.join(", "),
            });
        }
        clusters.values().map(|c| Ok((c.name.clone(), self.cluster_document_config(c, env)?))).collect()
    }

    /// The flags and variables that say which cluster and how to authenticate (not timeouts and
    /// retries, which apply to a cluster document's connection too).
    fn cluster_settings_given(&self, env: &dyn Fn(&str) -> Option<String>) -> Vec<&'static str> {
        let set = |v: Option<String>| v.is_some_and(|v| !v.trim().is_empty());
        let tls = &self.tls;
        [
            (self.flink_url.is_some(), "--flink-url/FLINK_URL"),
            (self.flink_token_file.is_some(), "--flink-token-file"),
            (set(env(TOKEN_ENV)), TOKEN_ENV),
            (self.flink_username.is_some(), "--flink-username"),
            (self.flink_password_file.is_some(), "--flink-password-file"),
            (set(env(PASSWORD_ENV)), PASSWORD_ENV),
            (!self.flink_headers.is_empty(), "--flink-header"),
            (set(env(HEADERS_ENV)), HEADERS_ENV),
            (!tls.ca_cert.is_empty(), "--ca-cert"),
            (tls.client_cert.is_some() || tls.client_key.is_some(), "--client-cert/--client-key"),
            (tls.insecure_skip_tls_verify, "--insecure-skip-tls-verify"),
        ]
        .into_iter()
        .filter_map(|(given, name)| given.then_some(name))
        .collect()
    }

    /// A cluster document as a client configuration: its references read now (files and
    /// variables, so a rotated token is picked up by the next run), timeouts from the flags.
    fn cluster_document_config(
        &self,
        cluster: &Cluster,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ClientConfig, ConnectionError> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let unset = |what: &str, var: &str| ConnectionError::ClusterVariableUnset {
            cluster: cluster.name.clone(),
            origin: cluster.origin.clone(),
            what: what.to_owned(),
            var: var.to_owned(),
        };
        let mut config = ClientConfig::new(&cluster.url);
        let from_env = match &cluster.token_env {
            Some(var) => Some(env(var).ok_or_else(|| unset("bearer token", var))?),
            None => None,
        };
        let token =
            one_secret(from_env, cluster.token_file.as_deref(), "bearer token", ("tokenEnv", "tokenFile"))?;
        config.auth = match (token, &cluster.basic_auth) {
            (Some(_), Some(_)) => return Err(ConnectionError::Conflict("tokenFile/tokenEnv", "basicAuth")),
            (Some(token), None) => Auth::Bearer(token),
            (None, Some(basic)) => cluster_basic_auth(basic, &env, &unset)?,
            (None, None) => Auth::None,
        };
        config.headers = cluster
            .headers_from_env
            .iter()
            .map(|(name, var)| {
                let value = env(var).ok_or_else(|| unset(&format!("header `{name}`"), var))?;
                Ok((name.clone(), Secret::new(value.trim().to_owned())))
            })
            .collect::<Result<_, ConnectionError>>()?;
        config.tls.ca_certs_pem =
            cluster.ca_file.iter().map(|p| read("CA certificate", p)).collect::<Result<_, _>>()?;
        config.tls.client_identity = match (&cluster.client_cert_file, &cluster.client_key_file) {
            (Some(cert), Some(key)) => Some(ClientIdentity {
                cert_pem: read("client certificate", cert)?,
                key_pem: Secret::new(read("client key", key)?),
            }),
            _ => None,
        };
        config.tls.insecure_skip_verify = cluster.insecure_skip_tls_verify;
        if cluster.insecure_skip_tls_verify {
            tracing::warn!(
                "TLS certificate verification is off for cluster `{}` (insecureSkipTlsVerify: true, {}): \
                 anyone on the network path can read and change the traffic to Flink, credentials included",
                cluster.name,
                cluster.origin
            );
        }
        self.apply_limits(&mut config);
        Ok(config)
    }

    /// Timeouts and retries, which the flags set for every connection.
    fn apply_limits(&self, config: &mut ClientConfig) {
        config.connect_timeout = self.connect_timeout;
        config.request_timeout = self.request_timeout;
        config.upload_timeout = self.upload_timeout;
        config.retry = RetryPolicy { max_retries: self.retries, ..RetryPolicy::default() };
    }

    /// The client configuration, reading secrets from the process environment.
    pub fn client_config(&self) -> Result<ClientConfig, ConnectionError> {
        self.client_config_with(&|name| std::env::var(name).ok())
    }

    /// The client configuration, reading the secret-only variables through `env` (for tests:
    /// edition 2024 makes changing the process environment `unsafe`).
    pub fn client_config_with(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ClientConfig, ConnectionError> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let url = self.flink_url.as_deref().map(str::trim).filter(|u| !u.is_empty());
        let mut config = ClientConfig::new(url.ok_or(ConnectionError::MissingUrl)?);
        config.auth = self.auth(&env)?;
        config.headers = self.headers(&env)?;
        config.tls.ca_certs_pem =
            self.tls.ca_cert.iter().map(|p| read("CA certificate", p)).collect::<Result<_, _>>()?;
        config.tls.client_identity = self.client_identity()?;
        config.tls.insecure_skip_verify = self.tls.insecure_skip_tls_verify;
        if self.tls.insecure_skip_tls_verify {
            tracing::warn!(
                "TLS certificate verification is off (--insecure-skip-tls-verify): anyone on the \
                 network path can read and change the traffic to Flink, credentials included"
            );
        }
        self.apply_limits(&mut config);
        Ok(config)
    }

    fn auth(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Auth, ConnectionError> {
        let token = one_secret(
            env(TOKEN_ENV),
            self.flink_token_file.as_deref(),
            "bearer token",
            (TOKEN_ENV, "--flink-token-file"),
        )?;
        let password = one_secret(
            env(PASSWORD_ENV),
            self.flink_password_file.as_deref(),
            "password",
            (PASSWORD_ENV, "--flink-password-file"),
        )?;
        let username = self.flink_username.as_deref().map(str::trim).filter(|u| !u.is_empty());
        match (token, username, password) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                Err(ConnectionError::Conflict("a bearer token", "basic auth"))
            }
            (Some(token), None, None) => Ok(Auth::Bearer(token)),
            (None, Some(username), Some(password)) => {
                Ok(Auth::Basic { username: username.to_owned(), password })
            }
            (None, Some(_), None) | (None, None, Some(_)) => Err(ConnectionError::IncompleteBasicAuth),
            (None, None, None) => Ok(Auth::None),
        }
    }

    fn headers(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<(String, Secret<String>)>, ConnectionError> {
        let from_env;
        let on_command_line = !self.flink_headers.is_empty();
        let raw: Vec<&str> = if on_command_line {
            self.flink_headers.iter().map(String::as_str).collect()
        } else {
            from_env = env(HEADERS_ENV).unwrap_or_default();
            split_header_list(&from_env)
        };
        raw.iter()
            .enumerate()
            .map(|(i, h)| {
                let (name, value) = h.split_once(':').ok_or(ConnectionError::BadHeader { index: i + 1 })?;
                let (name, value) = (name.trim(), value.trim());
                if name.is_empty() {
                    return Err(ConnectionError::BadHeader { index: i + 1 });
                }
                let value =
                    if on_command_line { header_reference(name, value, env)? } else { value.to_owned() };
                Ok((name.to_owned(), Secret::new(value)))
            })
            .collect()
    }

    fn client_identity(&self) -> Result<Option<ClientIdentity>, ConnectionError> {
        match (&self.tls.client_cert, &self.tls.client_key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Ok(Some(ClientIdentity {
                cert_pem: read("client certificate", cert)?,
                key_pem: Secret::new(read("client key", key)?),
            })),
            _ => Err(ConnectionError::IncompleteClientCert),
        }
    }
}

/// A cluster document's `basicAuth`, its references read now.
fn cluster_basic_auth(
    basic: &BasicAuth,
    env: &dyn Fn(&str) -> Option<String>,
    unset: &dyn Fn(&str, &str) -> ConnectionError,
) -> Result<Auth, ConnectionError> {
    let resolve = |what: &'static str, r: &Reference| -> Result<String, ConnectionError> {
        match r {
            Reference::Literal(value) => Ok(value.trim().to_owned()),
            Reference::Env(var) => env(var).map(|v| v.trim().to_owned()).ok_or_else(|| unset(what, var)),
            Reference::File(path) => Ok(one_secret(None, Some(path), what, ("", ""))?
                .map(|s| s.expose().clone())
                .unwrap_or_default()),
        }
    };
    let username = resolve("basic-auth user name", &basic.username)?;
    let password = Secret::new(resolve("basic-auth password", &basic.password)?);
    Ok(Auth::Basic { username, password })
}

/// One line per header; a single line may list several, comma-separated.
fn split_header_list(list: &str) -> Vec<&str> {
    let sep = if list.contains('\n') { '\n' } else { ',' };
    list.split(sep).map(str::trim).filter(|h| !h.is_empty()).collect()
}

/// A secret from an environment variable or a file, not both; files are trimmed (trailing newline).
fn one_secret(
    from_env: Option<String>,
    file: Option<&Path>,
    what: &'static str,
    names: (&'static str, &'static str),
) -> Result<Option<Secret<String>>, ConnectionError> {
    match (from_env, file) {
        (Some(_), Some(_)) => Err(ConnectionError::Conflict(names.0, names.1)),
        (Some(value), None) => Ok(Some(Secret::new(value.trim().to_owned()))),
        (None, Some(path)) => {
            let bytes = read(what, path)?;
            let value = String::from_utf8_lossy(&bytes).trim().to_owned();
            if value.is_empty() {
                return Err(ConnectionError::Empty { what: format!("{what} file {}", path.display()) });
            }
            Ok(Some(Secret::new(value)))
        }
        (None, None) => Ok(None),
    }
}

/// The value a `--flink-header` refers to: `${VAR}` from the environment, `@FILE` a file's
/// contents (trimmed). A literal value is refused: the command line is visible to `ps`.
fn header_reference(
    name: &str,
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConnectionError> {
    if let Some(var) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
        return env(var).map(|v| v.trim().to_owned()).ok_or_else(|| ConnectionError::HeaderVariableUnset {
            name: name.to_owned(),
            var: var.to_owned(),
        });
    }
    if let Some(path) = value.strip_prefix('@') {
        let bytes = read("header value", Path::new(path))?;
        let text = String::from_utf8_lossy(&bytes).trim().to_owned();
        if text.is_empty() {
            return Err(ConnectionError::Empty { what: format!("header value file {path}") });
        }
        return Ok(text);
    }
    Err(ConnectionError::HeaderValueOnCommandLine { name: name.to_owned() })
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, ConnectionError> {
    std::fs::read(path).map_err(|source| ConnectionError::Unreadable { what, path: path.to_owned(), source })
}

/// A positive duration such as `30s`, `5m`, `1h 30m` or `PT90S` (parsed by jiff).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let expected = "expected a duration such as 30s, 5m or 1h 30m";
    let d: jiff::SignedDuration = s.trim().parse().map_err(|e| format!("{expected}: {e}"))?;
    crate::spec::read::check_max_duration(s, d)?;
    match Duration::try_from(d) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!("{expected}, greater than zero")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Write;

    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        conn: ConnectionArgs,
    }

    /// Flags parsed by clap, with the `FLINK*` environment of this process ignored.
    fn args(flags: &[&str]) -> ConnectionArgs {
        let mut argv = vec!["t", "--flink-url", "http://127.0.0.1:8081"];
        argv.extend_from_slice(flags);
        Cli::try_parse_from(argv).unwrap().conn
    }

    fn config(args: &ConnectionArgs, env: &[(&str, &str)]) -> Result<ClientConfig, ConnectionError> {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        args.client_config_with(&|k| env.get(k).cloned())
    }

    fn file(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    #[test]
    fn durations_accept_friendly_and_iso_forms() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("PT90S").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("-5s").is_err());
    }

    #[test]
    fn defaults_are_ten_seconds_thirty_seconds_and_ten_minutes() {
        let c = config(&args(&[]), &[]).unwrap();
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.upload_timeout, Duration::from_secs(600));
        assert!(matches!(c.auth, Auth::None));
        assert!(!c.tls.insecure_skip_verify);
    }

    #[test]
    fn a_missing_url_is_a_clear_error() {
        let mut a = args(&[]);
        a.flink_url = None;
        let err = config(&a, &[]).unwrap_err();
        assert!(err.to_string().contains("FLINK_URL"), "{err}");
    }

    #[test]
    fn the_token_comes_from_the_environment_or_a_trimmed_file() {
        let c = config(&args(&[]), &[(TOKEN_ENV, "abc")]).unwrap();
        assert!(matches!(c.auth, Auth::Bearer(ref t) if t.expose() == "abc"));
        let f = file("from-file\n");
        let c = config(&args(&["--flink-token-file", f.path().to_str().unwrap()]), &[]).unwrap();
        assert!(matches!(c.auth, Auth::Bearer(ref t) if t.expose() == "from-file"));
    }

    #[test]
    fn a_token_and_basic_auth_together_are_rejected() {
        let err =
            config(&args(&["--flink-username", "u"]), &[(TOKEN_ENV, "t"), (PASSWORD_ENV, "p")]).unwrap_err();
        assert!(matches!(err, ConnectionError::Conflict(..)), "{err}");
    }

    #[test]
    fn basic_auth_needs_user_and_password() {
        let c = config(&args(&["--flink-username", "u"]), &[(PASSWORD_ENV, "p")]).unwrap();
        assert!(matches!(c.auth, Auth::Basic { ref username, .. } if username == "u"));
        assert!(matches!(
            config(&args(&["--flink-username", "u"]), &[]),
            Err(ConnectionError::IncompleteBasicAuth)
        ));
        assert!(matches!(
            config(&args(&[]), &[(PASSWORD_ENV, "p")]),
            Err(ConnectionError::IncompleteBasicAuth)
        ));
    }

    #[test]
    fn an_unreadable_file_names_the_path_but_no_secret() {
        let err = config(&args(&["--flink-password-file", "/nonexistent/pw", "--flink-username", "u"]), &[])
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/pw"), "{err}");
    }

    #[test]
    fn headers_come_from_flags_by_reference_or_from_the_environment_split_by_lines_or_commas() {
        let f = file("from-a-file\n");
        let from_file = format!("X-B:@{}", f.path().display());
        let c = config(
            &args(&["--flink-header", "X-A: ${A_VALUE}", "--flink-header", &from_file]),
            &[("A_VALUE", "1, 2")],
        )
        .unwrap();
        let names: Vec<_> = c.headers.iter().map(|(n, v)| (n.as_str(), v.expose().as_str())).collect();
        assert_eq!(names, [("X-A", "1, 2"), ("X-B", "from-a-file")]);
        let c = config(&args(&[]), &[(HEADERS_ENV, "X-A: 1\nX-B: 2\n")]).unwrap();
        assert_eq!(c.headers.len(), 2);
        let c = config(&args(&[]), &[(HEADERS_ENV, "X-A: 1,X-B: 2")]).unwrap();
        assert_eq!(c.headers[1].0, "X-B");
    }

    #[test]
    fn a_header_value_on_the_command_line_is_refused_without_echoing_it() {
        let err = config(&args(&["--flink-header", "X-Key: s3cr3t-in-argv"]), &[]).unwrap_err();
        assert!(matches!(err, ConnectionError::HeaderValueOnCommandLine { .. }), "{err:?}");
        assert!(!err.to_string().contains("s3cr3t") && err.to_string().contains("ps"), "{err}");
        assert!(err.help().contains("${VAR}") && err.help().contains("FLINKOPS_FLINK_HEADERS"));
        let err = config(&args(&["--flink-header", "X-Key: ${NOT_SET}"]), &[]).unwrap_err();
        assert!(err.to_string().contains("NOT_SET"), "{err}");
    }

    #[test]
    fn a_header_without_a_colon_is_rejected_without_echoing_it() {
        let err = config(&args(&["--flink-header", "secretvalue"]), &[]).unwrap_err();
        assert!(matches!(err, ConnectionError::BadHeader { index: 1 }));
        assert!(!err.to_string().contains("secretvalue"));
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let cert = file("cert");
        let err = config(&args(&["--client-cert", cert.path().to_str().unwrap()]), &[]).unwrap_err();
        assert!(matches!(err, ConnectionError::IncompleteClientCert));
    }

    #[test]
    fn retries_and_timeouts_are_passed_on() {
        let c =
            config(&args(&["--retries", "0", "--request-timeout", "2m", "--upload-timeout", "1h 30m"]), &[])
                .unwrap();
        assert_eq!(c.retry.max_retries, 0);
        assert_eq!(c.request_timeout, Duration::from_secs(120));
        assert_eq!(c.upload_timeout, Duration::from_secs(5400));
    }

    fn document(basic_auth: Option<BasicAuth>, insecure: bool) -> BTreeMap<String, Cluster> {
        let cluster = Cluster {
            name: "prod".into(),
            origin: "c.yaml:3".into(),
            url: "https://flink.example.com/".into(),
            token_file: None,
            token_env: None,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            headers_from_env: vec![],
            basic_auth,
            insecure_skip_tls_verify: insecure,
            savepoint_directory: None,
        };
        BTreeMap::from([("prod".to_string(), cluster)])
    }

    #[test]
    fn a_cluster_documents_basic_auth_and_insecure_tls_reach_the_client_config() {
        let mut a = args(&[]);
        a.flink_url = None;
        let basic =
            BasicAuth { username: Reference::Literal("ops".into()), password: Reference::Env("PW".into()) };
        let env: HashMap<String, String> = HashMap::from([("PW".into(), "pa55\n".into())]);
        let c = a.client_config_for_with(&document(Some(basic), true), &|k| env.get(k).cloned()).unwrap();
        assert!(
            matches!(c.auth, Auth::Basic { ref username, ref password } if username == "ops" && password.expose() == "pa55")
        );
        assert!(c.tls.insecure_skip_verify);
        let c = a.client_config_for_with(&document(None, false), &|_| None).unwrap();
        assert!(matches!(c.auth, Auth::None) && !c.tls.insecure_skip_verify);
    }

    #[test]
    fn debug_output_of_the_config_shows_no_secret() {
        let c = config(&args(&["--flink-header", "X-Key: ${KEY}"]), &[(TOKEN_ENV, "t0ken"), ("KEY", "k3y")])
            .unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("t0ken") && !debug.contains("k3y"), "{debug}");
    }
}

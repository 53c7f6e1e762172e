//! TLS and mutual TLS against a real HTTPS server on 127.0.0.1: a throw-away CA and certificates
//! made per test (rcgen), a tiny server that answers like Flink (tokio-rustls), and a client built
//! from the same flags a user passes (`ConnectionArgs`), or the built binary itself.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use clap::Parser;
use flinkops::cli::{Cli, Command, ConnectionArgs};
use flinkops::flink::{Client, Error};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};

use crate::support::flinkops;

/// What Flink 2.3 answers on `GET /config` (`ClusterConfig` needs only `flink-version`).
const CONFIG: &str = r#"{"flink-version":"2.3.0","refresh-interval":3000,"timezone-name":"UTC","timezone-offset":0,"features":{}}"#;

// ---------------------------------------------------------------------------------------------
// Certificates

/// A throw-away certificate authority.
struct Ca {
    pem: String,
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate signed by a [`Ca`], with its key.
struct Leaf {
    pem: String,
    der: CertificateDer<'static>,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { pem: cert.pem(), der: cert.der().clone(), issuer: Issuer::new(params, key) }
    }

    /// A certificate for `names` (IP addresses or DNS names), for a server or a client.
    fn sign(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, "flinkops test");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf { pem: cert.pem(), der: cert.der().clone(), key }
    }

    fn server(&self, names: &[&str]) -> Leaf {
        self.sign(names, ExtendedKeyUsagePurpose::ServerAuth)
    }

    fn client(&self) -> Leaf {
        self.sign(&["flinkops-client"], ExtendedKeyUsagePurpose::ClientAuth)
    }
}

/// PEM files for the client to read, in a directory removed when the test ends.
struct Pems(tempfile::TempDir);

impl Pems {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn write(&self, name: &str, pem: &str) -> String {
        let path: PathBuf = self.0.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// Server

/// An HTTPS server on 127.0.0.1 answering `GET [/prefix]/config` and `GET [/prefix]/jobs/overview`
/// like Flink. It stops when dropped (and in any case with the test's runtime).
struct Server {
    addr: SocketAddr,
    /// TCP connections accepted, handshake or not.
    connections: Arc<AtomicUsize>,
    /// Request lines (`GET /config`) that got through the handshake.
    requests: Arc<Mutex<Vec<String>>>,
    /// Why handshakes failed, as the server saw it.
    handshake_errors: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    fn handshake_errors(&self) -> Vec<String> {
        self.handshake_errors.lock().unwrap().clone()
    }
}

/// Serve `cert`; with `client_ca`, require a client certificate signed by it.
async fn serve(cert: &Leaf, client_ca: Option<&Ca>) -> Server {
    let acceptor = TlsAcceptor::from(Arc::new(server_config(cert, client_ca)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let handshake_errors = Arc::new(Mutex::new(Vec::new()));
    let (count, seen, failed) = (connections.clone(), requests.clone(), handshake_errors.clone());
    let task = tokio::spawn(async move {
        // Connections live in this set, so aborting the accept loop aborts them too.
        let mut open = JoinSet::new();
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let (acceptor, seen, failed) = (acceptor.clone(), seen.clone(), failed.clone());
            open.spawn(async move {
                match acceptor.accept(tcp).await {
                    Ok(tls) => drop(answer(tls, &seen).await),
                    Err(e) => failed.lock().unwrap().push(e.to_string()),
                }
            });
            while open.try_join_next().is_some() {}
        }
    });
    Server { addr, connections, requests, handshake_errors, task }
}

/// The server's TLS settings, with an explicit crypto provider: rustls panics when it has to
/// guess one and the process has more than one (reqwest brings aws-lc-rs).
fn server_config(cert: &Leaf, client_ca: Option<&Ca>) -> ServerConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder =
        ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(ca.der.clone()).unwrap();
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key.serialize_der()));
    builder.with_single_cert(vec![cert.der.clone()], key).unwrap()
}

/// Read one request head, record its request line, answer and close.
async fn answer(
    mut tls: impl AsyncRead + AsyncWrite + Unpin,
    seen: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tls.read(&mut buf).await?;
        if n == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let line: Vec<&str> = head.lines().next().unwrap_or_default().split(' ').collect();
    let (method, path) = (line[0], line.get(1).copied().unwrap_or_default());
    seen.lock().unwrap().push(format!("{method} {path}"));
    let (status, body) = match (method, path.strip_prefix("/prefix").unwrap_or(path)) {
        ("GET", "/config") => ("200 OK", CONFIG),
        ("GET", "/jobs/overview") => ("200 OK", r#"{"jobs":[]}"#),
        _ => ("404 Not Found", r#"{"errors":["Not found: /unknown"]}"#),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(response.as_bytes()).await?;
    tls.shutdown().await
}

// ---------------------------------------------------------------------------------------------
// Client

/// The connection flags of `flinkops status --flink-url <url> <flags>`, as a user passes them.
fn connection(url: &str, flags: &[&str]) -> ConnectionArgs {
    let mut argv = vec!["flinkops", "status", "--flink-url", url];
    argv.extend_from_slice(flags);
    let Command::Status(status) = Cli::try_parse_from(argv).unwrap().command else {
        unreachable!("the command line says status")
    };
    status.connection
}

/// The client those flags make (no secrets in the environment).
fn client(url: &str, flags: &[&str]) -> Client {
    let config = connection(url, flags).client_config_with(&|_| None).unwrap();
    Client::new(config).unwrap()
}

/// `GET /config` through a client made from `flags`.
async fn flink_version(url: &str, flags: &[&str]) -> Result<String, Error> {
    client(url, flags).config().await.map(|c| c.flink_version)
}

/// The reason of a TLS error, or a panic naming what came instead.
fn tls_reason(result: Result<String, Error>) -> String {
    match result {
        Err(Error::Tls { reason, .. }) => reason,
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

/// Run the built binary on a blocking thread, so that the server keeps serving meanwhile.
async fn run_binary(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || flinkops().args(&args).output().unwrap()).await.unwrap()
}

fn status_args(url: &str, flags: &[&str]) -> Vec<String> {
    let mut args: Vec<String> =
        ["status", "--color", "never", "--flink-url", url].iter().map(|s| (*s).to_owned()).collect();
    args.extend(flags.iter().map(|s| (*s).to_owned()));
    args
}

// ---------------------------------------------------------------------------------------------
// Server verification

#[tokio::test]
async fn a_server_signed_by_an_unknown_ca_is_refused_by_default_with_a_hint_about_ca_cert() {
    let ca = Ca::new("private CA");
    let server = serve(&ca.server(&["127.0.0.1", "localhost"]), None).await;
    let err = flink_version(&server.url(), &[]).await.unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!("GET /config: TLS handshake with {}", server.url())),
        "{err}"
    );
    assert!(err.help().unwrap().contains("--ca-cert"), "{:?}", err.help());
    // Not worth repeating: one connection, and no request got through.
    assert!(!err.is_transient());
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[tokio::test]
async fn the_ca_given_with_ca_cert_is_trusted_also_under_a_path_prefix() {
    let ca = Ca::new("private CA");
    let server = serve(&ca.server(&["127.0.0.1"]), None).await;
    let pems = Pems::new();
    let ca_file = pems.write("ca.pem", &ca.pem);
    assert_eq!(flink_version(&server.url(), &["--ca-cert", &ca_file]).await.unwrap(), "2.3.0");
    let prefixed = client(&format!("{}/prefix/", server.url()), &["--ca-cert", &ca_file]);
    assert_eq!(prefixed.version().await.unwrap().to_string(), "2.3.0");
    assert_eq!(server.requests(), ["GET /config", "GET /prefix/config"]);
}

#[tokio::test]
async fn the_status_command_trusts_the_ca_cert_and_says_there_are_no_jobs() {
    let ca = Ca::new("private CA");
    let server = serve(&ca.server(&["127.0.0.1"]), None).await;
    let pems = Pems::new();
    let ca_file = pems.write("ca.pem", &ca.pem);
    let out = run_binary(status_args(&server.url(), &["--ca-cert", &ca_file])).await;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(stdout, format!("Flink 2.3.0 at {}\nNo jobs.\n", server.url()));
    assert_eq!(server.requests(), ["GET /config", "GET /jobs/overview"]);
}

#[tokio::test]
async fn the_status_command_without_ca_cert_fails_with_the_tls_hint() {
    let ca = Ca::new("private CA");
    let server = serve(&ca.server(&["127.0.0.1"]), None).await;
    let out = run_binary(status_args(&server.url(), &[])).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("error: GET /config: TLS handshake with {} failed", server.url())),
        "{stderr}"
    );
    assert!(stderr.contains("hint: ") && stderr.contains("--ca-cert"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn a_ca_that_did_not_sign_the_server_certificate_is_not_enough() {
    let (ca, other) = (Ca::new("private CA"), Ca::new("another CA"));
    let server = serve(&ca.server(&["127.0.0.1"]), None).await;
    let pems = Pems::new();
    let other_file = pems.write("other.pem", &other.pem);
    let reason = tls_reason(flink_version(&server.url(), &["--ca-cert", &other_file]).await);
    assert!(reason.to_lowercase().contains("issuer"), "{reason}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_certificate_for_another_host_name_is_refused() {
    let ca = Ca::new("private CA");
    let server = serve(&ca.server(&["localhost"]), None).await;
    let pems = Pems::new();
    let ca_file = pems.write("ca.pem", &ca.pem);
    let reason = tls_reason(flink_version(&server.url(), &["--ca-cert", &ca_file]).await);
    // Trusted issuer, wrong name: the reason must be the name, not the CA.
    assert!(reason.contains("not valid for name"), "{reason}");
    let err = flink_version(&server.url(), &["--ca-cert", &ca_file]).await.unwrap_err();
    assert!(err.help().unwrap().contains("host name in --flink-url"), "{:?}", err.help());
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn insecure_skip_tls_verify_accepts_an_unknown_issuer_and_a_wrong_name() {
    let stranger = Ca::new("nobody we know");
    let server = serve(&stranger.server(&["flink.example.com"]), None).await;
    let flags = ["--insecure-skip-tls-verify"];
    assert_eq!(flink_version(&server.url(), &flags).await.unwrap(), "2.3.0");
}

#[tokio::test]
async fn the_status_command_warns_on_stderr_when_verification_is_off() {
    let stranger = Ca::new("nobody we know");
    let server = serve(&stranger.server(&["flink.example.com"]), None).await;
    let out = run_binary(status_args(&server.url(), &["--insecure-skip-tls-verify"])).await;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.ends_with("No jobs.\n"), "{stdout}");
    assert!(stderr.contains("WARN") && stderr.contains("TLS certificate verification is off"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Mutual TLS

/// A server that requires a client certificate signed by `client_ca`, the CA file that trusts
/// the server, and the client's certificate and key files.
struct Mtls {
    server: Server,
    ca_file: String,
    cert_file: String,
    key_file: String,
    _pems: Pems,
}

async fn mtls_server() -> Mtls {
    let (server_ca, client_ca) = (Ca::new("server CA"), Ca::new("client CA"));
    let server = serve(&server_ca.server(&["127.0.0.1"]), Some(&client_ca)).await;
    let client = client_ca.client();
    let pems = Pems::new();
    Mtls {
        server,
        ca_file: pems.write("ca.pem", &server_ca.pem),
        cert_file: pems.write("client.pem", &client.pem),
        key_file: pems.write("client.key", &client.key.serialize_pem()),
        _pems: pems,
    }
}

#[tokio::test]
async fn a_client_certificate_signed_by_the_ca_the_server_trusts_is_accepted() {
    let m = mtls_server().await;
    let flags = ["--ca-cert", &m.ca_file, "--client-cert", &m.cert_file, "--client-key", &m.key_file];
    assert_eq!(flink_version(&m.server.url(), &flags).await.unwrap(), "2.3.0");
    assert_eq!(m.server.requests(), ["GET /config"]);
}

#[tokio::test]
async fn without_a_client_certificate_the_server_refuses_and_the_error_says_tls() {
    let m = mtls_server().await;
    let err = flink_version(&m.server.url(), &["--ca-cert", &m.ca_file]).await.unwrap_err();
    // With TLS 1.3 the client finishes its side of the handshake before the server reads the
    // (missing) certificate, so the refusal arrives as an alert in place of the answer.
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(err.help().unwrap().contains("--client-cert"), "{:?}", err.help());
    assert!(!err.is_transient(), "{err:?}");
    assert_eq!(m.server.connections.load(Ordering::SeqCst), 1, "a refused certificate is not retried");
    assert!(m.server.requests().is_empty(), "{:?}", m.server.requests());
    let refused = m.server.handshake_errors();
    assert!(refused.len() == 1 && refused[0].contains("certificate"), "{refused:?}");
}

#[tokio::test]
async fn a_client_certificate_without_its_key_is_a_configuration_error_before_any_connection() {
    let m = mtls_server().await;
    let args = connection(&m.server.url(), &["--ca-cert", &m.ca_file, "--client-cert", &m.cert_file]);
    // `ConnectionError` is not exported; its message is what the user sees.
    let err = args.client_config_with(&|_| None).unwrap_err();
    assert_eq!(err.to_string(), "mutual TLS needs both --client-cert and --client-key");
    let flags = ["--ca-cert", &m.ca_file, "--client-cert", &m.cert_file];
    let out = run_binary(status_args(&m.server.url(), &flags)).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: mutual TLS needs both --client-cert and --client-key"), "{stderr}");
    assert_eq!(m.server.connections.load(Ordering::SeqCst), 0);
}

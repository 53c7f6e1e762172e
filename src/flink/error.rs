//! `flink::Error`: every way a Flink call can fail, as kinds a caller can match, each with the call
//! that failed, the job where relevant, Flink's root cause (never the stack) and a hint.
//!
//! Owns the mapping from HTTP answers and transport failures to kinds. It must never put a secret
//! (token, password, header value, credentials in a URL) into a message.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::ids::{JobId, TriggerId};

/// The call that failed: method and path relative to the base URL (no host, no credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: reqwest::Method,
    pub path: String,
}

impl Call {
    pub fn new(method: reqwest::Method, path: impl Into<String>) -> Self {
        Self { method, path: path.into() }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// ` (job <id>)` when the call concerns a job whose id is not already in the path.
fn on(job: &Option<JobId>, call: &Call) -> String {
    match job {
        Some(id) if !call.path.contains(id.as_str()) => format!(" (job {id})"),
        _ => String::new(),
    }
}

fn secs(d: &Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing listens at the URL (the request was never sent).
    #[error("{call}: connection refused by {url}")]
    ConnectionRefused { call: Call, url: String },

    /// DNS failure, no route, connect timeout: the request was never sent.
    #[error("{call}: cannot reach {url}: {reason}")]
    Unreachable { call: Call, url: String, reason: String },

    /// The TLS handshake failed (unknown CA, wrong host name, client certificate refused).
    #[error("{call}: TLS handshake with {url} failed: {reason}")]
    Tls { call: Call, url: String, reason: String },

    /// The connection broke during a call that is safe to repeat.
    #[error("{call}: connection to Flink lost: {reason}")]
    ConnectionLost { call: Call, reason: String },

    /// No answer within the request timeout, for a call that is safe to repeat.
    #[error("{call}: no answer from Flink within {}", secs(.after))]
    Timeout { call: Call, after: Duration },

    /// The command's time limit (`--max-time`) ran out before this call could finish.
    #[error("{call}: not finished within this command's time limit of {}", secs(.limit))]
    OutOfTime { call: Call, limit: Duration },

    /// A write (upload, run) was sent but no answer came back: it may or may not have happened.
    #[error("{call}{}: request sent but the outcome is unknown: {reason}", on(.job, .call))]
    Ambiguous { call: Call, job: Option<JobId>, reason: String },

    /// 401/407: a proxy in front of Flink wants credentials (Flink itself has no HTTP auth).
    #[error("{call}: HTTP {status} Unauthorized, from a proxy in front of Flink")]
    Unauthorized { call: Call, status: u16 },

    /// 403: a proxy in front of Flink refused these credentials.
    #[error("{call}: HTTP 403 Forbidden, from a proxy in front of Flink")]
    Forbidden { call: Call },

    #[error("{call}{}: not found: {cause}", on(.job, .call))]
    NotFound { call: Call, job: Option<JobId>, cause: String },

    /// `DuplicateJobSubmissionException` (≤1.20) / `DuplicateApplicationSubmissionException` (2.x).
    #[error("{call}{}: job id already used on this cluster: {cause}", on(.job, .call))]
    DuplicateJobId { call: Call, job: Option<JobId>, cause: String },

    /// `Cannot find checkpoint or savepoint`: the restore path does not exist or is unreadable.
    #[error("{call}{}: savepoint not found: {cause}", on(.job, .call))]
    SavepointPathNotFound { call: Call, job: Option<JobId>, cause: String },

    /// `Cannot map checkpoint/savepoint state`: an operator of the snapshot is not in the program.
    #[error("{call}{}: savepoint state does not fit the program: {cause}", on(.job, .call))]
    StateNotMappable { call: Call, job: Option<JobId>, cause: String },

    #[error("{call}: entry class not found: {cause}")]
    EntryClassNotFound { call: Call, cause: String },

    /// An answer longer than the client's limit: not read whole.
    #[error("{call}: the answer is longer than {} MiB, the most flinkops reads", .limit >> 20)]
    TooLarge { call: Call, limit: usize },

    /// A 3xx answer. flinkops follows no redirect: one to another host would carry the
    /// credentials, the extra headers and a run request's arguments (resolved secrets) there.
    #[error("{call}: HTTP {status} redirect to {location}, not followed")]
    Redirected { call: Call, status: u16, location: String },

    /// The program's `main()` threw before a job was created.
    #[error("{call}{}: the program failed in main(): {cause}", on(.job, .call))]
    ProgramFailed { call: Call, job: Option<JobId>, cause: String },

    /// The savepoint (or stop-with-savepoint) ended `COMPLETED` with a `failure-cause`.
    #[error("{call}{}: savepoint failed: {cause}", on(.job, .call))]
    SavepointFailed { call: Call, job: Option<JobId>, cause: String },

    /// 404 on the savepoint status: Flink forgot the request (`rest.async.store-duration`).
    #[error("{call}{}: Flink no longer knows savepoint request {trigger}", on(.job, .call))]
    SavepointExpired { call: Call, job: Option<JobId>, trigger: TriggerId },

    /// The savepoint was still in progress when the caller's deadline passed.
    #[error("{call}{}: savepoint still in progress after {}", on(.job, .call), secs(.after))]
    SavepointWaitTimedOut { call: Call, job: Option<JobId>, after: Duration },

    /// Disposing of a savepoint failed (or did not finish in time).
    #[error("{call}: savepoint disposal failed: {cause}")]
    DisposalFailed { call: Call, cause: String },

    /// The jar to upload cannot be read.
    #[error("{call}: cannot read {path}: {reason}")]
    JarUnreadable { call: Call, path: String, reason: String },

    /// Any other HTTP error, with Flink's root cause (or an excerpt of a non-Flink body).
    #[error("{call}{}: HTTP {status}: {cause}", on(.job, .call))]
    Http { call: Call, job: Option<JobId>, status: u16, cause: String },

    /// A 2xx answer whose body is not what Flink sends.
    #[error("{call}: unexpected answer: {detail}")]
    InvalidResponse { call: Call, detail: String },

    /// The client configuration is unusable (bad URL, unreadable certificate…).
    #[error("invalid Flink client configuration: {reason}")]
    Config { reason: String },
}

impl Error {
    /// The call that failed (`None` for configuration errors, which precede any call).
    pub fn call(&self) -> Option<&Call> {
        use Error::*;
        match self {
            ConnectionRefused { call, .. }
            | Unreachable { call, .. }
            | Tls { call, .. }
            | ConnectionLost { call, .. }
            | Timeout { call, .. }
            | OutOfTime { call, .. }
            | Ambiguous { call, .. }
            | Unauthorized { call, .. }
            | Forbidden { call }
            | NotFound { call, .. }
            | DuplicateJobId { call, .. }
            | SavepointPathNotFound { call, .. }
            | StateNotMappable { call, .. }
            | EntryClassNotFound { call, .. }
            | Redirected { call, .. }
            | TooLarge { call, .. }
            | ProgramFailed { call, .. }
            | SavepointFailed { call, .. }
            | SavepointExpired { call, .. }
            | SavepointWaitTimedOut { call, .. }
            | DisposalFailed { call, .. }
            | JarUnreadable { call, .. }
            | Http { call, .. }
            | InvalidResponse { call, .. } => Some(call),
            Config { .. } => None,
        }
    }

    /// The job the failed call concerned, when known.
    pub fn job(&self) -> Option<&JobId> {
        use Error::*;
        match self {
            Ambiguous { job, .. }
            | NotFound { job, .. }
            | DuplicateJobId { job, .. }
            | SavepointPathNotFound { job, .. }
            | StateNotMappable { job, .. }
            | ProgramFailed { job, .. }
            | SavepointFailed { job, .. }
            | SavepointExpired { job, .. }
            | SavepointWaitTimedOut { job, .. }
            | Http { job, .. } => job.as_ref(),
            _ => None,
        }
    }

    /// Whether repeating the same idempotent call may succeed: the network, a timeout, or Flink
    /// being briefly unavailable (503 during leader election, 502/504 from a proxy).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::ConnectionRefused { .. }
            | Error::Unreachable { .. }
            | Error::ConnectionLost { .. }
            | Error::Timeout { .. } => true,
            Error::Http { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }

    /// Whether the request may have reached Flink although no answer came back: the connection
    /// broke or timed out after it was sent. A refused connection or an HTTP answer is `false`.
    pub fn may_have_arrived(&self) -> bool {
        matches!(
            self,
            Error::ConnectionLost { .. }
                | Error::Timeout { .. }
                | Error::OutOfTime { .. }
                | Error::Ambiguous { .. }
        )
    }

    /// What the user can do about it, for the edge to print under the message.
    pub fn help(&self) -> Option<&'static str> {
        use Error::*;
        Some(match self {
            ConnectionRefused { .. } | Unreachable { .. } => {
                "Is Flink running, and is FLINK_URL (--flink-url) the address of its REST API \
                 (the JobManager's rest.port, 8081 by default)?"
            }
            Tls { .. } => {
                "Pass the CA that signed Flink's (or the proxy's) certificate with --ca-cert \
                 (FLINKOPS_CA_CERT), and use a host name in --flink-url that the certificate \
                 names; for mutual TLS also --client-cert and --client-key."
            }
            ConnectionLost { .. } | Timeout { .. } => {
                "Flink or the network is slow or overloaded; check the JobManager, or raise \
                 --request-timeout / --retries."
            }
            OutOfTime { .. } => {
                "Flink answered too slowly for this command to finish in time; check the \
                 JobManager, or raise --max-time (FLINKOPS_MAX_TIME)."
            }
            Ambiguous { .. } => {
                "The request may or may not have taken effect. Look at the cluster (jobs overview, \
                 jar list) before trying again; re-running flinkops does this for you."
            }
            Unauthorized { .. } => {
                "Flink has no HTTP authentication, so a proxy answered. Set FLINKOPS_FLINK_TOKEN \
                 (or --flink-token-file) for a bearer token, or FLINKOPS_FLINK_USERNAME with \
                 FLINKOPS_FLINK_PASSWORD (or --flink-password-file) for basic auth."
            }
            Forbidden { .. } => {
                "A proxy in front of Flink accepted the credentials but refused the call: check \
                 the token's or user's permissions (FLINKOPS_FLINK_TOKEN, FLINKOPS_FLINK_USERNAME)."
            }
            NotFound { .. } => {
                "The cluster does not know it: jobs expire from the job store after they end, and \
                 a restarted cluster forgets jobs and uploaded jars."
            }
            DuplicateJobId { .. } => {
                "Flink accepts each job id only once per cluster lifetime, even after that job \
                 ended or failed. Submit with a new job id."
            }
            SavepointPathNotFound { .. } => {
                "Check that the path exists, contains a _metadata file, and is readable by the \
                 JobManager (shared storage or the same path on every node)."
            }
            StateNotMappable { .. } => {
                "An operator uid changed or was removed. Restore the uid, or allow non-restored \
                 state (allowNonRestoredState), which drops that operator's state."
            }
            EntryClassNotFound { .. } => {
                "Check the entry class name against the jar (GET /jars lists each jar's entry \
                 classes)."
            }
            ProgramFailed { .. } => {
                "The job's main() threw before creating a job (see the message above): check its \
                 arguments and configuration."
            }
            SavepointFailed { .. } => {
                "The job was not stopped. Check that the savepoint directory is writable by the \
                 JobManager and every TaskManager, and that the job's checkpoints succeed."
            }
            SavepointExpired { .. } => {
                "Flink keeps the result of a savepoint request for rest.async.store-duration \
                 (5 min by default). Look for the savepoint in the target directory, or take a \
                 new one."
            }
            SavepointWaitTimedOut { .. } => {
                "The savepoint may still complete: raise the savepoint timeout, or poll again \
                 with the same trigger id."
            }
            DisposalFailed { .. } => {
                "Check that the savepoint path exists and is writable by the JobManager."
            }
            JarUnreadable { .. } => "Check the jar path and its permissions.",
            TooLarge { .. } => {
                "Is FLINK_URL the Flink REST API itself? A Flink answer this long would be a cluster \
                 of far more than 20,000 jobs; a proxy or another server may be sending an endless body."
            }
            Redirected { .. } => {
                "flinkops does not follow redirects, so that credentials, --flink-header values and \
                 the arguments of a run request never reach a host you did not name. Set --flink-url \
                 to the address that answers (the redirect's target, if you trust it)."
            }
            InvalidResponse { .. } => {
                "Is FLINK_URL the Flink REST API itself, including any path prefix of a proxy?"
            }
            Config { .. } => "Check the connection flags (flinkops status --help lists them).",
            Http { .. } => return None,
        })
    }
}

/// The useful line of a Java exception text: the last `Caused by:` line (without that prefix),
/// or the first line when nothing caused it. Stack frames are never returned.
pub fn root_cause(trace: &str) -> String {
    let lines = || trace.lines().map(str::trim).filter(|l| !l.is_empty());
    if let Some(last) = lines().filter_map(|l| l.strip_prefix("Caused by:")).next_back() {
        return last.trim().to_owned();
    }
    lines()
        .map(|l| l.strip_prefix("<Exception on server side:").unwrap_or(l).trim())
        .find(|l| !l.is_empty() && *l != "Internal server error." && !l.starts_with("at "))
        .unwrap_or_default()
        .to_owned()
}

/// Flink's error body: `{"errors":["<Exception>: msg\n\tat …"]}` (4xx) or
/// `{"errors":["Internal server error.","<Exception on server side: …>"]}` (5xx).
#[derive(Deserialize)]
struct FlinkErrorBody {
    errors: Vec<String>,
}

/// How to read a failed HTTP answer.
pub(crate) struct Failure<'a> {
    pub call: Call,
    pub job: Option<JobId>,
    pub status: u16,
    pub body: &'a str,
    /// The call is a write that must not be repeated blindly (upload, run).
    pub write: bool,
}

impl Failure<'_> {
    pub fn into_error(self) -> Error {
        let Failure { call, job, status, body, write } = self;
        match status {
            401 | 407 => return Error::Unauthorized { call, status },
            403 => return Error::Forbidden { call },
            _ => {}
        }
        if write && matches!(status, 502 | 504) {
            // A proxy's gateway error after forwarding: Flink may have acted on the request.
            let reason = format!("HTTP {status} from a proxy: {}", excerpt(body));
            return Error::Ambiguous { call, job, reason };
        }
        let Ok(flink) = serde_json::from_str::<FlinkErrorBody>(body) else {
            let cause = format!("{} (not a Flink error body)", excerpt(body));
            return match status {
                404 => Error::NotFound { call, job, cause },
                _ => Error::Http { call, job, status, cause },
            };
        };
        let text = flink.errors.join("\n");
        classify(call, job, status, &text)
    }
}

/// Map a Flink error text to a kind by the exception names and messages Flink is known to send.
fn classify(call: Call, job: Option<JobId>, status: u16, text: &str) -> Error {
    let cause = root_cause(text);
    // `{"errors": []}`, or only blank lines: say so rather than print `HTTP 500:` and nothing.
    let cause = if cause.is_empty() { "(Flink sent an error without a message)".to_string() } else { cause };
    let has = |needle: &str| text.contains(needle);
    if has("DuplicateJobSubmissionException") || has("DuplicateApplicationSubmissionException") {
        Error::DuplicateJobId { call, job, cause }
    } else if has("Cannot find checkpoint or savepoint") {
        Error::SavepointPathNotFound { call, job, cause }
    } else if has("Cannot map checkpoint/savepoint state") {
        Error::StateNotMappable { call, job, cause }
    } else if has("entry point class") && has("was not found") {
        Error::EntryClassNotFound { call, cause }
    } else if status == 404 || (has("Jar file") && has("does not exist")) {
        // An unknown jar id is a 500 (observed); it means the same as a 404.
        Error::NotFound { call, job, cause }
    } else if call.path.ends_with("/run") && is_program_failure(status, text) {
        Error::ProgramFailed { call, job, cause }
    } else {
        Error::Http { call, job, status, cause }
    }
}

/// `main()` threw: Flink wraps it in a `ProgramInvocationException` ("The main method caused an
/// error"), answered with 400. A malformed request body is also 400 but names no program.
fn is_program_failure(status: u16, text: &str) -> bool {
    text.contains("The main method caused an error")
        || (status == 400 && text.contains("ProgramInvocationException"))
}

/// The first non-empty line of a non-Flink body, shortened: proxies answer with whole HTML pages.
fn excerpt(body: &str) -> String {
    let line = body.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("(empty body)");
    let mut s: String = line.chars().take(160).collect();
    if line.chars().count() > 160 {
        s.push('…');
    }
    s
}

/// How to read a transport failure (no HTTP answer).
pub(crate) struct Transport<'a> {
    pub call: Call,
    pub job: Option<JobId>,
    pub url: &'a str,
    pub timeout: Duration,
    pub write: bool,
}

impl Transport<'_> {
    pub fn into_error(self, err: &reqwest::Error) -> Error {
        let Transport { call, job, url, timeout, write } = self;
        let url = url.to_owned();
        let reason = innermost(err);
        if err.is_builder() {
            Error::Config { reason }
        } else if err.is_connect() {
            // Connecting failed, so nothing was sent: safe to report plainly even for writes.
            if has_io_kind(err, std::io::ErrorKind::ConnectionRefused) {
                Error::ConnectionRefused { call, url }
            } else if looks_like_tls(err) {
                Error::Tls { call, url, reason }
            } else {
                Error::Unreachable { call, url, reason }
            }
        } else if is_tls_alert(err) {
            // TLS 1.3: the client's side of the handshake is done before the server has checked
            // the client certificate, so a refusal comes as an alert in place of the answer. The
            // server dropped the request unread: not ambiguous, and repeating it cannot help.
            Error::Tls { call, url, reason }
        } else if write {
            let reason =
                if err.is_timeout() { format!("no answer within {}", secs(&timeout)) } else { reason };
            Error::Ambiguous { call, job, reason }
        } else if err.is_timeout() {
            Error::Timeout { call, after: timeout }
        } else {
            Error::ConnectionLost { call, reason }
        }
    }
}

fn sources(err: &reqwest::Error) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(std::error::Error::source(err), |e| e.source())
}

/// The deepest cause's message: reqwest's own text repeats the URL, the cause says what happened.
fn innermost(err: &reqwest::Error) -> String {
    sources(err).last().map_or_else(|| err.to_string(), |e| e.to_string())
}

fn has_io_kind(err: &reqwest::Error, kind: std::io::ErrorKind) -> bool {
    sources(err).any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == kind))
}

/// rustls errors reach us as text inside io errors; their wording is the only stable signal.
fn looks_like_tls(err: &reqwest::Error) -> bool {
    sources(err).any(|e| {
        let m = e.to_string().to_ascii_lowercase();
        m.contains("certificate") || m.contains("tls") || m.contains("handshake")
    })
}

/// The peer ended the TLS session with a fatal alert (rustls: `received fatal alert: …`).
fn is_tls_alert(err: &reqwest::Error) -> bool {
    sources(err).any(|e| e.to_string().contains("received fatal alert"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUPLICATE_1_20: &str = "org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\n\tat org.apache.flink.runtime.webmonitor.handlers.JarRunHandler.lambda$handleRequest$1(JarRunHandler.java:114)\n\tat java.base/java.util.concurrent.CompletableFuture.uniHandle(CompletableFuture.java:934)\n\t... 2 more\nCaused by: java.util.concurrent.CompletionException: org.apache.flink.util.FlinkException: Failed to execute job 'counter'.\n\tat java.base/java.util.concurrent.CompletableFuture.encodeThrowable(CompletableFuture.java:315)\nCaused by: org.apache.flink.runtime.client.DuplicateJobSubmissionException: Job has already been submitted.\n\tat org.apache.flink.runtime.dispatcher.Dispatcher.submitJob(Dispatcher.java:527)\n\t... 12 more\n";

    const SERVER_SIDE_500: &str = "<Exception on server side:\norg.apache.flink.client.program.ProgramInvocationException: The program's entry point class 'dev.flinkops.Nope' was not found in the jar file.\n\tat org.apache.flink.client.program.PackagedProgram.loadMainClass(PackagedProgram.java:481)\n\tat org.apache.flink.client.program.PackagedProgram.<init>(PackagedProgram.java:153)\nCaused by: java.lang.ClassNotFoundException: dev.flinkops.Nope\n\tat java.base/java.net.URLClassLoader.findClass(URLClassLoader.java:445)\n\t... 9 more\n\nEnd of exception on server side>";

    fn call_run() -> Call {
        Call::new(reqwest::Method::POST, "/jars/abc_test.jar/run")
    }

    fn body(errors: &[&str]) -> String {
        serde_json::json!({ "errors": errors }).to_string()
    }

    fn fail(status: u16, body: &str) -> Error {
        Failure { call: call_run(), job: None, status, body, write: true }.into_error()
    }

    #[test]
    fn an_error_without_a_message_says_so() {
        let err = fail(500, r#"{"errors": []}"#);
        assert!(err.to_string().ends_with("HTTP 500: (Flink sent an error without a message)"), "{err}");
    }

    #[test]
    fn the_root_cause_is_the_last_caused_by_line_without_the_stack() {
        assert_eq!(
            root_cause(DUPLICATE_1_20),
            "org.apache.flink.runtime.client.DuplicateJobSubmissionException: Job has already been submitted."
        );
    }

    #[test]
    fn without_caused_by_the_root_cause_is_the_first_line() {
        let trace = "java.lang.IllegalStateException: boom\n\tat a.b.C.d(C.java:1)\n";
        assert_eq!(root_cause(trace), "java.lang.IllegalStateException: boom");
        assert_eq!(root_cause("Job could not be found."), "Job could not be found.");
    }

    #[test]
    fn a_server_side_exception_skips_flinks_wrapper_lines() {
        let joined = format!("Internal server error.\n{SERVER_SIDE_500}");
        assert_eq!(root_cause(&joined), "java.lang.ClassNotFoundException: dev.flinkops.Nope");
        let no_cause = "<Exception on server side:\njava.lang.RuntimeException: x\n\tat y\nEnd of exception on server side>";
        assert_eq!(
            root_cause(&format!("Internal server error.\n{no_cause}")),
            "java.lang.RuntimeException: x"
        );
    }

    #[test]
    fn a_duplicate_job_id_is_its_own_kind_in_both_flink_generations() {
        let err = fail(400, &body(&[DUPLICATE_1_20]));
        assert!(matches!(err, Error::DuplicateJobId { .. }), "{err:?}");
        let v2 = "org.apache.flink.runtime.client.DuplicateApplicationSubmissionException: Application has already been submitted.\n\tat x";
        assert!(matches!(fail(400, &body(&[v2])), Error::DuplicateJobId { .. }));
    }

    #[test]
    fn restore_failures_are_told_apart() {
        let missing = "java.io.FileNotFoundException: Cannot find checkpoint or savepoint file/directory 'file:/nope' on file system 'file'.";
        assert!(matches!(fail(400, &body(&[missing])), Error::SavepointPathNotFound { .. }));
        let unmappable = "org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\nCaused by: java.lang.IllegalStateException: Failed to rollback to checkpoint/savepoint file:/sp. Cannot map checkpoint/savepoint state for operator 2b8bd2c7 to the new program, because the operator is not available in the new program.";
        let err = fail(400, &body(&[unmappable]));
        assert!(matches!(err, Error::StateNotMappable { .. }), "{err:?}");
        assert!(err.to_string().contains("Cannot map checkpoint/savepoint state"), "{err}");
    }

    #[test]
    fn a_missing_entry_class_is_reported_with_its_name() {
        let err = fail(500, &body(&["Internal server error.", SERVER_SIDE_500]));
        assert!(matches!(err, Error::EntryClassNotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("dev.flinkops.Nope"));
    }

    #[test]
    fn a_throwing_main_is_a_program_failure_with_the_programs_message() {
        let main = "org.apache.flink.client.program.ProgramInvocationException: The main method caused an error: CounterJob: failing in main() on purpose\n\tat x\nCaused by: java.lang.RuntimeException: CounterJob: failing in main() on purpose (--fail-in-main true)\n\tat y";
        let err = fail(400, &body(&[main]));
        assert!(matches!(err, Error::ProgramFailed { .. }), "{err:?}");
        assert!(
            err.to_string().ends_with("CounterJob: failing in main() on purpose (--fail-in-main true)"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_jar_is_not_found_although_flink_answers_500() {
        let trace = "<Exception on server side:\njava.util.concurrent.CompletionException: org.apache.flink.runtime.rest.handler.RestHandlerException: Jar file /tmp/flink-web-upload/nope.jar does not exist\n\tat org.apache.flink.runtime.webmonitor.handlers.utils.JarHandlerUtils$JarHandlerContext.getJarFile(JarHandlerUtils.java:250)\n\nEnd of exception on server side>";
        let err = fail(500, &body(&["Internal server error.", trace]));
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        assert!(err.to_string().ends_with("Jar file /tmp/flink-web-upload/nope.jar does not exist"), "{err}");
    }

    #[test]
    fn a_malformed_request_is_a_plain_http_error() {
        let err = fail(400, &body(&["Request did not match expected format JarRunRequestBody."]));
        assert!(matches!(err, Error::Http { status: 400, .. }), "{err:?}");
        assert!(err.help().is_none());
    }

    #[test]
    fn a_proxy_login_page_is_unauthorized_with_a_hint_about_credentials() {
        let err = fail(401, "<html><body><h1>401 Authorization Required</h1></body></html>");
        assert!(matches!(err, Error::Unauthorized { status: 401, .. }));
        assert!(err.help().unwrap().contains("FLINKOPS_FLINK_TOKEN"));
    }

    #[test]
    fn a_gateway_error_on_a_write_is_ambiguous_but_on_a_read_is_transient() {
        assert!(matches!(fail(504, "<html>Gateway Timeout</html>"), Error::Ambiguous { .. }));
        let read = Failure {
            call: Call::new(reqwest::Method::GET, "/jobs/overview"),
            job: None,
            status: 503,
            body: "<html>Service Unavailable</html>",
            write: false,
        }
        .into_error();
        assert!(read.is_transient(), "{read:?}");
        assert!(read.to_string().contains("(not a Flink error body)"), "{read}");
    }

    #[test]
    fn the_job_is_named_when_it_is_not_in_the_path() {
        let job: JobId = "0123456789abcdef0123456789abcdef".parse().unwrap();
        let err = Failure {
            call: call_run(),
            job: Some(job.clone()),
            status: 400,
            body: &body(&[DUPLICATE_1_20]),
            write: true,
        }
        .into_error();
        assert!(err.to_string().contains(&format!("(job {job})")), "{err}");
        assert_eq!(err.job(), Some(&job));
        let in_path = Call::new(reqwest::Method::GET, format!("/jobs/{job}"));
        let err = Failure {
            call: in_path,
            job: Some(job.clone()),
            status: 404,
            body: &body(&["Job could not be found."]),
            write: false,
        }
        .into_error();
        assert_eq!(err.to_string(), format!("GET /jobs/{job}: not found: Job could not be found."));
    }
}

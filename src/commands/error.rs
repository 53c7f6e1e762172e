//! The one error of the command edge: every way a command stops before or instead of its work,
//! each declared once, with the one `help()` that says what to do about it. `app` prints it
//! with its hint and exits 1.
//!
//! The modules' own errors (the Flink client's, the connection's, the ledger's cluster identity,
//! the lock, `--target` names, the offline plan's, watch's) stay in their modules and convert with
//! `#[from]`. The hints of those the watch loop and the executor also report (Flink, the
//! connection, the cluster identity, the lock) stay beside them and are asked from here; the
//! others' hints are written here.

use std::path::PathBuf;

use super::offline;

/// Why a command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Flink(#[from] crate::flink::Error),
    #[error(transparent)]
    Connection(#[from] crate::cli::ConnectionError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::Error),
    #[error(transparent)]
    Lock(#[from] crate::apply::lock::LockError),
    #[error(transparent)]
    Confirm(#[from] crate::apply::confirm::ConfirmError),
    #[error(transparent)]
    UnknownName(#[from] crate::plan::control::UnknownName),
    #[error(transparent)]
    Offline(#[from] offline::Error),
    #[error(transparent)]
    Watch(#[from] crate::watch::Error),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// Writing the report of a command that acted (apply, gc, savepoint) failed.
    #[error("cannot write the output")]
    Output(#[source] std::io::Error),
    /// Writing a read-only command's report failed (shown as the I/O error alone).
    #[error(transparent)]
    Write(std::io::Error),
    #[error("cannot read the plan file {path}")]
    PlanFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a flinkops plan: {reason}")]
    NotAPlan { path: PathBuf, reason: String },
    #[error("the saved plan is stale: {0}. Nothing was changed; run `flinkops plan --out` again")]
    Stale(String),
    #[error("a plan file applies the targeting it was planned with; {0} cannot be given with it")]
    ControlWithPlanFile(&'static str),
    #[error("cannot write the plan to {path}")]
    WritePlan { path: PathBuf, source: std::io::Error },
    /// A Flink error on the cluster of the specs' one `kind: FlinkCluster` document, shown as it
    /// is, with a hint that names the document (see [`CommandError::on_document`]).
    #[error(transparent)]
    OnDocument(Box<OnDocument>),
}

/// An error on a cluster document's cluster and the hint that names the document.
#[derive(Debug)]
pub struct OnDocument {
    pub error: CommandError,
    pub hint: String,
}

impl std::fmt::Display for OnDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for OnDocument {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl CommandError {
    /// The error of a run on the specs' cluster: when `clusters` is their one cluster document and
    /// the error is Flink's about its URL, the hint names the document (file:line), not
    /// `FLINK_URL`, which did not give that URL.
    #[must_use]
    pub fn on_document(
        self,
        clusters: &std::collections::BTreeMap<String, crate::spec::clusters::Cluster>,
    ) -> Self {
        let e: &crate::flink::Error = match &self {
            Self::Flink(e) => e,
            Self::Cluster(crate::cluster::Error::Flink(e)) => e,
            _ => return self,
        };
        let [cluster] = clusters.values().collect::<Vec<_>>()[..] else { return self };
        match crate::pipeline::fleet::document_hint(&cluster.name, &cluster.origin, e) {
            Some(hint) => Self::OnDocument(Box::new(OnDocument { error: self, hint })),
            None => self,
        }
    }

    /// What the user can do about it, printed as the hint under the message.
    pub fn help(&self) -> Option<String> {
        let text = match self {
            Self::OnDocument(d) => return Some(d.hint.clone()),
            Self::Flink(e) => return e.help().map(String::from),
            Self::Connection(e) => e.help(),
            Self::Cluster(e) => return e.help(),
            Self::Lock(e) => return Some(e.help()),
            Self::UnknownName(_) => {
                "name a job by its spec `name` (or, for a job whose spec is gone, the name `flinkops plan` \
                 shows); nothing was changed"
            }
            Self::Offline(e) => return offline_help(e).map(String::from),
            Self::Watch(crate::watch::Error::Listen { .. }) => {
                "Pick a free address with --listen (e.g. --listen 127.0.0.1:9811)."
            }
            Self::ControlWithPlanFile(_) => {
                "plan again with the flags you want (`flinkops plan --out`), then apply that plan"
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

fn offline_help(e: &offline::Error) -> Option<&'static str> {
    use offline::Error;
    match e {
        Error::OutUnsupported => {
            Some("drop `--out`, or run the live `flinkops plan --out FILE` against the cluster")
        }
        Error::GitMissing(_) => Some("install git, or compare two directories with `--base BASE_DIR`"),
        Error::NotARepo(_) => Some("run it on a git checkout, or use `--base BASE_DIR`"),
        Error::UnknownRev(_) => Some(
            "fetch it first (`git fetch origin main`); CI checkouts are often shallow: use `fetch-depth: 0` in actions/checkout",
        ),
        Error::InvalidSpecs => Some("fix the errors listed above; each names its tree (base or head)"),
        _ => None,
    }
}

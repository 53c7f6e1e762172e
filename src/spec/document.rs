//! What a YAML document is: a flinkops document (`apiVersion: flinkops.dev/v1` with `kind:
//! FlinkJob` or `kind: FlinkCluster`), another tool's document (a Kubernetes manifest, skipped),
//! or a mistake.
//!
//! Only the header is looked at here; `read` reads the body. A document that looks like it was
//! meant for flinkops (a `flinkops.dev/` apiVersion, a near miss of it, or a flinkops `kind`) is
//! never skipped: a typo must not make a job silently vanish from the desired state (with
//! `--prune`, that would stop it).

use super::read::{Reader, did_you_mean};
use super::yaml::{Node, Value};

/// The one `apiVersion` flinkops reads.
pub const API_VERSION: &str = "flinkops.dev/v1";
/// The API group: any other version of it is an error, not another tool's document.
const API_GROUP: &str = "flinkops.dev/";
/// The kinds of flinkops documents.
pub const KINDS: &[&str] = &["FlinkJob", "FlinkCluster"];

/// The two lines every flinkops job document starts with.
pub const JOB_HEADER: &str = "apiVersion: flinkops.dev/v1\nkind: FlinkJob";

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A job spec.
    Job,
    /// A cluster document.
    Cluster,
    /// Another tool's document (its `apiVersion` is not flinkops'): not read, counted.
    Foreign,
    /// A flinkops document with a broken header; the reasons are in the reader's diagnostics.
    Invalid,
}

impl Reader<'_> {
    /// Classify one document by its `apiVersion` and `kind`, reporting a broken header.
    pub fn classify(&mut self, doc: &Node) -> Class {
        let Value::Map(entries) = &doc.value else {
            // Not a mapping: `job` says what is wrong with it, as before there were kinds.
            return Class::Job;
        };
        let field = |name: &str| {
            entries.iter().find(|(k, _)| matches!(&k.value, Value::Str(s) if s == name)).map(|(_, v)| v)
        };
        let api = field("apiVersion");
        let kind = field("kind");
        let kind_text = kind.and_then(|k| as_str(k));
        match api.map(|a| (a, as_str(a))) {
            None => self.missing_header(doc, kind.map(|k| as_str(k).is_some_and(|k| KINDS.contains(&k)))),
            Some((node, None)) => {
                let d = self.error(node.pos, "wrong-type", "`apiVersion` must be a string".into());
                d.help = Some(format!("write `apiVersion: {API_VERSION}`"));
                Class::Invalid
            }
            Some((_, Some(api))) if api == API_VERSION => self.kind(doc, kind),
            Some((node, Some(api))) if api.starts_with(API_GROUP) || close_to_ours(api) => {
                let d = self.error(
                    node.pos,
                    "unsupported-api-version",
                    format!("`apiVersion: {api}` is not one flinkops reads"),
                );
                d.label = Some(format!("expected `{API_VERSION}`"));
                d.help = Some(format!("write `apiVersion: {API_VERSION}`"));
                Class::Invalid
            }
            Some((node, Some(api))) if kind_text.is_some_and(|k| KINDS.contains(&k)) => {
                let d = self.error(
                    node.pos,
                    "foreign-api-version",
                    format!(
                        "`kind: {}` is a flinkops kind, but `apiVersion: {api}` is not flinkops'",
                        kind_text.unwrap_or_default()
                    ),
                );
                d.label = Some("flinkops skips documents of other apiVersions".into());
                d.help = Some(format!("write `apiVersion: {API_VERSION}`"));
                Class::Invalid
            }
            Some(_) => Class::Foreign,
        }
    }

    fn kind(&mut self, doc: &Node, kind: Option<&Node>) -> Class {
        let Some(kind) = kind else {
            let d = self.error(doc.pos, "missing-kind", "this flinkops document has no `kind`".into());
            d.label = Some("in this document".into());
            d.help = Some("add `kind: FlinkJob` (a job) or `kind: FlinkCluster` (a cluster)".into());
            return Class::Invalid;
        };
        match as_str(kind) {
            Some("FlinkJob") => Class::Job,
            Some("FlinkCluster") => Class::Cluster,
            other => {
                let shown = other.map_or_else(|| kind.value.kind().to_string(), |k| format!("`{k}`"));
                let d = self.error(kind.pos, "unknown-kind", format!("unknown kind {shown}"));
                d.label = Some(format!("expected one of: {}", KINDS.join(", ")));
                d.help = Some(match other.and_then(|k| did_you_mean(k, KINDS)) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => "`kind: FlinkJob` for a job, `kind: FlinkCluster` for a cluster".into(),
                });
                Class::Invalid
            }
        }
    }

    /// `flinkops_kind`: whether the document has a `kind`, and if so whether it is a flinkops one.
    fn missing_header(&mut self, doc: &Node, flinkops_kind: Option<bool>) -> Class {
        let (message, help) = if let Some(ours) = flinkops_kind {
            let help = if ours {
                format!("add `apiVersion: {API_VERSION}`")
            } else {
                "add the document's own `apiVersion` (documents of other tools are skipped), or list the file in .flinkopsignore".into()
            };
            ("this document has a `kind` but no `apiVersion`", help)
        } else {
            (
                "this document does not say what it is (no `apiVersion` and `kind`)",
                format!(
                    "a job spec starts with these two lines:\n  {}\n(a document of another tool needs its own `apiVersion` to be skipped; or list the file in .flinkopsignore)",
                    JOB_HEADER.replace('\n', "\n  ")
                ),
            )
        };
        let d = self.error(doc.pos, "missing-header", message.into());
        d.label = Some("in this document".into());
        d.help = Some(help);
        Class::Invalid
    }
}

fn as_str(node: &Node) -> Option<&str> {
    match &node.value {
        Value::Str(s) => Some(s.as_str()),
        _ => None,
    }
}

/// A near miss of `flinkops.dev/v1` (`flinkop.dev/v1`, `flinkops/v1`): a typo, not another tool.
fn close_to_ours(api: &str) -> bool {
    did_you_mean(api, &[API_VERSION]).is_some() || api.to_ascii_lowercase().contains("flinkops")
}

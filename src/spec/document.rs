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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::spec::diag::SourceFile;
    use crate::spec::yaml::parse_documents;

    /// The class of each document of `text`, and the codes of the diagnostics.
    fn classify(text: &str) -> (Vec<Class>, Vec<&'static str>) {
        let file = SourceFile::new(Path::new("t.yaml"), text);
        let mut reader = Reader::new(&file);
        let classes = parse_documents(text).unwrap().iter().map(|d| reader.classify(d)).collect();
        (classes, reader.diags.iter().map(|d| d.code).collect())
    }

    #[test]
    fn the_two_kinds_are_told_apart_by_kind() {
        let text = "apiVersion: flinkops.dev/v1\nkind: FlinkJob\n---\napiVersion: flinkops.dev/v1\nkind: FlinkCluster\n";
        assert_eq!(classify(text), (vec![Class::Job, Class::Cluster], vec![]));
    }

    #[test]
    fn other_tools_documents_are_foreign_without_a_diagnostic() {
        for text in [
            "apiVersion: v1\nkind: ConfigMap\n",
            "apiVersion: apps/v1\nkind: Deployment\n",
            "apiVersion: x/y\n",
        ] {
            assert_eq!(classify(text), (vec![Class::Foreign], vec![]), "{text}");
        }
    }

    #[test]
    fn a_document_meant_for_flinkops_is_never_skipped() {
        let cases = [
            ("apiVersion: flinkops.dev/v2\nkind: FlinkJob\n", "unsupported-api-version"),
            ("apiVersion: flinkop.dev/v1\nkind: FlinkJob\n", "unsupported-api-version"),
            ("apiVersion: apps/v1\nkind: FlinkCluster\n", "foreign-api-version"),
            ("apiVersion: flinkops.dev/v1\nkind: FlinkJobs\n", "unknown-kind"),
            ("apiVersion: flinkops.dev/v1\nname: a\n", "missing-kind"),
            ("kind: FlinkJob\nname: a\n", "missing-header"),
            ("name: a\njar: a.jar\n", "missing-header"),
            ("apiVersion: 1\nkind: FlinkJob\n", "wrong-type"),
        ];
        for (text, code) in cases {
            assert_eq!(classify(text), (vec![Class::Invalid], vec![code]), "{text}");
        }
    }

    #[test]
    fn the_missing_header_hint_shows_the_two_lines_to_add() {
        let file = SourceFile::new(Path::new("t.yaml"), "name: a\n");
        let mut reader = Reader::new(&file);
        reader.classify(&parse_documents("name: a\n").unwrap()[0]);
        let help = reader.diags[0].help.clone().unwrap();
        assert!(help.contains("  apiVersion: flinkops.dev/v1\n  kind: FlinkJob\n"), "{help}");
    }

    #[test]
    fn a_document_that_is_no_mapping_is_left_to_the_job_reader() {
        assert_eq!(classify("- a\n- b\n"), (vec![Class::Job], vec![]));
    }
}

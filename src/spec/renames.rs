//! `previousNames`: the checks that make a rename unambiguous.
//!
//! An old name must identify one job's past: it may not be the job's own name, the name of a
//! spec that still exists (that job is live under it), or claimed by two specs (which one would
//! take the state?). Each mistake points at the `previousNames` item.

use std::collections::BTreeMap;

use super::diag::Diagnostic;
use super::resolve::Parsed;

/// Check every `previousNames` item of every spec (`specs` by name).
pub fn check(specs: &BTreeMap<&str, &Parsed>, diags: &mut Vec<Diagnostic>) {
    let mut claimed: BTreeMap<&str, &Parsed> = BTreeMap::new();
    for p in specs.values() {
        for old in &p.spec.previous_names {
            let o = old.value.as_str();
            let d = if o == p.spec.name.value {
                Some(
                    Diagnostic::at(
                        &p.file,
                        old.pos,
                        "invalid-previous-name",
                        format!("`{o}` is this job's own name"),
                    )
                    .help("list only the names the job had before; remove this one"),
                )
            } else if let Some(live) = specs.get(o) {
                Some(
                    Diagnostic::at(
                        &p.file,
                        old.pos,
                        "invalid-previous-name",
                        format!("`{o}` is the name of another job spec"),
                    )
                    .label("still a job of its own")
                    .related(&live.file, live.spec.name.pos, "defined here")
                    .help("a job can take over the state of a name no spec uses any more: delete or rename that spec, or remove this item"),
                )
            } else if let Some(first) = claimed.get(o) {
                let d = Diagnostic::at(
                    &p.file,
                    old.pos,
                    "invalid-previous-name",
                    format!("`{o}` is a previous name of two jobs"),
                );
                let d = if std::ptr::eq(*first, *p) {
                    d.help("remove the repetition")
                } else {
                    let pos = first.spec.previous_names.iter().find(|n| n.value == o).map(|n| n.pos);
                    d.related(&first.file, pos.unwrap_or(first.spec.name.pos), "also listed here").help(
                        "only one job can take over the old job's state: keep the name in one `previousNames`",
                    )
                };
                Some(d)
            } else {
                claimed.insert(o, p);
                None
            };
            diags.extend(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::document::JOB_HEADER;
    use super::super::resolve::Inputs;

    /// A diagnostic's file and line, its first related place, and its help.
    type Found = (String, u32, Option<(String, u32)>, String);

    /// Load `files` (name, body after the header) from a scratch directory: the previousNames
    /// diagnostics.
    fn mistakes(files: &[(&str, &str)]) -> Vec<Found> {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in files {
            std::fs::write(dir.path().join(name), format!("{JOB_HEADER}\n{body}")).unwrap();
        }
        let env = |_: &str| None;
        let hash = |_: &std::path::Path| Ok("0".repeat(64));
        let inputs = Inputs { env: &env, hash_jar: &hash, allow_missing_jar: true };
        let loaded = super::super::load_with(dir.path(), &inputs);
        let file =
            |f: &super::super::diag::SourceFile| f.path.file_name().unwrap().to_string_lossy().into_owned();
        loaded
            .diagnostics
            .iter()
            .filter(|d| d.code == "invalid-previous-name")
            .map(|d| {
                let related = d.related.first().map(|r| (file(&r.file), r.pos.line));
                (
                    file(d.file.as_ref().unwrap()),
                    d.pos.unwrap().line,
                    related,
                    d.help.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn a_previous_name_that_is_another_specs_name_points_at_both_with_a_fix() {
        let found = mistakes(&[
            ("a.yaml", "name: orders\njar: app.jar\npreviousNames: [payments]\n"),
            ("b.yaml", "name: payments\njar: app.jar\n"),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        let (file, line, related, help) = &found[0];
        assert_eq!((file.as_str(), *line), ("a.yaml", 5));
        assert_eq!(related.as_ref(), Some(&("b.yaml".to_string(), 3)), "where the other spec is named");
        assert!(help.contains("remove this item"), "{help}");
    }

    #[test]
    fn a_previous_name_claimed_by_two_specs_points_at_both_with_a_fix() {
        let found = mistakes(&[
            ("a.yaml", "name: orders\njar: app.jar\npreviousNames: [legacy]\n"),
            ("b.yaml", "name: payments\njar: app.jar\npreviousNames: [legacy]\n"),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        let (file, line, related, help) = &found[0];
        assert_eq!((file.as_str(), *line), ("b.yaml", 5));
        assert_eq!(related.as_ref(), Some(&("a.yaml".to_string(), 5)), "where it was claimed first");
        assert!(help.contains("keep the name in one `previousNames`"), "{help}");
    }
}

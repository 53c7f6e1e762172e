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

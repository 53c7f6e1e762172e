//! Field-level differences between what the ledger says was applied and the spec now.
//!
//! Classified like the Flink Kubernetes operator's spec diff: a change to what runs (jar, entry
//! class, arguments, parallelism, configuration, restart nonce) forces a redeploy; anything else
//! (upgrade mode, savepoint, restore and health settings, dependencies) only changes how flinkops
//! acts next time, and `state` is an action of its own (suspend, resume).

use std::collections::BTreeSet;

use super::model::FieldChange;
use crate::ledger::{AppliedSpec, Stored, record::jar_display, record::settings_of};
use crate::spec::{Job, Param};

fn change(field: impl Into<String>, old: Option<String>, new: Option<String>, forces: bool) -> FieldChange {
    FieldChange { field: field.into(), old, new, forces_redeploy: forces }
}

/// Every field that differs, runtime fields first, in a stable order. `old_name` is the name
/// `old` was recorded under: secrets are stored as digests salted with the job's name, so a
/// renamed job's unchanged secret matches only under its old name.
pub fn changes(old: &AppliedSpec, old_name: &str, new: &Job) -> Vec<FieldChange> {
    let mut out = Vec::new();
    jar(old, new, &mut out);
    if old.entry_class != new.entry_class {
        let show = |c: &Option<String>| Some(c.clone().unwrap_or_else(|| "(the jar's Main-Class)".into()));
        out.push(change("entryClass", show(&old.entry_class), show(&new.entry_class), true));
    }
    args(old_name, &old.args, &new.args, &mut out);
    if old.parallelism != new.parallelism {
        out.push(change(
            "parallelism",
            Some(old.parallelism.to_string()),
            Some(new.parallelism.to_string()),
            true,
        ));
    }
    config(old, old_name, new, &mut out);
    if old.restart_nonce != new.restart_nonce {
        let (o, n) = (old.restart_nonce.to_string(), new.restart_nonce.to_string());
        out.push(change("restartNonce", Some(o), Some(n), true));
    }
    if old.upgrade_mode != new.upgrade_mode {
        let show = |m| serde_json::to_value(m).ok().and_then(|v| v.as_str().map(String::from));
        out.push(change("upgradeMode", show(old.upgrade_mode), show(new.upgrade_mode), false));
    }
    if old.depends_on != new.depends_on {
        let show = |d: &[String]| Some(format!("[{}]", d.join(", ")));
        out.push(change("dependsOn", show(&old.depends_on), show(&new.depends_on), false));
    }
    let new_settings = settings_of(new);
    let keys: BTreeSet<&String> = old.settings.keys().chain(new_settings.keys()).collect();
    for key in keys {
        let (o, n) = (old.settings.get(key), new_settings.get(key));
        if o != n {
            out.push(change(key.as_str(), o.cloned(), n.cloned(), false));
        }
    }
    out
}

fn jar(old: &AppliedSpec, new: &Job, out: &mut Vec<FieldChange>) {
    let short = |h: &str| format!("sha256:{}…", &h[..h.len().min(12)]);
    match (&old.jar_sha256, &new.jar_sha256) {
        (Some(o), Some(n)) if o != n => out.push(change("jar", Some(short(o)), Some(short(n)), true)),
        (Some(_), Some(_)) => {}
        _ => {
            let new_jar = jar_display(&new.jar);
            if old.jar != new_jar {
                out.push(change("jar", Some(old.jar.clone()), Some(new_jar), true));
            }
        }
    }
}

fn shown_new(old: Option<&Stored>, new: &Param) -> String {
    match old {
        Some(o) if o.is_secret() && new.sensitive => format!("{} (changed)", Param::REDACTED),
        _ => new.shown().to_string(),
    }
}

fn args(name: &str, old: &[Stored], new: &[Param], out: &mut Vec<FieldChange>) {
    let same = old.len() == new.len() && old.iter().zip(new).all(|(o, n)| o.matches(name, n));
    if same {
        return;
    }
    if old.len() == new.len() {
        for (i, (o, n)) in old.iter().zip(new).enumerate() {
            if !o.matches(name, n) {
                out.push(change(
                    format!("args[{i}]"),
                    Some(o.shown().into()),
                    Some(shown_new(Some(o), n)),
                    true,
                ));
            }
        }
        return;
    }
    let list_old = old.iter().map(Stored::shown).collect::<Vec<_>>().join(", ");
    let list_new = new.iter().map(Param::shown).collect::<Vec<_>>().join(", ");
    out.push(change("args", Some(format!("[{list_old}]")), Some(format!("[{list_new}]")), true));
}

fn config(old: &AppliedSpec, old_name: &str, new: &Job, out: &mut Vec<FieldChange>) {
    let keys: BTreeSet<&String> =
        old.flink_configuration.keys().chain(new.flink_configuration.keys()).collect();
    for key in keys {
        let field = format!("flinkConfiguration.{key}");
        match (old.flink_configuration.get(key), new.flink_configuration.get(key)) {
            (Some(o), Some(n)) if !o.matches(old_name, n) => {
                out.push(change(field, Some(o.shown().into()), Some(shown_new(Some(o), n)), true))
            }
            (Some(o), None) => out.push(change(field, Some(o.shown().into()), None, true)),
            (None, Some(n)) => out.push(change(field, None, Some(n.shown().into()), true)),
            _ => {}
        }
    }
}

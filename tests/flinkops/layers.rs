//! The layers of `src/` and what each may import (README, "Layout"), checked by reading the
//! sources: every `crate::…` path (also inside `use crate::{…}` groups) and the I/O crates a pure
//! layer must not name. A broken rule is reported with its file and line.
//!
//! Test-only code (`#[cfg(test)]` modules, `tests.rs`, `fixtures.rs`) is not held to the rules.

use std::path::{Path, PathBuf};

/// The modules a layer may not import, and why.
struct Rule {
    why: &'static str,
    /// Path prefixes under the crate root (`src/plan/`, `src/pipeline.rs`).
    files: &'static [&'static str],
    /// Files the rule does not cover, even under `files`.
    except: &'static [&'static str],
    /// Top-level modules (`crate::NAME`) it may not import.
    modules: &'static [&'static str],
    /// Identifiers or paths it may not name at all (I/O).
    names: &'static [&'static str],
}

const ABOVE_THE_CORE: &[&str] = &["app", "commands", "cli", "pipeline", "apply", "watch", "audit"];

const RULES: &[Rule] = &[
    Rule {
        why: "specs and the planner know nothing of how they are run (commands, flags, executor, watch)",
        files: &["src/spec/", "src/plan/"],
        except: &[],
        modules: ABOVE_THE_CORE,
        names: &[],
    },
    Rule {
        why: "the planner and the other pure deciders do no I/O",
        files: &["src/plan/", "src/retention.rs", "src/watch/schedule.rs"],
        except: &[],
        modules: &[],
        names: &["reqwest", "tokio", "std::fs", "std::net", "std::process", "flink::Client", "axum"],
    },
    Rule {
        why: "the planner holds facts (names, ids, durations); their words are written by render",
        files: &["src/plan/"],
        except: &[],
        modules: &["render", "status"],
        names: &[],
    },
    Rule {
        why: "the REST client, the ledger, restore, retention and the renderers sit below the executor",
        files: &[
            "src/flink/",
            "src/ledger/",
            "src/restore/",
            "src/retention.rs",
            "src/render/",
            "src/cluster.rs",
        ],
        except: &[],
        modules: ABOVE_THE_CORE,
        names: &[],
    },
    Rule {
        why: "the executor, the pipeline and the reports sit below the commands and the watch loop",
        files: &["src/apply/", "src/pipeline.rs", "src/status.rs", "src/audit/"],
        except: &[],
        modules: &["app", "commands", "watch"],
        names: &[],
    },
    Rule {
        why: "watch runs the pipeline and the executor, never command code",
        files: &["src/watch/"],
        except: &[],
        modules: &["app", "commands"],
        names: &[],
    },
    Rule {
        why: "only app.rs runs the commands",
        files: &["src/"],
        except: &["src/app.rs", "src/commands/"],
        modules: &["commands"],
        names: &[],
    },
];

#[test]
fn every_module_imports_only_from_the_layers_below_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut broken = Vec::new();
    for file in rust_files(&root.join("src")) {
        let rel = file.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        if is_test_only(&rel) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for rule in RULES.iter().filter(|r| covers(r, &rel)) {
            broken.extend(
                violations(&text, rule)
                    .into_iter()
                    .map(|(line, what)| format!("{rel}:{line}: names `{what}`: {}", rule.why)),
            );
        }
    }
    assert!(broken.is_empty(), "layer rules broken (see README, Layout):\n{}", broken.join("\n"));
}

/// The scanner itself: a rule it cannot see broken proves nothing.
#[test]
fn the_layer_scan_sees_imports_in_groups_over_lines_and_ignores_comments_and_tests() {
    let rule = &RULES[0];
    let text = "//! says crate::commands in a comment\n\
                use crate::spec::Job;\n\
                use crate::{\n    plan::Plan,\n    commands::plan::run,\n};\n\
                fn f() { crate::apply::execute(); }\n\
                #[cfg(test)]\nmod fixtures;\n\
                #[cfg(test)]\nmod tests {\n    use crate::watch::Error;\n}\n";
    assert_eq!(
        violations(text, rule),
        vec![(5, "crate::commands".to_string()), (7, "crate::apply".to_string())]
    );
    let pure = &RULES[1];
    let io = "use std::collections::BTreeMap;\nuse std::fs;\nasync fn f() { tokio::time::sleep(d).await }\nlet tokiox = 1;\n";
    assert_eq!(violations(io, pure), vec![(2, "std::fs".to_string()), (3, "tokio".to_string())]);
}

fn covers(rule: &Rule, rel: &str) -> bool {
    rule.files.iter().any(|f| rel.starts_with(f)) && !rule.except.iter().any(|e| rel.starts_with(e))
}

/// Modules compiled only for tests (declared under `#[cfg(test)]` by their parents).
fn is_test_only(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name == "tests.rs" || name.ends_with("_tests.rs") || name == "fixtures.rs"
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// What `text` names against `rule`, with 1-based line numbers: `crate::MODULE` paths (also
/// those in a `crate::{…}` group) and forbidden names. Comment lines are skipped; so is test-only
/// code: the item after a `#[cfg(test)]` (a `mod x;` line, or a `mod tests {` block to the end).
fn violations(text: &str, rule: &Rule) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_group = false; // inside a `crate::{` group opened on an earlier line
    let mut test_item_next = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if test_item_next {
            test_item_next = false;
            if line.starts_with("mod ") && line.ends_with('{') {
                break;
            }
            continue;
        }
        if line == "#[cfg(test)]" {
            test_item_next = true;
            continue;
        }
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        if in_group {
            let (inside, closed) = match rest.find('}') {
                Some(end) => (&rest[..end], true),
                None => (rest, false),
            };
            found.extend(group_items(inside, rule).into_iter().map(|m| (i + 1, m)));
            in_group = !closed;
            continue;
        }
        while let Some(at) = rest.find("crate::") {
            let before_ok = !rest[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$');
            rest = &rest[at + "crate::".len()..];
            if !before_ok {
                continue;
            }
            if let Some(inner) = rest.strip_prefix('{') {
                match inner.find('}') {
                    Some(end) => {
                        found.extend(group_items(&inner[..end], rule).into_iter().map(|m| (i + 1, m)))
                    }
                    None => {
                        found.extend(group_items(inner, rule).into_iter().map(|m| (i + 1, m)));
                        in_group = true;
                    }
                }
                continue;
            }
            let module: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if rule.modules.contains(&module.as_str()) {
                found.push((i + 1, format!("crate::{module}")));
            }
        }
        for name in rule.names {
            if contains_word(line, name) {
                found.push((i + 1, (*name).to_string()));
            }
        }
    }
    found
}

/// The forbidden modules a group's items start with (`plan::Plan, commands::x` → `commands`).
fn group_items(items: &str, rule: &Rule) -> Vec<String> {
    items
        .split(',')
        .map(|item| item.trim().split("::").next().unwrap_or("").trim().to_string())
        .filter(|m| rule.modules.contains(&m.as_str()))
        .map(|m| format!("crate::{m}"))
        .collect()
}

/// `name` in `line` as a whole path or identifier (`tokio::x`, not `tokiox`).
fn contains_word(line: &str, name: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    line.match_indices(name).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + name.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

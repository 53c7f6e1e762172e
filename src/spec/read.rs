//! The raw layer: from a YAML tree to a `JobSpec`, reporting every mistake of the document.
//!
//! Checks only what the user wrote, field by field: known keys (with "did you mean"), types,
//! enum values, ranges, the name pattern, duration syntax. Anything needing other specs, the
//! file system or the environment belongs to `resolve`.

use std::collections::BTreeMap;

use super::diag::{Diagnostic, SourceFile};
use super::model::*;
use super::yaml::{Node, Pos, Value};

mod cluster;

/// Collects the diagnostics of one file.
pub struct Reader<'a> {
    pub file: &'a SourceFile,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a SourceFile) -> Self {
        Self { file, diags: Vec::new() }
    }

    pub(super) fn error(&mut self, pos: Pos, code: &'static str, message: String) -> &mut Diagnostic {
        self.diags.push(Diagnostic::at(self.file, pos, code, message));
        self.diags.last_mut().expect("just pushed")
    }

    /// Read one YAML document as a job spec. `None` when a required part is unusable; the
    /// reasons are in `diags` either way.
    pub fn job(&mut self, doc: &Node) -> Option<JobSpec> {
        let fields = self.fields(doc, "", "a job spec", JOB_FIELDS)?;
        let name = self.required(&fields, doc, "name", |r, n| r.name(n));
        let jar = self.required(&fields, doc, "jar", |r, n| r.string(n, "jar"));
        let cluster = fields.get("cluster").and_then(|n| self.string(n, "cluster"));
        let jar_sha256 = fields.get("jarSha256").and_then(|n| self.sha256(n));
        let entry_class = fields.get("entryClass").and_then(|n| self.string(n, "entryClass"));
        let args = fields.get("args").map(|n| self.string_list(n, "args")).unwrap_or_default();
        let parallelism = fields.get("parallelism").and_then(|n| self.uint(n, "parallelism", 1, 32768));
        let flink_configuration =
            fields.get("flinkConfiguration").map(|n| self.config(n)).unwrap_or_default();
        let state = fields.get("state").and_then(|n| self.choice(n, "state", STATES));
        let upgrade_mode =
            fields.get("upgradeMode").and_then(|n| self.choice(n, "upgradeMode", UPGRADE_MODES));
        let upgrade = fields.get("upgrade").map(|n| self.upgrade(n)).unwrap_or_default();
        let savepoint = fields.get("savepoint").map(|n| self.savepoint(n)).unwrap_or_default();
        let restore = fields.get("restore").map(|n| self.restore(n)).unwrap_or_default();
        let depends_on =
            fields.get("dependsOn").map(|n| self.string_list(n, "dependsOn")).unwrap_or_default();
        let health = fields.get("health").map(|n| self.health(n)).unwrap_or_default();
        let restart_nonce =
            fields.get("restartNonce").and_then(|n| self.uint(n, "restartNonce", 0, u64::MAX));
        let protect = fields.get("protect").and_then(|n| self.boolean(n, "protect"));
        let previous_names = fields.get("previousNames").map(|n| self.names(n)).unwrap_or_default();
        self.check_forst_format(&flink_configuration, &savepoint, upgrade_mode.as_ref().map(|m| m.value));
        self.check_checkpoint_age_applies(&upgrade, upgrade_mode.as_ref().map(|m| m.value));
        Some(JobSpec {
            api_version: ApiVersion::V1,
            kind: JobKind::FlinkJob,
            name: name?,
            jar: jar?,
            cluster,
            jar_sha256,
            entry_class,
            args,
            parallelism: parallelism
                .map(|p| Located::new(u32::try_from(p.value).unwrap_or(u32::MAX), p.pos))
                .unwrap_or_else(|| Located::new(1, Pos::default())),
            flink_configuration,
            state: state.unwrap_or_default(),
            upgrade_mode: upgrade_mode.unwrap_or_default(),
            upgrade,
            savepoint,
            restore,
            depends_on,
            health,
            restart_nonce: restart_nonce.unwrap_or_default(),
            protect: protect.unwrap_or_default(),
            previous_names,
        })
    }

    fn upgrade(&mut self, node: &Node) -> UpgradeSpec {
        let Some(f) = self.fields(node, "upgrade.", "the upgrade settings", UPGRADE_FIELDS) else {
            return UpgradeSpec::default();
        };
        let max_checkpoint_age =
            f.get("maxCheckpointAge").and_then(|n| self.duration(n, "upgrade.maxCheckpointAge"));
        UpgradeSpec { max_checkpoint_age }
    }

    /// `upgrade.maxCheckpointAge` only concerns `last-state` upgrades: set on another mode it does
    /// nothing, which its writer would want to know.
    fn check_checkpoint_age_applies(&mut self, upgrade: &UpgradeSpec, mode: Option<UpgradeMode>) {
        let Some(age) = &upgrade.max_checkpoint_age else { return };
        let mode = mode.unwrap_or_default();
        if mode == UpgradeMode::LastState {
            return;
        }
        let written = if mode == UpgradeMode::Savepoint { "savepoint" } else { "stateless" };
        let d = self.error(
            age.pos,
            "checkpoint-age-without-last-state",
            format!("`upgrade.maxCheckpointAge` has no effect with `upgradeMode: {written}`"),
        );
        d.severity = super::diag::Severity::Warning;
        d.help =
            Some("it applies to `upgradeMode: last-state` only: set that mode, or remove the limit".into());
    }

    fn savepoint(&mut self, node: &Node) -> SavepointSpec {
        let mut out = SavepointSpec::default();
        let Some(f) = self.fields(node, "savepoint.", "the savepoint settings", SAVEPOINT_FIELDS) else {
            return out;
        };
        out.directory = f.get("directory").and_then(|n| self.uri(n, "savepoint.directory"));
        set(&mut out.timeout, f.get("timeout").and_then(|n| self.duration(n, "savepoint.timeout")));
        set(
            &mut out.format_type,
            f.get("formatType").and_then(|n| self.choice(n, "savepoint.formatType", FORMATS)),
        );
        set(&mut out.drain, f.get("drain").and_then(|n| self.boolean(n, "savepoint.drain")));
        out.retain = f.get("retain").and_then(|n| self.retain(n));
        out.every = f.get("every").and_then(|n| self.every(n));
        out
    }

    /// `savepoint.every`: at least [`MIN_EVERY`]; under [`FREQUENT_EVERY`] only warned about (the
    /// tests use seconds).
    fn every(&mut self, node: &Node) -> Option<Located<Duration>> {
        let every = self.duration(node, "savepoint.every")?;
        let d = every.value.as_std();
        if d < MIN_EVERY {
            let e = self.error(node.pos, "invalid-value", "`savepoint.every` must be at least 1s".into());
            e.help = Some("write e.g. `6h`, `30m`, or `1d`".into());
            return None;
        }
        if d < FREQUENT_EVERY {
            let w = Diagnostic::at(
                self.file,
                node.pos,
                "frequent-savepoints",
                format!(
                    "`savepoint.every` is {}: a savepoint this often writes the whole state each time",
                    every.value
                ),
            )
            .help("intervals of minutes to hours are usual (e.g. `1h`); seconds are meant for tests")
            .warning();
            self.diags.push(w);
        }
        Some(every)
    }

    fn retain(&mut self, node: &Node) -> Option<RetainSpec> {
        let f = self.fields(node, "savepoint.retain.", "the retention settings", RETAIN_FIELDS)?;
        let count = f.get("count").and_then(|n| self.uint(n, "savepoint.retain.count", 1, 1000));
        let max_age = f.get("maxAge").and_then(|n| self.duration(n, "savepoint.retain.maxAge"));
        if f.is_empty() {
            let d = self.error(node.pos, "empty-retain", "`savepoint.retain` sets nothing".into());
            d.help = Some("set `count`, `maxAge` or both, e.g. `retain: {count: 5, maxAge: 30d}`, or remove it for the default (the 5 newest)".into());
        }
        let count = count.map(|c| Located::new(u32::try_from(c.value).unwrap_or(u32::MAX), c.pos));
        Some(RetainSpec { count, max_age })
    }

    /// Flink 2.x cannot take a canonical savepoint of a job on the ForSt state backend (FLINK-37301):
    /// every stop with a savepoint of it would fail. Said here, with the fix, not at the first
    /// upgrade.
    fn check_forst_format(
        &mut self,
        config: &BTreeMap<String, Located<ConfigValue>>,
        savepoint: &SavepointSpec,
        mode: Option<UpgradeMode>,
    ) {
        let Some(backend) = config.get("state.backend.type") else { return };
        let forst =
            matches!(&backend.value, ConfigValue::String(s) if s.trim().eq_ignore_ascii_case("forst"));
        if !forst
            || savepoint.format_type.value != FormatType::Canonical
            || mode == Some(UpgradeMode::Stateless)
        {
            return;
        }
        let written = savepoint.format_type.pos.is_known();
        let (pos, by) = if written { (savepoint.format_type.pos, "") } else { (backend.pos, " by default") };
        let d = self.error(
            pos,
            "forst-canonical-savepoint",
            format!(
                "a job on the ForSt state backend cannot take a canonical savepoint (Flink 2.x refuses it), and \
                 `savepoint.formatType` is `canonical`{by}"
            ),
        );
        d.label = Some("every stop with a savepoint of this job would fail".into());
        d.help = Some("set `savepoint.formatType: native` (ForSt's own format; restorable by ForSt)".into());
    }

    fn restore(&mut self, node: &Node) -> RestoreSpec {
        let mut out = RestoreSpec::default();
        let Some(f) = self.fields(node, "restore.", "the restore settings", RESTORE_FIELDS) else {
            return out;
        };
        set(&mut out.from, f.get("from").and_then(|n| self.restore_from(n)));
        set(
            &mut out.allow_non_restored_state,
            f.get("allowNonRestoredState").and_then(|n| self.boolean(n, "restore.allowNonRestoredState")),
        );
        set(
            &mut out.allow_flink_version_change,
            f.get("allowFlinkVersionChange").and_then(|n| self.boolean(n, "restore.allowFlinkVersionChange")),
        );
        out
    }

    pub(super) fn health(&mut self, node: &Node) -> HealthSpec {
        let mut out = HealthSpec::default();
        let Some(f) = self.fields(node, "health.", "the health settings", HEALTH_FIELDS) else {
            return out;
        };
        set(&mut out.stable_for, f.get("stableFor").and_then(|n| self.duration(n, "health.stableFor")));
        set(&mut out.timeout, f.get("timeout").and_then(|n| self.duration(n, "health.timeout")));
        set(&mut out.rollback, f.get("rollback").and_then(|n| self.boolean(n, "health.rollback")));
        if out.timeout.value <= out.stable_for.value {
            // Point at what was written: the default on the other side may be the surprise.
            let pos = if out.timeout.pos.is_known() { out.timeout.pos } else { out.stable_for.pos };
            let (t, s) = (out.timeout.value, out.stable_for.value);
            let msg = format!("`health.timeout` ({t}) must be longer than `health.stableFor` ({s})");
            let d = self.error(pos, "health-timeout-too-short", msg);
            d.label = Some("the job could never pass the health gate".into());
            d.help =
                Some("raise `health.timeout` (default 5m) or lower `health.stableFor` (default 30s)".into());
        }
        out
    }

    /// Check that `node` is a mapping whose keys are all known; return its entries by key.
    /// Null (an empty section) counts as an empty mapping.
    fn fields<'n>(&mut self, node: &'n Node, prefix: &str, what: &str, known: &[&str]) -> Option<Fields<'n>> {
        let entries: &[(Node, Node)] = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            other => {
                let msg = format!("{what} must be a mapping of fields, found {}", other.kind());
                let d = self.error(node.pos, "wrong-type", msg);
                d.label = Some("expected `field: value` lines".into());
                return None;
            }
        };
        let mut map = BTreeMap::new();
        for (key, value) in entries {
            let Value::Str(k) = &key.value else {
                let msg = format!("field names must be strings, found {}", key.value.kind());
                self.error(key.pos, "wrong-type", msg);
                continue;
            };
            if known.contains(&k.as_str()) {
                map.insert(k.as_str(), value);
            } else {
                self.unknown_field(key.pos, prefix, k, known);
            }
        }
        Some(Fields(map))
    }

    fn unknown_field(&mut self, pos: Pos, prefix: &str, key: &str, known: &[&str]) {
        let d = self.error(pos, "unknown-field", format!("unknown field `{prefix}{key}`"));
        d.label = Some("not a field here".into());
        d.help = Some(match did_you_mean(key, known) {
            Some(s) => format!("did you mean `{prefix}{s}`?"),
            None => format!("fields here: {}", known.join(", ")),
        });
    }

    fn required<T>(
        &mut self,
        f: &Fields,
        doc: &Node,
        key: &str,
        read: impl FnOnce(&mut Self, &Node) -> Option<T>,
    ) -> Option<T> {
        match f.get(key) {
            Some(node) if node.value != Value::Null => read(self, node),
            Some(node) => {
                self.error(node.pos, "missing-field", format!("`{key}` has no value")).help =
                    Some(format!("every job spec needs a `{key}`"));
                None
            }
            None => {
                let d = self.error(doc.pos, "missing-field", format!("missing required field `{key}`"));
                d.label = Some("in this job spec".into());
                d.help = Some(match key {
                    "name" => "add `name: <job-name>` (lowercase letters, digits and `-`)".into(),
                    "jar" => "add `jar: <path relative to this file, or an https:// URL>`".into(),
                    _ => format!("add `{key}:`"),
                });
                None
            }
        }
    }

    fn type_error(&mut self, node: &Node, field: &str, expected: &str, help: Option<String>) {
        let msg = format!("`{field}` must be {expected}, found {}", node.value.kind());
        let d = self.error(node.pos, "wrong-type", msg);
        d.help = help;
    }

    /// An optional field written with no value counts as not written.
    fn string(&mut self, node: &Node, field: &str) -> Option<Located<String>> {
        match &node.value {
            Value::Str(s) => Some(Located::new(s.clone(), node.pos)),
            Value::Null => None,
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                let help = Some("quote the value to make it a string".to_string());
                self.type_error(node, field, "a string", help);
                None
            }
            _ => {
                self.type_error(node, field, "a string", None);
                None
            }
        }
    }

    fn name(&mut self, node: &Node) -> Option<Located<String>> {
        let name = self.string(node, "name")?;
        if !valid_name(&name.value) {
            let d = self.error(node.pos, "invalid-name", format!("invalid job name `{}`", name.value));
            d.label =
                Some("lowercase letters, digits and `-`; starts and ends with a letter or digit".into());
            d.help = Some(match suggest_name(&name.value) {
                Some(s) => format!("at most 63 characters; for example `{s}`"),
                None => "at most 63 characters, e.g. `orders-enricher`".into(),
            });
            return None;
        }
        Some(name)
    }

    /// `previousNames`: a list of job names, each checked like `name`.
    fn names(&mut self, node: &Node) -> Vec<Located<String>> {
        let items = self.string_list(node, "previousNames");
        items
            .into_iter()
            .filter(|n| {
                let ok = valid_name(&n.value);
                if !ok {
                    let d = self.error(n.pos, "invalid-name", format!("invalid previous name `{}`", n.value));
                    d.label = Some("not a job name: lowercase letters, digits and `-`".into());
                    d.help = Some("write the `name` the job had before, exactly".into());
                }
                ok
            })
            .collect()
    }

    fn sha256(&mut self, node: &Node) -> Option<Located<String>> {
        let s = self.string(node, "jarSha256")?;
        let ok =
            s.value.len() == 64 && s.value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            self.error(node.pos, "invalid-value", "`jarSha256` must be 64 lowercase hex digits".into())
                .help = Some("compute it with `sha256sum <jar>`".into());
            return None;
        }
        Some(s)
    }

    fn uint(&mut self, node: &Node, field: &str, min: u64, max: u64) -> Option<Located<u64>> {
        let range =
            if max == u64::MAX { format!("at least {min}") } else { format!("between {min} and {max}") };
        match &node.value {
            Value::Int(i) if (i128::from(min)..=i128::from(max)).contains(i) => {
                Some(Located::new(u64::try_from(*i).ok()?, node.pos))
            }
            Value::Int(i) => {
                self.error(node.pos, "out-of-range", format!("`{field}` must be {range}, found {i}"));
                None
            }
            // Past what an integer holds: the parser made it a float. Out of range all the same.
            Value::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() >= 9.2e18 => {
                self.error(node.pos, "out-of-range", format!("`{field}` must be {range}, found {f:.0}"));
                None
            }
            Value::Str(s) if s.trim().parse::<u64>().is_ok() => {
                self.type_error(
                    node,
                    field,
                    "an integer",
                    Some(format!("remove the quotes: `{field}: {}`", s.trim())),
                );
                None
            }
            Value::Str(s) if s.contains('_') && s.trim().replace('_', "").parse::<u64>().is_ok() => {
                let plain = s.trim().replace('_', "");
                let help = format!(
                    "write it without `_`: `{field}: {plain}` (YAML 1.2 reads `{}` as text)",
                    s.trim()
                );
                self.type_error(node, field, "an integer", Some(help));
                None
            }
            Value::Null => None,
            _ => {
                self.type_error(node, field, "an integer", None);
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, field: &str) -> Option<Located<bool>> {
        match &node.value {
            Value::Bool(b) => Some(Located::new(*b, node.pos)),
            Value::Null => None,
            Value::Str(s) => {
                let help = match s.to_ascii_lowercase().as_str() {
                    "yes" | "on" | "y" => Some(format!("write `true`: `{s}` is a string in YAML 1.2")),
                    "no" | "off" | "n" => Some(format!("write `false`: `{s}` is a string in YAML 1.2")),
                    "true" | "false" => Some("remove the quotes".into()),
                    _ => None,
                };
                self.type_error(node, field, "`true` or `false`", help);
                None
            }
            _ => {
                self.type_error(node, field, "`true` or `false`", None);
                None
            }
        }
    }

    fn choice<T: Copy>(&mut self, node: &Node, field: &str, choices: &[(&str, T)]) -> Option<Located<T>> {
        let s = self.string(node, field)?;
        if let Some((_, v)) = choices.iter().find(|(name, _)| *name == s.value) {
            return Some(Located::new(*v, s.pos));
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let d = self.error(node.pos, "invalid-value", format!("`{field}` cannot be `{}`", s.value));
        d.label = Some(format!("expected one of: {}", names.join(", ")));
        d.help = did_you_mean(&s.value, &names).map(|n| format!("did you mean `{n}`?"));
        None
    }

    fn duration(&mut self, node: &Node, field: &str) -> Option<Located<Duration>> {
        let text = match &node.value {
            Value::Str(s) => s.clone(),
            Value::Int(i) => {
                let help = Some(format!("add a unit, e.g. `{i}s` or `{i}m`"));
                self.type_error(node, field, "a duration with a unit", help);
                return None;
            }
            Value::Null => return None,
            _ => {
                self.type_error(node, field, "a duration such as `30s` or `5m`", None);
                return None;
            }
        };
        match parse_duration(&text) {
            Ok(d) => Some(Located::new(d, node.pos)),
            Err(why) => {
                let d = self.error(node.pos, "invalid-duration", format!("`{field}`: {why}"));
                d.help = Some("write a duration such as `30s`, `5m`, `1h 30m`, `7d` or `PT90S`".into());
                None
            }
        }
    }

    fn uri(&mut self, node: &Node, field: &str) -> Option<Located<String>> {
        let s = self.string(node, field)?;
        if !looks_like_uri_or_absolute(&s.value) {
            let d = self.error(
                node.pos,
                "invalid-value",
                format!("`{field}` must be a URI or an absolute path, found `{}`", s.value),
            );
            d.help = Some("Flink resolves it on its own machines: write e.g. `file:///flink/savepoints` or `s3://bucket/savepoints`".into());
            return None;
        }
        Some(s)
    }

    fn restore_from(&mut self, node: &Node) -> Option<Located<RestoreFrom>> {
        let s = self.string(node, "restore.from")?;
        let from = match s.value.as_str() {
            "latest" => RestoreFrom::Latest,
            "none" => RestoreFrom::None,
            p if looks_like_uri_or_absolute(p) => RestoreFrom::Path(p.to_string()),
            other => {
                let d = self.error(node.pos, "invalid-value", format!("`restore.from` cannot be `{other}`"));
                d.label = Some("expected `latest`, `none`, or a savepoint path".into());
                d.help = Some(match did_you_mean(other, &["latest", "none"]) {
                    Some(n) => format!("did you mean `{n}`?"),
                    None => "a path must be a URI or absolute, e.g. `file:///flink/savepoints/savepoint-1a2b3c-0123456789ab`".into(),
                });
                return None;
            }
        };
        Some(Located::new(from, s.pos))
    }

    fn string_list(&mut self, node: &Node, field: &str) -> Vec<Located<String>> {
        match &node.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match &item.value {
                    Value::Str(s) => Some(Located::new(s.clone(), item.pos)),
                    Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                        let help = Some("quote it: list items here are strings".into());
                        self.type_error(item, &format!("{field}[{i}]"), "a string", help);
                        None
                    }
                    _ => {
                        self.type_error(item, &format!("{field}[{i}]"), "a string", None);
                        None
                    }
                })
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                let help = Some(format!("write a list: `{field}: [a, b]` or one `- item` per line"));
                self.type_error(node, field, "a list of strings", help);
                Vec::new()
            }
        }
    }

    fn config(&mut self, node: &Node) -> BTreeMap<String, Located<ConfigValue>> {
        let mut out = BTreeMap::new();
        let entries = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => return out,
            _ => {
                self.type_error(
                    node,
                    "flinkConfiguration",
                    "a mapping of configuration keys to values",
                    None,
                );
                return out;
            }
        };
        for (key, value) in entries {
            let Value::Str(k) = &key.value else {
                self.type_error(key, "flinkConfiguration key", "a string", None);
                continue;
            };
            if k.trim().is_empty() || k.trim() != k || k.chars().any(char::is_control) {
                self.error(
                    key.pos,
                    "invalid-key",
                    "a `flinkConfiguration` key must be a Flink option name".into(),
                )
                .help = Some(
                    "e.g. `execution.checkpointing.interval: 30s` (no empty key, no surrounding spaces)"
                        .into(),
                );
                continue;
            }
            let v = match &value.value {
                Value::Str(s) => ConfigValue::String(s.clone()),
                Value::Int(i) => match i64::try_from(*i) {
                    Ok(i) => ConfigValue::Integer(i),
                    Err(_) => {
                        self.error(
                            value.pos,
                            "out-of-range",
                            format!("`flinkConfiguration.{k}` is too large"),
                        );
                        continue;
                    }
                },
                Value::Float(f) => ConfigValue::Number(*f),
                Value::Bool(b) => ConfigValue::Boolean(*b),
                Value::Map(_) => {
                    let msg = format!(
                        "`flinkConfiguration.{k}` must be a string, number or boolean, found a mapping"
                    );
                    self.error(key.pos, "wrong-type", msg).help =
                        Some(format!("write flat dotted keys, e.g. `{k}.some.option: value`"));
                    continue;
                }
                Value::Seq(_) | Value::Null => {
                    let help = if value.value == Value::Null {
                        "remove the key, or give it a value"
                    } else {
                        "Flink lists are one string separated by `;`, e.g. `a;b;c`"
                    };
                    let field = format!("flinkConfiguration.{k}");
                    self.type_error(value, &field, "a string, number or boolean", Some(help.into()));
                    continue;
                }
            };
            out.insert(k.clone(), Located::new(v, value.pos));
        }
        out
    }
}

/// Overwrite a default with what was written, when it was written correctly.
fn set<T>(slot: &mut Located<T>, written: Option<Located<T>>) {
    if let Some(v) = written {
        *slot = v;
    }
}

/// The known fields of one mapping, by name.
struct Fields<'n>(BTreeMap<&'n str, &'n Node>);

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.0.get(key).copied()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

const STATES: &[(&str, JobState)] = &[("running", JobState::Running), ("suspended", JobState::Suspended)];
const UPGRADE_MODES: &[(&str, UpgradeMode)] = &[
    ("savepoint", UpgradeMode::Savepoint),
    ("last-state", UpgradeMode::LastState),
    ("stateless", UpgradeMode::Stateless),
];
const FORMATS: &[(&str, FormatType)] =
    &[("canonical", FormatType::Canonical), ("native", FormatType::Native)];

/// Whether `name` matches [`NAME_PATTERN`].
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    let inner_ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-';
    let edge_ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(inner_ok)
        && b.first().is_some_and(edge_ok)
        && b.last().is_some_and(edge_ok)
}

/// A valid name close to an invalid one (`Orders_Enricher` → `orders-enricher`).
fn suggest_name(name: &str) -> Option<String> {
    let mut s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s: String = s.trim_matches('-').chars().take(63).collect();
    let s = s.trim_end_matches('-').to_string();
    valid_name(&s).then_some(s)
}

/// The closest candidate, if it is close enough to be a likely typo.
pub fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let lower = word.to_ascii_lowercase().replace(['_', '-'], "");
    candidates
        .iter()
        .map(|c| (c, strsim::jaro_winkler(&lower, &c.to_ascii_lowercase().replace(['_', '-'], ""))))
        .filter(|(_, score)| *score >= 0.85)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| *c)
}

/// The shortest `savepoint.every`.
pub const MIN_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A `savepoint.every` shorter than this gets a warning.
pub const FREQUENT_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The longest duration flinkops takes, in a spec or a flag: time arithmetic past it could
/// overflow (`PT9223372036854775807S` once passed `validate` and panicked in `apply`).
pub const MAX_DURATION_DAYS: i64 = 366;

/// Parse `30s`, `5m`, `1h 30m`, `PT90S`; zero, negative and durations over
/// [`MAX_DURATION_DAYS`] are refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let not = || format!("`{text}` is not a duration");
    let d: jiff::SignedDuration = match text.trim().parse() {
        Ok(d) => d,
        // Days (`30d`), counted as 24 hours each: the friendly form of a signed duration has none.
        Err(_) => text
            .trim()
            .parse::<jiff::Span>()
            .ok()
            .and_then(|span| span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).ok())
            .ok_or_else(not)?,
    };
    if d.is_negative() || d.is_zero() {
        return Err(format!("`{text}` must be longer than zero"));
    }
    check_max_duration(text, d)?;
    Ok(Duration(d))
}

/// Refuse a duration over [`MAX_DURATION_DAYS`].
pub fn check_max_duration(text: &str, d: jiff::SignedDuration) -> Result<(), String> {
    if d > jiff::SignedDuration::from_hours(MAX_DURATION_DAYS * 24) {
        return Err(format!(
            "`{text}` is longer than {MAX_DURATION_DAYS} days, the longest duration flinkops takes"
        ));
    }
    Ok(())
}

fn looks_like_uri_or_absolute(s: &str) -> bool {
    let scheme_ok = s.split_once("://").is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && !rest.is_empty()
    });
    scheme_ok || s.starts_with("file:/") || s.starts_with('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_dns_label_pattern() {
        for ok in ["a", "orders-enricher", "x1", &"a".repeat(63)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn invalid_names_get_a_valid_suggestion() {
        assert_eq!(suggest_name("Orders_Enricher").as_deref(), Some("orders-enricher"));
        assert_eq!(suggest_name("--"), None);
    }

    #[test]
    fn typos_find_their_field() {
        assert_eq!(did_you_mean("paralelism", JOB_FIELDS), Some("parallelism"));
        assert_eq!(did_you_mean("entry_class", JOB_FIELDS), Some("entryClass"));
        assert_eq!(did_you_mean("depends_on", JOB_FIELDS), Some("dependsOn"));
        assert_eq!(did_you_mean("zzz", JOB_FIELDS), None);
    }

    #[test]
    fn durations_past_a_year_are_refused_before_they_can_overflow() {
        for huge in ["PT9223372036854775807S", "8785h", "PT8785H"] {
            let err = parse_duration(huge).unwrap_err();
            assert!(err.contains("longer than 366 days"), "{huge}: {err}");
        }
        assert!(parse_duration("8784h").is_ok());
    }

    #[test]
    fn durations_take_friendly_and_iso_forms() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::seconds(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::minutes(5));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::minutes(90));
        assert_eq!(parse_duration("PT90S").unwrap(), Duration::seconds(90));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(Duration::minutes(90).to_string(), "1h 30m");
    }
}

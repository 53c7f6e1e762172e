//! The resolved layer: what the program uses. Defaults are applied (by the raw types), `${VAR}`
//! references are resolved and marked sensitive, jars are located and hashed, names are unique,
//! dependencies exist and form no cycle, and each job gets its fingerprint.
//!
//! Pure apart from reading jars and the environment, which come in through `Inputs` so tests can
//! supply their own.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::diag::{Diagnostic, SourceFile};
use super::fingerprint::{self, Fingerprint};
use super::model::*;
use super::read::did_you_mean;
use super::yaml::Pos;

/// A string that may hold a secret: `value` is what Flink receives; `sensitive` values are shown
/// as `(sensitive)` by every renderer and stored only as hashes.
#[derive(Clone, PartialEq, Eq)]
pub struct Param {
    pub value: String,
    pub sensitive: bool,
}

impl Param {
    pub const REDACTED: &str = "(sensitive)";

    pub fn plain(value: impl Into<String>) -> Self {
        Self { value: value.into(), sensitive: false }
    }

    /// What may be shown to a person or written to a log.
    pub fn shown(&self) -> &str {
        if self.sensitive { Self::REDACTED } else { &self.value }
    }
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.shown())
    }
}

/// Where the jar comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum JarSource {
    /// A file on this machine (absolute path).
    Local { path: PathBuf },
    /// Downloaded over HTTPS.
    Url { url: String },
}

/// A job as the program uses it.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    /// Where the spec was written (`file:line`), for messages.
    pub origin: String,
    pub jar: JarSource,
    /// SHA-256 of the jar content: hashed from the file, or `jarSha256` for a URL when given.
    pub jar_sha256: Option<String>,
    pub entry_class: Option<String>,
    pub args: Vec<Param>,
    pub parallelism: u32,
    pub flink_configuration: BTreeMap<String, Param>,
    pub state: JobState,
    pub upgrade_mode: UpgradeMode,
    pub upgrade: UpgradeSpec,
    pub savepoint: SavepointSpec,
    pub restore: RestoreSpec,
    pub depends_on: Vec<String>,
    pub health: HealthSpec,
    pub restart_nonce: u64,
    /// `protect: true`: see `plan::control` for what it blocks.
    pub protect: bool,
    /// `previousNames`: names this job had before, whose state it takes over.
    pub previous_names: Vec<String>,
    /// The `FlinkCluster` document this job runs on; `None` when there is none (the connection
    /// flags define the cluster).
    pub cluster: Option<String>,
    /// Everything that decides what runs, hashed (see `fingerprint`).
    pub fingerprint: Fingerprint,
}

/// The desired state: every job of the spec directory, by name.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    pub jobs: BTreeMap<String, Job>,
    /// The `kind: FlinkCluster` documents, by name.
    pub clusters: BTreeMap<String, super::clusters::Cluster>,
}

impl Desired {
    /// Every job `name` waits for, directly or through others, each once, depth first (the last
    /// listed dependency first). Unknown names are skipped: the spec layer reports them.
    pub fn upstream(&self, name: &str) -> Vec<&str> {
        let deps = |n: &str| -> Vec<&str> {
            self.jobs.get(n).map(|j| j.depends_on.iter().map(String::as_str).collect()).unwrap_or_default()
        };
        let mut seen = BTreeSet::new();
        let mut order = Vec::new();
        let mut stack = deps(name);
        while let Some(dep) = stack.pop() {
            if seen.insert(dep) {
                order.push(dep);
                stack.extend(deps(dep));
            }
        }
        order
    }
}

/// What resolving reads from outside the specs.
pub struct Inputs<'a> {
    /// Looks up an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Hashes a jar file (SHA-256, lowercase hex). A cache can stand behind it.
    pub hash_jar: &'a dyn Fn(&Path) -> std::io::Result<String>,
    /// A local jar that does not exist is no error: the job is compared by the jar's path (the
    /// offline plan, whose checkouts need not have the jars built).
    pub allow_missing_jar: bool,
}

/// A job spec together with the file it came from.
pub struct Parsed {
    pub file: SourceFile,
    pub spec: JobSpec,
}

/// Resolve every parsed spec. Problems are appended to `diags`; jobs with problems are left out.
pub fn resolve(parsed: &[Parsed], inputs: &Inputs, diags: &mut Vec<Diagnostic>) -> Desired {
    let mut desired = Desired::default();
    let mut first_seen: BTreeMap<&str, &Parsed> = BTreeMap::new();
    let mut tags: BTreeMap<String, &Parsed> = BTreeMap::new();
    for p in parsed {
        let name = p.spec.name.value.as_str();
        if let Some(first) = first_seen.get(name) {
            diags.push(duplicate_name(first, p));
            continue;
        }
        first_seen.insert(name, p);
        let tag = crate::plan::identity::name_tag(name);
        if let Some(first) = tags.get(&tag) {
            diags.push(tag_collision(first, p, &tag));
            continue;
        }
        tags.insert(tag, p);
        let before = diags.len();
        let job = resolve_one(p, inputs, diags);
        if diags[before..].iter().all(|d| !d.is_error()) {
            desired.jobs.insert(name.to_string(), job);
        }
    }
    check_dependencies(&first_seen, diags);
    super::renames::check(&first_seen, diags);
    // A job whose dependency is broken is still valid on its own; `diags` carries the problem and
    // callers refuse to act while any error is present.
    desired
}

fn duplicate_name(first: &Parsed, again: &Parsed) -> Diagnostic {
    let (a, b) = ((&first.file, &first.spec.name), (&again.file, &again.spec.name));
    defined_twice("duplicate-name", "job", a, b)
        .help("the name is the job's identity: rename one of them, or delete the copy")
}

/// A name defined a second time (`again`), pointing at the first definition too.
pub(super) fn defined_twice(
    code: &'static str,
    what: &str,
    first: (&SourceFile, &Located<String>),
    again: (&SourceFile, &Located<String>),
) -> Diagnostic {
    let name = &again.1.value;
    Diagnostic::at(again.0, again.1.pos, code, format!("{what} name `{name}` is used twice"))
        .label("second definition")
        .related(first.0, first.1.pos, "first defined here")
}

/// Two names whose job ids would start alike: flinkops could not tell their jobs apart.
fn tag_collision(first: &Parsed, again: &Parsed, tag: &str) -> Diagnostic {
    let (a, b) = (&first.spec.name.value, &again.spec.name.value);
    Diagnostic::at(
        &again.file,
        again.spec.name.pos,
        "name-tag-collision",
        format!("job names `{a}` and `{b}` have the same name tag {tag}"),
    )
    .label("second name with this tag")
    .related(&first.file, first.spec.name.pos, "first name with this tag")
    .help(
        "a job's Flink id starts with a 6-hex tag of its name, and flinkops finds a spec's jobs by it; \
         two names with one tag (a 1 in 16 million coincidence) would act on each other's jobs: rename one",
    )
}

fn resolve_one(p: &Parsed, inputs: &Inputs, diags: &mut Vec<Diagnostic>) -> Job {
    let spec = &p.spec;
    let mut interp = |field: &str, s: &Located<String>| interpolate(&p.file, field, s, inputs.env, diags);
    let args: Vec<Param> =
        spec.args.iter().enumerate().map(|(i, a)| interp(&format!("args[{i}]"), a)).collect();
    let flink_configuration: BTreeMap<String, Param> = spec
        .flink_configuration
        .iter()
        .map(|(k, v)| {
            let param = match &v.value {
                ConfigValue::String(s) => {
                    interp(&format!("flinkConfiguration.{k}"), &Located::new(s.clone(), v.pos))
                }
                other => Param::plain(other.to_flink_string()),
            };
            (k.clone(), param)
        })
        .collect();
    let (jar, jar_sha256) = resolve_jar(p, inputs, diags);
    let depends_on: Vec<String> = spec.depends_on.iter().map(|d| d.value.clone()).collect();
    let mut job = Job {
        name: spec.name.value.clone(),
        origin: format!("{}:{}", p.file.display, spec.name.pos.line),
        jar,
        jar_sha256,
        entry_class: spec.entry_class.as_ref().map(|e| e.value.clone()),
        args,
        parallelism: spec.parallelism.value,
        flink_configuration,
        state: spec.state.value,
        upgrade_mode: spec.upgrade_mode.value,
        upgrade: spec.upgrade.clone(),
        savepoint: spec.savepoint.clone(),
        restore: spec.restore.clone(),
        depends_on,
        health: spec.health.clone(),
        restart_nonce: spec.restart_nonce.value,
        protect: spec.protect.value,
        previous_names: spec.previous_names.iter().map(|n| n.value.clone()).collect(),
        cluster: None,
        fingerprint: Fingerprint::default(),
    };
    job.fingerprint = fingerprint::of(&job);
    job
}

/// Resolve `${VAR}` references; `$${` stands for a literal `${`. Any reference makes the value
/// sensitive: it may be a password, and flinkops cannot tell.
fn interpolate(
    file: &SourceFile,
    field: &str,
    s: &Located<String>,
    env: &dyn Fn(&str) -> Option<String>,
    diags: &mut Vec<Diagnostic>,
) -> Param {
    let text = &s.value;
    let mut out = String::with_capacity(text.len());
    let mut sensitive = false;
    let mut rest = text.as_str();
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                diags.push(bad_reference(file, s.pos, field, "`${` without a closing `}`"));
                return Param { value: text.clone(), sensitive: true };
            };
            let var = &after[..end];
            if !valid_var(var) {
                diags.push(bad_reference(
                    file,
                    s.pos,
                    field,
                    &format!("`${{{var}}}` is not a valid variable name"),
                ));
            } else if let Some(value) = env(var) {
                // Flink may quote the run request back in an error: never show it.
                crate::flink::remember(&value);
                out.push_str(&value);
            } else {
                diags.push(
                    Diagnostic::at(file, s.pos, "unset-variable", format!("`{field}` refers to `${{{var}}}`, which is not set"))
                        .label(format!("{var} is not in the environment"))
                        .help(format!("export {var}=… before running flinkops (write `$${{{var}}}` for a literal `${{{var}}}`)")),
                );
            }
            sensitive = true;
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Param { value: out, sensitive }
}

fn bad_reference(file: &SourceFile, pos: Pos, field: &str, what: &str) -> Diagnostic {
    Diagnostic::at(file, pos, "invalid-reference", format!("`{field}`: {what}"))
        .help("write `${NAME}` with letters, digits and `_`, or `$${` for a literal `${`")
}

/// Whether `name` can name an environment variable (letters, digits and `_`, not a digit first).
pub(crate) fn valid_var(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The largest jar flinkops hashes and uploads: a 64 GiB sparse file kept `plan` busy for minutes.
pub const MAX_JAR_BYTES: u64 = 4 << 30;

fn resolve_jar(p: &Parsed, inputs: &Inputs, diags: &mut Vec<Diagnostic>) -> (JarSource, Option<String>) {
    let jar = &p.spec.jar;
    let declared = p.spec.jar_sha256.as_ref().map(|s| s.value.clone());
    if let Some(rest) = jar.value.strip_prefix("https://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let d = if host.is_empty() || host.starts_with(':') {
            Diagnostic::at(&p.file, jar.pos, "invalid-jar", "the jar URL names no host")
                .help("write the whole URL, e.g. `https://repo.example.com/jars/orders-1.0.jar`")
        } else {
            // Plans can be made with it; `apply` refuses this job when its upload is due.
            Diagnostic::at(&p.file, jar.pos, "url-jar", "`apply` cannot fetch jars from URLs yet")
                .help("download the jar (checking its checksum) and point `jar` at the file")
                .warning()
        };
        diags.push(d);
        return (JarSource::Url { url: jar.value.clone() }, declared);
    }
    if let Some((scheme, _)) = jar.value.split_once("://") {
        let d = Diagnostic::at(
            &p.file,
            jar.pos,
            "invalid-jar",
            format!("jars can be fetched over https only, not `{scheme}://`"),
        )
        .help("use an `https://` URL, or a path relative to this spec file");
        diags.push(d);
        return (JarSource::Url { url: jar.value.clone() }, declared);
    }
    let base = p.file.path.parent().unwrap_or(Path::new("."));
    let path = normalize(&base.join(&jar.value));
    let hashed = match std::fs::metadata(&path) {
        Ok(m) if m.is_file() && m.len() > MAX_JAR_BYTES => {
            diags.push(Diagnostic::at(
                &p.file,
                jar.pos,
                "invalid-jar",
                format!("{} is larger than 4 GiB, more than any job jar: it is not read", path.display()),
            ));
            None
        }
        Ok(m) if m.is_file() && !is_a_job_jar(p, &path, m.len(), diags) => None,
        Ok(m) if m.is_file() => match (inputs.hash_jar)(&path) {
            Ok(h) => Some(h),
            Err(e) => {
                diags.push(Diagnostic::at(
                    &p.file,
                    jar.pos,
                    "unreadable-jar",
                    format!("cannot read jar {}: {e}", path.display()),
                ));
                None
            }
        },
        Ok(_) => {
            diags.push(Diagnostic::at(
                &p.file,
                jar.pos,
                "missing-jar",
                format!("{} is not a file", path.display()),
            ));
            None
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            diags.push(
                Diagnostic::at(
                    &p.file,
                    jar.pos,
                    "unreadable-jar",
                    format!("cannot read jar {}: {e}", path.display()),
                )
                .help("check the permissions of the jar and of the directories above it"),
            );
            None
        }
        Err(_) if inputs.allow_missing_jar => None,
        Err(_) => {
            let d = Diagnostic::at(&p.file, jar.pos, "missing-jar", format!("jar not found: {}", super::diag::display_path(&path)))
                .label("relative to this spec file's directory")
                .help("build the jar first, or fix the path (it is relative to the spec file, not to where flinkops runs)");
            diags.push(d);
            None
        }
    };
    if let (Some(h), Some(declared)) = (&hashed, &p.spec.jar_sha256)
        && *h != declared.value
    {
        let d = Diagnostic::at(
            &p.file,
            declared.pos,
            "jar-hash-mismatch",
            "the jar's content does not match `jarSha256`",
        )
        .label(format!("the file hashes to {h}"))
        .help("update `jarSha256`, or check that the right jar was built");
        diags.push(d);
    }
    (JarSource::Local { path }, hashed)
}

/// Whether the file is a zip archive Flink can run as this spec says: with the named entry class,
/// or a manifest to name one. Says why not otherwise (Flink would say so only at run time, after
/// an upgrade stopped the old job).
fn is_a_job_jar(p: &Parsed, path: &Path, len: u64, diags: &mut Vec<Diagnostic>) -> bool {
    let jar_pos = p.spec.jar.pos;
    let shown = super::diag::display_path(path);
    let listing = match super::jar::list(path, len) {
        Ok(listing) => listing,
        Err(e) => {
            let d = Diagnostic::at(&p.file, jar_pos, "not-a-jar", format!("{shown} is not a jar: {e}"))
                .help("point `jar` at the built jar (a zip archive, e.g. the output of `mvn package`)");
            diags.push(d);
            return false;
        }
    };
    match &p.spec.entry_class {
        Some(class) if !listing.classes.contains(&class.value) && !listing.nests_jars => {
            let closest = listing
                .classes
                .iter()
                .map(|c| (strsim::jaro_winkler(c, &class.value), c))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            let help = match closest {
                Some((_, c)) => format!("did you mean `{c}`?"),
                None => {
                    format!("the jar has {} classes; list them with `jar tf {shown}`", listing.classes.len())
                }
            };
            let d = Diagnostic::at(
                &p.file,
                class.pos,
                "entry-class-not-in-jar",
                format!("entry class `{}` is not in {shown}", class.value),
            )
            .help(help);
            diags.push(d);
        }
        None if !listing.has_manifest => {
            let d = Diagnostic::at(
                &p.file,
                jar_pos,
                "no-entry-class",
                format!(
                    "{shown} has no META-INF/MANIFEST.MF and the spec names no `entryClass`: Flink cannot tell which \
                     class to run"
                ),
            )
            .help("set `entryClass` to the job's main class");
            diags.push(d);
        }
        _ => {}
    }
    true
}

/// An absolute path with `.` and `..` removed lexically (without touching the file system, so a
/// missing jar is still named the way the user thinks of it).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Every `dependsOn` names a known job other than itself, and the edges form no cycle.
fn check_dependencies(specs: &BTreeMap<&str, &Parsed>, diags: &mut Vec<Diagnostic>) {
    let names: Vec<&str> = specs.keys().copied().collect();
    for p in specs.values() {
        let mut listed = BTreeSet::new();
        for dep in &p.spec.depends_on {
            let d = dep.value.as_str();
            if d == p.spec.name.value {
                diags.push(
                    Diagnostic::at(&p.file, dep.pos, "self-dependency", format!("`{d}` depends on itself"))
                        .help("remove it from `dependsOn`"),
                );
            } else if !specs.contains_key(d) {
                let help = match did_you_mean(d, &names) {
                    Some(n) => format!("did you mean `{n}`?"),
                    None => {
                        "every name in `dependsOn` must be the `name` of a job spec in this directory".into()
                    }
                };
                diags.push(
                    Diagnostic::at(
                        &p.file,
                        dep.pos,
                        "unknown-dependency",
                        format!("`dependsOn` names `{d}`, which is not a job here"),
                    )
                    .label("unknown job")
                    .help(help),
                );
            } else if !listed.insert(d) {
                diags.push(
                    Diagnostic::at(
                        &p.file,
                        dep.pos,
                        "duplicate-dependency",
                        format!("`{d}` is listed twice in `dependsOn`"),
                    )
                    .help("remove the repetition")
                    .warning(),
                );
            }
        }
    }
    for cycle in find_cycles(specs) {
        diags.push(cycle_diagnostic(specs, &cycle));
    }
}

/// One cycle per strongly connected component, starting at its smallest name and as short as
/// possible (deterministic, and linear in the size of the graph however it is shaped).
fn find_cycles<'a>(specs: &BTreeMap<&'a str, &Parsed>) -> Vec<Vec<&'a str>> {
    let edges: BTreeMap<&'a str, Vec<&'a str>> = specs
        .iter()
        .map(|(&n, p)| {
            let out = p
                .spec
                .depends_on
                .iter()
                .filter_map(|d| specs.get_key_value(d.value.as_str()).map(|(k, _)| *k));
            (n, out.filter(|&d| d != n).collect())
        })
        .collect();
    strongly_connected(&edges)
        .into_iter()
        .filter(|c| c.len() > 1)
        .filter_map(|component| shortest_cycle(&edges, &component))
        .collect()
}

/// Tarjan's algorithm; components come out with their members sorted.
fn strongly_connected<'a>(edges: &BTreeMap<&'a str, Vec<&'a str>>) -> Vec<Vec<&'a str>> {
    struct State<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(n: &'a str, edges: &BTreeMap<&'a str, Vec<&'a str>>, st: &mut State<'a>) {
        let i = st.index.len();
        st.index.insert(n, i);
        st.low.insert(n, i);
        st.stack.push(n);
        st.on_stack.insert(n);
        for &m in &edges[n] {
            if !st.index.contains_key(m) {
                visit(m, edges, st);
                let low = st.low[n].min(st.low[m]);
                st.low.insert(n, low);
            } else if st.on_stack.contains(m) {
                let low = st.low[n].min(st.index[m]);
                st.low.insert(n, low);
            }
        }
        if st.low[n] == st.index[n] {
            let mut component = Vec::new();
            while let Some(m) = st.stack.pop() {
                st.on_stack.remove(m);
                component.push(m);
                if m == n {
                    break;
                }
            }
            component.sort_unstable();
            st.out.push(component);
        }
    }
    let mut st = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for &n in edges.keys() {
        if !st.index.contains_key(n) {
            visit(n, edges, &mut st);
        }
    }
    st.out.sort();
    st.out
}

/// The shortest way from the component's first member back to itself (breadth-first).
fn shortest_cycle<'a>(
    edges: &BTreeMap<&'a str, Vec<&'a str>>,
    component: &[&'a str],
) -> Option<Vec<&'a str>> {
    let start = *component.first()?;
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for &m in &edges[n] {
            if m == start {
                let mut path = vec![n];
                while let Some(&p) = parent.get(path.last()?) {
                    path.push(p);
                }
                path.reverse();
                path.push(start);
                return Some(path);
            }
            if component.binary_search(&m).is_ok() && m != start && !parent.contains_key(m) {
                parent.insert(m, n);
                queue.push_back(m);
            }
        }
    }
    None
}

fn cycle_diagnostic(specs: &BTreeMap<&str, &Parsed>, cycle: &[&str]) -> Diagnostic {
    let first = specs[cycle[0]];
    let edge_pos = |from: &str, to: &str| {
        specs[from]
            .spec
            .depends_on
            .iter()
            .find(|d| d.value == to)
            .map(|d| d.pos)
            .unwrap_or(specs[from].spec.name.pos)
    };
    let mut d = Diagnostic::at(
        &first.file,
        edge_pos(cycle[0], cycle[1]),
        "dependency-cycle",
        format!("dependency cycle: {}", cycle.join(" -> ")),
    )
    .label(format!("`{}` depends on `{}`", cycle[0], cycle[1]))
    .help("a job cannot wait for itself: remove one of these `dependsOn` entries");
    for pair in cycle.windows(2).skip(1) {
        let from = specs[pair[0]];
        d = d.related(
            &from.file,
            edge_pos(pair[0], pair[1]),
            format!("`{}` depends on `{}`", pair[0], pair[1]),
        );
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> SourceFile {
        SourceFile::new(Path::new("t.yaml"), "")
    }

    fn interp(text: &str, env: &[(&str, &str)]) -> (Param, Vec<Diagnostic>) {
        let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let lookup = |k: &str| env.get(k).cloned();
        let mut diags = Vec::new();
        let p =
            interpolate(&file(), "args[0]", &Located::new(text.into(), Pos::default()), &lookup, &mut diags);
        (p, diags)
    }

    #[test]
    fn references_are_resolved_and_make_the_value_sensitive() {
        let (p, d) = interp("--password=${PW}", &[("PW", "hunter2")]);
        assert!(d.is_empty());
        assert_eq!(p.value, "--password=hunter2");
        assert!(p.sensitive);
        assert_eq!(p.shown(), "(sensitive)");
        assert_eq!(format!("{p:?}"), "\"(sensitive)\"");
        // A Flink error quoting the run request cannot show it either.
        let quoted = "ProgramInvocationException: args [--password=hunter2]";
        assert_eq!(crate::flink::redact(quoted), "ProgramInvocationException: args [--password=***]");
    }

    #[test]
    fn plain_values_and_escapes_stay_as_written() {
        let (p, d) = interp("cost $5 and $${HOME}", &[]);
        assert!(d.is_empty());
        assert_eq!(p.value, "cost $5 and ${HOME}");
        assert!(!p.sensitive);
    }

    #[test]
    fn unset_and_malformed_references_are_reported() {
        assert_eq!(interp("${NOPE}", &[]).1[0].code, "unset-variable");
        assert_eq!(interp("${1X}", &[]).1[0].code, "invalid-reference");
        assert_eq!(interp("${OPEN", &[]).1[0].code, "invalid-reference");
    }
}

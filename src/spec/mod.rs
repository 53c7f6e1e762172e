//! Job specs: what the YAML says (raw layer: `yaml`, `model`, `read`) and what it means (resolved
//! layer: `resolve`, `fingerprint`).
//!
//! `load` is the one entry point: it finds the files, reads every document, and returns the
//! desired state together with **all** diagnostics (one bad file never hides another). Callers
//! must not act on a load that has errors. Nothing here talks to Flink.

pub mod clusters;
pub mod diag;
pub mod discover;
pub mod document;
pub mod fingerprint;
pub mod jar;
pub mod jarcache;
pub mod model;
pub mod read;
pub mod renames;
pub mod resolve;
pub mod schema;
pub mod yaml;

use std::path::Path;

pub use diag::{Diagnostic, Severity, SourceFile};
pub use resolve::{Desired, Inputs, JarSource, Job, Param};

/// A spec file larger than this is refused: specs are small, and a huge file is a mistake
/// (a jar or a data dump in the spec directory) that would only slow every run.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Why specs could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{errors} problem(s) in the job specs")]
    Invalid { errors: usize, diagnostics: Vec<Diagnostic> },
}

/// The result of loading a spec directory.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Jobs that resolved without problems.
    pub desired: Desired,
    /// Every problem found, errors and warnings, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// How many spec files were read.
    pub files: usize,
    /// How many documents of other tools (another `apiVersion`, e.g. Kubernetes manifests) were
    /// skipped.
    pub skipped: usize,
}

impl Loaded {
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// The desired state, or every diagnostic when any of them is an error.
    pub fn into_result(self) -> Result<(Desired, Vec<Diagnostic>), Error> {
        match self.error_count() {
            0 => Ok((self.desired, self.diagnostics)),
            errors => Err(Error::Invalid { errors, diagnostics: self.diagnostics }),
        }
    }
}

/// Load with the process environment and a plain jar hasher.
pub fn load(root: &Path) -> Loaded {
    let env = |k: &str| std::env::var(k).ok();
    load_with(root, &Inputs { env: &env, hash_jar: &fingerprint::sha256_file, allow_missing_jar: false })
}

/// Find, read, check and resolve every spec below `root` (a directory or one file).
pub fn load_with(root: &Path, inputs: &Inputs) -> Loaded {
    let found = discover::discover(root);
    let mut diagnostics = found.diags;
    let mut docs = Documents::default();
    for path in &found.files {
        read_file(path, &mut docs, &mut diagnostics);
    }
    let mut desired = resolve::resolve(&docs.jobs, inputs, &mut diagnostics);
    desired.clusters = clusters::resolve(&docs.clusters, &docs.jobs, &mut desired.jobs, &mut diagnostics);
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    Loaded {
        desired,
        diagnostics: cap_per_file(diagnostics),
        files: found.files.len(),
        skipped: docs.skipped,
    }
}

/// Every flinkops document read, by kind, and the count of other tools' documents.
#[derive(Default)]
struct Documents {
    jobs: Vec<resolve::Parsed>,
    clusters: Vec<clusters::ParsedCluster>,
    skipped: usize,
}

/// The most diagnostics shown per file, as compilers do: a file of 50,000 unknown fields took
/// 90 s to print, and 1,000 unknown `dependsOn` names 26 MB of stderr.
pub const MAX_DIAGNOSTICS_PER_FILE: usize = 20;

/// The first [`MAX_DIAGNOSTICS_PER_FILE`] diagnostics of each file (they are sorted by file),
/// then one that counts the rest; an error if any of the rest is one.
fn cap_per_file(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::with_capacity(diagnostics.len().min(1024));
    let mut hidden: Vec<Diagnostic> = Vec::new();
    let flush = |out: &mut Vec<Diagnostic>, hidden: &mut Vec<Diagnostic>| {
        let Some(first) = hidden.first() else { return };
        let errors = hidden.iter().filter(|d| d.is_error()).count();
        let path = first.file.as_ref().map(|f| f.path.clone());
        let mut more = Diagnostic::whole(
            path.as_deref(),
            "more-problems",
            format!(
                "{} more problem(s) in this file ({errors} error(s)), not shown: the first {MAX_DIAGNOSTICS_PER_FILE} are",
                hidden.len()
            ),
        )
        .help("fix those first; `flinkops validate -o json` lists them too, capped the same way");
        if errors == 0 {
            more = more.warning();
        }
        out.push(more);
        hidden.clear();
    };
    let mut current: Option<String> = None;
    let mut shown = 0;
    for d in diagnostics {
        let file = d.file.as_ref().map(|f| f.display.clone());
        if file != current {
            flush(&mut out, &mut hidden);
            current = file;
            shown = 0;
        }
        if shown < MAX_DIAGNOSTICS_PER_FILE {
            shown += 1;
            out.push(d);
        } else {
            hidden.push(d);
        }
    }
    flush(&mut out, &mut hidden);
    out
}

/// Read one file's documents by kind into `docs`, adding its problems to `diags`.
fn read_file(path: &Path, docs: &mut Documents, diags: &mut Vec<Diagnostic>) {
    let Some(file) = read_text(path, diags) else { return };
    let nodes = match yaml::parse_documents(&file.text) {
        Ok(nodes) => nodes,
        Err(e) => return diags.push(syntax_error(&file, &e)),
    };
    if nodes.is_empty() {
        return diags.push(
            Diagnostic::whole(Some(path), "empty-file", "this file holds no document")
                .help("add a job spec, or delete the file, or list it in .flinkopsignore: every YAML file in the spec directory is read"),
        );
    }
    let mut reader = read::Reader::new(&file);
    for node in &nodes {
        match reader.classify(node) {
            document::Class::Job => {
                if let Some(spec) = reader.job(node) {
                    docs.jobs.push(resolve::Parsed { file: file.clone(), spec });
                }
            }
            document::Class::Cluster => {
                if let Some(spec) = reader.cluster(node) {
                    docs.clusters.push(clusters::ParsedCluster { file: file.clone(), spec });
                }
            }
            document::Class::Foreign => docs.skipped += 1,
            document::Class::Invalid => {}
        }
    }
    diags.append(&mut reader.diags);
}

fn read_text(path: &Path, diags: &mut Vec<Diagnostic>) -> Option<SourceFile> {
    let unreadable = |e: std::io::Error| {
        Diagnostic::whole(Some(path), "unreadable", format!("cannot read this file: {e}"))
    };
    let size = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => {
            diags.push(unreadable(e));
            return None;
        }
    };
    if size > MAX_FILE_BYTES {
        let d = Diagnostic::whole(
            Some(path),
            "file-too-large",
            format!("this file is {size} bytes; spec files may be at most {MAX_FILE_BYTES} bytes (1 MiB)"),
        )
        .help("is this really a job spec? keep jars and data out of the spec directory, or split the file");
        diags.push(d);
        return None;
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            diags.push(unreadable(e));
            return None;
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Some(SourceFile::new(path, &text)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let file = SourceFile::new(path, &text);
            let pos = position_of(&text, at);
            let d =
                Diagnostic::at(&file, pos, "not-utf8", format!("this file is not valid UTF-8 (byte {at})"))
                    .label("invalid byte here")
                    .help("save the file as UTF-8");
            diags.push(d);
            None
        }
    }
}

/// Line and column (1-based, in characters) of a byte offset.
fn position_of(text: &str, offset: usize) -> yaml::Pos {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    yaml::Pos { line: line as u32, column: column as u32, offset, len: 1 }
}

/// The byte offset of a 1-based line and column (in characters); the parser gives no byte offset
/// for syntax errors.
fn offset_of(text: &str, line: u32, column: u32) -> usize {
    let line_start: usize =
        text.split_inclusive('\n').take(line.saturating_sub(1) as usize).map(str::len).sum();
    let rest = &text[line_start.min(text.len())..];
    let in_line: usize = rest.chars().take(column.saturating_sub(1) as usize).map(char::len_utf8).sum();
    line_start + in_line
}

/// A YAML syntax error as a diagnostic, with a hint for the common causes.
fn syntax_error(file: &SourceFile, e: &serde_saphyr::Error) -> Diagnostic {
    let raw = e.without_snippet().to_string();
    let message = match raw.find(" at line ") {
        Some(i) => raw[..i].to_string(),
        None => raw,
    };
    let message = if let Some(breach) = message.strip_prefix("budget breached: ") {
        budget_message(breach)
    } else if message.starts_with("recursion limit exceeded") {
        DEEP.to_string()
    } else if message.contains("recursive references") {
        "an alias refers to the node that defines its anchor (`&a [*a]`): the value would never end"
            .to_string()
    } else {
        message.replace(", set DuplicateKeyPolicy in Options if acceptable", "")
    };
    let help = syntax_hint(&message);
    let pos = e.location().map(yaml::Pos::from_location).filter(yaml::Pos::is_known).map(|p| yaml::Pos {
        offset: offset_of(&file.text, p.line, p.column),
        len: 1,
        ..p
    });
    let mut d = match pos {
        Some(pos) => Diagnostic::at(file, pos, "yaml-syntax", format!("invalid YAML: {message}")),
        None => Diagnostic::whole(Some(&file.path), "yaml-syntax", format!("invalid YAML: {message}")),
    };
    d.help = help.map(str::to_string);
    d
}

const DEEP: &str = "the document nests deeper than 64 levels";

/// What a breached parser budget means, in words: only alias expansion is a "billion laughs".
fn budget_message(breach: &str) -> String {
    let kind = breach.split([' ', '{', '(']).next().unwrap_or_default();
    match kind {
        "Depth" | "FlowNesting" => DEEP.into(),
        "Documents" => format!("the file holds more than {} documents", yaml::MAX_DOCUMENTS),
        "Aliases" | "Anchors" | "AliasAnchorRatio" | "Events" | "Nodes" | "MergeKeys" => {
            "the document grows too large through aliases (a \"billion laughs\" document?)".into()
        }
        _ => format!("the document is too large to read ({kind})"),
    }
}

fn syntax_hint(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    let hint = if m.contains("tab") {
        "YAML indents with spaces only: replace the tab with spaces"
    } else if m.contains("duplicate") {
        "each field may appear once per job spec: remove or merge the repeated key"
    } else if m.contains("never end") {
        "use the anchor only after the node that defines it is complete"
    } else if m.contains("unknown anchor") {
        "define the anchor (`&name`) before the alias (`*name`) uses it, in the same document"
    } else if m.contains("alias") || m.contains("budget") {
        "aliases may be used, but not to build very large documents"
    } else if m.contains("quote") {
        "close the quoted string on the same line, or use a block scalar (`|`)"
    } else if m.contains("indicator") || m.contains("mapping values") {
        "check the indentation and that values containing `: ` are quoted"
    } else {
        return None;
    };
    Some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_found_from_lines_and_columns() {
        let text = "a: 1\nbé: 2\nc: 3\n";
        assert_eq!(offset_of(text, 1, 1), 0);
        assert_eq!(offset_of(text, 2, 4), 9);
        assert_eq!(&text[offset_of(text, 3, 1)..], "c: 3\n");
    }

    #[test]
    fn positions_are_found_from_offsets() {
        let p = position_of("a: 1\nbé: x\n", 9);
        assert_eq!((p.line, p.column), (2, 4));
    }
}

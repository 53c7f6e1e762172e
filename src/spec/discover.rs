//! Finding spec files: `*.yaml`/`*.yml` below a directory, hidden directories skipped, symlinks
//! followed safely (a link back into its own ancestry is a loop; a file reached twice is read once).
//!
//! Paths matched by `.flinkopsignore` at the root of the spec directory (gitignore syntax) are
//! not read at all: CI workflows, Helm charts, anything else kept beside the specs.
//!
//! The order is sorted by path so that every run reads the same files in the same order.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::diag::Diagnostic;

/// The file at the root of the spec directory that lists paths not to read.
pub const IGNORE_FILE: &str = ".flinkopsignore";

/// What discovery found: the spec files, and the problems met on the way.
#[derive(Debug, Default)]
pub struct Found {
    pub files: Vec<PathBuf>,
    pub diags: Vec<Diagnostic>,
}

/// Find the spec files named by `root` (a directory, or one file).
pub fn discover(root: &Path) -> Found {
    let mut found = Found::default();
    let meta = match std::fs::metadata(root) {
        Ok(m) => m,
        Err(e) => {
            let d = Diagnostic::whole(Some(root), "not-found", format!("cannot read this path: {e}"))
                .help("pass the directory that holds your job specs, e.g. `flinkops validate specs/`");
            found.diags.push(d);
            return found;
        }
    };
    if meta.is_file() {
        found.files.push(root.to_path_buf());
        return found;
    }
    let ignore = ignore_rules(root, &mut found.diags);
    let mut seen = BTreeSet::new();
    let mut ancestors = Vec::new();
    walk(root, &ignore, &mut ancestors, &mut seen, &mut found);
    if found.files.is_empty() && found.diags.is_empty() {
        let d = Diagnostic::whole(Some(root), "no-specs", "no job specs found in this directory")
            .help("flinkops reads every *.yaml and *.yml file below this directory (hidden directories, and paths its .flinkopsignore lists, are skipped)");
        found.diags.push(d);
    }
    found.files.sort();
    found
}

fn is_spec_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

fn is_hidden(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'))
}

/// The rules of `root/.flinkopsignore` (none when there is no such file). A line that is not a
/// valid pattern is an error: ignoring less than meant would read files the user wanted skipped.
pub fn ignore_rules(root: &Path, diags: &mut Vec<Diagnostic>) -> Gitignore {
    let file = root.join(IGNORE_FILE);
    let mut builder = GitignoreBuilder::new(root);
    if file.is_file()
        && let Some(e) = builder.add(&file)
    {
        let d = Diagnostic::whole(Some(&file), "invalid-ignore-pattern", format!("invalid pattern: {e}"))
            .help("it uses .gitignore syntax: one pattern per line, `!` to re-include, `#` for comments");
        diags.push(d);
    }
    builder.build().unwrap_or_else(|e| {
        diags.push(Diagnostic::whole(Some(&file), "invalid-ignore-pattern", format!("cannot use it: {e}")));
        Gitignore::empty()
    })
}

/// Whether `.flinkopsignore` excludes `path` (matched below the spec directory, or by a parent).
pub fn is_ignored(rules: &Gitignore, path: &Path, is_dir: bool) -> bool {
    path.starts_with(rules.path()) && rules.matched_path_or_any_parents(path, is_dir).is_ignore()
}

fn walk(
    dir: &Path,
    ignore: &Gitignore,
    ancestors: &mut Vec<PathBuf>,
    seen: &mut BTreeSet<PathBuf>,
    found: &mut Found,
) {
    let canonical = match dir.canonicalize() {
        Ok(c) => c,
        Err(e) => return found.diags.push(link_error(dir, &e)),
    };
    if ancestors.contains(&canonical) {
        let d = Diagnostic::whole(
            Some(dir),
            "symlink-loop",
            format!("symbolic link loop: this link leads back to {}", super::diag::display_path(&canonical)),
        )
        .help("remove the link, or point it outside the spec directory");
        return found.diags.push(d);
    }
    if !seen.insert(canonical.clone()) {
        return; // Reached again through another link: already read.
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            return found.diags.push(Diagnostic::whole(
                Some(dir),
                "unreadable",
                format!("cannot read this directory: {e}"),
            ));
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    ancestors.push(canonical);
    for path in paths {
        if is_hidden(&path) {
            continue;
        }
        let meta = std::fs::metadata(&path);
        if is_ignored(ignore, &path, meta.as_ref().is_ok_and(|m| m.is_dir())) {
            continue;
        }
        match meta {
            Ok(m) if m.is_dir() => walk(&path, ignore, ancestors, seen, found),
            Ok(m) if m.is_file() && is_spec_file(&path) => {
                if path.canonicalize().is_ok_and(|c| seen.insert(c)) {
                    found.files.push(path);
                }
            }
            Ok(_) => {}
            Err(e) if is_spec_file(&path) || path.is_symlink() => found.diags.push(link_error(&path, &e)),
            Err(_) => {}
        }
    }
    ancestors.pop();
}

fn link_error(path: &Path, e: &std::io::Error) -> Diagnostic {
    // ELOOP: a link that points at itself, directly or through other links.
    if e.raw_os_error() == Some(40) {
        return Diagnostic::whole(
            Some(path),
            "symlink-loop",
            "symbolic link loop: this link points back at itself",
        )
        .help("the link points back at itself; remove it or point it at a real file or directory");
    }
    let target =
        std::fs::read_link(path).map(|t| format!(" (it points to {})", t.display())).unwrap_or_default();
    Diagnostic::whole(Some(path), "unreadable", format!("cannot read this path{target}: {e}"))
        .help("a broken symbolic link? fix or remove it")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(found: &Found, root: &Path) -> Vec<String> {
        found.files.iter().map(|f| f.strip_prefix(root).unwrap().display().to_string()).collect()
    }

    #[test]
    fn the_ignore_file_takes_patterns_negations_directories_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "a.yaml",
            "ci/workflow.yml",
            "charts/x/values.yaml",
            "drafts/one.yaml",
            "drafts/keep.yaml",
            "ci.yaml",
        ] {
            std::fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            std::fs::write(root.join(f), "").unwrap();
        }
        let rules = "# CI and charts are not specs\nci/\ncharts\n\ndrafts/*.yaml\n!drafts/keep.yaml\n";
        std::fs::write(root.join(IGNORE_FILE), rules).unwrap();
        let found = discover(root);
        assert!(found.diags.is_empty(), "{:?}", found.diags);
        // `ci/` matches the directory only: the file `ci.yaml` is still read.
        assert_eq!(names(&found, root), ["a.yaml", "ci.yaml", "drafts/keep.yaml"]);
    }

    #[test]
    fn without_an_ignore_file_everything_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("ci")).unwrap();
        std::fs::write(dir.path().join("ci/workflow.yml"), "").unwrap();
        assert_eq!(names(&discover(dir.path()), dir.path()), ["ci/workflow.yml"]);
    }

    #[test]
    fn an_invalid_pattern_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "").unwrap();
        std::fs::write(dir.path().join(IGNORE_FILE), "[z-a].yaml\n").unwrap();
        let found = discover(dir.path());
        assert_eq!(found.diags.iter().map(|d| d.code).collect::<Vec<_>>(), ["invalid-ignore-pattern"]);
    }
}

//! Diagnostics: a located problem in a spec, with a snippet, a label and a hint.
//!
//! Every spec mistake becomes one `Diagnostic`; loading collects them all (one bad file must not
//! hide the others) and the edge renders them with miette (text) or as JSON. This module decides
//! how a problem is shown, not what is a problem.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use super::yaml::Pos;

/// A spec file's text, shared by the diagnostics that point into it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user should read it (relative to where they ran flinkops when possible).
    pub display: String,
    pub path: PathBuf,
    pub text: Arc<str>,
}

impl SourceFile {
    pub fn new(path: &Path, text: &str) -> Self {
        Self { display: display_path(path), path: path.to_path_buf(), text: Arc::from(text) }
    }
}

/// A path relative to the current directory when it lies below it, as given otherwise.
pub fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let shown = cwd.as_deref().and_then(|c| path.strip_prefix(c).ok()).unwrap_or(path);
    shown.display().to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Another place that belongs to a problem (the first definition of a duplicate name, say).
#[derive(Debug, Clone)]
pub struct Related {
    pub file: SourceFile,
    pub pos: Pos,
    pub label: String,
}

/// One problem in the specs.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable identifier, e.g. `unknown-field`, for scripts and docs.
    pub code: &'static str,
    pub message: String,
    /// The file it is in; `None` for problems of the whole input (no spec files at all).
    pub file: Option<SourceFile>,
    /// Where in the file; `None` for problems of a whole file (not UTF-8, too large).
    pub pos: Option<Pos>,
    pub label: Option<String>,
    pub help: Option<String>,
    pub related: Vec<Related>,
}

impl Diagnostic {
    /// An error at a place in a file.
    pub fn at(file: &SourceFile, pos: Pos, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            file: Some(file.clone()),
            pos: Some(pos),
            label: None,
            help: None,
            related: Vec::new(),
        }
    }

    /// An error about a whole file, or about the input as a whole when `file` is `None`.
    pub fn whole(path: Option<&Path>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            file: path.map(|p| SourceFile::new(p, "")),
            pos: None,
            label: None,
            help: None,
            related: Vec::new(),
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    pub fn related(mut self, file: &SourceFile, pos: Pos, label: impl Into<String>) -> Self {
        self.related.push(Related { file: file.clone(), pos, label: label.into() });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col`, `file` or nothing: where to look, in the form editors understand.
    pub fn location(&self) -> String {
        match (&self.file, self.pos) {
            (Some(f), Some(p)) if p.is_known() => format!("{}:{}:{}", f.display, p.line, p.column),
            (Some(f), _) => f.display.clone(),
            (None, _) => String::new(),
        }
    }

    /// Sort key: by file, then position, so output is stable whatever order checks ran in.
    pub fn sort_key(&self) -> (String, u32, u32, &str) {
        let file = self.file.as_ref().map(|f| f.display.clone()).unwrap_or_default();
        let pos = self.pos.unwrap_or_default();
        (file, pos.line, pos.column, &self.message)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // File names and messages carry text from the spec files: never raw to a terminal or log.
        let (loc, message) = (self.location(), crate::render::clean(&self.message));
        if loc.is_empty() {
            f.write_str(&message)
        } else {
            write!(f, "{}: {message}", crate::render::clean(&loc))
        }
    }
}

/// The machine-readable form of a diagnostic (`validate -o json`).
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub severity: Severity,
    pub code: &'a str,
    pub message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<&'a str>,
}

impl<'a> From<&'a Diagnostic> for JsonDiagnostic<'a> {
    fn from(d: &'a Diagnostic) -> Self {
        let pos = d.pos.filter(Pos::is_known);
        Self {
            severity: d.severity,
            code: d.code,
            message: &d.message,
            file: d.file.as_ref().map(|f| f.display.as_str()),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            help: d.help.as_deref(),
        }
    }
}

/// Adapter that lets miette draw a diagnostic with its snippet.
struct Drawn<'a> {
    diag: &'a Diagnostic,
    source: Option<NamedSource<Arc<str>>>,
    related: Vec<DrawnRelated>,
}

struct DrawnRelated {
    source: NamedSource<Arc<str>>,
    span: SourceSpan,
    label: String,
}

impl fmt::Debug for Drawn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diag, f)
    }
}
impl fmt::Display for Drawn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.source.is_none() {
            return fmt::Display::fmt(self.diag, f);
        }
        f.write_str(&crate::render::clean(&self.diag.message))
    }
}
impl std::error::Error for Drawn<'_> {}

impl fmt::Debug for DrawnRelated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}
impl fmt::Display for DrawnRelated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}
impl std::error::Error for DrawnRelated {}

impl miette::Diagnostic for DrawnRelated {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Advice)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(Some(self.label.clone()), self.span))))
    }
}

impl miette::Diagnostic for Drawn<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        // Line by line: a help may show lines to add (the document header), and nothing else in
        // it may reach the terminal as a control character.
        let clean = |h: &String| h.split('\n').map(crate::render::clean).collect::<Vec<_>>().join("\n");
        self.diag.help.as_ref().map(|h| Box::new(clean(h)) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let pos = self.diag.pos?;
        let label = self.diag.label.as_deref().map(|l| crate::render::clean(l).into_owned());
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(label, span_of(pos)))))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)))
    }
}

fn span_of(pos: Pos) -> SourceSpan {
    SourceSpan::new(pos.offset.into(), pos.len.max(1))
}

fn named(file: &SourceFile) -> NamedSource<Arc<str>> {
    let text: Arc<str> = match visible(&file.text) {
        std::borrow::Cow::Borrowed(_) => file.text.clone(),
        std::borrow::Cow::Owned(t) => Arc::from(t),
    };
    NamedSource::new(crate::render::clean(&file.display), text).with_language("yaml")
}

/// A spec file's text as the snippets show it: control characters (but line breaks and tabs) and
/// bidirectional overrides replaced by a visible character of the same UTF-8 length, so that the
/// byte offsets of every position stay right and nothing in the file can reach the terminal.
fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    let tricky = |(i, c): (usize, char)| {
        (c.is_control() && c != '\n' && c != '\t' && !(c == '\r' && text[i + 1..].starts_with('\n')))
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.char_indices().any(tricky) {
        return std::borrow::Cow::Borrowed(text);
    }
    let out = text
        .char_indices()
        .map(|(i, c)| match (tricky((i, c)), c.len_utf8()) {
            (false, _) => c,
            (true, 1) => '?',
            (true, 2) => '\u{00BF}',
            (true, _) => '\u{FFFD}',
        })
        .collect();
    std::borrow::Cow::Owned(out)
}

/// Draw diagnostics for a terminal or a log: snippet, label, help. `color` picks the theme.
pub fn render(diags: &[Diagnostic], color: bool, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let theme =
        if color { miette::GraphicalTheme::unicode() } else { miette::GraphicalTheme::unicode_nocolor() };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(120).with_context_lines(1);
    for diag in diags {
        let drawn = Drawn {
            diag,
            source: diag.file.as_ref().filter(|_| diag.pos.is_some()).map(named),
            related: diag
                .related
                .iter()
                .map(|r| DrawnRelated {
                    source: named(&r.file),
                    span: span_of(r.pos),
                    label: crate::render::clean(&r.label).into_owned(),
                })
                .collect(),
        };
        let mut text = String::new();
        handler.render_report(&mut text, &drawn).map_err(std::io::Error::other)?;
        writeln!(out, "{text}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_in_a_spec_file_reaches_the_terminal_raw_and_positions_stay_right() {
        let text = "name: x\njar: a.jar\n\u{1b}]0;owned\u{7}\u{202e}key: 1\n";
        let file = SourceFile::new(Path::new("evil\u{1b}[2J.yaml"), text);
        let at = text.find("key").unwrap();
        let pos = Pos { line: 3, column: 12, offset: at, len: 3 };
        let d = Diagnostic::at(&file, pos, "unknown-field", "unknown field `\u{1b}]0;owned\u{7}key`")
            .label("not a field here \u{1b}[31m")
            .help("remove it \u{9b}");
        for color in [false, true] {
            let mut out = Vec::new();
            render(std::slice::from_ref(&d), color, &mut out).unwrap();
            let shown = String::from_utf8(out).unwrap();
            // With colour, miette's own escapes (colours only) are the only ones.
            let outside = ["\u{1b}]", "\u{1b}[2J", "\u{7}", "\u{202e}", "\u{9b}"];
            assert!(outside.iter().all(|e| !shown.contains(e)), "color {color}: {shown:?}");
            assert!(color || !shown.contains('\u{1b}'), "{shown:?}");
            assert!(shown.contains("key: 1"), "the snippet still shows the line: {shown}");
        }
        assert!(!d.to_string().contains('\u{1b}'), "{d}");
    }
}

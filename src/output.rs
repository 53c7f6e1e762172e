//! Terminal output settings: colour decision (honouring NO_COLOR) and logging setup.
//!
//! Results go to stdout, logs and progress to stderr. Renderers take a `Styles` value so tests
//! capture plain and coloured output through the same path.

use std::io::IsTerminal;

use anstyle::{AnsiColor, Style};

use crate::cli::{ColorChoice, GlobalArgs, LogFormat};

/// The styles a renderer uses; all plain when colour is off.
#[derive(Debug, Clone, Copy, Default)]
pub struct Styles {
    pub bold: Style,
    pub dim: Style,
    pub ok: Style,
    pub warn: Style,
    pub error: Style,
    pub add: Style,
    pub change: Style,
    pub remove: Style,
}

impl Styles {
    /// No styling at all.
    pub fn plain() -> Self {
        Self::default()
    }

    /// The colour palette used on terminals.
    pub fn colored() -> Self {
        Self {
            bold: Style::new().bold(),
            dim: Style::new().dimmed(),
            ok: AnsiColor::Green.on_default(),
            warn: AnsiColor::Yellow.on_default(),
            error: AnsiColor::Red.on_default().bold(),
            add: AnsiColor::Green.on_default(),
            change: AnsiColor::Yellow.on_default(),
            remove: AnsiColor::Red.on_default(),
        }
    }

    /// Plain or coloured, for a stream that is or is not a terminal.
    pub fn for_stream(color: ColorChoice, is_terminal: bool) -> Self {
        if use_color(color, is_terminal) { Self::colored() } else { Self::plain() }
    }

    /// Styles for stdout.
    pub fn stdout(color: ColorChoice) -> Self {
        Self::for_stream(color, std::io::stdout().is_terminal())
    }

    /// Styles for stderr.
    pub fn stderr(color: ColorChoice) -> Self {
        Self::for_stream(color, std::io::stderr().is_terminal())
    }
}

/// Whether to colour a stream: `always` and `never` win; `auto` colours a terminal unless the
/// NO_COLOR convention (<https://no-color.org>: set and not empty) says otherwise.
pub fn use_color(color: ColorChoice, is_terminal: bool) -> bool {
    match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// Print an error, its causes and a hint on stderr, and return exit code 1. The binary's edge:
/// every command reports a failure through here, so they all look alike.
pub fn fail(err: &dyn std::error::Error, help: Option<&str>, color: ColorChoice) -> std::process::ExitCode {
    use std::io::Write;
    let styles = Styles::stderr(color);
    let (e, b) = (styles.error, styles.bold);
    // Errors carry text from outside (Flink's root causes, job names, error bodies): secret
    // values (tokens, header values, resolved `${VAR}`s) are redacted, every line is cleaned of
    // control characters, and line breaks stay line breaks.
    let text = |t: String| {
        let t = crate::flink::redact(&t).into_owned();
        t.lines().map(|l| crate::render::clean(l).into_owned()).collect::<Vec<_>>().join("\n")
    };
    let mut msg = format!("{}error:{} {}\n", e.render(), e.render_reset(), text(err.to_string()));
    let mut source = err.source();
    while let Some(cause) = source {
        msg.push_str(&format!("  caused by: {}\n", text(cause.to_string())));
        source = cause.source();
    }
    if let Some(help) = help {
        msg.push_str(&format!("  {}hint:{} {}\n", b.render(), b.render_reset(), text(help.to_string())));
    }
    // Nothing sensible is left to do if stderr itself is gone.
    let _ = std::io::stderr().write_all(msg.as_bytes());
    crate::exit::code(crate::exit::ERROR)
}

/// An error and its causes on one line, `a: b: c`, for log lines (the edge prints them on lines
/// of their own, with `fail`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Set up `tracing` on stderr according to -v/-q, `--log-format` and `FLINKOPS_LOG`. Text lines
/// carry a timestamp only for long-running commands (`watch`); JSON lines always do.
pub fn init_logging(global: &GlobalArgs, long_running: bool) {
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = std::env::var("FLINKOPS_LOG").unwrap_or_else(|_| format!("flinkops={default},warn"));
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("flinkops={default},warn")));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match global.log_format {
        // JSON escapes control characters itself.
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
        LogFormat::Text if long_running => builder
            .fmt_fields(safe_fields())
            .with_ansi(use_color(global.color, std::io::stderr().is_terminal()))
            .with_target(false)
            .try_init(),
        LogFormat::Text => builder
            .fmt_fields(safe_fields())
            .with_ansi(use_color(global.color, std::io::stderr().is_terminal()))
            .with_target(false)
            .without_time()
            .try_init(),
    };
    // A second initialisation (tests) is harmless: the first subscriber stays.
    drop(result);
}

/// Text log fields as the default formatter writes them (`message` bare, others `name=value`),
/// but with known secrets redacted and control characters escaped: log lines carry job names,
/// root causes and error bodies from clusters anyone can submit to, and one event stays one line.
fn safe_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let text = format!("{value:?}");
        let text = crate::render::clean(&crate::flink::redact(&text)).into_owned();
        if field.name() == "message" { write!(w, "{text}") } else { write!(w, "{field}={text}") }
    })
    .delimited(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_and_always_ignore_the_terminal() {
        assert!(!use_color(ColorChoice::Never, true));
        assert!(use_color(ColorChoice::Always, false));
    }

    #[test]
    fn auto_does_not_colour_a_pipe() {
        assert!(!use_color(ColorChoice::Auto, false));
    }

    #[test]
    fn text_log_lines_escape_control_characters_and_redact_known_secrets() {
        use std::sync::{Arc, Mutex};
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(safe_fields())
            .with_ansi(false)
            .without_time()
            .with_writer(move || Sink(sink.clone()))
            .finish();
        crate::flink::remember("log-line-secret-2718");
        tracing::subscriber::with_default(subscriber, || {
            let name = "evil\x1b]0;owned\x07\nfake line";
            tracing::warn!(job = %name, "job {name} failed: token log-line-secret-2718 rejected");
        });
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
        assert!(text.contains("evil\\u{1b}]0;owned\\u{7}\\nfake line"), "{text}");
        assert!(text.contains("job=evil") && !text.contains("log-line-secret-2718"), "{text}");
    }

    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}

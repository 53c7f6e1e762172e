//! Progress lines on stderr while apply works: one line per step, with the time since apply
//! started, so a CI log reads as a timeline. On a terminal, a spinner per job also shows what it
//! is waiting for (a savepoint, the health gate) and for how long. Results go to stdout; this
//! never does. Under `watch` the same lines are log events instead (`Progress::log`), so that
//! `--log-format json` carries them with the job name as a field. Over several clusters each
//! cluster's lines name it (`west/orders: …`, a `cluster` field in the log events).

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use crate::output::Styles;

/// Writes progress lines; safe to share between concurrently running jobs.
pub struct Progress {
    started: Instant,
    styles: Styles,
    quiet: bool,
    /// `None`: emit log events instead of lines.
    out: Option<Mutex<Box<dyn Write + Send>>>,
    /// Spinners, only when stderr is a terminal.
    spinners: Option<indicatif::MultiProgress>,
    /// The cluster the lines are about, over several clusters (`None`: one cluster).
    cluster: Option<String>,
}

/// What a line says, which decides its colour (or its log level).
#[derive(Clone, Copy)]
enum Kind {
    Step,
    Ok,
    Warn,
    Error,
}

/// A spinner shown while something is awaited; it disappears when dropped.
pub struct Waiting(Option<indicatif::ProgressBar>);

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}

impl Progress {
    pub fn stderr(styles: Styles, quiet: bool) -> Self {
        use std::io::IsTerminal;
        let spinners = (!quiet && std::io::stderr().is_terminal()).then(indicatif::MultiProgress::new);
        Self {
            started: Instant::now(),
            styles,
            quiet,
            out: Some(Mutex::new(Box::new(std::io::stderr()))),
            spinners,
            cluster: None,
        }
    }

    /// Progress as `tracing` events (info, warn, error) with a `job` field: for the sidecar.
    pub fn log() -> Self {
        Self {
            started: Instant::now(),
            styles: Styles::plain(),
            quiet: false,
            out: None,
            spinners: None,
            cluster: None,
        }
    }

    /// A sink for tests.
    pub fn to(out: Box<dyn Write + Send>) -> Self {
        Self {
            started: Instant::now(),
            styles: Styles::plain(),
            quiet: false,
            out: Some(Mutex::new(out)),
            spinners: None,
            cluster: None,
        }
    }

    /// Name `cluster` in every line (a run over several clusters has one `Progress` each).
    pub fn name_cluster(&mut self, cluster: &str) {
        self.cluster = Some(cluster.to_owned());
    }

    /// How a line names the job: `job`, or `cluster/job` over several clusters.
    fn label(&self, job: &str) -> String {
        match &self.cluster {
            Some(cluster) => format!("{cluster}/{job}"),
            None => job.to_owned(),
        }
    }

    /// Show a spinner with the elapsed time while `what` is awaited (terminals only).
    pub fn waiting(&self, job: &str, what: &str) -> Waiting {
        let Some(multi) = &self.spinners else { return Waiting(None) };
        let bar = multi.add(indicatif::ProgressBar::new_spinner());
        let style = indicatif::ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(self.label(job));
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Waiting(Some(bar))
    }

    fn line(&self, job: &str, kind: Kind, text: &str) {
        let Some(out) = &self.out else {
            let cluster = self.cluster.as_deref();
            match kind {
                Kind::Error => tracing::error!(job, cluster, "{text}"),
                Kind::Warn => tracing::warn!(job, cluster, "{text}"),
                Kind::Step | Kind::Ok => tracing::info!(job, cluster, "{text}"),
            }
            return;
        };
        if self.quiet {
            return;
        }
        let style = match kind {
            Kind::Step => anstyle::Style::new(),
            Kind::Ok => self.styles.ok,
            Kind::Warn => self.styles.warn,
            Kind::Error => self.styles.error,
        };
        let secs = self.started.elapsed().as_secs_f64();
        let b = self.styles.bold;
        let line = format!(
            "[{secs:>6.1}s] {}{}{}: {}{text}{}",
            b.render(),
            self.label(job),
            b.render_reset(),
            style.render(),
            style.render_reset()
        );
        // Progress is best effort: a closed stderr must not fail the apply.
        if let Some(multi) = &self.spinners {
            // Printed above the spinners, so lines and spinners do not tear each other.
            let _ = multi.println(line);
            return;
        }
        let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "{line}");
    }

    /// A step starts or advances.
    pub fn step(&self, job: &str, text: &str) {
        self.line(job, Kind::Step, text);
    }

    /// A step succeeded.
    pub fn ok(&self, job: &str, text: &str) {
        self.line(job, Kind::Ok, text);
    }

    /// Something went wrong (the job may still be recovered, e.g. by a rollback).
    pub fn warn(&self, job: &str, text: &str) {
        self.line(job, Kind::Warn, text);
    }

    /// A job failed.
    pub fn error(&self, job: &str, text: &str) {
        self.line(job, Kind::Error, text);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn over_several_clusters_each_line_names_its_cluster() {
        let sink = Sink::default();
        let mut progress = Progress::to(Box::new(sink.clone()));
        progress.name_cluster("west");
        progress.ok("orders", "healthy");
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with("] west/orders: healthy\n"), "{text}");
    }

    #[test]
    fn without_a_terminal_progress_is_plain_timestamped_lines_and_no_spinner() {
        let sink = Sink::default();
        let progress = Progress::to(Box::new(sink.clone()));
        {
            let _spinner = progress.waiting("orders", "waiting for the savepoint");
            progress.step("orders", "stopping with a savepoint");
            progress.error("orders", "failed: boom");
        }
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].starts_with("[") && lines[0].ends_with("] orders: stopping with a savepoint"),
            "{text}"
        );
        assert!(!text.contains('\x1b'), "no escape codes: {text:?}");
    }
}

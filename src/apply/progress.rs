//! Progress lines on stderr while apply works: one line per step, with the time since apply
//! started, so a CI log reads as a timeline. Results go to stdout; this never does.

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use crate::output::Styles;

/// Writes progress lines; safe to share between concurrently running jobs.
pub struct Progress {
    started: Instant,
    styles: Styles,
    quiet: bool,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Progress {
    pub fn stderr(styles: Styles, quiet: bool) -> Self {
        Self { started: Instant::now(), styles, quiet, out: Mutex::new(Box::new(std::io::stderr())) }
    }

    /// A sink for tests.
    pub fn to(out: Box<dyn Write + Send>) -> Self {
        Self { started: Instant::now(), styles: Styles::plain(), quiet: false, out: Mutex::new(out) }
    }

    fn line(&self, job: &str, style: anstyle::Style, text: &str) {
        if self.quiet {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64();
        let b = self.styles.bold;
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // Progress is best effort: a closed stderr must not fail the apply.
        let _ = writeln!(
            out,
            "[{secs:>6.1}s] {}{job}{}: {}{text}{}",
            b.render(),
            b.render_reset(),
            style.render(),
            style.render_reset()
        );
    }

    /// A step starts or advances.
    pub fn step(&self, job: &str, text: &str) {
        self.line(job, anstyle::Style::new(), text);
    }

    /// A step succeeded.
    pub fn ok(&self, job: &str, text: &str) {
        self.line(job, self.styles.ok, text);
    }

    /// Something went wrong (the job may still be recovered, e.g. by a rollback).
    pub fn warn(&self, job: &str, text: &str) {
        self.line(job, self.styles.warn, text);
    }

    /// A job failed.
    pub fn error(&self, job: &str, text: &str) {
        self.line(job, self.styles.error, text);
    }
}

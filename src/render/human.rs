//! The plan for people, shaped like Terraform's: drift first, a legend of the symbols used, one
//! block per job in the order apply runs them, what is left alone, errors, and one summary line.
//! Colour only through `Styles`, so plain and coloured output take the same path.

use std::fmt::Display;
use std::io::{self, Write};

use anstyle::Style;

use super::words::{self, Mark, Shown, clean};
use crate::output::Styles;
use crate::plan::model::{FieldChange, Plan, WaveKind};

/// Text in a style; plain styles write no escape codes.
pub(super) struct Paint<T>(pub(super) Style, pub(super) T);

impl<T: Display> Display for Paint<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}{:#}", self.0, self.1, self.0)
    }
}

fn mark_style(s: &Styles, m: Mark) -> Style {
    match m {
        Mark::Start | Mark::Adopt | Mark::Rename => s.add,
        Mark::Replace | Mark::Settings => s.change,
        Mark::Stop => s.remove,
        Mark::Cannot => s.error,
    }
}

/// Write the plan for a terminal or a log.
pub fn human(plan: &Plan, styles: &Styles, out: &mut impl Write) -> io::Result<()> {
    // Sections end with a blank line; the output does not.
    let mut buf = Vec::new();
    sections(plan, styles, &mut buf)?;
    while buf.ends_with(b"\n\n") {
        buf.pop();
    }
    out.write_all(&buf)
}

fn sections(plan: &Plan, styles: &Styles, out: &mut Vec<u8>) -> io::Result<()> {
    let s = styles;
    if let Some(c) = &plan.cluster {
        writeln!(out, "Cluster: {} (Flink {})\n", clean(&c.url), clean(&c.flink_version))?;
    }
    if !plan.has_changes() {
        writeln!(out, "{}\n", Paint(s.bold, &words::summary_line(plan)))?;
        drift(plan, s, out)?;
        left_alone(plan, s, out)?;
        warnings(plan, s, out)?;
        errors(plan, s, out)?;
        if let Some(caveat) = words::summary_caveat(plan) {
            writeln!(out, "{caveat}")?;
        }
        return Ok(());
    }
    drift(plan, s, out)?;
    let shown = words::shown(plan);
    legend(&shown, s, out)?;
    writeln!(out, "flinkops will perform the following actions:\n")?;
    for job in &shown {
        block(plan, job, s, out)?;
    }
    match words::unchanged(plan) {
        0 => {}
        n => writeln!(out, "    {}\n", Paint(s.dim, format!("# {} unchanged", words::jobs(n))))?,
    }
    order(plan, s, out)?;
    if let Some(note) = words::details_note(plan) {
        writeln!(out, "{}\n", Paint(s.dim, format!("Note: {note}")))?;
    }
    left_alone(plan, s, out)?;
    warnings(plan, s, out)?;
    errors(plan, s, out)?;
    writeln!(out, "{}", Paint(s.bold, words::summary_line(plan)))?;
    if let Some(caveat) = words::summary_caveat(plan) {
        writeln!(out, "{caveat}")?;
    }
    Ok(())
}

fn drift(plan: &Plan, s: &Styles, out: &mut impl Write) -> io::Result<()> {
    let drifted: Vec<_> = words::drifted(plan).collect();
    if drifted.is_empty() {
        return Ok(());
    }
    writeln!(out, "{}\n", Paint(s.bold, "Note: jobs have changed outside of flinkops"))?;
    for (job, what) in drifted {
        let outcome = words::drift_outcome(job);
        writeln!(out, "  {}: {}; {outcome}", Paint(s.warn, clean(&job.name)), clean(&what))?;
    }
    writeln!(out)
}

fn legend(shown: &[Shown], s: &Styles, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "Actions are shown with these symbols:")?;
    for (mark, text) in words::legend(shown) {
        writeln!(out, "{} {text}", Paint(mark_style(s, mark), format!("{:>3}", mark.symbol())))?;
    }
    writeln!(out)
}

fn block(plan: &Plan, shown: &Shown, s: &Styles, out: &mut impl Write) -> io::Result<()> {
    let job = shown.job;
    let mark = words::mark(job).expect("only jobs with a mark are shown");
    let symbol = Paint(mark_style(s, mark), format!("{:>3}", mark.symbol()));
    let header = format!("# {} {}", clean(&job.name), words::headline(job));
    writeln!(out, "{symbol} {}", Paint(s.bold, header))?;
    writeln!(out, "      {}", clean(&job.reason.to_string()))?;
    if let Some(why) = &job.blocked_by {
        writeln!(out, "      {}", Paint(s.error, format!("will not run: {}", clean(&why.to_string()))))?;
    }
    if let Some(why) = &job.pulled_in {
        writeln!(out, "      {}", Paint(s.warn, clean(&why.to_string())))?;
    }
    changes(&job.changes, s, out)?;
    if let Some(live) = &job.live {
        let (label, text) = words::live(job, live);
        writeln!(out, "      {label}: {text}")?;
    }
    if let Some(r) = &job.restore {
        writeln!(out, "      state: {}", words::restore(r, job.live.as_ref()))?;
    }
    if let Some(order) = shown.wave.and_then(|w| words::order(plan, job, w)) {
        writeln!(out, "      order: {order}")?;
    }
    writeln!(out)
}

/// `~ parallelism: 1 -> 4   # forces redeploy`, the markers aligned within the block.
fn changes(changes: &[FieldChange], s: &Styles, out: &mut impl Write) -> io::Result<()> {
    let lines: Vec<(Style, &str, String)> = changes.iter().map(|c| change(c, s)).collect();
    let width = lines.iter().map(|(_, _, text)| text.chars().count()).max().unwrap_or(0).min(60);
    for ((style, symbol, text), c) in lines.iter().zip(changes) {
        let symbol = Paint(*style, symbol);
        if c.forces_redeploy {
            let pad = width.saturating_sub(text.chars().count());
            let marker = Paint(s.remove, "# forces redeploy");
            writeln!(out, "      {symbol} {text}{:pad$}  {marker}", "")?;
        } else {
            writeln!(out, "      {symbol} {text}")?;
        }
    }
    Ok(())
}

fn change(c: &FieldChange, s: &Styles) -> (Style, &'static str, String) {
    let field = clean(&c.field);
    match (&c.old, &c.new) {
        (Some(old), Some(new)) => {
            (s.change, "~", format!("{field}: {} -> {}", words::value(old), words::value(new)))
        }
        (None, Some(new)) => (s.add, "+", format!("{field}: {}", words::value(new))),
        (Some(old), None) => (s.remove, "-", format!("{field}: {}", words::value(old))),
        (None, None) => (s.change, "~", field.into_owned()),
    }
}

/// The apply order at a glance, when there is more than one wave.
fn order(plan: &Plan, s: &Styles, out: &mut impl Write) -> io::Result<()> {
    if plan.waves.len() < 2 {
        return Ok(());
    }
    writeln!(
        out,
        "{}",
        Paint(s.bold, "Apply order (a job starts only when the jobs it depends on are healthy):")
    )?;
    let stops = plan.waves.iter().any(|w| w.kind == WaveKind::Stop);
    for (i, wave) in plan.waves.iter().enumerate() {
        let kind = match (stops, wave.kind) {
            (false, _) => "",
            (true, WaveKind::Stop) => "stop: ",
            (true, WaveKind::Start) => "start: ",
        };
        let names: Vec<_> = wave.jobs.iter().map(|n| clean(n)).collect();
        writeln!(out, "  {}. {kind}{}", i + 1, names.join(", "))?;
    }
    writeln!(out)
}

/// Orphans and unmanaged jobs: listed, never touched.
fn left_alone(plan: &Plan, s: &Styles, out: &mut impl Write) -> io::Result<()> {
    let skipped: Vec<_> = words::skipped(plan).collect();
    if !skipped.is_empty() {
        writeln!(
            out,
            "{}",
            Paint(s.bold, "Skipped in this run (--target / --exclude; nothing is checked or done):")
        )?;
        for job in skipped {
            writeln!(out, "  {}  {}", Paint(s.dim, clean(&job.name)), clean(&words::skipped_line(job)))?;
        }
        writeln!(out)?;
    }
    let orphans: Vec<_> = words::orphans(plan).collect();
    if !orphans.is_empty() {
        writeln!(
            out,
            "{}",
            Paint(s.bold, "Managed jobs whose spec is gone (not touched; `--prune` stops them):")
        )?;
        for job in orphans {
            let live = job.live.as_ref().map(|l| words::live(job, l).1).unwrap_or_default();
            writeln!(out, "  {}  {live}", clean(&job.name))?;
        }
        writeln!(out)?;
    }
    let untouched: Vec<_> = words::untouched(plan).collect();
    if !untouched.is_empty() {
        writeln!(out, "{}", Paint(s.bold, "Jobs flinkops does not manage (not touched):"))?;
        for live in untouched {
            writeln!(out, "  {}  {} ({})", clean(&live.name), live.id, live.state)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn warnings(plan: &Plan, s: &Styles, out: &mut impl Write) -> io::Result<()> {
    if plan.warnings.is_empty() {
        return Ok(());
    }
    writeln!(out, "{}", Paint(s.warn, "Warnings: apply acts on these jobs, read what it will do first"))?;
    for w in &plan.warnings {
        writeln!(out, "  {} {}", Paint(s.warn, "~"), clean(&w.to_string()))?;
    }
    writeln!(out)
}

fn errors(plan: &Plan, s: &Styles, out: &mut impl Write) -> io::Result<()> {
    if plan.problems.is_empty() {
        return Ok(());
    }
    let title = "Errors: apply will not act on the jobs concerned until these are resolved";
    writeln!(out, "{}", Paint(s.error, title))?;
    for p in &plan.problems {
        // A problem may list what it found, a line each: each line is cleaned, none escaped away.
        let text = p.to_string();
        let mut lines = text.lines();
        writeln!(out, "  {} {}", Paint(s.error, "!"), clean(lines.next().unwrap_or_default()))?;
        for line in lines.map(str::trim).filter(|l| !l.is_empty()) {
            writeln!(out, "    {}", clean(line))?;
        }
    }
    writeln!(out)
}

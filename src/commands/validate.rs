//! `flinkops validate`: load every spec, render the diagnostics and what was found, choose the exit code.

use std::io::Write;

use serde::Serialize;

use crate::cli::{ColorChoice, OutputFormat, ValidateArgs};
use crate::exit;
use crate::output::{Styles, use_color};
use crate::spec::diag::{self, JsonDiagnostic};

/// `flinkops validate`: every problem at once; exit 0 when valid, 1 otherwise.
pub fn run(args: &ValidateArgs, color: ColorChoice) -> u8 {
    let loaded = crate::spec::load(&args.path);
    let result = match args.output {
        OutputFormat::Text => render_text(&loaded, args, color),
        OutputFormat::Json => render_json(&loaded, &mut std::io::stdout().lock()),
    };
    if let Err(e) = result {
        eprintln!("error: cannot write the report: {e}");
        return exit::ERROR;
    }
    if loaded.error_count() == 0 { exit::OK } else { exit::ERROR }
}

fn render_text(loaded: &crate::spec::Loaded, args: &ValidateArgs, color: ColorChoice) -> std::io::Result<()> {
    use std::io::IsTerminal;
    let mut err = anstream::AutoStream::new(std::io::stderr().lock(), anstream_choice(color));
    diag::render(&loaded.diagnostics, use_color(color, std::io::stderr().is_terminal()), &mut err)?;
    let errors = loaded.error_count();
    let warnings = loaded.diagnostics.len() - errors;
    let where_ = args.path.display();
    if errors > 0 {
        let s = Styles::stderr(color);
        writeln!(
            err,
            "{}error:{} {errors} problem{} in the job specs under {where_}{}; fix them and run `flinkops validate` again",
            s.error.render(),
            s.error.render_reset(),
            plural(errors),
            if warnings > 0 {
                format!(" (and {warnings} warning{})", plural(warnings))
            } else {
                String::new()
            },
        )?;
        return Ok(());
    }
    let s = Styles::stdout(color);
    let mut out = std::io::stdout().lock();
    let jobs = loaded.desired.jobs.len();
    writeln!(
        out,
        "{}✓{} {jobs} job spec{} in {} file{} under {where_} {} valid{}.",
        s.ok.render(),
        s.ok.render_reset(),
        plural(jobs),
        loaded.files,
        plural(loaded.files),
        if jobs == 1 { "is" } else { "are" },
        others(loaded),
    )?;
    for c in loaded.desired.clusters.values() {
        let rest = format_args!("  {}  {}", c.origin, crate::render::clean(&c.url));
        crate::render::bold_name_line(&mut out, &s, "  cluster ", (&c.name, 0), rest)?;
    }
    let jobs = loaded.desired.jobs.values();
    let name_width = jobs.clone().map(|j| j.name.len()).max().unwrap_or(0);
    let origin_width = jobs.clone().map(|j| j.origin.len()).max().unwrap_or(0);
    for job in jobs {
        let deps = if job.depends_on.is_empty() {
            String::new()
        } else {
            format!("  after {}", job.depends_on.join(", "))
        };
        let rest =
            format_args!("  {:<origin_width$}  fingerprint {}{deps}", job.origin, job.fingerprint.short(12));
        crate::render::bold_name_line(&mut out, &s, "  ", (&job.name, name_width), rest)?;
    }
    Ok(())
}

/// What else was counted: cluster documents, and other tools' documents that were skipped.
fn others(loaded: &crate::spec::Loaded) -> String {
    let mut parts = Vec::new();
    let clusters = loaded.desired.clusters.len();
    if clusters > 0 {
        parts.push(format!("{clusters} cluster{}", plural(clusters)));
    }
    if loaded.skipped > 0 {
        let n = loaded.skipped;
        parts.push(format!("{n} document{} of other kinds skipped", plural(n)));
    }
    if parts.is_empty() { String::new() } else { format!("; {}", parts.join(", ")) }
}

fn anstream_choice(color: ColorChoice) -> anstream::ColorChoice {
    match color {
        ColorChoice::Auto => anstream::ColorChoice::Auto,
        ColorChoice::Always => anstream::ColorChoice::Always,
        ColorChoice::Never => anstream::ColorChoice::Never,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The `validate -o json` document.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    format_version: u32,
    valid: bool,
    files: usize,
    /// Documents of other tools (another `apiVersion`), not read.
    skipped_documents: usize,
    jobs: Vec<JsonJob<'a>>,
    clusters: Vec<JsonCluster<'a>>,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonJob<'a> {
    name: &'a str,
    origin: &'a str,
    fingerprint: &'a str,
    depends_on: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonCluster<'a> {
    name: &'a str,
    origin: &'a str,
    url: &'a str,
}

fn render_json(loaded: &crate::spec::Loaded, out: &mut impl Write) -> std::io::Result<()> {
    let report = Report {
        format_version: 1,
        valid: loaded.error_count() == 0,
        files: loaded.files,
        skipped_documents: loaded.skipped,
        jobs: loaded
            .desired
            .jobs
            .values()
            .map(|j| JsonJob {
                name: &j.name,
                origin: &j.origin,
                fingerprint: &j.fingerprint.0,
                depends_on: &j.depends_on,
                cluster: j.cluster.as_deref(),
            })
            .collect(),
        clusters: loaded
            .desired
            .clusters
            .values()
            .map(|c| JsonCluster { name: &c.name, origin: &c.origin, url: &c.url })
            .collect(),
        diagnostics: loaded.diagnostics.iter().map(JsonDiagnostic::from).collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &report)?;
    writeln!(out)
}

//! Command-line flags: what the user can say, with help text and environment variables.
//!
//! Only declarations live here (clap derive). `app` turns them into work; nothing here touches
//! files or the network.

mod connection;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use connection::{ConnectionArgs, ConnectionError};

/// Declarative GitOps for Apache Flink jobs.
///
/// A directory of YAML job specs is the desired state; Flink session clusters are the live state.
/// `plan` shows the difference, `apply` closes it with savepoint-safe upgrades in dependency order,
/// `watch` keeps closing it as a sidecar, `audit` reports without touching anything.
#[derive(Debug, Parser)]
#[command(name = "flinkops", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags that every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// When to colour the output. `auto` colours a terminal unless NO_COLOR is set.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, env = "FLINKOPS_COLOR")]
    pub color: ColorChoice,

    /// More log detail on stderr (-v: debug, -vv: trace). FLINKOPS_LOG takes a full filter.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet", env = "FLINKOPS_VERBOSE")]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, env = "FLINKOPS_QUIET")]
    pub quiet: bool,

    /// Format of the log lines on stderr: `text` for people, `json` for log collectors in pods.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "FLINKOPS_LOG_FORMAT")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Output format of a report on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people: tables and diagnostics with snippets.
    Text,
    /// For machines: one JSON document on stdout.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check job specs without contacting Flink: YAML syntax, fields, types, names, dependencies,
    /// jar paths and environment variables. Reports every problem at once.
    ///
    /// Exit code 0 when every spec is valid, 1 otherwise.
    #[command(
        after_help = "Example:\n  flinkops validate specs/\n  flinkops validate specs/orders.yaml -o json"
    )]
    Validate(ValidateArgs),

    /// Print the JSON Schema of a job spec, for editors and CI.
    ///
    /// Point the yaml-language-server at it with a first line
    /// `# yaml-language-server: $schema=<path>/flinkjob.schema.json`.
    #[command(after_help = "Example:\n  flinkops schema > schemas/flinkjob.schema.json")]
    Schema(SchemaArgs),

    /// Print a shell completion script.
    #[command(after_help = "Example:\n  flinkops completions bash > /etc/bash_completion.d/flinkops")]
    Completions(CompletionsArgs),

    /// Show the live jobs of a Flink cluster: id, name, state, tasks, uptime, latest checkpoint
    /// and savepoint. Read-only.
    #[command(
        after_help = "Example:\n  FLINK_URL=http://127.0.0.1:8081 flinkops status\n  flinkops status --flink-url https://flink.example.com -o json"
    )]
    Status(StatusArgs),

    /// Compare the specs with the live jobs and print what `apply` would do. Read-only.
    ///
    /// Exit code 0 when the plan could be made (with --detailed-exitcode: 0 no changes,
    /// 2 changes), 1 on invalid specs, an unreachable cluster, or jobs apply cannot act on.
    #[command(
        after_help = "Examples:\n  flinkops plan specs/\n  flinkops plan specs/ --detailed-exitcode -o markdown > plan.md\n  flinkops plan specs/ --out plan.json    # then: flinkops apply plan.json"
    )]
    Plan(PlanArgs),

    /// Carry out the plan: savepoint-safe upgrades in dependency order, with a health gate and
    /// rollback.
    ///
    /// With a spec directory: plan, show the plan, ask for confirmation (or --auto-approve), act.
    /// With a plan file from `plan --out`: act exactly on that plan, refusing it if the live jobs
    /// or the specs changed since. Exit code 0 when every action succeeded, 1 otherwise.
    #[command(
        after_help = "Examples:\n  flinkops apply specs/\n  flinkops apply specs/ --auto-approve --concurrency 2\n  flinkops plan specs/ --out plan.json && flinkops apply plan.json"
    )]
    Apply(ApplyArgs),

    /// Run as a sidecar: reconcile on every spec change and on an interval, heal jobs that failed
    /// outside flinkops, serve /healthz, /readyz and /metrics. (Not implemented yet.)
    Watch(NotYetArgs),

    /// Report drift, orphans, unmanaged jobs and stale savepoints without touching anything.
    /// (Not implemented yet.)
    Audit(NotYetArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A directory of job specs (searched recursively for *.yaml and *.yml) or a single spec file.
    #[arg(default_value = ".", env = "FLINKOPS_SPECS")]
    pub path: PathBuf,

    /// `text`: diagnostics with snippets on stderr; `json`: a machine-readable report on stdout.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text, env = "FLINKOPS_OUTPUT")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the schema of the JSON plan (`plan -o json`, `plan --out`) instead of a job spec's.
    #[arg(long)]
    pub plan: bool,

    /// Write the schema to this file instead of stdout.
    #[arg(long, env = "FLINKOPS_SCHEMA_OUT")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// `text`: a table; `json`: one JSON document.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text, env = "FLINKOPS_OUTPUT")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The directory of job specs (searched recursively), or one spec file.
    #[arg(default_value = ".", env = "FLINKOPS_SPECS")]
    pub path: PathBuf,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub state: StateArgs,

    /// `text`: for people (Terraform-like); `json`: the versioned plan document; `markdown`: a
    /// pull-request comment.
    #[arg(short, long, value_enum, default_value_t = PlanFormat::Text, env = "FLINKOPS_OUTPUT")]
    pub output: PlanFormat,

    /// Also write the plan as JSON to FILE, for `flinkops apply FILE` (which applies exactly that
    /// plan and refuses it if the live jobs changed meanwhile).
    #[arg(long, value_name = "FILE", env = "FLINKOPS_PLAN_OUT")]
    pub out: Option<PathBuf>,

    /// Exit 2 when the plan has changes, 0 when it has none (1 stays an error), like Terraform.
    #[arg(long, env = "FLINKOPS_DETAILED_EXITCODE")]
    pub detailed_exitcode: bool,

    /// Plan to stop (with a savepoint) managed jobs whose spec was deleted. Off by default: an
    /// orphan is only reported.
    #[arg(long, env = "FLINKOPS_PRUNE")]
    pub prune: bool,

    /// Plan to take over a running job that flinkops did not start when its Flink job name is a
    /// spec's name: savepoint it and redeploy it under management.
    #[arg(long, env = "FLINKOPS_ADOPT")]
    pub adopt: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A spec directory (or file) to plan and apply, or a plan file written by `plan --out`.
    #[arg(default_value = ".", env = "FLINKOPS_SPECS")]
    pub target: PathBuf,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub state: StateArgs,

    /// Apply without asking. Needed when stdin is not a terminal (CI, scripts); a saved plan
    /// file counts as approved.
    #[arg(long, env = "FLINKOPS_AUTO_APPROVE")]
    pub auto_approve: bool,

    /// How many independent jobs of one wave may be acted on at the same time.
    #[arg(long, value_name = "N", default_value_t = 4, env = "FLINKOPS_CONCURRENCY", value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,

    /// How long to wait for another apply on the same state directory and cluster to finish
    /// (e.g. 30s, 5m). 0s fails at once, naming the holder.
    #[arg(long, value_name = "DURATION", default_value = "0s", env = "FLINKOPS_LOCK_TIMEOUT", value_parser = parse_lock_timeout)]
    pub lock_timeout: std::time::Duration,

    /// Stop (with a savepoint) managed jobs whose spec was deleted.
    #[arg(long, env = "FLINKOPS_PRUNE")]
    pub prune: bool,

    /// Take over a running job flinkops did not start when its Flink job name is a spec's name.
    #[arg(long, env = "FLINKOPS_ADOPT")]
    pub adopt: bool,

    /// `text`: the plan, progress and a summary for people; `json`: one document with the plan
    /// and the result of every action on stdout (progress still on stderr).
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text, env = "FLINKOPS_OUTPUT")]
    pub output: OutputFormat,
}

fn parse_lock_timeout(s: &str) -> Result<std::time::Duration, String> {
    if s.trim() == "0" || s.trim() == "0s" {
        return Ok(std::time::Duration::ZERO);
    }
    crate::spec::read::parse_duration(s).map(|d| d.as_std())
}

/// Where flinkops keeps its ledger and caches.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// The state directory: the ledger (what was applied, the savepoints taken) and caches. Plan
    /// works without it, with fewer details.
    #[arg(long, value_name = "DIR", default_value = crate::ledger::DEFAULT_DIR, env = "FLINKOPS_STATE_DIR")]
    pub state_dir: PathBuf,
}

/// Output format of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
}

/// Arguments of a command that is declared but not built yet.
#[derive(Debug, Args)]
pub struct NotYetArgs {
    /// Accepted so that scripts written against the final interface fail with a clear message.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

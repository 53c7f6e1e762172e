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
    /// Check job specs and cluster documents without contacting Flink: document kinds, YAML
    /// syntax, fields, types, names, dependencies, clusters, jar paths and environment variables.
    /// Reports every problem at once. Documents of other tools (another `apiVersion`) are skipped
    /// and counted; paths listed in the spec directory's `.flinkopsignore` are not read.
    ///
    /// Exit code 0 when every spec is valid, 1 otherwise.
    #[command(
        after_help = "Example:\n  flinkops validate specs/\n  flinkops validate specs/orders.yaml -o json"
    )]
    Validate(ValidateArgs),

    /// Print the JSON Schema of a flinkops document (`kind: FlinkJob` or `kind: FlinkCluster`),
    /// for editors and CI.
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
        after_help = "Examples:\n  flinkops plan specs/\n  flinkops plan specs/ --detailed-exitcode -o markdown > plan.md\n  flinkops plan specs/ --out plan.json    # then: flinkops apply plan.json\n  flinkops plan specs/ --target orders-enrich --exclude orders-backfill\n  flinkops plan specs/ --replace orders-enrich    # redeploy from a fresh savepoint, no spec change\n  flinkops plan specs/ --refresh-only --detailed-exitcode    # drift only: exit 2 when the cluster drifted"
    )]
    Plan(PlanArgs),

    /// Carry out the plan: savepoint-safe upgrades in dependency order, with a health gate and
    /// rollback.
    ///
    /// With a spec directory: plan, show the plan, ask for confirmation (or --auto-approve), act.
    /// With a plan file from `plan --out`: act exactly on that plan, refusing it if the live jobs
    /// or the specs changed since. Exit code 0 when every action succeeded, 1 otherwise.
    #[command(
        after_help = "Examples:\n  flinkops apply specs/\n  flinkops apply specs/ --auto-approve --concurrency 2\n  flinkops plan specs/ --out plan.json && flinkops apply plan.json\n  flinkops apply specs/ --target orders-enrich    # only that job (and what it waits for)\n  flinkops apply specs/ --replace orders-enrich --auto-approve\n  flinkops apply specs/ --prune --allow-destroy legacy-job    # lift protect: true for one job"
    )]
    Apply(ApplyArgs),

    /// Run as a sidecar: keep the cluster converged on the specs. Reconciles on every spec change
    /// (the directory is watched, so git-sync and ConfigMap symlink swaps are seen), on an interval
    /// and on SIGHUP, through the same plan and apply as `apply --auto-approve`; heals managed jobs
    /// that failed or were cancelled outside flinkops; serves /healthz, /readyz and /metrics.
    ///
    /// Invalid specs keep the last good desired state: nothing new is applied and /readyz says
    /// why. A failed action is retried after a back-off, a few times, then held until the spec
    /// changes (or its `restartNonce` is bumped). SIGTERM or SIGINT: the step in flight finishes
    /// within --shutdown-grace, nothing new starts, exit 0.
    #[command(
        after_help = "Examples:\n  flinkops watch /git/specs --flink-url http://flink-jobmanager:8081\n  flinkops watch specs/ --listen 127.0.0.1:9810 --resync 5m --log-format json\n  flinkops watch /nfs/specs --poll --no-self-heal\n  flinkops watch specs/ --once --exclude orders-backfill    # one pass, then exit"
    )]
    Watch(WatchArgs),

    /// Report every spec and live job without touching anything: in sync, drifted, failed,
    /// orphan, unmanaged, restarting, and the age of the latest savepoint and checkpoint.
    ///
    /// Exit code 0 when nothing reaches --fail-on, 2 when a finding does, 1 when the audit
    /// could not be made (invalid specs, Flink unreachable).
    #[command(
        after_help = "Examples:\n  flinkops audit specs/\n  flinkops audit specs/ --max-savepoint-age 3d --fail-on warn -o json"
    )]
    Audit(AuditArgs),

    /// Take a savepoint of running managed jobs now (all of the spec directory's, or those named
    /// with --job). The jobs keep running; each savepoint is recorded in the ledger's history.
    ///
    /// With several cluster documents, each job's savepoint is taken on its spec's cluster, under
    /// that cluster's lock, and recorded in that cluster's ledger; the output is grouped by cluster.
    ///
    /// Exit code 0 when every savepoint completed, 1 when any failed, a named job is not running,
    /// or a cluster could not be reached.
    #[command(after_help = "Examples:
  flinkops savepoint specs/
  flinkops savepoint specs/ --job orders-enrich --job orders-ingest -o json
  flinkops savepoint fleet/ --job orders-enrich    # reaches and locks only orders-enrich's cluster")]
    Savepoint(SavepointArgs),

    /// List the snapshot history in the ledger: every savepoint flinkops took and every retained
    /// checkpoint it restored from, newest first, with its age and reason, marking each job's
    /// newest snapshot and the one its running version started from (a rollback target). Read-only.
    /// With several cluster documents, each cluster's ledger is listed under its name.
    #[command(after_help = "Examples:
  flinkops savepoints specs/
  flinkops savepoints specs/ --job orders-enrich -o json")]
    Savepoints(SavepointsArgs),

    /// Dispose of the savepoints each spec's `savepoint.retain` no longer keeps (default: the 5
    /// newest), through Flink's `POST /savepoint-disposal`, so the cluster's file-system
    /// credentials are used.
    ///
    /// Shows what it would dispose and why, asks on a terminal (or --auto-approve), and marks each
    /// entry "disposing" in the ledger before asking Flink, removing it only once Flink confirms.
    /// Never disposes a job's newest snapshot, the one its running version started from, one a
    /// pending step, a spec's `restore.from` or a --keep-plan file names, the one a running job
    /// restored from until it has a newer checkpoint, or anything this ledger did not record.
    /// With several cluster documents, each cluster decides and disposes with its own ledger and
    /// lock; one confirmation covers them all.
    /// Exit code 0 when every disposal succeeded (or there was nothing to do), 1 otherwise (a
    /// cluster that could not be reached included).
    #[command(
        after_help = "Examples:\n  flinkops gc specs/ --dry-run\n  flinkops gc specs/ --auto-approve --keep-plan plan.json"
    )]
    Gc(GcArgs),
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// The directory of job specs (searched recursively), or one spec file. Only these specs'
    /// savepoints are considered: a spec that is gone keeps all of its history.
    #[arg(default_value = ".", env = "FLINKOPS_SPECS")]
    pub path: PathBuf,

    /// Only this job (a spec name); repeat for several.
    #[arg(long = "job", value_name = "NAME")]
    pub jobs: Vec<String>,

    /// A plan file (from `plan --out`) whose snapshots must stay; repeatable. A plan made before
    /// gc may restore from a snapshot gc would otherwise dispose.
    #[arg(long, value_name = "FILE")]
    pub keep_plan: Vec<PathBuf>,

    /// Show what would be disposed and why, and stop.
    #[arg(long)]
    pub dry_run: bool,

    /// Dispose without asking. Needed when stdin is not a terminal.
    #[arg(long, env = "FLINKOPS_AUTO_APPROVE")]
    pub auto_approve: bool,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub state: StateArgs,

    /// How long to wait for an `apply` on the same state directory and cluster to finish (e.g.
    /// 30s, 5m). 0s fails at once, naming the holder.
    #[arg(long, value_name = "DURATION", default_value = "0s", env = "FLINKOPS_LOCK_TIMEOUT", value_parser = parse_lock_timeout)]
    pub lock_timeout: std::time::Duration,

    /// `text`: the verdicts and results for people; `json`: one document with every snapshot's
    /// verdict and every disposal's result.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text, env = "FLINKOPS_OUTPUT")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct SavepointArgs {
    /// The directory of job specs (searched recursively), or one spec file.
    #[arg(default_value = ".", env = "FLINKOPS_SPECS")]
    pub path: PathBuf,

    /// Only this job (a spec name); repeat for several. Default: every spec with a running job.
    #[arg(long = "job", value_name = "NAME")]
    pub jobs: Vec<String>,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub state: StateArgs,

    /// How many savepoints may be in progress at the same time.
    #[arg(long, value_name = "N", default_value_t = 4, env = "FLINKOPS_CONCURRENCY", value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,

    /// How long to wait for an `apply` on the same state directory and cluster to finish (e.g.
    /// 30s, 5m): a savepoint is not taken while an upgrade may be stopping the job. 0s fails at
    /// once, naming the holder.
    #[arg(long, value_name = "DURATION", default_value = "0s", env = "FLINKOPS_LOCK_TIMEOUT", value_parser = parse_lock_timeout)]
    pub lock_timeout: std::time::Duration,

    /// `text`: progress on stderr and one line per job on stdout; `json`: one document with every
    /// job's savepoint or error on stdout.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text, env = "FLINKOPS_OUTPUT")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct SavepointsArgs {
    /// The directory of job specs (searched recursively), or one spec file.
    #[arg(default_value = ".", env = "FLINKOPS_SPECS")]
    pub path: PathBuf,

    /// Only this job (a spec name); repeat for several.
    #[arg(long = "job", value_name = "NAME")]
    pub jobs: Vec<String>,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub limit: TimeLimitArgs,

    #[command(flatten)]
    pub state: StateArgs,

    /// `text`: a table; `json`: one JSON document.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text, env = "FLINKOPS_OUTPUT")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A directory of job specs (searched recursively for *.yaml and *.yml, except what its
    /// .flinkopsignore lists) or a single spec file.
    #[arg(default_value = ".", env = "FLINKOPS_SPECS")]
    pub path: PathBuf,

    /// `text`: diagnostics with snippets on stderr; `json`: a machine-readable report on stdout.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text, env = "FLINKOPS_OUTPUT")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the schema of the JSON plan (`plan -o json`, `plan --out`) instead of the documents'.
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
    /// A directory of specs (or one file) whose `kind: FlinkCluster` documents name the clusters
    /// to show, each under its name, all observed at once; without it (or with no cluster
    /// document in it), the cluster the connection flags name.
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub limit: TimeLimitArgs,

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
    pub limit: TimeLimitArgs,

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

    #[command(flatten)]
    pub control: ControlArgs,

    /// Only report what changed on the cluster outside flinkops (managed jobs failed, cancelled,
    /// finished, restarting or restarted, resubmitted as another version; jobs flinkops does not
    /// manage; orphans); plan no action. With --detailed-exitcode: exit 2 when there is drift, 0
    /// when there is none (for a CI alert). With several cluster documents, grouped by cluster;
    /// a cluster that cannot be observed makes it exit 1.
    #[arg(long, env = "FLINKOPS_REFRESH_ONLY", conflicts_with_all = ["out", "prune", "adopt", "target_job", "exclude", "replace", "allow_destroy"])]
    pub refresh_only: bool,

    #[command(flatten)]
    pub offline: OfflineArgs,
}

/// Which jobs a run acts on, and what it may do to them. Each takes a job name (the spec's
/// `name`, or for a managed job whose spec is gone the name the plan shows) and may be repeated.
/// (`savepoint --job` and `gc --job` pick jobs for those commands the same way.)
#[derive(Debug, Args, Clone, Default)]
pub struct ControlArgs {
    /// Act only on this job, and on the upstream jobs (dependsOn) it must wait for because they
    /// are not running (shown as "pulled in"). Every other job is skipped and shown as such.
    /// With --prune, only targeted orphans are stopped. (`savepoint --job` and `gc --job` pick
    /// jobs by the same names.)
    #[arg(long = "target", id = "target_job", value_name = "NAME")]
    pub target: Vec<String>,

    /// Never act on this job in this run (shown as skipped). A job that needs an excluded
    /// upstream job started first is blocked.
    #[arg(long, value_name = "NAME")]
    pub exclude: Vec<String>,

    /// Redeploy this running job from a fresh savepoint with no spec change (like bumping
    /// `restartNonce`, without a commit): savepoint, start from it, health gate, rollback.
    #[arg(long, value_name = "NAME")]
    pub replace: Vec<String>,

    /// Lift `protect: true` for this job in this run: lets flinkops prune it, upgrade it without
    /// a savepoint, or start it empty or from an older snapshot, as the plan shows.
    #[arg(long, value_name = "NAME")]
    pub allow_destroy: Vec<String>,
}

impl ControlArgs {
    pub fn control(&self) -> crate::plan::Control {
        crate::plan::Control {
            target: self.target.clone(),
            exclude: self.exclude.clone(),
            replace: self.replace.clone(),
            allow_destroy: self.allow_destroy.clone(),
        }
    }
}

/// The offline plan: compare two spec trees, with no cluster (a pull request's CI).
#[derive(Debug, Args)]
pub struct OfflineArgs {
    /// Plan offline: compare the specs at PATH (the head) with the spec tree in BASE_DIR, as if
    /// BASE_DIR were what runs now. No cluster is contacted; no connection flags are needed.
    #[arg(long, value_name = "BASE_DIR", conflicts_with_all = ["base_rev", "refresh_only", "target_job", "exclude", "replace", "allow_destroy", "out"])]
    pub base: Option<PathBuf>,

    /// Plan offline against the spec directory as committed at REV (a branch, tag or commit, e.g.
    /// `origin/main`), read with `git` from the repository that holds PATH. No cluster is
    /// contacted. Exit codes with `--detailed-exitcode`: 0 no changes, 2 changes, 3 a change drops
    /// a job's state.
    #[arg(long, value_name = "REV", conflicts_with_all = ["refresh_only", "target_job", "exclude", "replace", "allow_destroy", "out"])]
    pub base_rev: Option<String>,
}

impl OfflineArgs {
    /// Whether an offline plan was asked for.
    pub fn requested(&self) -> bool {
        self.base.is_some() || self.base_rev.is_some()
    }
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

    /// Right before it stops a job for a new version, apply checks that the new version's
    /// parallelism fits the cluster's free task slots plus those the old version frees; this is
    /// how long it waits for other jobs to free slots before it refuses (the old version keeps
    /// running). 0s refuses at once.
    #[arg(long, value_name = "DURATION", default_value = "60s", env = "FLINKOPS_SLOT_WAIT", value_parser = parse_lock_timeout)]
    pub slot_wait: std::time::Duration,

    /// (Not with a plan file: it applies the targeting it was planned with.)
    #[command(flatten)]
    pub control: ControlArgs,

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

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The directory of job specs to keep the cluster on (searched recursively).
    #[arg(default_value = ".", env = "FLINKOPS_SPECS")]
    pub path: PathBuf,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub state: StateArgs,

    /// Where to serve /healthz, /readyz and /metrics (HOST:PORT; port 0 picks a free one and logs
    /// it).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9810", env = "FLINKOPS_LISTEN")]
    pub listen: std::net::SocketAddr,

    /// Reconcile at least this often even without spec changes: heals jobs and catches changes
    /// made to the cluster by others (e.g. 60s, 5m). Flink is polled only then, on spec changes,
    /// and while an action runs.
    #[arg(long, value_name = "DURATION", default_value = "60s", env = "FLINKOPS_RESYNC", value_parser = parse_positive_duration)]
    pub resync: std::time::Duration,

    /// Wait this long after the last file event before reloading, so that a git checkout or an
    /// editor's save is seen as one change.
    #[arg(long, value_name = "DURATION", default_value = "1s", env = "FLINKOPS_DEBOUNCE", value_parser = parse_positive_duration)]
    pub debounce: std::time::Duration,

    /// Detect spec changes by scanning the directory instead of inotify: for network file systems
    /// (NFS, SMB) where file events do not arrive. Files are compared by modification time in
    /// whole seconds; anything a scan misses is caught at the next resync.
    #[arg(long, env = "FLINKOPS_POLL")]
    pub poll: bool,

    /// How often to scan with --poll.
    #[arg(long, value_name = "DURATION", default_value = "5s", env = "FLINKOPS_POLL_INTERVAL", value_parser = parse_positive_duration)]
    pub poll_interval: std::time::Duration,

    /// Do not redeploy managed jobs that failed or were cancelled outside flinkops; only report
    /// them (as drift in the logs and in /metrics). Spec changes are still applied.
    #[arg(long, env = "FLINKOPS_NO_SELF_HEAL")]
    pub no_self_heal: bool,

    /// First delay before a failed action is tried again for the same spec; it doubles with every
    /// failure.
    #[arg(long, value_name = "DURATION", default_value = "1m", env = "FLINKOPS_RETRY_BACKOFF", value_parser = parse_positive_duration)]
    pub retry_backoff: std::time::Duration,

    /// Failures of one job's action for one spec version before it is held until the spec changes
    /// (a new fingerprint, e.g. a `restartNonce` bump). A rollback holds at once: the same
    /// version would fail the same way.
    #[arg(long, value_name = "N", default_value_t = 3, env = "FLINKOPS_MAX_RETRIES", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_retries: u32,

    /// On SIGTERM or SIGINT, how long the action in flight may take to finish before flinkops
    /// exits anyway (its ledger record lets the next run finish it). Keep it below the pod's
    /// terminationGracePeriodSeconds.
    #[arg(long, value_name = "DURATION", default_value = "25s", env = "FLINKOPS_SHUTDOWN_GRACE", value_parser = parse_lock_timeout)]
    pub shutdown_grace: std::time::Duration,

    /// How many independent jobs of one wave may be acted on at the same time.
    #[arg(long, value_name = "N", default_value_t = 4, env = "FLINKOPS_CONCURRENCY", value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,

    /// Stop (with a savepoint) managed jobs whose spec was deleted.
    #[arg(long, env = "FLINKOPS_PRUNE")]
    pub prune: bool,

    /// Take over a running job flinkops did not start when its Flink job name is a spec's name.
    #[arg(long, env = "FLINKOPS_ADOPT")]
    pub adopt: bool,

    /// Run gc this often (e.g. 1h, 1d): dispose of the savepoints `savepoint.retain` no longer
    /// keeps, exactly as `flinkops gc --auto-approve` would (never the newest, a rollback target,
    /// one a pending step or `restore.from` names, nor what the running job restored from). Off
    /// by default; results are logged and counted on /metrics.
    #[arg(long, value_name = "DURATION", env = "FLINKOPS_GC_EVERY", value_parser = parse_positive_duration)]
    pub gc_every: Option<std::time::Duration>,

    /// Reconcile once, exactly as one watch tick does (the same plan and policies: --prune,
    /// --adopt, self-heal), then exit with apply's exit codes (0 all converged, 1 anything
    /// failed, was held, or could not be done). Serves no HTTP endpoints.
    #[arg(long)]
    pub once: bool,

    /// With --once: act only on this job (and the upstream jobs it must wait for), as `apply
    /// --target`. Refused without --once: a long-running watch that ignores the rest of the fleet
    /// would leave it unattended without anyone noticing.
    #[arg(long = "target", id = "watch_target", value_name = "NAME", requires = "once")]
    pub target: Vec<String>,

    /// With --once: never act on this job in this pass, as `apply --exclude`. Refused without
    /// --once, for the same reason as --target.
    #[arg(long, value_name = "NAME", requires = "once")]
    pub exclude: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The directory of job specs (searched recursively), or one spec file.
    #[arg(default_value = ".", env = "FLINKOPS_SPECS")]
    pub path: PathBuf,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub limit: TimeLimitArgs,

    #[command(flatten)]
    pub state: StateArgs,

    /// Warn when a stateful job's latest savepoint is older than this (e.g. 7d, 36h), or when it
    /// has none.
    #[arg(long, value_name = "DURATION", default_value = "7d", env = "FLINKOPS_MAX_SAVEPOINT_AGE", value_parser = parse_positive_duration)]
    pub max_savepoint_age: std::time::Duration,

    /// Warn when a running stateful job's latest completed checkpoint is older than this.
    #[arg(long, value_name = "DURATION", default_value = "1h", env = "FLINKOPS_MAX_CHECKPOINT_AGE", value_parser = parse_positive_duration)]
    pub max_checkpoint_age: std::time::Duration,

    /// The lowest finding severity that makes the exit code 2: `error` (failed jobs, conflicts)
    /// or `warn` (also drift, orphans, old savepoints and checkpoints, restarts).
    #[arg(long, value_enum, default_value_t = Severity::Error, env = "FLINKOPS_FAIL_ON")]
    pub fail_on: Severity,

    /// `text`: a table; `json`: one JSON document.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text, env = "FLINKOPS_OUTPUT")]
    pub output: OutputFormat,
}

/// How bad an audit finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, no action needed (in sync, suspended, unmanaged).
    #[value(skip)]
    Ok,
    Warn,
    Error,
}

/// The time limit of a read-only command (`plan`, `status`, `audit`).
#[derive(Debug, Args)]
pub struct TimeLimitArgs {
    /// The longest this command spends on calls to Flink, all of them together (e.g. 5m, 90s).
    /// When it runs out, the call in progress fails and the command exits 1 naming that call
    /// (checkpoint lookups of `status` and `audit` only stop, and the jobs are shown without
    /// them), so a cluster that accepts connections and stops answering costs at most this. `apply` and
    /// `watch` have no such limit (cutting an upgrade short would leave it half-done); each of
    /// their calls and steps has a timeout of its own.
    #[arg(long, value_name = "DURATION", default_value = "5m", env = "FLINKOPS_MAX_TIME", value_parser = parse_positive_duration)]
    pub max_time: std::time::Duration,
}

impl TimeLimitArgs {
    /// `config` with this limit on all its calls together.
    pub fn apply(&self, mut config: crate::flink::ClientConfig) -> crate::flink::ClientConfig {
        config.max_time = Some(self.max_time);
        config
    }
}

/// `30s`, `5m`, `1h 30m`, `PT90S`, and days (`7d`, counted as 24 hours each); more than zero.
fn parse_positive_duration(s: &str) -> Result<std::time::Duration, String> {
    // What reads as a duration without days gets that parser's checks and messages.
    if s.trim().parse::<jiff::SignedDuration>().is_ok() {
        return crate::spec::read::parse_duration(s).map(|d| d.as_std());
    }
    let span: jiff::Span =
        s.trim().parse().map_err(|_| format!("`{s}` is not a duration (e.g. 30s, 5m, 7d)"))?;
    let d = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|_| format!("`{s}` is not a duration (e.g. 30s, 5m, 7d)"))?;
    crate::spec::read::check_max_duration(s, d)?;
    match d.try_into() {
        Ok(d) if !std::time::Duration::is_zero(&d) => Ok(d),
        _ => Err(format!("`{s}` must be longer than zero")),
    }
}

/// Where flinkops keeps its ledger and caches.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// The state directory: the ledger (what was applied, the savepoints taken) and caches. Plan
    /// works without it, with fewer details.
    #[arg(long, value_name = "DIR", default_value = crate::ledger::DEFAULT_DIR, env = "FLINKOPS_STATE_DIR")]
    pub state_dir: PathBuf,

    /// Name the cluster yourself (e.g. prod-eu-1) instead of by the identity its JobManager
    /// reports; its ledger and apply lock are kept under that name. For clusters whose
    /// configuration is not unique (the same RPC address and ports on two hosts), or behind a
    /// proxy that blocks GET /jobmanager/config. Give it in every run against that cluster.
    #[arg(long, value_name = "NAME", env = "FLINKOPS_CLUSTER_NAME")]
    pub cluster_name: Option<String>,
}

impl StateArgs {
    /// The directory of the ledger and lock of the cluster `client` talks to, for a run that
    /// only reads (see `crate::cluster::locate`).
    pub async fn cluster_dir_to_read(
        &self,
        client: &crate::flink::Client,
    ) -> Result<PathBuf, crate::cluster::Error> {
        let identity = crate::cluster::resolve(client, self.cluster_name.as_deref()).await?;
        crate::cluster::locate(&self.state_dir, &identity, client.base_url())
    }

    /// The same for a run that writes (see `crate::cluster::claim`).
    pub async fn cluster_dir_to_write(
        &self,
        client: &crate::flink::Client,
    ) -> Result<PathBuf, crate::cluster::Error> {
        let identity = crate::cluster::resolve(client, self.cluster_name.as_deref()).await?;
        crate::cluster::claim(&self.state_dir, &identity, client.base_url())
    }
}

/// Output format of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_line_is_well_formed() {
        // clap checks argument ids only when a command is built: `apply --target` once collided
        // with apply's positional TARGET, and only a run of the binary showed it.
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_past_a_year_are_refused() {
        for parse in [parse_positive_duration, parse_lock_timeout] {
            for huge in ["PT9223372036854775807S", "8785h"] {
                let err = parse(huge).unwrap_err();
                assert!(err.contains("longer than 366 days"), "{huge}: {err}");
            }
            // Too large even to read: refused all the same.
            assert!(parse("9223372036854775807s").is_err());
        }
        assert!(parse_positive_duration("400d").unwrap_err().contains("longer than 366 days"));
        let err = crate::cli::connection::parse_duration("PT9223372036854775807S").unwrap_err();
        assert!(err.contains("longer than 366 days"), "{err}");
    }

    #[test]
    fn durations_accept_days_and_refuse_zero() {
        assert_eq!(parse_positive_duration("7d").unwrap().as_secs(), 7 * 86_400);
        assert_eq!(parse_positive_duration("1h 30m").unwrap().as_secs(), 5_400);
        assert_eq!(parse_positive_duration("90s").unwrap().as_secs(), 90);
        assert!(parse_positive_duration("0s").is_err());
        assert!(parse_positive_duration("-1d").is_err());
        assert!(parse_positive_duration("soon").is_err());
    }
}

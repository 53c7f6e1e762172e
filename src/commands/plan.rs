//! `flinkops plan`: load the specs, observe the cluster, read the ledger, plan, render.
//!
//! Read-only towards Flink. Invalid specs stop it before any call to Flink. It makes a constant
//! number of REST calls however many jobs there are (`/config`, `/jobs/overview`, and when jobs
//! start or stop `/jobmanager/config` and `/overview`), plus, for each running job it would stop
//! or replace, that job's `/checkpoints` and `/jobs/:id` for the checks before the stop.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::{ColorChoice, PlanArgs, PlanFormat};
use crate::flink::Client;
use crate::ledger::{Ledger, Record};
use crate::output::{Styles, fail};
use crate::plan::{self, ClusterRef, Observed, Options, Plan};
use crate::spec::{self, Inputs, jarcache::JarHashCache};
use crate::{exit, render};

/// Why a plan could not be made (after the specs were valid).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Flink(#[from] crate::flink::Error),
    #[error(transparent)]
    Connection(#[from] crate::cli::ConnectionError),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot write the plan to {path}")]
    WritePlan { path: std::path::PathBuf, source: std::io::Error },
    #[error(transparent)]
    Cluster(#[from] crate::cluster::Error),
    #[error(transparent)]
    UnknownName(#[from] crate::plan::control::UnknownName),
}

impl Error {
    /// Print the error with its help and give the exit code.
    pub fn fail(self, color: ColorChoice) -> ExitCode {
        match self {
            Error::Flink(e) => fail(&e, e.help(), color),
            Error::Connection(e) => fail(&e, Some(e.help()), color),
            Error::Cluster(e) => fail(&e, e.help().as_deref(), color),
            Error::UnknownName(e) => fail(&e, Some(&e.help()), color),
            e => fail(&e, None, color),
        }
    }
}

pub fn run(args: &PlanArgs, color: ColorChoice) -> ExitCode {
    if args.offline.requested() {
        return super::offline::run(args, color);
    }
    if args.refresh_only {
        return super::refresh::run(args, color);
    }
    let Some(desired) = load_specs(&args.path, &args.state.state_dir, color) else {
        return exit::code(exit::ERROR);
    };
    let plan = match make_plan(args, &desired) {
        Ok(plan) => plan,
        Err(e) => return e.fail(color),
    };
    if let Some(path) = &args.out
        && let Err(e) = write_plan(&plan, path)
    {
        return fail(&e, None, color);
    }
    let mut stdout = std::io::stdout().lock();
    let written = match args.output {
        PlanFormat::Text => render::human(&plan, &Styles::stdout(color), &mut stdout),
        PlanFormat::Json => render::json(&plan, &mut stdout),
        PlanFormat::Markdown => render::markdown(&plan, &mut stdout),
    };
    if let Err(e) = written.and_then(|()| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return fail(&e, None, color);
    }
    exit::code(exit_code(&plan, args.detailed_exitcode))
}

/// 1 when apply could not act on some job; with `--detailed-exitcode` 2 for changes.
pub fn exit_code(plan: &Plan, detailed: bool) -> u8 {
    if !plan.problems.is_empty() {
        exit::ERROR
    } else if detailed && plan.has_changes() {
        exit::CHANGES
    } else {
        exit::OK
    }
}

/// Load and check the specs with the process environment and the jar hash cache of the state
/// directory. The caller reports the diagnostics and must not act on a load with errors.
pub fn load_checked(path: &Path, state_dir: &Path) -> spec::Loaded {
    let cache = JarHashCache::load(state_dir);
    let env = |k: &str| std::env::var(k).ok();
    let hash = |p: &Path| cache.hash(p);
    let loaded = spec::load_with(path, &Inputs { env: &env, hash_jar: &hash, allow_missing_jar: false });
    cache.save();
    loaded
}

/// Load and check the specs, printing diagnostics; `None` when any is an error.
pub fn load_specs(path: &Path, state_dir: &Path, color: ColorChoice) -> Option<spec::Desired> {
    let loaded = load_checked(path, state_dir);
    let errors = loaded.error_count();
    if !loaded.diagnostics.is_empty() {
        use std::io::IsTerminal;
        let mut err = std::io::stderr().lock();
        let _ = spec::diag::render(
            &loaded.diagnostics,
            crate::output::use_color(color, std::io::stderr().is_terminal()),
            &mut err,
        );
    }
    if errors > 0 {
        let s = Styles::stderr(color);
        eprintln!(
            "{}error:{} {errors} problem(s) in the job specs under {}; nothing was planned and Flink was not contacted",
            s.error.render(),
            s.error.render_reset(),
            path.display()
        );
        return None;
    }
    Some(loaded.desired)
}

fn make_plan(args: &PlanArgs, desired: &spec::Desired) -> Result<Plan, Error> {
    let client = Client::new(args.limit.apply(args.connection.client_config_for(&desired.clusters)?))?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)?;
    let opts = Options { prune: args.prune, adopt: args.adopt, control: args.control.control() };
    runtime.block_on(async {
        let ledger = Ledger::new(&args.state.cluster_dir_to_read(&client).await?);
        let (plan, _) = observe_and_plan(&client, &ledger, desired, &args.path, &opts).await?;
        opts.control.check_names(&plan)?;
        Ok(plan)
    })
}

/// Observe the cluster (`/config`, `/jobs/overview`), read the ledger and plan: the one path
/// `plan` and `apply` share, so that both decide alike. Also returns the ledger records, which
/// apply goes on to update. A spec whose record cannot be read is a conflict (see
/// `Observed::unreadable_records`); the others are planned as usual.
pub async fn observe_and_plan(
    client: &Client,
    ledger: &Ledger,
    desired: &spec::Desired,
    specs: &Path,
    opts: &Options,
) -> Result<(Plan, BTreeMap<String, Record>), crate::flink::Error> {
    let version = client.version().await?;
    let overview = client.jobs_overview().await?;
    let (records, unreadable) = match ledger.read_all() {
        Ok(all) => (all.ok, all.unreadable),
        // No record can be trusted to be absent: none of the specs is acted on.
        Err(e) => {
            let why = crate::output::error_chain(&e);
            (BTreeMap::new(), desired.jobs.keys().map(|name| (name.clone(), why.clone())).collect())
        }
    };
    let mut observed = Observed::from(&overview);
    observed.unreadable_records = unreadable;
    observed.snapshots = gather_snapshots(client, desired, &observed, &records).await;
    observed.cluster_savepoint_dir = cluster_savepoint_dir(client, &observed).await;
    let mut plan = plan::plan(desired, &observed, &records, opts);
    // What the checks before a stop need is asked only for the jobs the first plan would stop or
    // start, then the plan is made again (planning is pure and cheap).
    if observe_for_checks(client, &plan, &mut observed).await {
        plan = plan::plan(desired, &observed, &records, opts);
    }
    plan.cluster =
        Some(ClusterRef { url: client.base_url().to_string(), flink_version: version.to_string() });
    let specs = std::path::absolute(specs).unwrap_or_else(|_| specs.to_path_buf());
    plan.specs = Some(specs.display().to_string());
    Ok((plan, records))
}

/// The cluster's default savepoint directory, asked only when a managed job runs (only those can
/// be stopped with a savepoint); `None` when not asked or Flink cannot say (the stop then fails,
/// if it does, with the job still running).
async fn cluster_savepoint_dir(client: &Client, observed: &Observed) -> Option<Option<String>> {
    let managed = observed.jobs.iter().any(|j| j.is_active() && plan::identity::parse(&j.id).is_some());
    if !managed {
        return None;
    }
    client.jobmanager_config().await.ok().map(|c| c.dirs().savepoints)
}

/// Ask Flink what the checks before anything stops need (see `plan::checks`): the checkpoint
/// statistics of every live job the plan would stop with state, and the cluster's slots (in all,
/// free, and those each job to be replaced holds) when something would start. Whether anything was
/// learnt. What Flink cannot say is left out, and the check that needs it passes.
async fn observe_for_checks(client: &Client, plan: &Plan, observed: &mut Observed) -> bool {
    use crate::spec::model::UpgradeMode;
    use plan::{Action, checks};
    let stops: Vec<_> = plan
        .jobs
        .iter()
        .filter(|j| {
            matches!(j.action, Action::Suspend | Action::Stop | Action::Adopt)
                || matches!(j.action, Action::Upgrade { mode } if mode != UpgradeMode::Stateless)
        })
        .filter_map(|j| j.live.as_ref().map(|l| l.id.clone()))
        .collect();
    let mut learnt = !stops.is_empty();
    observed.checkpoints = crate::status::fetch_checkpoints(client, stops)
        .await
        .into_iter()
        .map(|(id, cp)| (id, checks::CheckpointFacts::of(&cp)))
        .collect();
    if plan.jobs.iter().any(|j| j.action.starts_a_job())
        && let Some(overview) = fixed_slots(client).await
    {
        observed.total_slots = Some(overview.slots_total);
        observed.free_slots = Some(overview.slots_available);
        let replaced =
            plan.jobs.iter().filter(|j| matches!(j.action, Action::Upgrade { .. } | Action::Adopt));
        for live in replaced.filter_map(|j| j.live.as_ref()) {
            if let Ok(details) = client.job(&live.id).await {
                observed.slots_held.insert(live.id.clone(), checks::slots_held(&details));
            }
        }
        learnt = true;
    }
    learnt
}

/// The cluster's slots, or `None` when they do not bound what can start (see
/// `checks::slots_are_fixed`) or Flink cannot say.
pub async fn fixed_slots(client: &Client) -> Option<crate::flink::ClusterOverview> {
    let config = client.jobmanager_config().await.ok()?;
    if !plan::checks::slots_are_fixed(&config) {
        return None;
    }
    client.cluster_overview().await.ok()
}

/// For every spec that should run but has no live job (and would start from its latest state):
/// every snapshot the sources name, so that the plan shows what it will start from.
async fn gather_snapshots(
    client: &Client,
    desired: &spec::Desired,
    observed: &Observed,
    records: &BTreeMap<String, Record>,
) -> BTreeMap<String, crate::restore::Evidence> {
    use crate::spec::model::{JobState, RestoreFrom, UpgradeMode};
    use futures_util::StreamExt;
    let wanted = desired.jobs.values().filter(|j| {
        j.state == JobState::Running
            && j.upgrade_mode != UpgradeMode::Stateless
            && j.restore.from.value == RestoreFrom::Latest
    });
    let with_lists: Vec<_> = wanted
        .filter(|job| !observed.jobs.iter().any(|l| l.name == job.name && l.is_active()))
        .filter_map(|job| {
            // A renamed spec's state may be in its old names' jobs (`previousNames`).
            let tags = plan::renames::tags(job);
            let listed: Vec<_> = observed
                .jobs
                .iter()
                .filter(|l| plan::identity::parse(&l.id).is_some_and(|m| tags.contains(&m.name_tag)))
                .map(|l| (l.id.clone(), !l.is_active()))
                .collect();
            listed.iter().all(|(_, ended)| *ended).then_some((job, listed))
        })
        .collect();
    if with_lists.is_empty() {
        return BTreeMap::new();
    }
    let cluster = &crate::restore::gather::cluster_dirs(client).await;
    futures_util::stream::iter(with_lists)
        .map(|(job, listed)| async move {
            let record = plan::renames::record_for(job, records);
            let evidence = crate::restore::gather::gather(client, job, record, &listed, cluster).await;
            (job.name.clone(), evidence)
        })
        .buffer_unordered(8)
        .collect()
        .await
}

/// Write the plan as JSON, atomically (a half-written plan file must never be applied).
fn write_plan(plan: &Plan, path: &Path) -> Result<(), Error> {
    let err = |source| Error::WritePlan { path: path.to_path_buf(), source };
    let mut bytes = Vec::new();
    render::json(plan, &mut bytes).map_err(err)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, &bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

//! `flinkops apply`: from a spec directory (plan, show, confirm, act) or a saved plan (check it is
//! still true, act). Holds the lock for the whole run, so no two applies interleave.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::CommandError;
use crate::apply::confirm::{self, Decision};
use crate::apply::execute::{self, JobResult, Outcome};
use crate::apply::steps::Context;
use crate::cli::{ApplyArgs, ColorChoice, OutputFormat};
use crate::ledger::Ledger;
use crate::output::Styles;
use crate::pipeline::{self, Connection, Threads, load_specs, lock_cluster, observe_and_plan};
use crate::plan::{self, Options, Plan};
use crate::{exit, render};

pub fn run(args: &ApplyArgs, color: ColorChoice, quiet: bool) -> Result<u8, CommandError> {
    super::block_on(Threads::Workers, apply(args, color, quiet))
}

/// The first of --target/--exclude/--replace/--allow-destroy given (a plan file carries its own).
fn given_control_flag(args: &ApplyArgs) -> Option<&'static str> {
    let c = &args.control;
    [
        (!c.target.is_empty(), "--target"),
        (!c.exclude.is_empty(), "--exclude"),
        (!c.replace.is_empty(), "--replace"),
        (!c.allow_destroy.is_empty(), "--allow-destroy"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

/// A saved plan is a JSON file; anything else names specs.
fn is_plan_file(target: &Path) -> bool {
    target.is_file() && target.extension().is_some_and(|e| e == "json")
}

async fn apply(args: &ApplyArgs, color: ColorChoice, quiet: bool) -> Result<u8, CommandError> {
    let (saved, saved_fleet) =
        match is_plan_file(&args.target).then(|| read_plan(&args.target)).transpose()? {
            Some(Saved::One(plan)) => (Some(plan), None),
            Some(Saved::Fleet(fleet)) => (None, Some(fleet)),
            None => (None, None),
        };
    if (saved.is_some() || saved_fleet.is_some())
        && let Some(flag) = given_control_flag(args)
    {
        return Err(CommandError::ControlWithPlanFile(flag));
    }
    let specs_path = saved
        .as_ref()
        .and_then(|p| p.specs.clone())
        .or_else(|| saved_fleet.as_ref().map(|f| f.specs.clone()))
        .map_or_else(|| args.target.clone(), Into::into);
    let Some(desired) = load_specs(&specs_path, &args.state.state_dir, color) else {
        return Ok(exit::ERROR);
    };
    if let Some(warning) = crate::ledger::relative_state_dir_warning(&args.state.state_dir)
        && !quiet
    {
        eprintln!("warning: {warning}");
    }
    match (desired.clusters.len() > 1, saved.is_some(), saved_fleet.is_some()) {
        (true, false, _) => {
            return super::apply_fleet::apply(args, desired, &specs_path, saved_fleet, color, quiet).await;
        }
        (true, true, _) => {
            return Err(CommandError::Stale(
                "it was made for one cluster, the specs now name several".into(),
            ));
        }
        (false, _, true) => {
            return Err(CommandError::Stale(
                "it was made for several clusters, the specs now name one".into(),
            ));
        }
        (false, _, false) => {}
    }
    apply_one(args, &desired, &specs_path, saved.as_ref(), (color, quiet))
        .await
        .map_err(|e| e.on_document(&desired.clusters))
}

/// Apply to the one cluster of the specs (a document's or the flags'), or the saved plan of it.
async fn apply_one(
    args: &ApplyArgs,
    desired: &crate::spec::Desired,
    specs_path: &Path,
    saved: Option<&Plan>,
    (color, quiet): (ColorChoice, bool),
) -> Result<u8, CommandError> {
    let client = Connection::resolve(&args.connection, &desired.clusters)?.client()?;
    let cluster_dir = args.state.cluster_dir_to_write(&client).await?;
    let command = format!("flinkops apply {}", args.target.display());
    let _lock = lock_cluster(&cluster_dir, &client, &command, args.lock_timeout, quiet)?;
    let opts = match saved {
        Some(p) => {
            Options { prune: p.options.prune, adopt: p.options.adopt, control: p.options.control.clone() }
        }
        None => Options { prune: args.prune, adopt: args.adopt, control: args.control.control() },
    };
    let ledger = Ledger::new(&cluster_dir);
    let (plan, records) = observe_and_plan(&client, &ledger, desired, specs_path, &opts).await?;
    opts.control.check_names(&plan)?;
    if let Some(saved) = saved {
        check_not_stale(saved, &plan)?;
    }
    show_plan(&plan, args.output, color)?;
    if !plan.has_changes() {
        return Ok(if plan.problems.is_empty() { exit::OK } else { exit::ERROR });
    }
    if saved.is_none() {
        let context = format!("the Flink cluster at {}", client.base_url());
        if confirm::confirm_on_terminal(&context, args.auto_approve)? == Decision::Declined {
            eprintln!("Apply cancelled.");
            return Ok(exit::ERROR);
        }
    }
    let ctx =
        Context { slot_wait: args.slot_wait, ..pipeline::context(client, ledger, records, color, quiet) };
    let results = execute::execute(&ctx, &plan, desired, usize::from(args.concurrency)).await;
    let removed = ctx.remove_dropped_jars().await;
    if removed > 0 && !quiet {
        eprintln!("removed {removed} jar upload(s) no job refers to any more");
    }
    report(&plan, &results, args.output, color).map_err(CommandError::Output)?;
    let all_ok = results.iter().all(|r| r.outcome.is_ok()) && plan.problems.is_empty();
    Ok(if all_ok { exit::OK } else { exit::ERROR })
}

/// A saved plan: one cluster's (`formatVersion: 1`) or several clusters' (2).
enum Saved {
    One(Plan),
    Fleet(super::apply_fleet::SavedFleet),
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Version {
    format_version: u32,
}

fn read_plan(path: &Path) -> Result<Saved, CommandError> {
    let bytes = std::fs::read(path).map_err(|source| CommandError::PlanFile { path: path.into(), source })?;
    let not_a_plan =
        |e: serde_json::Error| CommandError::NotAPlan { path: path.into(), reason: e.to_string() };
    if serde_json::from_slice::<Version>(&bytes)
        .is_ok_and(|v| v.format_version == render::FLEET_FORMAT_VERSION)
    {
        return Ok(Saved::Fleet(serde_json::from_slice(&bytes).map_err(not_a_plan)?));
    }
    let plan: Plan = serde_json::from_slice(&bytes).map_err(not_a_plan)?;
    if plan.format_version != plan::model::FORMAT_VERSION {
        return Err(CommandError::NotAPlan {
            path: path.into(),
            reason: format!("format version {}", plan.format_version),
        });
    }
    if plan.specs.is_none() {
        return Err(CommandError::NotAPlan {
            path: path.into(),
            reason: "it does not say which specs it was made from".into(),
        });
    }
    Ok(Saved::One(plan))
}

/// A saved plan is applied only if planning again now decides exactly the same: same cluster,
/// the live jobs it rests on unchanged, same specs (fingerprints), same actions. Jobs on the
/// cluster that neither plan concerns (other teams' jobs on a shared cluster) may come and go.
pub(super) fn check_not_stale(saved: &Plan, now: &Plan) -> Result<(), CommandError> {
    let url = |p: &Plan| p.cluster.as_ref().map(|c| c.url.clone());
    if url(saved) != url(now) {
        return Err(CommandError::Stale(format!("it was made for {:?}, not {:?}", url(saved), url(now))));
    }
    // An orphan is never acted on (a job of ours whose spec is gone is `Stop` under --prune):
    // most are another state directory's jobs on a shared cluster, upgraded at any time.
    let concerns = |j: &&crate::plan::JobPlan| j.action != crate::plan::Action::Orphan;
    let rests_on: std::collections::BTreeSet<_> = [saved, now]
        .iter()
        .flat_map(|p| p.jobs.iter().filter(concerns).filter_map(|j| j.live.as_ref().map(|l| l.id.clone())))
        .collect();
    let seen = |p: &Plan| p.observed.iter().filter(|l| rests_on.contains(&l.id)).cloned().collect::<Vec<_>>();
    if seen(saved) != seen(now) {
        return Err(CommandError::Stale("the live jobs it concerns changed since it was made".into()));
    }
    let key = |p: &Plan| -> Vec<_> {
        p.jobs
            .iter()
            .filter(concerns)
            .map(|j| (j.name.clone(), j.action, j.fingerprint.clone(), j.live.as_ref().map(|l| l.id.clone())))
            .collect()
    };
    if key(saved) != key(now) {
        return Err(CommandError::Stale("the specs or the decided actions changed since it was made".into()));
    }
    Ok(())
}

fn show_plan(plan: &Plan, output: OutputFormat, color: ColorChoice) -> Result<(), CommandError> {
    show(output, color, |s, mut out| render::human(plan, s, &mut out))
}

/// Show a plan for people: on stdout, or on stderr when stdout gets the JSON document (which comes
/// at the end, with the results).
pub(super) fn show(
    output: OutputFormat,
    color: ColorChoice,
    render: impl FnOnce(&Styles, &mut dyn Write) -> std::io::Result<()>,
) -> Result<(), CommandError> {
    let written = match output {
        OutputFormat::Text => {
            let mut out = std::io::stdout().lock();
            render(&Styles::stdout(color), &mut out).and_then(|()| out.flush())
        }
        OutputFormat::Json => render(&Styles::stderr(color), &mut std::io::stderr().lock()),
    };
    written.map_err(CommandError::Output)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    format_version: u32,
    plan: &'a Plan,
    results: &'a [JobResult],
    summary: String,
}

fn report(
    plan: &Plan,
    results: &[JobResult],
    output: OutputFormat,
    color: ColorChoice,
) -> std::io::Result<()> {
    let summary = execute::summary(results);
    let mut out = std::io::stdout().lock();
    if output == OutputFormat::Json {
        serde_json::to_writer_pretty(&mut out, &JsonReport { format_version: 1, plan, results, summary })?;
        return writeln!(out);
    }
    let s = Styles::stdout(color);
    writeln!(out)?;
    for r in results {
        result_line(r, &s, &mut out)?;
    }
    let ok = results.iter().all(|r| r.outcome.is_ok());
    let style = if ok { s.ok } else { s.error };
    writeln!(out, "\n{}{summary}{}", style.render(), style.render_reset())
}

/// One job's result as a line: its name, what happened, how long it took.
pub(super) fn result_line(r: &JobResult, s: &Styles, out: &mut impl Write) -> std::io::Result<()> {
    let (style, text) = match &r.outcome {
        Outcome::Done { detail } => (s.ok, format!("done: {detail}")),
        Outcome::RolledBack { reason } => (s.warn, format!("ROLLED BACK: {reason}")),
        Outcome::Failed { reason } => (s.error, format!("FAILED: {reason}")),
        Outcome::Skipped { reason } => (s.warn, format!("skipped: {reason}")),
    };
    let rest = format_args!(": {}{text}{} ({:.1}s)", style.render(), style.render_reset(), r.seconds);
    crate::render::bold_name_line(out, s, "  ", (&r.name, 0), rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flink::{JobId, JobState};
    use crate::plan::fixtures::*;
    use crate::plan::{Observed, plan};

    fn planned(live: Vec<crate::plan::LiveJob>) -> Plan {
        let (old, new) = (job("orders"), job("orders").with_parallelism(2));
        plan(
            &desired([new]),
            &Observed { jobs: live, ..Default::default() },
            &ledger([record_of(&old)]),
            &Options::default(),
        )
    }

    #[test]
    fn a_saved_plan_is_stale_when_its_jobs_change_not_when_other_jobs_do() {
        let old = job("orders");
        let ours = live_of(&old, 1, JobState::Running);
        let theirs = live(JobId::random(), "someone-elses", JobState::Running);
        let saved = planned(vec![ours.clone()]);
        assert!(
            check_not_stale(&saved, &planned(vec![ours.clone(), theirs])).is_ok(),
            "another team's job started"
        );
        // Another state directory's managed job (an orphan from here) upgraded in between: it
        // shows under a new id, and this plan never acts on it.
        let (billing, billing_v2) = (job("billing"), job("billing").with_parallelism(3));
        let before = planned(vec![ours.clone(), live_of(&billing, 1, JobState::Running)]);
        let after = planned(vec![ours.clone(), live_of(&billing_v2, 1, JobState::Running)]);
        assert!(check_not_stale(&before, &after).is_ok(), "another state directory's job was upgraded");
        let mut restarting = ours.clone();
        restarting.state = JobState::Restarting;
        let err = check_not_stale(&saved, &planned(vec![restarting])).unwrap_err();
        assert!(err.to_string().contains("the live jobs it concerns changed"), "{err}");
    }
}

//! Renderers of a `FleetPlan` (a spec tree with several cluster documents): each cluster's plan
//! under a heading of its own, written by the single-cluster renderers, a cluster that could not
//! be observed with its error and its jobs, then the apply order across clusters and one summary
//! line for the fleet. The JSON is `formatVersion: 2` (`schemas/fleet-plan.schema.json`).

use std::io::{self, Write};

use schemars::JsonSchema;
use serde::Serialize;

use super::human::Paint;
use super::words::{self, clean};
use crate::output::Styles;
use crate::plan::fleet::{ClusterPlan, FleetPlan, FleetWave, Outcome};
use crate::plan::model::{PlanOptions, Summary, WaveKind};

/// The JSON format of a plan over several clusters (a single cluster's plan stays at 1).
pub const FLEET_FORMAT_VERSION: u32 = 2;

/// Where the committed schema of the fleet plan lives (relative to the repository root).
pub const FLEET_PLAN_SCHEMA_PATH: &str = "schemas/fleet-plan.schema.json";

/// What `plan -o json` prints (and `plan --out` saves) for several clusters.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    title = "flinkops fleet plan",
    description = "What `flinkops apply` will do on several clusters, as `flinkops plan -o json` prints it \
                   for a spec tree with several `kind: FlinkCluster` documents."
)]
pub struct JsonFleetPlan<'a> {
    /// 2: a plan over several clusters (a single cluster's plan is version 1).
    pub format_version: u32,
    /// The spec directory or file the plan was made from.
    pub specs: &'a str,
    /// The options the plan was made with.
    pub options: &'a PlanOptions,
    #[serde(flatten)]
    pub fleet: &'a FleetPlan,
    /// Whether applying would change anything on some cluster.
    pub has_changes: bool,
    /// Whether some cluster could not be observed (the run exits 1).
    pub has_unobserved: bool,
    /// Counts per kind of change, every cluster together.
    pub summary: FleetSummary,
}

/// The fleet's counts: a plan's, and how many of the upgrades are moves between clusters.
#[derive(Serialize, JsonSchema)]
pub struct FleetSummary {
    #[serde(flatten)]
    pub counts: Summary,
    /// Of the upgrades, the jobs moved from one cluster to another.
    pub moves: usize,
}

impl<'a> JsonFleetPlan<'a> {
    pub fn of(fleet: &'a FleetPlan, specs: &'a str, options: &'a PlanOptions) -> Self {
        let counts = fleet.summary();
        Self {
            format_version: FLEET_FORMAT_VERSION,
            specs,
            options,
            fleet,
            has_changes: fleet.has_changes(),
            has_unobserved: fleet.has_unobserved(),
            summary: FleetSummary { moves: counts.moves, counts },
        }
    }
}

/// Write the fleet plan as pretty JSON, with a trailing newline.
pub fn fleet_json(plan: &JsonFleetPlan, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, plan)?;
    writeln!(out)
}

/// The JSON Schema of what [`fleet_json`] prints.
pub fn fleet_plan_schema_json() -> String {
    super::json::schema_json::<JsonFleetPlan<'static>>()
}

/// Write the fleet plan for a terminal or a log.
pub fn fleet_human(plan: &FleetPlan, s: &Styles, out: &mut impl Write) -> io::Result<()> {
    for c in &plan.clusters {
        writeln!(out, "{}\n", Paint(s.bold, heading(c)))?;
        match &c.outcome {
            Outcome::Planned { plan } => {
                super::human(plan, s, out)?;
                writeln!(out, "\n")?;
            }
            Outcome::Unobserved { error, jobs } => {
                writeln!(out, "{} {}", Paint(s.error, "Error: could not be observed:"), clean(error))?;
                writeln!(out, "Its jobs are not planned and fail this run: {}\n", names(jobs))?;
            }
        }
    }
    if let Some(lines) = order(&plan.waves) {
        writeln!(
            out,
            "{}",
            Paint(
                s.bold,
                "Apply order across clusters (a job starts only when the jobs it depends on are healthy):"
            )
        )?;
        for line in lines {
            writeln!(out, "  {line}")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "{}", Paint(s.bold, summary_line(plan)))
}

/// Write the fleet plan as Markdown: one section per cluster.
pub fn fleet_markdown(plan: &FleetPlan, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "## {}\n", summary_line(plan))?;
    for c in &plan.clusters {
        writeln!(out, "## {}\n", heading(c))?;
        match &c.outcome {
            Outcome::Planned { plan } => {
                super::markdown(plan, out)?;
                writeln!(out, "\n")?;
            }
            Outcome::Unobserved { error, jobs } => {
                writeln!(out, "> [!CAUTION]\n> Could not be observed: `{}`\n", error.replace('`', "'"))?;
                writeln!(out, "Its jobs are not planned and fail this run: {}\n", names(jobs))?;
            }
        }
    }
    if let Some(lines) = order(&plan.waves) {
        writeln!(out, "**Apply order across clusters:**\n")?;
        for line in lines {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

fn heading(c: &ClusterPlan) -> String {
    match &c.outcome {
        Outcome::Planned { .. } => format!("Cluster `{}`", clean(&c.name)),
        Outcome::Unobserved { .. } => format!("Cluster `{}` (not observed)", clean(&c.name)),
    }
}

fn names(jobs: &[String]) -> String {
    if jobs.is_empty() {
        return "none".into();
    }
    jobs.iter().map(|j| clean(j)).collect::<Vec<_>>().join(", ")
}

/// The waves as numbered lines, `cluster/job` each, when there is more than one.
fn order(waves: &[FleetWave]) -> Option<Vec<String>> {
    if waves.len() < 2 {
        return None;
    }
    let stops = waves.iter().any(|w| w.kind == WaveKind::Stop);
    let lines = waves.iter().enumerate().map(|(i, w)| {
        let kind = match (stops, w.kind) {
            (false, _) => "",
            (true, WaveKind::Stop) => "stop: ",
            (true, WaveKind::Start) => "start: ",
        };
        let jobs: Vec<_> =
            w.jobs.iter().map(|j| format!("{}/{}", clean(&j.cluster), clean(&j.job))).collect();
        format!("{}. {kind}{}", i + 1, jobs.join(", "))
    });
    Some(lines.collect())
}

/// One line for the fleet: the counts of every cluster, and the clusters not observed.
pub fn summary_line(plan: &FleetPlan) -> String {
    let n = plan.clusters.len();
    let unobserved = plan.clusters.iter().filter(|c| matches!(c.outcome, Outcome::Unobserved { .. })).count();
    let head = if plan.has_changes() {
        let s = plan.summary();
        format!(
            "Fleet plan ({n} clusters): {} to deploy, {} to upgrade{}, {} to update, {} to stop.",
            s.deploy,
            s.upgrade,
            words::moves_note(s.moves),
            s.settings,
            s.stop
        )
    } else {
        format!("Fleet plan ({n} clusters): {}", words::NO_CHANGES)
    };
    match unobserved {
        0 => head,
        u => format!("{head} {u} cluster(s) could not be observed: their jobs fail this run."),
    }
}

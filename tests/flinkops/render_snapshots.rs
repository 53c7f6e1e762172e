//! Every renderer (human plain and coloured, JSON, Markdown) of every situation a reviewer meets,
//! as insta snapshots: read them as a reviewer would.

use flinkops::plan::Plan;

use crate::render_fixtures::{self as fx, render};

fn snapshot_all(name: &str, plan: &Plan) {
    let out = render(plan);
    insta::assert_snapshot!(format!("{name}__human"), out.human);
    insta::assert_snapshot!(format!("{name}__human_coloured"), out.coloured);
    insta::assert_snapshot!(format!("{name}__json"), out.json);
    insta::assert_snapshot!(format!("{name}__markdown"), out.markdown);
}

#[test]
fn with_nothing_running_every_job_is_deployed_in_three_waves() {
    let plan = fx::nothing_running();
    assert_eq!(plan.waves.len(), 3);
    snapshot_all("nothing_running", &plan);
}

#[test]
fn jobs_that_run_their_specs_render_as_no_changes() {
    snapshot_all("in_sync", &fx::in_sync());
}

#[test]
fn a_changed_job_shows_its_changed_fields_with_the_secret_redacted() {
    snapshot_all("one_changed", &fx::one_changed());
}

#[test]
fn a_failed_job_is_drift_and_is_deployed_again_from_its_latest_state() {
    snapshot_all("one_failed", &fx::one_failed());
}

#[test]
fn an_orphan_is_listed_and_left_running_without_prune() {
    snapshot_all("orphan", &fx::orphan(false));
}

#[test]
fn an_orphan_is_stopped_with_a_savepoint_with_prune() {
    snapshot_all("orphan_pruned", &fx::orphan(true));
}

#[test]
fn an_unmanaged_job_is_listed_and_not_touched() {
    snapshot_all("unmanaged", &fx::unmanaged_job());
}

#[test]
fn a_conflict_is_an_error_and_blocks_the_jobs_downstream_of_it() {
    snapshot_all("conflict", &fx::conflict(false));
}

#[test]
fn an_unmanaged_namesake_is_adopted_with_adopt() {
    snapshot_all("adopt", &fx::conflict(true));
}

#[test]
fn a_settings_only_change_says_the_job_is_not_touched() {
    snapshot_all("settings_only", &fx::settings_only());
}

#[test]
fn a_suspended_spec_stops_its_job_with_a_savepoint() {
    snapshot_all("suspend", &fx::suspend());
}

#[test]
fn a_job_suspended_by_flinkops_is_resumed_from_its_suspension_savepoint() {
    snapshot_all("resume", &fx::resume());
}

#[test]
fn without_a_ledger_an_upgrade_is_shown_and_its_missing_details_explained() {
    snapshot_all("upgrade_without_ledger", &fx::upgrade_without_ledger());
}

#[test]
fn two_live_jobs_for_one_spec_are_an_error_even_without_changes() {
    snapshot_all("two_live_jobs", &fx::two_live_jobs());
}

#[test]
fn too_few_free_slots_is_a_warning_and_the_upgrade_stays_planned() {
    let plan = fx::checks();
    assert_eq!((plan.warnings.len(), plan.problems.len()), (1, 0));
    snapshot_all("checks", &plan);
}

#[test]
fn a_targeted_plan_pulls_in_what_the_target_waits_for_and_skips_the_rest() {
    snapshot_all("targeted", &fx::targeted());
}

#[test]
fn an_excluded_change_is_skipped_and_never_called_in_sync() {
    let plan = fx::excluded();
    let out = render(&plan);
    assert!(!out.human.contains(flinkops::render::NO_CHANGES), "{}", out.human);
    snapshot_all("excluded", &plan);
}

#[test]
fn a_replace_is_shown_as_such_with_its_reason() {
    snapshot_all("replaced", &fx::replaced());
}

#[test]
fn a_protected_orphan_is_an_error_naming_allow_destroy() {
    snapshot_all("protected_orphan", &fx::protected_orphan());
}

#[test]
fn the_drift_report_renders_for_people_and_pull_requests() {
    use flinkops::output::Styles;
    use flinkops::plan::drift;
    let plan = fx::one_failed();
    let live = plan.jobs.iter().find(|j| j.name == "orders-enrich").and_then(|j| j.live.clone()).unwrap();
    let seen = drift::Seen { restarts: [(live.id, 4)].into(), ..Default::default() };
    let report = drift::report(&plan, &Default::default(), &seen);
    let text = |f: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    insta::assert_snapshot!(
        "drift__human",
        text(&|o| flinkops::render::drift_human(&report, &Styles::plain(), o))
    );
    insta::assert_snapshot!(
        "drift__human_coloured",
        text(&|o| flinkops::render::drift_human(&report, &Styles::colored(), o))
    );
    insta::assert_snapshot!("drift__json", serde_json::to_string_pretty(&report).unwrap());
    insta::assert_snapshot!("drift__markdown", text(&|o| flinkops::render::drift_markdown(&report, o)));
    let none = drift::report(&fx::in_sync(), &Default::default(), &drift::Seen::default());
    assert!(
        text(&|o| flinkops::render::drift_human(&none, &Styles::plain(), o))
            .contains(flinkops::render::NO_DRIFT)
    );
}

#[test]
fn a_rename_with_previous_names_moves_the_old_job_with_its_state() {
    snapshot_all("rename", &fx::renamed(true));
}

#[test]
fn a_rename_without_previous_names_is_an_orphan_and_an_empty_start_with_a_hint() {
    snapshot_all("rename_without_previous_names", &fx::renamed(false));
}

#[test]
fn a_job_moved_to_another_cluster_says_where_from() {
    let plan = fx::moved();
    assert!(plan.jobs.iter().any(|j| j.moved_from.as_deref() == Some("eu")), "{plan:#?}");
    snapshot_all("moved", &plan);
}

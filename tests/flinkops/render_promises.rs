//! What the plan renderers promise, asserted directly over every plan (not only via snapshots):
//! the legend lists only the symbols used, "No changes." exactly when nothing changes, secrets
//! never appear, equal plans render byte-identically, hostile names cannot break the output.

use std::collections::BTreeSet;

use flinkops::flink::JobState;
use flinkops::plan::Options;
use flinkops::render::NO_CHANGES;

use crate::render_fixtures::{self as fx, render};

/// The symbols listed in the legend of a plain human rendering.
fn legend_symbols(human: &str) -> Vec<String> {
    human
        .lines()
        .skip_while(|l| *l != "Actions are shown with these symbols:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

/// The symbols in front of the job blocks (`-/+ # orders-enrich will be upgraded`).
fn block_symbols(human: &str) -> BTreeSet<String> {
    human
        .lines()
        .filter_map(|l| l.trim_start().split_once(" # "))
        .filter(|(symbol, _)| !symbol.contains(' '))
        .map(|(symbol, _)| symbol.to_string())
        .collect()
}

#[test]
fn the_legend_lists_exactly_the_symbols_the_blocks_use() {
    for case in fx::all() {
        let human = render(&case.plan).human;
        let legend = legend_symbols(&human);
        let unique: BTreeSet<String> = legend.iter().cloned().collect();
        assert_eq!(unique.len(), legend.len(), "{}: a symbol twice in the legend\n{human}", case.name);
        assert_eq!(unique, block_symbols(&human), "{}:\n{human}", case.name);
    }
    let expect = |plan, symbols: &[&str]| assert_eq!(legend_symbols(&render(&plan).human), symbols);
    expect(fx::nothing_running(), &["+"]);
    expect(fx::one_changed(), &["-/+"]);
    expect(fx::settings_only(), &["~"]);
    expect(fx::suspend(), &["-"]);
    expect(fx::conflict(false), &["+", "!"]);
    expect(fx::conflict(true), &["+", ">"]);
    expect(fx::in_sync(), &[]);
}

#[test]
fn no_changes_is_said_exactly_when_there_are_no_changes() {
    let mut seen = (0, 0);
    for case in fx::all() {
        let out = render(&case.plan);
        let quiet = !case.plan.has_changes();
        // A job skipped by --target / --exclude was not compared: never "Live jobs match the specs".
        let skipped = case.plan.jobs.iter().any(|j| j.action == flinkops::plan::Action::Skipped);
        let matches = quiet && case.plan.problems.is_empty() && !skipped;
        let human_says = out.human.lines().any(|l| l == NO_CHANGES);
        let markdown_says = out.markdown.lines().any(|l| l == format!("### {NO_CHANGES}"));
        assert_eq!(human_says, matches, "{}:\n{}", case.name, out.human);
        assert_eq!(markdown_says, matches, "{}:\n{}", case.name, out.markdown);
        assert_eq!(out.human.contains("Plan: "), !quiet, "{}", case.name);
        let json: serde_json::Value = serde_json::from_str(&out.json).unwrap();
        assert_eq!(json["hasChanges"], serde_json::json!(!quiet), "{}", case.name);
        if quiet { seen.0 += 1 } else { seen.1 += 1 }
    }
    assert!(seen.0 >= 3 && seen.1 >= 3, "both kinds of plan are covered: {seen:?}");
}

#[test]
fn secrets_never_appear_in_any_output() {
    let old = fx::load(&fx::pipeline(), fx::SECRET_OLD);
    let new = fx::load(&fx::pipeline_with(fx::ENRICH_V2, "running"), fx::SECRET_NEW);
    // The secret really is in what Flink would receive: the test could fail.
    assert!(new.jobs["orders-enrich"].args.iter().any(|a| a.value == fx::SECRET_NEW && a.sensitive));
    let plans = [
        fx::plan_of(&new, fx::all_running(&old), fx::records(&old), Options::default()),
        fx::plan_of(&new, vec![], vec![], Options::default()),
        fx::plan_of(&new, fx::all_running(&new), fx::records(&new), Options::default()),
    ];
    for plan in &plans {
        let out = render(plan);
        for (what, text) in [
            ("human", &out.human),
            ("coloured", &out.coloured),
            ("json", &out.json),
            ("markdown", &out.markdown),
        ] {
            for secret in [fx::SECRET_OLD, fx::SECRET_NEW] {
                assert!(!text.contains(secret), "{what} shows a secret:\n{text}");
            }
        }
    }
    let changed = render(&plans[0]);
    for text in [&changed.human, &changed.coloured, &changed.json, &changed.markdown] {
        assert!(text.contains("(sensitive)"), "the changed secret is shown redacted:\n{text}");
    }
}

#[test]
fn identical_plans_render_byte_identically() {
    let (a, b) = (fx::all(), fx::all());
    for (a, b) in a.iter().zip(&b) {
        assert_eq!(a.plan, b.plan, "{}: the planner is deterministic", a.name);
        let (ra, rb) = (render(&a.plan), render(&b.plan));
        assert_eq!(ra.human, rb.human, "{}", a.name);
        assert_eq!(ra.coloured, rb.coloured, "{}", a.name);
        assert_eq!(ra.json, rb.json, "{}", a.name);
        assert_eq!(ra.markdown, rb.markdown, "{}", a.name);
    }
}

#[test]
fn every_output_ends_with_exactly_one_newline() {
    for case in fx::all() {
        let out = render(&case.plan);
        for text in [&out.human, &out.coloured, &out.json, &out.markdown] {
            assert!(text.ends_with('\n') && !text.ends_with("\n\n"), "{}: {text:?}", case.name);
        }
    }
}

#[test]
fn plain_output_has_no_escape_codes_and_coloured_output_has_them() {
    for case in fx::all() {
        let out = render(&case.plan);
        assert!(!out.human.contains('\x1b'), "{}", case.name);
        assert!(out.coloured.contains("\x1b["), "{}", case.name);
        assert_eq!(strip_ansi(&out.coloured), out.human, "{}: colour is the only difference", case.name);
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn a_hostile_job_name_cannot_break_the_terminal_or_the_markdown() {
    let d = fx::load(&fx::pipeline(), fx::SECRET_OLD);
    let name = "evil|`x`\x1b[2J\n<img src=x>| ```";
    let mut live = fx::all_running(&d);
    live.push(fx::unmanaged(name, 9, JobState::Running));
    let mut plan = fx::plan_of(&d, live, fx::records(&d), Options::default());
    // A change, so the table is rendered, with the name in it.
    plan.jobs[0].action = flinkops::plan::Action::Deploy;
    plan.jobs[0].name = name.to_string();
    let out = render(&plan);
    assert!(!out.human.contains('\x1b'), "{}", out.human);
    assert!(!out.coloured.contains("\x1b[2J"));
    assert!(out.human.contains("evil|`x`\\u{1b}[2J\\n<img src=x>| ```"), "{}", out.human);
    let md = &out.markdown;
    // Raw HTML only inside code spans (where it is text), escaped in the folded block's summary.
    for line in md.lines().filter(|l| l.contains("<img")) {
        assert!(line.contains("```` evil"), "HTML outside a code span: {line}");
    }
    assert!(md.contains("<summary><code>evil|`x`\\u{1b}[2J\\n&lt;img src=x&gt;| ```</code>"), "{md}");
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
    for row in &rows {
        let unescaped_pipes = row.match_indices('|').filter(|(i, _)| !row[..*i].ends_with('\\')).count();
        assert_eq!(unescaped_pipes, 5, "a row has four cells: {row}");
    }
    assert_eq!(md.matches("<details>").count(), md.matches("</details>").count());
}

#[test]
fn a_problem_that_lists_what_it_found_is_shown_a_line_each_never_escaped() {
    let mut plan = fx::all().into_iter().next().unwrap().plan;
    plan.problems = vec![flinkops::plan::Problem::Saved(
        "`orders`: not started; found, newest first:\n  file:/sp/a (the ledger)\n  file:/sp/b (\u{1b}[2J)"
            .into(),
    )];
    let out = render(&plan);
    assert!(!out.human.contains("\\n"), "{}", out.human);
    assert!(out.human.contains("\n    file:/sp/a (the ledger)\n"), "{}", out.human);
    assert!(
        out.human.contains("\\u{1b}[2J") && !out.human.contains('\u{1b}'),
        "still cleaned: {}",
        out.human
    );
    assert!(out.markdown.contains("\n  - file:/sp/a (the ledger)\n"), "{}", out.markdown);
}

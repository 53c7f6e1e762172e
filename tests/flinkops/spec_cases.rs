//! The bad-spec corpus: every case under tests/cases/bad/ must fail validation with exactly the
//! diagnostics in its snapshot (file:line:col, snippet, hint). Plus cases that cannot be committed
//! as files (a 10 MB file, a symlink loop, an empty directory), made at test time.

use std::path::{Path, PathBuf};

use flinkops::spec;

use crate::support::job_spec;

/// Load a case directory and render its diagnostics exactly as `flinkops validate` prints them
/// without colour.
fn diagnose(dir: &Path) -> (usize, String) {
    let loaded = spec::load(dir);
    let mut out = Vec::new();
    spec::diag::render(&loaded.diagnostics, false, &mut out).expect("render to memory");
    (loaded.error_count(), String::from_utf8(out).expect("utf-8"))
}

fn case_dir(name: &str) -> PathBuf {
    PathBuf::from("tests/cases/bad").join(name)
}

fn assert_case(name: &str, dir: &Path) {
    let (errors, rendered) = diagnose(dir);
    assert!(errors > 0, "{name}: expected at least one error, got none:\n{rendered}");
    insta::with_settings!({ snapshot_path => "../cases/snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(name, format!("errors: {errors}\n\n{rendered}"));
    });
}

macro_rules! bad_cases {
    ($($case:ident,)*) => {
        $(
            #[test]
            fn $case() {
                let name = stringify!($case).replace('_', "-");
                assert_case(&name, &case_dir(&name));
            }
        )*

        const CASES: &[&str] = &[$(stringify!($case),)*];
    };
}

bad_cases! {
    args_not_a_list,
    args_number_item,
    boolean_yes,
    config_empty_key,
    config_list_and_null_values,
    dependency_cycle,
    document_is_a_list,
    document_is_a_scalar,
    duplicate_names_across_files,
    duplicate_names_in_one_file,
    duration_too_long,
    duration_unparseable,
    duration_without_unit,
    empty_file,
    entry_class_not_in_jar,
    errors_in_several_files,
    forst_canonical_savepoint,
    health_timeout_shorter_than_stable,
    invalid_format_type,
    invalid_name,
    invalid_state,
    invalid_upgrade_mode,
    jar_http_url,
    jar_https_url,
    jar_not_a_zip,
    jar_not_found,
    jar_sha256_malformed,
    jar_sha256_mismatch,
    jar_without_manifest_or_entry_class,
    malformed_variable_reference,
    many_errors_in_one_document,
    missing_jar_field,
    missing_name,
    name_tag_collision,
    name_too_long,
    name_without_value,
    nested_flink_configuration,
    non_string_key,
    not_utf8,
    only_comments,
    parallelism_huge,
    parallelism_quoted,
    parallelism_underscored,
    parallelism_zero,
    previous_names_mistakes,
    relative_savepoint_directory,
    restore_from_invalid,
    savepoint_every_invalid,
    savepoint_retain_invalid,
    section_not_a_mapping,
    stable_for_longer_than_default_timeout,
    self_dependency,
    unknown_dependency,
    unknown_field_no_suggestion,
    unknown_field_typo,
    upgrade_invalid,
    unknown_nested_field,
    unset_environment_variable,
    yaml_alias_bomb,
    yaml_bad_indentation,
    yaml_self_alias,
    yaml_duplicate_key,
    yaml_tab_indentation,
    yaml_unclosed_quote,
    yaml_unknown_alias,
    unknown_kind,
    unsupported_api_version,
    flinkops_kind_with_another_api_version,
    missing_api_version_and_kind,
    kubernetes_manifest_beside_a_bad_spec,
    cluster_named_twice,
    unknown_cluster,
    two_clusters_and_a_job_without_cluster,
    secret_in_cluster_document,
    cluster_document_mistakes,
    basic_auth_mistakes,
}

#[test]
fn every_case_directory_has_a_test() {
    let mut dirs: Vec<String> = std::fs::read_dir("tests/cases/bad")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().replace('-', "_"))
        .collect();
    dirs.sort();
    let mut listed: Vec<&str> = CASES.to_vec();
    listed.sort();
    assert_eq!(dirs, listed, "add the new case directory to bad_cases! (or remove the stale entry)");
}

/// A scratch directory under target/, so the paths in snapshots are stable.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bad-cases").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rendered_without_scratch_prefix(dir: &Path) -> (usize, String) {
    let (errors, text) = diagnose(dir);
    let prefix = spec::diag::display_path(dir.parent().unwrap());
    (errors, text.replace(&prefix, "<scratch>"))
}

#[test]
fn a_ten_megabyte_file_is_refused_without_being_parsed() {
    let dir = scratch("file-too-large");
    let mut text = job_spec("name: huge\njar: app.jar\nargs:\n");
    while text.len() < 10 * 1024 * 1024 {
        text.push_str("  - --some-argument-that-repeats\n");
    }
    std::fs::write(dir.join("huge.yaml"), text).unwrap();
    let (errors, rendered) = rendered_without_scratch_prefix(&dir);
    assert_eq!(errors, 1, "{rendered}");
    assert!(rendered.contains("file-too-large") && rendered.contains("1 MiB"), "{rendered}");
}

#[test]
fn a_symlink_loop_is_reported_not_followed_forever() {
    let dir = scratch("symlink-loop");
    std::fs::create_dir_all(dir.join("team")).unwrap();
    std::os::unix::fs::symlink("..", dir.join("team/back-to-top")).unwrap();
    std::os::unix::fs::symlink("self.yaml", dir.join("self.yaml")).unwrap();
    let (errors, rendered) = rendered_without_scratch_prefix(&dir);
    assert_eq!(errors, 2, "{rendered}");
    assert!(
        rendered
            .contains("<scratch>/symlink-loop/team/back-to-top: symbolic link loop: this link leads back to"),
        "{rendered}"
    );
    assert!(
        rendered.contains(
            "<scratch>/symlink-loop/self.yaml: symbolic link loop: this link points back at itself"
        ),
        "{rendered}"
    );
}

#[test]
fn a_directory_without_specs_is_an_error() {
    let dir = scratch("no-specs");
    std::fs::write(dir.join("README.md"), "specs go here\n").unwrap();
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::write(dir.join(".git/hidden.yaml"), job_spec("name: hidden\n")).unwrap();
    let (errors, rendered) = rendered_without_scratch_prefix(&dir);
    assert_eq!(errors, 1, "{rendered}");
    assert!(rendered.contains("<scratch>/no-specs: no job specs found in this directory"), "{rendered}");
}

#[test]
fn a_missing_directory_is_an_error_with_a_hint() {
    let (errors, rendered) = diagnose(Path::new("tests/cases/does-not-exist"));
    assert_eq!(errors, 1);
    assert!(rendered.contains("tests/cases/does-not-exist: cannot read this path"), "{rendered}");
}

#[test]
fn a_file_with_thousands_of_problems_shows_the_first_twenty_and_counts_the_rest() {
    let dir = scratch("many-problems");
    crate::support::stand_in_jar(&dir.join("app.jar"), "");
    let mut text = job_spec("name: many\njar: app.jar\ndependsOn:\n");
    for i in 0..1000 {
        text.push_str(&format!("  - missing-upstream-{i}\n"));
    }
    std::fs::write(dir.join("many.yaml"), text).unwrap();
    let (errors, rendered) = rendered_without_scratch_prefix(&dir);
    assert_eq!(errors, spec::MAX_DIAGNOSTICS_PER_FILE + 1, "{rendered}");
    assert!(rendered.contains("980 more problem(s) in this file (980 error(s)), not shown"), "{rendered}");
    assert!(rendered.len() < 64 * 1024, "{} bytes of diagnostics", rendered.len());
}

#[test]
fn many_small_documents_are_read_and_deep_nesting_says_what_it_is() {
    let dir = scratch("many-documents");
    crate::support::stand_in_jar(&dir.join("app.jar"), "");
    let text: String = (0..1100).map(|i| job_spec(&format!("name: job-{i}\njar: app.jar\n---\n"))).collect();
    std::fs::write(dir.join("all.yaml"), text).unwrap();
    let loaded = spec::load(&dir);
    assert_eq!(loaded.error_count(), 0, "{:?}", loaded.diagnostics.first().map(ToString::to_string));
    assert_eq!(loaded.desired.jobs.len(), 1100);

    // Flow and block nesting, read on a thread with a main thread's stack as the commands do
    // (a test thread's 2 MiB does not hold the debug build's parser frames for 70 levels).
    let flow = job_spec(&format!("name: {}x{}\n", "[".repeat(300), "]".repeat(300)));
    let block: String = (0..200).map(|i| format!("{}a{i}:\n", " ".repeat(i))).collect::<String>()
        + &" ".repeat(200)
        + "v: 1\n";
    for (name, text) in [("deep-flow", flow), ("deep-block", block)] {
        let dir = scratch(name);
        std::fs::write(dir.join("deep.yaml"), text).unwrap();
        let (errors, rendered) = std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || rendered_without_scratch_prefix(&dir))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(errors, 1, "{name}: {rendered}");
        assert!(
            rendered.contains("nests deeper than 64 levels") && !rendered.contains("billion"),
            "{name}: {rendered}"
        );
    }
}

#[test]
fn a_jar_larger_than_any_job_jar_is_refused_without_being_read() {
    let dir = scratch("jar-too-large");
    // Sparse: 5 GiB that take no disk, and would take minutes to hash.
    std::fs::File::create(dir.join("huge.jar")).unwrap().set_len(5 << 30).unwrap();
    std::fs::write(dir.join("spec.yaml"), job_spec("name: huge\njar: huge.jar\n")).unwrap();
    let started = std::time::Instant::now();
    let (errors, rendered) = rendered_without_scratch_prefix(&dir);
    assert_eq!(errors, 1, "{rendered}");
    assert!(rendered.contains("larger than 4 GiB"), "{rendered}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "it was read: {:?}", started.elapsed());
}

#[test]
fn a_jar_that_cannot_be_read_is_reported_as_such_not_as_missing() {
    // A path through a file: ENOTDIR, the same for root (whom no permission stops) as for anyone.
    let dir = scratch("jar-unreadable");
    std::fs::write(dir.join("build"), b"a file, not a directory").unwrap();
    std::fs::write(dir.join("spec.yaml"), job_spec("name: odd\njar: build/app.jar\n")).unwrap();
    let (errors, rendered) = rendered_without_scratch_prefix(&dir);
    assert_eq!(errors, 1, "{rendered}");
    assert!(rendered.contains("cannot read jar") && !rendered.contains("not found"), "{rendered}");
}

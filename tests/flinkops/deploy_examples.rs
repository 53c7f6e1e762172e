//! The deployment artifacts — `Dockerfile`, `.dockerignore`, `examples/kubernetes/`,
//! `examples/ci/` — agree with the program they deploy, checked without Docker or Kubernetes: every
//! flinkops command line in them parses with the real CLI, every `FLINKOPS_*`/`FLINK_*` variable is
//! one it reads, the probes and the grace period match the watch flags, and the image is built the
//! way its comments say.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use flinkops::cli::{Cli, Command, LogFormat, PlanFormat, WatchArgs};
use serde_json::Value;

const K8S: &str = "examples/kubernetes";
const WORKFLOW: &str = "examples/ci/flinkops.yml";

// ---------------------------------------------------------------------------------------------
// What the CLI reads

/// Every variable name the CLI documents: the `[env: …]` of each flag, and those it reads directly
/// (FLINKOPS_FLINK_TOKEN, FLINKOPS_FLINK_PASSWORD, FLINKOPS_FLINK_HEADERS, FLINKOPS_LOG), which
/// its help text names.
fn env_vars_the_cli_reads() -> BTreeSet<String> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut names = BTreeSet::new();
    let mut help = cmd.render_long_help().to_string();
    for sub in cmd.get_subcommands_mut() {
        help.push_str(&sub.render_long_help().to_string());
        names.extend(
            sub.get_arguments().filter_map(|a| a.get_env()).map(|e| e.to_string_lossy().into_owned()),
        );
    }
    names.extend(env_names(&help));
    assert!(names.contains("FLINK_URL") && names.contains("FLINKOPS_FLINK_TOKEN"), "{names:?}");
    names
}

/// The words of `text` that look like flinkops' variables.
fn env_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .filter(|w| is_flink_var(w))
        .map(str::to_owned)
        .collect()
}

fn is_flink_var(name: &str) -> bool {
    (name.starts_with("FLINKOPS_") || name.starts_with("FLINK_")) && name.len() > "FLINK_".len()
}

fn assert_known_vars(names: impl IntoIterator<Item = String>, what: &str) -> usize {
    let known = env_vars_the_cli_reads();
    let names: Vec<String> = names.into_iter().filter(|n| is_flink_var(n)).collect();
    let unknown: Vec<&String> = names.iter().filter(|n| !known.contains(*n)).collect();
    assert!(unknown.is_empty(), "{what} sets {unknown:?}, which flinkops does not read; it reads {known:?}");
    names.len()
}

/// The flags that stand for these environment variables of a `sub` command line, so that a parse
/// sees what the process would (clap itself reads only the test's own environment). Variables
/// without a flag (the token, the password) are read from the environment only: nothing to add.
fn flags_for_env(sub: &str, env: &[(String, String)]) -> Vec<String> {
    let mut cmd = Cli::command();
    cmd.build();
    let sub = cmd.find_subcommand(sub).unwrap_or_else(|| panic!("no subcommand {sub}"));
    let mut flags = Vec::new();
    for (name, value) in env {
        let Some(arg) = sub.get_arguments().find(|a| a.get_env() == Some(OsStr::new(name))) else { continue };
        let long =
            arg.get_long().unwrap_or_else(|| panic!("{name} sets a positional argument; pass it as one"));
        if arg.get_action().takes_values() {
            flags.push(format!("--{long}={value}"));
        } else if value == "true" || value == "1" {
            flags.push(format!("--{long}"));
        }
    }
    flags
}

fn parse(argv: &[String]) -> Cli {
    Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("`{}` does not parse:\n{e}", argv.join(" ")))
}

// ---------------------------------------------------------------------------------------------
// The Kubernetes example

fn yaml_docs(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

fn k8s_docs() -> Vec<Value> {
    let mut docs = Vec::new();
    for entry in std::fs::read_dir(K8S).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") && !path.ends_with("kustomization.yaml") {
            docs.extend(yaml_docs(path.to_str().unwrap()));
        }
    }
    docs
}

fn deployment() -> Value {
    let docs = yaml_docs(&format!("{K8S}/deployment.yaml"));
    let deployments: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Deployment").collect();
    assert_eq!(deployments.len(), 1, "one Deployment in deployment.yaml");
    deployments[0].clone()
}

fn pod_spec(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]
}

/// Every container of the pod, init containers (git-sync, a native sidecar) included.
fn containers(pod: &Value) -> Vec<&Value> {
    let list = |key: &str| pod[key].as_array().map(|a| a.iter().collect::<Vec<_>>()).unwrap_or_default();
    let mut all = list("initContainers");
    all.extend(list("containers"));
    all
}

fn container<'a>(pod: &'a Value, name: &str) -> &'a Value {
    containers(pod).into_iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no container {name}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().expect("a string").to_owned()).collect())
        .unwrap_or_default()
}

/// The container's literal `env` values, and the names of those from secrets.
fn container_env(c: &Value) -> (Vec<(String, String)>, Vec<String>) {
    let (mut literal, mut from_secrets) = (Vec::new(), Vec::new());
    for e in c["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().unwrap().to_owned();
        match e["value"].as_str() {
            Some(value) => literal.push((name, value.to_owned())),
            None => from_secrets.push(name),
        }
    }
    (literal, from_secrets)
}

/// The flinkops container's command line as the image runs it (the entrypoint is `flinkops`, the
/// manifest gives the arguments, its literal variables stand for flags), and the container.
fn sidecar() -> (Cli, Value) {
    let deployment = deployment();
    let c = container(pod_spec(&deployment), "flinkops").clone();
    assert!(c.get("command").is_none(), "the image's entrypoint is flinkops; give only args");
    let args = strings(&c["args"]);
    let (env, _) = container_env(&c);
    let mut argv = vec!["flinkops".to_owned()];
    argv.extend(args.iter().cloned());
    argv.extend(flags_for_env(args.first().expect("a subcommand"), &env));
    (parse(&argv), c)
}

fn watch_args(cli: &Cli) -> &WatchArgs {
    match &cli.command {
        Command::Watch(w) => w,
        other => panic!("the sidecar runs `flinkops watch`, not {other:?}"),
    }
}

/// A probe's or annotation's port (a number, or a name of the container's ports) as a number.
fn port_number(c: &Value, port: &Value) -> u64 {
    if let Some(n) = port.as_u64() {
        return n;
    }
    let name = port.as_str().expect("a port number or name");
    let ports = c["ports"].as_array().expect("the container declares its ports");
    let p = ports.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no port named {name}"));
    p["containerPort"].as_u64().unwrap()
}

/// The volume mount `path` is on (the deepest, when mounts nest).
fn mount_of<'a>(c: &'a Value, path: &Path) -> Option<&'a Value> {
    let mount_path = |m: &Value| m["mountPath"].as_str().unwrap().to_owned();
    c["volumeMounts"]
        .as_array()?
        .iter()
        .filter(|m| path.starts_with(mount_path(m)))
        .max_by_key(|m| mount_path(m).len())
}

fn volume<'a>(pod: &'a Value, name: &str) -> &'a Value {
    let volumes = pod["volumes"].as_array().expect("the pod has volumes");
    volumes.iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("no volume {name}"))
}

#[test]
fn the_sidecar_command_line_parses_with_the_real_cli_and_logs_json() {
    let (cli, _) = sidecar();
    let watch = watch_args(&cli);
    assert_eq!(cli.global.log_format, LogFormat::Json, "pods log JSON lines");
    assert!(watch.path.is_absolute(), "{}", watch.path.display());
    assert!(watch.state.state_dir.is_absolute(), "{}", watch.state.state_dir.display());
}

#[test]
fn every_flinkops_variable_in_the_kubernetes_example_is_one_the_cli_reads() {
    let deployment = deployment();
    let mut names = Vec::new();
    for c in containers(pod_spec(&deployment)) {
        let (literal, from_secrets) = container_env(c);
        names.extend(literal.into_iter().map(|(n, _)| n));
        names.extend(from_secrets);
    }
    for doc in k8s_docs().iter().filter(|d| d["kind"] == "Secret") {
        names.extend(doc["stringData"].as_object().into_iter().flatten().map(|(k, _)| k.clone()));
    }
    let checked = assert_known_vars(names, "examples/kubernetes");
    assert!(checked >= 2, "FLINK_URL and the token file at least");
}

#[test]
fn the_probes_ask_for_healthz_and_readyz_on_the_port_flinkops_listens_on() {
    let (cli, c) = sidecar();
    let watch = watch_args(&cli);
    let port = u64::from(watch.listen.port());
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert_eq!(port_number(&c, &get["port"]), port, "{probe} asks on another port than --listen");
    }
    let metrics =
        c["ports"].as_array().unwrap().iter().find(|p| p["name"] == "metrics").expect("a port named metrics");
    assert_eq!(metrics["containerPort"].as_u64(), Some(port));
    let annotations = &deployment()["spec"]["template"]["metadata"]["annotations"];
    if let Some(p) = annotations["prometheus.io/port"].as_str() {
        assert_eq!(p.parse::<u64>().unwrap(), port, "prometheus.io/port");
        assert_eq!(annotations["prometheus.io/path"], "/metrics");
    }
}

#[test]
fn the_pod_grace_period_outlasts_the_shutdown_grace() {
    let (cli, _) = sidecar();
    let watch = watch_args(&cli);
    let deployment = deployment();
    // Kubernetes' default when the field is absent.
    let period = pod_spec(&deployment)["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
    assert!(
        Duration::from_secs(period) > watch.shutdown_grace,
        "terminationGracePeriodSeconds {period} must exceed --shutdown-grace {:?}, or the kubelet kills \
         flinkops mid-step",
        watch.shutdown_grace
    );
}

#[test]
fn the_deployment_never_runs_two_watchers_at_once() {
    let deployment = deployment();
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate", "a rolling update overlaps two pods");
}

#[test]
fn the_state_directory_is_on_the_persistent_volume_claim() {
    let (cli, c) = sidecar();
    let watch = watch_args(&cli);
    let deployment = deployment();
    let mount = mount_of(&c, &watch.state.state_dir).expect("the state directory is a mounted volume");
    assert_ne!(mount["readOnly"], true);
    let claim =
        &volume(pod_spec(&deployment), mount["name"].as_str().unwrap())["persistentVolumeClaim"]["claimName"];
    let claims: Vec<Value> =
        k8s_docs().into_iter().filter(|d| d["kind"] == "PersistentVolumeClaim").collect();
    assert!(claims.iter().any(|d| d["metadata"]["name"] == *claim), "no claim {claim} in {K8S}");
}

#[test]
fn the_sidecar_reads_the_specs_through_git_syncs_link_on_the_shared_volume() {
    let (cli, c) = sidecar();
    let watch = watch_args(&cli);
    let deployment = deployment();
    let pod = pod_spec(&deployment);
    let git_sync = container(pod, "git-sync");
    let flag = |name: &str| {
        let prefix = format!("--{name}=");
        strings(&git_sync["args"]).iter().find_map(|a| a.strip_prefix(&prefix).map(str::to_owned))
    };
    let root = Path::new(&flag("root").expect("git-sync --root")).to_path_buf();
    let link = root.join(flag("link").expect("git-sync --link: the checkout's symlink"));
    assert!(
        watch.path.starts_with(&link),
        "flinkops watches {}, not through {}",
        watch.path.display(),
        link.display()
    );
    let ours = mount_of(&c, &watch.path).expect("the specs are on a volume");
    let theirs = mount_of(git_sync, &root).expect("git-sync's root is on a volume");
    assert_eq!(ours["name"], theirs["name"], "flinkops and git-sync share the checkout's volume");
    assert_eq!(ours["mountPath"], theirs["mountPath"], "the link is relative, but keep the paths alike");
    assert_eq!(ours["readOnly"], true, "flinkops never writes to the checkout");
    assert_eq!(git_sync["restartPolicy"], "Always", "git-sync runs beside flinkops, not once before it");
    assert!(git_sync["startupProbe"].is_object(), "flinkops starts only after the first sync");
}

#[test]
fn every_container_runs_as_non_root_on_a_read_only_root_without_capabilities() {
    let deployment = deployment();
    let pod = pod_spec(&deployment);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["automountServiceAccountToken"], false, "flinkops never calls the Kubernetes API");
    for c in containers(pod) {
        let sc = &c["securityContext"];
        let name = &c["name"];
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}");
        assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{name}");
        assert!(sc["runAsUser"].as_u64().is_some_and(|u| u > 0), "{name} runs as a numeric non-root user");
        assert!(
            c["resources"]["requests"].is_object() && c["resources"]["limits"]["memory"].is_string(),
            "{name}"
        );
    }
    let (uid, _) = dockerfile_user();
    assert_eq!(
        container(pod, "flinkops")["securityContext"]["runAsUser"].as_u64(),
        Some(uid),
        "the image's USER"
    );
}

#[test]
fn every_secret_and_claim_the_deployment_uses_is_in_the_example_and_the_kustomization() {
    let deployment = deployment();
    let pod = pod_spec(&deployment);
    let docs = k8s_docs();
    let defined =
        |kind: &str, name: &Value| docs.iter().find(|d| d["kind"] == kind && d["metadata"]["name"] == *name);
    let has_key = |secret: &Value, key: &Value| {
        let key = key.as_str().unwrap();
        secret["stringData"].get(key).is_some() || secret["data"].get(key).is_some()
    };
    let mut used = 0;
    for v in pod["volumes"].as_array().unwrap() {
        if let Some(name) = v["secret"].get("secretName") {
            let secret = defined("Secret", name).unwrap_or_else(|| panic!("no Secret {name}"));
            for item in v["secret"]["items"].as_array().into_iter().flatten() {
                assert!(has_key(secret, &item["key"]), "Secret {name} has no key {}", item["key"]);
            }
            used += 1;
        }
        if let Some(name) = v["persistentVolumeClaim"].get("claimName") {
            defined("PersistentVolumeClaim", name).unwrap_or_else(|| panic!("no claim {name}"));
            used += 1;
        }
    }
    for c in containers(pod) {
        for e in c["env"].as_array().into_iter().flatten() {
            if let Some(r) = e["valueFrom"].get("secretKeyRef") {
                let secret =
                    defined("Secret", &r["name"]).unwrap_or_else(|| panic!("no Secret {}", r["name"]));
                assert!(has_key(secret, &r["key"]), "Secret {} has no key {}", r["name"], r["key"]);
                used += 1;
            }
        }
        for e in c["envFrom"].as_array().into_iter().flatten() {
            if let Some(r) = e.get("secretRef") {
                assert!(defined("Secret", &r["name"]).is_some(), "no Secret {}", r["name"]);
            }
        }
    }
    assert!(used >= 3, "the Flink credential, the git credential, the state claim");

    let kustomization = &yaml_docs(&format!("{K8S}/kustomization.yaml"))[0];
    let listed: BTreeSet<String> = strings(&kustomization["resources"]).into_iter().collect();
    let files: BTreeSet<String> = std::fs::read_dir(K8S)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    assert_eq!(listed, files, "kustomization.yaml lists every manifest of the folder");
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn dockerfile() -> Vec<(String, String)> {
    let text = std::fs::read_to_string("Dockerfile").unwrap();
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (keyword, args) = current.split_once(char::is_whitespace).expect("an instruction");
                out.push((keyword.to_ascii_uppercase(), args.trim().to_owned()));
                current.clear();
            }
        }
    }
    out
}

fn instructions(keyword: &str) -> Vec<String> {
    dockerfile().into_iter().filter(|(k, _)| k == keyword).map(|(_, a)| a).collect()
}

/// `rust-version` of Cargo.toml as (major, minor).
fn rust_version() -> (u32, u32) {
    let manifest = std::fs::read_to_string("Cargo.toml").unwrap();
    let line = manifest.lines().find(|l| l.starts_with("rust-version")).expect("rust-version in Cargo.toml");
    version(line.split('"').nth(1).unwrap()).unwrap()
}

fn version(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn dockerfile_user() -> (u64, u64) {
    let user = instructions("USER").pop().expect("a USER");
    let (uid, gid) = user.split_once(':').unwrap_or((&user, &user));
    let numeric = |s: &str| s.parse::<u64>().unwrap_or_else(|_| panic!("USER {user} is not numeric"));
    (numeric(uid), numeric(gid))
}

#[test]
fn the_build_image_is_a_rust_that_satisfies_rust_version_on_the_final_images_debian() {
    let froms = instructions("FROM");
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    let build = froms.iter().find_map(|f| f.strip_prefix("rust:")).expect("a rust: build stage");
    let tag = build.split_whitespace().next().unwrap();
    let pinned = version(tag.split('-').next().unwrap())
        .unwrap_or_else(|| panic!("rust:{tag} names no MAJOR.MINOR: pin the toolchain"));
    assert!(pinned >= rust_version(), "rust:{tag} is older than rust-version {:?}", rust_version());

    // A glibc binary only starts on a glibc at least as new as the one it was linked against.
    let final_image = froms.last().unwrap();
    let debian = |codename: &str| match codename {
        "bullseye" => 11,
        "bookworm" => 12,
        "trixie" => 13,
        other => panic!("unknown Debian release {other} in rust:{tag}"),
    };
    let built_on = debian(tag.rsplit('-').next().unwrap());
    let runs_on: u32 = final_image
        .split("-debian")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("final image {final_image} names no debian release"));
    assert_eq!(built_on, runs_on, "rust:{tag} and {final_image} have different glibc versions");
}

#[test]
fn the_final_image_runs_flinkops_as_a_numeric_non_root_user() {
    let (uid, gid) = dockerfile_user();
    assert!(uid > 0 && gid > 0);
    let entrypoint: Vec<String> =
        serde_json::from_str(&instructions("ENTRYPOINT").pop().unwrap()).expect("exec form");
    assert!(entrypoint[0].ends_with("/flinkops"), "{entrypoint:?}");
    let copies = instructions("COPY");
    assert!(
        copies.iter().any(|c| c.starts_with("--from=") && c.ends_with(&format!(" {}", entrypoint[0]))),
        "the entrypoint is the binary copied from the build stage"
    );
    let env: Vec<String> =
        instructions("ENV").iter().map(|e| e.split('=').next().unwrap().to_owned()).collect();
    assert_known_vars(env, "Dockerfile");
}

#[test]
fn every_cargo_build_in_the_dockerfile_is_locked_and_release() {
    let runs = instructions("RUN");
    let builds: Vec<&str> = runs
        .iter()
        .flat_map(|r| r.split("&&"))
        .map(str::trim)
        .filter(|s| s.starts_with("cargo build"))
        .collect();
    assert_eq!(builds.len(), 2, "the dependency layer, then the binary: {builds:?}");
    for b in builds {
        assert!(b.contains("--locked") && b.contains("--release") && b.contains("--bin flinkops"), "{b}");
    }
}

#[test]
fn the_dependency_layer_stubs_every_target_cargo_toml_declares() {
    // Cargo refuses a manifest whose declared targets are missing, even those it does not build.
    let manifest = std::fs::read_to_string("Cargo.toml").unwrap();
    // (section, name, path) of every target section.
    let mut targets: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for line in manifest.lines().map(str::trim) {
        let value = |key: &str| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
        };
        if line.starts_with('[') {
            targets.push((line.to_owned(), None, None));
        } else if let Some(last) = targets.last_mut() {
            last.1 = last.1.take().or_else(|| value("name"));
            last.2 = last.2.take().or_else(|| value("path"));
        }
    }
    let mut paths = Vec::new();
    for (section, name, path) in targets {
        let name = || name.clone().expect("a target name");
        let default = match section.as_str() {
            "[lib]" => "src/lib.rs".to_owned(),
            "[[bin]]" => format!("src/bin/{}.rs", name()),
            "[[test]]" => format!("tests/{}.rs", name()),
            "[[bench]]" => format!("benches/{}.rs", name()),
            "[[example]]" => format!("examples/{}.rs", name()),
            _ => continue,
        };
        paths.push(path.unwrap_or(default));
    }
    assert!(paths.len() >= 3, "{paths:?}");
    let runs = instructions("RUN");
    let stub = runs.iter().find(|r| r.contains("fn main() {}")).expect("a RUN that stubs the sources");
    for p in paths {
        assert!(stub.contains(&p), "the dependency layer does not create {p}: add it to the stub RUN");
    }
}

/// Whether `.dockerignore` keeps `path` in the build context. Supports the patterns it uses: `*`,
/// and literal paths, each optionally negated with `!`; the last match wins, and a pattern that
/// matches a directory matches everything in it.
fn in_build_context(path: &str) -> bool {
    let ignore = std::fs::read_to_string(".dockerignore").expect("a .dockerignore");
    let mut included = true;
    for pattern in ignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (negated, pattern) = pattern.strip_prefix('!').map_or((false, pattern), |p| (true, p));
        let pattern = pattern.trim_end_matches('/');
        assert!(
            pattern == "*" || !pattern.contains(['*', '?', '[']),
            "extend in_build_context for the pattern {pattern}"
        );
        // `*` matches every top-level name, so through its directory every path.
        if pattern == "*" || path == pattern || path.starts_with(&format!("{pattern}/")) {
            included = negated; // `!` re-includes
        }
    }
    included
}

#[test]
fn every_path_the_dockerfile_copies_exists_and_is_in_the_build_context() {
    let mut sources = 0;
    for copy in instructions("COPY") {
        let words: Vec<&str> = copy.split_whitespace().filter(|w| !w.starts_with("--")).collect();
        if copy.starts_with("--from=") {
            continue;
        }
        let (_dest, srcs) = words.split_last().expect("COPY SRC... DEST");
        for src in srcs {
            let src = src.trim_start_matches("./").trim_end_matches('/');
            assert!(Path::new(src).exists(), "COPY {src}: no such file in the repository");
            assert!(in_build_context(src), "COPY {src}: .dockerignore leaves it out of the build context");
            sources += 1;
        }
    }
    assert!(sources >= 3, "Cargo.toml, Cargo.lock, src");
    for heavy in ["target", "examples/jars/flinkops-testjob.jar", ".flinkops", ".git", "tests"] {
        assert!(!in_build_context(heavy), ".dockerignore lets {heavy} into the build context");
    }
}

// ---------------------------------------------------------------------------------------------
// The GitHub Actions workflow

fn workflow() -> Value {
    yaml_docs(WORKFLOW).remove(0)
}

fn job<'a>(workflow: &'a Value, name: &str) -> &'a Value {
    &workflow["jobs"][name]
}

/// Literal values of an `env:` map (expressions `${{ … }}` stand for some value).
fn env_map(v: &Value) -> BTreeMap<String, String> {
    v["env"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let s = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            (k.clone(), if s.contains("${{") { "x".to_owned() } else { s })
        })
        .collect()
}

/// Split a shell command line into words the way `sh` would for these simple lines: quotes
/// removed, `$VAR`/`${VAR}` expanded from `env`, cut at the first redirection or operator.
fn shell_words(line: &str, env: &BTreeMap<String, String>) -> Vec<String> {
    let mut words = Vec::new();
    for raw in line.split_whitespace() {
        if [">", ">>", "2>", "|", "||", "&&", ";", "<"].contains(&raw) || raw.starts_with('>') {
            break;
        }
        let unquoted = raw.trim_matches(|c| c == '"' || c == '\'');
        let expanded = match unquoted.strip_prefix('$') {
            Some(var) => {
                let var = var.trim_start_matches('{').trim_end_matches('}');
                env.get(var).cloned().unwrap_or_else(|| panic!("${var} is not set in the workflow"))
            }
            None => unquoted.to_owned(),
        };
        words.push(expanded);
    }
    words
}

/// Every `flinkops …` command line in the workflow's `run:` steps, with the env in force there.
fn workflow_commands() -> Vec<(String, Vec<String>)> {
    let wf = workflow();
    let mut out = Vec::new();
    for (name, job) in wf["jobs"].as_object().unwrap() {
        for step in job["steps"].as_array().unwrap() {
            let Some(script) = step["run"].as_str() else { continue };
            let mut env = env_map(&wf);
            env.extend(env_map(job));
            env.extend(env_map(step));
            for line in script.lines().map(str::trim).filter(|l| l.starts_with("flinkops ")) {
                out.push((name.clone(), shell_words(line, &env)));
            }
        }
    }
    out
}

#[test]
fn every_flinkops_command_in_the_workflow_parses_with_the_real_cli() {
    let commands = workflow_commands();
    let mut plan_out = None;
    let mut applied = None;
    for (job, argv) in &commands {
        let cli = parse(argv);
        match cli.command {
            Command::Plan(p) if p.offline.requested() => {
                assert_eq!(job, "offline-plan");
                assert!(p.offline.base_rev.is_some(), "the base tree comes from git");
                assert!(p.detailed_exitcode, "exit 3 (state dropped) needs --detailed-exitcode");
                assert_eq!(p.output, PlanFormat::Markdown);
                assert!(p.out.is_none(), "an offline plan cannot be applied");
            }
            Command::Plan(p) => {
                assert_eq!(job, "plan");
                assert!(p.detailed_exitcode, "a pull-request check needs --detailed-exitcode");
                assert_eq!(p.output, PlanFormat::Markdown, "the comment is -o markdown");
                plan_out = p.out;
            }
            Command::Apply(a) => {
                assert_eq!(job, "apply");
                assert!(!a.auto_approve, "apply the saved plan, not a new unreviewed one");
                applied = Some(a.target);
            }
            Command::Validate(_) => {}
            other => panic!("unexpected command in the workflow: {other:?}"),
        }
    }
    let plan_out = plan_out.expect("the workflow plans with --out");
    assert_eq!(applied.as_ref(), Some(&plan_out), "apply takes the file plan --out wrote");
    let uploaded =
        workflow_step(job(&workflow(), "plan"), "actions/upload-artifact")["with"]["path"].to_string();
    assert!(uploaded.contains(plan_out.to_str().unwrap()), "the plan artifact holds {}", plan_out.display());
}

fn workflow_step<'a>(job: &'a Value, uses: &str) -> &'a Value {
    let steps = job["steps"].as_array().unwrap();
    steps
        .iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(uses)))
        .unwrap_or_else(|| panic!("no {uses}"))
}

#[test]
fn every_flinkops_variable_in_the_workflow_is_one_the_cli_reads() {
    let wf = workflow();
    let mut names: Vec<String> = env_map(&wf).into_keys().collect();
    for job in wf["jobs"].as_object().unwrap().values() {
        names.extend(env_map(job).into_keys());
        for step in job["steps"].as_array().unwrap() {
            names.extend(env_map(step).into_keys());
        }
    }
    let checked = assert_known_vars(names, WORKFLOW);
    assert!(checked >= 3, "FLINK_URL, the token, the state directory");
}

#[test]
fn the_workflow_applies_one_plan_at_a_time_from_a_protected_environment_with_a_lasting_ledger() {
    let wf = workflow();
    let apply = job(&wf, "apply");
    assert_eq!(apply["concurrency"]["cancel-in-progress"], false, "never cancel an apply half-way");
    let group = apply["concurrency"]["group"].as_str().expect("a concurrency group");
    assert!(!group.contains("${{"), "one group for every run, not one per ref or run: {group}");
    assert!(
        apply["environment"].is_string() || apply["environment"]["name"].is_string(),
        "a protected environment"
    );
    assert_eq!(
        job(&wf, "plan")["concurrency"]["cancel-in-progress"],
        true,
        "a newer push replaces an old plan"
    );
    // actions/checkout cleans the workspace: a relative state directory would lose the ledger.
    let mut env = env_map(&wf);
    env.extend(env_map(apply));
    let state_dir = env.get("FLINKOPS_STATE_DIR").expect("the apply job names its state directory");
    assert!(Path::new(state_dir).is_absolute(), "FLINKOPS_STATE_DIR {state_dir} is inside the workspace");
}

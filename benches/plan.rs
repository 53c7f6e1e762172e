//! Benchmark (not a test): how plan scales, and what the jar hash cache saves.
//!
//! `cargo bench --bench plan` prints figures; the README quotes them. Sizes can be lowered for a
//! quick look: FLINKOPS_BENCH_SPECS (default 1000), FLINKOPS_BENCH_JARS (50),
//! FLINKOPS_BENCH_JAR_MB (100). Machines here are shared and noisy: compare the ratios printed
//! within one run, not absolute times across runs.

use std::path::Path;
use std::time::{Duration, Instant};

use flinkops::flink::{JobId, JobState};
use flinkops::ledger::{AppliedSpec, Record};
use flinkops::plan::{LiveJob, Observed, Options, identity, plan};
use flinkops::spec::jarcache::JarHashCache;
use flinkops::spec::{self, Inputs};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn write_specs(dir: &Path, n: usize) {
    std::fs::write(dir.join("app.jar"), vec![7u8; 4096]).unwrap();
    for i in 0..n {
        let deps = if i % 10 == 0 { String::new() } else { format!("dependsOn: [job-{:04}]\n", i - i % 10) };
        let text = format!(
            "apiVersion: flinkops.dev/v1\nkind: FlinkJob\nname: job-{i:04}\njar: app.jar\nentryClass: com.example.Main\nargs: [--id, \"{i}\"]\nparallelism: 2\n\
             flinkConfiguration:\n  execution.checkpointing.interval: 30s\n{deps}"
        );
        std::fs::write(dir.join(format!("job-{i:04}.yaml")), text).unwrap();
    }
}

fn bench_plan() {
    let n = env_usize("FLINKOPS_BENCH_SPECS", 1000);
    let dir = tempfile::tempdir().unwrap();
    write_specs(dir.path(), n);
    let load_time = median(5, || {
        let loaded = spec::load(dir.path());
        assert_eq!(loaded.error_count(), 0);
    });
    let (desired, _) = spec::load(dir.path()).into_result().unwrap();
    // Live: every other job runs its spec, the rest run an older version; plus n unmanaged jobs.
    let mut live = Vec::new();
    let mut ledger = std::collections::BTreeMap::new();
    for (i, job) in desired.jobs.values().enumerate() {
        let mut fp = job.fingerprint.clone();
        if i % 2 == 1 {
            fp.0 = format!("{:064x}", i);
        }
        let id = identity::job_id(&job.name, &fp, [0, 0, 1]);
        live.push(LiveJob {
            id,
            name: job.name.clone(),
            state: JobState::Running,
            start_time: 0,
            end_time: -1,
            tasks_running: 2,
            tasks_finished: 0,
            tasks_total: 2,
        });
        let mut record = Record::new(&job.name);
        record.applied = Some(AppliedSpec::of(job));
        ledger.insert(job.name.clone(), record);
    }
    for i in 0..n {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&(i as u64).to_be_bytes());
        live.push(LiveJob {
            id: JobId::from_bytes(bytes),
            name: format!("other-{i}"),
            state: JobState::Running,
            start_time: 0,
            end_time: -1,
            tasks_running: 1,
            tasks_finished: 0,
            tasks_total: 1,
        });
    }
    let observed = Observed { jobs: live, ..Default::default() };
    let mut changes = 0;
    let plan_time = median(11, || {
        let p = plan(&desired, &observed, &ledger, &Options::default());
        changes = p.summary().upgrade;
    });
    let render_time = median(11, || {
        let p = plan(&desired, &observed, &ledger, &Options::default());
        let mut out = Vec::new();
        flinkops::render::human(&p, &flinkops::output::Styles::plain(), &mut out).unwrap();
    })
    .saturating_sub(plan_time);
    println!("plan: {n} specs, {} live jobs ({changes} upgrades planned)", observed.jobs.len());
    println!("  load + validate + resolve specs  {:>8.1} ms", load_time.as_secs_f64() * 1e3);
    println!("  plan (pure)                      {:>8.1} ms", plan_time.as_secs_f64() * 1e3);
    println!("  render (human)                   {:>8.1} ms", render_time.as_secs_f64() * 1e3);
}

fn bench_jar_hashing() {
    let jars = env_usize("FLINKOPS_BENCH_JARS", 50);
    let mb = env_usize("FLINKOPS_BENCH_JAR_MB", 100);
    let dir = tempfile::tempdir().unwrap();
    let block: Vec<u8> = (0..1024 * 1024).map(|i| (i * 31 % 251) as u8).collect();
    for j in 0..jars {
        let mut f = std::fs::File::create(dir.path().join(format!("job-{j}.jar"))).unwrap();
        for _ in 0..mb {
            std::io::Write::write_all(&mut f, &block).unwrap();
        }
        std::fs::write(
            dir.path().join(format!("job-{j}.yaml")),
            format!("apiVersion: flinkops.dev/v1\nkind: FlinkJob\nname: job-{j}\njar: job-{j}.jar\n"),
        )
        .unwrap();
    }
    let state = tempfile::tempdir().unwrap();
    let env = |_: &str| None;
    let load = |cache: &JarHashCache| {
        let hash = |p: &Path| cache.hash(p);
        let loaded =
            spec::load_with(dir.path(), &Inputs { env: &env, hash_jar: &hash, allow_missing_jar: false });
        assert_eq!(loaded.error_count(), 0);
        cache.save();
    };
    let start = Instant::now();
    load(&JarHashCache::load(state.path()));
    let cold = start.elapsed();
    let warm = median(5, || load(&JarHashCache::load(state.path())));
    println!(
        "jar hashing: {jars} jars of {mb} MB ({} MB in all; in the page cache: this measures hashing, not the disk)",
        jars * mb
    );
    println!("  cold (no cache)                  {:>8.1} ms", cold.as_secs_f64() * 1e3);
    println!("  cached (size + mtime unchanged)  {:>8.1} ms", warm.as_secs_f64() * 1e3);
    println!(
        "  ratio                            {:>8.0}x",
        cold.as_secs_f64() / warm.as_secs_f64().max(1e-9)
    );
}

fn main() {
    // `cargo test --benches` runs this too: keep that quick.
    if std::env::args().any(|a| a == "--bench") {
        bench_plan();
        bench_jar_hashing();
    } else {
        println!("run with `cargo bench --bench plan` for figures");
    }
}

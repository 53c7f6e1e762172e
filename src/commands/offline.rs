//! `flinkops plan --base DIR` / `--base-rev REV`: the offline plan, for pull requests whose CI
//! cannot reach Flink.
//!
//! Loads both spec trees (the base one from a directory, or from git at a revision, extracted
//! with `git archive` into a temporary directory), compares them with `plan::offline`, renders.
//! Never builds a Flink client: no connection flag is read. `${VAR}` references are compared as
//! written (the runner has no secrets, and values are not in the repository), and a jar missing
//! from a checkout is compared by its path.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::CommandError;
use crate::cli::{ColorChoice, PlanArgs, PlanFormat};
use crate::output::Styles;
use crate::plan::offline::{self, OfflinePlan};
use crate::spec::{self, Desired, Inputs};
use crate::{exit, render};

/// Why an offline plan could not be made (its hints are in `CommandError::help`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`--out` writes a plan for `flinkops apply`; an offline plan cannot be applied")]
    OutUnsupported,
    #[error("cannot run git")]
    GitMissing(#[source] std::io::Error),
    #[error("{} is not inside a git repository", .0.display())]
    NotARepo(PathBuf),
    #[error("git does not know the revision `{0}`")]
    UnknownRev(String),
    #[error("`git {command}` failed: {stderr}")]
    Git { command: String, stderr: String },
    #[error("cannot read {}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("problems in the job specs (see above); nothing was compared")]
    InvalidSpecs,
}

pub fn run(args: &PlanArgs, color: ColorChoice) -> Result<u8, CommandError> {
    let plan = plan(args, color)?;
    render_and_exit(args, &plan, color)
}

fn plan(args: &PlanArgs, color: ColorChoice) -> Result<OfflinePlan, Error> {
    if args.out.is_some() {
        return Err(Error::OutUnsupported);
    }
    let head_path =
        std::path::absolute(&args.path).map_err(|source| Error::Io { path: args.path.clone(), source })?;
    let base = match (&args.offline.base, &args.offline.base_rev) {
        (Some(dir), _) => BaseTree::dir(dir)?,
        (None, Some(rev)) => BaseTree::git(&head_path, rev)?,
        (None, None) => unreachable!("run only when --base or --base-rev is given"),
    };
    let head = load_side(&head_path, "head", &args.path.display().to_string(), None, color);
    let based = load_side(&base.path, "base", &base.label, base.rewrite.as_ref(), color);
    let (Some(mut head), Some(mut based)) = (head, based) else {
        return Err(Error::InvalidSpecs);
    };
    offline::relative_jars(&mut head, &dir_of(&head_path));
    offline::relative_jars(&mut based, &dir_of(&base.path));
    let labels = (base.label.as_str(), &*args.path.display().to_string());
    Ok(offline::classify(&based, &head, args.prune, (labels.0, labels.1)))
}

fn render_and_exit(args: &PlanArgs, plan: &OfflinePlan, color: ColorChoice) -> Result<u8, CommandError> {
    let mut stdout = std::io::stdout().lock();
    let written = match args.output {
        PlanFormat::Text => render::offline_text(plan, &Styles::stdout(color), &mut stdout),
        PlanFormat::Json => render::offline_json(plan, &mut stdout),
        PlanFormat::Markdown => render::offline_markdown(plan, &mut stdout),
    };
    super::written(written.and_then(|()| stdout.flush()))?;
    Ok(exit_code(plan, args.detailed_exitcode))
}

/// With `--detailed-exitcode`: 3 when a change drops state, 2 for other changes, 0 for none.
pub fn exit_code(plan: &OfflinePlan, detailed: bool) -> u8 {
    match (detailed, plan.drops_state, plan.has_changes) {
        (false, _, _) => exit::OK,
        (true, true, _) => exit::DROPS_STATE,
        (true, false, true) => exit::CHANGES,
        (true, false, false) => exit::OK,
    }
}

/// The directory a spec path's jars are relative to: itself, or a spec file's directory.
fn dir_of(path: &Path) -> PathBuf {
    if path.is_file() { path.parent().unwrap_or(path).to_path_buf() } else { path.to_path_buf() }
}

/// Load one tree; diagnostics are printed under a line naming the side. `None` on errors.
fn load_side(
    path: &Path,
    side: &str,
    label: &str,
    rewrite: Option<&(String, String)>,
    color: ColorChoice,
) -> Option<Desired> {
    // As written: the runner has no secrets, and a reference is what the repository holds.
    let env = |k: &str| Some(format!("${{{k}}}"));
    let hash = |p: &Path| spec::fingerprint::sha256_file(p);
    let mut loaded = spec::load_with(path, &Inputs { env: &env, hash_jar: &hash, allow_missing_jar: true });
    if let Some((from, to)) = rewrite {
        rewrite_paths(&mut loaded, from, to);
    }
    if !loaded.diagnostics.is_empty() {
        use std::io::IsTerminal;
        let s = Styles::stderr(color);
        eprintln!("{}in the {side} tree ({label}):{}", s.bold.render(), s.bold.render_reset());
        let mut err = std::io::stderr().lock();
        let on = crate::output::use_color(color, std::io::stderr().is_terminal());
        let _ = spec::diag::render(&loaded.diagnostics, on, &mut err);
    }
    (loaded.error_count() == 0).then_some(loaded.desired)
}

/// Show the temporary checkout's paths as `REV:path/in/repo`.
fn rewrite_paths(loaded: &mut spec::Loaded, from: &str, to: &str) {
    let fix = |s: &mut String| {
        if let Some(rest) = s.strip_prefix(from) {
            *s = format!("{to}{}", rest.trim_start_matches('/'));
        }
    };
    for d in &mut loaded.diagnostics {
        if let Some(f) = &mut d.file {
            fix(&mut f.display);
        }
        for r in &mut d.related {
            fix(&mut r.file.display);
        }
    }
    for job in loaded.desired.jobs.values_mut() {
        fix(&mut job.origin);
    }
}

/// The base tree: where it is on disk, how to name it, and the temporary directory to remove.
struct BaseTree {
    path: PathBuf,
    label: String,
    /// (temporary prefix, `REV:`) for messages.
    rewrite: Option<(String, String)>,
    _temp: Option<TempDir>,
}

impl BaseTree {
    fn dir(dir: &Path) -> Result<Self, Error> {
        let path =
            std::path::absolute(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
        std::fs::metadata(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
        Ok(Self { path, label: dir.display().to_string(), rewrite: None, _temp: None })
    }

    /// The spec path as committed at `rev`, extracted with `git archive`.
    fn git(head: &Path, rev: &str) -> Result<Self, Error> {
        let probe = if head.is_dir() { head } else { head.parent().unwrap_or(head) };
        let top = git(probe, &["rev-parse", "--show-toplevel"]).map_err(|e| match e {
            Error::Git { .. } => Error::NotARepo(probe.to_path_buf()),
            other => other,
        })?;
        let top = PathBuf::from(top.trim());
        let canon = |p: &Path| p.canonicalize().map_err(|source| Error::Io { path: p.to_path_buf(), source });
        let (top_c, head_c) = (canon(&top)?, canon(head)?);
        let rel = head_c.strip_prefix(&top_c).unwrap_or(Path::new("")).to_path_buf();
        let commit = git(&top, &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")])
            .map_err(|_| Error::UnknownRev(rev.to_string()))?;
        let commit = commit.trim().to_string();
        let temp = TempDir::new()?;
        let rel_s = rel.to_string_lossy().replace('\\', "/");
        let exists = rel_s.is_empty() || git(&top, &["cat-file", "-e", &format!("{commit}:{rel_s}")]).is_ok();
        if exists {
            archive(&top, &commit, &rel_s, &temp.0)?;
        } else {
            std::fs::create_dir_all(temp.0.join(&rel))
                .map_err(|source| Error::Io { path: temp.0.clone(), source })?;
        }
        let short = &commit[..commit.len().min(12)];
        let from = temp.0.display().to_string();
        Ok(Self {
            path: temp.0.join(&rel),
            label: format!("{rev} ({short})"),
            rewrite: Some((from, format!("{rev}:"))),
            _temp: Some(temp),
        })
    }
}

/// Run git in `dir`; its stdout, or its stderr as the error.
fn git(dir: &Path, args: &[&str]) -> Result<String, Error> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().map_err(Error::GitMissing)?;
    if !out.status.success() {
        return Err(Error::Git {
            command: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `git archive COMMIT -- REL | tar -x -C DEST`.
fn archive(top: &Path, commit: &str, rel: &str, dest: &Path) -> Result<(), Error> {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(top).args(["archive", "--format=tar", commit]);
    if !rel.is_empty() {
        cmd.args(["--", rel]);
    }
    let mut git = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(Error::GitMissing)?;
    let stdout = git.stdout.take().expect("piped");
    let tar = Command::new("tar").arg("-x").arg("-C").arg(dest).stdin(stdout).output();
    let git_out = git.wait_with_output().map_err(Error::GitMissing)?;
    if !git_out.status.success() {
        let stderr = String::from_utf8_lossy(&git_out.stderr).trim().to_string();
        return Err(Error::Git { command: format!("archive {commit} -- {rel}"), stderr });
    }
    let tar = tar.map_err(|source| Error::Io { path: dest.to_path_buf(), source })?;
    if !tar.status.success() {
        let stderr = String::from_utf8_lossy(&tar.stderr).trim().to_string();
        return Err(Error::Git { command: "archive (tar -x)".into(), stderr });
    }
    Ok(())
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self, Error> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("flinkops-base-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

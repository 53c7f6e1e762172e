//! A `flinkops watch` process for the watch tests: started with its log in a file, its HTTP
//! endpoints, waits with deadlines that show the log when they give up, signals, and a kill on
//! drop if a test fails before stopping it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flinkops::flink::JobId;

pub struct Watch {
    child: Child,
    log: PathBuf,
    /// Where it serves, once `listening` found it in the log.
    pub addr: String,
    /// How long a wait may take before the test fails.
    deadline: Duration,
}

impl Watch {
    /// Start `flinkops watch SPECS` against `flink` (no `--flink-url` when empty: the specs'
    /// cluster document is the connection), with its state (and log, next to it) under
    /// `state`, serving on `listen`, with `extra` flags. Does not wait for anything.
    pub fn spawn(
        flink: &str,
        specs: &Path,
        state: &Path,
        listen: &str,
        extra: &[&str],
        deadline: Duration,
    ) -> Self {
        let log = state.parent().unwrap().join(format!("watch-{}.log", &JobId::random().as_str()[..6]));
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        let url: &[&str] = if flink.is_empty() { &[] } else { &["--flink-url", flink] };
        let child = Command::new(assert_cmd::cargo::cargo_bin("flinkops"))
            .arg("watch")
            .args(url)
            .args(["--listen", listen, "--state-dir"])
            .arg(state)
            .args(extra)
            .arg(specs)
            .env("NO_COLOR", "1")
            .env_remove("FLINK_URL")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Watch { child, log, addr: String::new(), deadline }
    }

    /// Wait until it serves, and learn where (it logs the address, port 0 included).
    pub async fn listening(mut self) -> Self {
        self.addr = self
            .wait_log("the listen address", |log| {
                let at = log.find("on http://")? + "on http://".len();
                Some(log[at..].split_whitespace().next()?.to_string())
            })
            .await;
        self
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn wait_log<T>(&self, what: &str, mut probe: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + self.deadline;
        loop {
            let log = self.log();
            if let Some(found) = probe(&log) {
                return found;
            }
            assert!(tokio::time::Instant::now() < deadline, "gave up waiting for {what}; watch log:\n{log}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = reqwest::get(format!("http://{}{path}", self.addr)).await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// Until `path` answers `code` with a body containing `text`; the body.
    pub async fn wait_for(&self, path: &str, code: u16, text: &str) -> String {
        let deadline = tokio::time::Instant::now() + self.deadline;
        loop {
            let (got, body) = self.get(path).await;
            if got == code && body.contains(text) {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up waiting for {path} {code} with `{text}`; last: {got} {body}\nwatch log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Until `/readyz` answers `code` with a body containing `text`.
    pub async fn wait_ready(&self, code: u16, text: &str) -> String {
        self.wait_for("/readyz", code, text).await
    }

    /// The value of one series on `/metrics` (0 when absent).
    /// One series on `/metrics`, exactly as named with its labels; `None` when it is absent (a
    /// renamed metric must not read as 0).
    pub async fn metric_value(&self, series: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics").await;
        series_value(&body, series)
    }

    /// One series that must be present on `/metrics`.
    pub async fn metric(&self, series: &str) -> f64 {
        let value = self.metric_value(series).await;
        value.unwrap_or_else(|| panic!("{series} is not on /metrics; log:\n{}", self.log()))
    }

    /// Until one series on `/metrics` has `value` (metrics are published just after the log lines).
    pub async fn wait_metric(&self, series: &str, value: f64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.metric_value(series).await;
            if got == Some(value) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{series} is {got:?}, not {value}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Until one series on `/metrics` is `min` or more, for at most `within` (counters a watch
    /// bumps once some work completes).
    pub async fn wait_metric_at_least(&self, series: &str, min: f64, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.metric_value(series).await;
            if got.is_some_and(|v| v >= min) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{series} is {got:?}, not {min} or more\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status();
        assert!(status.unwrap().success());
    }

    /// Wait for the process to exit; its exit code.
    pub async fn exited(&mut self, within: Duration) -> i32 {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(tokio::time::Instant::now() < deadline, "watch did not exit; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            eprintln!("--- watch log (killed)\n{}", self.log());
        }
    }
}

/// The value of `series` (name and labels exactly) in a Prometheus text exposition.
fn series_value(body: &str, series: &str) -> Option<f64> {
    body.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        // `foo_total 1`, not `foo_total_other 1` or `foo_total{job="a"} 1` for `foo_total`.
        rest.starts_with(' ').then(|| rest.trim().parse().ok()).flatten()
    })
}

#[test]
fn a_series_that_is_absent_reads_as_absent_not_zero() {
    let body = "# TYPE a counter\na_total 3\na_total_more 1\nb_total{job=\"x\"} 0\n";
    assert_eq!(series_value(body, "a_total"), Some(3.0));
    assert_eq!(series_value(body, "b_total{job=\"x\"}"), Some(0.0));
    assert_eq!(series_value(body, "b_total"), None);
    assert_eq!(series_value(body, "renamed_total"), None);
}

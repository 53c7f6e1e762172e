//! Retry policy for idempotent calls: exponential backoff with jitter, bounded in count and in
//! total sleep. Owns *how* to retry; whether a call may be retried at all is decided by the caller
//! (`Client`), and what counts as transient by [`super::Error::is_transient`].

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use super::error::Error;

/// How often and how long to retry an idempotent call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: no retries).
    pub max_retries: usize,
    /// Delay before the first retry; doubles each time (with jitter).
    pub min_delay: Duration,
    /// Upper bound of one delay.
    pub max_delay: Duration,
    /// Upper bound of all delays together.
    pub max_total_delay: Duration,
}

impl Default for RetryPolicy {
    /// 4 retries from 250 ms, at most 5 s apart and 20 s in all: rides out a JobManager leader
    /// election (503) or a proxy restart, without hiding a cluster that is really down.
    fn default() -> Self {
        Self {
            max_retries: 4,
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
            max_total_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// One attempt only.
    pub fn none() -> Self {
        Self { max_retries: 0, ..Self::default() }
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_total_delay(Some(self.max_total_delay))
    }

    /// Run `attempt` until it succeeds, fails with a non-transient error, or the policy is spent.
    pub(crate) async fn run<T, F, Fut>(&self, attempt: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut retry = 0usize;
        let max = self.max_retries;
        attempt
            .retry(self.backoff())
            .sleep(tokio::time::sleep)
            .when(Error::is_transient)
            .notify(|err: &Error, delay: Duration| {
                retry += 1;
                let delay = delay.as_secs_f64();
                tracing::warn!("{err}; retry {retry} of {max} in {delay:.1}s");
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::flink::Call;

    fn call() -> Call {
        Call::new(reqwest::Method::GET, "/jobs/overview")
    }

    fn transient() -> Error {
        Error::Http { call: call(), job: None, status: 503, cause: "leader election".into() }
    }

    // Paused time: the policy's real delays elapse on tokio's virtual clock, at once and exactly.

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_up_to_the_limit_within_the_total_delay() {
        let attempts = AtomicUsize::new(0);
        let policy = RetryPolicy::default();
        let started = tokio::time::Instant::now();
        let result: Result<(), Error> = policy
            .run(|| async {
                attempts.fetch_add(1, Ordering::SeqCst);
                Err(transient())
            })
            .await;
        assert!(result.is_err());
        assert_eq!(attempts.load(Ordering::SeqCst), 1 + policy.max_retries);
        let waited = started.elapsed();
        assert!(waited >= policy.min_delay * 4, "it backs off: {waited:?}");
        assert!(waited <= policy.max_total_delay, "bounded in all: {waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn no_retries_means_one_attempt_and_no_wait() {
        let attempts = AtomicUsize::new(0);
        let started = tokio::time::Instant::now();
        let result: Result<(), Error> = RetryPolicy::none()
            .run(|| async {
                attempts.fetch_add(1, Ordering::SeqCst);
                Err(transient())
            })
            .await;
        assert!(result.is_err());
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_are_not_retried() {
        let attempts = AtomicUsize::new(0);
        let result: Result<(), Error> = RetryPolicy::default()
            .run(|| async {
                attempts.fetch_add(1, Ordering::SeqCst);
                Err(Error::NotFound { call: call(), job: None, cause: "gone".into() })
            })
            .await;
        assert!(matches!(result, Err(Error::NotFound { .. })));
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_after_a_transient_error_is_returned() {
        let attempts = AtomicUsize::new(0);
        let result = RetryPolicy::default()
            .run(|| async {
                match attempts.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(transient()),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(result.unwrap(), 7);
    }
}

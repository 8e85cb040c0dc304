//! Retry with exponential backoff and full jitter, for transient failures
//! only: a precondition or a refusal never gets better by waiting.

use std::future::Future;
use std::time::Duration;

/// Errors tell whether another attempt may help, and how long the server
/// asked us to wait.
pub trait Retryable {
    /// True when another attempt may succeed.
    fn is_transient(&self) -> bool;
    /// A wait the server asked for (`Retry-After`), if any.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// How many attempts, and how long to wait between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The ceiling of the first wait.
    pub base: Duration,
    /// No single wait is longer.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            attempts: 5,
            base: Duration::from_millis(200),
            max: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The wait before attempt `attempt + 1` (attempt counts from 0): a
    /// random duration up to `min(max, base * 2^attempt)`, so concurrent
    /// writers spread out instead of colliding again.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.min(16)))
            .min(self.max);
        ceiling.mul_f64(fastrand::f64())
    }

    /// Run `op` until it succeeds, fails with a non-transient error, or the
    /// attempts run out; the last error is returned. `op` gets the attempt
    /// number, from 0.
    pub async fn retry<T, E, F, Fut>(&self, mut op: F) -> Result<T, E>
    where
        E: Retryable + std::fmt::Display,
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempt = 0;
        loop {
            match op(attempt).await {
                Ok(value) => return Ok(value),
                Err(error) if error.is_transient() && attempt + 1 < self.attempts => {
                    let wait = error
                        .retry_after()
                        .map_or_else(|| self.delay(attempt), |asked| asked.min(self.max * 6));
                    tracing::warn!(
                        attempt = attempt + 1,
                        wait_ms = wait.as_millis() as u64,
                        "{error}; retrying"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[derive(Debug)]
    struct Failure(bool);
    impl std::fmt::Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "failure(transient={})", self.0)
        }
    }
    impl Retryable for Failure {
        fn is_transient(&self) -> bool {
            self.0
        }
    }

    fn quick(attempts: u32) -> Backoff {
        Backoff {
            attempts,
            base: Duration::from_millis(1),
            max: Duration::from_millis(2),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn transient_errors_are_retried_until_success() {
        let calls = Cell::new(0);
        let result = quick(5)
            .retry(|_| {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move { if n < 3 { Err(Failure(true)) } else { Ok(n) } }
            })
            .await;
        assert_eq!(result.unwrap(), 3);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn permanent_errors_and_exhaustion_stop() {
        let calls = Cell::new(0);
        let r: Result<(), _> = quick(5)
            .retry(|_| {
                calls.set(calls.get() + 1);
                async { Err(Failure(false)) }
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls.get(), 1);
        calls.set(0);
        let r: Result<(), _> = quick(3)
            .retry(|_| {
                calls.set(calls.get() + 1);
                async { Err(Failure(true)) }
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls.get(), 3);
    }

    #[test]
    fn delays_are_jittered_below_the_ceiling() {
        let b = Backoff {
            attempts: 10,
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for attempt in 0..10 {
            let ceiling =
                Duration::from_millis(100 * 2u64.pow(attempt)).min(Duration::from_secs(1));
            assert!(b.delay(attempt) <= ceiling);
        }
        let distinct: std::collections::HashSet<_> = (0..20).map(|_| b.delay(3)).collect();
        assert!(distinct.len() > 1, "no jitter");
    }
}

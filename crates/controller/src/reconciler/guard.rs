//! The boundary around one reconcile: a time budget and a panic catcher,
//! so that one object's hostile input (a hanging server, a bug it
//! triggers) fails that object's reconcile and nothing else. kube-runtime
//! runs every reconcile in one stream; an escaped panic would stop the
//! reconciler for every object of the kind.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use driftless_api::conditions::reasons;
use futures::FutureExt;

use super::ReconcileError;

/// Runs `reconcile` within `budget`, turning a timeout or a panic into a
/// retryable [`ReconcileError`].
pub(crate) async fn guarded<T>(
    budget: Duration,
    reconcile: impl Future<Output = Result<T, ReconcileError>>,
) -> Result<T, ReconcileError> {
    match tokio::time::timeout(budget, AssertUnwindSafe(reconcile).catch_unwind()).await {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            tracing::error!(panic = %what, "a reconcile panicked");
            Err(ReconcileError::retryable(
                reasons::RECONCILIATION_FAILED,
                format!("internal error: the reconcile panicked ({what}); please report this"),
            ))
        }
        Err(_) => Err(ReconcileError::retryable(
            reasons::RECONCILIATION_FAILED,
            format!(
                "the reconcile did not finish within {budget:?}; it was stopped and will be retried (raise --reconcile-timeout if this object needs longer)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_fails_only_this_reconcile() {
        let result: Result<(), _> = guarded(Duration::from_secs(5), async {
            panic!("bad input");
        })
        .await;
        let error = result.expect_err("a failure");
        assert!(error.message.contains("panicked (bad input)"), "{error}");
        assert!(!error.is_stalled());
    }

    #[tokio::test]
    async fn a_hang_is_stopped_at_the_budget() {
        let result: Result<(), _> =
            guarded(Duration::from_millis(50), std::future::pending()).await;
        let error = result.expect_err("a failure");
        assert!(
            error.message.contains("did not finish within 50ms"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_result_passes_through() {
        assert_eq!(
            guarded(Duration::from_secs(1), async { Ok(7) }).await,
            Ok(7)
        );
    }
}

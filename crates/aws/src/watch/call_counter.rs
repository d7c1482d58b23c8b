//! A call hook that counts every AWS call by operation and result (ok, throttled, error), for
//! the watcher's metrics, and keeps when DescribeInstances last answered, for `/readyz`.

use std::sync::atomic::Ordering;

use coldstandby_engine::call_hooks::{CallHook, CallTiming, ProviderCall};
use coldstandby_engine::{ApiError, ErrorKind};

use super::Shared;

/// Counts into `shared.metrics`; DescribeInstances' last answer in `shared.described_*_at`.
#[derive(Debug)]
pub struct CallCounter<'a> {
    pub shared: &'a Shared,
}

impl CallHook for CallCounter<'_> {
    fn ended(&self, call: &ProviderCall<'_>, timing: CallTiming, error: Option<&ApiError>) {
        // A promoted member's `tcp` and `http` readiness probes are not AWS calls.
        if !call.is_aws_call() {
            return;
        }
        if matches!(call, ProviderCall::Describe(_)) {
            let at =
                if error.is_none() { &self.shared.described_ok_at } else { &self.shared.described_failed_at };
            at.store(i64::try_from(timing.ended_at.unix_millis()).unwrap_or(i64::MAX), Ordering::Relaxed);
        }
        let result = match error {
            None => "ok",
            Some(error) if error.kind == ErrorKind::Throttled => "throttled",
            Some(_) => "error",
        };
        self.shared.metrics.count_call(&call.operation(), result);
    }
}

//! A call hook that keeps a record of every call (when, which operation, on what, and how it
//! ended), for a report's table of every call made against real EC2.

use std::sync::Mutex;

use serde::Serialize;

use crate::call_hooks::{CallHook, CallTiming, ProviderCall};
use crate::{ApiError, Timestamp};

/// One call as it was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordedCall {
    /// When it was sent.
    pub at: Timestamp,
    pub operation: String,
    /// What it was about: instances, a mover, a subnet.
    pub subject: String,
    /// `None` when it succeeded, else the error's code.
    pub error: Option<String>,
}

/// The calls a [`crate::call_hooks::Hooked`] provider passed on, as they ended.
#[derive(Debug, Default)]
pub struct Recorder {
    calls: Mutex<Vec<RecordedCall>>,
}

impl Recorder {
    /// Every call so far, in the order they were sent.
    pub fn calls(&self) -> Vec<RecordedCall> {
        let mut calls = self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        calls.sort_by_key(|call| call.at);
        calls
    }
}

impl CallHook for Recorder {
    fn ended(&self, call: &ProviderCall<'_>, timing: CallTiming, error: Option<&ApiError>) {
        let operation = match call {
            ProviderCall::Stop { force: true, .. } => "StopInstances (force)".to_owned(),
            ProviderCall::Probe { probe, .. } => format!("probe {}", probe.kind()),
            _ => call.operation().into_owned(),
        };
        let record = RecordedCall {
            at: timing.sent_at,
            operation,
            subject: call.subject(),
            error: error.map(|error| error.code.clone()),
        };
        self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(record);
    }
}

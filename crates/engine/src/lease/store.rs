//! What a lease exchanges with its store and tells its run: the record as the table holds it,
//! the two calls and their answers, the settings, and how a lease ended.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::provider::ApiError;
#[cfg(doc)]
use crate::provider::ErrorKind;

/// A group's lease as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub group: String,
    /// Who holds it; None once released.
    pub owner: Option<String>,
    /// The fencing token: one more with every change of holder, never reset.
    pub epoch: u64,
    /// Changed by every write: what a conditional write and a watcher compare.
    pub version: String,
    /// How long the holder's right lasts after each write, in milliseconds.
    pub duration_ms: u64,
}

/// One call to the lease store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseCall {
    /// A strongly consistent read of `group`'s record.
    Read { table: String, group: String },
    /// Put `record` if the stored record's version is `expected` (None: if there is none).
    Write { table: String, record: LeaseRecord, expected: Option<String> },
}

impl LeaseCall {
    /// The DynamoDB operation.
    pub fn operation(&self) -> &'static str {
        match self {
            Self::Read { .. } => "GetItem",
            Self::Write { .. } => "PutItem",
        }
    }

    /// The group whose record it reads or writes.
    pub fn group(&self) -> &str {
        match self {
            Self::Read { group, .. } => group,
            Self::Write { record, .. } => &record.group,
        }
    }
}

/// What a lease call returned. A refused conditional write is an error of kind
/// [`ErrorKind::WrongState`] (the record moved under us).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseReply {
    Read(Option<LeaseRecord>),
    Written,
}

/// Where a lease is configured and who asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    /// The DynamoDB table.
    pub table: String,
    /// This process, as other processes will see it named ("lambda ... request ...",
    /// "cli host pid ...": unique among processes that may race).
    pub owner: String,
    pub duration: Duration,
}

/// How a lease ended, or why it was never held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseEnd {
    /// Another process holds it and renews it.
    HeldBy { owner: String, epoch: u64 },
    /// Held, then lost: taken over, or not renewed in time.
    Lost { reason: String },
    /// The store refused in a way no retry mends (permissions, a missing table).
    Unavailable { error: ApiError },
    /// Released after the run (or left to expire when the release failed).
    Released,
}

impl fmt::Display for LeaseEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HeldBy { owner, epoch } => write!(f, "held by {owner} (epoch {epoch}), who renews it"),
            Self::Lost { reason } => write!(f, "lost: {reason}"),
            Self::Unavailable { error } => write!(f, "lease store unavailable: {error}"),
            Self::Released => f.write_str("released"),
        }
    }
}

//! The lease table, as DynamoDB serves the engine's lease store: strongly consistent reads,
//! puts conditional on the stored version (`ConditionalCheckFailedException` otherwise), and
//! DynamoDB's failure modes: throttling, a write that lands but whose answer is lost, and a
//! controller cut off from the table for a while (its calls fail at once, or never answer).
//! Every write that lands is kept in a history: the truth `one-controller-per-group` is judged
//! from.

use std::collections::BTreeMap;
use std::time::Duration;

use coldstandby_engine::lease::{LeaseCall, LeaseRecord, LeaseReply};
use coldstandby_engine::{ApiError, ErrorKind, Timestamp};
use serde::{Deserialize, Serialize};

use crate::zones::HANG;

/// DynamoDB answers a single-item call in single-digit milliseconds within a Region.
const LATENCY_MS: std::ops::RangeInclusive<u64> = 3..=12;

/// One write that landed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseChange {
    pub at: Timestamp,
    /// How many EC2 calls the region had recorded when it landed: orders it among them.
    pub calls_before: usize,
    pub group: String,
    pub owner: Option<String>,
    pub epoch: u64,
}

/// Faults of the table's API.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LeaseFaults {
    /// Probability a call is throttled (`ThrottlingException`).
    pub throttle: f64,
    /// Probability a write lands but its answer is lost (the caller sees a timeout).
    pub lost_answer: f64,
}

/// A controller that cannot reach the table from `from` until `until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutOff {
    pub from: Timestamp,
    pub until: Timestamp,
    /// Its calls never answer (else they fail at once).
    pub hang: bool,
}

/// The table and its history.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LeaseTable {
    /// By "table/group".
    items: BTreeMap<String, LeaseRecord>,
    history: Vec<LeaseChange>,
    pub faults: LeaseFaults,
    /// Controllers cut off from the table, by name.
    pub cut_off: BTreeMap<String, CutOff>,
}

impl LeaseTable {
    /// Every write that landed, oldest first.
    pub fn history(&self) -> &[LeaseChange] {
        &self.history
    }

    /// The record of `group` in `table`.
    pub fn record(&self, table: &str, group: &str) -> Option<&LeaseRecord> {
        self.items.get(&key(table, group))
    }

    /// Answer `call` from `caller` at `now` (the region's `calls_before` EC2 calls so far): the
    /// answer, and when it arrives.
    pub(crate) fn answer(
        &mut self,
        caller: Option<&str>,
        call: &LeaseCall,
        now: Timestamp,
        calls_before: usize,
        rng: &mut fastrand::Rng,
    ) -> (Result<LeaseReply, ApiError>, Timestamp) {
        let arrives = now + Duration::from_millis(rng.u64(LATENCY_MS));
        if let Some(cut) = caller
            .and_then(|caller| self.cut_off.get(caller))
            .filter(|cut| (cut.from..cut.until).contains(&now))
        {
            let error = ApiError::new(ErrorKind::Transient, "ConnectTimeout", "could not reach the table");
            return (Err(error), if cut.hang { now + HANG } else { arrives });
        }
        if rng.f64() < self.faults.throttle {
            let error = ApiError::new(
                ErrorKind::Throttled,
                "ThrottlingException",
                "Rate of requests exceeds the allowed throughput.",
            );
            return (Err(error), arrives);
        }
        let result = match call {
            LeaseCall::Read { table, group } => Ok(LeaseReply::Read(self.record(table, group).cloned())),
            LeaseCall::Write { table, record, expected } => {
                let stored = self.items.get(&key(table, &record.group)).map(|stored| &stored.version);
                if stored != expected.as_ref() {
                    let message = "The conditional request failed";
                    return (
                        Err(ApiError::new(ErrorKind::WrongState, "ConditionalCheckFailedException", message)),
                        arrives,
                    );
                }
                self.history.push(LeaseChange {
                    at: now,
                    calls_before,
                    group: record.group.clone(),
                    owner: record.owner.clone(),
                    epoch: record.epoch,
                });
                self.items.insert(key(table, &record.group), record.clone());
                if rng.f64() < self.faults.lost_answer {
                    Err(ApiError::new(ErrorKind::Transient, "RequestTimeout", "the answer was lost"))
                } else {
                    Ok(LeaseReply::Written)
                }
            }
        };
        (result, arrives)
    }
}

fn key(table: &str, group: &str) -> String {
    format!("{table}/{group}")
}

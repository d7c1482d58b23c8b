//! Calls that land after their caller gave up: EC2 received the request and carries it out a
//! while later, but the answer never reaches the caller, who times out. What a lease must cover
//! (the holder may not hand over while such a call can still land), and what a run that gave up
//! on a call must be ready to see happen anyway.

use std::collections::BTreeMap;
use std::time::Duration;

use coldstandby_engine::{Call, InstanceId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::region::{Inner, SimRegion};

/// A mutating request, kept until it lands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "kebab-case")]
pub(crate) enum LateCall {
    Start { instances: Vec<InstanceId> },
    Stop { instances: Vec<InstanceId>, force: bool },
    SetTags { instances: Vec<InstanceId>, tags: BTreeMap<String, String> },
}

impl LateCall {
    /// The request the calls make, if it changes instances (the only kind that lands late here).
    fn of(calls: &[Call]) -> Option<Self> {
        let instances = || {
            calls
                .iter()
                .filter_map(|call| match call {
                    Call::Start { instance }
                    | Call::Stop { instance, .. }
                    | Call::SetTags { instance, .. } => Some(instance.clone()),
                    _ => None,
                })
                .collect()
        };
        match calls.first()? {
            Call::Start { .. } => Some(Self::Start { instances: instances() }),
            Call::Stop { force, .. } => Some(Self::Stop { instances: instances(), force: *force }),
            Call::SetTags { tags, .. } => Some(Self::SetTags { instances: instances(), tags: tags.clone() }),
            _ => None,
        }
    }
}

/// A request that will land at `at`; its calls are `calls` records from `first_record`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Landing {
    pub(crate) at: Timestamp,
    request: u64,
    call: LateCall,
    first_record: usize,
    calls: usize,
}

/// Held by the caller's future while it waits for the answer of a request kept to land late:
/// dropped unanswered (the caller gave up), the request lands no later than
/// `late_landing_after_abandon_ms` from then, the bound the lease assumes (docs/safety.md).
pub(crate) struct Abandonment<'a> {
    pub(crate) region: &'a SimRegion,
    pub(crate) request: u64,
    pub(crate) answered: bool,
}

impl Drop for Abandonment<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.region.abandon_landing(self.request);
        }
    }
}

impl Inner {
    /// Whether the request made of `calls` is to land late (drawn only for requests that change
    /// instances, while the fault is on).
    pub(crate) fn draws_late_landing(&mut self, calls: &[Call]) -> bool {
        let chance = self.faults.late_landing;
        chance > 0.0 && LateCall::of(calls).is_some() && self.rng.f64() < chance
    }

    /// Keep the request made of `calls` (its records the last `calls.len()`) to carry it out
    /// some time in the next `late_landing_max_ms`.
    pub(crate) fn keep_for_landing(&mut self, calls: &[Call]) {
        let call = LateCall::of(calls).expect("only requests that change instances land late");
        let delay = Duration::from_millis(self.rng.u64(0..=self.faults.late_landing_max_ms));
        let first_record = self.calls.len() - calls.len();
        let request = self.requests - 1;
        self.landings.push(Landing { at: self.now + delay, request, call, first_record, calls: calls.len() });
    }

    /// The last request, if it is kept to land late.
    pub(crate) fn last_request_landing_late(&self) -> Option<u64> {
        let last = self.requests.checked_sub(1)?;
        self.landings.iter().any(|landing| landing.request == last).then_some(last)
    }

    /// Its caller gave up on `request`: it lands within the abandonment bound from now.
    pub(crate) fn abandoned(&mut self, request: u64) {
        let latest = self.now + Duration::from_millis(self.faults.late_landing_after_abandon_ms);
        for landing in self.landings.iter_mut().filter(|landing| landing.request == request) {
            landing.at = landing.at.min(latest);
        }
    }

    /// When the next kept request lands, if one does by `until`.
    pub(crate) fn next_landing(&self, until: Timestamp) -> Option<Timestamp> {
        self.landings.iter().map(|landing| landing.at).filter(|at| *at <= until).min()
    }

    /// Carry out the kept requests due at `at` (in the order they were made), as EC2 would have
    /// had they arrived then: refused, in part or whole, by what the instances are now.
    pub(crate) fn land_due(&mut self, at: Timestamp) {
        let (due, later): (Vec<Landing>, Vec<Landing>) =
            std::mem::take(&mut self.landings).into_iter().partition(|landing| landing.at <= at);
        self.landings = later;
        for landing in due {
            // Nobody hears the answer: an error is what EC2 would have said to no one.
            let _ = match &landing.call {
                LateCall::Start { instances } => self.start_many(instances),
                LateCall::Stop { instances, force } => self.stop_many(instances, *force),
                LateCall::SetTags { instances, tags } => self.set_tags_many(instances, tags),
            };
            for record in &mut self.calls[landing.first_record..landing.first_record + landing.calls] {
                record.landed_at = Some(landing.at);
            }
        }
    }
}

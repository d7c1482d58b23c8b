//! `dns`: an A record in a Route 53 private hosted zone holding the active member's private
//! address. Each change deletes the exact value read and creates the new one in one batch, so a
//! controller acting on a stale read fails instead of overwriting; the move is verified once
//! Route 53 reports the change `INSYNC` (clients still cache the old answer for the TTL).

use serde::{Deserialize, Serialize};

use super::{Change, Endpoint, Step};

/// The mover's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dns {
    /// The private hosted zone's id (`Z...`).
    pub hosted_zone: String,
    /// The record's fully qualified name, e.g. `db.internal.example.`.
    pub record: String,
    /// The TTL written with the record: how long clients may keep the old address.
    pub ttl: u32,
}

/// The record as Route 53 answers it, and the state of this run's last change to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordView {
    /// The record's single value, None when there is no such record.
    pub value: Option<String>,
    /// Its TTL as read: a DELETE must name it exactly.
    pub ttl: Option<u32>,
    /// Whether this run's last change has reached every Route 53 server (`GetChange` says
    /// `INSYNC`); None when this run made no change.
    pub in_sync: Option<bool>,
}

impl Dns {
    /// Verified when the record holds `desired`'s address and this run's change, if it made one,
    /// is in sync: whether clients are sent there (what `status` and `doctor` ask).
    pub fn next_step(&self, record: &RecordView, desired: &Endpoint) -> Step {
        if record.value.as_deref() != Some(desired.private_ip.as_str()) {
            return Step::Change(vec![self.change(record, desired)]);
        }
        match record.in_sync {
            Some(false) => Step::Wait(format!("the change to {} is PENDING", self.record)),
            Some(true) | None => Step::Verified,
        }
    }

    /// As [`Self::next_step`], for a run that moves clients and must see its move propagated:
    /// a record that already holds the address when this run has made no change (an earlier
    /// run's change, perhaps still `PENDING`, whose id went with that run) is written again, the
    /// same value, for a change whose `INSYNC` the run can wait for. That it covers the earlier
    /// change too is assumed, not documented (docs/clients.md).
    pub fn next_step_for_run(&self, record: &RecordView, desired: &Endpoint) -> Step {
        if record.value.as_deref() == Some(desired.private_ip.as_str()) && record.in_sync.is_none() {
            return Step::Change(vec![self.change(record, desired)]);
        }
        self.next_step(record, desired)
    }

    /// The change that makes the record hold `desired`'s address: the exact value read deleted,
    /// the new one created, in one batch.
    fn change(&self, record: &RecordView, desired: &Endpoint) -> Change {
        Change::Record {
            hosted_zone: self.hosted_zone.clone(),
            record: self.record.clone(),
            from: record.value.clone().map(|value| (value, record.ttl.unwrap_or(self.ttl))),
            to: desired.private_ip.clone(),
            ttl: self.ttl,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_change_swaps_the_exact_value_read_and_verifies_only_in_sync() {
        let mover = Dns { hosted_zone: "Z1".to_owned(), record: "db.internal.".to_owned(), ttl: 10 };
        let desired = Endpoint {
            instance: "i-0000000b".parse().unwrap(),
            network_interface: "eni-b".to_owned(),
            private_ip: "10.0.2.10".to_owned(),
        };
        let old = RecordView { value: Some("10.0.1.10".to_owned()), ttl: Some(300), in_sync: None };
        let Step::Change(changes) = mover.next_step(&old, &desired) else { panic!() };
        assert!(
            matches!(&changes[0], Change::Record { from: Some((from, 300)), to, .. } if from == "10.0.1.10" && to == "10.0.2.10"),
            "the DELETE names the value and the TTL read: {changes:?}"
        );
        let pending = RecordView { value: Some("10.0.2.10".to_owned()), ttl: Some(10), in_sync: Some(false) };
        assert!(matches!(mover.next_step(&pending, &desired), Step::Wait(_)));
        let done = RecordView { value: Some("10.0.2.10".to_owned()), ttl: Some(10), in_sync: Some(true) };
        assert_eq!(mover.next_step(&done, &desired), Step::Verified);
    }

    #[test]
    fn a_record_already_right_with_no_change_of_this_run_is_written_again_for_a_change_to_await() {
        // An earlier run's change may still be PENDING, and its id went with that run.
        let mover = Dns { hosted_zone: "Z1".to_owned(), record: "db.internal.".to_owned(), ttl: 10 };
        let desired = Endpoint {
            instance: "i-0000000b".parse().unwrap(),
            network_interface: "eni-b".to_owned(),
            private_ip: "10.0.2.10".to_owned(),
        };
        let unknown = RecordView { value: Some("10.0.2.10".to_owned()), ttl: Some(10), in_sync: None };
        assert_eq!(mover.next_step(&unknown, &desired), Step::Verified, "it does send clients there");
        let Step::Change(changes) = mover.next_step_for_run(&unknown, &desired) else {
            panic!("verified without knowing the change is in sync")
        };
        assert!(
            matches!(&changes[0], Change::Record { from: Some((from, 10)), to, .. } if from == "10.0.2.10" && to == "10.0.2.10"),
            "the same value again: {changes:?}"
        );
    }
}

//! Starts of many groups' standbys of one instance type in one zone. EC2 draws a started-instance
//! token for every instance a StartInstances names, refused for capacity or not, and that bucket
//! holds 1,000 and refills at two a second: a merged batch of hundreds of standbys refused because
//! the type is short in the zone spends hundreds of tokens for nothing, and every start after it
//! waits minutes for the bucket. So a type and zone not yet seen to start is probed with one
//! instance first (the others wait a moment), and so is one that was refused for capacity since;
//! once a start of it is accepted, its batches go whole.

use super::*;
use request::MergeKey;

/// How long the other starts of a type wait for its probe before asking again: longer than a
/// poll interval, so a run whose start waits still observes its group in between.
const PROBE_WAIT: Duration = Duration::from_millis(500);

/// An instance type in a zone.
type TypeInZone = (String, String);

/// What the fleet knows of each type's capacity in each zone.
#[derive(Debug, Default)]
pub(super) struct Capacity {
    /// A start of it was accepted, and none refused for capacity since.
    starts: BTreeSet<TypeInZone>,
    /// A probe (one start) is in flight.
    probing: BTreeSet<TypeInZone>,
}

impl Fleet {
    /// The parts of a start batch for `key` to send now: all of them once the type is known to
    /// start in the zone; else one probe (none while a probe is in flight), the others deferred.
    pub(super) fn capacity_gate(
        &mut self,
        now: Timestamp,
        key: &MergeKey,
        mut parts: Vec<Part>,
    ) -> Vec<Part> {
        let Some(type_in_zone) = type_in_zone(key) else { return parts };
        if self.capacity.starts.contains(&type_in_zone) {
            return parts;
        }
        let keep = usize::from(!self.capacity.probing.contains(&type_in_zone));
        for waiting in parts.split_off(keep.min(parts.len())) {
            self.defer(now, waiting.run, now + PROBE_WAIT);
        }
        parts
    }

    /// A start request was sent: if its type is not known to start in its zone, it is the probe.
    pub(super) fn note_start_sent(&mut self, request: &Request) {
        if let Some(type_in_zone) = self.type_in_zone_of(request) {
            if !self.capacity.starts.contains(&type_in_zone) {
                self.capacity.probing.insert(type_in_zone);
            }
        }
    }

    /// The type and zone of a start request naming instances of one type in one zone.
    fn type_in_zone_of(&self, request: &Request) -> Option<TypeInZone> {
        if !matches!(request, Request::Start { .. }) || !Self::one_type(request, &self.zones) {
            return None;
        }
        let first = request.instances().first()?;
        Some((self.zones.zone_of(first)?.to_owned(), self.zones.type_of(first)?.to_owned()))
    }

    /// Note what a start request's answer says of its type's capacity in its zone.
    pub(super) fn note_capacity(&mut self, request: &Request, result: &Result<Answer, ApiError>) {
        let Some(type_in_zone) = self.type_in_zone_of(request) else { return };
        self.capacity.probing.remove(&type_in_zone);
        match result {
            Ok(_) => {
                self.capacity.starts.insert(type_in_zone);
            }
            Err(error) if error.kind == ErrorKind::Capacity => {
                self.capacity.starts.remove(&type_in_zone);
            }
            Err(_) => {}
        }
    }
}

fn type_in_zone(key: &MergeKey) -> Option<TypeInZone> {
    match key {
        MergeKey::Start { zone: Some(zone), instance_type: Some(kind) } => Some((zone.clone(), kind.clone())),
        _ => None,
    }
}

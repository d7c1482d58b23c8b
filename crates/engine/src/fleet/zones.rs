//! Where each instance lives, as far as the fleet knows (hints from the configuration, then every
//! answer), and how each Availability Zone's describes fare. EC2 fails a describe that names an
//! instance in a disrupted zone, so instances are described zone by zone; a zone whose describe
//! failed rests a while, its instances counted as unanswered with the zone's last error.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::instance::{InstanceId, Observation};
use crate::provider::ApiError;
use crate::time::Timestamp;

/// The first rest of a zone whose describe failed; it doubles with each failure in a row.
const FIRST_REST: Duration = Duration::from_millis(500);
/// The longest rest: a zone that comes back is seen within this long.
const LONGEST_REST: Duration = Duration::from_secs(5);

/// Instances' zones and the zones' health.
#[derive(Clone, Debug, Default)]
pub struct Zones {
    of: BTreeMap<InstanceId, String>,
    /// Instance types, learned from answers.
    types: BTreeMap<InstanceId, String>,
    failing: BTreeMap<String, Failing>,
}

#[derive(Clone, Debug)]
struct Failing {
    in_a_row: u32,
    rest_until: Timestamp,
    error: ApiError,
}

impl Zones {
    /// Add zones known beforehand, for instances whose zone is not known yet.
    pub fn hint<'a>(&mut self, hints: impl IntoIterator<Item = (&'a InstanceId, &'a String)>) {
        for (instance, zone) in hints {
            self.of.entry(instance.clone()).or_insert_with(|| zone.clone());
        }
    }

    /// The instance's zone, if known.
    pub fn zone_of(&self, instance: &InstanceId) -> Option<&str> {
        self.of.get(instance).map(String::as_str)
    }

    /// The instance's type, if an answer showed it.
    pub fn type_of(&self, instance: &InstanceId) -> Option<&str> {
        self.types.get(instance).map(String::as_str)
    }

    /// Take in the zones (and instance types) an answer shows.
    pub fn learn(&mut self, observations: &[Observation]) {
        for observation in observations {
            if let Some(kind) = &observation.instance_type {
                if self.type_of(&observation.instance) != Some(kind.as_str()) {
                    self.types.insert(observation.instance.clone(), kind.clone());
                }
            }
        }
        for observation in observations.iter().filter(|o| !o.availability_zone.is_empty()) {
            if self.zone_of(&observation.instance) != Some(observation.availability_zone.as_str()) {
                self.of.insert(observation.instance.clone(), observation.availability_zone.clone());
            }
        }
    }

    /// A describe of `zone`'s instances answered.
    pub fn answered(&mut self, zone: &str) {
        self.failing.remove(zone);
    }

    /// A describe of `zone`'s instances failed at `now` with `error`: rest the zone.
    pub fn failed(&mut self, zone: &str, error: ApiError, now: Timestamp) {
        let in_a_row = self.failing.get(zone).map_or(1, |failing| failing.in_a_row + 1);
        let rest = FIRST_REST.saturating_mul(1 << in_a_row.min(8).saturating_sub(1)).min(LONGEST_REST);
        self.failing.insert(zone.to_owned(), Failing { in_a_row, rest_until: now + rest, error });
    }

    /// The error a resting zone's instances count as failed with, while it rests at `now`.
    pub fn resting(&self, zone: &str, now: Timestamp) -> Option<&ApiError> {
        self.failing.get(zone).filter(|failing| now < failing.rest_until).map(|failing| &failing.error)
    }
}

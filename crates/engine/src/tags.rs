//! The tags through which a group's active member is recorded on its instances, so that a
//! second run, a duplicate alarm or `status` reads the truth from the provider itself.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The tag naming the group an instance belongs to.
pub const GROUP_TAG: &str = "coldstandby:group";
/// The tag holding the instance's role in its group.
pub const ROLE_TAG: &str = "coldstandby:role";
/// The tag naming the trigger (an alarm event, a manual run) that made the member active.
pub const TRIGGER_TAG: &str = "coldstandby:trigger";

/// On the active member: when the run that made it active began (Unix milliseconds). A member
/// cut off because its zone did not answer keeps its `active` record until its zone answers (its
/// tags cannot be written); this tag says which of two records is the newer. Every group of one
/// fleet run gets the same value, so their tag writes share requests.
pub const ACTIVATED_AT_TAG: &str = "coldstandby:activated-at";

/// EC2 tag values hold at most 256 characters.
const MAX_TAG_VALUE_CHARS: usize = 256;

/// What separates the trigger from the lease epoch in the trigger tag.
const EPOCH_SEPARATOR: &str = " lease-epoch ";

/// The characters the trigger itself may use: the rest is kept for the lease epoch, so the
/// trigger's part reads the same with or without one.
const MAX_TRIGGER_CHARS: usize = MAX_TAG_VALUE_CHARS - EPOCH_SEPARATOR.len() - 20;

/// `trigger` as the trigger tag records it: as it is when it fits; else a hash of the whole and
/// its end, which holds the state change's time. (Cutting off the end made every ALARM of an
/// alarm with a long name look like the same, already handled, state change.)
pub fn trigger_tag_value(trigger: &str) -> String {
    let length = trigger.chars().count();
    if length <= MAX_TRIGGER_CHARS {
        return trigger.to_owned();
    }
    let hash = format!("#{:016x} ...", fnv1a(trigger));
    let keep = MAX_TRIGGER_CHARS - hash.chars().count();
    let tail: String = trigger.chars().skip(length - keep).collect();
    format!("{hash}{tail}")
}

/// The trigger tag's value: the trigger, and the epoch of the group's lease when the run held
/// one (the fencing token: which holder acted).
pub fn trigger_tag(trigger: &str, lease_epoch: Option<u64>) -> String {
    let trigger = trigger_tag_value(trigger);
    match lease_epoch {
        Some(epoch) => format!("{trigger}{EPOCH_SEPARATOR}{epoch}"),
        None => trigger,
    }
}

/// The trigger a trigger tag's value records (as [`trigger_tag_value`] gives it), and the lease
/// epoch, if one was written.
pub fn recorded_trigger(value: &str) -> (&str, Option<u64>) {
    match value.rsplit_once(EPOCH_SEPARATOR) {
        Some((trigger, epoch)) => match epoch.parse() {
            Ok(epoch) => (trigger, Some(epoch)),
            Err(_) => (value, None),
        },
        None => (value, None),
    }
}

/// 64-bit FNV-1a: stable across builds and platforms, which a tag written by one version and
/// read by the next needs (the standard library's hasher promises neither).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A member's recorded role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Active,
    Standby,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Standby => "standby",
        }
    }

    /// The role recorded in an instance's tags, if any (an unrecognised value counts as none).
    pub fn recorded_in(tags: &BTreeMap<String, String>) -> Option<Self> {
        match tags.get(ROLE_TAG).map(String::as_str) {
            Some("active") => Some(Self::Active),
            Some("standby") => Some(Self::Standby),
            _ => None,
        }
    }

    /// The tag that records this role alone (the group is recorded once, when missing).
    pub fn tag(self) -> BTreeMap<String, String> {
        BTreeMap::from([(ROLE_TAG.to_owned(), self.as_str().to_owned())])
    }

    /// The tags that record this role for `group`.
    pub fn tags_for(self, group: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (GROUP_TAG.to_owned(), group.to_owned()),
            (ROLE_TAG.to_owned(), self.as_str().to_owned()),
        ])
    }
}

/// When a member was recorded active, from its tags (`ACTIVATED_AT_TAG`).
pub fn activated_at(tags: &BTreeMap<String, String>) -> Option<u64> {
    tags.get(ACTIVATED_AT_TAG).and_then(|value| value.parse().ok())
}

/// Of several members recorded active (`records`: each with its activation time, if written),
/// the one recorded last: a member cut off in a zone that did not answer keeps its old record,
/// and a record without a time predates activation times. Several when the newest time is
/// shared or no record has one: those records conflict. The times come from the activating
/// controllers' clocks (docs/safety.md says what skew that tolerates).
pub fn newest_records<T: Clone>(records: &[(T, Option<u64>)]) -> Vec<T> {
    let newest = records.iter().filter_map(|(_, at)| *at).max();
    records
        .iter()
        .filter(|(_, at)| newest.is_none() || *at == newest)
        .map(|(member, _)| member.clone())
        .collect()
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_record_wins_and_a_tie_or_no_time_conflicts() {
        assert_eq!(newest_records(&[("a", Some(1)), ("b", Some(2))]), vec!["b"]);
        assert_eq!(newest_records(&[("a", None), ("b", Some(2))]), vec!["b"]);
        assert_eq!(newest_records(&[("a", Some(2)), ("b", Some(2))]), vec!["a", "b"]);
        assert_eq!(newest_records(&[("a", None), ("b", None)]), vec!["a", "b"]);
        assert_eq!(newest_records(&[("a", Some(7))]), vec!["a"]);
    }

    #[test]
    fn a_long_trigger_keeps_its_time_and_stays_distinct() {
        let name = "x".repeat(300);
        let first = format!("arn:aws:cloudwatch:ap-northeast-1:111122223333:alarm:{name} ALARM at 2026-11-20T03:02:07.118+0000");
        let second = first.replace("03:02:07", "04:15:00");
        let (a, b) = (trigger_tag_value(&first), trigger_tag_value(&second));
        assert_ne!(a, b, "two state changes of one alarm are two triggers");
        assert_eq!(a, trigger_tag_value(&first), "the same trigger gives the same value");
        assert!(
            a.chars().count() <= MAX_TRIGGER_CHARS && a.ends_with("ALARM at 2026-11-20T03:02:07.118+0000"),
            "{a}"
        );
        assert_eq!(trigger_tag_value("manual"), "manual");
    }

    #[test]
    fn the_lease_epoch_rides_in_the_trigger_tag_and_reads_back() {
        let long = format!("{} ALARM at 2026-11-20T03:02:07.118+0000", "y".repeat(400));
        for trigger in ["manual", long.as_str()] {
            let value = trigger_tag(trigger, Some(u64::MAX));
            assert!(value.chars().count() <= MAX_TAG_VALUE_CHARS, "{value}");
            assert_eq!(recorded_trigger(&value), (trigger_tag_value(trigger).as_str(), Some(u64::MAX)));
            let without = trigger_tag(trigger, None);
            assert_eq!(recorded_trigger(&without), (trigger_tag_value(trigger).as_str(), None));
        }
    }
}

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

/// EC2 tag values hold at most 256 characters.
const MAX_TAG_VALUE_CHARS: usize = 256;

/// `trigger` cut to what a tag value can hold.
pub fn trigger_tag_value(trigger: &str) -> String {
    trigger.chars().take(MAX_TAG_VALUE_CHARS).collect()
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

    /// The tags that record this role for `group`.
    pub fn tags_for(self, group: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (GROUP_TAG.to_owned(), group.to_owned()),
            (ROLE_TAG.to_owned(), self.as_str().to_owned()),
        ])
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

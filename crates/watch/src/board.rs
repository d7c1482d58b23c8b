//! The watcher's current view of every member it probes, shared with whoever answers other
//! watchers' questions (an HTTP endpoint, or the simulation).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use coldstandby_engine::{InstanceId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::vantage::View;

/// Another watcher's question: what do you see of `member` of `group`?
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub group: String,
    pub member: InstanceId,
}

#[derive(Clone, Debug)]
struct Entry {
    member: InstanceId,
    view: View,
    at: Timestamp,
}

/// Views by group, each with the time of the round that made it.
#[derive(Debug, Default)]
pub struct Board {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Board {
    /// Record `group`'s view of `member` after a round that ended at `at`.
    pub fn set(&self, group: &str, member: &InstanceId, view: View, at: Timestamp) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Once per probe round: the entry is updated in place once the group has one.
        match entries.get_mut(group) {
            Some(entry) => {
                if entry.member != *member {
                    entry.member = member.clone();
                }
                entry.view = view;
                entry.at = at;
            }
            None => {
                entries.insert(group.to_owned(), Entry { member: member.clone(), view, at });
            }
        }
    }

    /// The answers to `questions` at `now`: a view older than `fresh_for` (this watcher stopped
    /// probing it), or of another member than the one asked about, is unknown.
    pub fn answer(&self, questions: &[Question], now: Timestamp, fresh_for: Duration) -> Vec<View> {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        questions
            .iter()
            .map(|question| match entries.get(&question.group) {
                Some(entry)
                    if entry.member == question.member && now.saturating_since(entry.at) <= fresh_for =>
                {
                    entry.view
                }
                _ => View::Unknown,
            })
            .collect()
    }
}

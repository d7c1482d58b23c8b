//! Mutual exclusion between failovers of one group, so two racing runs never both act.
//!
//! [`GroupLock`] is the seam: this in-process implementation serves one process (the CLI, one
//! Lambda execution environment); a distributed one (a conditional write to a shared store)
//! implements the same trait.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

/// Another failover of the group holds the lock.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a failover of group `{group}` is already running; this one did nothing")]
pub struct GroupBusy {
    pub group: String,
}

/// A lock per group name.
pub trait GroupLock {
    /// The guard that holds the lock until dropped.
    type Guard;

    /// Take the group's lock without waiting.
    fn try_lock(&self, group: &str) -> Result<Self::Guard, GroupBusy>;
}

/// Locks shared by every failover in this process.
#[derive(Clone, Debug, Default)]
pub struct InProcessLocks {
    held: Arc<Mutex<BTreeSet<String>>>,
}

/// Holds one group's in-process lock; releases it when dropped.
#[derive(Debug)]
pub struct InProcessGuard {
    held: Arc<Mutex<BTreeSet<String>>>,
    group: String,
}

impl GroupLock for InProcessLocks {
    type Guard = InProcessGuard;

    fn try_lock(&self, group: &str) -> Result<InProcessGuard, GroupBusy> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if !held.insert(group.to_owned()) {
            return Err(GroupBusy { group: group.to_owned() });
        }
        Ok(InProcessGuard { held: Arc::clone(&self.held), group: group.to_owned() })
    }
}

impl Drop for InProcessGuard {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let removed = held.remove(&self.group);
        debug_assert!(removed, "released a lock that was not held");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_locked_once_and_released_on_drop() {
        let locks = InProcessLocks::default();
        let guard = locks.try_lock("web").unwrap();
        assert_eq!(locks.try_lock("web").unwrap_err(), GroupBusy { group: "web".to_owned() });
        let other = locks.try_lock("db").unwrap();
        drop(guard);
        assert!(locks.try_lock("web").is_ok());
        drop(other);
    }
}

//! The last N probes of one member and the M-of-N rule that declares it failed.

use std::collections::VecDeque;

use crate::vantage::View;

/// The outcomes of a member's last `size` probe rounds, newest last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeWindow {
    outcomes: VecDeque<bool>,
    size: usize,
    failures: usize,
}

impl ProbeWindow {
    /// A window of `size` rounds that fails at `failures` failed rounds.
    pub fn new(size: u32, failures: u32) -> Self {
        assert!(failures >= 1 && failures <= size, "{failures} failures of a window of {size}");
        let size = size as usize;
        Self { outcomes: VecDeque::with_capacity(size), size, failures: failures as usize }
    }

    /// Record one round: passed or not.
    pub fn record(&mut self, passed: bool) {
        if self.outcomes.len() == self.size {
            self.outcomes.pop_front();
        }
        self.outcomes.push_back(passed);
    }

    /// Forget every round (a new member to watch).
    pub fn clear(&mut self) {
        self.outcomes.clear();
    }

    pub fn failed_rounds(&self) -> usize {
        self.outcomes.iter().filter(|passed| !**passed).count()
    }

    /// At least M of the last N rounds failed.
    pub fn has_failed(&self) -> bool {
        self.failed_rounds() >= self.failures
    }

    /// What this window says of the member: down once it has failed; up when its last round
    /// passed; unknown before any round, or while the last round failed but not yet M of N.
    pub fn view(&self) -> View {
        if self.has_failed() {
            View::Down
        } else if self.outcomes.back() == Some(&true) {
            View::Up
        } else {
            View::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_failures_of_three_fail_and_one_pass_does_not_clear_them() {
        let mut window = ProbeWindow::new(3, 2);
        assert_eq!(window.view(), View::Unknown);
        window.record(true);
        assert_eq!(window.view(), View::Up);
        window.record(false);
        assert_eq!(window.view(), View::Unknown, "one failure is doubt, not failure");
        window.record(true);
        assert_eq!(window.view(), View::Up);
        window.record(false);
        assert!(window.has_failed(), "false, true, false: two of the last three");
        window.record(true);
        assert!(!window.has_failed(), "true, false, true: the oldest failure left the window");
    }

    #[test]
    fn a_window_keeps_only_its_size() {
        let mut window = ProbeWindow::new(5, 3);
        for _ in 0..10 {
            window.record(false);
        }
        assert_eq!(window.failed_rounds(), 5);
        for _ in 0..3 {
            window.record(true);
        }
        assert_eq!(window.failed_rounds(), 2);
        assert!(!window.has_failed());
    }
}

//! Jittered exponential backoff with a bounded number of attempts, driven by a seeded RNG.

use std::time::Duration;

use crate::time::millis;

/// Backoff parameters: the n-th retry waits a random time in `[d/2, d]` where
/// `d = min(cap, base * 2^n)` ("equal jitter": never zero, never in lockstep with another caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// For throttling and transient API errors.
    pub const API: Self = Self { base: Duration::from_millis(200), cap: Duration::from_secs(5) };
    /// For capacity errors, which clear on the order of seconds to minutes.
    pub const CAPACITY: Self = Self { base: Duration::from_secs(1), cap: Duration::from_secs(15) };

    /// The delay before retry number `attempt` (0 for the first retry).
    pub fn delay(self, attempt: u32, rng: &mut fastrand::Rng) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        let ceiling = self.base.saturating_mul(factor).min(self.cap);
        let ceiling_millis = millis(ceiling);
        let floor_millis = ceiling_millis / 2;
        Duration::from_millis(rng.u64(floor_millis..=ceiling_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_stay_under_the_cap_and_never_reach_zero() {
        let mut rng = fastrand::Rng::with_seed(7);
        let backoff = Backoff::API;
        for attempt in 0..40 {
            let delay = backoff.delay(attempt, &mut rng);
            let ceiling = backoff.base.saturating_mul(1 << attempt.min(20)).min(backoff.cap);
            assert!(delay <= ceiling, "attempt {attempt}: {delay:?} > {ceiling:?}");
            assert!(delay >= ceiling / 2, "attempt {attempt}: {delay:?} < half of {ceiling:?}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let run = |seed| {
            let mut rng = fastrand::Rng::with_seed(seed);
            (0..10).map(|attempt| Backoff::API.delay(attempt, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }
}

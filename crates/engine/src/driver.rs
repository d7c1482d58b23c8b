//! Drives a [`Failover`] against a provider and a clock until it finishes, reporting each event
//! and each wait to an observer. The same loop serves the simulated region and AWS.

use crate::engine::{Action, Failover};
use crate::provider::{execute, Provider};
use crate::report::{Event, Report};
use crate::time::{Clock, Timestamp};

/// Upper bound on engine steps in one failover. The engine finishes by its deadline on its own;
/// this only turns a bug that stops time from advancing into a panic instead of a hang.
const MAX_STEPS: u64 = 10_000_000;

/// Receives a failover's progress as it happens.
pub trait Observer {
    /// A new event.
    fn on_event(&mut self, _event: &Event) {}
    /// The engine sleeps from `now` until `until`, waiting for what `waiting_for` says.
    fn on_wait(&mut self, _now: Timestamp, _until: Timestamp, _waiting_for: &str) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Quiet;

impl Observer for Quiet {}

/// Run `failover` to the end.
pub async fn run<P: Provider, C: Clock>(
    mut failover: Failover,
    provider: &P,
    clock: &C,
    observer: &mut impl Observer,
) -> Report {
    let mut reported = 0;
    for _ in 0..MAX_STEPS {
        let now = clock.now();
        let action = failover.poll(now);
        for event in &failover.events()[reported..] {
            observer.on_event(event);
        }
        reported = failover.events().len();
        match action {
            Action::Call(call) => {
                let result = execute(provider, &call).await;
                failover.on_result(clock.now(), result);
            }
            Action::Sleep { until, waiting_for } => {
                observer.on_wait(now, until, &waiting_for);
                clock.sleep_until(until).await;
            }
            Action::Finished => return failover.into_report(),
        }
    }
    panic!("failover made {MAX_STEPS} steps without finishing");
}

//! Drives a [`Failover`] against a provider and a clock until it finishes, reporting each event
//! and each wait to an observer. The same loop serves the simulated region and AWS.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use crate::failover::{Action, Failover, WaitingFor};
use crate::provider::{execute, ApiError, ErrorKind, Provider};
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
    fn on_wait(&mut self, _now: Timestamp, _until: Timestamp, _waiting_for: &WaitingFor) {}
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
                let answer_by = failover.answer_by();
                let result = first_of(execute(provider, &call), clock.sleep_until(answer_by)).await;
                let result = result.unwrap_or_else(|| {
                    let waited = answer_by.saturating_since(now).as_millis();
                    let message = format!("{} got no answer within {waited} ms", call.operation());
                    Err(ApiError::new(ErrorKind::Transient, "ClientTimeout", message))
                });
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

/// `work`'s output, or None if `timer` completes first (`work` is polled first, so work that is
/// ready never loses to a timer that is too). Needs no async runtime.
async fn first_of<T>(work: impl Future<Output = T>, timer: impl Future<Output = ()>) -> Option<T> {
    let mut work = pin!(work);
    let mut timer = pin!(timer);
    std::future::poll_fn(|context| {
        if let Poll::Ready(output) = work.as_mut().poll(context) {
            return Poll::Ready(Some(output));
        }
        timer.as_mut().poll(context).map(|()| None)
    })
    .await
}

//! Drives a [`Fleet`] (one group's failover, or many at once) against a provider and a clock until
//! every run finishes, reporting each event and each wait to an observer. The same loop serves the
//! simulated region and AWS: requests are in flight together, each raced against its own
//! deadline, and no async runtime is needed (whoever polls the returned future drives it).

use std::future::Future;
use std::ops::ControlFlow;
use std::pin::{pin, Pin};
use std::task::Poll;

use crate::failover::{Failover, WaitingFor};
use crate::fleet::{Answer, Fleet, Outgoing, Zones};
use crate::lease::LeaseSettings;
use crate::provider::{ApiError, ErrorKind, Provider};
use crate::report::{Event, Report};
use crate::time::{Clock, Timestamp};

/// Upper bound on driver steps in one run. The engine finishes by its deadlines on its own;
/// this only turns a bug that stops time from advancing into a panic instead of a hang.
const MAX_STEPS: u64 = 100_000_000;

/// Receives failovers' progress as it happens.
pub trait Observer {
    /// A new event of `group`'s run.
    fn on_event(&mut self, _group: &str, _event: &Event) {}
    /// `group`'s run sleeps from `now` until `until`, waiting for what `waiting_for` says.
    fn on_wait(&mut self, _group: &str, _now: Timestamp, _until: Timestamp, _waiting_for: &WaitingFor) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Quiet;

impl Observer for Quiet {}

/// Run one group's `failover` to the end: a fleet of one.
pub async fn run<P: Provider, C: Clock>(
    failover: Failover,
    provider: &P,
    clock: &C,
    observer: &mut impl Observer,
) -> Report {
    run_leased(failover, None, provider, clock, observer).await
}

/// Run one group's `failover` to the end, acting only while it holds the group's lease in
/// `lease` when one is given (a dry run needs none: it changes nothing).
pub async fn run_leased<P: Provider, C: Clock>(
    failover: Failover,
    lease: Option<&LeaseSettings>,
    provider: &P,
    clock: &C,
    observer: &mut impl Observer,
) -> Report {
    let now = clock.now();
    let mut fleet = Fleet::new(vec![failover], Zones::default(), now);
    if let Some(settings) = lease {
        fleet = fleet.with_leases(settings, now);
    }
    let mut reports = run_fleet(fleet, provider, clock, observer).await;
    assert_eq!(reports.len(), 1, "a fleet of one has one report");
    reports.remove(0)
}

/// A request in flight: its id and the future that makes it (or times it out).
pub type InFlight<'a> = (u64, Pin<Box<dyn Future<Output = Result<Answer, ApiError>> + 'a>>);

/// Run every failover of `fleet` to the end; their reports, in the fleet's order.
pub async fn run_fleet<P: Provider, C: Clock>(
    fleet: Fleet,
    provider: &P,
    clock: &C,
    observer: &mut impl Observer,
) -> Vec<Report> {
    match drive(fleet, provider, clock, observer, |_, _| ControlFlow::Continue(())).await {
        Driven::Finished(reports) => reports,
        Driven::Stopped(_) => unreachable!("a fleet driven without a hook is never stopped"),
    }
}

/// How [`drive`] ended.
#[derive(Debug)]
pub enum Driven {
    /// Every run finished: their reports.
    Finished(Vec<Report>),
    /// The hook stopped it (the fleet as it was, requests in flight abandoned, as a process that
    /// dies leaves them).
    Stopped(Box<Fleet>),
}

/// [`run_fleet`], with `hook` called with the fleet and the time before every step: it may stop
/// the run there (a test cutting an invocation short, or judging invariants after every step).
pub async fn drive<P: Provider, C: Clock>(
    mut fleet: Fleet,
    provider: &P,
    clock: &C,
    observer: &mut impl Observer,
    mut hook: impl FnMut(&Fleet, Timestamp) -> ControlFlow<()>,
) -> Driven {
    let mut in_flight: Vec<InFlight<'_>> = Vec::new();
    for _ in 0..MAX_STEPS {
        let now = clock.now();
        if hook(&fleet, now).is_break() {
            return Driven::Stopped(Box::new(fleet));
        }
        let poll = fleet.poll(now);
        fleet.report(now, observer);
        if fleet.is_finished() {
            assert!(in_flight.is_empty(), "the fleet finished with requests in flight");
            return Driven::Finished(fleet.into_reports());
        }
        for outgoing in poll.send {
            in_flight.push((outgoing.id, Box::pin(make(provider, clock, outgoing, now))));
        }
        assert!(
            !in_flight.is_empty() || poll.wake_at.is_some(),
            "the fleet has nothing in flight and nothing to wake for"
        );
        if let Some((id, result)) =
            next_answer(&mut in_flight, poll.wake_at.map(|at| clock.sleep_until(at))).await
        {
            fleet.on_answer(clock.now(), id, result);
        }
    }
    panic!("the fleet made {MAX_STEPS} steps without finishing");
}

/// The error code of a request given up on at its `answer_by`: it may still happen.
pub const ABANDONED: &str = "ClientTimeout";

/// Make one request sent at `sent_at`, or give up on it at its `answer_by` (a transient error:
/// it may have happened).
pub async fn make<P: Provider, C: Clock>(
    provider: &P,
    clock: &C,
    outgoing: Outgoing,
    sent_at: Timestamp,
) -> Result<Answer, ApiError> {
    let Outgoing { request, answer_by, .. } = outgoing;
    let answer = first_of(request.execute(provider), clock.sleep_until(answer_by)).await;
    answer.unwrap_or_else(|| {
        let waited = answer_by.saturating_since(sent_at).as_millis();
        let message = format!("{} got no answer within {waited} ms", request.operation());
        Err(ApiError::new(ErrorKind::Transient, ABANDONED, message))
    })
}

/// The first request in flight to answer (removed from the list), or None if `wake` comes first.
pub async fn next_answer<'a>(
    in_flight: &mut Vec<InFlight<'a>>,
    wake: Option<impl Future<Output = ()>>,
) -> Option<(u64, Result<Answer, ApiError>)> {
    let mut wake = pin!(wake);
    std::future::poll_fn(|context| {
        for index in 0..in_flight.len() {
            if let Poll::Ready(result) = in_flight[index].1.as_mut().poll(context) {
                let (id, _) = in_flight.swap_remove(index);
                return Poll::Ready(Some((id, result)));
            }
        }
        match wake.as_mut().as_pin_mut() {
            Some(timer) => timer.poll(context).map(|()| None),
            None => Poll::Pending,
        }
    })
    .await
}

/// `work`'s output, or None if `timer` completes first (`work` is polled first, so work that is
/// ready never loses to a timer that is too). Needs no async runtime.
pub async fn first_of<T>(work: impl Future<Output = T>, timer: impl Future<Output = ()>) -> Option<T> {
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

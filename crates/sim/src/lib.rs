//! A deterministic simulated EC2 region for coldstandby: the full instance lifecycle with seeded
//! timings, a virtual clock, per-instance CPU metrics and fault injection. It implements the
//! engine's `Provider` and `Clock`, so every scenario runs locally, in virtual time, with no AWS
//! account, and the same seed replays the same run byte for byte.

pub mod buckets;
pub mod faults;
pub mod metrics;
pub mod model;
pub mod network;
pub mod region;
pub mod scenario;
pub mod sweep;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

pub use model::{CapacityShortage, InstanceFaults, SimInstance, Span, Timings, Transition};
pub use region::{CallRecord, RegionFaults, SimRegion};

/// Run a future that never waits (anything driven by the simulated region) to completion.
/// Panics if it does wait: that would mean real I/O or a real timer crept into a simulation.
pub fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut context) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a simulated run waited on something outside the simulation"),
    }
}

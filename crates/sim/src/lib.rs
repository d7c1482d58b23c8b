//! A deterministic simulated EC2 region for coldstandby: the full instance lifecycle with seeded
//! timings, a virtual clock, per-instance CPU metrics and fault injection. It implements the
//! engine's `Provider` and `Clock`, so every scenario runs locally, in virtual time, with no AWS
//! account, and the same seed replays the same run byte for byte.

pub mod acls;
pub mod article;
pub mod buckets;
pub mod controller;
pub mod faults;
mod late;
pub mod leases;
pub mod metrics;
pub mod model;
pub mod network;
pub mod outage;
pub mod region;
pub mod services;
pub mod sweep;
pub mod watchers;
pub mod zones;

pub use model::{CapacityShortage, InstanceFaults, SimInstance, Span, Timings, Transition};
pub use region::{CallRecord, RegionFaults, SimRegion};
pub use zones::{ImpairedCalls, Impairment};

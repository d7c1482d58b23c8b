//! coldstandby's failover engine: a pure state machine that takes a group from "primary active"
//! to "standby active" (fence, promote, verify, redirect, record), with no AWS SDK, no async
//! runtime and no clock of its own. Adapters implement [`Provider`] and [`Clock`]; [`driver::run`]
//! (one group) and [`driver::run_fleet`] (many at once) connect them.

pub mod backoff;
pub mod budget;
pub mod call_hooks;
pub mod clients;
pub mod driver;
pub mod event;
pub mod failover;
pub mod fleet;
pub mod group;
pub mod instance;
pub mod isolation;
pub mod lease;
pub mod lock;
pub mod notification;
pub mod provider;
pub mod rate_limit;
pub mod recording;
pub mod report;
pub mod rto;
pub mod status;
pub mod tags;
pub mod text;
pub mod time;

pub use failover::{Action, Evidence, Failover, Options, Phase, Timer, WaitingFor};
pub use group::{FenceMode, GroupSpec, Ordering, Placement, Timeouts, WhenNotReady, WhenUnobservable};
pub use instance::{InstanceId, InstanceState, Observation};
pub use provider::{ApiError, Call, ErrorKind, Provider, Reply};
pub use report::{Event, EventKind, Failure, Milestones, Outcome, Plan, Report, Retry, Superseded};
pub use tags::Role;
pub use time::{millis, Clock, Timestamp};

//! coldstandby's watcher, pure: it probes every group's active member, declares it failed after
//! M of its last N probe rounds fail, confirms with EC2 and the other watchers
//! ([`vantage`]), and fails confirmed groups over with the engine's fleet driver under their
//! leases. No async runtime, no AWS SDK, no real clock: the daemon (`coldstandby watch`) and the
//! simulated region supply the provider, the clock, the prober and the peers.

pub mod alarms;
pub mod board;
mod describe;
pub mod group;
pub mod settings;
pub mod vantage;
pub mod watcher;
pub mod window;

pub use alarms::{MetricReader, NoMetrics};
pub use board::{Board, Question};
pub use group::{Target, WatchedGroup};
pub use settings::Settings;
pub use vantage::{decide, Ec2View, PeerView, Verdict, View};
pub use watcher::{watch, Control, Directive, Env, NoPeers, Peers, Plan, Prober, QuietWatch, WatchObserver};

//! coldstandby's AWS edge: the engine's `Provider` on real EC2 (AWS SDK for Rust), the real
//! clock, and the handler a CloudWatch alarm action invokes (in Lambda or from the command line).
//! The only crate of the workspace that compiles the SDK.

pub mod alarm_states;
pub mod clients;
pub mod clock;
pub mod ec2;
pub mod errors;
pub mod identity;
pub mod inspect;
mod inspect_lease;
pub mod lambda;
pub mod notify;
pub mod watch;

pub use alarm_states::CloudWatchAlarms;
pub use clock::SystemClock;
pub use ec2::Ec2Provider;
pub use inspect::Inspector;

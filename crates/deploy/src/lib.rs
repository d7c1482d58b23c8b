//! coldstandby's deployment, pure: the CloudFormation template and the least-privilege role
//! policy generated from the configuration, the function's worst-case sizing, and the checks
//! `coldstandby doctor` makes from facts an AWS adapter gathered. No SDK, no I/O.

mod access_checks;
mod alarm_checks;
pub mod doctor;
pub mod encryption;
pub mod findings;
mod function_checks;
pub mod hcl;
pub mod iam;
pub mod interface_endpoints;
pub mod lease_checks;
pub mod mover_checks;
pub mod movers;
pub mod placement_checks;
pub mod policy;
pub mod reach;
pub mod refusals;
pub mod sizing;
pub mod subnets;
pub mod template;
pub mod terraform;
pub mod watchers;
pub mod yaml;

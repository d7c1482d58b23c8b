//! CloudWatch metric alarm semantics for coldstandby, pure and clock-free: the alarm definition
//! (read from `describe-alarms` JSON or the config file), per-period aggregation by statistic, the
//! documented evaluation rules for missing data, evaluation at CloudWatch's cadence, and
//! backtesting over metric history.

pub mod backtest;
pub mod data;
pub mod definition;
pub mod error;
pub mod evaluator;
pub mod rules;
pub mod series;
pub mod statistic;
pub mod timestamp;

pub use definition::{AlarmDefinition, Comparison, Statistic, TreatMissingData};
pub use error::{TimestampError, ValueError};
pub use evaluator::{AlarmEvaluator, StateChange};
pub use rules::{decide, AlarmState, Decision, Rule};
pub use series::{Datapoints, MetricSource, Samples};

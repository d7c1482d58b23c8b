//! The handler behind a CloudWatch alarm action: reads the alarm event, decides which groups it
//! fails over (only on a transition into ALARM, once per state change), and runs the engine
//! against any provider and clock. Lambda (`coldstandby lambda`) and `coldstandby handle-event`
//! both call it; tests drive it on the simulated region.

pub mod event;
pub mod handle;
pub mod log;
pub mod preflight;
pub mod storm;

pub use coldstandby_alarm::AlarmState;
pub use event::{AlarmEvent, MalformedEvent};
pub use handle::{reports, GroupResult, Handled, Handler, HandlerError};
pub use log::LogObserver;
pub use storm::{AlarmReading, AlarmStates, NoAlarmStates};

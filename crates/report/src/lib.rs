//! The report of a rehearsal (`coldstandby drill --report`, `demo --report`): one HTML file a
//! person can open offline, keep, print or send to an auditor. The callers describe what ran
//! ([`model`]); this crate draws it ([`render`]). Pure: no clock, no I/O.

pub mod model;
mod page;
pub mod svg;

use std::time::Duration;

use coldstandby_engine::Timestamp;

pub use coldstandby_engine::rto::{self, phases, PhaseName, RecoveryPhase};
pub use model::{CallRow, Distribution, Document, Lane, LanesSource, Run, StateSpan, Step};
pub use page::render;

/// "12.3 s", "850 ms".
pub fn seconds(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis} ms")
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

/// An instant as UTC date and time (RFC 3339).
pub fn utc(at: Timestamp) -> String {
    coldstandby_alarm::timestamp::format(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_writes_them() {
        assert_eq!(seconds(Duration::from_millis(850)), "850 ms");
        assert_eq!(seconds(Duration::from_millis(47_250)), "47.2 s");
        assert_eq!(seconds(Duration::ZERO), "0 ms");
    }
}

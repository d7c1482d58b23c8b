//! One structured log line per failover step (group, step, instance, state, elapsed time and
//! the whole event as JSON), so CloudWatch Logs Insights can query a failover.

use std::collections::BTreeMap;

use coldstandby_engine::driver::Observer;
use coldstandby_engine::{Event, EventKind, Timestamp, WaitingFor};

/// Logs each engine event through `tracing`.
#[derive(Debug, Default)]
pub struct LogObserver {
    /// When each group's run started.
    started_at: BTreeMap<String, Timestamp>,
}

impl Observer for LogObserver {
    fn on_event(&mut self, group: &str, event: &Event) {
        if let EventKind::Started { .. } = &event.kind {
            self.started_at.insert(group.to_owned(), event.at);
        }
        let started_at = self.started_at.get(group).copied().unwrap_or(event.at);
        let elapsed_ms = event.at.saturating_since(started_at).as_millis() as u64;
        let instance = event.kind.instance().map_or_else(String::new, ToString::to_string);
        let state = match &event.kind {
            EventKind::Observed { state, .. } => state.as_str(),
            _ => "",
        };
        let details = serde_json::to_string(&event.kind).unwrap_or_default();
        tracing::info!(
            group,
            step = event.kind.step(),
            instance = %instance,
            state,
            elapsed_ms,
            at_ms = event.at.unix_millis(),
            details = %details,
            "failover step"
        );
    }

    fn on_wait(&mut self, group: &str, now: Timestamp, until: Timestamp, waiting_for: &WaitingFor) {
        tracing::debug!(group, %waiting_for, wait_ms = until.saturating_since(now).as_millis() as u64, "waiting");
    }
}

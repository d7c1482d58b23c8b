//! One structured log line per failover step (group, step, instance, state, elapsed time and
//! the whole event as JSON), so CloudWatch Logs Insights can query a failover.

use coldstandby_engine::driver::Observer;
use coldstandby_engine::{Event, EventKind, Timestamp, WaitingFor};

/// Logs each engine event through `tracing`.
#[derive(Debug, Default)]
pub struct LogObserver {
    group: String,
    started_at: Option<Timestamp>,
}

impl Observer for LogObserver {
    fn on_event(&mut self, event: &Event) {
        if let EventKind::Started { group, .. } = &event.kind {
            self.group.clone_from(group);
            self.started_at = Some(event.at);
        }
        let elapsed_ms = event.at.saturating_since(self.started_at.unwrap_or(event.at)).as_millis() as u64;
        let instance = event.kind.instance().map_or_else(String::new, ToString::to_string);
        let state = match &event.kind {
            EventKind::Observed { state, .. } => state.as_str(),
            _ => "",
        };
        let details = serde_json::to_string(&event.kind).unwrap_or_default();
        tracing::info!(
            group = %self.group,
            step = event.kind.step(),
            instance = %instance,
            state,
            elapsed_ms,
            at_ms = event.at.unix_millis(),
            details = %details,
            "failover step"
        );
    }

    fn on_wait(&mut self, now: Timestamp, until: Timestamp, waiting_for: &WaitingFor) {
        tracing::debug!(group = %self.group, %waiting_for, wait_ms = until.saturating_since(now).as_millis() as u64, "waiting");
    }
}

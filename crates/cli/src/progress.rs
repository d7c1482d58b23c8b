//! Live output while a failover runs: timeline rows as events happen, and, on an interactive
//! terminal, one self-updating line saying what is being waited for and for how long.

use std::io::{IsTerminal, Write};

use coldstandby_engine::driver::Observer;
use coldstandby_engine::{Event, Timestamp, WaitingFor};

use crate::output;

/// Prints a failover as it happens (text output only).
#[derive(Debug)]
pub struct LiveTimeline {
    origin: Timestamp,
    /// Timeline rows on stdout.
    rows: bool,
    /// The waiting line on stderr (only when stderr is a terminal).
    waiting_line: bool,
    /// What is being waited for, and since when.
    waiting: Option<(WaitingFor, Timestamp)>,
    /// The whole seconds last shown on the waiting line.
    shown_seconds: Option<u64>,
}

impl LiveTimeline {
    /// `rows`: print timeline rows; the waiting line appears only on a terminal.
    pub fn new(origin: Timestamp, rows: bool) -> Self {
        let waiting_line = rows && std::io::stderr().is_terminal();
        Self { origin, rows, waiting_line, waiting: None, shown_seconds: None }
    }

    fn clear_waiting_line(&mut self) {
        if self.waiting_line && self.shown_seconds.is_some() {
            let mut err = std::io::stderr().lock();
            // Progress is best effort: a failed write to stderr must not stop a failover.
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.shown_seconds = None;
        }
    }

    /// Remove the waiting line before the caller prints its summary.
    pub fn finish(&mut self) {
        self.clear_waiting_line();
    }
}

impl Observer for LiveTimeline {
    fn on_event(&mut self, _group: &str, event: &Event) {
        if !self.rows {
            return;
        }
        self.clear_waiting_line();
        let (step, subject, detail) = output::describe(&event.kind);
        let line = output::row(&output::offset(event.at, self.origin), step, &subject, &detail);
        // A closed stdout (`| head`) ends the output, not the failover.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }

    fn on_wait(&mut self, _group: &str, now: Timestamp, _until: Timestamp, waiting_for: &WaitingFor) {
        if !self.waiting_line {
            return;
        }
        let since = match &self.waiting {
            Some((what, since)) if what == waiting_for => *since,
            _ => {
                self.waiting = Some((waiting_for.clone(), now));
                self.shown_seconds = None;
                now
            }
        };
        let seconds = now.saturating_since(since).as_secs();
        if self.shown_seconds == Some(seconds) {
            return;
        }
        self.shown_seconds = Some(seconds);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K  ... waiting for {waiting_for} ({seconds} s)");
        let _ = err.flush();
    }
}

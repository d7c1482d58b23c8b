//! The report's pictures, as inline SVG drawn by hand: the timeline (one lane per instance and
//! one for the controller, the phases marked), the RTO bar, and the distribution's histogram.
//! Every shape carries `data-` attributes with its exact values, for tests to read back.

use coldstandby_engine::{InstanceState, Timestamp};
use maud::{html, Markup};

use crate::model::{Distribution, Run};
use crate::seconds;
use coldstandby_engine::rto::{PhaseName, RecoveryPhase};

/// The drawing's width in SVG units (it scales to the page).
pub const WIDTH: f64 = 1000.0;
const LABELS: f64 = 190.0;
const RIGHT: f64 = 16.0;
const HEADER: f64 = 44.0;
const LANE: f64 = 30.0;
const BAR: f64 = 18.0;
const AXIS: f64 = 28.0;

/// The timeline's height for `lanes` instance lanes (plus the controller's).
pub fn timeline_height(lanes: usize) -> f64 {
    HEADER + LANE * (lanes + 1) as f64 + AXIS
}

pub fn state_class(state: InstanceState) -> &'static str {
    match state {
        InstanceState::Pending => "state-pending",
        InstanceState::Running => "state-running",
        InstanceState::Stopping => "state-stopping",
        InstanceState::Stopped => "state-stopped",
        InstanceState::ShuttingDown => "state-shutting-down",
        InstanceState::Terminated => "state-terminated",
    }
}

pub fn phase_class(phase: PhaseName) -> String {
    format!("phase-{}", phase.as_str())
}

/// Maps times in `[origin, end]` to x positions in the plot area.
struct Scale {
    origin: Timestamp,
    span_ms: f64,
}

impl Scale {
    fn new(origin: Timestamp, end: Timestamp) -> Self {
        let span_ms = end.saturating_since(origin).as_millis().max(1) as f64;
        Self { origin, span_ms }
    }

    fn x(&self, at: Timestamp) -> f64 {
        let offset = at.saturating_since(self.origin).as_millis() as f64;
        LABELS + (WIDTH - LABELS - RIGHT) * (offset / self.span_ms).min(1.0)
    }

    fn width(&self, from: Timestamp, until: Timestamp) -> f64 {
        (self.x(until) - self.x(from)).max(0.0)
    }
}

/// Seconds between the axis' ticks: the smallest step that gives at most ten.
fn tick_step_ms(span_ms: f64) -> u64 {
    const STEPS_S: [u64; 12] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];
    STEPS_S
        .iter()
        .map(|seconds| seconds * 1000)
        .find(|step| span_ms / (*step as f64) <= 10.0)
        .unwrap_or(7_200_000)
}

fn fmt(value: f64) -> String {
    format!("{value:.1}")
}

/// The timeline of one run.
pub fn timeline(run: &Run) -> Markup {
    let scale = Scale::new(run.origin, run.end);
    let height = timeline_height(run.lanes.len());
    let plot_bottom = height - AXIS;
    let controller_y = HEADER + LANE * run.lanes.len() as f64;
    let span_ms = scale.span_ms;
    let step_ms = tick_step_ms(span_ms);
    let ticks: Vec<u64> =
        (0..=10).map(|n| n * step_ms).take_while(|tick| (*tick as f64) <= span_ms).collect();
    html! {
        svg class="timeline" xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox={ "0 0 " (WIDTH) " " (height) } data-origin-ms=(run.origin.unix_millis())
            data-end-ms=(run.end.unix_millis()) {
            title { (run.title) ": instance states and the controller's steps over time" }
            // The phases: bands behind the lanes, named with their durations above them (two
            // rows, so that short neighbouring phases do not print over each other).
            @for (index, phase) in run.phases.iter().enumerate() {
                (phase_band(&scale, phase, index, plot_bottom))
            }
            @for (index, lane) in run.lanes.iter().enumerate() {
                @let y = HEADER + LANE * index as f64;
                g class="lane" data-instance=(lane.instance) {
                    text class="lane-label" x="4" y=(fmt(y + 14.0)) { (lane.instance) }
                    text class="lane-sublabel" x="4" y=(fmt(y + 26.0)) { (lane.label) }
                    @for span in &lane.spans {
                        rect class={ "span " (state_class(span.state)) } x=(fmt(scale.x(span.from)))
                            y=(fmt(y + (LANE - BAR) / 2.0)) width=(fmt(scale.width(span.from, span.until)))
                            height=(BAR) data-state=(span.state.as_str())
                            data-from-ms=(span.from.unix_millis()) data-until-ms=(span.until.unix_millis()) {
                            title { (lane.instance) " " (span.state.as_str()) " from +" (seconds(span.from.saturating_since(run.origin))) " to +" (seconds(span.until.saturating_since(run.origin))) }
                        }
                    }
                }
            }
            g class="lane controller" {
                text class="lane-label" x="4" y=(fmt(controller_y + 14.0)) { "coldstandby" }
                text class="lane-sublabel" x="4" y=(fmt(controller_y + 26.0)) { "the controller's steps" }
                line class="controller-line" x1=(LABELS) x2=(fmt(WIDTH - RIGHT))
                    y1=(fmt(controller_y + LANE / 2.0)) y2=(fmt(controller_y + LANE / 2.0)) {}
                @for step in &run.steps {
                    rect class={ "step" @if step.trouble { " trouble" } } x=(fmt(scale.x(step.at) - 1.5))
                        y=(fmt(controller_y + 6.0)) width="3" height=(fmt(LANE - 12.0))
                        data-step=(step.step) data-at-ms=(step.at.unix_millis()) {
                        title { "+" (seconds(step.at.saturating_since(run.origin))) " " (step.step) " " (step.subject) ": " (step.detail) }
                    }
                }
            }
            g class="axis" {
                line x1=(LABELS) x2=(fmt(WIDTH - RIGHT)) y1=(fmt(plot_bottom)) y2=(fmt(plot_bottom)) {}
                @for tick in &ticks {
                    @let x = scale.x(run.origin + std::time::Duration::from_millis(*tick));
                    line x1=(fmt(x)) x2=(fmt(x)) y1=(fmt(plot_bottom)) y2=(fmt(plot_bottom + 5.0)) {}
                    text x=(fmt(x)) y=(fmt(plot_bottom + 18.0)) text-anchor="middle" { (tick / 1000) " s" }
                }
            }
        }
    }
}

fn phase_band(scale: &Scale, phase: &RecoveryPhase, index: usize, plot_bottom: f64) -> Markup {
    let (x, width) = (scale.x(phase.from), scale.width(phase.from, phase.until));
    let label_y = if index.is_multiple_of(2) { 16.0 } else { 34.0 };
    html! {
        g class={ "phase " (phase_class(phase.name)) } data-phase=(phase.name.as_str())
            data-duration-ms=(phase.duration_ms()) {
            rect class="phase-band" x=(fmt(x)) y=(fmt(HEADER - 4.0)) width=(fmt(width))
                height=(fmt(plot_bottom - HEADER + 4.0)) {}
            line class="phase-edge" x1=(fmt(x)) x2=(fmt(x)) y1=(fmt(label_y + 3.0)) y2=(fmt(plot_bottom)) {}
            title { (phase.name.as_str()) " " (seconds_ms(phase.duration_ms())) }
            // A phase too short for its name is named in the legend under the RTO bar.
            @if width >= 56.0 {
                text class="phase-label" x=(fmt(x + 3.0)) y=(fmt(label_y)) {
                    (phase.name.as_str()) " " (seconds_ms(phase.duration_ms()))
                }
            }
        }
    }
}

fn seconds_ms(millis: u64) -> String {
    seconds(std::time::Duration::from_millis(millis))
}

/// The recovery time as a bar of its phases, each placed at its own time: in order they make one
/// bar; a phase that overlaps the one before (the parallel ordering's promote) gets a row below.
pub fn rto_bar(phases: &[RecoveryPhase]) -> Markup {
    const ROW: f64 = 34.0;
    let total = coldstandby_engine::rto::recovery_ms(phases);
    let Some(start) = phases.iter().map(|phase| phase.from).min() else {
        return html! {};
    };
    let plot = WIDTH - 2.0;
    let x = |at: Timestamp| 1.0 + plot * at.saturating_since(start).as_millis() as f64 / total.max(1) as f64;
    // Each phase on the first row where it overlaps nothing drawn before it.
    let mut rows_end: Vec<Timestamp> = Vec::new();
    let placed: Vec<(usize, &RecoveryPhase)> = phases
        .iter()
        .map(|phase| {
            let row = rows_end.iter().position(|end| *end <= phase.from).unwrap_or(rows_end.len());
            if row == rows_end.len() {
                rows_end.push(phase.until);
            } else {
                rows_end[row] = phase.until;
            }
            (row, phase)
        })
        .collect();
    let height = ROW * rows_end.len() as f64 + 2.0;
    html! {
        svg class="rto-bar" xmlns="http://www.w3.org/2000/svg" role="img" viewBox={ "0 0 " (WIDTH) " " (height) }
            data-total-ms=(total) {
            title { "Recovery time by phase, " (seconds_ms(total)) " in all" }
            @for (row, phase) in placed {
                @let (left, width) = (x(phase.from), x(phase.until) - x(phase.from));
                @let top = 2.0 + ROW * row as f64;
                g class={ "segment " (phase_class(phase.name)) } data-phase=(phase.name.as_str())
                    data-duration-ms=(phase.duration_ms()) {
                    rect x=(fmt(left)) y=(fmt(top)) width=(fmt(width)) height=(fmt(ROW - 4.0)) {
                        title { (phase.name.as_str()) " " (seconds_ms(phase.duration_ms())) }
                    }
                    // A name fits from about 70 units on.
                    @if width >= 70.0 {
                        text x=(fmt(left + 4.0)) y=(fmt(top + 20.0)) { (phase.name.as_str()) " " (seconds_ms(phase.duration_ms())) }
                    }
                }
            }
        }
    }
}

/// The recovery times of many runs, as a histogram with about twenty bins.
pub fn histogram(distribution: &Distribution) -> Markup {
    const HEIGHT: f64 = 220.0;
    const BOTTOM: f64 = 190.0;
    let (low, high) = match (distribution.rto_ms.iter().min(), distribution.rto_ms.iter().max()) {
        (Some(low), Some(high)) => (*low, *high),
        _ => (0, 0),
    };
    let bins = 20u64;
    let width_ms = ((high - low) / bins).max(1) + 1;
    // `width_ms` rounds up, so the highest time falls in the last bin.
    let mut counts = vec![0usize; bins as usize];
    for rto in &distribution.rto_ms {
        counts[usize::try_from((rto - low) / width_ms).unwrap_or(0).min(bins as usize - 1)] += 1;
    }
    let tallest = counts.iter().copied().max().unwrap_or(0).max(1);
    let bar_width = (WIDTH - 80.0) / counts.len() as f64;
    html! {
        svg class="histogram" xmlns="http://www.w3.org/2000/svg" role="img" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) }
            data-runs=(distribution.rto_ms.len()) {
            title { "Recovery times of " (distribution.rto_ms.len()) " runs" }
            @for (index, count) in counts.iter().enumerate() {
                @let from_ms = low + index as u64 * width_ms;
                @let bar_height = (BOTTOM - 20.0) * *count as f64 / tallest as f64;
                rect class="bin" x=(fmt(60.0 + bar_width * index as f64)) y=(fmt(BOTTOM - bar_height))
                    width=(fmt(bar_width - 2.0)) height=(fmt(bar_height)) data-count=(count)
                    data-from-ms=(from_ms) data-until-ms=(from_ms + width_ms) {
                    title { (count) " runs from " (seconds_ms(from_ms)) " to " (seconds_ms(from_ms + width_ms)) }
                }
            }
            line class="axis" x1="60" x2=(fmt(WIDTH - 20.0)) y1=(BOTTOM) y2=(BOTTOM) {}
            @for quarter in 0..=4u64 {
                @let x = 60.0 + (WIDTH - 80.0) * quarter as f64 / 4.0;
                @let anchor = match quarter { 0 => "start", 4 => "end", _ => "middle" };
                line class="axis" x1=(fmt(x)) x2=(fmt(x)) y1=(BOTTOM) y2=(BOTTOM + 5.0) {}
                text x=(fmt(x)) y=(BOTTOM + 18.0) text-anchor=(anchor) {
                    (seconds_ms(low + (high - low) * quarter / 4))
                }
            }
            text x="4" y="16" { (tallest) " runs" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_at_most_ten() {
        assert_eq!(tick_step_ms(9_000.0), 1_000);
        assert_eq!(tick_step_ms(87_000.0), 10_000);
        assert_eq!(tick_step_ms(100_000.0), 10_000);
        assert_eq!(tick_step_ms(100_001.0), 15_000);
    }

    #[test]
    fn the_scale_maps_the_window_onto_the_plot() {
        let scale = Scale::new(Timestamp::from_unix_millis(1_000), Timestamp::from_unix_millis(11_000));
        assert_eq!(scale.x(Timestamp::from_unix_millis(1_000)), LABELS);
        assert_eq!(scale.x(Timestamp::from_unix_millis(11_000)), WIDTH - RIGHT);
        assert_eq!(scale.x(Timestamp::from_unix_millis(99_000)), WIDTH - RIGHT, "clamped at the end");
    }
}

//! The HTML page: one self-contained file (the stylesheet and every picture inline, no script,
//! nothing fetched), laid out to read on a phone and to print.

use coldstandby_engine::InstanceState;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::model::{Document, LanesSource, Run};
use crate::{seconds, svg, utc};

const STYLE: &str = include_str!("style.css");

/// The whole page.
pub fn render(document: &Document) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // Nothing may be fetched, not even a favicon: the page must open offline.
                meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:";
                title { (document.title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { (document.title) }
                    p.meta {
                        (document.tool)
                        @if let Some(ran_at) = document.ran_at {
                            ", run at " (utc(ran_at))
                            @if document.simulated { " (virtual time)" }
                        }
                        " on " (document.target) "."
                    }
                    @for line in &document.summary { p { (line) } }
                }
                @for run in &document.runs { (run_section(run)) }
                @if let Some(distribution) = &document.distribution {
                    section.distribution {
                        h2 { "Recovery times: " (distribution.title) }
                        p {
                            (distribution.rto_ms.len()) " runs recovered"
                            @if distribution.not_recovered > 0 {
                                "; " (distribution.not_recovered) " ended without a recovery time (failed safely, gave up or were cut short: see above)"
                            }
                            "."
                        }
                        div.figure { (svg::histogram(distribution)) }
                    }
                }
                @if let Some(configuration) = &document.configuration {
                    section.configuration {
                        h2 { "Configuration" }
                        pre { code { (configuration) } }
                    }
                }
            }
        }
    };
    page.into_string()
}

fn run_section(run: &Run) -> Markup {
    let total = coldstandby_engine::rto::recovery_ms(&run.phases);
    let source = match run.lanes_source {
        LanesSource::Region => "Instance states as the simulated region changed them.",
        LanesSource::Observations => {
            "Instance states as coldstandby observed them (a change shows when it was seen)."
        }
    };
    html! {
        section.run data-run=(run.title) {
            h2 { (run.title) }
            p.outcome.ok[run.succeeded].failed[!run.succeeded] { (run.outcome) }
            @if !run.phases.is_empty() {
                p { "Recovery time " strong { (seconds(std::time::Duration::from_millis(total))) } ", by phase:" }
                div.figure { (svg::rto_bar(&run.phases)) }
                ul.legend {
                    @for phase in &run.phases {
                        li class=(svg::phase_class(phase.name)) {
                            (phase.name.as_str()) " " (seconds(std::time::Duration::from_millis(phase.duration_ms())))
                        }
                    }
                }
            }
            h3 { "Timeline" }
            p.meta { (source) " Times are from the start of the timeline; hover a mark for its detail." }
            div.figure { (svg::timeline(run)) }
            ul.legend {
                @for state in InstanceState::ALL {
                    li class=(svg::state_class(state)) { (state.as_str()) }
                }
            }
            h3 { "The controller's steps" }
            div.table {
                table.steps {
                    thead { tr { th.num { "time" } th { "step" } th { "subject" } th { "detail" } } }
                    tbody {
                        @for step in &run.steps {
                            tr.trouble[step.trouble] {
                                td.num { "+" (seconds(step.at.saturating_since(run.origin))) }
                                td { (step.step) } td.subject { (step.subject) } td { (step.detail) }
                            }
                        }
                    }
                }
            }
            details.calls open {
            summary { h3 { "Calls made: " (run.calls.len()) } }
            p.meta { (call_counts(run)) }
            div.table {
                table.calls {
                    thead { tr { th.num { "time" } th { "call" } th { "subject" } th { "result" } } }
                    tbody {
                        @for call in &run.calls {
                            tr.trouble[call.result != "ok"] {
                                td.num { "+" (seconds(call.at.saturating_since(run.origin))) }
                                td { (call.operation) } td.subject { (call.subject) } td { (call.result) }
                            }
                        }
                    }
                }
            }
            }
        }
    }
}

/// "DescribeInstances 31, StopInstances 1, ...": the calls by operation, most made first.
fn call_counts(run: &Run) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for call in &run.calls {
        *counts.entry(call.operation.as_str()).or_default() += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    counts.iter().map(|(operation, count)| format!("{operation} {count}")).collect::<Vec<_>>().join(", ")
}

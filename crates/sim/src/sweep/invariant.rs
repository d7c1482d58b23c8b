//! The invariants the sweeps check, named and described in one place: the checks report them by
//! these names, and `simulate --help`, the table in docs/commands.md (the fault-injection sweep)
//! and the list in docs/watch.md (the watchers' sweep) are made from these descriptions (a test
//! keeps the documents in step).

/// One property every sweep run must keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    SingleActive,
    FenceBeforeStart,
    FencedBeforeActive,
    ActiveObservedRunning,
    TriggerEnds,
    WithinRequestBuckets,
    BacksOffWhenThrottled,
    GroupOnly,
    SingleLive,
    RollbackComplete,
    TrafficToActiveOnly,
    NoTrafficBeforeFence,
    PromotesWhenPossible,
    NoFailoverOfHealthyPrimary,
    OneControllerPerGroup,
}

impl Invariant {
    /// Every invariant, in the order the documentation lists them.
    pub const ALL: [Self; 15] = [
        Self::SingleActive,
        Self::FenceBeforeStart,
        Self::FencedBeforeActive,
        Self::ActiveObservedRunning,
        Self::TriggerEnds,
        Self::WithinRequestBuckets,
        Self::BacksOffWhenThrottled,
        Self::GroupOnly,
        Self::SingleLive,
        Self::RollbackComplete,
        Self::TrafficToActiveOnly,
        Self::NoTrafficBeforeFence,
        Self::PromotesWhenPossible,
        Self::NoFailoverOfHealthyPrimary,
        Self::OneControllerPerGroup,
    ];

    /// The name violations, summaries and replays use.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SingleActive => "single-active",
            Self::FenceBeforeStart => "fence-before-start",
            Self::FencedBeforeActive => "fenced-before-active",
            Self::ActiveObservedRunning => "active-observed-running",
            Self::TriggerEnds => "trigger-ends",
            Self::WithinRequestBuckets => "within-request-buckets",
            Self::BacksOffWhenThrottled => "backs-off-when-throttled",
            Self::GroupOnly => "group-only",
            Self::SingleLive => "single-live",
            Self::RollbackComplete => "rollback-complete",
            Self::TrafficToActiveOnly => "traffic-to-active-only",
            Self::NoTrafficBeforeFence => "no-traffic-before-fence",
            Self::PromotesWhenPossible => "promotes-when-possible",
            Self::NoFailoverOfHealthyPrimary => "no-failover-of-healthy-primary",
            Self::OneControllerPerGroup => "one-controller-per-group",
        }
    }

    /// What it means, as a person reads it in the help and the documentation.
    pub const fn meaning(self) -> &'static str {
        match self {
            Self::SingleActive => "at most one member of the group is recorded active",
            Self::FenceBeforeStart => {
                "in fence-first, no standby is started before the members it replaces are stopped"
            }
            Self::FencedBeforeActive => {
                "in either ordering, nothing is recorded active before the old members are stopped"
            }
            Self::ActiveObservedRunning => {
                "a member is recorded active only when it runs and was observed running"
            }
            Self::TriggerEnds => {
                "every trigger ends by its deadline with a running active member, or a failure naming its reason"
            }
            Self::WithinRequestBuckets => "without injected throttling, no call exceeds EC2's request buckets",
            Self::BacksOffWhenThrottled => "a throttled call is not repeated without a pause",
            Self::GroupOnly => "no call touches an instance outside the group",
            Self::SingleLive => {
                "from the instances' true states: when a trigger ends, when the next one starts, and once \
                 the region has run on alone for ten minutes, at most one member is pending or running, \
                 and after a success it is the member recorded active (not counted, while no controller \
                 has started a member: one running since before any controller began, whose zone was \
                 still silent when the last run ended, and lost every stop of it or failed every \
                 describe naming it but a crashed run's)"
            }
            Self::RollbackComplete => {
                "once the region has settled after a failed trigger, no instance that trigger started \
                 (whatever it was told) is pending or running, unless it is the member recorded active or its \
                 zone was still not answering EC2 when the last run ended"
            }
            Self::TrafficToActiveOnly => {
                "after a success, and once the region has settled after it, every route, DNS record, \
                 healthy target and Elastic IP of the group's movers sends clients to the member recorded \
                 active and to no other member (read from the region's own tables, not the movers' reports)"
            }
            Self::NoTrafficBeforeFence => {
                "no change sends clients to a member while any other member of the group is pending, \
                 running or stopping, by the region's own lifecycle log"
            }
            Self::PromotesWhenPossible => {
                "a trigger fails with no standby promoted only when the region shows none could have been: \
                 each was gone, denied, unsupported, short of capacity beyond the retry budget, falling back \
                 to stopped, or too slow to stop and boot within its start timeout (not judged for a run \
                 during a throttling burst, which can hide the region for tens of seconds)"
            }
            Self::NoFailoverOfHealthyPrimary => {
                "once a switchback has made the old primary active again and it runs, an alarm event \
                 from before the switchback, delivered again later (Lambda's retries, an event queued \
                 behind others), stops nothing: that member is healthy and the event is history"
            }
            Self::OneControllerPerGroup => {
                "with `--race` only: every start, stop, tag write, traffic move and isolation was made while \
                 the lease table named its caller the group's holder (judged from the table's history of \
                 writes and the region's call log)"
            }
        }
    }

    /// The Markdown table docs/commands.md holds, generated from [`Self::ALL`].
    pub fn markdown_table() -> String {
        let mut table = String::from("| invariant | what it means |\n|---|---|\n");
        for invariant in Self::ALL {
            table.push_str(&format!("| `{}` | {} |\n", invariant.name(), invariant.meaning()));
        }
        table
    }

    /// One line per invariant, for `simulate --help`.
    pub fn help_list() -> String {
        Self::ALL
            .iter()
            .map(|invariant| format!("  {}: {}", invariant.name(), invariant.meaning()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// One property the two-watcher sweep (`simulate --watchers`) must keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WatchInvariant {
    NoFailoverOfHealthyPrimary,
    DetectWithin,
    Recovered,
    SingleLive,
    OneControllerPerGroup,
}

impl WatchInvariant {
    /// Every invariant, in the order the documentation lists them.
    pub const ALL: [Self; 5] = [
        Self::NoFailoverOfHealthyPrimary,
        Self::DetectWithin,
        Self::Recovered,
        Self::SingleLive,
        Self::OneControllerPerGroup,
    ];

    /// The name violations and replays use.
    pub const fn name(self) -> &'static str {
        match self {
            Self::NoFailoverOfHealthyPrimary => Invariant::NoFailoverOfHealthyPrimary.name(),
            Self::DetectWithin => "detect-within",
            Self::Recovered => "recovered",
            Self::SingleLive => Invariant::SingleLive.name(),
            Self::OneControllerPerGroup => Invariant::OneControllerPerGroup.name(),
        }
    }

    /// What it means, as the documentation says it.
    pub const fn meaning(self) -> &'static str {
        match self {
            Self::NoFailoverOfHealthyPrimary => {
                "a primary whose service is healthy and that a majority of vantage points reach (each \
                 live, unpaused watcher not partitioned from it, and EC2 by the instance running) \
                 throughout the time a decision takes before a stop is never stopped by a watcher; \
                 nor is the member an operator's switchover switched in, once it is done"
            }
            Self::DetectWithin => {
                "with no watcher fault, a service that fails for good is stopped within the detection \
                 bound (`interval × failures + timeout`) plus one second for the confirmation and the \
                 run's first calls"
            }
            Self::Recovered => {
                "a primary that failed for good ends with a standby running in its place, whenever the \
                 watchers can decide it (not when one watcher crashed before a stop and the instance \
                 still runs)"
            }
            Self::SingleLive => "at most one member running at the end",
            Self::OneControllerPerGroup => {
                "every start, stop and tag write made while the lease table named its caller the holder"
            }
        }
    }

    /// The Markdown list docs/watch.md holds, generated from [`Self::ALL`].
    pub fn markdown_list() -> String {
        Self::ALL
            .iter()
            .map(|invariant| format!("- `{}`: {}\n", invariant.name(), invariant.meaning()))
            .collect()
    }
}

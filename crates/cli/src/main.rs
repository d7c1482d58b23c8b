//! The `coldstandby` command line: parses arguments, hands each command to its module, and turns
//! the result into an exit status. No failover logic lives here.

mod backtest;
mod check;
mod demo;
#[cfg(test)]
mod doc_commands;
mod doctor;
mod drill;
mod failover;
mod failure;
mod handle_event;
mod init;
mod input;
mod lambda_entry;
mod output;
mod progress;
mod report;
mod sim_faults;
mod sim_target;
mod simulate;
mod status;
mod switchover;
mod target;
mod template;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

/// The variable that names the configuration file when `--config` is not given.
pub const CONFIG_ENV: &str = "COLDSTANDBY_CONFIG_FILE";
/// The configuration file when neither `--config` nor the variable names one.
pub const DEFAULT_CONFIG: &str = "coldstandby.toml";

/// Exit statuses, documented in `--help`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The command did what was asked (including "nothing to do").
    Success = 0,
    /// The failover ran and failed, or the command hit an error.
    Failed = 1,
    /// The command line was wrong (clap's own code, also used for an unknown group).
    Usage = 2,
    /// The configuration, alarm or data file is invalid; nothing was done.
    InvalidInput = 3,
    /// Another failover of the group is running; this one did nothing.
    Busy = 4,
    /// `status`: at least one group needs attention (a monitoring script can tell).
    NeedsAttention = 5,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// An error that carries its own exit status.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub exit: Exit,
    pub message: String,
}

impl CommandError {
    pub fn usage(message: impl Into<String>) -> anyhow::Error {
        Self { exit: Exit::Usage, message: message.into() }.into()
    }
}

/// The group called `name` in `config` (read from `path`), or a usage error listing the groups.
pub fn configured_group<'a>(
    config: &'a coldstandby_config::Config,
    path: &std::path::Path,
    name: &str,
) -> anyhow::Result<&'a coldstandby_config::GroupConfig> {
    config.group(name).ok_or_else(|| {
        let known = config.group_names().join(", ");
        CommandError::usage(format!("{} defines no group `{name}` (it defines: {known})", path.display()))
    })
}

const EXIT_STATUS_HELP: &str = "\
In AWS Lambda: the deployment zip holds this binary as `bootstrap`, which Lambda runs with no
arguments; started that way it runs the function (as `coldstandby lambda` does).

Exit status:
  0  done (including \"already failed over, nothing to do\" and dry runs)
  1  the failover failed, doctor found a FAIL, or an error stopped the command
  2  bad command line, or a group the config does not define
  3  invalid input (configuration, alarm or data file): the problems are listed with
     their key, field or line, and nothing was done
  4  another failover of the same group is already running
  5  status: a group NEEDS ATTENTION (two live members, the active member not running,
     conflicting records, clients not sent to the active member)";

/// Cold-standby failover for Amazon EC2: fence the primary, promote a standby in another
/// Availability Zone, and record which member is active.
#[derive(Debug, Parser)]
#[command(name = "coldstandby", version, after_help = EXIT_STATUS_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Rehearse the article's failover on a simulated region, in virtual time (no AWS, no config)
    ///
    /// EC2-1 runs in ap-northeast-1a and EC2-2 waits stopped in ap-northeast-1c. CPU load starts
    /// on EC2-1 (or, with --failure dies, EC2-1 dies and stops publishing metrics); the article's
    /// CPUUtilization > 50% alarm is evaluated exactly as CloudWatch would, and when it fires
    /// coldstandby fences EC2-1 and promotes EC2-2. Prints the timeline (each instance change,
    /// and when coldstandby observed it) and the RTO breakdown.
    Demo(DemoArgs),
    /// Fail a group over: stop the primary and confirm it, start a standby and confirm it, record it active
    ///
    /// Safe to run again: a group that already failed over is left as it is. A failover that
    /// could not finish (a deadline, a crash) resumes from the instances' real states.
    Failover(FailoverArgs),
    /// Move a group on purpose to another member (by default back to its configured primary)
    ///
    /// The same steps as a failover: the active member is stopped and confirmed stopped, the
    /// other is started, its readiness checks pass, every mover points clients at it, and it is
    /// recorded active. If it cannot be started, the other members are tried in the configured
    /// order; the member moved away from is not started again on its own. A group whose
    /// failover left it on a standby is back on its primary only through this (or a new
    /// failover).
    Switchover(SwitchoverArgs),
    /// Rehearse a failover and a switchover back, measure every step, and report it
    ///
    /// Fails the group over (the same steps as `failover`, readiness checks and movers
    /// included), then switches it back to the member that was active, and checks the group
    /// ends as it began: the same member active, every member running or stopped as before (any
    /// difference is listed, and the exit status is 1). With --report, writes a self-contained
    /// HTML report: a timeline of every instance and step, the recovery time by phase, every
    /// call made, the configuration used.
    ///
    /// A drill runs on the simulated region unless --target aws is given. On real EC2 it names
    /// the account, Region and instances and asks first (--yes for a scheduled drill), and it
    /// does not start when `doctor` finds a FAIL.
    Drill(DrillArgs),
    /// Show each group's members, their states, and which member is recorded active
    Status(StatusArgs),
    /// Replay metric history through an alarm: when would it have fired, and how often?
    ///
    /// ALARM.json is what `aws cloudwatch describe-alarms --alarm-names NAME` prints (the whole
    /// output or one element of MetricAlarms); or give --config and --group to use the alarm a
    /// group defines in its `[group.alarm]` table. DATA is a CSV with the header `timestamp,value`
    /// and one row per raw sample (a period with no row is missing data), or the JSON printed by
    /// `aws cloudwatch get-metric-data` or `get-metric-statistics`. Evaluation follows
    /// CloudWatch's documented rules, including missing data and the premature-alarm rule.
    Backtest(BacktestArgs),
    /// Handle one CloudWatch alarm event exactly as the Lambda function would, and say what it did
    ///
    /// EVENT is the JSON a Lambda alarm action receives (a file, or - for standard input). Only a
    /// transition into ALARM fails a group over (INSUFFICIENT_DATA too for groups with
    /// fail_over_on_insufficient_data = true); an alarm no group lists is a successful no-op; a
    /// second delivery of the same state change is recognised and does nothing.
    HandleEvent(HandleEventArgs),
    /// Run seeded fault-injection scenarios on the simulated region and check the invariants
    ///
    /// Each seed is a random scenario: 1-3 standbys in any state, random timings and timeouts,
    /// throttling bursts, transient errors, capacity shortages, stops that hang (even forced),
    /// forced stops that take minutes, starts that fail, starts whose answer is lost, denied and
    /// unsupported standbys, slow boots, empty, partial and up to 10 s stale describe answers,
    /// tag writes that show late, purged terminated standbys, latency spikes, concurrent and
    /// duplicate triggers, the controller crashing part-way, and failback; half the scenarios
    /// also move clients (readiness checks and movers, with services that never get ready, route
    /// tables that refuse for a while, DNS changes PENDING for minutes). Each trigger runs as
    /// Lambda runs it (deadline, timeout, two retries). After every engine step, and from the
    /// instances' true states once each trigger ends and the region has settled, it checks the
    /// invariants listed below. The same seed replays the same run; each violation
    /// is printed with the command that replays it. --output json also lists every trigger's end
    /// with each member's true state and recorded role.
    ///
    /// With --az-outage: one Availability Zone goes down under --groups groups at once (every
    /// primary in it, 25 to a subnet; one or two standbys each in two other zones, in a mix of
    /// orderings and states; one instance type short of capacity in one zone for a while; calls
    /// into the down zone fail, hang, or either). All groups fail over in one fleet run, and
    /// again one at a time on a copy of the region; the report shows both, the slowest group
    /// alone, the least time EC2's request limits allow for what cannot be batched (with its
    /// arithmetic), requests by kind, throttled requests, failed groups and invariant
    /// violations (one-member-can-serve, fence-before-start, fail-closed-starts-nothing,
    /// within-deadline, within-request-buckets).
    ///
    /// With --race: for each seed, two or three controllers (a Lambda invocation, an operator's
    /// CLI, a second invocation) fail the same group over at once under the group's lease in a
    /// simulated DynamoDB table (lease of 6, 10 or 20 s; the table throttles and loses answers;
    /// controllers crash holding the lease or lose the table for up to a minute, their calls
    /// failing or hanging), then Lambda's retries (up to three runs while they fail). Checks
    /// one-controller-per-group (every start, stop, tag write, traffic move and isolation made
    /// while the table named its caller the holder) and single-live once the region has settled.
    ///
    /// With --watchers: for each seed, two watchers (`coldstandby watch`) probe one group's
    /// primary (tcp or http, every 200 ms, 500 ms or 1 s) under its lease, while the primary's
    /// service dies, hangs, goes silent, slows down, flaps, recovers after a moment or stays
    /// healthy, and a watcher is cut off from the primary (and from the other watcher), pauses
    /// for 30 s, crashes, or loses the lease table. Checks no-failover-of-healthy-primary,
    /// detect-within, recovered, single-live and one-controller-per-group, and reports the
    /// detection latency (failure to the primary's stop).
    #[command(after_long_help = format!(
        "Invariants (one-controller-per-group with --race only):\n{}",
        coldstandby_sim::sweep::invariant::Invariant::help_list()
    ))]
    Simulate(SimulateArgs),
    /// Run as the AWS Lambda function (what `bootstrap` with no arguments does)
    ///
    /// Lambda's provided.al2023 runtime executes the package's `bootstrap` with no arguments;
    /// started that way (named `bootstrap`, or with AWS_LAMBDA_RUNTIME_API set, and no
    /// arguments) the binary runs the function without this subcommand. Reads the configuration
    /// once per cold start from COLDSTANDBY_CONFIG (TOML text) or coldstandby.toml in the task
    /// root; an invalid one is reported to Lambda as an init error (ColdStandby.InvalidConfiguration)
    /// and the process exits 3, touching nothing. Logs one JSON line per failover step
    /// (AWS_LAMBDA_LOG_FORMAT=Text and AWS_LAMBDA_LOG_LEVEL are honoured). Outside Lambda it
    /// exits 2.
    Lambda,
    /// Generate deployment files from the configuration: a CloudFormation template, or the role's policy
    ///
    /// Reads the configuration only; nothing in any account is touched. The same configuration
    /// and options always give the same bytes.
    Template(TemplateArgs),
    /// Check a live account before an outage does: instances, function, permissions, alarms, network
    ///
    /// Read-only. Each check prints PASS, WARN or FAIL with what it found, and for a FAIL the exact
    /// fix (an `aws` command or a template option). Checks: the groups' instances exist, have EBS
    /// roots, sit in different AZs and are in consistent states; with --function, the function's
    /// timeout covers the worst-case failover, its reserved concurrency is 1, its configuration
    /// parses and names existing instances, its resource-based policy lets each alarm invoke it,
    /// its role may make every call the engine makes on those instances, and in a VPC it has an
    /// EC2 endpoint or a NAT route; each alarm exists, invokes the function and watches the
    /// group's primary; each mover can be read and sends clients to the active member; tcp and
    /// http readiness checks have the function in the VPC. Exits 1 when any check fails.
    Doctor(DoctorArgs),
    /// Watch the groups: probe each active member, fail a dead one over within seconds
    ///
    /// A long-running process (run two, in two zones, under systemd): every `interval_ms`
    /// (default 1 s) it probes each group's active member with the group's `tcp` and `http`
    /// readiness checks, declares it down after `failures` of the last `window` rounds failed
    /// (default 2 of 3), confirms with EC2 and the other watchers (a member another watcher
    /// still reaches is not failed over), and fails confirmed groups over together under their
    /// leases. Serves /metrics (Prometheus), /healthz, /readyz and the other watchers'
    /// questions on [watch] listen (default 0.0.0.0:9323). SIGTERM or SIGINT: stop probing,
    /// finish the failovers under way, exit 0. SIGHUP: reload the groups from the file (an
    /// invalid file is refused and the old groups kept). Logs are JSON lines on stderr.
    /// Exit status 3 when the configuration cannot be watched.
    Watch(WatchArgs),
    /// Write a commented starter configuration for one group (names and zones from EC2 when it answers)
    ///
    /// The file is checked before it is written, and an existing one is kept unless --force.
    Init(InitArgs),
    /// Check a configuration file: every problem at once, with its key and line; nothing is called
    ///
    /// Exit status 0 when it is valid, 3 when it is not (the same check every command makes
    /// before it does anything).
    Check(CheckArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to standard output
    ///
    /// For example `coldstandby completions bash > /etc/bash_completion.d/coldstandby`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff) to standard output, from the same definitions as --help
    ///
    /// For example `coldstandby man > coldstandby.1 && man ./coldstandby.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The instance normally active
    #[arg(
        long,
        value_name = "INSTANCE",
        required_unless_present = "from_tags",
        conflicts_with = "from_tags"
    )]
    pub primary: Option<String>,
    /// A standby, tried in the order given (repeat for more)
    #[arg(long = "standby", value_name = "INSTANCE", required_unless_present = "from_tags")]
    pub standbys: Vec<String>,
    /// Instead of --primary and --standby: one group per value of the instances' coldstandby:group
    /// tag (the member tagged coldstandby:role=active is its primary; needs EC2 access)
    #[arg(long, conflicts_with_all = ["offline", "name"])]
    pub from_tags: bool,
    /// The group's name
    #[arg(long, default_value = "main")]
    pub name: String,
    /// The Region (default: AWS_REGION, then AWS_DEFAULT_REGION)
    #[arg(long)]
    pub region: Option<String>,
    /// Where to write the file
    #[arg(long, value_name = "FILE", env = CONFIG_ENV, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Replace the file if it exists
    #[arg(long)]
    pub force: bool,
    /// Do not ask EC2 for the instances' names and zones
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file
    #[arg(long, value_name = "FILE", env = CONFIG_ENV, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Also check it as the Lambda function would run it: every alarm's failovers, one after
    /// another, within Lambda's 900 s limit
    #[arg(long)]
    pub lambda: bool,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The configuration file (its groups, [watch] and [lease])
    #[arg(long, value_name = "FILE", env = CONFIG_ENV, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// This watcher's name in leases and logs (default: the host name)
    #[arg(long)]
    pub name: Option<String>,
    /// Check that the configuration can be watched, print what would be watched, and exit
    #[arg(long)]
    pub check: bool,
}

/// The `when_unobservable` policy of the simulated groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FenceArg {
    /// Keep trying to stop it until the fence's deadline; promote nothing (the default)
    FailClosed,
    /// Cut its subnet off with a deny-all network ACL, verify, then promote
    Isolate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text
    Text,
    /// One JSON document on stdout, no progress output
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OrderArg {
    /// Start the standby only after the primary is confirmed stopped
    FenceFirst,
    /// Start the standby while the primary stops (faster; still records it only after the fence)
    Parallel,
}

impl From<OrderArg> for coldstandby_engine::Ordering {
    fn from(order: OrderArg) -> Self {
        match order {
            OrderArg::FenceFirst => Self::FenceFirst,
            OrderArg::Parallel => Self::Parallel,
        }
    }
}

/// Where the groups' instances are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// Real EC2 in the config's region (credentials and endpoint from the standard AWS chain:
    /// environment, profile, instance or Lambda role; AWS_ENDPOINT_URL for a VPC endpoint)
    Aws,
    /// A simulated region built from the config file, for rehearsals
    Sim,
}

/// How the demo's primary fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailureArg {
    /// The article's test: CPU load pegs the primary, which keeps publishing metrics
    CpuLoad,
    /// The primary dies outright: it stops publishing metrics, and its stop hangs until forced
    Dies,
}

/// What detects the demo's failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DetectorArg {
    /// The article's CloudWatch alarm (CPU > 50 % over one minute) and its action
    Alarm,
    /// Two `coldstandby watch` watchers, one per zone, probing `http :80/` every second
    Watch,
}

/// How the demo's clients follow the failover.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RedirectArg {
    /// A /32 routed to the active member's interface in two route tables
    OverlayIp,
    /// A private hosted zone's A record holding the active member's address
    Dns,
    /// An internal load balancer's target group with every member registered
    TargetGroup,
    /// An Elastic IP associated with the active member's interface
    ElasticIp,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed for the simulated timings; the same seed gives the same run
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// When the standby may start relative to the primary's stop
    #[arg(long, value_enum, default_value_t = OrderArg::FenceFirst)]
    pub order: OrderArg,
    /// How the primary fails
    #[arg(long, value_enum, default_value_t = FailureArg::CpuLoad)]
    pub failure: FailureArg,
    /// What detects the failure: the article's alarm, or two watchers probing the service
    #[arg(long, value_enum, default_value_t = DetectorArg::Alarm)]
    pub detector: DetectorArg,
    /// The alarm's TreatMissingData: missing, notBreaching, breaching or ignore. Decides whether
    /// a primary that dies (and so stops publishing) ever triggers a failover
    #[arg(long, value_name = "MODE", default_value = "missing", value_parser = demo::parse_treat_missing_data)]
    pub treat_missing_data: coldstandby_alarm::TreatMissingData,
    /// Move clients to the standby too: a TCP readiness check on port 80, then this mechanism.
    /// The RTO then runs to clients served by the standby (its `readiness` and `clients` lines)
    #[arg(long, value_enum, value_name = "MECHANISM")]
    pub redirect: Option<RedirectArg>,
    /// Also write the run as a self-contained HTML report (timeline, RTO by phase, every call)
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Options shared by the commands that work on a configured region.
#[derive(Clone, Debug, Args)]
pub struct TargetArgs {
    /// The configuration file
    #[arg(long, value_name = "FILE", env = CONFIG_ENV, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Where the instances are (default: the config's `provider`, which defaults to aws)
    #[arg(long, value_enum)]
    pub target: Option<TargetArg>,
    /// Simulated target only: keep the simulated region in this JSON file between runs, so a
    /// rehearsal can run `failover` and then `status` (created when missing)
    #[arg(long, value_name = "FILE")]
    pub sim_state: Option<PathBuf>,
    /// Simulated target only: seed for the simulated timings [default: 1]
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct FailoverArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The group to fail over (its `name` in the config)
    #[arg(long)]
    pub group: String,
    /// Observe the group and print what would be done; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// On real EC2, act without asking first (needed when not run from a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct SwitchoverArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The group to move (its `name` in the config)
    #[arg(long)]
    pub group: String,
    /// The member to move to (default: the group's configured primary)
    #[arg(long, value_name = "INSTANCE")]
    pub to: Option<String>,
    /// Observe the group and print what would be done; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// On real EC2, act without asking first (needed when not run from a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// --target defaults to sim here: a drill on real instances is asked for by name
    #[command(flatten)]
    pub target: TargetArgs,
    /// The group to rehearse (its `name` in the config)
    #[arg(long)]
    pub group: String,
    /// Write the drill as a self-contained HTML report (no network, no script: open it anywhere)
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// On real EC2, act without asking first (for a scheduled drill; needed without a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Simulated target only: EC2 misbehaving during the drill, as NAME=PROBABILITY,... with
    /// names throttle, transient, empty-describe, stale-describe, partial-describe, latency-spike
    #[arg(long, value_name = "FAULTS")]
    pub sim_faults: Option<String>,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The alarm, as `aws cloudwatch describe-alarms` prints it
    #[arg(long, value_name = "ALARM.json", required_unless_present = "config", conflicts_with = "config")]
    pub alarm: Option<PathBuf>,
    /// Or: the configuration file whose group (--group) defines the alarm in `[group.alarm]`
    #[arg(long, value_name = "FILE", requires = "group")]
    pub config: Option<PathBuf>,
    /// The group whose `[group.alarm]` to backtest (with --config)
    #[arg(long, requires = "config")]
    pub group: Option<String>,
    /// The metric history: CSV (`timestamp,value`) or get-metric-data / get-metric-statistics JSON
    #[arg(long, value_name = "DATA")]
    pub data: PathBuf,
    /// The alarm's state before the first evaluation
    #[arg(long, value_name = "STATE", default_value = "INSUFFICIENT_DATA", value_parser = backtest::parse_state)]
    pub initial_state: coldstandby_alarm::AlarmState,
    /// First evaluation at or after this time (RFC 3339; default: the first sample)
    #[arg(long, value_name = "TIME", value_parser = backtest::parse_time)]
    pub from: Option<coldstandby_engine::Timestamp>,
    /// Last evaluation at or before this time (default: one period after the last sample)
    #[arg(long, value_name = "TIME", value_parser = backtest::parse_time)]
    pub until: Option<coldstandby_engine::Timestamp>,
    /// How many recent periods each evaluation looks at to find N data points (CloudWatch does
    /// not publish its number; default: EvaluationPeriods + 2, as in AWS's worked examples)
    #[arg(long, value_name = "N")]
    pub evaluation_range: Option<u32>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// How many seeds (scenarios) to run
    #[arg(long, default_value_t = 1000, conflicts_with = "az_outage")]
    pub seeds: u64,
    /// Race two or three controllers on each seed's group under the group lease
    #[arg(long, conflicts_with = "az_outage")]
    pub race: bool,
    /// Run two watchers against each seed's group and its failing service
    #[arg(long, conflicts_with_all = ["az_outage", "race"])]
    pub watchers: bool,
    /// The first seed
    #[arg(long, default_value_t = 0, conflicts_with = "az_outage")]
    pub start_seed: u64,
    /// Simulate one Availability Zone going down under many groups instead of the sweep
    #[arg(long)]
    pub az_outage: bool,
    /// With --az-outage: how many groups have their primary in the zone that goes down
    #[arg(long, default_value_t = 100, requires = "az_outage", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub groups: u32,
    /// With --az-outage: the scenario's seed (the same seed replays the same outage)
    #[arg(long, default_value_t = 0, requires = "az_outage")]
    pub seed: u64,
    /// With --az-outage: what every group does with a primary it cannot observe
    #[arg(long, value_enum, default_value_t = FenceArg::FailClosed, requires = "az_outage")]
    pub fence: FenceArg,
    /// Print each seed's steps (to study a replayed seed): every trigger's steps; with --race and
    /// --watchers every API call with its caller, every lease write and every controller's steps
    #[arg(long)]
    pub events: bool,
    /// Threads running seeds [default: one per CPU]; every seed's result, and the output, are
    /// the same whatever the number
    #[arg(long, value_name = "N", conflicts_with = "az_outage")]
    pub jobs: Option<std::num::NonZeroUsize>,
    /// Also write an HTML report with the recovery times' histogram (the sweep and --az-outage)
    #[arg(long, value_name = "FILE.html", conflicts_with_all = ["race", "watchers"])]
    pub report: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct HandleEventArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The alarm event (JSON), or - to read it from standard input
    #[arg(long, value_name = "FILE")]
    pub event: PathBuf,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct TemplateArgs {
    #[command(subcommand)]
    pub kind: TemplateKind,
}

#[derive(Debug, Subcommand)]
pub enum TemplateKind {
    /// Print a CloudFormation template (YAML) with everything the function needs
    ///
    /// The log group, the on-failure topic and the function's environment are encrypted with
    /// one customer managed KMS key: the one --encryption-key-arn gives, else one the stack
    /// creates.
    ///
    /// The execution role (least privilege: DescribeInstances on *, start/stop/tag only on the
    /// groups' instances and only the tool's tag keys, logs only to its own log group), the log
    /// group, the function (provided.al2023, timeout from the groups' worst case, reserved
    /// concurrency 1, the configuration in its environment), its async retry settings and
    /// on-failure SNS topic, one invoke permission per alarm for
    /// lambda.alarms.cloudwatch.amazonaws.com, the alarms a group defines in [group.alarm] (the
    /// function as their only action), and with --vpc the security groups and EC2 endpoint.
    /// Parameters at deploy time: CodeS3Bucket, CodeS3Key, Architecture, OnFailureTopicArn (and
    /// VpcId, SubnetIds, CreateEc2Endpoint with --vpc).
    Cloudformation(CloudFormationArgs),
    /// Print a Terraform module (HCL) with the same resources and policy as the CloudFormation template
    ///
    /// The same options give the same resources, the same least-privilege statements, the same
    /// function settings and the same alarms as `template cloudformation` (a test compares the
    /// two). Save it as main.tf in a directory and use that directory as a module; its inputs
    /// are variables (code_s3_bucket, code_s3_key, architecture, reserved_concurrency,
    /// on_failure_topic_arn, and vpc_id, subnet_ids, create_ec2_endpoint with --vpc). Needs the
    /// hashicorp/aws provider 5.x. docs/terraform.md says what to keep out of your own plans.
    Terraform(CloudFormationArgs),
    /// Print the execution role's policy (JSON) for one account, for deploying by hand or review
    IamPolicy(IamPolicyArgs),
    /// Print a CloudFormation template of a deny-all network ACL for the isolate fence
    ///
    /// Deploy it once per VPC (parameter VpcId) before writing the configuration: its output
    /// QuarantineNetworkAclId is what `quarantine_network_acl` names. It has no rule of its own,
    /// so EC2's final rule denies all traffic both ways; `isolate` moves a failed primary's
    /// subnet onto it.
    QuarantineAcl,
    /// Print a CloudFormation template for two watchers (`coldstandby watch`) in two subnets
    ///
    /// Their security group (the watchers' port open to each other only; add it to the members'
    /// rules for the probed ports), their role (DescribeInstances, start/stop/tag on the groups'
    /// instances, the lease table, the movers' calls), and two instances whose user data writes
    /// each one's configuration (this file, each naming the other as its peer) and the hardened
    /// systemd unit, then starts it. Parameters: VpcId, SubnetA, SubnetB, PrivateIpA,
    /// PrivateIpB, ImageId (an image holding /usr/local/bin/coldstandby), InstanceType. Needs
    /// [lease] and a tcp or http readiness check in every group.
    Watchers(WatchersArgs),
}

#[derive(Debug, Args)]
pub struct WatchersArgs {
    /// The configuration file
    #[arg(long, value_name = "FILE", env = CONFIG_ENV, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct CloudFormationArgs {
    /// The configuration file
    #[arg(long, value_name = "FILE", env = CONFIG_ENV, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// The function's name (its log group is /aws/lambda/NAME)
    #[arg(long, value_name = "NAME", default_value = "coldstandby")]
    pub function_name: String,
    /// How long the function's logs are kept
    #[arg(long, value_name = "DAYS", default_value_t = 90)]
    pub log_retention_days: u32,
    /// Lambda's retries of an invocation that failed (0-2); the engine is idempotent
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub retry_attempts: u32,
    /// Oldest alarm event still delivered (60-21600 s); older ones go to the on-failure topic
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub max_event_age_seconds: u32,
    /// KMS key of encrypted EBS volumes on the instances: lets the role create grants on it
    /// (only for AWS resources). Repeat for several keys
    #[arg(long, value_name = "ARN")]
    pub kms_key_arn: Vec<String>,
    /// The customer managed KMS key that encrypts the function's log group, its on-failure topic
    /// and its environment. Without it the stack creates one (rotated yearly). A key given here
    /// must let CloudWatch alarms and CloudWatch Logs use it (docs/deploying.md shows the statements)
    #[arg(long, value_name = "ARN")]
    pub encryption_key_arn: Option<String>,
    /// Run the function in a VPC with no internet: adds VpcId and SubnetIds parameters, a
    /// security group, and an EC2 interface endpoint with private DNS (skipped at deploy time
    /// with CreateEc2Endpoint=false when the VPC has one). Without it the function runs outside
    /// any VPC and needs no endpoint
    #[arg(long)]
    pub vpc: bool,
    /// Leave the configuration out of the function's environment: it must be bundled in the
    /// zip (scripts/package-lambda FILE). For configurations over Lambda's 4 KB environment
    #[arg(long)]
    pub config_in_zip: bool,
}

#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// The configuration file
    #[arg(long, value_name = "FILE", env = CONFIG_ENV, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// The account the instances and the function are in (12 digits)
    #[arg(long, value_name = "ID")]
    pub account: String,
    /// The AWS partition: aws, aws-cn, aws-us-gov
    #[arg(long, default_value = "aws")]
    pub partition: String,
    /// The function's name (for its log group)
    #[arg(long, value_name = "NAME", default_value = "coldstandby")]
    pub function_name: String,
    /// KMS key of encrypted EBS volumes (repeatable)
    #[arg(long, value_name = "ARN")]
    pub kms_key_arn: Vec<String>,
    /// The VPC the function runs in, if any: adds the network-interface permissions it needs
    #[arg(long, value_name = "VPC_ID")]
    pub vpc_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The configuration file
    #[arg(long, value_name = "FILE", env = CONFIG_ENV, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// The deployed function (the stack's FunctionName output); without it only the instances
    /// and alarms are checked
    #[arg(long, value_name = "NAME")]
    pub function: Option<String>,
    /// Before deploying a template made with --vpc: the subnets you will pass as SubnetIds
    /// (comma-separated). Checked to be in one VPC, in two or more AZs, and at most one per AZ
    /// (the EC2 endpoint the template creates in them allows no more)
    #[arg(long, value_name = "SUBNET,...", value_delimiter = ',')]
    pub subnets: Vec<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Logs go to stderr as text for the commands: coldstandby's own warnings and worse, and
/// nothing from the AWS SDK (its errors reach the user as coldstandby's messages), unless
/// RUST_LOG says otherwise. Colour only on a terminal, and never with NO_COLOR set. (The Lambda
/// function logs as `lambda_entry::init_logging` says.)
fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let result = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && !no_color)
        .with_target(false)
        .try_init();
    // Already initialised (cannot happen in this binary): keep the existing subscriber.
    drop(result);
}

/// Our crates' targets all start with `coldstandby`; every other target (the SDK's) is off.
const DEFAULT_LOG_FILTER: &str = "off,coldstandby=warn";

/// The single-threaded async runtime the AWS SDK's calls run on.
pub fn sdk_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime for the AWS SDK")
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let runtime_api = std::env::var_os("AWS_LAMBDA_RUNTIME_API");
    let json = failure::wants_json(&args);
    let result = if lambda_entry::started_by_lambda(&args, runtime_api.as_deref()) {
        lambda_entry::init_logging();
        lambda_entry::run()
    } else {
        match Cli::try_parse_from(args) {
            Ok(cli) => run_command(cli),
            Err(error) => return failure::report_usage(&error, json),
        }
    };
    match result {
        Ok(exit) => exit.into(),
        Err(error) => failure::report(&error, json).into(),
    }
}

fn run_command(cli: Cli) -> anyhow::Result<Exit> {
    if matches!(cli.command, Command::Lambda) {
        lambda_entry::init_logging();
    } else if matches!(&cli.command, Command::Watch(args) if !args.check) {
        watch::init_logging();
    } else {
        init_logging();
    }
    match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Failover(args) => failover::run(&args),
        Command::Switchover(args) => switchover::run(&args),
        Command::Drill(args) => drill::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Backtest(args) => backtest::run(&args),
        Command::HandleEvent(args) => handle_event::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Lambda => lambda_entry::run(),
        Command::Template(args) => template::run(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::Watch(args) => watch::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Init(args) => init::run(&args),
        Command::Completions(args) => {
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "coldstandby", &mut script);
            output::write_stdout(&script)?;
            Ok(Exit::Success)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            output::write_stdout(&page)?;
            Ok(Exit::Success)
        }
    }
}

/// This process as other processes see it in a group's lease: user, host, process id and start
/// time (a process id alone is reused).
pub fn process_owner() -> &'static str {
    static OWNER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OWNER.get_or_init(|| {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "unknown-host".to_owned());
        let started = coldstandby_aws::SystemClock::now().unix_millis();
        format!("cli {user}@{host} pid {} started {started}", std::process::id())
    })
}

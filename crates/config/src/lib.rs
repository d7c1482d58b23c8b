//! coldstandby's configuration file (TOML): parsed and validated whole before anything runs, so
//! that every problem is reported at once with its key and line, and a bad file changes nothing.

mod alarm;
mod check;
mod clients;
mod lease;
mod placement;
mod regions;
mod render;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use coldstandby_alarm::AlarmDefinition;
use coldstandby_engine::{FenceMode, GroupSpec, InstanceId, Ordering, Timeouts, WhenNotReady};

pub use clients::network_checks;
pub use lease::LeaseConfig;
pub use render::to_toml;
pub use watch::{WatchConfig, DEFAULT_PORT as DEFAULT_WATCH_PORT};

use check::{Checker, Fields};

/// The environment variable through which the Lambda function receives the configuration's TOML
/// text (the CloudFormation template sets it).
pub const CONFIG_VARIABLE: &str = "COLDSTANDBY_CONFIG";

/// Where the groups' instances are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Provider {
    /// Real EC2, through the AWS SDK.
    #[default]
    Aws,
    /// A simulated region built from this file (rehearsals).
    Sim,
}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub region: String,
    pub provider: Provider,
    pub groups: Vec<GroupConfig>,
    /// Each group's lease in DynamoDB, when configured: then every process acts on a group only
    /// while it holds the group's lease.
    pub lease: Option<LeaseConfig>,
    /// When handling an alarm event, also read the state of every alarm the groups list (one
    /// DescribeAlarms per 100) and fail over, in the same run, every group whose alarm is in
    /// ALARM: an Availability Zone's outage is one storm of events, handled at once.
    pub check_every_alarm: bool,
    /// How `coldstandby watch` probes, decides and serves (the defaults without `[watch]`).
    pub watch: WatchConfig,
    /// The SNS topic told of every failover's, switchover's and drill's outcome (JSON), if any.
    pub notification_topic_arn: Option<String>,
}

/// One group and the alarms that trigger it.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupConfig {
    pub spec: GroupSpec,
    /// Alarm names (not ARNs) whose transition into ALARM fails this group over.
    pub alarms: Vec<String>,
    /// The alarm watching the primary, when `[group.alarm]` defines it.
    pub alarm: Option<AlarmDefinition>,
    /// Also fail over when a listed alarm goes to INSUFFICIENT_DATA ("silence means dead").
    pub fail_over_on_insufficient_data: bool,
}

impl Config {
    /// The group called `name`.
    pub fn group(&self, name: &str) -> Option<&GroupConfig> {
        self.groups.iter().find(|group| group.spec.name == name)
    }

    /// The groups that list `alarm` (a name, or an ARN whose last part is a listed name).
    pub fn groups_for_alarm(&self, alarm: &str) -> Vec<&GroupConfig> {
        let name = alarm.rsplit(":alarm:").next().unwrap_or(alarm);
        self.groups
            .iter()
            .filter(|group| group.alarms.iter().any(|listed| listed == name || listed == alarm))
            .collect()
    }

    /// The names of every group, in file order.
    pub fn group_names(&self) -> Vec<&str> {
        self.groups.iter().map(|group| group.spec.name.as_str()).collect()
    }
}

/// One thing wrong with a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The key's path, e.g. `group[1].standbys[0]`.
    pub key: String,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: `{}`: {}", self.key, self.message),
            None => write!(f, "`{}`: {}", self.key, self.message),
        }
    }
}

/// Why a configuration was rejected: every problem found, not just the first.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file, when the configuration came from one.
    pub source_name: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "{}: {count} {noun}; nothing was done", self.source_name)?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// Read and validate the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with_text(path).map(|(config, _)| config)
}

/// As [`load`], keeping the file's text: a report shows the configuration a run was given, read
/// once with it.
pub fn load_with_text(path: &Path) -> Result<(Config, String), ConfigError> {
    let source_name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
        source_name: source_name.clone(),
        problems: vec![Problem {
            key: "(file)".to_owned(),
            line: None,
            message: format!("cannot read: {error}"),
        }],
    })?;
    let config = parse(&text, &source_name)?;
    Ok((config, text))
}

/// Validate a configuration given as text; `source_name` names it in errors.
pub fn parse(text: &str, source_name: &str) -> Result<Config, ConfigError> {
    let fail = |problems| ConfigError { source_name: source_name.to_owned(), problems };
    let document = toml_edit::Document::parse(text).map_err(|error| {
        let line = error.span().map(|span| check::line_of(text, span.start));
        let message = error.message().trim().to_owned();
        fail(vec![Problem {
            key: "(syntax)".to_owned(),
            line,
            message: format!(
                "not valid TOML: {message} (fix this first: the other checks run only on a file that parses)"
            ),
        }])
    })?;
    let mut checker = Checker::new(text);
    let config = read_config(&mut checker, document.as_table());
    match (config, checker.into_problems()) {
        (Some(config), problems) if problems.is_empty() => Ok(config),
        (_, problems) => Err(fail(problems)),
    }
}

fn read_config(checker: &mut Checker, root: &toml_edit::Table) -> Option<Config> {
    let mut fields = Fields::new(root, "");
    let region = checker.required_string(&mut fields, "region");
    let allow_unknown_region = checker.boolean(&mut fields, "allow_unknown_region").unwrap_or(false);
    if let Some((region, offset)) = &region {
        if !is_region_name(region) {
            checker.problem(
                "region",
                *offset,
                format!("`{region}` is not an AWS region name (e.g. ap-northeast-1)"),
            );
        } else if !allow_unknown_region && !regions::KNOWN.contains(&region.as_str()) {
            let near =
                regions::nearest(region).map_or(String::new(), |near| format!(" (did you mean {near}?)"));
            checker.problem(
                "region",
                *offset,
                format!(
                    "`{region}` is not a Region coldstandby knows{near}; for a Region newer than this \
                     release, set allow_unknown_region = true"
                ),
            );
        }
    }
    let groups = match fields.take("group") {
        None => {
            checker.problem("group", None, "at least one [[group]] table is needed".to_owned());
            Vec::new()
        }
        Some(item) => {
            let tables = checker.array_of_tables(item, "group", "[[group]] tables");
            tables
                .into_iter()
                .enumerate()
                .filter_map(|(index, table)| read_group(checker, table, index))
                .collect()
        }
    };
    let provider = checker
        .choice(&mut fields, "provider", &[("aws", Provider::Aws), ("sim", Provider::Sim)])
        .unwrap_or_default();
    let check_every_alarm = checker.boolean(&mut fields, "check_every_alarm").unwrap_or(true);
    let notification_topic_arn = checker.string(&mut fields, "notification_topic_arn");
    if let (Some((arn, offset)), Some((region, _))) = (&notification_topic_arn, &region) {
        if let Some(problem) = topic_problem(arn, region) {
            checker.problem("notification_topic_arn", *offset, problem);
        }
    }
    let lease_given = fields.has("lease");
    let lease = lease::read(checker, &mut fields);
    let watch = watch::read(checker, &mut fields);
    checker.unknown_keys(fields);
    cross_check(checker, &groups);
    let (region, _) = region?;
    if lease_given && lease.is_none() {
        return None;
    }
    Some(Config {
        region,
        provider,
        groups,
        lease,
        check_every_alarm,
        watch: watch?,
        notification_topic_arn: notification_topic_arn.map(|(arn, _)| arn),
    })
}

/// What is wrong with a notification topic's ARN, if anything: it must be an SNS topic in the
/// configuration's Region (a closed network's endpoint reaches only its own Region).
fn topic_problem(arn: &str, region: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let shape = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "sns"
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && !parts[5].is_empty();
    if !shape {
        return Some(format!("`{arn}` is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"));
    }
    (parts[3] != region).then(|| {
        format!(
            "the topic is in {}, not in {region}: publishing from a closed network reaches only its own Region's endpoint",
            parts[3]
        )
    })
}

/// The longest any one timeout may be: a day.
const MAX_TIMEOUT_SECONDS: u64 = 86_400;

#[expect(
    clippy::too_many_lines,
    reason = "one checked read per group key, in the file's order; split by subject when next touched"
)]
fn read_group(checker: &mut Checker, table: &dyn toml_edit::TableLike, index: usize) -> Option<GroupConfig> {
    let path = format!("group[{index}]");
    let mut fields = Fields::new(table, &path);
    let name = checker.required_string(&mut fields, "name");
    if let Some((name, offset)) = &name {
        if !is_group_name(name) {
            checker.problem(
                &format!("{path}.name"),
                *offset,
                format!("`{name}` must be 1-64 characters of letters, digits, `-` and `_`"),
            );
        }
    }
    let primary = checker
        .required_string(&mut fields, "primary")
        .and_then(|(text, offset)| checker.instance_id(&format!("{path}.primary"), &text, offset));
    let standbys = checker.string_array(&mut fields, "standbys", true).map(|items| {
        items
            .into_iter()
            .enumerate()
            .filter_map(|(i, (text, offset))| {
                checker.instance_id(&format!("{path}.standbys[{i}]"), &text, offset)
            })
            .collect::<Vec<_>>()
    });
    if let Some(list) = &standbys {
        if list.is_empty() {
            checker.problem(
                &format!("{path}.standbys"),
                fields.offset_of("standbys"),
                "needs at least one standby".to_owned(),
            );
        }
        let mut seen = BTreeSet::new();
        for standby in list {
            if !seen.insert(standby) {
                checker.problem(
                    &format!("{path}.standbys"),
                    fields.offset_of("standbys"),
                    format!("{standby} is listed twice"),
                );
            }
        }
        if let Some(primary) = &primary {
            if list.contains(primary) {
                checker.problem(
                    &format!("{path}.standbys"),
                    fields.offset_of("standbys"),
                    format!("{primary} is the primary; it cannot also be a standby"),
                );
            }
        }
    }
    let alarms = checker.string_array(&mut fields, "alarms", false).unwrap_or_default();
    for (i, (alarm, offset)) in alarms.iter().enumerate() {
        if alarm.is_empty() || alarm.len() > 255 {
            checker.problem(
                &format!("{path}.alarms[{i}]"),
                *offset,
                "an alarm name has 1-255 characters".to_owned(),
            );
        }
    }
    let ordering = checker.choice(
        &mut fields,
        "ordering",
        &[("fence-first", Ordering::FenceFirst), ("parallel", Ordering::Parallel)],
    );
    let fence = checker.choice(
        &mut fields,
        "fence",
        &[("stop", FenceMode::Stop), ("force-stop", FenceMode::ForceStop)],
    );
    let fail_over_on_insufficient_data =
        checker.boolean(&mut fields, "fail_over_on_insufficient_data").unwrap_or(false);
    let defaults = Timeouts::default();
    let mut seconds = |key: &str, default: Duration| {
        checker.seconds(&mut fields, key, 1..=MAX_TIMEOUT_SECONDS).unwrap_or(default)
    };
    let timeouts = Timeouts {
        stop: seconds("stop_timeout_seconds", defaults.stop),
        forced_stop: seconds("forced_stop_timeout_seconds", defaults.forced_stop),
        start: seconds("start_timeout_seconds", defaults.start),
        capacity_retry: seconds("capacity_retry_seconds", defaults.capacity_retry),
        failover: seconds("failover_timeout_seconds", defaults.failover),
    };
    let fence_takes = timeouts.fence(fence.unwrap_or_default());
    if timeouts.failover < fence_takes {
        let offset = ["failover_timeout_seconds", "stop_timeout_seconds", "forced_stop_timeout_seconds"]
            .into_iter()
            .find_map(|key| fields.offset_of(key));
        checker.problem(
            &format!("{path}.failover_timeout_seconds"),
            offset,
            format!(
                "{} s is shorter than the fence alone may take ({} s with these stop timeouts): a \
                 primary slow to stop would outlast the failover",
                timeouts.failover.as_secs(),
                fence_takes.as_secs()
            ),
        );
    }
    let alarm_names: Vec<String> = alarms.iter().map(|(alarm, _)| alarm.clone()).collect();
    // None: no alarm table; Some(None): an invalid one (its problems are recorded).
    let alarm: Option<Option<AlarmDefinition>> =
        fields.take("alarm").map(|item| match item.as_table_like() {
            Some(table) => {
                let context = alarm::AlarmContext {
                    group_path: &path,
                    group_name: name.as_ref().map(|(name, _)| name.as_str()),
                    alarm_names: &alarm_names,
                    primary: primary.as_ref(),
                };
                alarm::read_alarm(checker, table, &context)
            }
            None => {
                let offset = fields.offset_of("alarm");
                checker.problem(
                    &format!("{path}.alarm"),
                    offset,
                    "expected a table ([group.alarm])".to_owned(),
                );
                None
            }
        });
    let readiness = fields.take("readiness").map(|item| clients::read_readiness(checker, item, &path));
    let movers = fields.take("mover").map(|item| clients::read_movers(checker, item, &path));
    let when_not_ready = checker.choice(
        &mut fields,
        "when_not_ready",
        &[("keep-running", WhenNotReady::KeepRunning), ("stop", WhenNotReady::Stop)],
    );
    let members: Vec<InstanceId> = primary.iter().chain(standbys.iter().flatten()).cloned().collect();
    let unobservable = placement::read(checker, &mut fields, &path, &members);
    checker.unknown_keys(fields);

    let (name, _) = name?;
    let readiness: Option<Vec<_>> = readiness.unwrap_or_default().into_iter().collect();
    let movers: Option<Vec<_>> = movers.unwrap_or_default().into_iter().collect();
    let unobservable = unobservable?;
    let spec = GroupSpec {
        name,
        primary: primary?,
        standbys: standbys.filter(|list| !list.is_empty())?,
        ordering: ordering.unwrap_or_default(),
        fence: fence.unwrap_or_default(),
        timeouts,
        readiness: readiness?,
        movers: movers?,
        when_not_ready: when_not_ready.unwrap_or_default(),
        when_unobservable: unobservable.0,
        placement: unobservable.1,
    };
    let alarm = match alarm {
        Some(None) => return None,
        Some(Some(definition)) => Some(definition),
        None => None,
    };
    Some(GroupConfig { spec, alarms: alarm_names, alarm, fail_over_on_insufficient_data })
}

/// Checks across groups: unique names, and no instance in two groups.
fn cross_check(checker: &mut Checker, groups: &[GroupConfig]) {
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut owners: BTreeMap<InstanceId, &str> = BTreeMap::new();
    for (index, group) in groups.iter().enumerate() {
        let name = group.spec.name.as_str();
        if let Some(first) = names.get(name) {
            checker.problem(
                &format!("group[{index}].name"),
                None,
                format!("`{name}` is already the name of group[{first}]"),
            );
        } else {
            names.insert(name, index);
        }
        for member in group.spec.members() {
            if let Some(other) = owners.insert(member.clone(), name) {
                checker.problem(
                    &format!("group[{index}]"),
                    None,
                    format!("{member} is already in group `{other}`"),
                );
            }
        }
    }
}

pub(crate) fn is_region_name(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts.last().is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()))
}

fn is_group_name(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

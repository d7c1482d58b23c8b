//! A validated configuration written back as TOML: every setting explicit, no comments, in a
//! fixed order, so the same configuration always gives the same bytes (the CloudFormation
//! template puts this text in the function's environment).

use coldstandby_alarm::AlarmDefinition;
use coldstandby_engine::clients::{Mover, Probe, ReadinessCheck};
use coldstandby_engine::WhenUnobservable;
use toml_edit::{value, Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table};

use crate::{Config, GroupConfig, Provider};

/// `config` as TOML text that [`crate::parse`] reads back to an equal configuration.
pub fn to_toml(config: &Config) -> String {
    let mut document = DocumentMut::new();
    document["region"] = value(config.region.as_str());
    if !crate::regions::KNOWN.contains(&config.region.as_str()) {
        // It was accepted with this flag: the text must read back the same way.
        document["allow_unknown_region"] = value(true);
    }
    if config.provider == Provider::Sim {
        document["provider"] = value("sim");
    }
    document["check_every_alarm"] = value(config.check_every_alarm);
    if let Some(topic) = &config.notification_topic_arn {
        document["notification_topic_arn"] = value(topic.as_str());
    }
    if let Some(lease) = &config.lease {
        let mut table = Table::new();
        table["table"] = value(lease.table.as_str());
        table["duration_seconds"] = seconds(lease.duration);
        document["lease"] = Item::Table(table);
    }
    if config.watch != crate::WatchConfig::default() {
        let watch = &config.watch;
        let millis =
            |duration: std::time::Duration| value(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX));
        let mut table = Table::new();
        table["interval_ms"] = millis(watch.settings.interval);
        table["timeout_ms"] = millis(watch.settings.timeout);
        table["window"] = value(i64::from(watch.settings.window));
        table["failures"] = value(i64::from(watch.settings.failures));
        table["peer_timeout_ms"] = millis(watch.settings.peer_timeout);
        table["refresh_seconds"] = seconds(watch.settings.refresh);
        table["listen"] = value(watch.listen.to_string());
        table["peers"] = value(strings(watch.peers.iter().map(String::as_str)));
        document["watch"] = Item::Table(table);
    }
    let mut groups = ArrayOfTables::new();
    for group in &config.groups {
        groups.push(group_table(group));
    }
    document["group"] = Item::ArrayOfTables(groups);
    document.to_string()
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Array {
    items.into_iter().collect()
}

fn seconds(duration: std::time::Duration) -> Item {
    value(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX))
}

fn group_table(group: &GroupConfig) -> Table {
    let spec = &group.spec;
    let mut table = Table::new();
    table["name"] = value(spec.name.as_str());
    table["primary"] = value(spec.primary.as_str());
    table["standbys"] = value(strings(spec.standbys.iter().map(|id| id.as_str())));
    table["alarms"] = value(strings(group.alarms.iter().map(String::as_str)));
    table["fail_over_on_insufficient_data"] = value(group.fail_over_on_insufficient_data);
    table["ordering"] = value(spec.ordering.as_str());
    table["fence"] = value(spec.fence.as_str());
    table["stop_timeout_seconds"] = seconds(spec.timeouts.stop);
    table["forced_stop_timeout_seconds"] = seconds(spec.timeouts.forced_stop);
    table["start_timeout_seconds"] = seconds(spec.timeouts.start);
    table["capacity_retry_seconds"] = seconds(spec.timeouts.capacity_retry);
    table["failover_timeout_seconds"] = seconds(spec.timeouts.failover);
    table["when_not_ready"] = value(spec.when_not_ready.as_str());
    table["when_unobservable"] = value(spec.when_unobservable.as_str());
    if let WhenUnobservable::Isolate { network_acl } = &spec.when_unobservable {
        table["quarantine_network_acl"] = value(network_acl.as_str());
    }
    if !spec.placement.is_empty() {
        let mut placement = Table::new();
        for (member, place) in &spec.placement {
            let mut entry = InlineTable::new();
            entry.insert("zone", place.zone.as_str().into());
            if let Some(subnet) = &place.subnet {
                entry.insert("subnet", subnet.as_str().into());
            }
            placement[member.as_str()] = value(entry);
        }
        table["placement"] = Item::Table(placement);
    }
    if !spec.readiness.is_empty() {
        table["readiness"] = Item::ArrayOfTables(spec.readiness.iter().map(check_table).collect());
    }
    if !spec.movers.is_empty() {
        table["mover"] = Item::ArrayOfTables(spec.movers.iter().map(mover_table).collect());
    }
    if let Some(alarm) = &group.alarm {
        table["alarm"] = Item::Table(alarm_table(alarm));
    }
    table
}

fn check_table(check: &ReadinessCheck) -> Table {
    let mut table = Table::new();
    table["type"] = value(check.probe.kind());
    match &check.probe {
        Probe::Tcp { port } => table["port"] = value(i64::from(*port)),
        Probe::Http { port, path, status, body_contains } => {
            table["port"] = value(i64::from(*port));
            table["path"] = value(path.as_str());
            table["status"] = value(i64::from(*status));
            if let Some(body) = body_contains {
                table["body_contains"] = value(body.as_str());
            }
        }
        Probe::Ec2Status => {}
        Probe::TargetHealth { target_group } => table["target_group"] = value(target_group.as_str()),
    }
    table["successes"] = value(i64::from(check.successes));
    table["interval_seconds"] = seconds(check.interval);
    table["timeout_seconds"] = seconds(check.timeout);
    table
}

fn mover_table(mover: &Mover) -> Table {
    let mut table = Table::new();
    table["type"] = value(mover.kind());
    match mover {
        Mover::OverlayIp(overlay) => {
            table["address"] = value(overlay.address.as_str());
            table["route_tables"] = value(strings(overlay.route_tables.iter().map(String::as_str)));
        }
        Mover::Dns(dns) => {
            table["hosted_zone"] = value(dns.hosted_zone.as_str());
            table["record"] = value(dns.record.as_str());
            table["ttl"] = value(i64::from(dns.ttl));
        }
        Mover::TargetGroup(group) => {
            table["arn"] = value(group.arn.as_str());
            if let Some(port) = group.port {
                table["port"] = value(i64::from(port));
            }
            table["registration"] = value(if group.move_registration { "move" } else { "keep" });
        }
        Mover::ElasticIp(address) => table["allocation"] = value(address.allocation.as_str()),
    }
    table
}

fn alarm_table(alarm: &AlarmDefinition) -> Table {
    let mut table = Table::new();
    table["name"] = value(alarm.name.as_str());
    table["namespace"] = value(alarm.namespace.as_str());
    table["metric_name"] = value(alarm.metric_name.as_str());
    let mut dimensions = InlineTable::new();
    for (name, dimension) in &alarm.dimensions {
        dimensions.insert(name, dimension.as_str().into());
    }
    table["dimensions"] = value(dimensions);
    table["statistic"] = value(alarm.statistic.to_string());
    table["period_seconds"] = value(i64::from(alarm.period_seconds));
    table["evaluation_periods"] = value(i64::from(alarm.evaluation_periods));
    table["datapoints_to_alarm"] = value(i64::from(alarm.datapoints_to_alarm));
    table["threshold"] = value(alarm.threshold);
    table["comparison_operator"] = value(alarm.comparison.as_str());
    table["treat_missing_data"] = value(alarm.treat_missing_data.as_str());
    table["evaluation_range"] = value(i64::from(alarm.evaluation_range));
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../examples/coldstandby.toml");

    #[test]
    fn the_example_round_trips_to_an_equal_configuration() {
        let config = crate::parse(EXAMPLE, "example").unwrap();
        let text = to_toml(&config);
        assert_eq!(crate::parse(&text, "rendered").unwrap(), config, "rendered:\n{text}");
        assert!(!text.contains('#'), "comments are not carried over");
    }

    #[test]
    fn readiness_checks_and_movers_round_trip() {
        let config = crate::parse(include_str!("../../../examples/clients.toml"), "clients").unwrap();
        let spec = &config.groups[0].spec;
        assert_eq!((spec.readiness.len(), spec.movers.len()), (2, 3));
        let text = to_toml(&config);
        assert_eq!(crate::parse(&text, "rendered").unwrap(), config, "rendered:\n{text}");
    }

    #[test]
    fn placement_and_the_isolate_policy_round_trip() {
        let config = crate::parse(include_str!("../../../examples/az-outage.toml"), "az-outage").unwrap();
        let spec = &config.groups[0].spec;
        assert_eq!(spec.when_unobservable.as_str(), "isolate");
        assert_eq!(spec.placement.len(), 2);
        let lease = config.lease.as_ref().unwrap();
        assert_eq!((lease.table.as_str(), lease.duration.as_secs()), ("coldstandby-leases", 20));
        let text = to_toml(&config);
        assert_eq!(crate::parse(&text, "rendered").unwrap(), config, "rendered:\n{text}");
    }

    #[test]
    fn rendering_is_deterministic_and_keeps_every_setting() {
        let config = crate::parse(EXAMPLE, "example").unwrap();
        assert_eq!(to_toml(&config), to_toml(&config));
        let text = to_toml(&config);
        for key in ["ordering = \"parallel\"", "failover_timeout_seconds = 840", "threshold = 50"] {
            assert!(text.contains(key), "{key} missing from:\n{text}");
        }
    }
}

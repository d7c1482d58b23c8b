//! A group's `[[group.readiness]]` checks and `[[group.mover]]` tables: what must pass on the
//! promoted member, and how clients are moved to it. Each id is checked for its AWS shape here,
//! so a typo is reported with its line before anything runs.

use std::net::Ipv4Addr;

use coldstandby_engine::clients::{Dns, ElasticIp, Mover, OverlayIp, Probe, ReadinessCheck, TargetGroup};

use crate::check::{Checker, Fields};

/// The longest a readiness check may take: the Lambda function's own limit is 900 s.
const MAX_CHECK_SECONDS: u64 = 900;

/// Read every `[[group.readiness]]` table; None entries were invalid (problems recorded).
pub(crate) fn read_readiness(
    checker: &mut Checker,
    item: &toml_edit::Item,
    group_path: &str,
) -> Vec<Option<ReadinessCheck>> {
    let key = format!("{group_path}.readiness");
    let tables = checker.array_of_tables(item, &key, "[[group.readiness]] tables");
    let checks: Vec<Option<ReadinessCheck>> = tables
        .into_iter()
        .enumerate()
        .map(|(index, table)| read_check(checker, table, &format!("{key}[{index}]")))
        .collect();
    refuse_repeats(checker, &key, &checks, |check| check.probe.to_string());
    checks
}

/// A check or mover listed twice is a problem at its second place: the engine matches answers to
/// them by value, so each may appear once. Two are the same when `describe` says they are.
fn refuse_repeats<T>(checker: &mut Checker, key: &str, items: &[Option<T>], describe: impl Fn(&T) -> String) {
    for (index, item) in items.iter().enumerate() {
        let Some(item) = item else { continue };
        let text = describe(item);
        if items[..index].iter().flatten().any(|earlier| describe(earlier) == text) {
            checker.problem(&format!("{key}[{index}]"), None, format!("`{text}` is already listed above"));
        }
    }
}

fn read_check(checker: &mut Checker, table: &dyn toml_edit::TableLike, path: &str) -> Option<ReadinessCheck> {
    let mut fields = Fields::new(table, path);
    let kind = checker.required_string(&mut fields, "type");
    let probe = kind.and_then(|(kind, offset)| match kind.as_str() {
        "tcp" => Some(Probe::Tcp { port: port(checker, &mut fields, true)? }),
        "http" => {
            let port = port(checker, &mut fields, true);
            let path_value =
                checker.string(&mut fields, "path").map_or_else(|| "/".to_owned(), |(text, _)| text);
            if !path_value.starts_with('/') {
                checker.problem(
                    &fields.key_path("path"),
                    fields.offset_of("path"),
                    "a path starts with `/`".to_owned(),
                );
            }
            let status = checker.whole(&mut fields, "status", 100..=599).unwrap_or(200);
            let body_contains = checker.string(&mut fields, "body_contains").map(|(text, _)| text);
            let status = u16::try_from(status).ok()?;
            Some(Probe::Http { port: port?, path: path_value, status, body_contains })
        }
        "ec2-status" => Some(Probe::Ec2Status),
        "target-health" => {
            let (arn, offset) = checker.required_string(&mut fields, "target_group")?;
            target_group_arn(checker, &fields.key_path("target_group"), &arn, offset)?;
            Some(Probe::TargetHealth { target_group: arn })
        }
        other => {
            let message = format!("`{other}` is not one of `tcp`, `http`, `ec2-status`, `target-health`");
            checker.problem(&fields.key_path("type"), offset, message);
            None
        }
    });
    let successes = checker.whole(&mut fields, "successes", 1..=100).unwrap_or(ReadinessCheck::SUCCESSES);
    let interval =
        checker.seconds(&mut fields, "interval_seconds", 1..=60).unwrap_or(ReadinessCheck::INTERVAL);
    let timeout = checker
        .seconds(&mut fields, "timeout_seconds", 1..=MAX_CHECK_SECONDS)
        .unwrap_or(ReadinessCheck::TIMEOUT);
    if interval * successes > timeout {
        let message = format!(
            "{successes} passes {} s apart cannot fit in timeout_seconds = {}",
            interval.as_secs(),
            timeout.as_secs()
        );
        checker.problem(path, None, message);
    }
    checker.unknown_keys(fields);
    Some(ReadinessCheck { probe: probe?, successes, interval, timeout })
}

fn port(checker: &mut Checker, fields: &mut Fields<'_>, required: bool) -> Option<u16> {
    if required && !fields.has("port") {
        checker.problem(&fields.key_path("port"), None, "missing (required)".to_owned());
        return None;
    }
    checker.whole(fields, "port", 1..=65_535).and_then(|port| u16::try_from(port).ok())
}

/// Read every `[[group.mover]]` table; None entries were invalid (problems recorded).
pub(crate) fn read_movers(
    checker: &mut Checker,
    item: &toml_edit::Item,
    group_path: &str,
) -> Vec<Option<Mover>> {
    let key = format!("{group_path}.mover");
    let tables = checker.array_of_tables(item, &key, "[[group.mover]] tables");
    let movers: Vec<Option<Mover>> = tables
        .into_iter()
        .enumerate()
        .map(|(index, table)| read_mover(checker, table, &format!("{key}[{index}]")))
        .collect();
    refuse_repeats(checker, &key, &movers, ToString::to_string);
    movers
}

fn read_mover(checker: &mut Checker, table: &dyn toml_edit::TableLike, path: &str) -> Option<Mover> {
    let mut fields = Fields::new(table, path);
    let mover = mover_fields(checker, &mut fields);
    checker.unknown_keys(fields);
    mover
}

/// The mover's own keys, by its type (None when any is invalid; problems recorded).
#[expect(clippy::too_many_lines, reason = "one checked read per mover kind's keys")]
fn mover_fields(checker: &mut Checker, fields: &mut Fields<'_>) -> Option<Mover> {
    let (kind, offset) = checker.required_string(fields, "type")?;
    match kind.as_str() {
        "overlay-ip" => {
            let address = checker.required_string(fields, "address").and_then(|(text, offset)| {
                overlay_address(checker, &fields.key_path("address"), &text, offset)
            });
            let tables = checker.string_array(fields, "route_tables", true).unwrap_or_default();
            if tables.is_empty() {
                checker.problem(
                    &fields.key_path("route_tables"),
                    None,
                    "needs at least one route table".to_owned(),
                );
            }
            for (index, (table, offset)) in tables.iter().enumerate() {
                if !aws_id(table, "rtb-") {
                    let key = format!("{}[{index}]", fields.key_path("route_tables"));
                    checker.problem(
                        &key,
                        *offset,
                        format!("`{table}` is not a route table id (rtb- and hex digits)"),
                    );
                }
            }
            let route_tables = tables.into_iter().map(|(table, _)| table).collect();
            address.map(|address| Mover::OverlayIp(OverlayIp { address, route_tables }))
        }
        "dns" => {
            // As Route 53 shows it: capital letters and digits (ours start with Z, but AWS does
            // not promise that), with or without the `/hostedzone/` prefix of its API answers.
            let zone = checker
                .required_string(fields, "hosted_zone")
                .map(|(zone, offset)| (zone.trim_start_matches("/hostedzone/").to_owned(), offset));
            if let Some((zone, offset)) = &zone {
                let valid = (1..=32).contains(&zone.len())
                    && zone.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
                if !valid {
                    let message = format!(
                        "`{zone}` is not a hosted zone id (capital letters and digits, as Route 53 shows it)"
                    );
                    checker.problem(&fields.key_path("hosted_zone"), *offset, message);
                }
            }
            let record = checker.required_string(fields, "record").map(|(name, _)| {
                if name.ends_with('.') {
                    name
                } else {
                    format!("{name}.")
                }
            });
            let ttl = checker.whole(fields, "ttl", 0..=86_400).unwrap_or(10);
            Some(Mover::Dns(Dns { hosted_zone: zone?.0, record: record?, ttl }))
        }
        "target-group" => {
            let arn = checker.required_string(fields, "arn").and_then(|(arn, offset)| {
                target_group_arn(checker, &fields.key_path("arn"), &arn, offset).map(|()| arn)
            });
            let port = port(checker, fields, false);
            let registration = checker.choice(fields, "registration", &[("keep", false), ("move", true)]);
            Some(Mover::TargetGroup(TargetGroup {
                arn: arn?,
                port,
                move_registration: registration.unwrap_or(false),
            }))
        }
        "elastic-ip" => {
            let allocation = checker.required_string(fields, "allocation")?;
            if !aws_id(&allocation.0, "eipalloc-") {
                let message =
                    format!("`{}` is not an allocation id (eipalloc- and hex digits)", allocation.0);
                checker.problem(&fields.key_path("allocation"), allocation.1, message);
            }
            Some(Mover::ElasticIp(ElasticIp { allocation: allocation.0 }))
        }
        other => {
            let message =
                format!("`{other}` is not one of `overlay-ip`, `dns`, `target-group`, `elastic-ip`");
            checker.problem(&fields.key_path("type"), offset, message);
            None
        }
    }
}

/// An overlay address: one IPv4 address, as `a.b.c.d/32` (or bare, which means the same).
fn overlay_address(checker: &mut Checker, key: &str, text: &str, offset: Option<usize>) -> Option<String> {
    let (address, prefix) = text.split_once('/').unwrap_or((text, "32"));
    if prefix != "32" || address.parse::<Ipv4Addr>().is_err() {
        checker.problem(
            key,
            offset,
            format!("`{text}` is not one IPv4 address as a /32 (e.g. 10.255.0.10/32)"),
        );
        return None;
    }
    Some(format!("{address}/32"))
}

fn target_group_arn(checker: &mut Checker, key: &str, arn: &str, offset: Option<usize>) -> Option<()> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let valid = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "elasticloadbalancing"
        && parts[5].starts_with("targetgroup/");
    if !valid {
        let message = format!("`{arn}` is not a target group ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)");
        checker.problem(key, offset, message);
        return None;
    }
    Some(())
}

/// `prefix` followed by 8 or 17 lowercase hex digits.
fn aws_id(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The readiness checks that need a network path to the member's private address.
pub fn network_checks(checks: &[ReadinessCheck]) -> impl Iterator<Item = &ReadinessCheck> {
    checks.iter().filter(|check| check.probe.needs_network_path())
}

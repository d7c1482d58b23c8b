//! A group's `[group.placement]` (each member's Availability Zone and subnet, for when its zone
//! cannot answer a describe) and its `when_unobservable` policy with the quarantine network ACL
//! that `isolate` needs.

use std::collections::BTreeMap;

use coldstandby_engine::{InstanceId, Placement, WhenUnobservable};

use crate::check::{Checker, Fields};

/// Read `when_unobservable`, `quarantine_network_acl` and `[group.placement]` from a group's
/// fields. None: something was invalid (problems recorded).
pub(crate) fn read(
    checker: &mut Checker,
    fields: &mut Fields<'_>,
    path: &str,
    members: &[InstanceId],
) -> Option<(WhenUnobservable, BTreeMap<InstanceId, Placement>)> {
    let given = fields.has("when_unobservable");
    let policy = checker.choice(fields, "when_unobservable", &[("fail-closed", false), ("isolate", true)]);
    let acl_offset = fields.offset_of("quarantine_network_acl");
    let acl = checker.string(fields, "quarantine_network_acl").map(|(text, _)| text);
    if let Some(acl) = &acl {
        if !is_aws_id(acl, "acl-") {
            let message = format!("`{acl}` is not a network ACL id (acl- and 8 or 17 hex digits)");
            checker.problem(&fields.key_path("quarantine_network_acl"), acl_offset, message);
        }
    }
    let placement_offset = fields.offset_of("placement");
    let placement = fields.take("placement").map(|item| read_placement(checker, item, path, members));
    let placement = match placement {
        Some(Some(placement)) => placement,
        Some(None) => return None,
        None => BTreeMap::new(),
    };
    let isolate = policy.unwrap_or(false);
    if isolate {
        if acl.is_none() {
            let message = "`isolate` needs the deny-all network ACL to move the subnet onto".to_owned();
            checker.problem(&fields.key_path("quarantine_network_acl"), None, format!("missing ({message})"));
        }
        let without: Vec<&str> = members
            .iter()
            .filter(|member| placement.get(*member).is_none_or(|p| p.subnet.is_none()))
            .map(InstanceId::as_str)
            .collect();
        if !without.is_empty() {
            let message = format!(
                "`isolate` needs every member's subnet (missing for {}): {}",
                without.join(", "),
                "a member whose zone does not answer cannot be asked for it"
            );
            checker.problem(&format!("{path}.placement"), placement_offset, message);
        }
    } else if acl.is_some() {
        let message = "is used only with `when_unobservable = \"isolate\"`".to_owned();
        checker.problem(&fields.key_path("quarantine_network_acl"), acl_offset, message);
    }
    if given && policy.is_none() {
        return None;
    }
    let policy = match acl {
        Some(network_acl) if isolate => WhenUnobservable::Isolate { network_acl },
        _ if isolate => return None,
        _ => WhenUnobservable::FailClosed,
    };
    Some((policy, placement))
}

fn read_placement(
    checker: &mut Checker,
    item: &toml_edit::Item,
    path: &str,
    members: &[InstanceId],
) -> Option<BTreeMap<InstanceId, Placement>> {
    let key = format!("{path}.placement");
    let Some(table) = item.as_table_like() else {
        let offset = item.span().map(|span| span.start);
        checker.problem(&key, offset, "expected a table ([group.placement])".to_owned());
        return None;
    };
    let mut placement = BTreeMap::new();
    let mut valid = true;
    for (member_text, value) in table.iter() {
        let member_key = format!("{key}.\"{member_text}\"");
        let offset = value.span().map(|span| span.start);
        let Some(member) = checker.instance_id(&member_key, member_text, offset) else {
            valid = false;
            continue;
        };
        if !members.contains(&member) {
            checker.problem(&member_key, offset, format!("{member} is not a member of this group"));
            valid = false;
            continue;
        }
        let Some(inner) = value.as_table_like() else {
            let message = "expected { zone = \"...\", subnet = \"...\" }".to_owned();
            checker.problem(&member_key, offset, message);
            valid = false;
            continue;
        };
        let mut fields = Fields::new(inner, &member_key);
        let zone = checker.required_string(&mut fields, "zone");
        if let Some((zone, offset)) = &zone {
            if !is_zone_name(zone) {
                let message = format!("`{zone}` is not an Availability Zone name (like ap-northeast-1a)");
                checker.problem(&fields.key_path("zone"), *offset, message);
                valid = false;
            }
        }
        let subnet = checker.string(&mut fields, "subnet");
        if let Some((subnet, offset)) = &subnet {
            if !is_aws_id(subnet, "subnet-") {
                let message = format!("`{subnet}` is not a subnet id (subnet- and 8 or 17 hex digits)");
                checker.problem(&fields.key_path("subnet"), *offset, message);
                valid = false;
            }
        }
        checker.unknown_keys(fields);
        let Some((zone, _)) = zone else {
            valid = false;
            continue;
        };
        placement.insert(member, Placement { zone, subnet: subnet.map(|(subnet, _)| subnet) });
    }
    valid.then_some(placement)
}

/// `ap-northeast-1a`: a Region name followed by one lowercase letter.
fn is_zone_name(text: &str) -> bool {
    let Some(region) = text.strip_suffix(|c: char| c.is_ascii_lowercase()) else { return false };
    crate::is_region_name(region)
}

/// `prefix` and 8 or 17 lowercase hex digits.
fn is_aws_id(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17) && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_are_a_region_and_a_letter() {
        assert!(is_zone_name("ap-northeast-1a"));
        assert!(is_zone_name("us-east-1f"));
        for bad in ["ap-northeast-1", "ap-northeast-1A", "apne1-az1", "ap-northeast-1ab", ""] {
            assert!(!is_zone_name(bad), "{bad}");
        }
    }

    #[test]
    fn ids_have_their_prefix_and_8_or_17_hex_digits() {
        assert!(is_aws_id("acl-0123abcd", "acl-"));
        assert!(is_aws_id("subnet-0123456789abcdef0", "subnet-"));
        for bad in ["acl-0123abc", "acl-0123ABCD", "subnet-0123abcd", "acl-0123abcdg"] {
            assert!(!is_aws_id(bad, "acl-"), "{bad}");
        }
    }
}

//! The optional `[lease]` table: the DynamoDB table that holds each group's lease, and how long
//! a lease lasts.

use std::time::Duration;

use coldstandby_engine::lease::DEFAULT_DURATION;

use crate::check::{Checker, Fields};

/// Where groups' leases are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    /// The DynamoDB table (partition key `group`, a string).
    pub table: String,
    /// How long a holder's right lasts after each renewal; a crashed holder's groups wait this
    /// long before another process takes them over.
    pub duration: Duration,
}

impl LeaseConfig {
    /// The engine's lease settings for the process called `owner`.
    pub fn settings(&self, owner: &str) -> coldstandby_engine::lease::LeaseSettings {
        coldstandby_engine::lease::LeaseSettings {
            table: self.table.clone(),
            owner: owner.to_owned(),
            duration: self.duration,
        }
    }
}

/// The shortest and longest lease: shorter renews too often to ride out a slow write, longer
/// keeps a crashed holder's groups waiting for minutes.
const DURATION_SECONDS: std::ops::RangeInclusive<u64> = 5..=300;

/// Read `[lease]` from the top-level fields, if present. None also when invalid (problems
/// recorded).
pub(crate) fn read(checker: &mut Checker, root: &mut Fields<'_>) -> Option<LeaseConfig> {
    let item = root.take("lease")?;
    let offset = item.span().map(|span| span.start);
    let Some(table) = item.as_table_like() else {
        checker.problem("lease", offset, "expected a table ([lease])".to_owned());
        return None;
    };
    let mut fields = Fields::new(table, "lease");
    let name = checker.required_string(&mut fields, "table");
    if let Some((name, offset)) = &name {
        if !is_table_name(name) {
            let message =
                format!("`{name}` is not a DynamoDB table name (3-255 of letters, digits, `_`, `-`, `.`)");
            checker.problem("lease.table", *offset, message);
        }
    }
    let duration =
        checker.seconds(&mut fields, "duration_seconds", DURATION_SECONDS).unwrap_or(DEFAULT_DURATION);
    checker.unknown_keys(fields);
    let (table, _) = name?;
    is_table_name(&table).then_some(LeaseConfig { table, duration })
}

fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    const GROUP: &str = "[[group]]\nname = \"web\"\nprimary = \"i-0123456789abcdef0\"\nstandbys = [\"i-0123456789abcdef1\"]\n";

    fn problems(lease: &str) -> Vec<String> {
        let text = format!("region = \"ap-northeast-1\"\n{lease}\n{GROUP}");
        match crate::parse(&text, "test.toml") {
            Ok(_) => Vec::new(),
            Err(error) => error.problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_lease_needs_a_table_and_defaults_its_duration() {
        let text = format!("region = \"ap-northeast-1\"\n[lease]\ntable = \"leases\"\n{GROUP}");
        let lease = crate::parse(&text, "test.toml").unwrap().lease.unwrap();
        assert_eq!((lease.table.as_str(), lease.duration), ("leases", super::DEFAULT_DURATION));
        let without = format!("region = \"ap-northeast-1\"\n{GROUP}");
        assert_eq!(crate::parse(&without, "test.toml").unwrap().lease, None);
    }

    #[test]
    fn bad_lease_settings_are_named_with_their_key_and_where_present_their_line() {
        let cases = [
            ("[lease]\nduration_seconds = 20", "lease.table"),
            ("[lease]\ntable = \"a b\"", "is not a DynamoDB table name"),
            ("[lease]\ntable = \"leases\"\nduration_seconds = 2", "out of range (5 to 300 seconds)"),
            ("[lease]\ntable = \"leases\"\nttl = true", "lease.ttl"),
            ("lease = \"leases\"", "expected a table ([lease])"),
        ];
        for (lease, expected) in cases {
            let found = problems(lease);
            assert!(found.iter().any(|problem| problem.contains(expected)), "{lease}: {found:?}");
            let missing = expected == "lease.table";
            assert!(missing || found.iter().all(|problem| problem.contains("line")), "{lease}: {found:?}");
        }
    }
}

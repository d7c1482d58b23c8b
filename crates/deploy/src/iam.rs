//! Evaluating IAM identity-policy documents for one request, for when the IAM policy simulator
//! cannot be used. Covers what coldstandby's own policies use: Action / NotAction, Resource /
//! NotResource wildcards, and the String, Arn and Bool condition operators with the
//! ForAllValues / ForAnyValue set prefixes and IfExists. Anything else is reported undecided.

use std::collections::BTreeMap;

use serde_json::Value;

/// What is asked: may the role call `action` on `resource`, with these request context keys?
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub action: String,
    pub resource: String,
    /// Context keys (lower-case) and their values, e.g. `aws:tagkeys`.
    pub context: BTreeMap<String, Vec<String>>,
}

/// The answer, in the IAM policy simulator's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
    /// A matching statement uses something this evaluator does not model.
    Undecided(Unmodelled),
}

/// Something in a statement this evaluator does not model, so it cannot decide.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unmodelled {
    #[error("condition {operator} is not a map")]
    MalformedCondition { operator: String },
    #[error("condition operator {operator} is not evaluated here")]
    ConditionOperator { operator: String },
    /// The IAM policy simulator gave a decision this module does not know.
    #[error("the simulator answered {decision}")]
    SimulatorDecision { decision: String },
}

/// Evaluate `request` against the policy documents (JSON) attached to one role.
pub fn evaluate(documents: &[Value], request: &Request) -> Decision {
    let mut allowed = false;
    let mut undecided = None;
    for statement in documents.iter().flat_map(statements) {
        let deny = match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow") => false,
            Some("Deny") => true,
            _ => continue,
        };
        match applies(statement, request) {
            Ok(false) => {}
            Ok(true) if deny => return Decision::ExplicitDeny,
            Ok(true) => allowed = true,
            Err(reason) => undecided = Some(reason),
        }
    }
    match (allowed, undecided) {
        (_, Some(reason)) => Decision::Undecided(reason),
        (true, None) => Decision::Allowed,
        (false, None) => Decision::ImplicitDeny,
    }
}

/// A policy document's statements, whether `Statement` is a list or a single object.
pub(crate) fn statements(document: &Value) -> Vec<&Value> {
    match document.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    }
}

/// A policy element as strings: one string, a list, or a boolean or number condition value.
pub(crate) fn texts(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().flat_map(|item| texts(Some(item))).collect(),
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Bool(flag)) => vec![flag.to_string()],
        Some(Value::Number(number)) => vec![number.to_string()],
        _ => Vec::new(),
    }
}

/// Whether the statement matches the request; Err when that cannot be told.
fn applies(statement: &Value, request: &Request) -> Result<bool, Unmodelled> {
    let action_matches = |patterns: Vec<String>| {
        patterns.iter().any(|p| wildcard_match(&p.to_ascii_lowercase(), &request.action.to_ascii_lowercase()))
    };
    let resource_matches =
        |patterns: Vec<String>| patterns.iter().any(|p| wildcard_match(p, &request.resource));
    let action = match (statement.get("Action"), statement.get("NotAction")) {
        (Some(list), _) => action_matches(texts(Some(list))),
        (None, Some(list)) => !action_matches(texts(Some(list))),
        (None, None) => false,
    };
    let resource = match (statement.get("Resource"), statement.get("NotResource")) {
        (Some(list), _) => resource_matches(texts(Some(list))),
        (None, Some(list)) => !resource_matches(texts(Some(list))),
        (None, None) => false,
    };
    if !(action && resource) {
        return Ok(false);
    }
    let Some(conditions) = statement.get("Condition").and_then(Value::as_object) else { return Ok(true) };
    for (operator, tests) in conditions {
        let Some(tests) = tests.as_object() else {
            return Err(Unmodelled::MalformedCondition { operator: operator.clone() });
        };
        for (key, expected) in tests {
            let present = request.context.get(&key.to_ascii_lowercase());
            if !condition_holds(operator, present, &texts(Some(expected)))? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn condition_holds(
    operator: &str,
    present: Option<&Vec<String>>,
    expected: &[String],
) -> Result<bool, Unmodelled> {
    let (set, rest) = match operator.split_once(':') {
        Some((set @ ("ForAllValues" | "ForAnyValue"), rest)) => (Some(set), rest),
        _ => (None, operator),
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let single: fn(&str, &str) -> bool = match base {
        "StringEquals" | "ArnEquals" | "Bool" => |pattern, value| pattern == value,
        "StringEqualsIgnoreCase" => |pattern, value| pattern.eq_ignore_ascii_case(value),
        "StringLike" | "ArnLike" => wildcard_match,
        "StringNotEquals" | "ArnNotEquals" => |pattern, value| pattern != value,
        "StringNotLike" | "ArnNotLike" => |pattern, value| !wildcard_match(pattern, value),
        other => return Err(Unmodelled::ConditionOperator { operator: other.to_owned() }),
    };
    let negated = base.contains("Not");
    let value_ok = |value: &String| {
        if negated {
            expected.iter().all(|pattern| single(pattern, value))
        } else {
            expected.iter().any(|pattern| single(pattern, value))
        }
    };
    Ok(match (set, present) {
        (Some("ForAllValues"), None) => true,
        (Some("ForAllValues"), Some(values)) => values.iter().all(value_ok),
        (Some(_), None) => false,
        (Some(_), Some(values)) => values.iter().any(value_ok),
        (None, None) => if_exists,
        (None, Some(values)) => values.iter().any(value_ok),
    })
}

/// IAM's wildcards: `*` any run of characters, `?` any one.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            backtrack = Some((p, t));
            p += 1;
        } else if let Some((star, matched)) = backtrack {
            p = star + 1;
            t = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(action: &str, resource: &str, tag_keys: &[&str]) -> Request {
        let mut context = BTreeMap::new();
        if !tag_keys.is_empty() {
            context.insert("aws:tagkeys".to_owned(), tag_keys.iter().map(|k| (*k).to_owned()).collect());
        }
        Request { action: action.to_owned(), resource: resource.to_owned(), context }
    }

    const INSTANCE: &str = "arn:aws:ec2:ap-northeast-1:111122223333:instance/i-0a1b2c3d4e5f60718";

    fn policy() -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"},
            {"Effect": "Allow", "Action": ["ec2:StartInstances", "ec2:StopInstances"], "Resource": [INSTANCE]},
            {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "arn:aws:ec2:*:*:instance/*",
             "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["coldstandby:role", "coldstandby:trigger"]}}}
        ]})
    }

    #[test]
    fn actions_resources_and_tag_conditions_decide() {
        let documents = [policy()];
        assert_eq!(evaluate(&documents, &request("ec2:describeinstances", "*", &[])), Decision::Allowed);
        assert_eq!(evaluate(&documents, &request("ec2:StopInstances", INSTANCE, &[])), Decision::Allowed);
        let other = INSTANCE.replace("i-0a1b", "i-0fff");
        assert_eq!(evaluate(&documents, &request("ec2:StopInstances", &other, &[])), Decision::ImplicitDeny);
        assert_eq!(
            evaluate(&documents, &request("ec2:CreateTags", INSTANCE, &["coldstandby:role"])),
            Decision::Allowed
        );
        assert_eq!(
            evaluate(&documents, &request("ec2:CreateTags", INSTANCE, &["coldstandby:role", "Name"])),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn an_explicit_deny_wins_and_unknown_operators_are_undecided() {
        let deny = json!({"Statement": {"Effect": "Deny", "Action": "ec2:Stop*", "Resource": "*"}});
        assert_eq!(
            evaluate(&[policy(), deny], &request("ec2:StopInstances", INSTANCE, &[])),
            Decision::ExplicitDeny
        );
        let odd = json!({"Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*",
            "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}}]});
        assert!(matches!(
            evaluate(&[odd], &request("ec2:StartInstances", INSTANCE, &[])),
            Decision::Undecided(_)
        ));
    }

    #[test]
    fn wildcards_match_like_iam() {
        assert!(wildcard_match("ec2:*", "ec2:StartInstances"));
        assert!(wildcard_match("arn:aws:ec2:*:*:instance/i-?a*", "arn:aws:ec2:x:1:instance/i-0abc"));
        assert!(!wildcard_match("ec2:Start*", "ec2:StopInstances"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("a*b", "acbc"));
    }
}

//! doctor's checks of the alarms the groups list: they exist, name the function among their
//! actions (INSUFFICIENT_DATA's too where a group fails over on it), and may invoke it.

use serde_json::Value;

use crate::doctor::{check, AlarmFacts, Check, Context, Facts, FunctionFacts, Status, LOOKUP_FIX};
use crate::iam::{statements, texts, wildcard_match};
use crate::policy;
use crate::template::ALARM_PRINCIPAL;

/// The ARN an alarm has (or will have) in this account.
pub(crate) fn alarm_arn(context: &Context<'_>, facts: &Facts, name: &str) -> Option<String> {
    if let Ok(Some(alarm)) = facts.alarms.as_ref().map(|alarms| alarms.get(name)) {
        return Some(alarm.arn.clone());
    }
    let account = facts.account.as_ref()?;
    Some(policy::alarm_arn(&facts.partition, &context.config.region, account, name))
}

#[expect(
    clippy::too_many_lines,
    reason = "each alarm's checks in the order doctor prints them; split per check when next touched"
)]
pub(crate) fn alarm_checks(
    context: &Context<'_>,
    facts: &Facts,
    name: &str,
    function: Option<&FunctionFacts>,
) -> Vec<Check> {
    let subject = format!("alarm {name}");
    let mut checks = Vec::new();
    if let Some(function) = function {
        checks.push(permission_check(
            &subject,
            function,
            alarm_arn(context, facts, name).as_deref(),
            facts.account.as_deref(),
        ));
    }
    let alarms = match &facts.alarms {
        Ok(alarms) => alarms,
        Err(reason) => {
            checks.push(check(
                &subject,
                "defined",
                Status::Fail,
                format!("could not describe alarms: {reason}"),
                Some(LOOKUP_FIX.to_owned()),
            ));
            return checks;
        }
    };
    let Some(alarm) = alarms.get(name) else {
        let defined_here =
            context.config.groups.iter().any(|g| g.alarm.as_ref().is_some_and(|a| a.name == name));
        let fix = if defined_here {
            "deploy the template: it creates this alarm from the group's [group.alarm] table".to_owned()
        } else {
            "create it (aws cloudwatch put-metric-alarm ...), or define it in the group's [group.alarm] table and deploy the template".to_owned()
        };
        checks.push(check(
            &subject,
            "defined",
            Status::Fail,
            format!("no alarm named {name} in {}", context.config.region),
            Some(fix),
        ));
        return checks;
    };
    checks.push(check(&subject, "defined", Status::Pass, alarm.arn.clone(), None));

    if let Some(function) = function {
        if let Some(action_check) = insufficient_data_check(context, &subject, name, alarm, function) {
            checks.push(action_check);
        }
        let invokes = alarm.alarm_actions.iter().any(|action| same_function(action, &function.arn));
        let stop_actions: Vec<&String> = alarm
            .alarm_actions
            .iter()
            .filter(|a| a.contains(":automate:") && a.ends_with(":ec2:stop"))
            .collect();
        checks.push(if !invokes {
            check(
                &subject,
                "alarm action",
                Status::Fail,
                format!("its alarm actions ({}) do not include {}", alarm.alarm_actions.join(", "), function.arn),
                Some(format!(
                    "add {} to the alarm's actions (put-metric-alarm replaces the whole alarm: repeat its settings), or define the alarm in [group.alarm] and deploy the template",
                    function.arn
                )),
            )
        } else if !alarm.actions_enabled {
            check(
                &subject,
                "alarm action",
                Status::Fail,
                "its actions are disabled: the function is never invoked".into(),
                Some(format!("aws cloudwatch enable-alarm-actions --alarm-names {name}")),
            )
        } else if !stop_actions.is_empty() {
            check(
                &subject,
                "alarm action",
                Status::Warn,
                "invokes the function, and also has an EC2 stop action: the two run in no order; the function stops the primary itself, in order".into(),
                Some("remove the EC2 stop action from the alarm".into()),
            )
        } else {
            check(&subject, "alarm action", Status::Pass, format!("invokes {}", function.arn), None)
        });
    }

    for group in context.config.groups.iter().filter(|g| g.alarms.iter().any(|a| a == name)) {
        let primary = group.spec.primary.as_str();
        let watched = alarm.metric.as_ref().and_then(|metric| metric.dimensions.get("InstanceId"));
        checks.push(match watched {
            Some(instance) if instance == primary => check(
                &subject,
                "watches the primary",
                Status::Pass,
                format!("{} of {primary} (group {})", alarm.metric.as_ref().map_or("", |m| m.name.as_str()), group.spec.name),
                None,
            ),
            Some(instance) => check(
                &subject,
                "watches the primary",
                Status::Fail,
                format!("watches {instance}, not group {}'s primary {primary}: the function refuses such events", group.spec.name),
                Some(format!("point the alarm's InstanceId dimension at {primary}")),
            ),
            None => check(
                &subject,
                "watches the primary",
                Status::Warn,
                format!("has no InstanceId dimension (composite, math or aggregate alarm): cannot tell whether it watches {primary}"),
                None,
            ),
        });
    }
    checks
}

/// For an alarm a group fails over on in INSUFFICIENT_DATA too: the function must be among that
/// state's actions, or the silence the group opted into never reaches it.
pub(crate) fn insufficient_data_check(
    context: &Context<'_>,
    subject: &str,
    name: &str,
    alarm: &AlarmFacts,
    function: &FunctionFacts,
) -> Option<Check> {
    let groups: Vec<&str> = context
        .config
        .groups_for_alarm(name)
        .into_iter()
        .filter(|group| group.fail_over_on_insufficient_data)
        .map(|group| group.spec.name.as_str())
        .collect();
    if groups.is_empty() {
        return None;
    }
    let invoked = alarm.insufficient_data_actions.iter().any(|action| same_function(action, &function.arn));
    Some(if invoked {
        check(subject, "insufficient-data action", Status::Pass, format!("invokes {}", function.arn), None)
    } else {
        check(
            subject,
            "insufficient-data action",
            Status::Fail,
            format!(
                "group {} fails over on INSUFFICIENT_DATA, but the alarm's insufficient-data actions ({}) do not include {}: CloudWatch never invokes it for that state",
                groups.join(", "),
                if alarm.insufficient_data_actions.is_empty() { "none".to_owned() } else { alarm.insufficient_data_actions.join(", ") },
                function.arn
            ),
            Some(format!(
                "add {} to the alarm's insufficient-data actions, or define the alarm in [group.alarm] and deploy the template",
                function.arn
            )),
        )
    })
}

/// Whether an alarm action names the function: its ARN, or the ARN with a version or alias
/// qualifier (`...:function:NAME:prod`, `...:function:NAME:3`, `$LATEST`), which CloudWatch
/// accepts as an action too.
pub(crate) fn same_function(action: &str, function_arn: &str) -> bool {
    let unqualified = function_arn.splitn(8, ':').take(7).collect::<Vec<_>>().join(":");
    match action.strip_prefix(unqualified.as_str()) {
        Some("") => true,
        Some(rest) => rest.strip_prefix(':').is_some_and(|qualifier| {
            !qualifier.is_empty()
                && qualifier.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$'))
        }),
        None => false,
    }
}

pub(crate) fn permission_check(
    subject: &str,
    function: &FunctionFacts,
    alarm_arn: Option<&str>,
    account: Option<&str>,
) -> Check {
    let Some(alarm_arn) = alarm_arn else {
        return check(
            subject,
            "invoke permission",
            Status::Warn,
            "the account is unknown, so the alarm's ARN is too".into(),
            None,
        );
    };
    let policy =
        function.resource_policy.as_deref().and_then(|text| serde_json::from_str::<Value>(text).ok());
    if policy.iter().flat_map(statements).any(|statement| allows_alarm(statement, alarm_arn, account)) {
        return check(
            subject,
            "invoke permission",
            Status::Pass,
            format!("{ALARM_PRINCIPAL} may invoke it for {alarm_arn}"),
            None,
        );
    }
    let alarm_name = alarm_arn.rsplit(":alarm:").next().unwrap_or(alarm_arn);
    let statement_id: String = format!("coldstandby-{alarm_name}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .take(100)
        .collect();
    let account_flag = account.map(|a| format!(" --source-account {a}")).unwrap_or_default();
    check(
        subject,
        "invoke permission",
        Status::Fail,
        format!(
            "the function's resource-based policy has no statement letting {ALARM_PRINCIPAL} call lambda:InvokeFunction for {alarm_arn}; \
             the alarm would fail with \"CloudWatch Alarms is not authorized to perform: lambda:InvokeFunction\""
        ),
        Some(format!(
            "aws lambda add-permission --function-name {} --statement-id {statement_id} --action lambda:InvokeFunction \
             --principal {ALARM_PRINCIPAL} --source-arn {alarm_arn}{account_flag}",
            function.name
        )),
    )
}

/// Whether one resource-policy statement lets the alarm principal invoke for `alarm_arn`.
pub(crate) fn allows_alarm(statement: &Value, alarm_arn: &str, account: Option<&str>) -> bool {
    let allow = statement.get("Effect").and_then(Value::as_str) == Some("Allow");
    let principal = statement.get("Principal");
    let principal_ok = principal
        .and_then(|p| p.get("Service"))
        .is_some_and(|service| texts(Some(service)).iter().any(|s| s == ALARM_PRINCIPAL))
        || principal.and_then(Value::as_str) == Some("*");
    let action_ok = texts(statement.get("Action"))
        .iter()
        .any(|action| wildcard_match(&action.to_ascii_lowercase(), "lambda:invokefunction"));
    if !(allow && principal_ok && action_ok) {
        return false;
    }
    let conditions = statement.get("Condition").and_then(Value::as_object);
    let mut source_arn_ok = true;
    let mut source_account_ok = true;
    for (operator, tests) in conditions.into_iter().flatten() {
        for (key, expected) in tests.as_object().into_iter().flatten() {
            let expected = texts(Some(expected));
            match key.to_ascii_lowercase().as_str() {
                "aws:sourcearn" => {
                    source_arn_ok = if operator.ends_with("Like") {
                        expected.iter().any(|pattern| wildcard_match(pattern, alarm_arn))
                    } else {
                        expected.iter().any(|arn| arn == alarm_arn)
                    }
                }
                "aws:sourceaccount" => {
                    source_account_ok = account.is_none_or(|a| expected.iter().any(|e| e == a))
                }
                _ => {}
            }
        }
    }
    source_arn_ok && source_account_ok
}

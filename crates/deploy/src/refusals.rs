//! Refused alarm events, made visible. The function answers a permanent failure (a dimension that
//! names another instance, unknown instances, a malformed event) as a refusal rather than an
//! error, so Lambda does not retry it; such an invocation never reaches the on-failure
//! destination. A metric filter on the function's log counts the refusals and an alarm sends
//! them to the same topic, with no call from the function itself (nothing more to reach from a
//! closed network).

use crate::yaml::Node;

/// The metric the filter publishes, in the namespace below.
pub const REFUSALS_METRIC: &str = "RefusedAlarmEvents";
pub const METRIC_NAMESPACE: &str = "coldstandby";
/// Matches the function's JSON log line for a refusal (`retry` is logged with every failure).
pub const REFUSAL_PATTERN: &str = "{ $.retry = \"Permanent\" }";

/// The metric filter on `log_group` (a logical id) and the alarm that notifies `destination`.
pub fn resources(log_group: Node, destination: Node) -> Vec<(&'static str, Node)> {
    let transformation = Node::map()
        .with("MetricNamespace", METRIC_NAMESPACE)
        .with("MetricName", REFUSALS_METRIC)
        .with("MetricValue", "1");
    let filter = Node::map().with("Type", "AWS::Logs::MetricFilter").with(
        "Properties",
        Node::map()
            .with("LogGroupName", log_group)
            .with("FilterPattern", REFUSAL_PATTERN)
            .with("MetricTransformations", Node::list([transformation])),
    );
    let alarm = Node::map().with("Type", "AWS::CloudWatch::Alarm").with(
        "Properties",
        Node::map()
            .with(
                "AlarmDescription",
                "coldstandby: the failover function refused an alarm event it can never handle as configured \
                 (see its log for the errorType and message)",
            )
            .with("Namespace", METRIC_NAMESPACE)
            .with("MetricName", REFUSALS_METRIC)
            .with("Statistic", "Sum")
            .with("Period", 60u32)
            .with("EvaluationPeriods", 1u32)
            .with("Threshold", Node::Float(1.0))
            .with("ComparisonOperator", "GreaterThanOrEqualToThreshold")
            .with("TreatMissingData", "notBreaching")
            .with("AlarmActions", Node::list([destination])),
    );
    vec![("RefusedEventsFilter", filter), ("RefusedEventsAlarm", alarm)]
}

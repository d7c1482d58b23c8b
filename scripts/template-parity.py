#!/usr/bin/env python3
"""Compare a CloudFormation template with a Terraform module, as data.

    scripts/template-parity.py TEMPLATE.yaml MODULE.tf

Both are reduced to one neutral model: the resources by kind, the execution role's statements
(actions, resources, conditions), the KMS key's policy, the function's settings (runtime,
handler, memory, timeout, key, environment, VPC), the asynchronous-invocation settings, the log
group, the topic, the alarms, the invoke permissions, the VPC endpoints and the lease table. References are
renamed to neutral tokens (<account>, <partition>, <region>, <key>, <function>, <on-failure>,
<vpc>) so that `!Sub "arn:${AWS::Partition}:..."` and `"arn:${data.aws_partition...}:..."`
compare equal. Prints the model (JSON) and exits 0 when they agree; prints every difference and
exits 1 when they do not; exits 3, naming the file and the parser, when a file cannot be read
into the model (a parser other than python-hcl2's, or a layout this script does not know).
"""

import collections
import importlib.metadata
import json
import sys
import traceback

import hcl2
import yaml

KINDS = {
    "AWS::KMS::Key": "kms-key", "aws_kms_key": "kms-key",
    "AWS::Logs::LogGroup": "log-group", "aws_cloudwatch_log_group": "log-group",
    "AWS::SNS::Topic": "topic", "aws_sns_topic": "topic",
    "AWS::IAM::Role": "role", "aws_iam_role": "role",
    "aws_iam_role_policy": "role-policy",
    "AWS::Lambda::Function": "function", "aws_lambda_function": "function",
    "AWS::Lambda::EventInvokeConfig": "invoke-config", "aws_lambda_function_event_invoke_config": "invoke-config",
    "AWS::Logs::MetricFilter": "metric-filter", "aws_cloudwatch_log_metric_filter": "metric-filter",
    "AWS::CloudWatch::Alarm": "alarm", "aws_cloudwatch_metric_alarm": "alarm",
    "AWS::Lambda::Permission": "permission", "aws_lambda_permission": "permission",
    "AWS::EC2::SecurityGroup": "security-group", "aws_security_group": "security-group",
    "AWS::EC2::VPCEndpoint": "vpc-endpoint", "aws_vpc_endpoint": "vpc-endpoint",
    "AWS::DynamoDB::Table": "table", "aws_dynamodb_table": "table",
}

CFN_REFERENCES = {
    "${AWS::Partition}": "<partition>", "${AWS::AccountId}": "<account>", "${AWS::Region}": "<region>",
    "${VpcId}": "<vpc>",
}
TF_REFERENCES = {
    "${data.aws_partition.current.partition}": "<partition>",
    "${data.aws_caller_identity.current.account_id}": "<account>",
    "${data.aws_region.current.name}": "<region>", "${var.vpc_id}": "<vpc>",
    "${local.encryption_key_arn}": "<key>", "${aws_lambda_function.function.arn}": "<function>",
    "${local.on_failure_destination}": "<on-failure>",
}


# ---- CloudFormation -------------------------------------------------------------------------

class Tagged(dict):
    pass


def tagged(tag):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return Tagged({tag: value})
    return construct


class CfnLoader(yaml.SafeLoader):
    pass


for name in ("Ref", "GetAtt", "Sub", "If", "Equals", "Not", "Join", "Select", "Split", "And", "Or"):
    CfnLoader.add_constructor(f"!{name}", tagged(name))


def cfn_value(value):
    """A CloudFormation value with its references as neutral tokens."""
    if isinstance(value, Tagged):
        (tag, inner), = value.items()
        if tag == "Sub":
            for reference, token in CFN_REFERENCES.items():
                inner = inner.replace(reference, token)
            return inner.replace("${!", "${")
        if tag == "GetAtt":
            return {"EncryptionKey.Arn": "<key>", "Function.Arn": "<function>"}.get(inner, f"<{inner}>")
        if tag == "Ref":
            return {"AWS::AccountId": "<account>", "OnFailureTopicArn": "<on-failure>"}.get(inner, f"<ref {inner}>")
        if tag == "If" and inner[0] == "CreateOnFailureTopic":
            return "<on-failure>"
        return {tag: cfn_value(inner)}
    if isinstance(value, list):
        return [cfn_value(item) for item in value]
    if isinstance(value, dict):
        return {key: cfn_value(item) for key, item in value.items()}
    return value


def as_list(value):
    return value if isinstance(value, list) else [value]


def cfn_statements(document):
    statements = {}
    for statement in document["Statement"]:
        condition = None
        for operator, tests in statement.get("Condition", {}).items():
            for key, values in tests.items():
                condition = [operator, key, sorted(str(v) for v in as_list(cfn_value(values)))]
        principals = statement.get("Principal", {})
        statements[statement.get("Sid", "")] = {
            "actions": sorted(as_list(statement["Action"])),
            "resources": sorted(str(r) for r in as_list(cfn_value(statement["Resource"]))),
            "principals": {kind: sorted(as_list(cfn_value(v))) for kind, v in principals.items()},
            "condition": condition,
        }
    return statements


def cfn_model(path):
    template = yaml.load(open(path), Loader=CfnLoader)
    model = {"resources": collections.Counter(), "alarms": {}, "permissions": [], "endpoints": []}
    for resource in template["Resources"].values():
        kind = KINDS[resource["Type"]]
        model["resources"][kind] += 1
        properties = cfn_value(resource.get("Properties", {}))
        raw = resource.get("Properties", {})
        if kind == "role":
            model["resources"]["role-policy"] += len(raw.get("Policies", []))
            if raw["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == "lambda.amazonaws.com":
                model["statements"] = cfn_statements(raw["Policies"][0]["PolicyDocument"])
        elif kind == "kms-key":
            model["key_policy"] = cfn_statements(raw["KeyPolicy"])
            model["key"] = {"rotation": properties["EnableKeyRotation"]}
        elif kind == "function":
            environment = properties.get("Environment", {}).get("Variables", {})
            model["function"] = {
                "name": properties["FunctionName"], "runtime": properties["Runtime"],
                "handler": properties["Handler"], "memory": properties["MemorySize"],
                "timeout": properties["Timeout"], "key": properties.get("KmsKeyArn"),
                "environment": environment, "in_vpc": "VpcConfig" in properties,
            }
        elif kind == "invoke-config":
            model["invoke"] = {
                "retries": properties["MaximumRetryAttempts"], "max_age": properties["MaximumEventAgeInSeconds"],
                "on_failure": properties["DestinationConfig"]["OnFailure"]["Destination"],
            }
        elif kind == "log-group":
            model["log_group"] = {"name": properties["LogGroupName"], "retention": properties["RetentionInDays"],
                                  "key": properties.get("KmsKeyId")}
        elif kind == "topic":
            model["topic"] = {"key": properties.get("KmsMasterKeyId")}
        elif kind == "alarm":
            name = properties.get("AlarmName", "<refused-events>")
            model["alarms"][name] = {
                "namespace": properties["Namespace"], "metric": properties["MetricName"],
                "statistic": properties.get("Statistic") or properties.get("ExtendedStatistic"),
                "period": properties["Period"], "evaluation_periods": properties["EvaluationPeriods"],
                "datapoints": properties.get("DatapointsToAlarm"), "threshold": float(properties["Threshold"]),
                "comparison": properties["ComparisonOperator"], "missing": properties["TreatMissingData"],
                "dimensions": {d["Name"]: d["Value"] for d in properties.get("Dimensions", [])},
                "actions": properties["AlarmActions"],
                "insufficient_data_actions": properties.get("InsufficientDataActions", []),
            }
        elif kind == "permission":
            model["permissions"].append([properties["Principal"], properties["Action"], properties["SourceArn"],
                                         properties["SourceAccount"]])
        elif kind == "vpc-endpoint":
            model["endpoints"].append([properties["ServiceName"], properties["VpcEndpointType"]])
        elif kind == "table":
            sse = properties.get("SSESpecification", {})
            model["table"] = {
                "name": properties["TableName"], "billing": properties["BillingMode"],
                "hash_key": properties["KeySchema"][0]["AttributeName"],
                "deletion_protection": properties["DeletionProtectionEnabled"],
                "point_in_time_recovery": properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
                "key": sse.get("KMSMasterKeyId"), "kept": resource.get("DeletionPolicy") == "Retain",
            }
    return model


# ---- Terraform ------------------------------------------------------------------------------

def tf_value(value):
    """A python-hcl2 value: quotes off literal strings, references as neutral tokens."""
    if isinstance(value, str):
        if value.startswith('"<<') and value.endswith('"'):
            value = value[1:-1]
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            value = json.loads(value.replace("$${", "${"))
        elif value.startswith("<<"):
            first, _, rest = value.partition("\n")
            marker = first.lstrip("<-").strip()
            body = rest.rsplit(marker, 1)[0]
            lines = body.split("\n")[:-1]
            indent = min((len(line) - len(line.lstrip(" ")) for line in lines if line.strip()), default=0)
            value = "".join(line[indent:] + "\n" for line in lines).replace("$${", "${")
        for reference, token in TF_REFERENCES.items():
            value = value.replace(reference, token)
        return value
    if isinstance(value, list):
        return [tf_value(item) for item in value]
    if isinstance(value, dict):
        return {tf_value(key): tf_value(item) for key, item in value.items()
                if key not in ("__is_block__", "__comments__")}
    return value


def tf_statements(document):
    statements = {}
    for statement in document.get("statement", []):
        condition = None
        for test in statement.get("condition", []):
            condition = [test["test"], test["variable"], sorted(str(v) for v in test["values"])]
        principals = {}
        for principal in statement.get("principals", []):
            principals[principal["type"]] = sorted(principal["identifiers"])
        statements[statement.get("sid", "")] = {
            "actions": sorted(statement["actions"]), "resources": sorted(str(r) for r in statement.get("resources", [])),
            "principals": principals, "condition": condition,
        }
    return statements


def blocks(document, section):
    for entry in document.get(section, []):
        for kind, named in entry.items():
            for name, body in named.items():
                yield tf_value(kind), tf_value(name), tf_value(body)


def tf_model(path):
    document = hcl2.load(open(path))
    data = {name: body for kind, name, body in blocks(document, "data") if kind == "aws_iam_policy_document"}
    model = {"resources": collections.Counter(), "alarms": {}, "permissions": [], "endpoints": []}
    locals_ = tf_value(document.get("locals", [{}])[0])
    given_key = locals_.get("encryption_key_arn")
    key = lambda value: given_key if value == "<key>" and given_key and not given_key.startswith("$") else value
    for kind_name, _, body in blocks(document, "resource"):
        kind = KINDS[kind_name]
        model["resources"][kind] += 1
        if kind == "role-policy":
            model["statements"] = {
                sid: {**s, "resources": sorted(key(r) for r in s["resources"])}
                for sid, s in tf_statements(data["function"]).items()
            }
        elif kind == "kms-key":
            model["key_policy"] = tf_statements(data["encryption_key"])
            model["key"] = {"rotation": body["enable_key_rotation"]}
        elif kind == "function":
            environment = body.get("environment", [{}])[0].get("variables", {})
            model["function"] = {
                "name": body["function_name"], "runtime": body["runtime"], "handler": body["handler"],
                "memory": body["memory_size"], "timeout": body["timeout"], "key": key(body.get("kms_key_arn")),
                "environment": environment, "in_vpc": "vpc_config" in body,
            }
        elif kind == "invoke-config":
            model["invoke"] = {
                "retries": body["maximum_retry_attempts"], "max_age": body["maximum_event_age_in_seconds"],
                "on_failure": body["destination_config"][0]["on_failure"][0]["destination"],
            }
        elif kind == "log-group":
            model["log_group"] = {"name": body["name"], "retention": body["retention_in_days"],
                                  "key": key(body.get("kms_key_id"))}
        elif kind == "topic":
            model["topic"] = {"key": key(body.get("kms_master_key_id"))}
        elif kind == "alarm":
            refused = body["metric_name"] == "RefusedAlarmEvents"
            model["alarms"]["<refused-events>" if refused else body["alarm_name"]] = {
                "namespace": body["namespace"], "metric": body["metric_name"],
                "statistic": body.get("statistic") or body.get("extended_statistic"),
                "period": body["period"], "evaluation_periods": body["evaluation_periods"],
                "datapoints": body.get("datapoints_to_alarm"), "threshold": float(body["threshold"]),
                "comparison": body["comparison_operator"], "missing": body["treat_missing_data"],
                "dimensions": body.get("dimensions", {}), "actions": body["alarm_actions"],
                "insufficient_data_actions": body.get("insufficient_data_actions", []),
            }
        elif kind == "permission":
            model["permissions"].append([body["principal"], body["action"], body["source_arn"], body["source_account"]])
        elif kind == "vpc-endpoint":
            model["endpoints"].append([body["service_name"], body["vpc_endpoint_type"]])
        elif kind == "table":
            sse = body.get("server_side_encryption", [{}])[0]
            model["table"] = {
                "name": body["name"], "billing": body["billing_mode"], "hash_key": body["hash_key"],
                "deletion_protection": body["deletion_protection_enabled"],
                "point_in_time_recovery": body["point_in_time_recovery"][0]["enabled"],
                "key": key(sse.get("kms_key_arn")),
                "kept": body.get("lifecycle", [{}])[0].get("prevent_destroy", False),
            }
    return model


def differences(left, right, path=""):
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right), key=str):
            if key not in left:
                yield f"{path}/{key}: only in the Terraform module: {json.dumps(right[key], default=str)}"
            elif key not in right:
                yield f"{path}/{key}: only in the CloudFormation template: {json.dumps(left[key], default=str)}"
            else:
                yield from differences(left[key], right[key], f"{path}/{key}")
    elif left != right:
        yield f"{path}: CloudFormation {json.dumps(left, default=str)} != Terraform {json.dumps(right, default=str)}"


def hcl2_parser():
    """Which distribution's `hcl2` module is imported: checkov's bc-python-hcl2 installs one by
    the same name that parses into another layout."""
    providers = importlib.metadata.packages_distributions().get("hcl2", [])
    versions = [f"{name} {importlib.metadata.version(name)}" for name in providers]
    return f"{' and '.join(versions) or 'an unknown distribution'} at {hcl2.__file__}"


def read_model(reader, path, parser):
    """The model of one file, or exit 3 saying what could not be read and with what."""
    try:
        return reader(path)
    except Exception as error:  # any failure to read is reported the same way, with its trace
        trace = traceback.format_exc(limit=-3)
        print(f"template-parity: cannot read {path} with {parser}: {type(error).__name__}: {error}\n{trace}",
              file=sys.stderr)
        sys.exit(3)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    parser = hcl2_parser()
    if not parser.startswith("python-hcl2 "):
        print(f"template-parity: the hcl2 module is {parser}, not python-hcl2's: "
              "run it with target/tools/venv/bin/python (scripts/test builds it)", file=sys.stderr)
        return 3
    cfn = read_model(cfn_model, sys.argv[1], f"PyYAML {importlib.metadata.version('PyYAML')}")
    tf = read_model(tf_model, sys.argv[2], parser)
    for model in (cfn, tf):
        model["resources"] = dict(sorted(model["resources"].items()))
        model["permissions"].sort()
        model["endpoints"].sort()
    found = list(differences(cfn, tf))
    if found:
        print("\n".join(found))
        return 1
    json.dump(cfn, sys.stdout, indent=1, sort_keys=True, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

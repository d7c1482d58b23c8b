//! Deployment, end to end: templates linted by cfn-lint and the role policy by parliament (both
//! offline), the template deployed into moto's CloudFormation, and `doctor` run against the
//! result and against the article's hand-built setup. `scripts/test` installs moto, cfn-lint and
//! parliament when missing.
//!
//! Moto's CloudFormation skips `AWS::CloudWatch::Alarm` (and `AWS::Lambda::EventInvokeConfig`),
//! so the tests create the alarm the template defines through the CloudWatch API, as the stack
//! would have; CloudWatch is reached with aws-sdk-cloudwatch 1.99.0, the last release on the
//! protocol moto serves.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
#![allow(clippy::disallowed_methods)] // waits, with deadlines, for real processes (moto, daemons)

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::tools::python_tool;
use common::{json, stderr, Article, REGION};
use serde_json::Value;

/// Moto's account.
const ACCOUNT: &str = "123456789012";
const FUNCTION: &str = "coldstandby";
const ALARM: &str = "web-primary-cpu-high";
/// What the example alarm table adds to a group.
const ALARM_TABLE: &str =
    "\n[group.alarm]\nmetric_name = \"CPUUtilization\"\nthreshold = 50\ncomparison_operator = \"GreaterThanThreshold\"\n";

fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/coldstandby.toml")
}

fn clients_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/clients.toml")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coldstandby-deploy-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn coldstandby(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coldstandby")).args(args).output().unwrap()
}

fn template(config: &Path, extra: &[&str]) -> String {
    let mut args = vec!["template", "cloudformation", "--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = coldstandby(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    String::from_utf8(output.stdout).unwrap()
}

fn single_group_config(dir: &Path) -> PathBuf {
    let path = dir.join("single.toml");
    let text = format!(
        "region = \"{REGION}\"\n[[group]]\nname = \"web\"\nprimary = \"i-0a1b2c3d4e5f60718\"\nstandbys = [\"i-0f9e8d7c6b5a40312\"]\nalarms = [\"{ALARM}\"]\n{ALARM_TABLE}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn generated_templates_pass_cfn_lint_without_errors_or_warnings() {
    let dir = scratch("lint");
    let single = single_group_config(&dir);
    let kms = "arn:aws:kms:ap-northeast-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let clients = clients_config();
    let leased = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/az-outage.toml");
    let cases: [(&str, &Path, Vec<&str>); 8] = [
        ("leased", &leased, vec![]),
        ("leased-vpc", &leased, vec!["--vpc"]),
        ("single", &single, vec![]),
        ("clients-vpc", &clients, vec!["--vpc"]),
        ("multi", &example_config(), vec![]),
        ("multi-vpc-kms", &example_config(), vec!["--vpc", "--kms-key-arn", kms]),
        ("multi-own-key", &example_config(), vec!["--encryption-key-arn", kms]),
        ("single-zip", &single, vec!["--config-in-zip", "--function-name", "web-failover"]),
    ];
    for (name, config, extra) in cases {
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, template(config, &extra)).unwrap();
        let lint = python_tool("cfn-lint")
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("cannot run cfn-lint ({e}): run scripts/test, which installs it"));
        assert_eq!(
            lint.status.code(),
            Some(0),
            "cfn-lint found problems in the {name} template:\n{}{}",
            String::from_utf8_lossy(&lint.stdout),
            stderr(&lint)
        );
    }
}

#[test]
fn the_role_policy_passes_parliament_and_grants_nothing_mutating_on_every_resource() {
    let kms = "arn:aws:kms:ap-northeast-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let (example, clients) = (example_config(), clients_config());
    let (example, clients) = (example.to_str().unwrap(), clients.to_str().unwrap());
    let variants: [(&str, Vec<&str>); 3] = [
        (example, vec![]),
        (example, vec!["--vpc-id", "vpc-0123456789abcdef0", "--kms-key-arn", kms]),
        (clients, vec![]),
    ];
    for (config, extra) in variants {
        let mut args = vec!["template", "iam-policy", "--config", config, "--account", "111122223333"];
        args.extend_from_slice(&extra);
        let output = coldstandby(&args);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let policy = json(&output);
        assert_no_mutation_on_every_resource(&policy);
        let text = serde_json::to_string(&policy).unwrap();
        let lint = python_tool("parliament")
            .args(["--string", &text, "--json"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run parliament ({e}): run scripts/test, which installs it"));
        let findings = String::from_utf8_lossy(&lint.stdout);
        assert!(
            lint.status.success() && findings.trim().is_empty(),
            "parliament findings ({extra:?}): {findings}{}",
            stderr(&lint)
        );
    }
}

/// No statement grants start, stop or tag writes on `*`, and the instance statements name
/// exactly instance ARNs.
fn assert_no_mutation_on_every_resource(policy: &Value) {
    let as_list = |value: &Value| match value {
        Value::Array(items) => items.iter().map(|v| v.as_str().unwrap().to_owned()).collect::<Vec<_>>(),
        other => vec![other.as_str().unwrap().to_owned()],
    };
    let statements = policy["Statement"].as_array().unwrap();
    assert!(!statements.is_empty());
    for statement in statements {
        let actions = as_list(&statement["Action"]);
        let resources = as_list(&statement["Resource"]);
        let mutating = actions.iter().any(|a| {
            ["ec2:StartInstances", "ec2:StopInstances", "ec2:CreateTags"].contains(&a.as_str())
                || a.contains('*')
        });
        if mutating {
            assert!(resources.iter().all(|r| r.contains(":instance/i-")), "{statement}");
        }
        if resources.iter().any(|r| r == "*") {
            let read_only = |a: &String| a.split(':').nth(1).is_some_and(|call| call.starts_with("Describe"));
            assert!(actions.iter().all(read_only), "{statement}");
        }
    }
}

#[test]
fn the_same_config_gives_the_same_template_bytes() {
    let config = example_config();
    let first = template(&config, &["--vpc"]);
    assert_eq!(first, template(&config, &["--vpc"]));
    assert_ne!(first, template(&config, &[]), "--vpc adds the endpoint");
    assert!(first.contains("Timeout: 880"), "two standbys: min(20 + 190 + 2 x 420, 840) + 40 s");
    assert!(first.contains("ReservedConcurrentExecutions: !If"), "a parameter, 1 by default");
    assert!(!first.contains(":ec2:stop"), "no EC2 stop action beside the function");
}

#[test]
fn bad_options_and_configs_that_cannot_fit_lambda_are_refused() {
    let dir = scratch("refused");
    let config = example_config();
    let config = config.to_str().unwrap();
    let retries = coldstandby(&["template", "cloudformation", "--config", config, "--retry-attempts", "3"]);
    assert_eq!(retries.status.code(), Some(2));
    assert!(stderr(&retries).contains("--retry-attempts 3: Lambda allows 0, 1 or 2"), "{}", stderr(&retries));
    assert!(retries.stdout.is_empty());

    let shared = dir.join("shared.toml");
    std::fs::write(
        &shared,
        "region = \"ap-northeast-1\"\n[[group]]\nname = \"a\"\nprimary = \"i-0a1b2c3d4e5f60718\"\nstandbys = [\"i-0f9e8d7c6b5a40312\"]\nalarms = [\"shared\"]\n[[group]]\nname = \"b\"\nprimary = \"i-0123456789abcdef0\"\nstandbys = [\"i-0fedcba9876543210\"]\nalarms = [\"shared\"]\n",
    )
    .unwrap();
    let too_long = coldstandby(&["template", "cloudformation", "--config", shared.to_str().unwrap()]);
    assert_eq!(too_long.status.code(), Some(3));
    let message = stderr(&too_long);
    assert!(message.contains("alarm `shared`") && message.contains("at most 900 s"), "{message}");

    let account = coldstandby(&["template", "iam-policy", "--config", config, "--account", "12345"]);
    assert_eq!(account.status.code(), Some(2));
    assert!(stderr(&account).contains("12 digits"));
}

/// The moto side of the deployment tests: the article's instances plus clients for the
/// services the template and doctor use.
struct Account {
    article: Article,
    lambda: aws_sdk_lambda::Client,
    iam: aws_sdk_iam::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl Account {
    fn new(name: &str) -> Self {
        let article = Article::new(name);
        let mut text = std::fs::read_to_string(&article.config).unwrap();
        text.push_str(ALARM_TABLE);
        std::fs::write(&article.config, text).unwrap();
        let lambda = aws_sdk_lambda::Client::new(&article.sdk);
        let iam = aws_sdk_iam::Client::new(&article.sdk);
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&article.sdk);
        Self { article, lambda, iam, cloudwatch }
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.article.runtime.block_on(future)
    }

    fn function_arn(&self) -> String {
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}")
    }

    /// The alarm the config's `[group.alarm]` defines, with the function as its action: what
    /// the stack's alarm resource (or the article's console steps) create.
    fn create_alarm(&self) {
        use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
        let dimension = Dimension::builder().name("InstanceId").value(&self.article.primary).build();
        self.block_on(
            self.cloudwatch
                .put_metric_alarm()
                .alarm_name(ALARM)
                .namespace("AWS/EC2")
                .metric_name("CPUUtilization")
                .dimensions(dimension)
                .statistic(Statistic::Average)
                .period(60)
                .evaluation_periods(1)
                .threshold(50.0)
                .comparison_operator(ComparisonOperator::GreaterThanThreshold)
                .alarm_actions(self.function_arn())
                .send(),
        )
        .unwrap();
    }

    /// The article's setup by hand: role and function, no resource-based policy.
    fn deploy_by_hand(&self, timeout: Option<i32>) {
        let config = self.article.config.to_str().unwrap();
        let policy = coldstandby(&["template", "iam-policy", "--config", config, "--account", ACCOUNT]);
        assert_eq!(policy.status.code(), Some(0), "{}", stderr(&policy));
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let config_text = std::fs::read_to_string(&self.article.config).unwrap();
        self.block_on(async {
            let role = self
                .iam
                .create_role()
                .role_name("coldstandby")
                .assume_role_policy_document(trust)
                .send()
                .await
                .unwrap();
            self.iam
                .put_role_policy()
                .role_name("coldstandby")
                .policy_name("failover")
                .policy_document(String::from_utf8(policy.stdout.clone()).unwrap())
                .send()
                .await
                .unwrap();
            let environment = aws_sdk_lambda::types::Environment::builder()
                .variables("COLDSTANDBY_CONFIG", config_text)
                .build();
            self.lambda
                .create_function()
                .function_name(FUNCTION)
                .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
                .handler("bootstrap")
                .role(role.role().unwrap().arn())
                .code(
                    aws_sdk_lambda::types::FunctionCode::builder()
                        .zip_file(aws_sdk_lambda::primitives::Blob::new(b"PK\x05\x06".to_vec()))
                        .build(),
                )
                .set_timeout(timeout)
                .environment(environment)
                .send()
                .await
                .unwrap();
            self.lambda
                .put_function_concurrency()
                .function_name(FUNCTION)
                .reserved_concurrent_executions(1)
                .send()
                .await
                .unwrap();
        });
        self.create_alarm();
    }

    /// `aws lambda add-permission` for alarms matching `source_arn`.
    fn allow_alarms(&self, statement_id: &str, source_arn: &str, source_account: Option<&str>) {
        let request = self
            .lambda
            .add_permission()
            .function_name(FUNCTION)
            .statement_id(statement_id)
            .action("lambda:InvokeFunction")
            .principal("lambda.alarms.cloudwatch.amazonaws.com")
            .source_arn(source_arn)
            .set_source_account(source_account.map(str::to_owned));
        self.block_on(request.send()).unwrap();
    }

    /// Create the stack `coldstandby` from `body` in moto; its final status and reason.
    fn create_stack(&self, body: &str) -> (String, Option<String>) {
        let cloudformation = aws_sdk_cloudformation::Client::new(&self.article.sdk);
        let parameter = |key: &str, value: &str| {
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build()
        };
        self.block_on(
            cloudformation
                .create_stack()
                .stack_name("coldstandby")
                .template_body(body)
                .parameters(parameter("CodeS3Bucket", "artifacts"))
                .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
                .send(),
        )
        .unwrap();
        let started = Instant::now();
        loop {
            let stacks =
                self.block_on(cloudformation.describe_stacks().stack_name("coldstandby").send()).unwrap();
            let stack = &stacks.stacks()[0];
            let status = stack.stack_status().unwrap().as_str().to_owned();
            if !status.ends_with("_IN_PROGRESS") {
                break (status, stack.stack_status_reason().map(str::to_owned));
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the stack is still {status}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn doctor(&self) -> (Output, Value) {
        let config = self.article.config.to_str().unwrap();
        let output =
            self.article.run(&["doctor", "--config", config, "--function", FUNCTION, "--output", "json"]);
        let report = json(&output);
        (output, report)
    }
}

/// The one check of `report` for `subject` / `check`.
fn find<'a>(report: &'a Value, subject: &str, check: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["subject"] == subject && c["check"] == check)
        .unwrap_or_else(|| panic!("no check {subject} / {check} in {report:#}"))
}

fn failed_checks(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "PASS")
        .map(|c| format!("{} {} {}: {}", c["status"], c["subject"], c["check"], c["found"]))
        .collect()
}

#[test]
fn doctor_names_the_articles_missing_invoke_permission_and_passes_once_it_is_added() {
    let account = Account::new("doctor-permission");
    account.deploy_by_hand(Some(900));

    let (output, report) = account.doctor();
    assert_eq!(output.status.code(), Some(1), "a FAIL exits 1: {}", stderr(&output));
    let permission = find(&report, &format!("alarm {ALARM}"), "invoke permission");
    assert_eq!(permission["status"], "FAIL");
    let alarm_arn = format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{ALARM}");
    let found = permission["found"].as_str().unwrap();
    assert!(
        found.contains("lambda.alarms.cloudwatch.amazonaws.com") && found.contains(&alarm_arn),
        "{found}"
    );
    let fix = permission["fix"].as_str().unwrap();
    for part in [
        "aws lambda add-permission --function-name coldstandby",
        "--action lambda:InvokeFunction",
        "--principal lambda.alarms.cloudwatch.amazonaws.com",
        &format!("--source-arn {alarm_arn}"),
        &format!("--source-account {ACCOUNT}"),
    ] {
        assert!(fix.contains(part), "fix lacks `{part}`: {fix}");
    }
    assert_eq!(
        failed_checks(&report).len(),
        1,
        "only the permission is wrong: {:#?}",
        failed_checks(&report)
    );

    // The text output says the same, with the fix under the FAIL.
    let config = account.article.config.to_str().unwrap();
    let text = account.article.run(&["doctor", "--config", config, "--function", FUNCTION]);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.contains("FAIL  alarm web-primary-cpu-high") && text.contains("fix: aws lambda add-permission"),
        "{text}"
    );

    // Apply the fix, as the command says.
    account.allow_alarms("coldstandby-web-primary-cpu-high", &alarm_arn, Some(ACCOUNT));
    let (output, report) = account.doctor();
    assert_eq!(find(&report, &format!("alarm {ALARM}"), "invoke permission")["status"], "PASS");
    assert_eq!(output.status.code(), Some(0), "{:#?}", failed_checks(&report));
    assert!(failed_checks(&report).is_empty(), "{:#?}", failed_checks(&report));
}

#[test]
fn doctor_flags_lambdas_default_3_second_timeout() {
    let account = Account::new("doctor-timeout");
    account.deploy_by_hand(None);
    let every_alarm = format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*");
    account.allow_alarms("every-alarm", &every_alarm, None);
    let (output, report) = account.doctor();
    assert_eq!(output.status.code(), Some(1));
    let timeout = find(&report, &format!("function {FUNCTION}"), "timeout");
    assert_eq!(timeout["status"], "FAIL");
    assert!(timeout["found"].as_str().unwrap().starts_with("timeout 3 s"), "{timeout}");
    assert_eq!(
        timeout["fix"],
        "aws lambda update-function-configuration --function-name coldstandby --timeout 670"
    );
    account
        .block_on(account.lambda.update_function_configuration().function_name(FUNCTION).timeout(670).send())
        .unwrap();
    let (output, report) = account.doctor();
    assert_eq!(find(&report, &format!("function {FUNCTION}"), "timeout")["status"], "PASS");
    assert_eq!(output.status.code(), Some(0), "{:#?}", failed_checks(&report));
}

#[test]
fn the_template_deploys_into_moto_cloudformation_and_doctor_passes_it() {
    let account = Account::new("stack");
    let body = template(&account.article.config, &[]);
    let cloudformation = aws_sdk_cloudformation::Client::new(&account.article.sdk);
    let status = account.create_stack(&body);
    assert_eq!(status.0, "CREATE_COMPLETE", "{:?}", status.1);

    let resources =
        account.block_on(cloudformation.list_stack_resources().stack_name("coldstandby").send()).unwrap();
    let created: Vec<(&str, &str)> = resources
        .stack_resource_summaries()
        .iter()
        .map(|r| (r.logical_resource_id().unwrap(), r.resource_type().unwrap()))
        .collect();
    for expected in [
        ("ExecutionRole", "AWS::IAM::Role"),
        ("LogGroup", "AWS::Logs::LogGroup"),
        ("Function", "AWS::Lambda::Function"),
        ("AlarmWebPrimaryCpuHighPermission", "AWS::Lambda::Permission"),
        ("OnFailureTopic", "AWS::SNS::Topic"),
    ] {
        assert!(created.contains(&expected), "{expected:?} not among {created:?}");
    }
    assert!(body.contains("  AlarmWebPrimaryCpuHighAlarm:\n    Type: AWS::CloudWatch::Alarm"));
    // Refusals (permanent failures Lambda must not retry) reach the on-failure topic through a
    // metric filter on the function's log; the contract test checks the log line it matches.
    assert!(body.contains("  RefusedEventsFilter:\n    Type: AWS::Logs::MetricFilter"), "{body}");
    assert!(body.contains(r#"FilterPattern: "{ $.retry = \"Permanent\" }""#), "{body}");

    // The function as the template sized it.
    let function =
        account.block_on(account.lambda.get_function_configuration().function_name(FUNCTION).send()).unwrap();
    assert_eq!(function.timeout(), Some(670));
    let concurrency =
        account.block_on(account.lambda.get_function_concurrency().function_name(FUNCTION).send()).unwrap();
    assert_eq!(concurrency.reserved_concurrent_executions(), Some(1));
    let policy = account.block_on(account.lambda.get_policy().function_name(FUNCTION).send()).unwrap();
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Principal"]["Service"], "lambda.alarms.cloudwatch.amazonaws.com");

    // The role as deployed grants nothing mutating on `*`.
    let role = function.role().unwrap().rsplit('/').next().unwrap().to_owned();
    let names = account.block_on(account.iam.list_role_policies().role_name(&role).send()).unwrap();
    let document = account
        .block_on(account.iam.get_role_policy().role_name(&role).policy_name(&names.policy_names()[0]).send())
        .unwrap();
    let text = document.policy_document();
    let text = percent_encoding::percent_decode_str(text).decode_utf8().unwrap();
    // Moto keeps the inline policies of roles its CloudFormation creates as a Python repr
    // (single quotes); these documents hold no quotes of their own, so swapping them is exact.
    let text = text.replace('\'', "\"");
    let role_policy: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_no_mutation_on_every_resource(&role_policy);

    // Moto's CloudFormation skips the alarm: create it as the stack would, then ask doctor.
    account.create_alarm();
    let (output, report) = account.doctor();
    assert_eq!(output.status.code(), Some(0), "{:#?}", failed_checks(&report));
    // Everything passes but the role check, which cannot read that Python-repr policy through
    // the IAM API (as JSON) and says so as a WARN; the by-hand tests cover it passing.
    let role = report["checks"].as_array().unwrap().iter().find(|c| c["check"] == "permissions").unwrap();
    assert_eq!(role["status"], "WARN", "{role}");
    assert!(role["found"].as_str().unwrap().contains("not JSON"), "{role}");
    assert_eq!(failed_checks(&report).len(), 1, "{:#?}", failed_checks(&report));
}

#[test]
fn doctor_fails_when_it_cannot_look_and_rejects_a_bad_config_before_calling() {
    // A closed loopback port: every lookup fails at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = example_config();
    let run = |config: &str| {
        Command::new(env!("CARGO_BIN_EXE_coldstandby"))
            .args(["doctor", "--config", config, "--function", FUNCTION, "--output", "json"])
            .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap()
    };
    let output = run(config.to_str().unwrap());
    assert_eq!(output.status.code(), Some(1), "not knowing is not ready: {}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["passed"], 0);
    assert!(report["failed"].as_u64().unwrap() >= 3, "{report:#}");

    let dir = scratch("doctor-bad-config");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "region = \"ap-northeast-1\"\n[[group]]\nname = \"web\"\nprimary = \"i-zz\"\n")
        .unwrap();
    let output = run(bad.to_str().unwrap());
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("group[0].primary"), "{}", stderr(&output));
    // With --output json, the failure is JSON on stdout too.
    assert_eq!(json(&output)["error"]["kind"], "invalid-input");
}

#[test]
fn doctor_checks_the_subnets_of_a_vpc_deployment_before_it_is_made() {
    let article = Article::new("doctor-subnets");
    let subnets = article.runtime.block_on(common::vpc_with_subnets(
        &article.client,
        "10.1.0.0/16",
        &[
            ("ap-northeast-1a", "10.1.1.0/24"),
            ("ap-northeast-1c", "10.1.2.0/24"),
            ("ap-northeast-1a", "10.1.3.0/24"),
        ],
    ));
    let config = article.config.to_str().unwrap();
    let doctor = |list: &str| {
        let output = article.run(&["doctor", "--config", config, "--subnets", list, "--output", "json"]);
        let report = json(&output);
        (output.status.code(), find(&report, "subnets for --vpc", "one per AZ").clone())
    };

    let (_, check) = doctor(&format!("{},{}", subnets[0], subnets[1]));
    assert_eq!(check["status"], "PASS", "{check}");
    assert!(
        check["found"].as_str().unwrap().contains("one in each of ap-northeast-1a, ap-northeast-1c"),
        "{check}"
    );

    let (status, check) = doctor(&subnets.join(","));
    assert_eq!(status, Some(1));
    assert_eq!(check["status"], "FAIL", "{check}");
    let found = check["found"].as_str().unwrap();
    assert!(found.contains(&format!("{}, {} are all in ap-northeast-1a", subnets[0], subnets[2])), "{found}");

    let (status, check) = doctor(&format!("{},subnet-0123456789abcdef0", subnets[0]));
    assert_eq!(status, Some(1));
    assert!(check["found"].as_str().unwrap().contains("subnet-0123456789abcdef0"), "{check}");
}

#[test]
fn a_template_for_network_readiness_checks_needs_the_function_in_the_vpc() {
    let clients = clients_config();
    let outside = coldstandby(&["template", "cloudformation", "--config", clients.to_str().unwrap()]);
    assert_eq!(outside.status.code(), Some(3), "{}", stderr(&outside));
    assert!(stderr(&outside).contains("group `db`: `tcp :5432`"), "{}", stderr(&outside));
    assert!(outside.stdout.is_empty(), "no template is printed");
    let inside = coldstandby(&["template", "cloudformation", "--config", clients.to_str().unwrap(), "--vpc"]);
    assert_eq!(inside.status.code(), Some(0), "{}", stderr(&inside));
}

#[test]
fn the_leased_template_creates_the_lease_table_and_doctor_checks_it() {
    let account = Account::new("leased-stack");
    let mut text = std::fs::read_to_string(&account.article.config).unwrap();
    text.push_str("\n[lease]\ntable = \"coldstandby-leases\"\n");
    std::fs::write(&account.article.config, text).unwrap();
    let body = template(&account.article.config, &[]);
    let status = account.create_stack(&body);
    assert_eq!(status.0, "CREATE_COMPLETE", "{:?}", status.1);
    let dynamodb = aws_sdk_dynamodb::Client::new(&account.article.sdk);
    let table = account.block_on(dynamodb.describe_table().table_name("coldstandby-leases").send()).unwrap();
    let table = table.table().unwrap();
    assert_eq!(table.key_schema()[0].attribute_name(), "group");
    // Raised with the lease (moto keeps the parameter's value as the string "10", which the SDK
    // refuses to read as a number, so the template is what is checked).
    assert!(body.contains("    MaxValue: 1000\n    Default: \"10\""), "{body}");

    account.create_alarm();
    let (_, report) = account.doctor();
    let check = find(&report, "lease table coldstandby-leases", "lease table");
    assert_ne!(check["status"], "FAIL", "{check}");

    // Without the table, doctor fails the deployment and says how to make it.
    account
        .block_on(
            dynamodb
                .update_table()
                .table_name("coldstandby-leases")
                .deletion_protection_enabled(false)
                .send(),
        )
        .unwrap();
    account.block_on(dynamodb.delete_table().table_name("coldstandby-leases").send()).unwrap();
    let (output, report) = account.doctor();
    assert_ne!(output.status.code(), Some(0));
    let check = find(&report, "lease table coldstandby-leases", "lease table");
    assert_eq!(check["status"], "FAIL", "{check}");
    assert!(check["fix"].as_str().unwrap().contains("aws dynamodb create-table"), "{check}");
}

#[test]
fn the_quarantine_acl_template_passes_cfn_lint_and_has_no_rule_of_its_own() {
    let dir = scratch("quarantine");
    let output = coldstandby(&["template", "quarantine-acl"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let body = String::from_utf8(output.stdout).unwrap();
    let path = dir.join("quarantine.yaml");
    std::fs::write(&path, &body).unwrap();
    let lint = python_tool("cfn-lint").arg(&path).output().unwrap();
    assert_eq!(lint.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&lint.stdout), stderr(&lint));
    // A network ACL with no entry denies everything both ways (EC2's final rule). Moto's
    // CloudFormation does not create network ACLs, so the template is checked as written.
    assert!(body.contains("Type: AWS::EC2::NetworkAcl"), "{body}");
    assert!(!body.contains("NetworkAclEntry"), "{body}");
    assert!(body.contains("QuarantineNetworkAclId:"), "{body}");
}

#[test]
fn the_watchers_template_passes_cfn_lint_and_boots_each_watcher_with_the_other_as_its_peer() {
    let dir = scratch("watchers");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/watch/watch.toml");
    let output = coldstandby(&["template", "watchers", "--config", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let body = String::from_utf8(output.stdout).unwrap();
    let path = dir.join("watchers.yaml");
    std::fs::write(&path, &body).unwrap();
    let lint = python_tool("cfn-lint").arg(&path).output().unwrap();
    assert_eq!(lint.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&lint.stdout), stderr(&lint));
    assert_eq!(body.matches("Type: AWS::EC2::Instance").count(), 2, "{body}");
    assert!(
        body.contains("FromPort: 9323") && body.contains("SourceSecurityGroupId: !Ref WatcherSecurityGroup")
    );
    assert!(body.contains("HttpTokens: required"), "IMDSv2 only");
    assert!(body.contains("ec2:StopInstances") && body.contains("dynamodb:PutItem"), "{body}");
    assert!(
        !body.contains("logs:PutLogEvents") && !body.contains("cloudwatch:DescribeAlarms"),
        "no Lambda-only grants"
    );
    // Each instance's boot script, as CloudFormation's !Sub fills it, writes a configuration the
    // watcher accepts, naming the other watcher.
    let scripts: Vec<&str> = body.split("#!/bin/sh").skip(1).collect();
    assert_eq!(scripts.len(), 2);
    for (script, peer) in scripts.iter().zip(["10.0.2.10", "10.0.1.10"]) {
        let filled = script
            .replace("${PrivateIpA}", "10.0.1.10")
            .replace("${PrivateIpB}", "10.0.2.10")
            .replace("${!", "${");
        let config_text: String = filled
            .lines()
            .skip_while(|line| !line.contains("<<'COLDSTANDBY_CONFIG'"))
            .skip(1)
            .take_while(|line| line.trim() != "COLDSTANDBY_CONFIG")
            .map(|line| format!("{}\n", line.trim_start()))
            .collect();
        let written = dir.join(format!("watch-{peer}.toml"));
        std::fs::write(&written, &config_text).unwrap();
        let check = coldstandby(&["watch", "--config", written.to_str().unwrap(), "--check"]);
        assert_eq!(check.status.code(), Some(0), "{config_text}\n{}", stderr(&check));
        assert!(String::from_utf8_lossy(&check.stdout).contains(&format!("peers: http://{peer}:9323")));
        assert!(filled.contains("systemctl enable --now coldstandby-watch.service"));
        assert!(filled.contains("DynamicUser=yes"), "the hardened unit is installed");
    }
    // Without [lease], two watchers could both act: refused, exit 3.
    let unleased = dir.join("unleased.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[lease]\ntable = \"coldstandby-leases\"\nduration_seconds = 20\n", "");
    std::fs::write(&unleased, text).unwrap();
    let output = coldstandby(&["template", "watchers", "--config", unleased.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
}

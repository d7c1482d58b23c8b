//! doctor's decisions from facts, without an account: each rule that can FAIL or WARN, and the
//! exact fix it prints.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use coldstandby_deploy::doctor::{
    run_checks, AccountConcurrency, AlarmFacts, Check, Context, EndpointFacts, Facts, FunctionFacts,
    InstanceFacts, LookupFailed, MetricFacts, NetworkFacts, Status, VpcPlacement,
};
use coldstandby_deploy::lease_checks::LeaseTableFacts;
use coldstandby_engine::InstanceId;
use serde_json::json;

const PRIMARY: &str = "i-0a1b2c3d4e5f60718";
const STANDBY: &str = "i-0f9e8d7c6b5a40312";
const ALARM: &str = "web-cpu";
const ALARM_ARN: &str = "arn:aws:cloudwatch:ap-northeast-1:111122223333:alarm:web-cpu";
const FUNCTION_ARN: &str = "arn:aws:lambda:ap-northeast-1:111122223333:function:coldstandby";

fn config() -> coldstandby_config::Config {
    coldstandby_config::parse(
        &format!(
            "region = \"ap-northeast-1\"\n[[group]]\nname = \"web\"\nprimary = \"{PRIMARY}\"\nstandbys = [\"{STANDBY}\"]\nalarms = [\"{ALARM}\"]\n"
        ),
        "test.toml",
    )
    .unwrap()
}

fn instance(state: &str, zone: &str) -> InstanceFacts {
    InstanceFacts {
        state: state.to_owned(),
        availability_zone: zone.to_owned(),
        root_device_type: "ebs".to_owned(),
        tags: BTreeMap::new(),
        // subnet-0aaaaaaaaaaaaaaa1 in ap-northeast-1a, and so on.
        subnet_id: Some(format!("subnet-0{}1", zone.chars().last().unwrap().to_string().repeat(15))),
    }
}

fn permission_policy(source_arn: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "alarm", "Effect": "Allow",
        "Principal": {"Service": "lambda.alarms.cloudwatch.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": FUNCTION_ARN,
        "Condition": {"ArnLike": {"AWS:SourceArn": source_arn}}
    }]})
    .to_string()
}

/// A healthy deployment; each test breaks one thing.
fn healthy() -> Facts {
    let instances = BTreeMap::from([
        (PRIMARY.parse::<InstanceId>().unwrap(), instance("running", "ap-northeast-1a")),
        (STANDBY.parse::<InstanceId>().unwrap(), instance("stopped", "ap-northeast-1c")),
    ]);
    let function = FunctionFacts {
        name: "coldstandby".to_owned(),
        arn: FUNCTION_ARN.to_owned(),
        runtime: Some("provided.al2023".to_owned()),
        timeout_seconds: 900,
        reserved_concurrency: Some(1),
        environment_config: Some(coldstandby_config::to_toml(&config())),
        role_arn: "arn:aws:iam::111122223333:role/coldstandby".to_owned(),
        vpc: None,
        resource_policy: Some(permission_policy(ALARM_ARN)),
        account_concurrency: Ok(AccountConcurrency { limit: 1000, unreserved: 999 }),
    };
    let alarm = AlarmFacts {
        arn: ALARM_ARN.to_owned(),
        actions_enabled: true,
        alarm_actions: vec![FUNCTION_ARN.to_owned()],
        insufficient_data_actions: Vec::new(),
        metric: Some(MetricFacts {
            namespace: "AWS/EC2".to_owned(),
            name: "CPUUtilization".to_owned(),
            dimensions: BTreeMap::from([("InstanceId".to_owned(), PRIMARY.to_owned())]),
        }),
    };
    Facts {
        partition: "aws".to_owned(),
        account: Some("111122223333".to_owned()),
        instances: Ok(instances),
        function: Some(Ok(Some(function))),
        alarms: Ok(BTreeMap::from([(ALARM.to_owned(), alarm)])),
        role: None,
        network: None,
        planned_subnets: None,
        clients: Vec::new(),
        lease_table: None,
    }
}

fn checks(facts: &Facts) -> Vec<Check> {
    let config = config();
    run_checks(&Context { config: &config, config_path: "test.toml" }, facts)
}

fn only_problem(facts: &Facts) -> Check {
    let problems: Vec<Check> = checks(facts).into_iter().filter(|c| c.status != Status::Pass).collect();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    problems.into_iter().next().unwrap()
}

/// A VPC with no interface endpoint and no NAT route.
fn no_endpoints() -> NetworkFacts {
    NetworkFacts {
        ec2_endpoints: Vec::new(),
        load_balancing_endpoints: Vec::new(),
        route53_endpoints: Vec::new(),
        sns_endpoints: Vec::new(),
        subnets_with_nat: Vec::new(),
        subnet_route_tables: BTreeMap::new(),
        dynamodb_gateway_route_tables: Vec::new(),
    }
}

fn function_mut(facts: &mut Facts) -> &mut FunctionFacts {
    facts.function.as_mut().unwrap().as_mut().unwrap().as_mut().unwrap()
}

fn instance_mut<'a>(facts: &'a mut Facts, id: &str) -> &'a mut InstanceFacts {
    facts.instances.as_mut().unwrap().get_mut(&id.parse::<InstanceId>().unwrap()).unwrap()
}

#[test]
fn a_healthy_deployment_passes_every_check() {
    let all = checks(&healthy());
    assert!(all.iter().all(|c| c.status == Status::Pass), "{all:#?}");
    assert_eq!(all.len(), 13, "4 group, 4 function, 4 alarm and 1 network checks");
}

#[test]
fn a_wildcard_source_arn_counts_and_another_alarms_arn_does_not() {
    let mut facts = healthy();
    function_mut(&mut facts).resource_policy =
        Some(permission_policy("arn:aws:cloudwatch:ap-northeast-1:111122223333:alarm:web-*"));
    assert!(checks(&facts).iter().all(|c| c.status == Status::Pass));

    function_mut(&mut facts).resource_policy =
        Some(permission_policy("arn:aws:cloudwatch:ap-northeast-1:111122223333:alarm:other"));
    let problem = only_problem(&facts);
    assert_eq!((problem.check, problem.status), ("invoke permission", Status::Fail));

    // The article's mistake: the wrong principal.
    let wrong = permission_policy(ALARM_ARN).replace("lambda.alarms.cloudwatch", "cloudwatch");
    function_mut(&mut facts).resource_policy = Some(wrong);
    assert_eq!(only_problem(&facts).check, "invoke permission");
}

#[test]
fn unreserved_concurrency_fails_with_the_command_that_fixes_it() {
    let mut facts = healthy();
    function_mut(&mut facts).reserved_concurrency = None;
    let problem = only_problem(&facts);
    assert_eq!(problem.check, "reserved concurrency");
    assert_eq!(
        problem.fix.as_deref(),
        Some("aws lambda put-function-concurrency --function-name coldstandby --reserved-concurrent-executions 1 (or deploy the template with ReservedConcurrency=1)")
    );
}

#[test]
fn no_reservation_only_warns_when_the_account_cannot_reserve_one() {
    let mut facts = healthy();
    function_mut(&mut facts).reserved_concurrency = None;
    // A new account: a quota of 10, all of it the minimum Lambda keeps unreserved.
    function_mut(&mut facts).account_concurrency = Ok(AccountConcurrency { limit: 10, unreserved: 10 });
    let problem = only_problem(&facts);
    assert_eq!((problem.check, problem.status), ("reserved concurrency", Status::Warn));
    assert!(problem.found.contains("quota is 10 with 10 unreserved"), "{}", problem.found);

    // 100 unreserved out of 1000 is the minimum already: nothing more to reserve.
    function_mut(&mut facts).account_concurrency = Ok(AccountConcurrency { limit: 1000, unreserved: 100 });
    assert_eq!(only_problem(&facts).status, Status::Warn);
    function_mut(&mut facts).account_concurrency = Ok(AccountConcurrency { limit: 1000, unreserved: 101 });
    assert_eq!(only_problem(&facts).status, Status::Fail);

    // Not knowing is not a pass.
    function_mut(&mut facts).account_concurrency =
        Err(LookupFailed("GetAccountSettings: AccessDenied".to_owned()));
    let problem = only_problem(&facts);
    assert_eq!(problem.status, Status::Fail);
    assert!(problem.found.contains("AccessDenied"), "{}", problem.found);
}

#[test]
fn an_alias_or_version_of_the_function_is_a_valid_alarm_action() {
    let mut facts = healthy();
    for qualified in
        [format!("{FUNCTION_ARN}:live"), format!("{FUNCTION_ARN}:7"), format!("{FUNCTION_ARN}:$LATEST")]
    {
        facts.alarms.as_mut().unwrap().get_mut(ALARM).unwrap().alarm_actions = vec![qualified.clone()];
        assert!(checks(&facts).iter().all(|c| c.status == Status::Pass), "{qualified}");
    }
    for other in [format!("{FUNCTION_ARN}-other"), format!("{FUNCTION_ARN}:"), format!("{FUNCTION_ARN}:a:b")]
    {
        facts.alarms.as_mut().unwrap().get_mut(ALARM).unwrap().alarm_actions = vec![other.clone()];
        assert_eq!(only_problem(&facts).check, "alarm action", "{other}");
    }
}

#[test]
fn a_group_that_fails_over_on_silence_needs_the_function_as_the_insufficient_data_action() {
    let config = coldstandby_config::parse(
        &format!(
            "region = \"ap-northeast-1\"\n[[group]]\nname = \"web\"\nprimary = \"{PRIMARY}\"\nstandbys = [\"{STANDBY}\"]\nalarms = [\"{ALARM}\"]\nfail_over_on_insufficient_data = true\n"
        ),
        "test.toml",
    )
    .unwrap();
    let mut facts = healthy();
    function_mut(&mut facts).environment_config = Some(coldstandby_config::to_toml(&config));
    let run = |facts: &Facts| run_checks(&Context { config: &config, config_path: "test.toml" }, facts);
    let problems: Vec<Check> = run(&facts).into_iter().filter(|c| c.status != Status::Pass).collect();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!((problems[0].check, problems[0].status), ("insufficient-data action", Status::Fail));
    assert!(problems[0].found.contains("group web fails over on INSUFFICIENT_DATA"), "{}", problems[0].found);

    facts.alarms.as_mut().unwrap().get_mut(ALARM).unwrap().insufficient_data_actions =
        vec![FUNCTION_ARN.to_owned()];
    assert!(run(&facts).iter().all(|c| c.status == Status::Pass), "{:#?}", run(&facts));
}

#[test]
fn two_live_members_fail_and_a_recorded_failover_passes() {
    let mut facts = healthy();
    instance_mut(&mut facts, STANDBY).state = "running".to_owned();
    let problem = only_problem(&facts);
    assert_eq!((problem.check, problem.status), ("member states", Status::Fail));

    instance_mut(&mut facts, PRIMARY).state = "stopped".to_owned();
    instance_mut(&mut facts, STANDBY).tags.insert("coldstandby:role".to_owned(), "active".to_owned());
    assert!(
        checks(&facts).iter().all(|c| c.status == Status::Pass),
        "failed over to the standby is consistent"
    );
}

#[test]
fn instance_store_roots_fail_and_a_shared_zone_warns() {
    let mut facts = healthy();
    instance_mut(&mut facts, STANDBY).root_device_type = "instance-store".to_owned();
    let problem = only_problem(&facts);
    assert_eq!((problem.check, problem.status), ("EBS root", Status::Fail));

    let mut facts = healthy();
    instance_mut(&mut facts, STANDBY).availability_zone = "ap-northeast-1a".to_owned();
    let problem = only_problem(&facts);
    assert_eq!((problem.check, problem.status), ("separate AZs", Status::Warn));
}

#[test]
fn an_alarm_on_another_instance_or_without_the_function_fails() {
    let mut facts = healthy();
    let alarm = facts.alarms.as_mut().unwrap().get_mut(ALARM).unwrap();
    alarm.metric.as_mut().unwrap().dimensions.insert("InstanceId".to_owned(), STANDBY.to_owned());
    assert_eq!(only_problem(&facts).check, "watches the primary");

    let mut facts = healthy();
    facts.alarms.as_mut().unwrap().get_mut(ALARM).unwrap().alarm_actions =
        vec!["arn:aws:automate:ap-northeast-1:ec2:stop".to_owned()];
    assert_eq!(only_problem(&facts).check, "alarm action");

    let mut facts = healthy();
    facts.alarms.as_mut().unwrap().clear();
    let problem = only_problem(&facts);
    assert_eq!((problem.check, problem.status), ("defined", Status::Fail));
}

#[test]
fn a_missing_instance_fails_and_names_it() {
    let mut facts = healthy();
    facts.instances.as_mut().unwrap().remove(&STANDBY.parse::<InstanceId>().unwrap());
    let failures: Vec<Check> = checks(&facts).into_iter().filter(|c| c.status == Status::Fail).collect();
    assert!(
        failures.iter().any(|c| c.check == "members exist" && c.found.contains(STANDBY)),
        "{failures:#?}"
    );
    assert!(
        failures.iter().any(|c| c.check == "configuration" && c.found.contains(STANDBY)),
        "{failures:#?}"
    );
}

#[test]
fn a_function_in_a_vpc_needs_an_ec2_endpoint_with_private_dns_or_nat() {
    let mut facts = healthy();
    function_mut(&mut facts).vpc =
        Some(VpcPlacement { vpc_id: "vpc-1".to_owned(), subnet_ids: vec!["subnet-a".to_owned()] });
    let endpoint =
        |private_dns| EndpointFacts { id: "vpce-1".to_owned(), state: "available".to_owned(), private_dns };
    facts.network = Some(Ok(NetworkFacts {
        ec2_endpoints: vec![endpoint(false)],
        subnets_with_nat: vec![],
        ..no_endpoints()
    }));
    let problem = only_problem(&facts);
    assert_eq!((problem.check, problem.status), ("network", Status::Fail));
    assert!(problem.fix.unwrap().contains("--service-name com.amazonaws.ap-northeast-1.ec2"));

    facts.network = Some(Ok(NetworkFacts {
        ec2_endpoints: vec![endpoint(true)],
        subnets_with_nat: vec![],
        ..no_endpoints()
    }));
    assert!(checks(&facts).iter().all(|c| c.status == Status::Pass));
    facts.network = Some(Ok(NetworkFacts {
        ec2_endpoints: vec![],
        subnets_with_nat: vec!["subnet-a".to_owned()],
        ..no_endpoints()
    }));
    assert!(checks(&facts).iter().all(|c| c.status == Status::Pass));
}

#[test]
fn a_tcp_readiness_check_fails_for_a_function_outside_the_vpc_and_passes_inside() {
    let config = coldstandby_config::parse(
        &format!(
            "region = \"ap-northeast-1\"\n[[group]]\nname = \"web\"\nprimary = \"{PRIMARY}\"\nstandbys = [\"{STANDBY}\"]\nalarms = [\"{ALARM}\"]\n[[group.readiness]]\ntype = \"tcp\"\nport = 80\n"
        ),
        "test.toml",
    )
    .unwrap();
    let mut facts = healthy();
    function_mut(&mut facts).environment_config = Some(coldstandby_config::to_toml(&config));
    let run = |facts: &Facts| run_checks(&Context { config: &config, config_path: "test.toml" }, facts);
    let reach = |facts: &Facts| run(facts).into_iter().find(|c| c.check == "readiness reach").unwrap();
    let outside = reach(&facts);
    assert_eq!(outside.status, Status::Fail, "{outside:#?}");
    assert!(
        outside.found.contains("`tcp :80`") && outside.found.contains("outside the VPC"),
        "{}",
        outside.found
    );

    function_mut(&mut facts).vpc = Some(coldstandby_deploy::doctor::VpcPlacement {
        vpc_id: "vpc-0123456789abcdef0".to_owned(),
        subnet_ids: vec!["subnet-0123456789abcdef0".to_owned()],
    });
    assert_eq!(reach(&facts).status, Status::Pass);
}

#[test]
fn a_mover_is_judged_against_the_active_member_and_an_unreadable_one_fails() {
    use coldstandby_deploy::mover_checks::MoverFacts;
    use coldstandby_engine::clients::{ClientView, Endpoint, Mover, OverlayIp, RouteView};

    let endpoint = |id: &str, eni: &str| Endpoint {
        instance: id.parse().unwrap(),
        network_interface: eni.to_owned(),
        private_ip: "10.0.1.10".to_owned(),
    };
    let route = |eni: &str| ClientView::Routes {
        routes: vec![RouteView {
            route_table: "rtb-0a1b2c3d".to_owned(),
            network_interface: Some(eni.to_owned()),
            exists: true,
            blackhole: false,
        }],
        source_dest_check: false,
    };
    let overlay = Mover::OverlayIp(OverlayIp {
        address: "10.255.0.10/32".to_owned(),
        route_tables: vec!["rtb-0a1b2c3d".to_owned()],
    });
    let members = vec![endpoint(PRIMARY, "eni-0000000a"), endpoint(STANDBY, "eni-0000000b")];
    let facts = |view| MoverFacts {
        group: "web".to_owned(),
        mover: overlay.clone(),
        active: Some(members[0].clone()),
        members: members.clone(),
        view,
    };
    let judged = |view| {
        let mut all = healthy();
        all.clients = vec![facts(view)];
        checks(&all).into_iter().find(|c| c.check == "mover").unwrap()
    };
    assert_eq!(judged(Ok(route("eni-0000000a"))).status, Status::Pass);
    let elsewhere = judged(Ok(route("eni-0000000b")));
    assert_eq!(elsewhere.status, Status::Fail);
    assert!(elsewhere.found.contains("does not send clients to the active member"), "{}", elsewhere.found);
    let unreadable = judged(Err(LookupFailed("InvalidRouteTableID.NotFound: no such table".to_owned())));
    assert_eq!(unreadable.status, Status::Fail);
    assert!(unreadable.found.contains("cannot be read"), "{}", unreadable.found);
}

#[test]
fn a_function_in_a_vpc_needs_a_way_to_the_apis_its_movers_call() {
    let config =
        coldstandby_config::parse(include_str!("../../../examples/clients.toml"), "clients.toml").unwrap();
    let mut facts = healthy();
    function_mut(&mut facts).environment_config = Some(coldstandby_config::to_toml(&config));
    in_a_vpc(&mut facts);
    facts.network = Some(Ok(NetworkFacts { ec2_endpoints: vec![endpoint("vpce-ec2")], ..no_endpoints() }));
    let run = |facts: &Facts| run_checks(&Context { config: &config, config_path: "clients.toml" }, facts);
    let api = |facts: &Facts| -> Vec<(String, Status)> {
        run(facts).into_iter().filter(|c| c.check == "mover APIs").map(|c| (c.found, c.status)).collect()
    };
    let without = api(&facts);
    assert_eq!(without.len(), 2, "target group and DNS movers: {without:?}");
    assert!(without.iter().all(|(_, status)| *status == Status::Fail), "{without:?}");

    facts.network = Some(Ok(NetworkFacts {
        ec2_endpoints: vec![endpoint("vpce-ec2")],
        load_balancing_endpoints: vec![endpoint("vpce-elb")],
        route53_endpoints: vec![endpoint("vpce-r53")],
        sns_endpoints: Vec::new(),
        ..no_endpoints()
    }));
    assert!(api(&facts).iter().all(|(_, status)| *status == Status::Pass), "{:?}", api(&facts));
    facts.network = Some(Ok(NetworkFacts {
        ec2_endpoints: vec![endpoint("vpce-ec2")],
        subnets_with_nat: vec!["subnet-a".to_owned(), "subnet-c".to_owned()],
        ..no_endpoints()
    }));
    assert!(api(&facts).iter().all(|(_, status)| *status == Status::Pass), "NAT everywhere");
}

#[test]
fn the_lease_table_must_exist_with_its_key_and_be_reachable_from_the_vpc() {
    let mut config = config();
    config.lease = Some(coldstandby_config::LeaseConfig {
        table: "coldstandby-leases".to_owned(),
        duration: std::time::Duration::from_secs(20),
    });
    let run = |facts: &Facts| run_checks(&Context { config: &config, config_path: "test.toml" }, facts);
    let problems = |facts: &Facts| -> Vec<Check> {
        run(facts).into_iter().filter(|c| c.status != Status::Pass).collect()
    };
    let good = LeaseTableFacts {
        key: vec![("group".to_owned(), "HASH".to_owned(), "S".to_owned())],
        billing_mode: "PAY_PER_REQUEST".to_owned(),
        deletion_protection: true,
        status: "ACTIVE".to_owned(),
    };
    let mut facts = healthy();
    function_mut(&mut facts).environment_config = Some(coldstandby_config::to_toml(&config));
    // The lease allows more than one invocation at a time.
    function_mut(&mut facts).reserved_concurrency = Some(10);
    facts.lease_table = Some(Ok(Some(good.clone())));
    assert!(problems(&facts).is_empty(), "{:#?}", problems(&facts));

    facts.lease_table = Some(Ok(None));
    let found = problems(&facts);
    assert_eq!((found[0].check, found[0].status), ("lease table", Status::Fail), "{found:#?}");
    assert!(found[0].fix.as_ref().unwrap().contains("--key-schema AttributeName=group,KeyType=HASH"));

    facts.lease_table = Some(Ok(Some(LeaseTableFacts {
        key: vec![("id".into(), "HASH".into(), "S".into())],
        ..good.clone()
    })));
    assert_eq!(problems(&facts)[0].status, Status::Fail);
    facts.lease_table = Some(Ok(Some(LeaseTableFacts { deletion_protection: false, ..good.clone() })));
    let found = problems(&facts);
    assert_eq!(found[0].status, Status::Warn);
    assert!(found[0].found.contains("deletion protection is off"), "{found:#?}");

    // In a VPC with an EC2 endpoint: DynamoDB needs its own way out.
    facts.lease_table = Some(Ok(Some(good)));
    function_mut(&mut facts).vpc = Some(VpcPlacement {
        vpc_id: "vpc-1".to_owned(),
        subnet_ids: vec!["subnet-a".to_owned(), "subnet-b".to_owned()],
    });
    let ec2 = EndpointFacts { id: "vpce-ec2".to_owned(), state: "available".to_owned(), private_dns: true };
    let routes = BTreeMap::from([
        ("subnet-a".to_owned(), "rtb-a".to_owned()),
        ("subnet-b".to_owned(), "rtb-b".to_owned()),
    ]);
    facts.network = Some(Ok(NetworkFacts {
        ec2_endpoints: vec![ec2],
        subnet_route_tables: routes,
        dynamodb_gateway_route_tables: vec!["rtb-a".to_owned()],
        ..no_endpoints()
    }));
    let found = problems(&facts);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].check, found[0].status), ("lease table reach", Status::Fail));
    assert!(found[0].found.starts_with("subnet-b "), "{found:#?}");
    assert!(found[0].fix.as_ref().unwrap().contains("--route-table-ids rtb-b"), "{found:#?}");
    if let Some(Ok(network)) = facts.network.as_mut() {
        network.dynamodb_gateway_route_tables.push("rtb-b".to_owned());
    }
    assert!(problems(&facts).is_empty(), "{:#?}", problems(&facts));

    // The role is asked for exactly the lease's calls on the table.
    let asked = coldstandby_deploy::doctor::required_permissions(&config, "aws", "111122223333");
    for action in ["dynamodb:GetItem", "dynamodb:PutItem"] {
        assert!(asked.iter().any(|r| r.action == action
            && r.resource == "arn:aws:dynamodb:ap-northeast-1:111122223333:table/coldstandby-leases"));
    }
}

#[test]
fn a_placement_that_differs_from_ec2_fails_naming_the_member() {
    let placed = |zone: &str, subnet: &str| {
        let text = format!(
            "region = \"ap-northeast-1\"\n[[group]]\nname = \"web\"\nprimary = \"{PRIMARY}\"\nstandbys = [\"{STANDBY}\"]\nalarms = [\"{ALARM}\"]\n[group.placement]\n\"{PRIMARY}\" = {{ zone = \"{zone}\", subnet = \"{subnet}\" }}\n"
        );
        coldstandby_config::parse(&text, "test.toml").unwrap()
    };
    let mut facts = healthy();
    facts.function = None;
    let run = |config: &coldstandby_config::Config| -> Vec<Check> {
        run_checks(&Context { config, config_path: "test.toml" }, &facts)
            .into_iter()
            .filter(|c| c.check == "placement")
            .collect()
    };
    let right = run(&placed("ap-northeast-1a", "subnet-0aaaaaaaaaaaaaaa1"));
    assert_eq!(right.len(), 1);
    assert_eq!(right[0].status, Status::Pass, "{right:#?}");
    let wrong = run(&placed("ap-northeast-1a", "subnet-0ccccccccccccccc1"));
    assert_eq!(wrong[0].status, Status::Fail, "{wrong:#?}");
    assert!(
        wrong[0]
            .found
            .contains(&format!("{PRIMARY} is in subnet-0aaaaaaaaaaaaaaa1, not subnet-0ccccccccccccccc1")),
        "{wrong:#?}"
    );
    let moved = run(&placed("ap-northeast-1c", "subnet-0aaaaaaaaaaaaaaa1"));
    assert!(moved[0].found.contains("is in ap-northeast-1a, not ap-northeast-1c"), "{moved:#?}");
    // Without a placement table there is nothing to compare.
    assert!(run(&config()).is_empty());
}

#[test]
fn the_text_doctor_prints_is_a_reviewed_snapshot() {
    // One FAIL with its fix, one WARN, the rest PASS: a change to any line shows as a diff here
    // (UPDATE_EXPECT=1 cargo test to accept it).
    let mut facts = healthy();
    function_mut(&mut facts).reserved_concurrency = None;
    instance_mut(&mut facts, STANDBY).availability_zone = "ap-northeast-1a".to_owned();
    let text = coldstandby_deploy::doctor::render_text(&checks(&facts)).join("\n");
    expect_test::expect_file!["snapshots/doctor.txt"].assert_eq(&text);
}

#[test]
fn a_function_in_a_vpc_that_notifies_needs_a_way_to_sns() {
    let mut config = config();
    config.notification_topic_arn = Some("arn:aws:sns:ap-northeast-1:111122223333:outcomes".to_owned());
    let mut facts = healthy();
    function_mut(&mut facts).environment_config = Some(coldstandby_config::to_toml(&config));
    in_a_vpc(&mut facts);
    let run = |facts: &Facts| run_checks(&Context { config: &config, config_path: "test.toml" }, facts);
    let sns = |facts: &Facts| -> Vec<Check> {
        run(facts).into_iter().filter(|check| check.check == "notification API").collect()
    };
    facts.network = Some(Ok(NetworkFacts { ec2_endpoints: vec![endpoint("vpce-ec2")], ..no_endpoints() }));
    let without = sns(&facts);
    assert_eq!(without.len(), 1, "{without:#?}");
    assert_eq!(without[0].status, Status::Fail);
    assert!(
        without[0].found.contains("the outcomes' notifications cannot leave the VPC"),
        "{}",
        without[0].found
    );
    assert!(without[0].fix.as_ref().unwrap().contains("com.amazonaws.ap-northeast-1.sns"));

    facts.network = Some(Ok(NetworkFacts {
        ec2_endpoints: vec![endpoint("vpce-ec2")],
        sns_endpoints: vec![endpoint("vpce-sns")],
        ..no_endpoints()
    }));
    assert_eq!(sns(&facts)[0].status, Status::Pass);

    // Without a topic there is nothing to reach.
    config.notification_topic_arn = None;
    let run = |facts: &Facts| run_checks(&Context { config: &config, config_path: "test.toml" }, facts);
    assert!(run(&facts).iter().all(|check| check.check != "notification API"));
}

/// The function placed in a VPC with two subnets.
fn in_a_vpc(facts: &mut Facts) {
    function_mut(facts).vpc = Some(VpcPlacement {
        vpc_id: "vpc-0123456789abcdef0".to_owned(),
        subnet_ids: vec!["subnet-a".to_owned(), "subnet-c".to_owned()],
    });
}

/// An available interface endpoint with private DNS.
fn endpoint(id: &str) -> EndpointFacts {
    EndpointFacts { id: id.to_owned(), state: "available".to_owned(), private_dns: true }
}

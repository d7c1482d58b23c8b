//! Clients follow the failover on moto: each mover's happy path through the real binary and the
//! real APIs (EC2 route tables and Elastic IPs, Route 53, ELBv2), one test per mover. doctor
//! reads the mover; a failover moves the route, the record, the target or the address to the
//! standby; a second run changes nothing; `switchover` moves it back. What moto cannot produce (blackhole routes, PENDING
//! changes, `initial` targets, a refused compare-and-swap) is tested on the simulated region
//! (`crates/engine/tests/clients.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use aws_sdk_ec2::types::Filter;
use common::{json, stderr, Article, REGION};

const OVERLAY: &str = "10.255.0.10/32";
const RECORD: &str = "db.internal.example.";

/// What moto holds for the movers.
struct Movers {
    route_table: String,
    zone: String,
    target_group: String,
    allocation: String,
}

/// An instance's (primary interface, private address), read through the API.
fn endpoint(article: &Article, instance: &str) -> (String, String) {
    article.runtime.block_on(async {
        let filter = Filter::builder().name("instance-id").values(instance).build();
        let out = article.client.describe_instances().filters(filter).send().await.unwrap();
        let found = &out.reservations()[0].instances()[0];
        let eni = found.network_interfaces()[0].network_interface_id().unwrap().to_owned();
        (eni, found.private_ip_address().unwrap().to_owned())
    })
}

fn vpc_of(article: &Article, instance: &str) -> String {
    article.runtime.block_on(async {
        let filter = Filter::builder().name("instance-id").values(instance).build();
        let out = article.client.describe_instances().filters(filter).send().await.unwrap();
        out.reservations()[0].instances()[0].vpc_id().unwrap().to_owned()
    })
}

/// Route table, private zone, target group and address, all pointing at the primary.
#[expect(clippy::too_many_lines, reason = "every mover's moto resources, one after another")]
fn provision(article: &Article) -> Movers {
    let (eni, ip) = endpoint(article, &article.primary);
    let vpc = vpc_of(article, &article.primary);
    let route53 = aws_sdk_route53::Client::new(&article.sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&article.sdk);
    let ec2 = &article.client;
    article.runtime.block_on(async {
        let table = ec2.create_route_table().vpc_id(&vpc).send().await.unwrap();
        let route_table = table.route_table().unwrap().route_table_id().unwrap().to_owned();
        ec2.create_route()
            .route_table_id(&route_table)
            .destination_cidr_block(OVERLAY)
            .network_interface_id(&eni)
            .send()
            .await
            .unwrap();
        // As a working overlay address needs (doctor fails the mover without it).
        ec2.modify_network_interface_attribute()
            .network_interface_id(&eni)
            .source_dest_check(aws_sdk_ec2::types::AttributeBooleanValue::builder().value(false).build())
            .send()
            .await
            .unwrap();

        let zone = route53
            .create_hosted_zone()
            .name("internal.example.")
            .caller_reference("coldstandby-test")
            .vpc(
                aws_sdk_route53::types::Vpc::builder()
                    .vpc_id(&vpc)
                    .vpc_region(REGION.parse().unwrap())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let zone = zone.hosted_zone().unwrap().id().trim_start_matches("/hostedzone/").to_owned();
        let record = aws_sdk_route53::types::ResourceRecordSet::builder()
            .name(RECORD)
            .r#type(aws_sdk_route53::types::RrType::A)
            // Not the TTL the mover writes: moto refuses a CREATE equal to one in its journal
            // while the record exists, even in a batch that deletes it first (Route 53 does not).
            .ttl(60)
            .resource_records(aws_sdk_route53::types::ResourceRecord::builder().value(&ip).build().unwrap())
            .build()
            .unwrap();
        let change = aws_sdk_route53::types::Change::builder()
            .action(aws_sdk_route53::types::ChangeAction::Create)
            .resource_record_set(record)
            .build()
            .unwrap();
        route53
            .change_resource_record_sets()
            .hosted_zone_id(&zone)
            .change_batch(aws_sdk_route53::types::ChangeBatch::builder().changes(change).build().unwrap())
            .send()
            .await
            .unwrap();

        let group = elb
            .create_target_group()
            .name("db")
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Tcp)
            .port(5432)
            .vpc_id(&vpc)
            .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Instance)
            .send()
            .await
            .unwrap();
        let target_group = group.target_groups()[0].target_group_arn().unwrap().to_owned();
        let primary =
            aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder().id(&article.primary).build();
        elb.register_targets().target_group_arn(&target_group).targets(primary).send().await.unwrap();

        let address =
            ec2.allocate_address().domain(aws_sdk_ec2::types::DomainType::Vpc).send().await.unwrap();
        let allocation = address.allocation_id().unwrap().to_owned();
        ec2.associate_address().allocation_id(&allocation).network_interface_id(&eni).send().await.unwrap();
        Movers { route_table, zone, target_group, allocation }
    })
}

/// The four mechanisms, one per test.
#[derive(Clone, Copy, Debug)]
enum Kind {
    OverlayIp,
    Dns,
    TargetGroup,
    ElasticIp,
}

/// A group whose clients follow through the `kind` mover only, after an `ec2-status` check.
fn write_config(article: &Article, movers: &Movers, kind: Kind) {
    let mover = match kind {
        Kind::OverlayIp => format!(
            "type = \"overlay-ip\"\naddress = \"{OVERLAY}\"\nroute_tables = [\"{}\"]",
            movers.route_table
        ),
        Kind::Dns => format!("type = \"dns\"\nhosted_zone = \"{}\"\nrecord = \"{RECORD}\"", movers.zone),
        Kind::TargetGroup => {
            format!("type = \"target-group\"\narn = \"{}\"\nregistration = \"move\"", movers.target_group)
        }
        Kind::ElasticIp => format!("type = \"elastic-ip\"\nallocation = \"{}\"", movers.allocation),
    };
    let text = format!(
        "region = \"{REGION}\"\n[[group]]\nname = \"db\"\nprimary = \"{}\"\nstandbys = [\"{}\"]\n\n\
         [[group.readiness]]\ntype = \"ec2-status\"\nsuccesses = 1\n\n[[group.mover]]\n{mover}\n",
        article.primary, article.standby
    );
    std::fs::write(&article.config, text).unwrap();
}

/// Where each mover sends clients now: (route's interface, record's value, registered targets,
/// address's interface).
fn pointing(article: &Article, movers: &Movers) -> (String, String, Vec<String>, String) {
    let route53 = aws_sdk_route53::Client::new(&article.sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&article.sdk);
    let ec2 = &article.client;
    article.runtime.block_on(async {
        let tables = ec2.describe_route_tables().route_table_ids(&movers.route_table).send().await.unwrap();
        let route = tables.route_tables()[0]
            .routes()
            .iter()
            .find(|route| route.destination_cidr_block() == Some(OVERLAY))
            .and_then(|route| route.network_interface_id())
            .unwrap()
            .to_owned();
        let records = route53.list_resource_record_sets().hosted_zone_id(&movers.zone).send().await.unwrap();
        let record = records
            .resource_record_sets()
            .iter()
            .find(|set| set.name() == RECORD && *set.r#type() == aws_sdk_route53::types::RrType::A)
            .map(|set| set.resource_records()[0].value().to_owned())
            .unwrap();
        let health =
            elb.describe_target_health().target_group_arn(&movers.target_group).send().await.unwrap();
        let targets = health
            .target_health_descriptions()
            .iter()
            .filter_map(|description| description.target()?.id().map(str::to_owned))
            .collect();
        let addresses = ec2.describe_addresses().allocation_ids(&movers.allocation).send().await.unwrap();
        let address = addresses.addresses()[0].network_interface_id().unwrap().to_owned();
        (route, record, targets, address)
    })
}

/// What the `kind` mover sends clients to now, as the member's (interface, address) or id.
fn pointed(article: &Article, movers: &Movers, kind: Kind) -> String {
    let (route, record, targets, address) = pointing(article, movers);
    match kind {
        Kind::OverlayIp => route,
        Kind::Dns => record,
        Kind::TargetGroup => targets.join(","),
        Kind::ElasticIp => address,
    }
}

/// What the `kind` mover names `instance` by: its interface, its private address, or its id.
fn name_of(article: &Article, instance: &str, kind: Kind) -> String {
    let (eni, ip) = endpoint(article, instance);
    match kind {
        Kind::OverlayIp | Kind::ElasticIp => eni,
        Kind::Dns => ip,
        Kind::TargetGroup => instance.to_owned(),
    }
}

/// doctor, a failover, a rerun and a switchover back, with the `kind` mover.
fn follows_there_and_back(kind: Kind, name: &str, mutating: &str) {
    let article = Article::new(name);
    let movers = provision(&article);
    write_config(&article, &movers, kind);
    let (primary, standby) =
        (name_of(&article, &article.primary, kind), name_of(&article, &article.standby, kind));
    assert_eq!(pointed(&article, &movers, kind), primary, "{kind:?} starts on the primary");

    let doctor = article.run(&["doctor", "--config", article.config.to_str().unwrap(), "--output", "json"]);
    let report = json(&doctor);
    let checks: Vec<&serde_json::Value> =
        report["checks"].as_array().unwrap().iter().filter(|check| check["check"] == "mover").collect();
    assert_eq!(checks.len(), 1, "{report}");
    assert_eq!(checks[0]["status"], "PASS", "{kind:?}: {}", checks[0]);

    let failover = article.run_with_config("failover", &["--group", "db", "--output", "json"]);
    assert_eq!(failover.status.code(), Some(0), "{kind:?}: {}", stderr(&failover));
    assert_eq!(json(&failover)["outcome"]["to"], article.standby.as_str(), "{}", json(&failover));
    assert_eq!(pointed(&article, &movers, kind), standby, "{kind:?} moved to the standby");

    let again = article.run_with_config("failover", &["--group", "db", "--output", "json"]);
    assert_eq!(json(&again)["outcome"]["result"], "already-active");
    let calls = json(&again)["calls"].clone();
    assert!(calls.get(mutating).is_none(), "{kind:?}: a rerun made {mutating}: {calls}");
    assert_eq!(pointed(&article, &movers, kind), standby);

    let back = article.run_with_config("switchover", &["--group", "db", "--output", "json"]);
    assert_eq!(back.status.code(), Some(0), "{kind:?}: {}", stderr(&back));
    assert_eq!(json(&back)["outcome"]["to"], article.primary.as_str(), "{}", json(&back));
    assert_eq!(pointed(&article, &movers, kind), primary, "{kind:?} moved back");
    let (primary_state, _) = article.instance(&article.primary);
    let (standby_state, _) = article.instance(&article.standby);
    assert_eq!((primary_state.as_str(), standby_state.as_str()), ("running", "stopped"));
}

#[test]
fn the_overlay_route_follows_a_failover_and_a_switchover_back() {
    follows_there_and_back(Kind::OverlayIp, "overlay", "ReplaceRoute");
}

#[test]
fn the_private_record_follows_a_failover_and_a_switchover_back() {
    follows_there_and_back(Kind::Dns, "dns", "ChangeResourceRecordSets");
}

#[test]
fn the_target_registration_follows_a_failover_and_a_switchover_back() {
    follows_there_and_back(Kind::TargetGroup, "target-group", "RegisterTargets");
}

#[test]
fn the_elastic_ip_follows_a_failover_and_a_switchover_back() {
    follows_there_and_back(Kind::ElasticIp, "elastic-ip", "AssociateAddress");
}

//! The group lease on DynamoDB (moto): the store's conditional writes as the engine uses them,
//! and `coldstandby failover` under `[lease]`: it takes and releases the lease, exits 4 naming
//! the holder when another process holds the group and renews it (touching nothing), and takes
//! over a dead holder's lease once it has stayed unchanged for its duration.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods)] // waits, with deadlines, for real processes (moto, daemons)

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ec2::types::InstanceStateName;
use coldstandby_aws::Ec2Provider;
use coldstandby_engine::lease::{LeaseCall, LeaseRecord, LeaseReply};
use coldstandby_engine::{ErrorKind, Provider};
use common::*;

const TABLE: &str = "coldstandby-leases";

fn create_table(article: &Article) -> aws_sdk_dynamodb::Client {
    let client = aws_sdk_dynamodb::Client::new(&article.sdk);
    article.runtime.block_on(create_lease_table(&client, TABLE));
    let config = std::fs::read_to_string(&article.config).unwrap();
    std::fs::write(
        &article.config,
        format!("{config}\n[lease]\ntable = \"{TABLE}\"\nduration_seconds = 5\n"),
    )
    .unwrap();
    client
}

fn record(owner: Option<&str>, epoch: u64, version: &str) -> LeaseRecord {
    LeaseRecord {
        group: "web".to_owned(),
        owner: owner.map(str::to_owned),
        epoch,
        version: version.to_owned(),
        duration_ms: 5_000,
    }
}

fn item(
    client: &aws_sdk_dynamodb::Client,
    article: &Article,
) -> std::collections::HashMap<String, AttributeValue> {
    article.runtime.block_on(async {
        let answer = client
            .get_item()
            .table_name(TABLE)
            .key("group", AttributeValue::S("web".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        answer.item().cloned().unwrap_or_default()
    })
}

#[test]
fn the_lease_store_takes_renews_refuses_a_stale_writer_and_releases() {
    let article = Article::new("lease-store");
    create_table(&article);
    let provider = Ec2Provider::from_config(&article.sdk);
    let call = |call: LeaseCall| article.runtime.block_on(provider.lease(&call));
    let write = |record: LeaseRecord, expected: Option<&str>| LeaseCall::Write {
        table: TABLE.to_owned(),
        record,
        expected: expected.map(str::to_owned),
    };
    let read = || LeaseCall::Read { table: TABLE.to_owned(), group: "web".to_owned() };

    assert_eq!(call(read()).unwrap(), LeaseReply::Read(None));
    assert_eq!(call(write(record(Some("a"), 1, "a #1"), None)).unwrap(), LeaseReply::Written);
    // A second taker that saw no item loses.
    let refused = call(write(record(Some("b"), 1, "b #1"), None)).unwrap_err();
    assert_eq!(refused.kind, ErrorKind::WrongState, "{refused}");
    // The holder renews; a writer holding the old version loses.
    assert_eq!(call(write(record(Some("a"), 1, "a #2"), Some("a #1"))).unwrap(), LeaseReply::Written);
    let stale = call(write(record(Some("b"), 2, "b #2"), Some("a #1"))).unwrap_err();
    assert_eq!(stale.kind, ErrorKind::WrongState, "{stale}");
    // Released: no owner, the epoch kept for the next taker.
    assert_eq!(call(write(record(None, 1, "a #3"), Some("a #2"))).unwrap(), LeaseReply::Written);
    assert_eq!(call(read()).unwrap(), LeaseReply::Read(Some(record(None, 1, "a #3"))));
    // A table that does not exist is not a lease taken.
    let missing = article
        .runtime
        .block_on(provider.lease(&LeaseCall::Read { table: "nope".into(), group: "web".into() }));
    assert!(!missing.unwrap_err().kind.is_retryable());
}

#[test]
fn failover_takes_the_lease_writes_its_epoch_and_releases_it() {
    let article = Article::new("lease-failover");
    let client = create_table(&article);
    let output = article.run_with_config("failover", &["--group", "web", "--output", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let item = item(&client, &article);
    assert_eq!(item["epoch"].as_n().unwrap(), "1");
    assert!(!item.contains_key("owner"), "released: {item:?}");
    let (_, tags) = article.instance(&article.standby);
    assert!(tags["coldstandby:trigger"].ends_with(" lease-epoch 1"), "{tags:?}");
}

#[test]
fn failover_exits_4_naming_the_holder_while_another_process_renews_the_lease() {
    let article = Article::new("lease-busy");
    let client = create_table(&article);
    // Another process holds the group and renews its lease every second.
    let stop = Arc::new(AtomicBool::new(false));
    let renewer = {
        let (client, stop) = (client.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let mut writes = 0;
            while !stop.load(Ordering::Relaxed) && writes < 120 {
                writes += 1;
                let put = client
                    .put_item()
                    .table_name(TABLE)
                    .item("group", AttributeValue::S("web".into()))
                    .item("owner", AttributeValue::S("lambda coldstandby request 42".into()))
                    .item("epoch", AttributeValue::N("3".into()))
                    .item("version", AttributeValue::S(format!("other #{writes}")))
                    .item("duration_ms", AttributeValue::N("5000".into()));
                runtime.block_on(put.send()).unwrap();
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let began = Instant::now();
    let output = article.run_with_config("failover", &["--group", "web"]);
    stop.store(true, Ordering::Relaxed);
    renewer.join().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(4), "{text}\n{}", stderr(&output));
    assert!(text.contains("lambda coldstandby request 42 (epoch 3)"), "{text}");
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "known busy before the lease's duration: {:?}",
        began.elapsed()
    );
    assert_eq!(article.instance(&article.primary).0, InstanceStateName::Running, "nothing was touched");
    assert_eq!(article.instance(&article.standby).0, InstanceStateName::Stopped);
}

#[test]
fn failover_takes_over_a_dead_holders_lease_after_its_duration() {
    let article = Article::new("lease-takeover");
    let client = create_table(&article);
    article.runtime.block_on(async {
        let put = client
            .put_item()
            .table_name(TABLE)
            .item("group", AttributeValue::S("web".into()))
            .item("owner", AttributeValue::S("cli gone@host pid 7".into()))
            .item("epoch", AttributeValue::N("6".into()))
            .item("version", AttributeValue::S("gone #1".into()))
            .item("duration_ms", AttributeValue::N("5000".into()));
        put.send().await.unwrap();
    });
    let began = Instant::now();
    let output = article.run_with_config("failover", &["--group", "web", "--output", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(began.elapsed() >= Duration::from_secs(5), "waited out the dead holder's lease");
    assert_eq!(json(&output)["outcome"]["result"], "failed-over");
    let item = item(&client, &article);
    assert_eq!(item["epoch"].as_n().unwrap(), "7", "{item:?}");
    let (_, tags) = article.instance(&article.standby);
    assert!(tags["coldstandby:trigger"].ends_with(" lease-epoch 7"), "{tags:?}");
}

//! The lease store on DynamoDB: one item per group (partition key `group`), read with a
//! strongly consistent GetItem (an eventually consistent read could show a record already
//! replaced, and a watcher would time the wrong version), written with a PutItem conditional on
//! the stored `version` (or on there being no item). A refused condition is `WrongState`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use coldstandby_engine::lease::{LeaseCall, LeaseRecord, LeaseReply};
use coldstandby_engine::{ApiError, ErrorKind};

use crate::errors::from_sdk_error;

/// Make one lease call.
pub async fn call(client: &aws_sdk_dynamodb::Client, call: &LeaseCall) -> Result<LeaseReply, ApiError> {
    match call {
        LeaseCall::Read { table, group } => {
            let answer = client
                .get_item()
                .table_name(table)
                .key("group", AttributeValue::S(group.clone()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|error| from_sdk_error("GetItem", error))?;
            answer.item().map(record_of).transpose().map(LeaseReply::Read)
        }
        LeaseCall::Write { table, record, expected } => {
            let put = client.put_item().table_name(table).set_item(Some(item_of(record)));
            let put = match expected {
                None => put
                    .condition_expression("attribute_not_exists(#group)")
                    .expression_attribute_names("#group", "group"),
                Some(version) => put
                    .condition_expression("#version = :expected")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":expected", AttributeValue::S(version.clone())),
            };
            put.send().await.map_err(|error| from_sdk_error("PutItem", error))?;
            Ok(LeaseReply::Written)
        }
    }
}

/// The item that stores `record` (a released lease has no `owner`).
fn item_of(record: &LeaseRecord) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("group".to_owned(), AttributeValue::S(record.group.clone())),
        ("epoch".to_owned(), AttributeValue::N(record.epoch.to_string())),
        ("version".to_owned(), AttributeValue::S(record.version.clone())),
        ("duration_ms".to_owned(), AttributeValue::N(record.duration_ms.to_string())),
    ]);
    if let Some(owner) = &record.owner {
        item.insert("owner".to_owned(), AttributeValue::S(owner.clone()));
    }
    item
}

/// The record an item stores; an item that is not one (written by hand, say) is an error
/// naming what is wrong, never a lease taken for granted.
fn record_of(item: &HashMap<String, AttributeValue>) -> Result<LeaseRecord, ApiError> {
    let text = |name: &str| item.get(name).and_then(|value| value.as_s().ok()).cloned();
    let number =
        |name: &str| item.get(name).and_then(|value| value.as_n().ok()).and_then(|n| n.parse::<u64>().ok());
    let group = text("group").unwrap_or_default();
    let malformed = |what: &str| {
        let message = format!("the lease item of group `{group}` has no valid `{what}`");
        ApiError::new(ErrorKind::Invalid, "MalformedLeaseItem", message)
    };
    Ok(LeaseRecord {
        owner: text("owner"),
        epoch: number("epoch").ok_or_else(|| malformed("epoch"))?,
        version: text("version").ok_or_else(|| malformed("version"))?,
        duration_ms: number("duration_ms").filter(|ms| *ms > 0).ok_or_else(|| malformed("duration_ms"))?,
        group,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_through_its_item_and_a_bad_item_is_named() {
        let record = LeaseRecord {
            group: "web".to_owned(),
            owner: Some("cli me@host pid 1".to_owned()),
            epoch: 7,
            version: "cli me@host pid 1 #3".to_owned(),
            duration_ms: 20_000,
        };
        assert_eq!(record_of(&item_of(&record)).unwrap(), record);
        let released = LeaseRecord { owner: None, ..record.clone() };
        assert_eq!(record_of(&item_of(&released)).unwrap(), released);
        let mut bad = item_of(&record);
        bad.insert("epoch".to_owned(), AttributeValue::S("seven".to_owned()));
        let error = record_of(&bad).unwrap_err();
        assert!(error.message.contains("`epoch`") && error.message.contains("`web`"), "{error}");
    }
}

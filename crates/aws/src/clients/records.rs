//! `dns` on Route 53: the A record as ListResourceRecordSets shows it, the progress of this run's
//! change (GetChange), and the change itself as one batch deleting the exact record read and
//! creating the new one: Route 53 refuses it if the record changed meanwhile.

use aws_sdk_route53::types::{
    Change as RecordChange, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet,
    RrType,
};
use coldstandby_engine::clients::{Change, ClientView, Dns, RecordView};
use coldstandby_engine::{ApiError, ErrorKind};

use crate::errors::from_sdk_error;

/// Record names compare without case and without the final dot.
fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.'))
}

pub(super) async fn read(
    client: &aws_sdk_route53::Client,
    dns: &Dns,
    change: Option<&str>,
) -> Result<ClientView, ApiError> {
    let answer = client
        .list_resource_record_sets()
        .hosted_zone_id(&dns.hosted_zone)
        .start_record_name(&dns.record)
        .start_record_type(RrType::A)
        .max_items(1)
        .send()
        .await
        .map_err(|error| from_sdk_error("ListResourceRecordSets", error))?;
    let record = answer
        .resource_record_sets()
        .iter()
        .find(|set| same_name(set.name(), &dns.record) && *set.r#type() == RrType::A);
    let value = record.and_then(|set| set.resource_records().first()).map(|r| r.value().to_owned());
    let ttl = record.and_then(ResourceRecordSet::ttl).and_then(|ttl| u32::try_from(ttl).ok());
    let in_sync = match change {
        Some(id) => {
            let answer = client
                .get_change()
                .id(id)
                .send()
                .await
                .map_err(|error| from_sdk_error("GetChange", error))?;
            Some(answer.change_info().is_some_and(|info| *info.status() == ChangeStatus::Insync))
        }
        None => None,
    };
    Ok(ClientView::Record(RecordView { value, ttl, in_sync }))
}

fn record_set(name: &str, value: &str, ttl: u32) -> Result<ResourceRecordSet, ApiError> {
    let invalid = |error: aws_sdk_route53::error::BuildError| {
        ApiError::new(ErrorKind::Invalid, "InvalidInput", error.to_string())
    };
    let record = ResourceRecord::builder().value(value).build().map_err(invalid)?;
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::A)
        .ttl(i64::from(ttl))
        .resource_records(record)
        .build()
        .map_err(invalid)
}

/// Make the swap; its change id, to follow with GetChange.
pub(super) async fn change(client: &aws_sdk_route53::Client, change: &Change) -> Result<String, ApiError> {
    let Change::Record { hosted_zone, record, from, to, ttl } = change else {
        unreachable!("not a record change: {change}")
    };
    let invalid = |error: aws_sdk_route53::error::BuildError| {
        ApiError::new(ErrorKind::Invalid, "InvalidInput", error.to_string())
    };
    let mut batch = ChangeBatch::builder().comment("coldstandby: the active member's address");
    if let Some((value, old_ttl)) = from {
        let delete = RecordChange::builder()
            .action(ChangeAction::Delete)
            .resource_record_set(record_set(record, value, *old_ttl)?)
            .build()
            .map_err(invalid)?;
        batch = batch.changes(delete);
    }
    let create = RecordChange::builder()
        .action(ChangeAction::Create)
        .resource_record_set(record_set(record, to, *ttl)?)
        .build()
        .map_err(invalid)?;
    let batch = batch.changes(create).build().map_err(invalid)?;
    let answer = client
        .change_resource_record_sets()
        .hosted_zone_id(hosted_zone)
        .change_batch(batch)
        .send()
        .await
        .map_err(|error| from_sdk_error("ChangeResourceRecordSets", error))?;
    Ok(answer.change_info().map(|info| info.id().to_owned()).unwrap_or_default())
}

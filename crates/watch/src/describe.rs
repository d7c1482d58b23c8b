//! Asking EC2 about watched members zone by zone: during a zone's disruption EC2 fails every
//! describe naming one of that zone's instances, so one request per zone keeps a failed zone's
//! silence to its own instances instead of hiding every group batched with it.

use std::collections::BTreeMap;

use coldstandby_engine::fleet::Zones;
use coldstandby_engine::{driver, ApiError, Clock, ErrorKind, InstanceId, Observation, Provider, Timestamp};
use futures_util::future::join_all;

/// The most ids one describe names.
pub(crate) const IDS_PER_REQUEST: usize = 1_000;

/// What a round of per-zone describes got: every answered zone's observations, and each member
/// of a zone whose describe failed or did not answer in time, with the error.
#[derive(Debug, Default)]
pub(crate) struct ZonedAnswer {
    pub observations: Vec<Observation>,
    pub unanswered: BTreeMap<InstanceId, ApiError>,
}

impl ZonedAnswer {
    /// One of the errors, for the log (None: every zone answered).
    pub fn an_error(&self) -> Option<&ApiError> {
        self.unanswered.values().next()
    }
}

/// How many times a failed describe of instances of unknown zone is halved: 1,000 ids down to one.
const MAX_SPLITS: usize = 10;

/// One describe to make: its ids, and whether their zone is unknown (a failure may then come
/// from any one of them, and the request is halved to find out).
#[derive(Clone, Debug)]
pub(crate) struct Request {
    ids: Vec<InstanceId>,
    zone_unknown: bool,
}

/// The requests for `ids`: grouped by zone as `zones` knows them (ids of no known zone together),
/// at most [`IDS_PER_REQUEST`] to a request.
pub(crate) fn requests(ids: Vec<InstanceId>, zones: &Zones) -> Vec<Request> {
    let mut by_zone: BTreeMap<Option<String>, Vec<InstanceId>> = BTreeMap::new();
    for id in ids {
        by_zone.entry(zones.zone_of(&id).map(str::to_owned)).or_default().push(id);
    }
    by_zone
        .into_iter()
        .flat_map(|(zone, ids)| {
            let zone_unknown = zone.is_none();
            ids.chunks(IDS_PER_REQUEST)
                .map(|chunk| Request { ids: chunk.to_vec(), zone_unknown })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Make `requests` at once, each given up on at `give_up`. A failed request of instances of
/// unknown zone is asked again in halves (a disrupted zone's instance among them fails it).
pub(crate) async fn describe<P: Provider, C: Clock>(
    provider: &P,
    clock: &C,
    mut requests: Vec<Request>,
    give_up: Timestamp,
) -> ZonedAnswer {
    let mut zoned = ZonedAnswer::default();
    for split in 0..=MAX_SPLITS {
        let answers = join_all(requests.into_iter().map(|request| async move {
            let answer = driver::first_of(provider.describe(&request.ids), clock.sleep_until(give_up)).await;
            let answer = answer.unwrap_or_else(|| {
                Err(ApiError::new(ErrorKind::Transient, "ClientTimeout", "DescribeInstances got no answer"))
            });
            (request, answer)
        }))
        .await;
        requests = Vec::new();
        for (request, answer) in answers {
            match answer {
                Ok(observations) => zoned.observations.extend(observations),
                Err(_) if request.zone_unknown && request.ids.len() > 1 && split < MAX_SPLITS => {
                    let (left, right) = request.ids.split_at(request.ids.len() / 2);
                    for half in [left, right] {
                        requests.push(Request { ids: half.to_vec(), zone_unknown: true });
                    }
                }
                Err(error) => zoned.unanswered.extend(request.ids.into_iter().map(|id| (id, error.clone()))),
            }
        }
        if requests.is_empty() {
            break;
        }
    }
    debug_assert!(requests.is_empty(), "the last split asks nothing again");
    zoned
}

//! An Availability Zone that does not answer, as EC2 behaves during a zone's disruption: a
//! describe that names one of its instances fails, and so does one that names no instance id
//! at all (ids passed only in a filter count as none); one naming only other zones' instances
//! answers normally. A start, stop or tag write naming one fails or never answers, without
//! effect. The zone's instances go on as they were; only the API cannot reach them.

use std::time::Duration;

use coldstandby_engine::{ApiError, Call, ErrorKind, InstanceId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::region::Inner;

/// How long a call into a hanging zone takes to answer: longer than any caller waits.
pub(crate) const HANG: Duration = Duration::from_secs(600);

/// What calls naming the zone's instances get.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImpairedCalls {
    /// An error at once (`Unavailable`).
    Fail,
    /// No answer at all.
    Hang,
    /// One or the other, drawn for each call.
    Either,
}

/// A zone that does not answer, since when, until when (None: until restored), and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impairment {
    pub calls: ImpairedCalls,
    pub since: Timestamp,
    #[serde(default)]
    pub until: Option<Timestamp>,
}

impl Impairment {
    /// Whether the zone does not answer at `now`.
    pub fn in_force_at(&self, now: Timestamp) -> bool {
        self.since <= now && self.until.is_none_or(|until| now < until)
    }
}

/// What an impaired zone does to one request.
#[derive(Debug)]
pub(crate) enum ZoneAnswer {
    Fail(ApiError),
    Hang,
}

/// The error of a call into a zone that does not answer.
fn unavailable(instance: &InstanceId, zone: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Transient,
        "Unavailable",
        format!("The service is unavailable for {instance} in {zone}. Please try again later."),
    )
}

/// What a caller that gave up on a hung call is left with (it never sees this answer).
pub(crate) fn no_answer() -> ApiError {
    ApiError::new(ErrorKind::Transient, "NoAnswer", "the request never answered (its zone hangs)")
}

impl Inner {
    /// What the impaired zones do to a request made of `calls`, if it names any of their
    /// instances (a probe over the network is not an API call: its failures are the network's).
    pub(crate) fn impaired_answer(&mut self, calls: &[Call]) -> Option<ZoneAnswer> {
        let now = self.now;
        if !self.impaired.values().any(|impairment| impairment.in_force_at(now)) {
            return None;
        }
        let named = calls.iter().flat_map(|call| match call {
            Call::Describe { instances } => instances.iter().collect::<Vec<_>>(),
            Call::Start { instance } | Call::Stop { instance, .. } | Call::SetTags { instance, .. } => {
                vec![instance]
            }
            _ => Vec::new(),
        });
        let mut hit = None;
        if let Some(Call::Describe { instances }) = calls.first() {
            if instances.is_empty() || self.faults.describe_by_filter {
                // Names no instance id: EC2 fails it while any zone is disrupted.
                let zone = self
                    .impaired
                    .iter()
                    .find(|(_, impairment)| impairment.in_force_at(now))
                    .map(|(zone, _)| zone)
                    .expect("checked above");
                let error = ApiError::new(
                    ErrorKind::Transient,
                    "Unavailable",
                    format!("The service is unavailable: {zone} is impaired and the request names no instance id."),
                );
                return Some(ZoneAnswer::Fail(error));
            }
        }
        for instance in named {
            let Some(zone) = self.instances.get(instance).map(|i| i.availability_zone.clone()) else {
                continue;
            };
            if let Some(impairment) =
                self.impaired.get(&zone).filter(|impairment| impairment.in_force_at(now))
            {
                hit = Some((instance.clone(), zone, impairment.calls));
                break;
            }
        }
        let (instance, zone, calls_get) = hit?;
        let describe = matches!(calls.first(), Some(Call::Describe { .. }));
        let hangs = match calls_get {
            // A describe fails: EC2 documents that it does.
            _ if describe => false,
            ImpairedCalls::Fail => false,
            ImpairedCalls::Hang => true,
            ImpairedCalls::Either => self.rng.bool(),
        };
        Some(if hangs { ZoneAnswer::Hang } else { ZoneAnswer::Fail(unavailable(&instance, &zone)) })
    }
}

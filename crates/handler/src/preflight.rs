//! The preflight: before acting, describe every member of every group to act on, so a
//! configuration that names the wrong instances changes nothing. One describe per Availability
//! Zone (as configured in `[group.placement]`) and page of ids, so a zone that does not answer (EC2
//! fails a describe that names one of its instances) hides only its own instances. A describe
//! that still fails leaves its instances to the engine, which describes zone by zone and applies
//! the group's fence policy: the preflight never keeps a group from failing over because a zone
//! is down, only because EC2 says an instance does not exist or the caller may not ask.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use coldstandby_config::GroupConfig;
use coldstandby_engine::fleet::{DESCRIBE_IDS_PER_REQUEST, MAX_IDS_PER_REQUEST};
use coldstandby_engine::{ApiError, Clock, ErrorKind, InstanceId, Observation, Provider};

use crate::handle::HandlerError;

/// A pause before the one retry of a describe of a known zone that failed transiently.
const PAUSE: Duration = Duration::from_millis(500);

/// What the preflight describes returned, and the members no describe could answer for.
pub type Described = (Vec<Observation>, BTreeMap<InstanceId, ApiError>);

/// Describe `members` (with the zones `placements` know of).
pub async fn describe<P: Provider, C: Clock>(
    provider: &P,
    clock: &C,
    members: &[InstanceId],
    placements: &BTreeMap<InstanceId, String>,
) -> Described {
    let unique: BTreeSet<&InstanceId> = members.iter().collect();
    let mut by_zone: BTreeMap<Option<&String>, Vec<InstanceId>> = BTreeMap::new();
    for id in unique {
        by_zone.entry(placements.get(id)).or_default().push(id.clone());
    }
    // (ids, zone known, retried already)
    let mut pending: Vec<(Vec<InstanceId>, bool, bool)> = Vec::new();
    for (zone, ids) in by_zone {
        pending.extend(
            ids.chunks(DESCRIBE_IDS_PER_REQUEST).map(|chunk| (chunk.to_vec(), zone.is_some(), false)),
        );
    }
    let mut observations = Vec::new();
    let mut unanswered = BTreeMap::new();
    // Each request is sent at most twice, or split once into pages of 200: a bound on the loop.
    let bound = 4 * members.len() + 8;
    for _ in 0..bound {
        let Some((ids, zone_known, retried)) = pending.pop() else { break };
        match provider.describe(&ids).await {
            Ok(found) => observations.extend(found),
            // Refused for naming too many ids (a limit EC2 does not document): smaller pages.
            Err(error) if error.kind == ErrorKind::Invalid && ids.len() > MAX_IDS_PER_REQUEST => {
                pending.extend(
                    ids.chunks(MAX_IDS_PER_REQUEST).map(|chunk| (chunk.to_vec(), zone_known, retried)),
                );
            }
            Err(error) if error.kind.is_retryable() && zone_known && !retried => {
                clock.sleep_until(clock.now() + PAUSE).await;
                pending.push((ids, zone_known, true));
            }
            Err(error) => unanswered.extend(ids.into_iter().map(|id| (id, error.clone()))),
        }
    }
    for (ids, _, _) in pending {
        let error = ApiError::new(ErrorKind::Transient, "NotAsked", "the preflight gave up");
        unanswered.extend(ids.into_iter().map(|id| (id, error.clone())));
    }
    (observations, unanswered)
}

/// `group`'s members as described: the primary and at least one standby must exist (else the
/// configuration names the wrong instances). A member no describe answered for is left to the
/// engine (its zone may be down); a group none of whose members could be described for a reason
/// no retry mends (permissions) fails.
pub fn check_group(
    group: &GroupConfig,
    observations: &[Observation],
    unanswered: &BTreeMap<InstanceId, ApiError>,
) -> Result<Vec<Observation>, HandlerError> {
    let spec = &group.spec;
    let members = spec.members();
    if let Some(errors) = members.iter().map(|member| unanswered.get(member)).collect::<Option<Vec<_>>>() {
        if let Some(error) = errors.into_iter().find(|error| error.kind.is_permanent()) {
            return Err(HandlerError::Describe { group: spec.name.clone(), error: error.clone() });
        }
    }
    let mine: Vec<Observation> =
        observations.iter().filter(|o| spec.contains(&o.instance)).cloned().collect();
    let missing: Vec<InstanceId> = members
        .into_iter()
        .filter(|member| !unanswered.contains_key(member) && !mine.iter().any(|o| o.instance == *member))
        .collect();
    let primary_missing = missing.contains(&spec.primary);
    let no_standby = spec.standbys.iter().all(|standby| missing.contains(standby));
    if primary_missing || no_standby {
        return Err(HandlerError::UnknownInstances { group: spec.name.clone(), missing });
    }
    if !missing.is_empty() {
        let list: Vec<&str> = missing.iter().map(InstanceId::as_str).collect();
        tracing::warn!(group = %spec.name, missing = %list.join(", "), "standbys not returned by DescribeInstances; they will be skipped");
    }
    Ok(mine)
}

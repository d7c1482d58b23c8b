//! The preflight: before acting, describe every member of every group to act on, so a
//! configuration that names the wrong instances changes nothing. One describe per Availability
//! Zone (as configured in `[group.placement]`) and 200 ids, so a zone that does not answer (EC2
//! fails a describe that names one of its instances) hides only its own instances; those, the
//! engine deals with by its fence policy. Ids of unknown zone are asked in halves when a describe
//! fails, down to one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use coldstandby_config::GroupConfig;
use coldstandby_engine::fleet::MAX_IDS_PER_REQUEST;
use coldstandby_engine::{ApiError, Clock, InstanceId, Observation, Provider};

use crate::handle::HandlerError;

/// Attempts of one describe on a throttled or transient error.
const ATTEMPTS: u32 = 3;
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
    let mut pending: Vec<(Vec<InstanceId>, bool, u32)> = Vec::new();
    for (zone, ids) in by_zone {
        pending.extend(ids.chunks(MAX_IDS_PER_REQUEST).map(|chunk| (chunk.to_vec(), zone.is_some(), 0)));
    }
    let mut observations = Vec::new();
    let mut unanswered = BTreeMap::new();
    // Each failure splits a request or spends one of its attempts: a bound on the loop.
    let bound = 4 * (ATTEMPTS as usize) * (members.len() + 1);
    for _ in 0..bound {
        let Some((ids, zone_known, attempt)) = pending.pop() else { break };
        let error = match provider.describe(&ids).await {
            Ok(found) => {
                observations.extend(found);
                continue;
            }
            Err(error) => error,
        };
        let whole = ids.len() == 1 || zone_known || error.kind.is_permanent();
        if error.kind.is_retryable() && attempt + 1 < ATTEMPTS && whole {
            clock.sleep_until(clock.now() + PAUSE).await;
            pending.push((ids, zone_known, attempt + 1));
        } else if whole {
            unanswered.extend(ids.into_iter().map(|id| (id, error.clone())));
        } else {
            let mut first = ids;
            let second = first.split_off(first.len() / 2);
            pending.push((first, false, 0));
            pending.push((second, false, 0));
        }
    }
    for (ids, _, _) in pending {
        let error = ApiError::new(coldstandby_engine::ErrorKind::Transient, "NotAsked", "preflight gave up");
        unanswered.extend(ids.into_iter().map(|id| (id, error.clone())));
    }
    (observations, unanswered)
}

/// `group`'s members as described: the primary and at least one standby must exist (else the
/// configuration names the wrong instances). A member no describe answered for is left to the
/// engine (its zone may be down); a group none of whose members could be described fails.
pub fn check_group(
    group: &GroupConfig,
    observations: &[Observation],
    unanswered: &BTreeMap<InstanceId, ApiError>,
) -> Result<Vec<Observation>, HandlerError> {
    let spec = &group.spec;
    let members = spec.members();
    if let Some(error) = members.iter().map(|member| unanswered.get(member)).collect::<Option<Vec<_>>>() {
        let error = error.first().map(|error| (*error).clone()).expect("a group has members");
        return Err(HandlerError::Describe { group: spec.name.clone(), error });
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

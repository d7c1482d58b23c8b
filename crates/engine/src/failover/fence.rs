//! Fencing: stop every member that could still serve, escalate a slow stop to a forced one, and
//! confirm the fence only from observed `stopped` (or `terminated`) states.

use super::*;

impl Failover {
    /// Stop every fence target, escalate slow stops, and confirm the fence from observations.
    pub(super) fn advance_fence(&mut self, now: Timestamp) {
        if self.fence_confirmed_at.is_some() {
            return;
        }
        let force_from_start = self.spec.fence == FenceMode::ForceStop;
        let stop_timeout = self.spec.timeouts.stop;
        let mut unconfirmed = false;
        let mut to_stop = Vec::new();
        let mut escalations = Vec::new();
        let isolated: Vec<bool> =
            self.fence.iter().map(|target| self.is_isolated(&target.instance)).collect();
        let isolating: Vec<bool> =
            self.fence.iter().map(|target| self.isolates_instead_of_stopping(&target.instance)).collect();
        for (index, target) in self.fence.iter_mut().enumerate() {
            if isolated[index] {
                continue; // cut off from the network: fenced, whatever it is doing
            }
            let seen = &self.seen[&target.instance];
            let state = seen.state();
            match state {
                // Only a settled answer confirms: a stale one may show it stopped from before it
                // last ran.
                Some(InstanceState::Stopped | InstanceState::Terminated)
                    if seen.settled_state().is_some() =>
                {
                    continue
                }
                Some(InstanceState::Running)
                    if target.stop_requested_at.is_none() && !target.stop_in_flight =>
                {
                    target.stop_in_flight = true;
                    target.force_requested = force_from_start;
                    to_stop.push((target.instance.clone(), force_from_start));
                }
                Some(InstanceState::Stopping)
                    if target.stop_requested_at.is_none() && !target.stop_in_flight =>
                {
                    // Someone else's stop (an old EC2 alarm action, say): time it from now.
                    target.stop_requested_at = Some(now);
                }
                None if !target.blind_stop_sent && !target.stop_in_flight && !isolating[index] => {
                    // Not visible: stopping it anyway costs nothing, but only an observed
                    // `stopped` will ever confirm the fence.
                    target.blind_stop_sent = true;
                    target.stop_in_flight = true;
                    target.force_requested = force_from_start;
                    to_stop.push((target.instance.clone(), force_from_start));
                }
                _ => {}
            }
            let can_force = matches!(state, None | Some(InstanceState::Running | InstanceState::Stopping));
            if let Some(requested_at) = target.stop_requested_at {
                let waited = now.saturating_since(requested_at);
                if can_force && !target.force_requested && !target.stop_in_flight && waited >= stop_timeout {
                    target.force_requested = true;
                    target.stop_in_flight = true;
                    escalations.push((target.instance.clone(), waited));
                }
            }
            unconfirmed = true;
        }
        for (instance, force) in to_stop {
            self.enqueue(now, Call::Stop { instance, force });
        }
        for (instance, waited) in escalations {
            let waited_ms = millis(waited);
            self.emit(now, EventKind::FenceEscalated { instance: instance.clone(), waited_ms });
            self.enqueue(now, Call::Stop { instance, force: true });
        }
        if !unconfirmed {
            self.confirm_fence(now, &isolated);
        }
    }

    /// Every target is settled stopped or cut off (`isolated`, by the fence's order): it holds.
    fn confirm_fence(&mut self, now: Timestamp, isolated: &[bool]) {
        self.fence_confirmed_at = Some(now);
        self.milestones.fence_confirmed_at = Some(now);
        let instances = self.fence.iter().map(|target| target.instance.clone()).collect();
        let cut_off =
            isolated.iter().zip(&self.fence).filter(|(cut, _)| **cut).map(|(_, t)| t.instance.clone());
        let cut_off = cut_off.collect();
        self.emit(now, EventKind::Fenced { instances, cut_off });
    }

    /// When the fence must be confirmed by, while it is not.
    pub(super) fn fence_deadline(&self) -> Option<Timestamp> {
        let started = self.fence_started_at?;
        let budget = crate::budget::fence_budget(&self.spec);
        self.fence_confirmed_at.is_none().then_some(started + budget)
    }
}

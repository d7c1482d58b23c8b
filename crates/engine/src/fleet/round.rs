//! The describe round: every describing run's members asked at once, zone by zone (a zone that
//! does not answer fails only its own request), and each run given its members' part of the
//! answers once every request of the round has answered.

use super::*;

/// The describe round in flight: every describing run's members, asked zone by zone.
#[derive(Debug, Default)]
pub(super) struct Round {
    pub(super) runs: Vec<usize>,
    outstanding: usize,
    /// Parts of refused describes still to send (halves, for instances of unknown zone), with
    /// their zone.
    splits: Vec<(Option<String>, Request)>,
    observations: BTreeMap<InstanceId, Observation>,
    failed: BTreeMap<InstanceId, ApiError>,
    /// A request of the round was refused for the request itself (throttled): its ids are
    /// simply not in the answer.
    refused: Option<ApiError>,
    /// The ids of refused requests: the round learned nothing of them (see [`Reply::Described`]).
    unasked: BTreeSet<InstanceId>,
}

impl Fleet {
    /// Stretch every run's poll interval so that rounds of `requests` describes stay within
    /// `DESCRIBES_PER_SECOND` (zones learned since the fleet began can add requests).
    fn keep_rounds_within_budget(&mut self, requests: usize) {
        let round_every = Duration::from_millis(1000 * requests as u64 / DESCRIBES_PER_SECOND);
        if round_every > self.poll_interval {
            self.poll_interval = round_every;
            for run in &mut self.runs {
                run.failover.stretch_poll_interval(round_every);
            }
        }
    }

    pub(super) fn start_round(&mut self, now: Timestamp, runs: Vec<usize>, send: &mut Vec<Outgoing>) {
        let mut members = BTreeSet::new();
        for run in &runs {
            members.extend(self.runs[*run].failover.spec().members());
        }
        let mut by_zone: BTreeMap<Option<String>, Vec<InstanceId>> = BTreeMap::new();
        let mut round = Round { runs, ..Round::default() };
        for member in members {
            let zone = self.zones.zone_of(&member).map(str::to_owned);
            if let Some(error) = zone.as_deref().and_then(|zone| self.zones.resting(zone, now)) {
                // Its zone failed a moment ago: it rests, and its instances count as unanswered.
                round.failed.insert(member, error.clone());
                continue;
            }
            by_zone.entry(zone).or_default().push(member);
        }
        let requests: Vec<(Option<String>, Request)> = by_zone
            .into_iter()
            .flat_map(|(zone, ids)| {
                ids.chunks(self.describe_ids)
                    .map(|chunk| (zone.clone(), Request::Describe { instances: chunk.to_vec() }))
                    .collect::<Vec<_>>()
            })
            .collect();
        self.keep_rounds_within_budget(requests.len());
        let wanted = [(Bucket::DescribeInstancesById, requests.len() as u64)];
        if !requests.is_empty() {
            if let Err(at) = self.limiter.try_take_all(&wanted, now) {
                for run in round.runs {
                    self.defer(now, run, at);
                }
                return;
            }
        }
        let answer_by = self.answer_by(now, round.runs.iter().copied());
        round.outstanding = requests.len();
        self.stats.largest_round = self.stats.largest_round.max(requests.len());
        for (zone, request) in requests {
            let id = self.record(&request, Sent::Round { request: request.clone(), zone });
            send.push(Outgoing { id, request, answer_by });
        }
        self.round = Some(round);
        if self.round.as_ref().is_some_and(|round| round.outstanding == 0) {
            self.finish_round(now);
        }
    }

    /// Send the halves of a refused describe of instances of unknown zone; without a token now,
    /// their instances count as not answered this round.
    pub(super) fn send_round_splits(&mut self, now: Timestamp, send: &mut Vec<Outgoing>) {
        let Some(round) = self.round.as_mut() else { return };
        let splits = std::mem::take(&mut round.splits);
        if splits.is_empty() {
            return;
        }
        let runs = round.runs.clone();
        let answer_by = self.answer_by(now, runs);
        for (zone, request) in splits {
            if let Err(at) = self.limiter.try_take_all(&[(Bucket::DescribeInstancesById, 1)], now) {
                let round = self.round.as_mut().expect("checked above");
                round.outstanding -= 1;
                let refusal = ApiError::new(
                    ErrorKind::Throttled,
                    "ClientRateLimit",
                    format!("no describe token before {at}"),
                );
                round.refused.get_or_insert(refusal);
                round.unasked.extend(request.instances().iter().cloned());
                continue;
            }
            let id = self.record(&request, Sent::Round { request: request.clone(), zone });
            send.push(Outgoing { id, request, answer_by });
        }
        if self.round.as_ref().is_some_and(|round| round.outstanding == 0) {
            self.finish_round(now);
        }
    }

    pub(super) fn on_round_answer(
        &mut self,
        now: Timestamp,
        request: Request,
        zone: Option<String>,
        result: Result<Answer, ApiError>,
    ) {
        let round = self.round.as_mut().expect("a describe answer belongs to the round in flight");
        round.outstanding -= 1;
        match result {
            Ok(Answer::Described(observations)) => {
                self.zones.learn(&observations);
                if let Some(zone) = &zone {
                    self.zones.answered(zone);
                }
                let round = self.round.as_mut().expect("checked above");
                for observation in observations {
                    round.observations.insert(observation.instance.clone(), observation);
                }
            }
            Ok(other) => unreachable!("a describe answered with {other:?}"),
            Err(error)
                if error.kind == ErrorKind::Invalid && request.instances().len() > MAX_IDS_PER_REQUEST =>
            {
                // Refused for naming too many ids, by one reading of a limit EC2 does not
                // document: ask again in parts of the size every caller reports working.
                self.describe_ids = MAX_IDS_PER_REQUEST;
                let parts: Vec<Request> = request
                    .instances()
                    .chunks(MAX_IDS_PER_REQUEST)
                    .map(|chunk| request.with_instances(chunk.to_vec()))
                    .collect();
                round.outstanding += parts.len();
                round.splits.extend(parts.into_iter().map(|part| (zone.clone(), part)));
            }
            Err(error) if error.kind == ErrorKind::Throttled || error.kind.is_permanent() => {
                round.refused.get_or_insert(error);
                round.unasked.extend(request.instances().iter().cloned());
            }
            Err(_) if zone.is_none() && request.instances().len() > 1 => {
                // Instances of unknown zones, one of them perhaps in a zone that does not
                // answer: ask in halves, learning zones from each half that answers.
                self.stats.splits += 1;
                let ids = request.instances();
                let (first, second) = ids.split_at(ids.len() / 2);
                round.splits.push((None, request.with_instances(first.to_vec())));
                round.splits.push((None, request.with_instances(second.to_vec())));
                round.outstanding += 2;
            }
            Err(error) => {
                for instance in request.instances() {
                    round.failed.insert(instance.clone(), error.clone());
                }
                if let Some(zone) = &zone {
                    self.zones.failed(zone, error, now);
                }
            }
        }
        if self.round.as_ref().is_some_and(|round| round.outstanding == 0 && round.splits.is_empty()) {
            self.finish_round(now);
        }
    }

    /// Give every run of the finished round its members' part of the answers.
    fn finish_round(&mut self, now: Timestamp) {
        let round = self.round.take().expect("a round to finish");
        for run in round.runs {
            let members = self.runs[run].failover.spec().members();
            let observations: Vec<Observation> =
                members.iter().filter_map(|member| round.observations.get(member).cloned()).collect();
            let failed: BTreeMap<InstanceId, ApiError> = members
                .iter()
                .filter_map(|member| Some((member.clone(), round.failed.get(member)?.clone())))
                .collect();
            let result =
                if observations.is_empty() && (failed.len() == members.len() || round.refused.is_some()) {
                    // Nothing about this group came back: the describe failed, as far as it knows.
                    let error = round.refused.clone().or_else(|| failed.values().next().cloned());
                    Err(error.expect("an empty answer has a reason"))
                } else {
                    let unasked =
                        members.iter().filter(|member| round.unasked.contains(*member)).cloned().collect();
                    Ok(Reply::Described { observations, failed, unasked })
                };
            self.deliver(now, run, result);
        }
    }
}

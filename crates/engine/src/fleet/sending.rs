//! Sending: request ids, the tokens a request draws, merged and single requests, and the hold
//! on a bucket after EC2 throttles the fleet.

use super::*;

impl Fleet {
    /// A new request id, recorded as `sent`.
    pub(super) fn record(&mut self, request: &Request, sent: Sent) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        *self.stats.requests.entry(request.operation()).or_default() += 1;
        self.sent.insert(id, sent);
        id
    }

    /// The earliest time any of `runs` must have its answer by (at least a second from now).
    pub(super) fn answer_by(&self, now: Timestamp, runs: impl IntoIterator<Item = usize>) -> Timestamp {
        let earliest = runs.into_iter().filter_map(|run| self.runs[run].answer_by).min();
        earliest.unwrap_or(now).max(now + Duration::from_secs(1))
    }

    /// Whether every instance `request` names is known to be of one instance type.
    pub(super) fn one_type(request: &Request, zones: &Zones) -> bool {
        let mut kinds = request.instances().iter().map(|instance| zones.type_of(instance));
        let first = kinds.next().flatten();
        first.is_some() && kinds.all(|kind| kind == first)
    }

    /// The tokens a request takes: one request, and for starts and stops one per instance.
    pub(super) fn tokens_for(request: &Request) -> Vec<(Bucket, u64)> {
        let (request_bucket, instance_bucket) = request.buckets();
        request_bucket.map(|bucket| (bucket, 1)).into_iter().chain(instance_bucket).collect()
    }

    pub(super) fn send_merged(
        &mut self,
        now: Timestamp,
        request: Request,
        parts: Vec<Part>,
        send: &mut Vec<Outgoing>,
    ) {
        if let Err(at) = self.limiter.try_take_all(&Self::tokens_for(&request), now) {
            for part in parts {
                self.defer(now, part.run, at);
            }
            return;
        }
        self.send_taken(now, request, parts, send);
    }

    /// Send a merged request whose tokens are taken.
    pub(super) fn send_taken(
        &mut self,
        now: Timestamp,
        request: Request,
        parts: Vec<Part>,
        send: &mut Vec<Outgoing>,
    ) {
        let answer_by = self.answer_by(now, parts.iter().map(|part| part.run));
        self.note_start_sent(&request);
        let id = self.record(&request, Sent::Merged { request: request.clone(), parts });
        send.push(Outgoing { id, request, answer_by });
    }

    pub(super) fn send_single(
        &mut self,
        now: Timestamp,
        runs: Vec<usize>,
        call: Call,
        send: &mut Vec<Outgoing>,
    ) {
        let request = Request::Single(call);
        if let Err(at) = self.limiter.try_take_all(&Self::tokens_for(&request), now) {
            for run in runs {
                self.defer(now, run, at);
            }
            return;
        }
        let answer_by = self.answer_by(now, runs.iter().copied());
        let sent = match runs.as_slice() {
            [run] => Sent::Single { run: *run },
            _ => Sent::Shared { runs },
        };
        let id = self.record(&request, sent);
        send.push(Outgoing { id, request, answer_by });
    }

    /// EC2's buckets are the account's, shared with other callers: after a throttled answer the
    /// whole fleet leaves that bucket alone for a jittered, growing while.
    pub(super) fn note_throttling(&mut self, now: Timestamp, sent: &Sent, result: &Result<Answer, ApiError>) {
        let request = match sent {
            Sent::Round { request, .. } | Sent::Merged { request, .. } => request,
            Sent::Lease { .. } => return,
            Sent::Single { .. } | Sent::Shared { .. } => match result {
                Err(error) if error.kind == ErrorKind::Throttled => {
                    self.stats.throttled += 1;
                    return; // the run backs off on its own; its bucket is not known here
                }
                _ => return,
            },
        };
        let Some(bucket) = request.buckets().0 else { return };
        match result {
            Err(error) if error.kind == ErrorKind::Throttled => {
                self.stats.throttled += 1;
                let in_a_row = self.throttled_in_a_row.entry(bucket).or_default();
                let delay = Backoff::API.delay(*in_a_row, &mut self.rng);
                *in_a_row += 1;
                self.limiter.hold(bucket, now + delay);
            }
            Ok(_) => {
                self.throttled_in_a_row.remove(&bucket);
            }
            Err(_) => {}
        }
    }
}

//! What a watcher's probes meet: the services on the instances failing as services fail (dead,
//! hung, slow, flapping) and network partitions between a vantage point (a watcher) and some
//! instances. Each probe gets an answer after a latency, or no answer at all, as a TCP connect or
//! an HTTP request to a private address would.

use std::collections::BTreeMap;
use std::time::Duration;

use coldstandby_engine::clients::{Probe, ProbeResult};
use coldstandby_engine::{millis, InstanceId, Timestamp};
use serde::{Deserialize, Serialize};

/// How a service misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ServiceFault {
    /// The process is gone: the kernel refuses connections at once.
    Dead,
    /// The process is alive but answers nothing: the kernel still accepts TCP connections (a
    /// `tcp` probe passes), requests time out (an `http` probe fails).
    Hung,
    /// Every answer takes this long (a saturated CPU, a slow dependency).
    Slow { latency_ms: u64 },
    /// Dead and healthy in turn, each for `period_ms`, dead first.
    Flapping { period_ms: u64 },
    /// The host answers nothing at all (its OS is gone, EC2 still reports it running): every
    /// probe times out.
    Silent,
}

impl ServiceFault {
    /// The fault's name, for summaries and replay lines.
    pub fn name(self) -> String {
        match self {
            Self::Dead => "dead".to_owned(),
            Self::Hung => "hung".to_owned(),
            Self::Slow { latency_ms } => format!("slow {latency_ms} ms"),
            Self::Flapping { period_ms } => format!("flapping every {period_ms} ms"),
            Self::Silent => "silent".to_owned(),
        }
    }
}

/// A fault on one instance's service for a while (`until` None: for good).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceOutage {
    pub fault: ServiceFault,
    pub from: Timestamp,
    pub until: Option<Timestamp>,
}

impl ServiceOutage {
    fn covers(&self, at: Timestamp) -> bool {
        at >= self.from && self.until.is_none_or(|until| at < until)
    }
}

/// A vantage point cut off from some instances: its packets to them are lost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    pub vantage: String,
    pub instances: Vec<InstanceId>,
    pub from: Timestamp,
    pub until: Option<Timestamp>,
}

impl Partition {
    fn covers(&self, vantage: &str, instance: &InstanceId, at: Timestamp) -> bool {
        self.vantage == vantage
            && self.instances.contains(instance)
            && at >= self.from
            && self.until.is_none_or(|until| at < until)
    }
}

/// What one probe meets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// An answer (passed or not) after this long.
    Answer { after: Duration, result: ProbeResult },
    /// No answer at all: the prober gives up at its own timeout.
    Silent { why: &'static str },
}

/// The services' health and the partitions, over time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Services {
    pub outages: BTreeMap<InstanceId, Vec<ServiceOutage>>,
    pub partitions: Vec<Partition>,
}

/// A healthy service's answer time on a VPC network.
pub const ANSWER_LATENCY: Duration = Duration::from_millis(2);

impl Services {
    /// Fail `instance`'s service with `fault` from `from` (until `until`, or for good).
    pub fn fail(
        &mut self,
        instance: &InstanceId,
        fault: ServiceFault,
        from: Timestamp,
        until: Option<Timestamp>,
    ) {
        self.outages.entry(instance.clone()).or_default().push(ServiceOutage { fault, from, until });
    }

    /// The fault `instance`'s service has at `at`, if any (the latest one set wins).
    pub fn fault_at(&self, instance: &InstanceId, at: Timestamp) -> Option<ServiceOutage> {
        self.outages.get(instance)?.iter().rev().find(|outage| outage.covers(at)).copied()
    }

    /// Whether packets from `vantage` reach `instance` at `at`.
    pub fn reachable(&self, vantage: &str, instance: &InstanceId, at: Timestamp) -> bool {
        !self.partitions.iter().any(|partition| partition.covers(vantage, instance, at))
    }

    /// Whether the service answers its clients properly at `at` (not dead, hung or in a dead
    /// half of a flap; slow counts as answering).
    pub fn serves(&self, instance: &InstanceId, at: Timestamp) -> bool {
        match self.fault_at(instance, at) {
            None | Some(ServiceOutage { fault: ServiceFault::Slow { .. }, .. }) => true,
            Some(ServiceOutage { fault: ServiceFault::Flapping { period_ms }, from, .. }) => {
                flap_is_up(period_ms, from, at)
            }
            Some(_) => false,
        }
    }

    /// What a `tcp` or `http` probe from `vantage` of `instance` meets at `at`. `running_for`:
    /// how long the instance has run (None: not running); `started`: whether its service has
    /// started accepting connections.
    pub fn reach(
        &self,
        vantage: &str,
        instance: &InstanceId,
        probe: &Probe,
        at: Timestamp,
        running: bool,
        started: bool,
    ) -> Reach {
        let answer = |after: Duration, passed: bool, detail: &str| Reach::Answer {
            after,
            result: ProbeResult { passed, detail: detail.to_owned() },
        };
        if !running {
            return Reach::Silent { why: "no answer (instance not running)" };
        }
        if !self.reachable(vantage, instance, at) {
            return Reach::Silent { why: "no answer (network partition)" };
        }
        if !started {
            return answer(ANSWER_LATENCY, false, "connection refused");
        }
        let is_http = matches!(probe, Probe::Http { .. });
        match self.fault_at(instance, at) {
            None => answer(ANSWER_LATENCY, true, if is_http { "status 200" } else { "connected" }),
            Some(outage) => match outage.fault {
                ServiceFault::Dead => answer(ANSWER_LATENCY, false, "connection refused"),
                ServiceFault::Hung if is_http => Reach::Silent { why: "no answer (service hung)" },
                ServiceFault::Hung => answer(ANSWER_LATENCY, true, "connected"),
                ServiceFault::Slow { latency_ms } if is_http => {
                    answer(Duration::from_millis(latency_ms), true, "status 200 (slow)")
                }
                ServiceFault::Slow { .. } => answer(ANSWER_LATENCY, true, "connected"),
                ServiceFault::Flapping { period_ms } if flap_is_up(period_ms, outage.from, at) => {
                    answer(ANSWER_LATENCY, true, if is_http { "status 200" } else { "connected" })
                }
                ServiceFault::Flapping { .. } => answer(ANSWER_LATENCY, false, "connection refused"),
                ServiceFault::Silent => Reach::Silent { why: "no answer (host silent)" },
            },
        }
    }
}

/// A flapping service is dead in its first period, up in its second, and so on.
fn flap_is_up(period_ms: u64, from: Timestamp, at: Timestamp) -> bool {
    let elapsed = millis(at.saturating_since(from));
    (elapsed / period_ms.max(1)) % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> InstanceId {
        "i-0123456789abcdef0".parse().expect("valid")
    }

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_unix_millis(ms)
    }

    #[test]
    fn a_hung_service_accepts_connections_but_answers_no_request() {
        let mut services = Services::default();
        services.fail(&id(), ServiceFault::Hung, at(100), None);
        let tcp = services.reach("a", &id(), &Probe::Tcp { port: 80 }, at(200), true, true);
        assert!(matches!(tcp, Reach::Answer { result: ProbeResult { passed: true, .. }, .. }));
        let http = Probe::Http { port: 80, path: "/".into(), status: 200, body_contains: None };
        assert!(matches!(services.reach("a", &id(), &http, at(200), true, true), Reach::Silent { .. }));
        assert!(!services.serves(&id(), at(200)));
        assert!(services.serves(&id(), at(50)));
    }

    #[test]
    fn a_partition_silences_one_vantage_point_only() {
        let mut services = Services::default();
        services.partitions.push(Partition {
            vantage: "a".into(),
            instances: vec![id()],
            from: at(0),
            until: Some(at(1_000)),
        });
        let tcp = Probe::Tcp { port: 80 };
        assert!(matches!(services.reach("a", &id(), &tcp, at(10), true, true), Reach::Silent { .. }));
        assert!(matches!(services.reach("b", &id(), &tcp, at(10), true, true), Reach::Answer { .. }));
        assert!(matches!(services.reach("a", &id(), &tcp, at(1_000), true, true), Reach::Answer { .. }));
    }

    #[test]
    fn a_flapping_service_is_dead_first_then_up() {
        let mut services = Services::default();
        services.fail(&id(), ServiceFault::Flapping { period_ms: 1_000 }, at(0), None);
        assert!(!services.serves(&id(), at(500)));
        assert!(services.serves(&id(), at(1_500)));
        assert!(!services.serves(&id(), at(2_500)));
    }
}

//! doctor's mover checks: each mover read with the caller's credentials and judged against the
//! group's active member now. A mover that cannot be read (a resource that does not exist, a
//! permission missing) or that does not send clients to the active member fails: on the day of
//! the outage it would not move them either, or clients are already not reaching the service.

use coldstandby_engine::clients::{ClientView, Endpoint, Mover, Step};

use crate::doctor::{Check, Lookup, Status};

/// One mover as doctor read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoverFacts {
    pub group: String,
    pub mover: Mover,
    /// The active member's endpoint (recorded active, else the configured primary); None when
    /// DescribeInstances did not return it.
    pub active: Option<Endpoint>,
    /// Every member's endpoint that was returned.
    pub members: Vec<Endpoint>,
    pub view: Lookup<ClientView>,
}

pub fn checks(movers: &[MoverFacts]) -> Vec<Check> {
    movers.iter().map(check).collect()
}

fn check(facts: &MoverFacts) -> Check {
    let subject = format!("group {}", facts.group);
    let mover = facts.mover.to_string();
    let result = |status: Status, found: String, fix: Option<String>| Check {
        subject: subject.clone(),
        check: "mover",
        status,
        found: format!("{mover}: {found}"),
        fix,
    };
    let view = match &facts.view {
        Ok(view) => view,
        Err(reason) => {
            let fix = "check the resource's id in the configuration, and that the role (and you) may read it"
                .to_owned();
            return result(Status::Fail, format!("cannot be read: {}", reason.0), Some(fix));
        }
    };
    let Some(active) = &facts.active else {
        return result(
            Status::Warn,
            "the active member's interface and address are unknown".to_owned(),
            None,
        );
    };
    match facts.mover.next_step(view, active, &facts.members) {
        Step::Verified => result(Status::Pass, format!("sends clients to {}", active.instance), None),
        Step::Wait(reason) => {
            result(Status::Warn, format!("not settled on {}: {reason}", active.instance), None)
        }
        Step::Change(changes) => {
            let needed: Vec<String> = changes.iter().map(ToString::to_string).collect();
            let found = format!(
                "does not send clients to the active member {} now; needs {}",
                active.instance,
                needed.join(", ")
            );
            let fix = format!(
                "make these changes by hand, or run `coldstandby switchover --group {} --to {}`, which makes them",
                facts.group, active.instance
            );
            result(Status::Fail, found, Some(fix))
        }
    }
}

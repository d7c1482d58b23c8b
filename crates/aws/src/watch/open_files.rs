//! The open-file limit a watcher needs. Each probe in flight holds a socket, and there can be one
//! in flight per probe of every group at once: after a pause, or in an AZ outage, when the
//! probes of every unreachable member hold their sockets for the whole timeout. A probe refused
//! a socket ("too many open files") fails, and failed probes are how a failover begins, so the
//! limit is raised before the first probe, and a limit that cannot be raised far enough is said.

use coldstandby_watch::WatchedGroup;

/// Descriptors beyond the probes: the SDK's connections, the HTTP listener and its clients,
/// the other watchers, the log.
const SPARE: u64 = 256;

/// The open files `groups` can use at once.
pub fn needed(groups: &[WatchedGroup]) -> u64 {
    let probes: usize = groups
        .iter()
        .map(|group| group.probes.iter().filter(|probe| probe.needs_network_path()).count())
        .sum();
    u64::try_from(probes).unwrap_or(u64::MAX).saturating_add(SPARE)
}

/// The process's open-file limit after trying to raise it for `groups`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft limit now.
    pub limit: u64,
    /// What `groups` can use at once.
    pub needed: u64,
}

impl OpenFiles {
    pub fn is_enough(self) -> bool {
        self.limit >= self.needed
    }
}

/// Raise the soft limit as far as `groups` need, up to the hard limit.
pub fn raise_for(groups: &[WatchedGroup]) -> std::io::Result<OpenFiles> {
    let needed = needed(groups);
    let limit = rlimit::increase_nofile_limit(needed)?;
    Ok(OpenFiles { limit, needed })
}

/// Raise the limit for `groups` and log it; a limit short of their need is a warning naming the
/// fix.
pub fn raise_and_log(groups: &[WatchedGroup]) {
    match raise_for(groups) {
        Ok(files) if files.is_enough() => {
            tracing::info!(limit = files.limit, needed = files.needed, "open-file limit");
        }
        Ok(files) => tracing::warn!(
            limit = files.limit,
            needed = files.needed,
            "open-file limit below what the groups' probes can hold at once (after a pause, or while many \
             members do not answer): probes beyond it fail with 'too many open files'; raise the hard limit \
             (LimitNOFILE= in the unit)"
        ),
        Err(error) => tracing::warn!(error = %error, "cannot read or raise the open-file limit"),
    }
}

#[cfg(test)]
mod tests {
    use coldstandby_engine::clients::Probe;
    use coldstandby_engine::{GroupSpec, InstanceId};

    use super::*;

    fn group(probes: Vec<Probe>) -> WatchedGroup {
        let primary: InstanceId = "i-0123456789abcdef0".parse().unwrap_or_else(|_| unreachable!());
        let standby: InstanceId = "i-0123456789abcdef1".parse().unwrap_or_else(|_| unreachable!());
        WatchedGroup { spec: GroupSpec::new("web", primary, vec![standby]), probes, alarm: None }
    }

    #[test]
    fn each_network_probe_of_each_group_needs_a_file() {
        let http = Probe::Http { port: 80, path: "/".to_owned(), status: 200, body_contains: None };
        let groups = vec![
            group(vec![Probe::Tcp { port: 5432 }, http]),
            group(vec![Probe::Tcp { port: 5432 }, Probe::Ec2Status]),
        ];
        assert_eq!(needed(&groups), 3 + SPARE, "ec2-status is an API call, not a socket to the member");
    }
}

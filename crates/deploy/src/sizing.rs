//! How long the function may need: the worst case of every failover one alarm event can run,
//! from the groups' configured timeouts, and the Lambda timeout that covers it.

use std::time::Duration;

use coldstandby_config::Config;
use coldstandby_engine::GroupSpec;

/// Lambda's longest timeout.
pub const LAMBDA_MAX_TIMEOUT: Duration = Duration::from_secs(900);
pub use coldstandby_engine::budget::STARTUP_ALLOWANCE;

/// The longest one failover of `spec` can run: the engine's own deadline, from the same function.
pub fn group_worst_case(spec: &GroupSpec) -> Duration {
    coldstandby_engine::budget::longest_run(spec)
}

/// What one alarm event can make the function do, at worst.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorstCase {
    /// The alarm (or, for a group no alarm lists, the group) that needs the longest time.
    pub trigger: String,
    /// The groups that trigger fails over, one after another.
    pub groups: Vec<String>,
    /// Their failovers' worst cases added up.
    pub failovers: Duration,
    /// The function timeout that covers it: failovers + the handler's margin + start-up.
    pub function_timeout: Duration,
}

/// The configuration needs more than Lambda's longest timeout.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{trigger} can run the failovers of {groups} one after another, {needed} s at worst with their \
     timeouts, but a Lambda function may run for at most {max} s: lower their \
     failover_timeout_seconds (or give the groups separate alarms)",
    groups = .worst.groups.join(", "),
    trigger = .worst.trigger,
    needed = .worst.function_timeout.as_secs(),
    max = LAMBDA_MAX_TIMEOUT.as_secs()
)]
pub struct TooLong {
    pub worst: WorstCase,
}

/// The worst case over every alarm of `config` (the groups an alarm lists run in turn), and over
/// every group alone. Err when it needs more than [`LAMBDA_MAX_TIMEOUT`].
pub fn worst_case(config: &Config) -> Result<WorstCase, TooLong> {
    let mut candidates: Vec<(String, Vec<&coldstandby_config::GroupConfig>)> =
        config.groups.iter().map(|group| (format!("group `{}`", group.spec.name), vec![group])).collect();
    for group in &config.groups {
        for alarm in &group.alarms {
            candidates.push((format!("alarm `{alarm}`"), config.groups_for_alarm(alarm)));
        }
    }
    let worst = candidates
        .into_iter()
        .map(|(trigger, groups)| {
            let failovers = groups.iter().map(|group| group_worst_case(&group.spec)).sum::<Duration>();
            WorstCase {
                trigger,
                groups: groups.iter().map(|group| group.spec.name.clone()).collect(),
                failovers,
                function_timeout: coldstandby_engine::budget::invocation_timeout(failovers),
            }
        })
        // The first of equals wins, so the answer does not depend on iteration details.
        .fold(None::<WorstCase>, |best, next| match best {
            Some(best) if best.failovers >= next.failovers => Some(best),
            _ => Some(next),
        })
        .expect("a valid configuration has at least one group");
    if worst.function_timeout > LAMBDA_MAX_TIMEOUT {
        return Err(TooLong { worst });
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use coldstandby_engine::{FenceMode, Timeouts};

    fn config(text: &str) -> Config {
        coldstandby_config::parse(text, "test").unwrap()
    }

    const ONE_GROUP: &str = r#"
region = "ap-northeast-1"
[[group]]
name = "web"
primary = "i-0a1b2c3d4e5f60718"
standbys = ["i-0f9e8d7c6b5a40312"]
alarms = ["web-cpu"]
"#;

    #[test]
    fn defaults_with_one_standby_need_the_fence_plus_one_start() {
        let worst = worst_case(&config(ONE_GROUP)).unwrap();
        // plan 20 + stop 60 + forced stop 120 + a settled answer 10 + capacity retry 120 + start 300.
        assert_eq!(worst.failovers, Duration::from_secs(630));
        // + 30 s the handler keeps back (two call timeouts) + 10 s start-up.
        assert_eq!(worst.function_timeout, Duration::from_secs(670));
    }

    #[test]
    fn the_group_deadline_caps_many_standbys() {
        let text = ONE_GROUP.replace(
            r#"standbys = ["i-0f9e8d7c6b5a40312"]"#,
            r#"standbys = ["i-0f9e8d7c6b5a40312", "i-0aaaabbbbccccdddd"]"#,
        );
        let worst = worst_case(&config(&text)).unwrap();
        assert_eq!(worst.failovers, Duration::from_secs(840), "min(20 + 190 + 2 x 420, 840)");
    }

    #[test]
    fn the_fence_is_sized_as_the_engine_times_it() {
        // The engine's fence deadline and the sizing read one function: a change to either
        // shows here.
        for (mode, expected) in [(FenceMode::Stop, 180), (FenceMode::ForceStop, 120)] {
            assert_eq!(Timeouts::default().fence(mode), Duration::from_secs(expected));
        }
    }

    #[test]
    fn force_stop_skips_the_normal_stop() {
        let text = ONE_GROUP.replace("alarms", "fence = \"force-stop\"\nalarms");
        assert_eq!(worst_case(&config(&text)).unwrap().failovers, Duration::from_secs(570));
    }

    #[test]
    fn groups_sharing_an_alarm_add_up_and_can_exceed_lambda() {
        let text = format!(
            "{ONE_GROUP}\n[[group]]\nname = \"api\"\nprimary = \"i-0123456789abcdef0\"\nstandbys = [\"i-0fedcba9876543210\"]\nalarms = [\"web-cpu\"]\n"
        );
        let error = worst_case(&config(&text)).unwrap_err();
        assert_eq!(error.worst.groups, ["web", "api"]);
        assert_eq!(error.worst.failovers, Duration::from_secs(1260));
        let message = error.to_string();
        assert!(message.contains("alarm `web-cpu`") && message.contains("900 s"), "{message}");
    }
}

//! Where a command acts: the simulated region built from the config, or EC2 through the SDK.
//! Each operation is written once, generically, and run here on the target's executor.

use coldstandby_aws::{CloudWatchAlarms, Ec2Provider, SystemClock};
use coldstandby_config::{Config, Provider as ConfiguredProvider};
use coldstandby_engine::call_hooks::Hooked;
use coldstandby_engine::clients::{ClientView, Endpoint, Mover};
use coldstandby_engine::driver::{self, Observer};
use coldstandby_engine::lease::LeaseSettings;
use coldstandby_engine::lock::InProcessLocks;
use coldstandby_engine::notification::{Notification, RunKind};
use coldstandby_engine::recording::{RecordedCall, Recorder};
use coldstandby_engine::{ApiError, Clock, Failover, InstanceId, Observation, Provider, Report, Timestamp};
use coldstandby_handler::{AlarmStates, Handled, Handler, HandlerError, NoAlarmStates};
use serde_json::Value;

use crate::sim_target::SimTarget;
use crate::{TargetArg, TargetArgs};

/// An open target.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per process, never moved on a hot path
pub enum Target {
    Sim(Box<SimTarget>),
    Aws {
        runtime: tokio::runtime::Runtime,
        provider: Ec2Provider,
        alarms: CloudWatchAlarms,
        region: String,
        identity: coldstandby_aws::identity::Identity,
        /// Where outcomes are published, when the configuration names a topic.
        notifier: Option<coldstandby_aws::notify::Notifier>,
    },
}

impl Target {
    /// The target `--target` names, or else the config's `provider`.
    pub fn open(config: &Config, args: &TargetArgs) -> anyhow::Result<Self> {
        let chosen = args.target.unwrap_or(match config.provider {
            ConfiguredProvider::Aws => TargetArg::Aws,
            ConfiguredProvider::Sim => TargetArg::Sim,
        });
        match chosen {
            TargetArg::Sim => {
                let seed = args.seed.unwrap_or(1);
                Ok(Self::Sim(Box::new(SimTarget::open(config, args.sim_state.as_deref(), seed)?)))
            }
            TargetArg::Aws => {
                if args.sim_state.is_some() {
                    return Err(crate::CommandError::usage(
                        "--sim-state applies to the simulated target only (--target sim)",
                    ));
                }
                if args.seed.is_some() {
                    return Err(crate::CommandError::usage(
                        "--seed applies to the simulated target only (--target sim): real EC2 has no seed",
                    ));
                }
                let runtime = crate::sdk_runtime()?;
                let sdk = runtime.block_on(coldstandby_aws::ec2::sdk_config(&config.region));
                let (provider, alarms) = (Ec2Provider::from_config(&sdk), CloudWatchAlarms::new(&sdk));
                let identity = coldstandby_aws::identity::Identity::from_config(&sdk);
                let notifier = coldstandby_aws::notify::Notifier::from_config(&sdk, config);
                Ok(Self::Aws { runtime, provider, alarms, region: config.region.clone(), identity, notifier })
            }
        }
    }

    /// Whether this acts on real instances.
    pub fn is_real(&self) -> bool {
        matches!(self, Self::Aws { .. })
    }

    /// The account the credentials act in, or why it is not known (for a person to read).
    pub fn account(&self) -> String {
        match self {
            Self::Sim(_) => "(simulated)".to_owned(),
            Self::Aws { runtime, identity, .. } => match runtime.block_on(identity.account()) {
                Ok(account) => account,
                Err(error) => format!("unknown ({error})"),
            },
        }
    }

    /// "a simulated ap-northeast-1" or "ap-northeast-1".
    pub fn name(&self, config: &Config) -> String {
        match self {
            Self::Sim(_) => format!("a simulated {}", config.region),
            Self::Aws { region, .. } => region.clone(),
        }
    }

    pub fn now(&self) -> Timestamp {
        match self {
            Self::Sim(sim) => sim.region.now(),
            Self::Aws { .. } => SystemClock::now(),
        }
    }

    /// Wait `duration`: in virtual time on the simulated region, on the real clock otherwise.
    pub fn pause(&self, duration: std::time::Duration) {
        match self {
            Self::Sim(sim) => sim.region.advance(duration),
            Self::Aws { runtime, .. } => {
                runtime.block_on(SystemClock.sleep_until(SystemClock::now() + duration))
            }
        }
    }

    /// Publish a run's outcome to the configured topic, when it is news, and say so on stderr.
    /// The simulated region has no topic: nothing is sent from a rehearsal.
    pub fn notify(&self, kind: RunKind, report: &Report) {
        let Self::Aws { runtime, notifier: Some(notifier), .. } = self else {
            return;
        };
        if !coldstandby_engine::notification::worth_telling(report) {
            return;
        }
        let notification = Notification::new(kind, report, &coldstandby_aws::notify::source("command line"));
        match runtime.block_on(notifier.publish(&notification)) {
            Ok(()) => {
                crate::output::print_error_line(&format!("outcome published to {}", notifier.topic_arn()))
            }
            Err(error) => crate::output::print_error_line(&format!(
                "warning: could not publish the outcome to {}: {error}",
                notifier.topic_arn()
            )),
        }
    }

    /// Keep the simulated region, if it has a state file.
    pub fn save(&self) -> anyhow::Result<()> {
        match self {
            Self::Sim(sim) => sim.save(),
            Self::Aws { .. } => Ok(()),
        }
    }

    /// Run `failover`, under the group's lease when `lease` is given.
    pub fn run_failover(
        &self,
        failover: Failover,
        lease: Option<&LeaseSettings>,
        observer: &mut impl Observer,
    ) -> Report {
        match self {
            Self::Sim(sim) => {
                sim.region.run(driver::run_leased(failover, lease, &sim.region, &sim.region, observer))
            }
            Self::Aws { runtime, provider, .. } => {
                runtime.block_on(driver::run_leased(failover, lease, provider, &SystemClock, observer))
            }
        }
    }

    /// As [`Self::run_failover`], keeping every call made on real EC2 (the simulated region keeps
    /// its own record of them: nothing is returned for it).
    pub fn run_failover_recorded(
        &self,
        failover: Failover,
        lease: Option<&LeaseSettings>,
        observer: &mut impl Observer,
    ) -> (Report, Vec<RecordedCall>) {
        match self {
            Self::Sim(_) => (self.run_failover(failover, lease, observer), Vec::new()),
            Self::Aws { runtime, provider, .. } => {
                let recorder = Recorder::default();
                let recorded = Hooked::new(provider, &SystemClock, &recorder);
                let report =
                    runtime.block_on(driver::run_leased(failover, lease, &recorded, &SystemClock, observer));
                (report, recorder.calls())
            }
        }
    }

    pub fn describe(&self, instances: &[InstanceId]) -> Result<Vec<Observation>, ApiError> {
        match self {
            Self::Sim(sim) => sim.region.run(sim.region.describe(instances)),
            Self::Aws { runtime, provider, .. } => runtime.block_on(provider.describe(instances)),
        }
    }

    pub fn read_clients(&self, mover: &Mover, desired: &Endpoint) -> Result<ClientView, ApiError> {
        match self {
            Self::Sim(sim) => sim.region.run(sim.region.read_clients(mover, desired, None)),
            Self::Aws { runtime, provider, .. } => {
                runtime.block_on(provider.read_clients(mover, desired, None))
            }
        }
    }

    pub fn handle_event(
        &self,
        config: &Config,
        event: &Value,
        observer: &mut impl Observer,
    ) -> Result<Handled, HandlerError> {
        let locks = InProcessLocks::default();
        match self {
            // The simulated region has no alarms: only the event's groups act.
            Self::Sim(sim) => {
                let handler = handler(config, &sim.region, &sim.region, &locks, &NoAlarmStates);
                sim.region.run(handler.handle(event, None, observer))
            }
            Self::Aws { runtime, provider, alarms, .. } => {
                let handler = handler(config, provider, &SystemClock, &locks, alarms);
                runtime.block_on(handler.handle(event, None, observer))
            }
        }
    }
}

fn handler<'a, P: Provider, C: Clock, A: AlarmStates>(
    config: &'a Config,
    provider: &'a P,
    clock: &'a C,
    locks: &'a InProcessLocks,
    alarms: &'a A,
) -> Handler<'a, P, C, A> {
    Handler { config, provider, clock, locks, owner: crate::process_owner(), alarms }
}

//! The simulated target: a region built from the config (each primary running, each standby
//! stopped in another Availability Zone), optionally kept in a JSON file between runs.

use std::collections::BTreeSet;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use coldstandby_config::Config;
use coldstandby_engine::{InstanceState, Timestamp};
use coldstandby_sim::{SimInstance, SimRegion, Timings};

/// 2026-01-01T00:00:00Z: where a new simulated region's clock starts.
const START: Timestamp = Timestamp::from_unix_millis(1_767_225_600_000);

/// Availability Zone suffixes: primaries get the first, standbys the others in turn.
const ZONES: [&str; 3] = ["a", "c", "d"];

/// A simulated region for a config, and where to keep it.
#[derive(Debug)]
pub struct SimTarget {
    pub region: SimRegion,
    state_file: Option<PathBuf>,
    /// Held from open to drop: one process at a time reads, changes and writes the state file.
    _lock: Option<File>,
}

impl SimTarget {
    /// Load the region from `state_file` if it exists, otherwise build it from `config`. A saved
    /// region must hold exactly the instances the config names (else it was made for another
    /// config: refused, naming the difference); the file is locked until this is dropped.
    pub fn open(config: &Config, state_file: Option<&Path>, seed: u64) -> anyhow::Result<Self> {
        if let Some(path) = state_file.filter(|path| path.is_dir()) {
            bail!("--sim-state {} is a directory", path.display());
        }
        let lock = state_file.map(lock).transpose()?;
        let region = match state_file {
            Some(path) if path.exists() => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the simulated region from {}", path.display()))?;
                let region = SimRegion::from_json(&text).map_err(|error| {
                    anyhow::anyhow!("{} is not a saved simulated region: {error}", path.display())
                })?;
                check_instances(config, &region, path)?;
                region
            }
            _ => SimRegion::new(seed, START, Timings::default()),
        };
        for group in &config.groups {
            let spec = &group.spec;
            let new_group = region.instance(&spec.primary).is_none();
            if new_group {
                let zone = format!("{}{}", config.region, ZONES[0]);
                let mut primary = SimInstance::new(spec.primary.clone(), zone, InstanceState::Running);
                primary.cpu_load.push((START, 10.0));
                region.add_instance(primary);
            }
            for (index, standby) in spec.standbys.iter().enumerate() {
                if region.instance(standby).is_none() {
                    let zone = format!("{}{}", config.region, ZONES[1 + index % (ZONES.len() - 1)]);
                    region.add_instance(SimInstance::new(standby.clone(), zone, InstanceState::Stopped));
                }
            }
            if new_group {
                // Its routes, record, targets and address as they would be with the primary serving.
                region.provision_clients(spec, &spec.primary);
            }
        }
        Ok(Self { region, state_file: state_file.map(Path::to_path_buf), _lock: lock })
    }

    /// Write the region back to its state file, if it has one (atomically: temp file, rename).
    pub fn save(&self) -> anyhow::Result<()> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, self.region.to_json())
            .with_context(|| format!("writing the simulated region to {}", temporary.display()))?;
        std::fs::rename(&temporary, path)
            .with_context(|| format!("replacing {} with the updated region", path.display()))?;
        Ok(())
    }
}

/// Take `state_file`'s lock (`FILE.lock`, beside it: the state file itself is replaced on
/// save). Held by another process: exit 4, as for a failover already under way.
fn lock(state_file: &Path) -> anyhow::Result<File> {
    let mut name = state_file.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(crate::CommandError {
            exit: crate::Exit::Busy,
            message: format!(
                "--sim-state {} is in use by another coldstandby process ({} is locked); run one at a time",
                state_file.display(),
                path.display()
            ),
        }
        .into()),
        Err(TryLockError::Error(error)) => Err(error).with_context(|| format!("locking {}", path.display())),
    }
}

/// A saved region must hold the config's instances and no others.
fn check_instances(config: &Config, region: &SimRegion, path: &Path) -> anyhow::Result<()> {
    let configured: BTreeSet<String> =
        config.groups.iter().flat_map(|group| group.spec.members()).map(|id| id.to_string()).collect();
    let saved: BTreeSet<String> = region.instances().iter().map(|instance| instance.id.to_string()).collect();
    if configured == saved {
        return Ok(());
    }
    let missing: Vec<&str> = configured.difference(&saved).map(String::as_str).collect();
    let extra: Vec<&str> = saved.difference(&configured).map(String::as_str).collect();
    let mut differences = Vec::new();
    if !missing.is_empty() {
        differences.push(format!("it lacks {} (named by the config)", missing.join(", ")));
    }
    if !extra.is_empty() {
        differences.push(format!("it has {} (not in the config)", extra.join(", ")));
    }
    Err(crate::CommandError {
        exit: crate::Exit::InvalidInput,
        message: format!(
            "--sim-state {} was saved for other instances: {}; use a new file for this config",
            path.display(),
            differences.join(" and ")
        ),
    }
    .into())
}

//! The simulated target: a region built from the config (each primary running, each standby
//! stopped in another Availability Zone), optionally kept in a JSON file between runs.

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
}

impl SimTarget {
    /// Load the region from `state_file` if it exists, otherwise build it from `config`.
    /// Instances the config names but the saved region lacks are added as a new region would have them.
    pub fn open(config: &Config, state_file: Option<&Path>, seed: u64) -> anyhow::Result<Self> {
        let region = match state_file {
            Some(path) if path.exists() => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the simulated region from {}", path.display()))?;
                SimRegion::from_json(&text).map_err(|error| {
                    anyhow::anyhow!("{} is not a saved simulated region: {error}", path.display())
                })?
            }
            Some(path) if path.is_dir() => bail!("--sim-state {} is a directory", path.display()),
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
        Ok(Self { region, state_file: state_file.map(Path::to_path_buf) })
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

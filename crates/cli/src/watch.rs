//! `coldstandby watch`: run the watcher daemon (or, with `--check`, say what it would watch).

use coldstandby_aws::watch::{self as daemon, DaemonError, DaemonOptions};

use crate::{output, CommandError, Exit, WatchArgs};

/// Logs are JSON lines on stderr, info and worse unless RUST_LOG says otherwise: a daemon's
/// logs are read by a collector.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,aws=warn,hyper=warn"));
    let result = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .try_init();
    // Already initialised (cannot happen in this binary): keep the existing subscriber.
    drop(result);
}

pub fn run(args: &WatchArgs) -> anyhow::Result<Exit> {
    let name = args.name.clone().unwrap_or_else(host_name);
    if args.check {
        let (config, groups) = daemon::load(&args.config).map_err(invalid)?;
        let settings = config.watch.settings;
        let mut lines = vec![
            format!("{}: watchable", args.config.display()),
            format!(
                "  every {} ms, {} ms a probe, down after {} of {} rounds; listen {}; peers: {}",
                settings.interval.as_millis(),
                settings.timeout.as_millis(),
                settings.failures,
                settings.window,
                config.watch.listen,
                if config.watch.peers.is_empty() {
                    "none (this watcher decides alone)".to_owned()
                } else {
                    config.watch.peers.join(", ")
                }
            ),
        ];
        for group in &groups {
            let probes: Vec<String> = group.probes.iter().map(ToString::to_string).collect();
            lines.push(format!("  {}: {}", group.spec.name, probes.join(", ")));
        }
        output::print_lines(&lines)?;
        return Ok(Exit::Success);
    }
    daemon::run(&DaemonOptions { config_path: args.config.clone(), name }).map_err(invalid)?;
    Ok(Exit::Success)
}

/// Configuration problems exit 3, like every command's; the rest 1.
fn invalid(error: DaemonError) -> anyhow::Error {
    let exit = match error {
        DaemonError::Config(_) | DaemonError::NotWatchable(_) => Exit::InvalidInput,
        DaemonError::Listen { .. } | DaemonError::Runtime(_) => Exit::Failed,
    };
    CommandError { exit, message: error.to_string() }.into()
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("watcher-{}", std::process::id()))
}

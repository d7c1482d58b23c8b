//! The optional `[watch]` table: how `coldstandby watch` probes and decides, where it serves its
//! metrics and answers the other watchers, and where those are.

use std::net::SocketAddr;
use std::time::Duration;

use coldstandby_watch::Settings;

use crate::check::{Checker, Fields};

/// The watcher's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchConfig {
    pub settings: Settings,
    /// Where `/metrics`, `/healthz`, `/readyz` and the other watchers' questions are served.
    pub listen: SocketAddr,
    /// The other watchers' base URLs (`http://10.0.2.10:9323`), asked before a failover.
    pub peers: Vec<String>,
}

/// The port the watcher listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 9323;

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            settings: Settings::default(),
            listen: SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            peers: Vec::new(),
        }
    }
}

/// Read `[watch]` from the top-level fields, if present (the defaults otherwise). None when
/// invalid (problems recorded).
pub(crate) fn read(checker: &mut Checker, root: &mut Fields<'_>) -> Option<WatchConfig> {
    let Some(item) = root.take("watch") else { return Some(WatchConfig::default()) };
    let offset = item.span().map(|span| span.start);
    let Some(table) = item.as_table_like() else {
        checker.problem("watch", offset, "expected a table ([watch])".to_owned());
        return None;
    };
    let mut fields = Fields::new(table, "watch");
    let defaults = Settings::default();
    let mut valid = true;
    // A value out of range is recorded as a problem by `whole`; the default stands in for it.
    let millis = |checker: &mut Checker, fields: &mut Fields<'_>, key: &str, default: Duration| {
        checker.whole(fields, key, 1..=600_000).map_or(default, |ms| Duration::from_millis(u64::from(ms)))
    };
    let interval = millis(checker, &mut fields, "interval_ms", defaults.interval);
    let timeout = millis(checker, &mut fields, "timeout_ms", defaults.timeout.min(interval));
    let peer_timeout = millis(checker, &mut fields, "peer_timeout_ms", defaults.peer_timeout);
    let window = checker.whole(&mut fields, "window", 1..=Settings::MAX_WINDOW).unwrap_or(defaults.window);
    let failures =
        checker.whole(&mut fields, "failures", 1..=Settings::MAX_WINDOW).unwrap_or(defaults.failures);
    let refresh = checker.seconds(&mut fields, "refresh_seconds", 1..=3_600).unwrap_or(defaults.refresh);
    let settings = Settings { interval, timeout, window, failures, peer_timeout, refresh, ..defaults };
    for problem in settings.problems() {
        let key = problem.split_whitespace().next().unwrap_or("watch").to_owned();
        let key_offset = fields.offset_of(&key).or(offset);
        checker.problem(&format!("watch.{key}"), key_offset, problem);
        valid = false;
    }
    let listen = match checker.string(&mut fields, "listen") {
        None => WatchConfig::default().listen,
        Some((text, text_offset)) => match text.parse::<SocketAddr>() {
            Ok(address) => address,
            Err(_) => {
                let message =
                    format!("`{text}` is not an address and port (e.g. \"0.0.0.0:{DEFAULT_PORT}\")");
                checker.problem("watch.listen", text_offset, message);
                valid = false;
                WatchConfig::default().listen
            }
        },
    };
    let mut peers = Vec::new();
    for (index, (url, url_offset)) in
        checker.string_array(&mut fields, "peers", false).unwrap_or_default().into_iter().enumerate()
    {
        match peer_base(&url) {
            Some(base) => peers.push(base),
            None => {
                let message = format!("`{url}` is not a watcher's URL (http://host:port)");
                checker.problem(&format!("watch.peers[{index}]"), url_offset, message);
                valid = false;
            }
        }
    }
    checker.unknown_keys(fields);
    valid.then_some(WatchConfig { settings, listen, peers })
}

/// `http://host:port` (a trailing `/` dropped), or None.
fn peer_base(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = rest.rsplit_once(':')?;
    let valid = !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok_and(|port| port > 0);
    valid.then(|| format!("http://{rest}"))
}

#[cfg(test)]
mod tests {
    const GROUP: &str = "[[group]]\nname = \"web\"\nprimary = \"i-0123456789abcdef0\"\nstandbys = [\"i-0123456789abcdef1\"]\n";

    fn parse(watch: &str) -> Result<crate::Config, Vec<String>> {
        let text = format!("region = \"ap-northeast-1\"\n{watch}\n{GROUP}");
        crate::parse(&text, "test.toml")
            .map_err(|error| error.problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn the_watch_table_is_optional_and_defaults_every_setting() {
        let config = parse("").unwrap();
        assert_eq!(config.watch, super::WatchConfig::default());
        let config =
            parse("[watch]\ninterval_ms = 200\ntimeout_ms = 150\npeers = [\"http://10.0.2.10:9323/\"]")
                .unwrap();
        assert_eq!(config.watch.settings.interval.as_millis(), 200);
        assert_eq!(config.watch.peers, vec!["http://10.0.2.10:9323".to_owned()]);
        let rendered = crate::render::to_toml(&config);
        assert_eq!(crate::parse(&rendered, "rendered").unwrap(), config, "{rendered}");
    }

    #[test]
    fn bad_watch_settings_are_named_with_their_key() {
        let cases = [
            ("[watch]\ninterval_ms = 100", "watch.interval_ms"),
            ("[watch]\ntimeout_ms = 2000", "watch.timeout_ms"),
            ("[watch]\nwindow = 3\nfailures = 4", "watch.failures"),
            ("[watch]\nlisten = \"everywhere\"", "watch.listen"),
            ("[watch]\npeers = [\"10.0.2.10:9323\"]", "watch.peers[0]"),
            ("[watch]\nprobe_every = 1", "watch.probe_every"),
        ];
        for (watch, expected) in cases {
            let problems = parse(watch).expect_err(watch);
            assert!(problems.iter().any(|problem| problem.contains(expected)), "{watch}: {problems:?}");
        }
    }
}

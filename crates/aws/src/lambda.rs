//! The Lambda function: the runtime loop (`lambda_runtime`), with the configuration read and the
//! SDK client built once per cold start, and each alarm event handed to the handler with the
//! invocation's deadline.

use std::path::PathBuf;

use coldstandby_config::Config;
use coldstandby_engine::lock::InProcessLocks;
use coldstandby_engine::Timestamp;
use coldstandby_handler::{Handler, LogObserver};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

use crate::{Ec2Provider, SystemClock};

pub use coldstandby_config::CONFIG_VARIABLE;
/// The configuration file looked for next to the binary when the variable is not set.
pub const CONFIG_FILE_NAME: &str = "coldstandby.toml";

/// The configuration, from `COLDSTANDBY_CONFIG` or `coldstandby.toml` beside the executable.
/// An error is kept, not fatal: every invocation then fails with it and nothing is touched.
pub fn load_config() -> Result<Config, String> {
    if let Ok(text) = std::env::var(CONFIG_VARIABLE) {
        return coldstandby_config::parse(&text, CONFIG_VARIABLE).map_err(|error| error.to_string());
    }
    let beside_binary = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(CONFIG_FILE_NAME)))
        .unwrap_or_else(|| PathBuf::from(CONFIG_FILE_NAME));
    if !beside_binary.exists() {
        return Err(format!(
            "no configuration: set {CONFIG_VARIABLE} to the TOML text, or bundle {} with the function",
            beside_binary.display()
        ));
    }
    coldstandby_config::load(&beside_binary).map_err(|error| error.to_string())
}

/// Run the Lambda runtime loop until the runtime shuts the function down.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let config = load_config();
    match &config {
        Ok(config) => {
            tracing::info!(region = %config.region, groups = config.groups.len(), "configuration loaded")
        }
        Err(error) => {
            tracing::error!(error = %error, "invalid configuration: every invocation will fail, nothing will be touched")
        }
    }
    let provider = match &config {
        Ok(config) => Some(Ec2Provider::connect(&config.region).await),
        Err(_) => None,
    };
    let locks = InProcessLocks::default();
    let (config, provider, locks) = (&config, &provider, &locks);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let (config, provider) = match (config, provider) {
            (Ok(config), Some(provider)) => (config, provider),
            (Err(error), _) => {
                return Err(lambda_runtime::Error::from(format!("invalid configuration: {error}")))
            }
            (Ok(_), None) => unreachable!("a provider is built for every valid configuration"),
        };
        let deadline = Timestamp::from_unix_millis(event.context.deadline);
        let handler = Handler { config, provider, clock: &SystemClock, locks };
        let mut observer = LogObserver::default();
        match handler.handle(&event.payload, Some(deadline), &mut observer).await {
            Ok(handled) => Ok(serde_json::to_value(&handled).unwrap_or(Value::Null)),
            Err(error) => {
                tracing::error!(error = %error, "invocation failed");
                Err(lambda_runtime::Error::from(error.to_string()))
            }
        }
    }))
    .await
}

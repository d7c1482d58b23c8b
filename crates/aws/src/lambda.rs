//! The Lambda function: the runtime loop (`lambda_runtime`), with the configuration read and the
//! SDK client built once per cold start, and each alarm event handed to the handler with the
//! invocation's deadline. A configuration that does not load is reported to Lambda's init-error
//! endpoint and ends the process, as the Runtime API expects of a runtime that cannot start.

use std::path::{Path, PathBuf};

use coldstandby_config::{Config, ConfigError};
use coldstandby_engine::lock::InProcessLocks;
use coldstandby_engine::notification::{Notification, RunKind};
use coldstandby_engine::{Report, Retry, Timestamp};
use coldstandby_handler::{Handler, HandlerError, LogObserver};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::notify::Notifier;
use crate::{CloudWatchAlarms, Ec2Provider, SystemClock};

pub use coldstandby_config::CONFIG_VARIABLE;
/// The configuration file looked for in the task root when the variable is not set.
pub const CONFIG_FILE_NAME: &str = "coldstandby.toml";

/// The variables Lambda sets for every function and `lambda_runtime` needs to start.
pub const RUNTIME_VARIABLES: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// The `errorType` of an init error for a configuration that does not load.
pub const INVALID_CONFIGURATION: &str = "ColdStandby.InvalidConfiguration";

/// Why the configuration could not be had at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ConfigSourceError {
    #[error("no configuration: set {CONFIG_VARIABLE} to the TOML text, or bundle {} with the function", path.display())]
    Missing { path: PathBuf },
    #[error("invalid configuration {0}")]
    Invalid(#[from] ConfigError),
}

/// Why the function stopped.
#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    #[error(
        "`coldstandby lambda` runs inside AWS Lambda (the `bootstrap` of a provided.al2023 function); \
         {} not set. To handle one alarm event here, use `coldstandby handle-event`",
        .missing.join(", ")
    )]
    NotInLambda { missing: Vec<&'static str> },
    /// Reported to the init-error endpoint before the process ends.
    #[error(transparent)]
    Config(#[from] ConfigSourceError),
    #[error("the Lambda runtime loop stopped: {0}")]
    Runtime(String),
}

/// The Lambda runtime variables that are not set (empty when running inside Lambda).
pub fn missing_runtime_variables() -> Vec<&'static str> {
    RUNTIME_VARIABLES.into_iter().filter(|name| std::env::var_os(name).is_none()).collect()
}

/// Where a bundled configuration file is looked for: the task root Lambda unzipped the package
/// into (`LAMBDA_TASK_ROOT`), else the directory of the executable.
fn bundled_config_path() -> PathBuf {
    let task_root = std::env::var_os("LAMBDA_TASK_ROOT").map(PathBuf::from);
    let beside_binary = || std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf));
    task_root.or_else(beside_binary).unwrap_or_default().join(CONFIG_FILE_NAME)
}

/// The configuration, from `COLDSTANDBY_CONFIG` or `coldstandby.toml` in the task root.
pub fn load_config() -> Result<Config, ConfigSourceError> {
    if let Ok(text) = std::env::var(CONFIG_VARIABLE) {
        return Ok(coldstandby_config::parse(&text, CONFIG_VARIABLE)?);
    }
    let path = bundled_config_path();
    if !path.exists() {
        return Err(ConfigSourceError::Missing { path });
    }
    Ok(coldstandby_config::load(&path)?)
}

/// An invocation's failure as Lambda records it: a stable `errorType` naming our error, and the
/// whole message.
#[derive(Debug)]
pub struct FunctionError {
    pub error_type: &'static str,
    pub message: String,
}

impl From<HandlerError> for FunctionError {
    fn from(error: HandlerError) -> Self {
        Self { error_type: error.error_type(), message: error.to_string() }
    }
}

impl From<FunctionError> for Diagnostic {
    fn from(error: FunctionError) -> Self {
        Self { error_type: error.error_type.to_owned(), error_message: error.message }
    }
}

/// What the invocation returns to Lambda. A transient failure is a function error, which Lambda's
/// asynchronous invocation retries (about one and two minutes later). A permanent one would fail
/// the same way every time, so it is answered as a refusal (`"decision": "refused"`, with the
/// error's type and message, `"retry": false`) that Lambda does not retry; both are logged at
/// ERROR level with their `error_type` and `retry` fields.
pub fn invocation_result(result: Result<Value, HandlerError>) -> Result<Value, FunctionError> {
    let error = match result {
        Ok(response) => return Ok(response),
        Err(error) => error,
    };
    let retry = error.retry();
    let error = FunctionError::from(error);
    tracing::error!(error_type = error.error_type, retry = ?retry, error = %error.message, "invocation failed");
    match retry {
        Retry::Transient => Err(error),
        Retry::Permanent => Ok(serde_json::json!({
            "decision": "refused",
            "errorType": error.error_type,
            "errorMessage": error.message,
            "retry": false,
        })),
    }
}

/// Tell Lambda the function cannot start (`POST /runtime/init/error`). A failure to report is
/// logged: the process ends non-zero either way, which Lambda also records.
async fn report_init_error(error_type: &str, message: &str) {
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message, "stackTrace": [] });
    let request = http::Request::post("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", error_type)
        .header("content-type", "application/json")
        .body(lambda_runtime_api_client::body::Body::from(body.to_string()));
    let client = lambda_runtime_api_client::Client::builder().build();
    let sent = match (client, request) {
        (Ok(client), Ok(request)) => client.call(request).await.map(|_| ()),
        (Err(error), _) => Err(error.into()),
        (_, Err(error)) => Err(error.into()),
    };
    if let Err(error) = sent {
        tracing::error!(error = %error, "could not report the init error to the Lambda Runtime API");
    }
}

/// Run the Lambda runtime loop until the runtime shuts the function down.
pub async fn run() -> Result<(), LambdaError> {
    let missing = missing_runtime_variables();
    if !missing.is_empty() {
        return Err(LambdaError::NotInLambda { missing });
    }
    let config = match load_config() {
        Ok(config) => config,
        Err(error) => {
            let message = error.to_string();
            tracing::error!(error = %message, "the function cannot start: nothing will be touched");
            report_init_error(INVALID_CONFIGURATION, &message).await;
            return Err(error.into());
        }
    };
    tracing::info!(region = %config.region, groups = config.groups.len(), "configuration loaded");
    if let Err(too_long) = coldstandby_deploy::sizing::worst_case(&config) {
        // Said at every start; the function still runs: a failover cut short resumes on retry,
        // and no function at all would be worse.
        tracing::warn!(problem = %too_long, "the configuration needs more than Lambda allows");
    }
    let sdk = crate::ec2::sdk_config(&config.region).await;
    let provider = Ec2Provider::from_config(&sdk);
    let alarms = CloudWatchAlarms::new(&sdk);
    let locks = InProcessLocks::default();
    let notifier = Notifier::from_config(&sdk, &config);
    let (config, provider, locks, alarms, notifier) =
        (&config, &provider, &locks, &alarms, notifier.as_ref());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // The environment may have been frozen since the last invocation: read the wall time
        // afresh (see clock.rs).
        SystemClock::reanchor();
        let deadline = Timestamp::from_unix_millis(event.context.deadline);
        // Unique among racing processes: a retry of the same event is another invocation.
        let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
        let owner = format!("lambda {function} request {}", event.context.request_id);
        let handler = Handler { config, provider, clock: &SystemClock, locks, owner: &owner, alarms };
        let mut observer = LogObserver::default();
        let handled = handler.handle(&event.payload, Some(deadline), &mut observer).await;
        tell(notifier, &coldstandby_handler::reports(&handled), deadline).await;
        invocation_result(handled.map(|handled| serde_json::to_value(&handled).unwrap_or(Value::Null)))
    }))
    .await
    .map_err(|error| LambdaError::Runtime(error.to_string()))
}

/// One summary line per run in the log, and each outcome worth telling published to the
/// configured topic (a failed publish is logged, and the invocation's result stays the run's).
/// Publishing stops a second before the invocation's `deadline`: the response must still be sent.
async fn tell(notifier: Option<&Notifier>, reports: &[&Report], deadline: Timestamp) {
    for report in reports {
        let notification = Notification::new(RunKind::Failover, report, &crate::notify::source("lambda"));
        tracing::info!(
            group = %notification.group,
            result = notification.result,
            from = notification.from.as_ref().map(|id| id.as_str()),
            to = notification.to.as_ref().map(|id| id.as_str()),
            recovery_ms = notification.recovery_ms,
            rto = %serde_json::Value::Object(notification.rto.clone()),
            failure = notification.failure.as_deref(),
            "outcome"
        );
        let Some(notifier) = notifier.filter(|_| coldstandby_engine::notification::worth_telling(report))
        else {
            continue;
        };
        let left =
            deadline.saturating_since(SystemClock::now()).saturating_sub(std::time::Duration::from_secs(1));
        match notifier.publish_within(&notification, left).await {
            Ok(()) => {
                tracing::info!(group = %notification.group, topic = notifier.topic_arn(), "outcome published")
            }
            Err(error) => tracing::warn!(
                group = %notification.group,
                topic = notifier.topic_arn(),
                error = %error,
                "could not publish the outcome"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permanent_failure_is_a_refusal_lambda_does_not_retry_and_a_transient_one_an_error() {
        let mismatch = HandlerError::DimensionMismatch {
            alarm: "cpu".into(),
            group: "web".into(),
            primary: "i-0123456789abcdef0".parse().unwrap(),
            watched: "i-0fedcba9876543210".into(),
        };
        let refused = invocation_result(Err(mismatch)).expect("a refusal is a response");
        assert_eq!(refused["decision"], "refused");
        assert_eq!(refused["errorType"], "ColdStandby.DimensionMismatch");
        assert_eq!(refused["retry"], false);

        let busy = HandlerError::Busy(coldstandby_engine::lock::GroupBusy { group: "web".into() });
        let error = invocation_result(Err(busy)).expect_err("a transient failure is a function error");
        assert_eq!(error.error_type, "ColdStandby.GroupBusy");
    }

    #[test]
    fn an_invocation_error_names_our_error_not_a_rust_type() {
        let error = HandlerError::MalformedEvent(coldstandby_handler::MalformedEvent("no alarmData".into()));
        let diagnostic = Diagnostic::from(FunctionError::from(error));
        assert_eq!(diagnostic.error_type, "ColdStandby.MalformedEvent");
        assert!(diagnostic.error_message.contains("no alarmData"), "{}", diagnostic.error_message);
    }
}

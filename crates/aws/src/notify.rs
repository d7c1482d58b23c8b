//! Telling a team how a run ended: each outcome worth telling, as JSON, to the SNS topic the
//! configuration names (`notification_topic_arn`). A failed publish is reported, never fatal:
//! the failover it describes has already happened.

use std::time::Duration;

use aws_config::SdkConfig;
use coldstandby_engine::notification::Notification;
use coldstandby_engine::{ApiError, ErrorKind};

use crate::errors::from_sdk_error;

/// How long one publish may take.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Publishes to one topic.
#[derive(Clone, Debug)]
pub struct Notifier {
    sns: aws_sdk_sns::Client,
    topic_arn: String,
}

impl Notifier {
    /// The notifier for the configuration's topic, if it names one.
    pub fn from_config(sdk: &SdkConfig, config: &coldstandby_config::Config) -> Option<Self> {
        let topic_arn = config.notification_topic_arn.clone()?;
        Some(Self { sns: aws_sdk_sns::Client::new(sdk), topic_arn })
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// Publish `notification` (its subject line, and the whole of it as the JSON message),
    /// waiting at most 10 s.
    pub async fn publish(&self, notification: &Notification) -> Result<(), ApiError> {
        self.publish_within(notification, PUBLISH_TIMEOUT).await
    }

    /// Publish, waiting at most `limit` (a Lambda invocation has only what is left of its time).
    pub async fn publish_within(&self, notification: &Notification, limit: Duration) -> Result<(), ApiError> {
        let message = serde_json::to_string(notification)
            .map_err(|error| ApiError::new(ErrorKind::Invalid, "Serialization", error.to_string()))?;
        let send = self
            .sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(notification.subject())
            .message(message)
            .send();
        let limit = limit.min(PUBLISH_TIMEOUT);
        match tokio::time::timeout(limit, send).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(from_sdk_error("Publish", error)),
            Err(_) => Err(ApiError::new(
                ErrorKind::Transient,
                "Timeout",
                format!("no answer from SNS in {} ms", limit.as_millis()),
            )),
        }
    }
}

/// Who sent a notification: `coldstandby 0.1.0 (lambda)`.
pub fn source(sender: &str) -> String {
    format!("coldstandby {} ({sender})", env!("CARGO_PKG_VERSION"))
}

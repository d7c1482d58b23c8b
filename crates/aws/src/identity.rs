//! Which AWS account the credentials act in (STS GetCallerIdentity), for a person about to
//! change real instances.

use aws_config::SdkConfig;
use coldstandby_engine::ApiError;

use crate::errors::from_sdk_error;

/// Asks STS who the configured credentials are.
#[derive(Clone, Debug)]
pub struct Identity {
    sts: aws_sdk_sts::Client,
    /// The answer, once STS gave one (a command may name the account more than once).
    account: std::sync::OnceLock<String>,
}

impl Identity {
    pub fn from_config(sdk: &SdkConfig) -> Self {
        Self { sts: aws_sdk_sts::Client::new(sdk), account: std::sync::OnceLock::new() }
    }

    /// The account id the credentials belong to. GetCallerIdentity needs no permission; in a
    /// network without an STS endpoint it fails like any unreachable call.
    pub async fn account(&self) -> Result<String, ApiError> {
        if let Some(account) = self.account.get() {
            return Ok(account.clone());
        }
        let identity = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|error| from_sdk_error("GetCallerIdentity", error))?;
        let account = identity.account().unwrap_or("unknown").to_owned();
        Ok(self.account.get_or_init(|| account).clone())
    }
}

//! Which AWS account the credentials act in (STS GetCallerIdentity), for a person about to
//! change real instances.

use aws_config::SdkConfig;
use coldstandby_engine::ApiError;

use crate::errors::from_sdk_error;

/// Asks STS who the configured credentials are.
#[derive(Clone, Debug)]
pub struct Identity {
    sts: aws_sdk_sts::Client,
}

impl Identity {
    pub fn from_config(sdk: &SdkConfig) -> Self {
        Self { sts: aws_sdk_sts::Client::new(sdk) }
    }

    /// The account id the credentials belong to. GetCallerIdentity needs no permission; in a
    /// network without an STS endpoint it fails like any unreachable call.
    pub async fn account(&self) -> Result<String, ApiError> {
        let identity = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|error| from_sdk_error("GetCallerIdentity", error))?;
        Ok(identity.account().unwrap_or("unknown").to_owned())
    }
}

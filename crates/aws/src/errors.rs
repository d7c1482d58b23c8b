//! Classifying AWS SDK errors once, into the engine's `ErrorKind`, keeping the code and the whole
//! message (an `UnauthorizedOperation` carries its encoded authorization message).

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use coldstandby_engine::{ApiError, ErrorKind};

/// The engine's reaction to an EC2 error code (and HTTP status, when there is one).
pub fn classify(code: Option<&str>, status: Option<u16>) -> ErrorKind {
    match code {
        Some(
            "RequestLimitExceeded"
            | "Throttling"
            | "ThrottlingException"
            | "RequestThrottled"
            | "ProvisionedThroughputExceededException"
            // Route 53: a change to the same record is still being applied.
            | "PriorRequestNotComplete",
        ) => ErrorKind::Throttled,
        Some(
            "InsufficientInstanceCapacity"
            | "InstanceLimitExceeded"
            | "VcpuLimitExceeded"
            | "InsufficientCapacity",
        ) => ErrorKind::Capacity,
        // What a change replaces moved meanwhile: read again and decide from what is there.
        Some(
            "IncorrectInstanceState"
            | "IncorrectState"
            | "InvalidChangeBatch"
            | "RouteAlreadyExists"
            | "InvalidTarget"
            | "Resource.AlreadyAssociated"
            // DynamoDB: a conditional write found another version (the lease moved).
            | "ConditionalCheckFailedException",
        ) => ErrorKind::WrongState,
        Some(
            "InvalidInstanceID.NotFound"
            | "InvalidRouteTableID.NotFound"
            | "InvalidNetworkInterfaceID.NotFound"
            | "InvalidAllocationID.NotFound"
            // The subnet's association changed since it was read: read again.
            | "InvalidAssociationID.NotFound"
            | "InvalidSubnetID.NotFound"
            | "NoSuchHostedZone"
            | "NoSuchChange"
            | "TargetGroupNotFound"
            | "ResourceNotFoundException",
        ) => ErrorKind::NotFound,
        Some(
            "UnauthorizedOperation"
            | "AuthFailure"
            | "AccessDenied"
            | "AccessDeniedException"
            | "OptInRequired",
        ) => ErrorKind::Denied,
        Some("InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable") => {
            ErrorKind::Transient
        }
        _ if status.is_some_and(|status| status >= 500) => ErrorKind::Transient,
        _ if status == Some(429) => ErrorKind::Throttled,
        _ => ErrorKind::Invalid,
    }
}

/// Convert any EC2 operation's SDK error.
pub fn from_sdk_error<E>(operation: &str, error: SdkError<E, HttpResponse>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &error {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let service_error = context.err();
            let code = service_error.code().map(str::to_owned);
            let message = service_error.message().map_or_else(|| service_error.to_string(), str::to_owned);
            let kind = classify(code.as_deref(), Some(status));
            let message = if kind == ErrorKind::Denied {
                format!("access denied for {operation}: {message}")
            } else {
                message
            };
            ApiError::new(kind, code.unwrap_or_else(|| format!("HTTP {status}")), message)
        }
        SdkError::TimeoutError(_) => ApiError::new(
            ErrorKind::Transient,
            "Timeout",
            format!("{operation} timed out: {}", chain(&error)),
        ),
        SdkError::DispatchFailure(failure) if !failure.is_io() && !failure.is_timeout() => {
            // Not the network: most often no credentials could be found or loaded. Retrying
            // cannot help, so the failover stops at once with the reason.
            let text = chain(&error);
            if text.contains("credential") {
                ApiError::new(ErrorKind::Denied, "NoCredentials", no_credentials(operation, &text))
            } else {
                ApiError::new(ErrorKind::Transient, "RequestFailed", format!("{operation}: {text}"))
            }
        }
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => ApiError::new(
            ErrorKind::Transient,
            "NetworkError",
            format!("{operation}: the AWS endpoint could not be reached: {}", innermost(&error)),
        ),
        _ => ApiError::new(ErrorKind::Invalid, "RequestNotSent", format!("{operation}: {}", chain(&error))),
    }
}

/// One sentence for a request that could not be signed, in place of the credential chain's
/// dump: where the SDK looked, and the detail of the last place it tried when that says more
/// than "not enabled".
fn no_credentials(operation: &str, chain: &str) -> String {
    let mut message = format!(
        "{operation}: no AWS credentials found (looked in the environment variables, the shared \
         config and credentials files, a web identity token, the ECS container and EC2 instance \
         metadata)"
    );
    // The instance metadata service answering, but refusing, is worth saying: a role is expected.
    if chain.contains("IMDS") && !chain.contains("IMDS disabled") {
        message.push_str("; the instance metadata service did not give any");
    }
    message
}

/// The deepest cause of an error: "Connection refused (os error 111)", not the layers above it.
fn innermost(error: &dyn std::error::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    // Bounded by the chain's length; sources do not cycle.
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// An error and its sources, joined, so a dispatch failure says why (refused, DNS, TLS...).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_the_engine_distinguishes() {
        let cases = [
            ("RequestLimitExceeded", 503, ErrorKind::Throttled),
            ("InsufficientInstanceCapacity", 500, ErrorKind::Capacity),
            ("InstanceLimitExceeded", 400, ErrorKind::Capacity),
            ("VcpuLimitExceeded", 400, ErrorKind::Capacity),
            ("IncorrectInstanceState", 400, ErrorKind::WrongState),
            ("InvalidInstanceID.NotFound", 400, ErrorKind::NotFound),
            ("UnauthorizedOperation", 403, ErrorKind::Denied),
            ("InternalError", 500, ErrorKind::Transient),
            ("SomethingNew", 502, ErrorKind::Transient),
            ("InvalidInstanceID.Malformed", 400, ErrorKind::Invalid),
            ("InvalidParameterValue", 400, ErrorKind::Invalid),
            ("PriorRequestNotComplete", 400, ErrorKind::Throttled),
            ("InvalidChangeBatch", 400, ErrorKind::WrongState),
            ("TargetGroupNotFound", 400, ErrorKind::NotFound),
            ("InvalidAssociationID.NotFound", 400, ErrorKind::NotFound),
            ("InvalidNetworkAclID.NotFound", 400, ErrorKind::Invalid),
        ];
        for (code, status, kind) in cases {
            assert_eq!(classify(Some(code), Some(status)), kind, "{code}");
        }
        assert_eq!(classify(None, Some(429)), ErrorKind::Throttled);
        assert_eq!(classify(None, None), ErrorKind::Invalid);
    }
}

//! The security scanner's (checkov's) findings the deployment accepts on purpose, each with the
//! reason written into the template or module beside the resource, so that a scan reports no
//! unexplained finding and a reviewer reads why.

use crate::hcl::Body;
use crate::yaml::Node;

/// A finding accepted on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptedFinding {
    pub id: &'static str,
    pub reason: &'static str,
}

/// The function needs no dead-letter queue: a failed asynchronous invocation goes to the
/// on-failure destination (EventInvokeConfig), the newer form of the same path.
pub const NO_DEAD_LETTER_QUEUE: AcceptedFinding = AcceptedFinding {
    id: "CKV_AWS_116",
    reason: "Failed invocations go to the on-failure destination (the SNS topic), Lambda's successor to a \
             dead-letter queue; both would deliver the same events twice",
};

/// Outside a VPC by choice: without `--vpc` the function reaches the AWS APIs directly.
pub const OUTSIDE_VPC: AcceptedFinding = AcceptedFinding {
    id: "CKV_AWS_117",
    reason: "Outside a VPC by design in this variant (it needs no network path into a VPC); generate with \
             --vpc to run it in your subnets with interface endpoints",
};

/// Code signing needs a Signer profile the deployment does not own.
pub const NO_CODE_SIGNING: AcceptedFinding = AcceptedFinding {
    id: "CKV_AWS_272",
    reason: "The zip comes from your own bucket (scripts/package-lambda builds it); code signing needs an \
             AWS Signer profile, which is yours to add (code_signing_config_arn)",
};

/// No X-Ray: the log already holds every step, and X-Ray is one more endpoint to reach.
pub const NO_TRACING: AcceptedFinding = AcceptedFinding {
    id: "CKV_AWS_50",
    reason: "Every step of a failover is one structured line in the function's log; X-Ray would need its \
             own endpoint in a closed network and shows a responder nothing more",
};

/// Retention below a year is the user's choice (`--log-retention-days`).
pub const SHORT_RETENTION: AcceptedFinding = AcceptedFinding {
    id: "CKV_AWS_338",
    reason: "Retention is --log-retention-days (default 90); generate with 365 or more where an audit asks \
             for a year",
};

/// A key policy's `Resource: "*"` is the key itself: IAM-policy rules do not apply.
pub const KEY_POLICY_RESOURCES: [AcceptedFinding; 3] = [
    AcceptedFinding { id: "CKV_AWS_109", reason: KEY_POLICY_REASON },
    AcceptedFinding { id: "CKV_AWS_111", reason: KEY_POLICY_REASON },
    AcceptedFinding { id: "CKV_AWS_356", reason: KEY_POLICY_REASON },
];

const KEY_POLICY_REASON: &str = "A key policy, not an identity policy: its Resource \"*\" is this key \
                                 alone, and the account administering its key is the policy AWS writes \
                                 by default, so that IAM policies decide who else may use it";

/// CloudFormation: the resource's `Metadata` naming its accepted findings.
pub fn cloudformation_metadata(findings: &[AcceptedFinding]) -> Node {
    let skips =
        findings.iter().map(|finding| Node::map().with("id", finding.id).with("comment", finding.reason));
    Node::map().with("checkov", Node::map().with("skip", Node::List(skips.collect())))
}

/// Terraform: one `checkov:skip` comment per finding, opening the block.
pub fn terraform_comments(body: Body, findings: &[AcceptedFinding]) -> Body {
    findings
        .iter()
        .fold(body, |body, finding| body.comment(&format!("checkov:skip={}: {}", finding.id, finding.reason)))
}

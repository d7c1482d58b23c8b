//! The SNS interface endpoint a function in a VPC needs to publish outcomes
//! (`notification_topic_arn`) from a closed network, in both deployment files: created unless the
//! VPC has one (`CreateSnsEndpoint=false` / `create_sns_endpoint = false`), behind a security
//! group that admits only the function.

use coldstandby_config::Config;

use crate::hcl::{Body, Expr};
use crate::yaml::Node;

/// Whether the deployment needs it: a function in a VPC that publishes outcomes.
pub fn needed(config: &Config, in_vpc: bool) -> bool {
    in_vpc && config.notification_topic_arn.is_some()
}

const DESCRIPTION: &str = "false when the VPC already has an SNS interface endpoint with private DNS";

/// CloudFormation: the parameter.
pub fn parameter() -> Node {
    Node::map()
        .with("Type", "String")
        .with("AllowedValues", Node::list(["true", "false"]))
        .with("Default", "true")
        .with("Description", DESCRIPTION)
}

/// CloudFormation: the condition the resources are created under.
pub fn condition() -> Node {
    Node::tagged("!Equals", Node::list([Node::tagged("!Ref", "CreateSnsEndpoint"), Node::from("true")]))
}

/// CloudFormation: its security group and the endpoint.
pub fn cloudformation_resources() -> Vec<(&'static str, Node)> {
    let reference = |name: &str| Node::tagged("!Ref", name);
    let group = Node::map()
        .with("Type", "AWS::EC2::SecurityGroup")
        .with("Condition", "ShouldCreateSnsEndpoint")
        .with(
            "Properties",
            Node::map()
                .with("GroupDescription", "coldstandby SNS endpoint: HTTPS from the function only")
                .with("VpcId", reference("VpcId"))
                .with(
                    "SecurityGroupIngress",
                    Node::list([Node::map()
                        .with("Description", "the coldstandby function")
                        .with("IpProtocol", "tcp")
                        .with("FromPort", 443u32)
                        .with("ToPort", 443u32)
                        .with("SourceSecurityGroupId", reference("FunctionSecurityGroup"))]),
                ),
        );
    let endpoint =
        Node::map().with("Type", "AWS::EC2::VPCEndpoint").with("Condition", "ShouldCreateSnsEndpoint").with(
            "Properties",
            Node::map()
                .with("VpcId", reference("VpcId"))
                .with("ServiceName", Node::tagged("!Sub", "com.amazonaws.${AWS::Region}.sns"))
                .with("VpcEndpointType", "Interface")
                .with("PrivateDnsEnabled", true)
                .with("SubnetIds", reference("SubnetIds"))
                .with("SecurityGroupIds", Node::list([reference("SnsEndpointSecurityGroup")])),
        );
    vec![("SnsEndpointSecurityGroup", group), ("SnsEndpoint", endpoint)]
}

/// Terraform: the variable.
pub fn variable() -> Body {
    Body::new().attr("type", Expr::raw("bool")).attr("description", DESCRIPTION).attr("default", true)
}

/// Terraform: its security group and the endpoint, `region` being the module's region expression.
pub fn terraform_resources(region: &str) -> Vec<(&'static str, &'static str, Body)> {
    let group = Body::new()
        .attr("count", Expr::raw("var.create_sns_endpoint ? 1 : 0"))
        .attr("description", "coldstandby SNS endpoint: HTTPS from the function only")
        .attr("vpc_id", Expr::raw("var.vpc_id"))
        .block(
            "ingress",
            &[],
            Body::new()
                .attr("description", "the coldstandby function")
                .attr("protocol", "tcp")
                .attr("from_port", 443u32)
                .attr("to_port", 443u32)
                .attr("security_groups", Expr::List(vec![Expr::raw("aws_security_group.function.id")])),
        );
    let endpoint = Body::new()
        .attr("count", Expr::raw("var.create_sns_endpoint ? 1 : 0"))
        .attr("vpc_id", Expr::raw("var.vpc_id"))
        .attr("service_name", Expr::template(format!("com.amazonaws.${{{region}}}.sns")))
        .attr("vpc_endpoint_type", "Interface")
        .attr("private_dns_enabled", true)
        .attr("subnet_ids", Expr::raw("var.subnet_ids"))
        .attr("security_group_ids", Expr::List(vec![Expr::raw("aws_security_group.sns_endpoint[0].id")]));
    vec![("aws_security_group", "sns_endpoint", group), ("aws_vpc_endpoint", "sns", endpoint)]
}

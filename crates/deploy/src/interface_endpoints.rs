//! The interface endpoints a function in a VPC needs when the VPC has no way out: EC2's always,
//! SNS's when it publishes outcomes (`notification_topic_arn`). Each has private DNS, sits behind
//! a security group that admits only the function, and is created unless the deployer says the
//! VPC has one (a parameter in the template, a variable in the module).

use coldstandby_config::Config;

use crate::hcl::{Body, Expr};
use crate::yaml::Node;

/// One service's endpoint, with its names in both deployment files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfaceEndpoint {
    /// The service's name in `com.amazonaws.REGION.SERVICE`.
    pub service: &'static str,
    /// The service as people write it (`EC2`), for descriptions.
    pub label: &'static str,
    /// CloudFormation: the endpoint's and its security group's logical ids, the parameter that
    /// skips them and the condition it makes.
    pub endpoint_id: &'static str,
    pub group_id: &'static str,
    pub parameter: &'static str,
    pub condition: &'static str,
    /// Terraform: the endpoint's and the security group's names, and the variable.
    pub endpoint_name: &'static str,
    pub group_name: &'static str,
    pub variable: &'static str,
}

pub const EC2: InterfaceEndpoint = InterfaceEndpoint {
    service: "ec2",
    label: "EC2",
    endpoint_id: "Ec2Endpoint",
    group_id: "EndpointSecurityGroup",
    parameter: "CreateEc2Endpoint",
    condition: "ShouldCreateEc2Endpoint",
    endpoint_name: "ec2",
    group_name: "endpoint",
    variable: "create_ec2_endpoint",
};

pub const SNS: InterfaceEndpoint = InterfaceEndpoint {
    service: "sns",
    label: "SNS",
    endpoint_id: "SnsEndpoint",
    group_id: "SnsEndpointSecurityGroup",
    parameter: "CreateSnsEndpoint",
    condition: "ShouldCreateSnsEndpoint",
    endpoint_name: "sns",
    group_name: "sns_endpoint",
    variable: "create_sns_endpoint",
};

/// The endpoints a deployment creates: none outside a VPC; EC2's inside one, and SNS's too for a
/// function that publishes outcomes.
pub fn needed(config: &Config, in_vpc: bool) -> Vec<InterfaceEndpoint> {
    match (in_vpc, config.notification_topic_arn.is_some()) {
        (false, _) => Vec::new(),
        (true, false) => vec![EC2],
        (true, true) => vec![EC2, SNS],
    }
}

impl InterfaceEndpoint {
    fn skip_description(self) -> String {
        format!("false when the VPC already has an {} interface endpoint with private DNS", self.label)
    }

    fn group_description(self) -> String {
        format!("coldstandby {} endpoint: HTTPS from the function only", self.label)
    }

    /// CloudFormation: the parameter that skips it.
    pub fn skip_parameter(self) -> Node {
        Node::map()
            .with("Type", "String")
            .with("AllowedValues", Node::list(["true", "false"]))
            .with("Default", "true")
            .with("Description", self.skip_description())
    }

    /// CloudFormation: the condition its resources are created under.
    pub fn skip_condition(self) -> Node {
        Node::tagged("!Equals", Node::list([Node::tagged("!Ref", self.parameter), Node::from("true")]))
    }

    /// CloudFormation: its security group and the endpoint, by logical id.
    pub fn cloudformation_resources(self) -> [(&'static str, Node); 2] {
        let reference = |name: &str| Node::tagged("!Ref", name);
        let ingress = Node::map()
            .with("Description", "the coldstandby function")
            .with("IpProtocol", "tcp")
            .with("FromPort", 443u32)
            .with("ToPort", 443u32)
            .with("SourceSecurityGroupId", reference("FunctionSecurityGroup"));
        let group =
            Node::map().with("Type", "AWS::EC2::SecurityGroup").with("Condition", self.condition).with(
                "Properties",
                Node::map()
                    .with("GroupDescription", self.group_description())
                    .with("VpcId", reference("VpcId"))
                    .with("SecurityGroupIngress", Node::list([ingress])),
            );
        let endpoint =
            Node::map().with("Type", "AWS::EC2::VPCEndpoint").with("Condition", self.condition).with(
                "Properties",
                Node::map()
                    .with("VpcId", reference("VpcId"))
                    .with(
                        "ServiceName",
                        Node::tagged("!Sub", format!("com.amazonaws.${{AWS::Region}}.{}", self.service)),
                    )
                    .with("VpcEndpointType", "Interface")
                    .with("PrivateDnsEnabled", true)
                    .with("SubnetIds", reference("SubnetIds"))
                    .with("SecurityGroupIds", Node::list([reference(self.group_id)])),
            );
        [(self.group_id, group), (self.endpoint_id, endpoint)]
    }

    /// Terraform: the variable that skips it.
    pub fn terraform_variable(self) -> Body {
        Body::new()
            .attr("type", Expr::raw("bool"))
            .attr("description", self.skip_description())
            .attr("default", true)
    }

    /// Terraform: its security group and the endpoint, `region` being the module's region
    /// expression.
    pub fn terraform_resources(self, region: &str) -> [(&'static str, &'static str, Body); 2] {
        let count = Expr::raw(format!("var.{} ? 1 : 0", self.variable));
        let ingress = Body::new()
            .attr("description", "the coldstandby function")
            .attr("protocol", "tcp")
            .attr("from_port", 443u32)
            .attr("to_port", 443u32)
            .attr("security_groups", Expr::List(vec![Expr::raw("aws_security_group.function.id")]));
        let group = Body::new()
            .attr("count", count.clone())
            .attr("description", self.group_description())
            .attr("vpc_id", Expr::raw("var.vpc_id"))
            .block("ingress", &[], ingress);
        let endpoint = Body::new()
            .attr("count", count)
            .attr("vpc_id", Expr::raw("var.vpc_id"))
            .attr("service_name", Expr::template(format!("com.amazonaws.${{{region}}}.{}", self.service)))
            .attr("vpc_endpoint_type", "Interface")
            .attr("private_dns_enabled", true)
            .attr("subnet_ids", Expr::raw("var.subnet_ids"))
            .attr(
                "security_group_ids",
                Expr::List(vec![Expr::raw(format!("aws_security_group.{}[0].id", self.group_name))]),
            );
        [("aws_security_group", self.group_name, group), ("aws_vpc_endpoint", self.endpoint_name, endpoint)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vpc_function_gets_ec2s_endpoint_and_snss_only_when_it_publishes() {
        let text = "region = \"ap-northeast-1\"\n[[group]]\nname = \"web\"\nprimary = \"i-0a1b2c3d4e5f60718\"\nstandbys = [\"i-0f9e8d7c6b5a40312\"]\nalarms = [\"cpu\"]\n";
        let mut config = coldstandby_config::parse(text, "test").unwrap();
        assert_eq!(needed(&config, false), []);
        assert_eq!(needed(&config, true), [EC2]);
        config.notification_topic_arn = Some("arn:aws:sns:ap-northeast-1:111122223333:outcomes".to_owned());
        assert_eq!(needed(&config, true), [EC2, SNS]);
        assert_eq!(needed(&config, false), [], "outside a VPC the function reaches SNS directly");
    }
}

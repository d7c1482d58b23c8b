//! The engine's `Provider` on real EC2, with the AWS SDK for Rust. Region comes from the config;
//! credentials and endpoint from the standard chain, so `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_EC2`
//! point it at a VPC endpoint or a local emulator with no code change.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::types::{Filter, Instance, InstanceStateName, Reservation, Tag};
use aws_sdk_ec2::Client;
use coldstandby_engine::clients::{Change, ClientView, Endpoint, Mover, Probe, ProbeResult};
use coldstandby_engine::isolation::SubnetAcl;
use coldstandby_engine::lease::{LeaseCall, LeaseReply};
use coldstandby_engine::{ApiError, InstanceId, InstanceState, Observation, Provider};

use crate::clients::ClientApis;
use crate::errors::from_sdk_error;

/// Connecting to the endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Waiting for a response once connected.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// One call, end to end. The engine retries on its own, with backoff and within its deadlines,
/// so the SDK's own retries are off.
pub const CALL_TIMEOUT: Duration = coldstandby_engine::provider::CALL_TIMEOUT;
/// Pages of DescribeInstances read for one describe (the fleet names at most 200 ids in one).
const MAX_PAGES: usize = 10;
/// Instances per DescribeInstances page (AWS allows 5 to 1000): every page is a request from the
/// describe bucket, so the largest page keeps one describe one request.
const PAGE_SIZE: i32 = 1000;

/// EC2 through the SDK.
#[derive(Clone, Debug)]
pub struct Ec2Provider {
    client: Client,
    /// Route tables, Route 53, load balancers and addresses, for readiness and movers.
    clients: ClientApis,
    /// The groups' lease table.
    dynamodb: aws_sdk_dynamodb::Client,
}

/// The SDK configuration coldstandby uses: explicit timeouts, no SDK-level retries.
pub async fn sdk_config(region: &str) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .operation_attempt_timeout(CALL_TIMEOUT)
        .operation_timeout(CALL_TIMEOUT)
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .timeout_config(timeouts)
        .retry_config(RetryConfig::disabled())
        .load()
        .await
}

impl Ec2Provider {
    /// A provider for `region`, credentials and endpoint from the environment.
    pub async fn connect(region: &str) -> Self {
        Self::from_config(&sdk_config(region).await)
    }

    pub fn from_config(config: &SdkConfig) -> Self {
        Self {
            client: Client::new(config),
            clients: ClientApis::from_config(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Every instance carrying the tag `key` (any value), as the engine sees instances: for
    /// `init`, which builds groups from `coldstandby:group` tags.
    pub async fn describe_tagged(&self, key: &str) -> Result<Vec<Observation>, ApiError> {
        let filter = Filter::builder().name("tag-key").values(key).build();
        let reservations = describe_filtered(&self.client, filter).await?;
        Ok(reservations.iter().flat_map(|r| r.instances()).filter_map(observation).collect())
    }
}

fn state_of(name: &InstanceStateName) -> Option<InstanceState> {
    match name {
        InstanceStateName::Pending => Some(InstanceState::Pending),
        InstanceStateName::Running => Some(InstanceState::Running),
        InstanceStateName::ShuttingDown => Some(InstanceState::ShuttingDown),
        InstanceStateName::Terminated => Some(InstanceState::Terminated),
        InstanceStateName::Stopping => Some(InstanceState::Stopping),
        InstanceStateName::Stopped => Some(InstanceState::Stopped),
        _ => None,
    }
}

/// What DescribeInstances answers for `instances`, named in `InstanceIds`: during a zone's
/// disruption EC2 fails a describe that names an instance in that zone *or names none at all*,
/// and ids given only through the `instance-id` filter count as naming none (docs/aws-behaviour.md,
/// "Describing during a zone's disruption"). An id EC2 does not know fails the whole call with
/// `InvalidInstanceID.NotFound`, which names it: it is dropped (absent from the answer, as the
/// engine expects of an unknown instance) and the rest asked again. Never sent with no ids.
pub(crate) async fn describe_reservations(
    client: &Client,
    instances: &[InstanceId],
) -> Result<Vec<Reservation>, ApiError> {
    let mut asked: Vec<String> = instances.iter().map(|id| id.as_str().to_owned()).collect();
    // Every refusal drops at least one id, so this ends within one request per id, plus one.
    for _ in 0..=asked.len() {
        if asked.is_empty() {
            return Ok(Vec::new());
        }
        match describe_by_ids(client, &asked).await {
            Err(error) if error.code == "InvalidInstanceID.NotFound" => {
                let unknown = named_instance_ids(&error.message);
                let before = asked.len();
                asked.retain(|id| !unknown.contains(id));
                if asked.len() == before {
                    // It names none of ours: dropping nothing would only ask the same again.
                    return Err(error);
                }
            }
            answer => return answer,
        }
    }
    unreachable!("each InvalidInstanceID.NotFound drops an id, so the ids run out first")
}

/// One DescribeInstances naming `ids` in `InstanceIds`, every page (without `MaxResults`, which
/// EC2 refuses beside `InstanceIds`, the answer is normally one page).
async fn describe_by_ids(client: &Client, ids: &[String]) -> Result<Vec<Reservation>, ApiError> {
    describe_pages(client, &Ask::Ids(ids)).await
}

/// How a DescribeInstances names what it asks about.
enum Ask<'a> {
    Ids(&'a [String]),
    /// With `MaxResults`: the paginated form, the one AWS asks for when ids are not named.
    Filter(Filter),
}

/// Every page DescribeInstances answers for `ask`, at most `MAX_PAGES`; more is an error, never
/// a partial answer taken as whole.
async fn describe_pages(client: &Client, ask: &Ask<'_>) -> Result<Vec<Reservation>, ApiError> {
    let mut reservations = Vec::new();
    let mut next_token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let request = match ask {
            Ask::Ids(ids) => client.describe_instances().set_instance_ids(Some(ids.to_vec())),
            Ask::Filter(filter) => client.describe_instances().filters(filter.clone()).max_results(PAGE_SIZE),
        };
        let page = request
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|error| from_sdk_error("DescribeInstances", error))?;
        reservations.extend(page.reservations().iter().cloned());
        next_token = page.next_token().filter(|token| !token.is_empty()).map(str::to_owned);
        if next_token.is_none() {
            return Ok(reservations);
        }
    }
    Err(ApiError::new(
        coldstandby_engine::ErrorKind::Transient,
        "TooManyPages",
        format!("DescribeInstances still paging after {MAX_PAGES} pages"),
    ))
}

/// The instance ids an EC2 error message names ("The instance IDs 'i-1, i-2' do not exist").
fn named_instance_ids(message: &str) -> Vec<String> {
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| word.parse::<InstanceId>().is_ok())
        .map(str::to_owned)
        .collect()
}

/// Every instance DescribeInstances answers for `filter`, over at most `MAX_PAGES` pages.
async fn describe_filtered(client: &Client, filter: Filter) -> Result<Vec<Reservation>, ApiError> {
    describe_pages(client, &Ask::Filter(filter)).await
}

/// An instance's tags (a tag without a value has the empty value).
pub(crate) fn tags(instance: &Instance) -> BTreeMap<String, String> {
    instance
        .tags()
        .iter()
        .filter_map(|tag| Some((tag.key()?.to_owned(), tag.value().unwrap_or_default().to_owned())))
        .collect()
}

/// An instance's Availability Zone, empty when the answer has none.
pub(crate) fn availability_zone(instance: &Instance) -> String {
    instance.placement().and_then(|p| p.availability_zone()).unwrap_or_default().to_owned()
}

/// The engine's view of one described instance. An instance whose id or state cannot be read is
/// left out, which the engine treats as "unknown" (never as stopped).
pub(crate) fn observation(instance: &Instance) -> Option<Observation> {
    let id: InstanceId = instance.instance_id()?.parse().ok()?;
    let state = instance.state().and_then(|s| s.name()).and_then(state_of);
    let Some(state) = state else {
        tracing::warn!(instance = %id, "DescribeInstances gave no recognised state; treating it as unknown");
        return None;
    };
    Some(Observation {
        instance: id,
        state,
        availability_zone: availability_zone(instance),
        state_reason: instance.state_reason().and_then(|r| r.message()).map(str::to_owned),
        tags: tags(instance),
        network_interface: primary_network_interface(instance),
        private_ip: instance.private_ip_address().map(str::to_owned),
        instance_type: instance.instance_type().map(|kind| kind.as_str().to_owned()),
    })
}

/// The id of the interface at device index 0: what routes and Elastic IPs must name on an
/// instance with several interfaces.
fn primary_network_interface(instance: &Instance) -> Option<String> {
    instance
        .network_interfaces()
        .iter()
        .find(|interface| interface.attachment().and_then(|a| a.device_index()) == Some(0))
        .and_then(|interface| interface.network_interface_id())
        .map(str::to_owned)
}

/// Instance ids as the SDK takes them.
fn ids(instances: &[InstanceId]) -> Vec<String> {
    instances.iter().map(|id| id.as_str().to_owned()).collect()
}

impl Provider for Ec2Provider {
    async fn describe(&self, instances: &[InstanceId]) -> Result<Vec<Observation>, ApiError> {
        let reservations = describe_reservations(&self.client, instances).await?;
        Ok(reservations.iter().flat_map(|r| r.instances()).filter_map(observation).collect())
    }

    async fn start(&self, instances: &[InstanceId]) -> Result<(), ApiError> {
        self.client
            .start_instances()
            .set_instance_ids(Some(ids(instances)))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| from_sdk_error("StartInstances", error))
    }

    /// A forced stop is `SkipOsShutdown` (no OS shutdown at all, what `force-stop` promises and
    /// what an escalation after the graceful stop timed out wants) together with `Force` (which
    /// alone would still try a graceful shutdown first, and is what unsticks a hung stop).
    async fn stop(&self, instances: &[InstanceId], force: bool) -> Result<(), ApiError> {
        self.client
            .stop_instances()
            .set_instance_ids(Some(ids(instances)))
            .force(force)
            .skip_os_shutdown(force)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| from_sdk_error("StopInstances", error))
    }

    async fn set_tags(
        &self,
        instances: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        let tags: Vec<Tag> =
            tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect();
        self.client
            .create_tags()
            .set_resources(Some(ids(instances)))
            .set_tags(Some(tags))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| from_sdk_error("CreateTags", error))
    }

    async fn probe(
        &self,
        instance: &InstanceId,
        address: &str,
        probe: &Probe,
    ) -> Result<ProbeResult, ApiError> {
        self.clients.probe(instance, address, probe).await
    }

    async fn read_clients(
        &self,
        mover: &Mover,
        desired: &Endpoint,
        change: Option<&str>,
    ) -> Result<ClientView, ApiError> {
        self.clients.read(mover, desired, change).await
    }

    async fn move_clients(&self, change: &Change) -> Result<Option<String>, ApiError> {
        self.clients.change(change).await
    }

    async fn read_network_acl(&self, subnet: &str) -> Result<SubnetAcl, ApiError> {
        self.clients.read_network_acl(subnet).await
    }

    async fn isolate(&self, association: &str, network_acl: &str) -> Result<(), ApiError> {
        self.clients.isolate(association, network_acl).await
    }

    async fn lease(&self, call: &LeaseCall) -> Result<LeaseReply, ApiError> {
        crate::clients::leases::call(&self.dynamodb, call).await
    }
}

//! What the moto-backed test files share: a moto server on a free loopback port, the AWS
//! environment pointing at it, and the article's two-AZ setup (EC2-1 running, EC2-2 stopped).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // each test file uses part of it
#![allow(clippy::disallowed_methods)] // waits, with deadlines, for real processes (moto, daemons)

pub mod tools;

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{Filter, InstanceStateName};
use serde_json::Value;

pub const REGION: &str = "ap-northeast-1";

/// A moto server on a free loopback port, stopped when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = tools::python_tool("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // CloudFormation tests deploy functions whose zip is not uploaded to moto's S3.
            .env("VALIDATE_LAMBDA_S3", "false")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}): run scripts/test, which installs moto's server")
            });
        let mut moto = Self { child, endpoint: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = moto.child.try_wait().unwrap() {
                panic!("moto_server exited at start: {status}");
            }
            assert!(started.elapsed() < Duration::from_secs(60), "moto_server did not listen within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Dummy credentials, the moto endpoint, and no instance-metadata lookups.
pub fn aws_environment(moto: &Moto) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ]
}

/// The article's setup in moto: a VPC, subnets in 1a and 1c, EC2-1 running, EC2-2 stopped.
pub struct Article {
    pub moto: Moto,
    pub runtime: tokio::runtime::Runtime,
    /// The SDK configuration for moto, to build other services' clients.
    pub sdk: aws_config::SdkConfig,
    pub client: aws_sdk_ec2::Client,
    pub primary: String,
    pub standby: String,
    pub dir: PathBuf,
    pub config: PathBuf,
}

impl Article {
    pub fn new(name: &str) -> Self {
        let moto = Moto::start();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let sdk = runtime.block_on(async {
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(REGION))
                .endpoint_url(&moto.endpoint)
                .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                    "testing", "testing", None, None, "tests",
                ))
                .retry_config(aws_config::retry::RetryConfig::disabled())
                .load()
                .await
        });
        let client = aws_sdk_ec2::Client::new(&sdk);
        let (primary, standby) = runtime.block_on(async {
            let subnets = vpc_with_subnets(
                &client,
                "10.0.0.0/16",
                &[("ap-northeast-1a", "10.0.1.0/24"), ("ap-northeast-1c", "10.0.2.0/24")],
            )
            .await;
            let images = client.describe_images().owners("amazon").send().await.unwrap();
            let image = images.images()[0].image_id().unwrap().to_owned();
            let mut ids = Vec::new();
            for subnet in &subnets {
                ids.push(launch(&client, &image, Placed::Subnet(subnet)).await);
            }
            client.stop_instances().instance_ids(&ids[1]).send().await.unwrap();
            (ids[0].clone(), ids[1].clone())
        });
        let dir = std::env::temp_dir().join(format!("coldstandby-moto-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("coldstandby.toml");
        write_config(&config, &primary, &standby);
        Self { moto, runtime, sdk, client, primary, standby, dir, config }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_coldstandby"));
        command.args(args).envs(aws_environment(&self.moto));
        command.output().unwrap()
    }

    pub fn run_with_config(&self, command: &str, extra: &[&str]) -> Output {
        let config = self.config.to_str().unwrap();
        let mut args = vec![command, "--config", config, "--target", "aws"];
        // Not a terminal: a change to (moto's) EC2 is confirmed on the command line.
        if matches!(command, "failover" | "switchover") {
            args.push("--yes");
        }
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// (state, tags) of an instance, read through the API.
    pub fn instance(&self, id: &str) -> (InstanceStateName, BTreeMap<String, String>) {
        self.runtime.block_on(async {
            let filter = Filter::builder().name("instance-id").values(id).build();
            let out = self.client.describe_instances().filters(filter).send().await.unwrap();
            let instance = &out.reservations()[0].instances()[0];
            let tags = instance
                .tags()
                .iter()
                .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
                .collect();
            (instance.state().unwrap().name().unwrap().clone(), tags)
        })
    }

    pub fn zone(&self, id: &str) -> String {
        self.runtime.block_on(async {
            let filter = Filter::builder().name("instance-id").values(id).build();
            let out = self.client.describe_instances().filters(filter).send().await.unwrap();
            out.reservations()[0].instances()[0].placement().unwrap().availability_zone().unwrap().to_owned()
        })
    }

    /// One of `examples/events`, made to watch this primary.
    pub fn event(&self, name: &str) -> PathBuf {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/events").join(name);
        let text = std::fs::read_to_string(path).unwrap().replace("i-0a1b2c3d4e5f60718", &self.primary);
        let copy = self.dir.join(name);
        std::fs::write(&copy, text).unwrap();
        copy
    }
}

/// A new VPC (`cidr`) with one subnet per (zone, cidr); the subnets' ids, in that order.
pub async fn vpc_with_subnets(
    client: &aws_sdk_ec2::Client,
    cidr: &str,
    subnets: &[(&str, &str)],
) -> Vec<String> {
    let vpc = client.create_vpc().cidr_block(cidr).send().await.unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let mut ids = Vec::new();
    for (zone, cidr) in subnets {
        let subnet = client
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(*cidr)
            .availability_zone(*zone)
            .send()
            .await
            .unwrap();
        ids.push(subnet.subnet().unwrap().subnet_id().unwrap().to_owned());
    }
    ids
}

/// Where `launch` puts an instance.
pub enum Placed<'a> {
    Subnet(&'a str),
    Zone(&'a str),
}

/// One t3.micro from `image`, running; its id.
pub async fn launch(client: &aws_sdk_ec2::Client, image: &str, placed: Placed<'_>) -> String {
    let run = client
        .run_instances()
        .image_id(image)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1);
    let run = match placed {
        Placed::Subnet(subnet) => run.subnet_id(subnet),
        Placed::Zone(zone) => {
            run.placement(aws_sdk_ec2::types::Placement::builder().availability_zone(zone).build())
        }
    };
    let run = run.send().await.unwrap();
    run.instances()[0].instance_id().unwrap().to_owned()
}

pub fn write_config(path: &Path, primary: &str, standby: &str) {
    let text = format!(
        "region = \"{REGION}\"\n[[group]]\nname = \"web\"\nprimary = \"{primary}\"\nstandbys = [\"{standby}\"]\nalarms = [\"web-primary-cpu-high\"]\n"
    );
    std::fs::write(path, text).unwrap();
}

pub fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A lease table as the template makes it: partition key `group` (a string), on demand.
pub async fn create_lease_table(client: &aws_sdk_dynamodb::Client, table: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("group")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder().attribute_name("group").key_type(KeyType::Hash).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// The SDK configuration for `moto`: its endpoint, dummy credentials, no retries.
pub fn moto_sdk(moto: &Moto, runtime: &tokio::runtime::Runtime) -> aws_config::SdkConfig {
    runtime.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&moto.endpoint)
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load(),
    )
}

/// A topic with a queue subscribed to it (raw delivery off: each message is SNS's envelope), to
/// read back what coldstandby published. Returns (topic ARN, queue URL).
pub fn notification_topic(
    runtime: &tokio::runtime::Runtime,
    sdk: &aws_config::SdkConfig,
) -> (String, String) {
    runtime.block_on(async {
        let sns = aws_sdk_sns::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let topic = sns.create_topic().name("coldstandby-outcomes").send().await.unwrap();
        let topic_arn = topic.topic_arn().unwrap().to_owned();
        let queue = sqs.create_queue().queue_name("outcomes").send().await.unwrap();
        let queue_url = queue.queue_url().unwrap().to_owned();
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap();
        let queue_arn =
            attributes.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
        sns.subscribe().topic_arn(&topic_arn).protocol("sqs").endpoint(queue_arn).send().await.unwrap();
        (topic_arn, queue_url)
    })
}

/// Every notification waiting in `queue_url`: (subject, the message as JSON), oldest first.
pub fn notifications(
    runtime: &tokio::runtime::Runtime,
    sdk: &aws_config::SdkConfig,
    queue_url: &str,
) -> Vec<(String, Value)> {
    runtime.block_on(async {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let mut found = Vec::new();
        // Bounded: a few receives empty the queue; each returns at most ten.
        for _ in 0..10 {
            let received =
                sqs.receive_message().queue_url(queue_url).max_number_of_messages(10).send().await.unwrap();
            let messages = received.messages();
            if messages.is_empty() {
                break;
            }
            for message in messages {
                let envelope: Value = serde_json::from_str(message.body().unwrap()).unwrap();
                let body: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
                found.push((envelope["Subject"].as_str().unwrap_or_default().to_owned(), body));
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        found
    })
}

/// The article's configuration with `notification_topic_arn` set (a top-level key goes first).
pub fn with_notifications(article: &Article, topic_arn: &str) {
    let text = std::fs::read_to_string(&article.config).unwrap();
    std::fs::write(&article.config, format!("notification_topic_arn = \"{topic_arn}\"\n{text}")).unwrap();
}

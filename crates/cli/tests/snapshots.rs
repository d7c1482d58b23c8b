//! Outputs people review, as snapshots: the CloudFormation template, the role's policy, and the
//! demo's text and JSON. A change to any of them fails here with the diff; accept it with
//! `UPDATE_EXPECT=1 cargo test -p coldstandby --test snapshots` and review it in the commit.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::Path;
use std::process::Command;

use expect_test::expect_file;

fn coldstandby(args: &[&str]) -> String {
    let output =
        Command::new(env!("CARGO_BIN_EXE_coldstandby")).args(args).output().expect("the binary runs");
    assert_eq!(output.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name).to_str().unwrap().to_owned()
}

#[test]
fn the_cloudformation_template_of_the_example() {
    let config = example("coldstandby.toml");
    expect_file!["snapshots/cloudformation.yaml"].assert_eq(&coldstandby(&[
        "template",
        "cloudformation",
        "--config",
        &config,
    ]));
}

#[test]
fn the_terraform_module_of_the_example() {
    let config = example("coldstandby.toml");
    expect_file!["snapshots/main.tf"].assert_eq(&coldstandby(&[
        "template",
        "terraform",
        "--config",
        &config,
    ]));
}

#[test]
fn the_iam_policy_of_the_example() {
    let config = example("coldstandby.toml");
    let policy = coldstandby(&["template", "iam-policy", "--config", &config, "--account", "111122223333"]);
    expect_file!["snapshots/iam-policy.json"].assert_eq(&policy);
}

#[test]
fn the_demo_with_seed_one_in_text_and_json() {
    expect_file!["snapshots/demo.txt"].assert_eq(&coldstandby(&["demo", "--seed", "1"]));
    expect_file!["snapshots/demo.json"].assert_eq(&coldstandby(&["demo", "--seed", "1", "--output", "json"]));
}

//! The deployment files as outside tools read them: the Terraform module against the
//! CloudFormation template (scripts/template-parity.py, with python-hcl2), checkov on both (no
//! finding left unexplained), and `terraform fmt` when a terraform binary is on PATH.
//! `scripts/test` installs python-hcl2 (target/tools/venv) and checkov (target/tools/checkov, apart:
//! its own hcl2 module would shadow python-hcl2's).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

#[path = "common/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const KEY: &str = "arn:aws:kms:ap-northeast-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

use tools::workspace;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scanners").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The configurations and options every test covers: one group and two, a lease, a VPC, a key.
fn variants() -> Vec<(&'static str, PathBuf, Vec<&'static str>)> {
    let examples = workspace().join("examples");
    vec![
        ("multi", examples.join("coldstandby.toml"), vec![]),
        ("multi-vpc", examples.join("coldstandby.toml"), vec!["--vpc"]),
        ("multi-own-key", examples.join("coldstandby.toml"), vec!["--encryption-key-arn", KEY]),
        ("leased", examples.join("az-outage.toml"), vec![]),
        ("leased-vpc-year", examples.join("az-outage.toml"), vec!["--vpc", "--log-retention-days", "365"]),
        ("clients-vpc", examples.join("clients.toml"), vec!["--vpc"]),
    ]
}

/// `template KIND` for one variant, written to `path`.
fn generate(kind: &str, config: &Path, extra: &[&str], path: &Path) {
    let mut args = vec!["template", kind, "--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = Command::new(env!("CARGO_BIN_EXE_coldstandby")).args(&args).output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, output.stdout).unwrap();
}

#[test]
fn the_terraform_module_has_the_templates_resources_policy_function_and_alarms() {
    let dir = scratch("parity");
    for (name, config, extra) in variants() {
        let (template, module) = (dir.join(format!("{name}.yaml")), dir.join(name).join("main.tf"));
        generate("cloudformation", &config, &extra, &template);
        generate("terraform", &config, &extra, &module);
        let output = tools::python()
            .arg(workspace().join("scripts/template-parity.py"))
            .args([&template, &module])
            .output()
            .unwrap();
        let (stdout, stderr) =
            (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        match output.status.code() {
            Some(0) => {}
            Some(1) => panic!("{name}: the module differs from the template:\n{stdout}{stderr}"),
            _ => {
                panic!("{name}: scripts/template-parity.py could not compare ({}):\n{stderr}", output.status)
            }
        }
        // The comparison covered something: the role's statements, the function, each alarm.
        let model: Value = serde_json::from_slice(&output.stdout).unwrap();
        let statements = model["statements"].as_object().unwrap();
        assert!(
            statements.contains_key("StartAndStopGroupMembers")
                && statements.contains_key("UseEncryptionKey")
        );
        assert_eq!(model["function"]["runtime"], "provided.al2023");
        let text = std::fs::read_to_string(&config).unwrap();
        let config = coldstandby_config::parse(&text, "example").unwrap();
        if config.notification_topic_arn.is_some() {
            assert!(
                statements.contains_key("PublishOutcomes"),
                "{name}: the notification topic's statement compared"
            );
        }
        for alarm in config.groups.iter().filter_map(|group| group.alarm.as_ref()) {
            assert!(model["alarms"].get(&alarm.name).is_some(), "{name}: alarm {} compared", alarm.name);
        }
    }
}

/// checkov's report(s) for a directory, one per framework.
fn checkov(dir: &Path, frameworks: &[&str]) -> Vec<Value> {
    let output = tools::checkov()
        .env("BC_SKIP_MAPPING", "TRUE")
        .args(["--directory", dir.to_str().unwrap(), "--output", "json", "--compact", "--skip-download"])
        .arg("--framework")
        .args(frameworks)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|error| {
        panic!(
            "checkov's output is not JSON ({error}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    match report {
        Value::Array(reports) => reports,
        report => vec![report],
    }
}

#[test]
fn checkov_finds_nothing_unexplained_in_the_template_or_the_module() {
    let dir = scratch("checkov");
    for (name, config, extra) in variants() {
        generate("cloudformation", &config, &extra, &dir.join(format!("{name}.yaml")));
        generate("terraform", &config, &extra, &dir.join(name).join("main.tf"));
    }
    let reports = checkov(&dir, &["cloudformation", "terraform"]);
    let mut scanned = Vec::new();
    for report in &reports {
        let kind = report["check_type"].as_str().unwrap().to_owned();
        let results = &report["results"];
        let failed: Vec<String> = results["failed_checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|check| format!("{} {} in {}", check["check_id"], check["resource"], check["file_path"]))
            .collect();
        assert!(
            failed.is_empty(),
            "{kind}: checkov findings with no reason in the file:\n{}",
            failed.join("\n")
        );
        for skipped in results["skipped_checks"].as_array().unwrap() {
            let reason = skipped["check_result"]["suppress_comment"].as_str().unwrap_or_default();
            assert!(reason.len() > 20, "{kind}: {} skipped without a reason: {skipped}", skipped["check_id"]);
        }
        let passed = results["passed_checks"].as_array().unwrap().len();
        scanned.push((kind, passed));
    }
    let kinds: Vec<&str> = scanned.iter().map(|(kind, _)| kind.as_str()).collect();
    assert!(
        kinds.contains(&"cloudformation") && kinds.contains(&"terraform"),
        "both were scanned: {kinds:?}"
    );
    assert!(scanned.iter().all(|(_, passed)| *passed > 50), "checkov read the files: {scanned:?}");
}

#[test]
fn the_module_is_formatted_as_terraform_fmt_writes_it() {
    if Command::new("terraform").arg("version").output().is_err() {
        eprintln!("skipped terraform fmt -check and terraform validate: no terraform binary on PATH");
        return;
    }
    let dir = scratch("fmt");
    for (name, config, extra) in variants() {
        let module = dir.join(name);
        generate("terraform", &config, &extra, &module.join("main.tf"));
        let fmt =
            Command::new("terraform").args(["fmt", "-check", "-diff"]).current_dir(&module).output().unwrap();
        assert!(
            fmt.status.success(),
            "{name}: terraform fmt would change:\n{}",
            String::from_utf8_lossy(&fmt.stdout)
        );
        if std::env::var_os("COLDSTANDBY_TERRAFORM_VALIDATE").is_none() {
            continue;
        }
        for args in [&["init", "-backend=false", "-input=false"][..], &["validate"][..]] {
            let run = Command::new("terraform").args(args).current_dir(&module).output().unwrap();
            assert!(
                run.status.success(),
                "{name}: terraform {args:?}:\n{}",
                String::from_utf8_lossy(&run.stderr)
            );
        }
    }
    if std::env::var_os("COLDSTANDBY_TERRAFORM_VALIDATE").is_none() {
        eprintln!(
            "skipped terraform validate: it needs the hashicorp/aws provider, which `terraform init` fetches \
             from the registry (not reachable from the tests); set COLDSTANDBY_TERRAFORM_VALIDATE=1 where a \
             provider mirror or plugin cache has it"
        );
    }
}

//! The outside programs the tests run, found where `scripts/test` installs them: the Python
//! tools in the project's own virtual environments under target/tools, never whatever a `PATH`
//! lookup would find first.

#![allow(dead_code)] // each test file uses part of it

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace's root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A program of the tests' Python environment (moto_server, cfn-lint, parliament, python).
pub fn python_tool(name: &str) -> Command {
    let path = workspace().join("target/tools/venv/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test, which builds target/tools/venv from scripts/requirements/tests.txt",
        path.display()
    );
    let mut command = Command::new(path);
    command.stdin(Stdio::null());
    command
}

/// The tests' Python interpreter, which has python-hcl2 and html5lib.
pub fn python() -> Command {
    python_tool("python")
}

/// checkov, from its own environment (target/tools/checkov).
pub fn checkov() -> Command {
    let path = workspace().join("target/tools/checkov/bin/checkov");
    assert!(
        path.exists(),
        "{} is missing: run scripts/test, which builds target/tools/checkov from scripts/requirements/checkov.txt",
        path.display()
    );
    let mut command = Command::new(path);
    command.stdin(Stdio::null());
    command
}

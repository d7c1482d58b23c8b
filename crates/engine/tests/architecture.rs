//! ARCHITECTURE.md's rules that a test can check: the pure crates depend on no AWS SDK, no async
//! runtime and no real clock, every source file says what it is for, and files stay small enough
//! to read in one sitting.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};

const PURE_CRATES: [&str; 8] = ["engine", "alarm", "sim", "config", "handler", "deploy", "watch", "report"];
/// The event types (`aws_lambda_events`) are plain data and allowed; the SDK, the runtimes are not.
const FORBIDDEN_DEPENDENCIES: [&str; 4] = ["aws-sdk-", "aws-config", "tokio", "lambda_runtime"];
const CLOCK_READS: [&str; 2] = ["SystemTime::now", "Instant::now"];
const ENGINE_FILE_LINES: usize = 500;
/// Past this a file is hard to hold in one's head: split it by subject.
const FILE_LINES: usize = 600;
/// Files longer than [`FILE_LINES`] today. The list may only shrink: a file that grows past the
/// limit is split, and one split below it is taken off the list.
const LONG_FILES: [&str; 7] = [
    "sim/src/region.rs",
    "cli/tests/cli.rs",
    "watch/src/watcher.rs",
    "deploy/src/template.rs",
    "cli/src/main.rs",
    "cli/tests/deploy.rs",
    "cli/tests/lambda_contract.rs",
];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// The `[dependencies]` table's keys (not dev-dependencies: tests may use what they like).
fn dependencies(manifest: &str) -> Vec<String> {
    let table: toml::Table = manifest.parse().unwrap();
    table
        .get("dependencies")
        .and_then(|deps| deps.as_table())
        .map_or_else(Vec::new, |deps| deps.keys().cloned().collect())
}

#[test]
fn the_pure_crates_depend_on_no_sdk_runtime_or_clock() {
    for name in PURE_CRATES {
        let dir = crates_dir().join(name);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        for dependency in dependencies(&manifest) {
            let forbidden = FORBIDDEN_DEPENDENCIES.iter().any(|prefix| dependency.starts_with(prefix));
            assert!(!forbidden, "crates/{name} depends on {dependency}");
        }
        for file in rust_files(&dir.join("src")) {
            let text = std::fs::read_to_string(&file).unwrap();
            for read in CLOCK_READS {
                assert!(!text.contains(read), "{} reads the real clock ({read})", file.display());
            }
        }
    }
}

#[test]
fn no_engine_file_passes_five_hundred_lines() {
    for file in rust_files(&crates_dir().join("engine/src")) {
        let lines = std::fs::read_to_string(&file).unwrap().lines().count();
        assert!(lines <= ENGINE_FILE_LINES, "{} has {lines} lines: split it by what it does", file.display());
    }
}

/// Every Rust file of every crate: sources, tests, benchmarks.
fn all_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(crates_dir()).unwrap() {
        let dir = entry.unwrap().path();
        for part in ["src", "tests", "benches"] {
            if dir.join(part).is_dir() {
                files.extend(rust_files(&dir.join(part)));
            }
        }
    }
    assert!(files.len() > 100, "found only {} files under {}", files.len(), crates_dir().display());
    files
}

#[test]
fn every_source_file_opens_with_what_it_is_for() {
    for file in all_rust_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} does not open with a `//!` comment saying what it is for",
            file.display()
        );
    }
}

#[test]
fn files_past_six_hundred_lines_are_on_a_list_that_only_shrinks() {
    for file in all_rust_files() {
        let lines = std::fs::read_to_string(&file).unwrap().lines().count();
        let name = file.strip_prefix(crates_dir()).unwrap().to_string_lossy().replace('\\', "/");
        let listed = LONG_FILES.contains(&name.as_str());
        assert!(listed || lines <= FILE_LINES, "{name} has {lines} lines: split it by subject");
        assert!(
            !listed || lines > FILE_LINES,
            "{name} is down to {lines} lines: take it off LONG_FILES so it stays that way"
        );
    }
}

#[test]
fn the_documents_code_cites_are_in_this_repository() {
    let root = crates_dir().parent().unwrap().to_path_buf();
    let mut cited = 0;
    // Spelled in two parts so that this file does not match itself.
    let outside = ["..", "/shared"].concat();
    for file in all_rust_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains(&outside), "{} cites a file outside the repository", file.display());
        for (at, _) in text.match_indices("docs/") {
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
                .collect();
            let name = name.trim_end_matches('.');
            if name.ends_with(".md") {
                cited += 1;
                assert!(root.join(name).is_file(), "{} cites {name}, which does not exist", file.display());
            }
        }
    }
    assert!(cited > 5, "found only {cited} citations of docs/");
}

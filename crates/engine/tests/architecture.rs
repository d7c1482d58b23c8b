//! ARCHITECTURE.md's rules that a test can check: the pure crates depend on no AWS SDK, no async
//! runtime and no real clock, and the engine's files stay small enough to read in one sitting.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};

const PURE_CRATES: [&str; 7] = ["engine", "alarm", "sim", "config", "handler", "deploy", "watch"];
/// The event types (`aws_lambda_events`) are plain data and allowed; the SDK, the runtimes are not.
const FORBIDDEN_DEPENDENCIES: [&str; 4] = ["aws-sdk-", "aws-config", "tokio", "lambda_runtime"];
const CLOCK_READS: [&str; 2] = ["SystemTime::now", "Instant::now"];
const ENGINE_FILE_LINES: usize = 500;

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

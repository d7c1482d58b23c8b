//! ARCHITECTURE.md's module tables, generated from each source file's own first `//!` sentence:
//! every `src/**/*.rs` of every crate is named, and its line in the map cannot drift from the
//! file. Regenerate with `UPDATE_EXPECT=1 cargo test -p coldstandby-engine --test code_map`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};

/// Where a crate's generated table starts (followed by the crate's directory and ` -->`).
const TABLE_START: &str = "<!-- module table generated from the first //! sentence of each file in ";
const TABLE_END: &str = "<!-- end of the module table -->";

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The crates, by directory name, sorted.
fn crates() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repository().join("crates"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("src").is_dir())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every `.rs` file under `dir`, as paths relative to it with `/` separators, sorted.
fn source_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let relative = path.strip_prefix(root).unwrap();
                let parts: Vec<String> = relative
                    .components()
                    .map(|part| part.as_os_str().to_string_lossy().into_owned())
                    .collect();
                found.push(parts.join("/"));
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found
}

/// A clause shorter than this before a colon is a label ("Rollback: ..."), not a sentence.
const SHORTEST_CLAUSE: usize = 40;

/// The first sentence of a file's leading `//!` paragraph, as Markdown for a table cell: up to
/// its first full stop, or to a colon or semicolon that ends a clause of its own (what follows
/// one is the detail the file itself gives).
fn first_sentence(source: &str) -> Option<String> {
    let paragraph: Vec<&str> = source
        .lines()
        .map_while(|line| line.strip_prefix("//!"))
        .map(str::trim)
        .take_while(|line| !line.is_empty())
        .collect();
    let text = paragraph.join(" ");
    let full_stop = text.find(". ").map_or(text.len(), |at| at + 1);
    let clause_end = [": ", "; "]
        .iter()
        .filter_map(|mark| text.get(SHORTEST_CLAUSE..).and_then(|rest| rest.find(mark)))
        .map(|at| at + SHORTEST_CLAUSE)
        .min()
        .filter(|at| *at < full_stop);
    let sentence = match clause_end {
        Some(at) => format!("{}.", text[..at].trim_end_matches('.')),
        None => text[..full_stop].trim().to_owned(),
    };
    (!sentence.is_empty()).then(|| sentence.replace("[`", "`").replace("`]", "`").replace('|', "\\|"))
}

/// The Markdown table of `crate_dir`'s source files and what each is for.
fn module_table(crate_dir: &Path) -> String {
    let mut table = String::from("| module | what it is for |\n|---|---|\n");
    for file in source_files(&crate_dir.join("src")) {
        let source = std::fs::read_to_string(crate_dir.join("src").join(&file)).unwrap();
        let sentence = first_sentence(&source).unwrap_or_else(|| {
            panic!("{}/src/{file} has no `//!` line saying what it is for", crate_dir.display())
        });
        table.push_str(&format!("| `{file}` | {sentence} |\n"));
    }
    table
}

/// The text between `start`'s line and the next `TABLE_END` in `document`, as a byte range, or
/// an error naming what is missing.
fn table_range(document: &str, start: &str) -> Result<std::ops::Range<usize>, String> {
    let begin = document.find(start).ok_or_else(|| format!("no `{start}` marker"))?;
    let from = begin + document[begin..].find('\n').ok_or("marker without a line end")? + 1;
    let to =
        from + document[from..].find(TABLE_END).ok_or_else(|| format!("no `{TABLE_END}` after `{start}`"))?;
    Ok(from..to)
}

/// The rows of `found` and `wanted` that differ, each named as missing or stale.
fn row_differences(crate_name: &str, found: &str, wanted: &str) -> Vec<String> {
    let stale = found
        .lines()
        .filter(|row| !wanted.lines().any(|w| w == *row))
        .map(|row| format!("crates/{crate_name}: stale row {row}"));
    let missing = wanted
        .lines()
        .filter(|row| !found.lines().any(|f| f == *row))
        .map(|row| format!("crates/{crate_name}: missing row {row}"));
    stale.chain(missing).collect()
}

#[test]
fn every_crate_s_module_table_is_generated_from_its_files_own_first_sentences() {
    let path = repository().join("ARCHITECTURE.md");
    let mut document = std::fs::read_to_string(&path).unwrap();
    let mut differences = Vec::new();
    for name in crates() {
        let start = format!("{TABLE_START}crates/{name}/src -->");
        let wanted = module_table(&repository().join("crates").join(&name));
        let range = table_range(&document, &start).unwrap_or_else(|error| panic!("ARCHITECTURE.md: {error}"));
        differences.extend(row_differences(&name, &document[range.clone()], &wanted));
        document.replace_range(range, &wanted);
    }
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &document).unwrap();
        return;
    }
    assert!(
        differences.is_empty(),
        "ARCHITECTURE.md's module tables differ from the files' `//!` lines (regenerate with \
         UPDATE_EXPECT=1 cargo test -p coldstandby-engine --test code_map):\n{}",
        differences.join("\n")
    );
}

#[test]
fn a_file_s_row_is_its_first_sentence_and_a_file_without_one_is_refused() {
    let source =
        "//! What it is for. More detail\n//! on the next line.\n//!\n//! Another paragraph.\nuse x;\n";
    assert_eq!(first_sentence(source).as_deref(), Some("What it is for."));
    let clauses = "//! Rollback: what a run stops when it gives a standby up: the detail. More.\n";
    assert_eq!(
        first_sentence(clauses).as_deref(),
        Some("Rollback: what a run stops when it gives a standby up.")
    );
    assert_eq!(
        first_sentence("//! Links to [`Fleet`] and a | pipe\n").as_deref(),
        Some("Links to `Fleet` and a \\| pipe")
    );
    assert_eq!(first_sentence("use x;\n//! too late\n"), None);
    let missing = table_range("# Map\n", "<!-- start -->");
    assert!(missing.unwrap_err().contains("no `<!-- start -->` marker"));
    let document = "a\n<!-- start -->\nold\n<!-- end of the module table -->\nb";
    assert_eq!(&document[table_range(document, "<!-- start -->").unwrap()], "old\n");
    let differences = row_differences("x", "| `a.rs` | A. |\n", "| `a.rs` | A. |\n| `b.rs` | B. |\n");
    assert_eq!(differences, ["crates/x: missing row | `b.rs` | B. |"]);
}

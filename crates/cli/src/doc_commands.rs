//! The command lines the README and docs show, checked against the real argument parser: a
//! command line in a code block must parse as it stands, and every option an inline mention
//! names must exist on the command it names it with.

use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};

use crate::Cli;

/// Shell syntax that ends the command itself: redirections, pipes, comments, a second command.
const SHELL_ENDS: [&str; 6] = [" #", " >", " 2>", " |", " &&", ";"];

/// One command line found in a document, with where.
#[derive(Debug)]
struct Found {
    place: String,
    words: Vec<String>,
}

/// The documents a reader copies commands from.
fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut paths = vec![root.join("README.md"), root.join("README.ja.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("the docs directory")
        .map(|entry| entry.expect("a docs entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
}

/// The arguments after the program name, if `line` runs the binary (as `coldstandby ...` or
/// `cargo run [--release] -- ...`), cut where shell syntax takes over.
fn command_words(line: &str) -> Option<Vec<String>> {
    let line = line.trim().trim_start_matches("$ ");
    let rest = ["coldstandby ", "cargo run -- ", "cargo run --release -- "]
        .iter()
        .find_map(|program| line.strip_prefix(program))?;
    let end = SHELL_ENDS.iter().filter_map(|mark| rest.find(mark)).min().unwrap_or(rest.len());
    Some(rest[..end].split_whitespace().map(|word| word.trim_matches(['"', '\'']).to_owned()).collect())
}

/// The command lines of `text`'s fenced code blocks (a trailing `\` continues a line).
fn code_block_commands(name: &str, text: &str) -> Vec<Found> {
    let mut found = Vec::new();
    let mut in_block = false;
    let mut continued = String::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block {
            continue;
        }
        let joined = format!("{continued}{}", line.trim());
        if let Some(head) = joined.strip_suffix('\\') {
            continued = format!("{head} ");
            continue;
        }
        continued.clear();
        if let Some(words) = command_words(&joined) {
            found.push(Found { place: format!("{name}:{}", number + 1), words });
        }
    }
    found
}

/// The inline code spans of `text` (outside code blocks) that start with the binary's name, with
/// their words (a span may wrap onto the next line).
fn inline_commands(name: &str, text: &str) -> Vec<Found> {
    let mut in_block = false;
    let prose: Vec<&str> = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("```") {
                in_block = !in_block;
                return "";
            }
            if in_block {
                ""
            } else {
                line
            }
        })
        .collect();
    let prose = prose.join("\n");
    let mut found = Vec::new();
    let mut line = 1;
    for (index, piece) in prose.split('`').enumerate() {
        if index % 2 == 1 {
            if let Some(rest) = piece.strip_prefix("coldstandby ") {
                let words = rest.split_whitespace().map(str::to_owned).collect();
                found.push(Found { place: format!("{name}:{line}"), words });
            }
        }
        line += piece.matches('\n').count();
    }
    found
}

/// The subcommand path `words` names and the long options it may take (its own and the
/// global ones), or None when the first word is not a subcommand (prose such as "coldstandby
/// web: failover ...").
fn options_of(words: &[String]) -> Option<(String, Vec<String>)> {
    let mut command = Cli::command();
    command.build();
    let mut path = Vec::new();
    let mut current = &command;
    for word in words.iter().take_while(|word| !word.starts_with('-')) {
        match current.find_subcommand(word) {
            Some(sub) => {
                path.push(word.clone());
                current = sub;
            }
            None if path.is_empty() => return None,
            None => break,
        }
    }
    let mut options: Vec<String> =
        current.get_arguments().filter_map(|arg| arg.get_long()).map(str::to_owned).collect();
    options.extend(["help".to_owned(), "version".to_owned()]);
    Some((path.join(" "), options))
}

#[test]
fn every_command_line_in_a_code_block_parses() {
    let mut refused = Vec::new();
    for path in documents() {
        let text = std::fs::read_to_string(&path).expect("a document");
        let name = path.file_name().expect("a file name").to_string_lossy().into_owned();
        for found in code_block_commands(&name, &text) {
            let argv = std::iter::once("coldstandby".to_owned()).chain(found.words.iter().cloned());
            if let Err(error) = Cli::try_parse_from(argv) {
                let first_line = error.to_string().lines().next().unwrap_or_default().to_owned();
                refused.push(format!("{}: coldstandby {}: {first_line}", found.place, found.words.join(" ")));
            }
        }
    }
    assert!(refused.is_empty(), "command lines the parser refuses:\n{}", refused.join("\n"));
}

#[test]
fn every_option_an_inline_mention_names_exists_on_its_command() {
    let mut unknown = Vec::new();
    for path in documents() {
        let text = std::fs::read_to_string(&path).expect("a document");
        let name = path.file_name().expect("a file name").to_string_lossy().into_owned();
        for found in inline_commands(&name, &text) {
            let Some((command, options)) = options_of(&found.words) else { continue };
            for word in &found.words {
                // Synopses write options in brackets and alternatives with bars: look inside.
                for option in word.split(['[', ']', '(', ')', '|']).filter_map(|part| part.strip_prefix("--"))
                {
                    let option = option.split('=').next().unwrap_or(option).trim_end_matches(['.', ',']);
                    if !option.is_empty() && !options.iter().any(|known| known == option) {
                        unknown.push(format!("{}: `coldstandby {command}` has no --{option}", found.place));
                    }
                }
            }
        }
    }
    assert!(unknown.is_empty(), "options the docs name that do not exist:\n{}", unknown.join("\n"));
}

#[test]
fn the_checks_read_commands_as_a_shell_would_and_see_a_missing_option() {
    let words =
        command_words("coldstandby template watchers --config F --subnets A,B > out.yaml  # note").unwrap();
    assert_eq!(words, ["template", "watchers", "--config", "F", "--subnets", "A,B"]);
    assert_eq!(command_words("cargo run -- demo     # the article's failover").unwrap(), ["demo"]);
    assert!(command_words("cargo test --workspace").is_none());
    let block = "```sh\ncoldstandby failover --config c.toml \\\n  --group web\n```\n";
    let found = code_block_commands("x.md", block);
    assert_eq!(found[0].words, ["failover", "--config", "c.toml", "--group", "web"]);
    assert_eq!(found[0].place, "x.md:3");
    let inline = inline_commands("y.md", "Run `coldstandby template watchers --image-id AMI` now.\n");
    let (command, options) = options_of(&inline[0].words).unwrap();
    assert_eq!(command, "template watchers");
    assert!(
        !options.iter().any(|option| option == "image-id"),
        "the watch.md example's option does not exist"
    );
    assert!(options_of(&["web:".to_owned()]).is_none(), "prose is not a command");
}

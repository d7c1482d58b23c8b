//! A small YAML writer for CloudFormation templates: maps keep their insertion order, the
//! short-form intrinsic functions (`!Sub`, `!Ref`, ...) are tags, and the same tree always gives
//! the same bytes.

use std::fmt::Write;

/// A YAML node.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// Keys in insertion order.
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A tagged node such as `!Sub "..."`; the tag includes its `!`.
    Tagged(&'static str, Box<Node>),
}

impl Node {
    /// An empty map, to fill with [`Node::with`].
    pub fn map() -> Self {
        Self::Map(Vec::new())
    }

    /// This map with `key: value` appended. Panics on a non-map or a repeated key (a bug).
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Node>) -> Self {
        self.insert(key, value);
        self
    }

    /// Append `key: value` to this map. Panics on a non-map or a repeated key (a bug).
    pub fn insert(&mut self, key: &str, value: impl Into<Node>) {
        let Self::Map(entries) = self else { panic!("insert `{key}` into a non-map YAML node") };
        assert!(entries.iter().all(|(existing, _)| existing != key), "YAML key `{key}` set twice");
        entries.push((key.to_owned(), value.into()));
    }

    pub fn list(items: impl IntoIterator<Item = impl Into<Node>>) -> Self {
        Self::List(items.into_iter().map(Into::into).collect())
    }

    pub fn tagged(tag: &'static str, node: impl Into<Node>) -> Self {
        assert!(tag.starts_with('!'), "a YAML tag starts with `!`");
        Self::Tagged(tag, Box::new(node.into()))
    }

    fn is_empty_collection(&self) -> bool {
        matches!(self, Self::Map(entries) if entries.is_empty())
            || matches!(self, Self::List(items) if items.is_empty())
    }

    fn is_block(&self) -> bool {
        match self {
            Self::Map(entries) => !entries.is_empty(),
            Self::List(items) => !items.is_empty(),
            Self::Str(text) => literal_block(text).is_some(),
            _ => false,
        }
    }
}

impl From<&str> for Node {
    fn from(text: &str) -> Self {
        Self::Str(text.to_owned())
    }
}

impl From<String> for Node {
    fn from(text: String) -> Self {
        Self::Str(text)
    }
}

impl From<&String> for Node {
    fn from(text: &String) -> Self {
        Self::Str(text.clone())
    }
}

impl From<i64> for Node {
    fn from(number: i64) -> Self {
        Self::Int(number)
    }
}

impl From<u32> for Node {
    fn from(number: u32) -> Self {
        Self::Int(i64::from(number))
    }
}

impl From<bool> for Node {
    fn from(flag: bool) -> Self {
        Self::Bool(flag)
    }
}

/// The document `root` as YAML text, ending in a newline.
pub fn to_string(root: &Node) -> String {
    let mut out = String::new();
    match root {
        Node::Map(_) | Node::List(_) if root.is_block() => write_block(root, 0, &mut out),
        _ => {
            write_inline(root, 0, &mut out);
            out.push('\n');
        }
    }
    out
}

/// Write a non-empty map or list whose lines start at `indent`; each line ends in a newline.
fn write_block(node: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Node::Map(entries) => {
            for (key, value) in entries {
                let _ = write!(out, "{pad}{}:", scalar_text(key));
                write_value_after_marker(value, indent + 2, out);
            }
        }
        Node::List(items) => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                match item {
                    // A map in a list starts on the dash's line: `- Key: value`.
                    Node::Map(entries) if !entries.is_empty() => {
                        out.push(' ');
                        let mut nested = String::new();
                        write_block(item, indent + 2, &mut nested);
                        out.push_str(&nested[indent + 2..]);
                    }
                    _ => write_value_after_marker(item, indent + 2, out),
                }
            }
        }
        _ => unreachable!("write_block is only called for collections"),
    }
}

/// Write what follows `key:` or `-`: a scalar on the same line, or a collection on the next.
fn write_value_after_marker(value: &Node, indent: usize, out: &mut String) {
    match value {
        Node::Tagged(tag, inner) => {
            let _ = write!(out, " {tag}");
            write_value_after_marker(inner, indent, out);
        }
        Node::Map(_) | Node::List(_) if !value.is_empty_collection() => {
            out.push('\n');
            write_block(value, indent, out);
        }
        _ => {
            out.push(' ');
            write_inline(value, indent, out);
            out.push('\n');
        }
    }
}

/// Write a scalar or an empty collection (a literal block string spans lines at `indent`).
fn write_inline(node: &Node, indent: usize, out: &mut String) {
    match node {
        Node::Map(_) => out.push_str("{}"),
        Node::List(_) => out.push_str("[]"),
        Node::Str(text) => match literal_block(text) {
            Some(indicator) => {
                out.push_str(indicator);
                let pad = " ".repeat(indent);
                for line in text.trim_end_matches('\n').split('\n') {
                    out.push('\n');
                    if !line.is_empty() {
                        out.push_str(&pad);
                        out.push_str(line);
                    }
                }
            }
            None => out.push_str(&scalar_text(text)),
        },
        Node::Int(number) => {
            let _ = write!(out, "{number}");
        }
        Node::Float(number) => {
            assert!(number.is_finite(), "YAML templates hold finite numbers only");
            let _ = write!(out, "{number:?}");
        }
        Node::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Node::Tagged(tag, inner) => {
            let _ = write!(out, "{tag} ");
            write_inline(inner, indent, out);
        }
    }
}

/// A multi-line string is written as a literal block (`|` or `|-`) when that is exact: printable
/// lines, the first not indented, and at most one final newline.
fn literal_block(text: &str) -> Option<&'static str> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let printable = text.chars().all(|c| c == '\n' || (!c.is_control() && c != '\u{feff}'));
    let exact = body.contains('\n')
        && printable
        && !body.starts_with(' ')
        && !body.ends_with('\n')
        && body.lines().all(|line| line == line.trim_end());
    exact.then_some(if text.ends_with('\n') { "|" } else { "|-" })
}

/// A string as a plain scalar when that cannot be misread, else double-quoted.
fn scalar_text(text: &str) -> String {
    const WORDS: [&str; 12] = ["true", "false", "yes", "no", "on", "off", "null", "y", "n", "~", "", "-"];
    let plain = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '/')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:*@".contains(c))
        && !text.ends_with(':')
        && !WORDS.contains(&text.to_ascii_lowercase().as_str());
    if plain {
        text.to_owned()
    } else {
        // JSON's string syntax is a subset of YAML's double-quoted scalars.
        serde_json::to_string(text).expect("a string always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lists_and_tags_nest_in_block_style() {
        let root = Node::map()
            .with("Resources", Node::map().with("Role", Node::map().with("Type", "AWS::IAM::Role")))
            .with("List", Node::list([Node::map().with("a", 1i64).with("b", "x y"), Node::from("plain")]))
            .with("Arn", Node::tagged("!Sub", "arn:${AWS::Partition}:ec2"))
            .with("If", Node::tagged("!If", Node::list(["Cond", "a"])))
            .with("Empty", Node::list(Vec::<Node>::new()));
        let expected = "\
Resources:
  Role:
    Type: AWS::IAM::Role
List:
  - a: 1
    b: \"x y\"
  - plain
Arn: !Sub \"arn:${AWS::Partition}:ec2\"
If: !If
  - Cond
  - a
Empty: []
";
        assert_eq!(to_string(&root), expected);
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        for text in ["true", "No", "123", "a b", "x: y", "#c", "", "-", "50", "key:"] {
            assert!(scalar_text(text).starts_with('"'), "{text:?} should be quoted");
        }
        for text in ["AWS::IAM::Role", "arn:aws:ec2:*", "/aws/lambda/f", "i-0abc"] {
            assert_eq!(scalar_text(text), text);
        }
    }

    #[test]
    fn multi_line_text_is_a_literal_block_and_tricky_text_is_quoted() {
        let root = Node::map().with("Config", "a = 1\n\nb = 2\n").with("Tab", "x\n\ty");
        assert_eq!(to_string(&root), "Config: |\n  a = 1\n\n  b = 2\nTab: \"x\\n\\ty\"\n");
        assert_eq!(literal_block("one\ntwo"), Some("|-"));
        assert_eq!(literal_block(" indented\nfirst"), None);
        assert_eq!(literal_block("trailing \nspace"), None);
        assert_eq!(literal_block("two\nnewlines\n\n"), None);
    }
}

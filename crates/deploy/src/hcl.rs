//! A small HCL writer for the Terraform module: blocks and attributes in the order given, laid
//! out exactly as `terraform fmt` lays them out (two-space indents, the `=` of neighbouring
//! one-line attributes aligned), so the output passes `terraform fmt -check` as printed.

use std::fmt::Write;

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A literal string: `${` and `%{` are escaped, so nothing in it is interpolated.
    Str(String),
    /// A string template: written in quotes as is, `${...}` interpolated.
    Template(String),
    /// A multi-line literal string, written as a heredoc.
    Heredoc(String),
    /// An expression written as is: a reference, a call, a conditional.
    Raw(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<Expr>),
    /// An object's keys, in order (written bare when they are identifiers, else quoted).
    Object(Vec<(String, Expr)>),
}

impl Expr {
    pub fn raw(text: impl Into<String>) -> Self {
        Self::Raw(text.into())
    }

    pub fn template(text: impl Into<String>) -> Self {
        Self::Template(text.into())
    }

    pub fn strs<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Self {
        Self::List(items.into_iter().map(|item| Self::Str(item.as_ref().to_owned())).collect())
    }

    /// Whether it is written on one line.
    fn one_line(&self) -> bool {
        match self {
            Self::Heredoc(_) => false,
            Self::List(items) => items.iter().all(Self::one_line) && items.len() <= 1,
            Self::Object(entries) => entries.is_empty(),
            _ => true,
        }
    }
}

impl From<&str> for Expr {
    fn from(text: &str) -> Self {
        Self::Str(text.to_owned())
    }
}

impl From<String> for Expr {
    fn from(text: String) -> Self {
        Self::Str(text)
    }
}

impl From<u32> for Expr {
    fn from(value: u32) -> Self {
        Self::Int(i64::from(value))
    }
}

impl From<i64> for Expr {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<bool> for Expr {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

/// A block's or the file's body.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Body(Vec<Item>);

#[derive(Clone, Debug, PartialEq)]
enum Item {
    Attribute(String, Expr),
    Block(String, Vec<String>, Body),
    Comment(String),
}

impl Body {
    pub fn new() -> Self {
        Self::default()
    }

    /// This body with `name = value` appended.
    #[must_use]
    pub fn attr(mut self, name: &str, value: impl Into<Expr>) -> Self {
        self.0.push(Item::Attribute(name.to_owned(), value.into()));
        self
    }

    /// This body with `kind "label" ... { body }` appended.
    #[must_use]
    pub fn block(mut self, kind: &str, labels: &[&str], body: Body) -> Self {
        self.push_block(kind, labels, body);
        self
    }

    /// This body with a `# comment` line appended.
    #[must_use]
    pub fn comment(mut self, text: &str) -> Self {
        self.0.push(Item::Comment(text.to_owned()));
        self
    }

    pub fn push_block(&mut self, kind: &str, labels: &[&str], body: Body) {
        self.0.push(Item::Block(
            kind.to_owned(),
            labels.iter().map(|label| (*label).to_owned()).collect(),
            body,
        ));
    }

    pub fn push_attr(&mut self, name: &str, value: impl Into<Expr>) {
        self.0.push(Item::Attribute(name.to_owned(), value.into()));
    }
}

/// The file: top-level blocks separated by blank lines.
pub fn to_string(body: &Body) -> String {
    let mut out = String::new();
    write_body(&mut out, body, 0);
    out
}

fn write_body(out: &mut String, body: &Body, depth: usize) {
    let indent = "  ".repeat(depth);
    let items = &body.0;
    let mut index = 0;
    let mut first = true;
    while index < items.len() {
        // A run of one-line attributes is one group, their `=` aligned; anything else (a block,
        // a multi-line value, a comment) stands apart, set off by blank lines.
        let run_end = items[index..]
            .iter()
            .position(|item| !matches!(item, Item::Attribute(_, value) if value.one_line()))
            .map_or(items.len(), |offset| index + offset);
        if !first {
            out.push('\n');
        }
        first = false;
        if run_end > index {
            let width = items[index..run_end]
                .iter()
                .map(|item| match item {
                    Item::Attribute(name, _) => name.len(),
                    _ => 0,
                })
                .max()
                .unwrap_or(0);
            for item in &items[index..run_end] {
                if let Item::Attribute(name, value) = item {
                    let _ = write!(out, "{indent}{name:<width$} = ");
                    write_expr(out, value, depth);
                    out.push('\n');
                }
            }
            index = run_end;
            continue;
        }
        match &items[index] {
            Item::Attribute(name, value) => {
                let _ = write!(out, "{indent}{name} = ");
                write_expr(out, value, depth);
                out.push('\n');
            }
            Item::Block(kind, labels, inner) => {
                let _ = write!(out, "{indent}{kind}");
                for label in labels {
                    let _ = write!(out, " {}", quoted(label));
                }
                if inner.0.is_empty() {
                    out.push_str(" {}\n");
                } else {
                    out.push_str(" {\n");
                    write_body(out, inner, depth + 1);
                    let _ = writeln!(out, "{indent}}}");
                }
            }
            Item::Comment(text) => {
                for line in text.lines() {
                    let _ = writeln!(out, "{indent}# {line}");
                }
                // A comment belongs to what follows it: no blank line after.
                first = true;
            }
        }
        index += 1;
    }
}

fn write_expr(out: &mut String, expr: &Expr, depth: usize) {
    let indent = "  ".repeat(depth);
    match expr {
        Expr::Str(text) => out.push_str(&quoted(text)),
        Expr::Template(text) => {
            out.push('"');
            out.push_str(&escape_quotes(text));
            out.push('"');
        }
        Expr::Heredoc(text) => {
            out.push_str("<<-EOT\n");
            for line in text.lines() {
                let _ = writeln!(out, "{indent}  {}", escape_template(line));
            }
            let _ = write!(out, "{indent}EOT");
        }
        Expr::Raw(text) => out.push_str(text),
        Expr::Int(value) => {
            let _ = write!(out, "{value}");
        }
        Expr::Float(value) => {
            let _ = write!(out, "{value}");
        }
        Expr::Bool(value) => {
            let _ = write!(out, "{value}");
        }
        Expr::List(items) if expr.one_line() => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_expr(out, item, depth);
            }
            out.push(']');
        }
        Expr::List(items) => {
            out.push_str("[\n");
            for item in items {
                let _ = write!(out, "{indent}  ");
                write_expr(out, item, depth + 1);
                out.push_str(",\n");
            }
            let _ = write!(out, "{indent}]");
        }
        Expr::Object(entries) if entries.is_empty() => out.push_str("{}"),
        Expr::Object(entries) => {
            out.push_str("{\n");
            let inner = Body(
                entries.iter().map(|(key, value)| Item::Attribute(object_key(key), value.clone())).collect(),
            );
            write_body(out, &inner, depth + 1);
            let _ = write!(out, "{indent}}}");
        }
    }
}

/// A key written bare when it is an identifier, else quoted.
fn object_key(key: &str) -> String {
    let identifier = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if identifier {
        key.to_owned()
    } else {
        quoted(key)
    }
}

fn escape_quotes(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            '\t' => escaped.push_str("\\t"),
            '\r' => escaped.push_str("\\r"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// `${` and `%{` start interpolations and directives; doubled, they are literal.
fn escape_template(text: &str) -> String {
    text.replace("${", "$${").replace("%{", "%%{")
}

/// A literal string in quotes.
pub fn quoted(text: &str) -> String {
    format!("\"{}\"", escape_quotes(&escape_template(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_attributes_align_and_blocks_stand_apart() {
        let body = Body::new().block(
            "resource",
            &["aws_sns_topic", "topic"],
            Body::new()
                .attr("name", "coldstandby")
                .attr("kms_master_key_id", Expr::raw("local.key_arn"))
                .block("tags", &[], Body::new())
                .attr("count", 1u32),
        );
        let expected = "resource \"aws_sns_topic\" \"topic\" {\n  name              = \"coldstandby\"\n  kms_master_key_id = local.key_arn\n\n  tags {}\n\n  count = 1\n}\n";
        assert_eq!(to_string(&body), expected);
    }

    #[test]
    fn literal_strings_interpolate_nothing() {
        assert_eq!(quoted("a ${b} %{c} \"d\"\n"), r#""a $${b} %%{c} \"d\"\n""#);
        let body = Body::new().attr("config", Expr::Heredoc("name = \"${x}\"\n".to_owned()));
        assert_eq!(to_string(&body), "config = <<-EOT\n  name = \"$${x}\"\nEOT\n");
    }
}

//! The validation helpers: typed reads of TOML keys that record a problem (with key path and
//! line) instead of stopping at the first one, and detection of keys nobody reads.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use coldstandby_engine::InstanceId;
use toml_edit::{Item, TableLike, Value};

use crate::Problem;

/// The 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|b| **b == b'\n').count() + 1
}

/// The keys of one table, removed as they are read; whatever remains is unknown.
pub(crate) struct Fields<'a> {
    path: String,
    remaining: BTreeMap<String, (Option<usize>, &'a Item)>,
    offsets: BTreeMap<String, Option<usize>>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(table: &'a dyn TableLike, path: &str) -> Self {
        let mut remaining = BTreeMap::new();
        for (key, item) in table.iter() {
            let start = table
                .get_key_value(key)
                .and_then(|(key, _)| key.span())
                .or_else(|| item.span())
                .map(|span| span.start);
            remaining.insert(key.to_owned(), (start, item));
        }
        Self { path: path.to_owned(), remaining, offsets: BTreeMap::new() }
    }

    /// The full path of `key`, e.g. `group[0].alarm.threshold`.
    pub(crate) fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Whether `key` is present and not yet read.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.remaining.contains_key(key)
    }

    /// Take a key's item, if present.
    pub(crate) fn take(&mut self, key: &str) -> Option<&'a Item> {
        let (offset, item) = self.remaining.remove(key)?;
        self.offsets.insert(key.to_owned(), offset);
        Some(item)
    }

    /// The byte offset of a key already taken (the checker turns offsets into lines).
    pub(crate) fn offset_of(&self, key: &str) -> Option<usize> {
        self.offsets.get(key).copied().flatten()
    }
}

/// Collects problems while reading.
pub(crate) struct Checker<'t> {
    text: &'t str,
    problems: Vec<Problem>,
}

impl<'t> Checker<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        Self { text, problems: Vec::new() }
    }

    pub(crate) fn into_problems(mut self) -> Vec<Problem> {
        self.problems.sort_by(|a, b| {
            (a.line.unwrap_or(usize::MAX), &a.key).cmp(&(b.line.unwrap_or(usize::MAX), &b.key))
        });
        self.problems.dedup();
        self.problems
    }

    /// Record a problem. `offset` is a byte offset into the file (turned into a line here).
    pub(crate) fn problem(&mut self, key: &str, offset: Option<usize>, message: String) {
        let line = offset.map(|offset| line_of(self.text, offset));
        self.problems.push(Problem { key: key.to_owned(), line, message });
    }

    fn wrong_type(&mut self, key: &str, offset: Option<usize>, expected: &str, item: &Item) {
        let found = match item {
            Item::None => "nothing",
            Item::Value(value) => value.type_name(),
            Item::Table(_) => "table",
            Item::ArrayOfTables(_) => "array of tables",
        };
        self.problem(key, offset, format!("expected {expected}, found {found}"));
    }

    /// Every key left unread is unknown.
    pub(crate) fn unknown_keys(&mut self, fields: Fields<'_>) {
        for (key, (offset, _)) in &fields.remaining {
            let path = fields.key_path(key);
            self.problem(&path, *offset, "unknown key (check its spelling)".to_owned());
        }
    }

    pub(crate) fn string(&mut self, fields: &mut Fields<'_>, key: &str) -> Option<(String, Option<usize>)> {
        let item = fields.take(key)?;
        let offset = fields.offset_of(key);
        match item.as_str() {
            Some(text) => Some((text.to_owned(), offset)),
            None => {
                self.wrong_type(&fields.key_path(key), offset, "a string", item);
                None
            }
        }
    }

    pub(crate) fn required_string(
        &mut self,
        fields: &mut Fields<'_>,
        key: &str,
    ) -> Option<(String, Option<usize>)> {
        if fields.remaining.contains_key(key) {
            return self.string(fields, key);
        }
        self.problem(&fields.key_path(key), None, "missing (required)".to_owned());
        None
    }

    /// An array of strings, each with its offset. `required` reports a missing key.
    pub(crate) fn string_array(
        &mut self,
        fields: &mut Fields<'_>,
        key: &str,
        required: bool,
    ) -> Option<Vec<(String, Option<usize>)>> {
        let path = fields.key_path(key);
        let Some(item) = fields.take(key) else {
            if required {
                self.problem(&path, None, "missing (required)".to_owned());
            }
            return None;
        };
        let offset = fields.offset_of(key);
        let Some(array) = item.as_array() else {
            self.wrong_type(&path, offset, "an array of strings", item);
            return None;
        };
        let mut strings = Vec::new();
        let mut valid = true;
        for (index, value) in array.iter().enumerate() {
            let value_offset = value.span().map(|span| span.start).or(offset);
            match value.as_str() {
                Some(text) => strings.push((text.to_owned(), value_offset)),
                None => {
                    valid = false;
                    let found = value.type_name();
                    self.problem(
                        &format!("{path}[{index}]"),
                        value_offset,
                        format!("expected a string, found {found}"),
                    );
                }
            }
        }
        valid.then_some(strings)
    }

    /// `true` or `false`.
    pub(crate) fn boolean(&mut self, fields: &mut Fields<'_>, key: &str) -> Option<bool> {
        let item = fields.take(key)?;
        let offset = fields.offset_of(key);
        match item.as_bool() {
            Some(value) => Some(value),
            None => {
                self.wrong_type(&fields.key_path(key), offset, "true or false", item);
                None
            }
        }
    }

    /// A whole number within `range`.
    pub(crate) fn whole(
        &mut self,
        fields: &mut Fields<'_>,
        key: &str,
        range: RangeInclusive<u32>,
    ) -> Option<u32> {
        let item = fields.take(key)?;
        let offset = fields.offset_of(key);
        let path = fields.key_path(key);
        let Some(number) = item.as_integer() else {
            self.wrong_type(&path, offset, "a whole number", item);
            return None;
        };
        match u32::try_from(number) {
            Ok(value) if range.contains(&value) => Some(value),
            _ => {
                self.problem(
                    &path,
                    offset,
                    format!("{number} is out of range ({} to {})", range.start(), range.end()),
                );
                None
            }
        }
    }

    /// A finite number (an integer is accepted too).
    pub(crate) fn number(&mut self, fields: &mut Fields<'_>, key: &str) -> Option<f64> {
        let item = fields.take(key)?;
        let offset = fields.offset_of(key);
        let value = item.as_float().or_else(|| item.as_integer().map(|n| n as f64));
        match value {
            Some(value) if value.is_finite() => Some(value),
            _ => {
                self.wrong_type(&fields.key_path(key), offset, "a number", item);
                None
            }
        }
    }

    /// A table of string values, e.g. `{ InstanceId = "i-..." }`.
    pub(crate) fn string_table(
        &mut self,
        fields: &mut Fields<'_>,
        key: &str,
    ) -> Option<BTreeMap<String, String>> {
        let item = fields.take(key)?;
        let offset = fields.offset_of(key);
        let path = fields.key_path(key);
        let Some(table) = item.as_table_like() else {
            self.wrong_type(&path, offset, "a table of strings", item);
            return None;
        };
        let mut values = BTreeMap::new();
        for (name, value) in table.iter() {
            match value.as_str() {
                Some(text) => {
                    values.insert(name.to_owned(), text.to_owned());
                }
                None => self.wrong_type(&format!("{path}.{name}"), offset, "a string", value),
            }
        }
        Some(values)
    }

    /// A whole number of seconds within `range`.
    pub(crate) fn seconds(
        &mut self,
        fields: &mut Fields<'_>,
        key: &str,
        range: RangeInclusive<u64>,
    ) -> Option<Duration> {
        let item = fields.take(key)?;
        let offset = fields.offset_of(key);
        let path = fields.key_path(key);
        let Some(number) = item.as_integer() else {
            self.wrong_type(&path, offset, "a whole number of seconds", item);
            return None;
        };
        match u64::try_from(number) {
            Ok(seconds) if range.contains(&seconds) => Some(Duration::from_secs(seconds)),
            _ => {
                let (low, high) = (range.start(), range.end());
                self.problem(&path, offset, format!("{number} is out of range ({low} to {high} seconds)"));
                None
            }
        }
    }

    /// One of a fixed set of words.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        fields: &mut Fields<'_>,
        key: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let (text, offset) = self.string(fields, key)?;
        if let Some((_, value)) = choices.iter().find(|(word, _)| *word == text) {
            return Some(*value);
        }
        let words: Vec<String> = choices.iter().map(|(word, _)| format!("`{word}`")).collect();
        self.problem(&fields.key_path(key), offset, format!("`{text}` is not one of {}", words.join(", ")));
        None
    }

    pub(crate) fn instance_id(&mut self, key: &str, text: &str, offset: Option<usize>) -> Option<InstanceId> {
        match text.parse::<InstanceId>() {
            Ok(id) => Some(id),
            Err(error) => {
                self.problem(key, offset, error.to_string());
                None
            }
        }
    }

    /// The tables of a `[[key]]` array (or an array of inline tables).
    pub(crate) fn array_of_tables<'a>(
        &mut self,
        item: &'a Item,
        key: &str,
        expected: &str,
    ) -> Vec<&'a dyn TableLike> {
        if let Some(tables) = item.as_array_of_tables() {
            return tables.iter().map(|table| table as &dyn TableLike).collect();
        }
        if let Some(array) = item.as_array() {
            let inline: Vec<&dyn TableLike> = array
                .iter()
                .filter_map(Value::as_inline_table)
                .map(|table| table as &dyn TableLike)
                .collect();
            if inline.len() == array.len() {
                return inline;
            }
        }
        let offset = item.span().map(|span| span.start);
        self.wrong_type(key, offset, expected, item);
        Vec::new()
    }
}

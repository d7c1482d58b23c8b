//! `--output json` for sweeps, written as the seeds finish: `{"<list>": [one line per seed, ...],
//! <the summary's fields>}`, so a million seeds never sit in memory and a reader sees progress.

use std::io::{BufWriter, Stdout, Write};

use anyhow::Context;
use serde::Serialize;

/// One JSON document on standard output: a list written item by item, then the summary.
pub struct JsonStream {
    out: BufWriter<Stdout>,
    items: u64,
    /// The first write that failed: nothing more is written, and `finish` reports it.
    failed: Option<std::io::Error>,
}

impl JsonStream {
    /// Open the document and its list, named `list`.
    pub fn begin(list: &str) -> Self {
        let mut stream = Self { out: BufWriter::new(std::io::stdout()), items: 0, failed: None };
        let opening = format!("{{\n  {}: [", serde_json::Value::from(list));
        stream.write(opening.as_bytes());
        stream
    }

    /// Add one item to the list.
    pub fn item(&mut self, value: &impl Serialize) {
        let separator: &[u8] = if self.items == 0 { b"\n    " } else { b",\n    " };
        self.items += 1;
        match serde_json::to_vec(value) {
            Ok(text) => {
                self.write(separator);
                self.write(&text);
            }
            Err(error) => self.failed = Some(std::io::Error::other(error)),
        }
    }

    /// Close the list, add the summary's fields (an object) after it, and close the document.
    pub fn finish(mut self, summary: &impl Serialize) -> anyhow::Result<()> {
        let fields = serde_json::to_value(summary).context("rendering the summary as JSON")?;
        let serde_json::Value::Object(fields) = fields else {
            anyhow::bail!("a sweep's summary renders as a JSON object");
        };
        self.write(if self.items == 0 { b"]" } else { b"\n  ]" });
        for (name, value) in &fields {
            let field = format!(",\n  {}: {}", serde_json::Value::from(name.as_str()), value);
            self.write(field.as_bytes());
        }
        self.write(b"\n}\n");
        if self.failed.is_none() {
            if let Err(error) = self.out.flush() {
                self.failed = Some(error);
            }
        }
        match self.failed {
            // A reader that stopped reading (`| head`) is not an error of ours.
            Some(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Some(error) => Err(error).context("writing the JSON result to standard output"),
            None => Ok(()),
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            if let Err(error) = self.out.write_all(bytes) {
                self.failed = Some(error);
            }
        }
    }
}

//! Reading the files a command is given (alarm, metric data, event): a file that is missing,
//! unreadable or not text is invalid input (exit 3), named with what it was meant to be.

use std::io::Read;
use std::path::Path;

use crate::{CommandError, Exit};

/// The text of `path` (`-`: standard input, when `stdin_allowed`), read as `what` ("the alarm",
/// "metric data", ...).
pub fn read_text(path: &Path, what: &str, stdin_allowed: bool) -> anyhow::Result<String> {
    let invalid = |reason: String| -> anyhow::Error {
        CommandError {
            exit: Exit::InvalidInput,
            message: format!("{}: cannot read {what}: {reason}", path.display()),
        }
        .into()
    };
    let bytes = if stdin_allowed && path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map_err(|error| invalid(error.to_string()))?;
        bytes
    } else {
        std::fs::read(path).map_err(|error| {
            invalid(match error.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_owned(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
                std::io::ErrorKind::IsADirectory => "it is a directory".to_owned(),
                _ => error.to_string(),
            })
        })?
    };
    String::from_utf8(bytes).map_err(|error| {
        let at = error.utf8_error().valid_up_to();
        invalid(format!("not UTF-8 text (a binary file?): invalid byte at offset {at}"))
    })
}

//! Small helpers for messages people read: a count with its noun in the right number.

use std::fmt::Display;

/// `1 sample`, `2 samples`, `0 samples`: the noun in the plural unless the count is one.
pub fn counted(count: impl Into<u64>, singular: &str, plural: &str) -> String {
    let count: u64 = count.into();
    if count == 1 {
        format!("1 {singular}")
    } else {
        format!("{count} {plural}")
    }
}

/// [`counted`] for a `usize` (lengths), which `Into<u64>` does not cover.
pub fn counted_len(count: usize, singular: &str, plural: &str) -> String {
    counted(u64::try_from(count).unwrap_or(u64::MAX), singular, plural)
}

/// `a, b and c`: a list as a sentence says it.
pub fn listed<T: Display>(items: &[T]) -> String {
    match items {
        [] => String::new(),
        [only] => only.to_string(),
        [rest @ .., last] => {
            let rest: Vec<String> = rest.iter().map(ToString::to_string).collect();
            format!("{} and {last}", rest.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_everything_else_plural() {
        assert_eq!(counted(1u32, "warning", "warnings"), "1 warning");
        assert_eq!(counted(0u32, "warning", "warnings"), "0 warnings");
        assert_eq!(counted_len(2, "time", "times"), "2 times");
    }

    #[test]
    fn lists_read_as_sentences() {
        assert_eq!(listed::<&str>(&[]), "");
        assert_eq!(listed(&["a"]), "a");
        assert_eq!(listed(&["a", "b", "c"]), "a, b and c");
    }
}

//! The alarm crate's errors about single values: a word that names no statistic, operator, mode
//! or state, a number that is not finite, a timestamp that does not parse.

/// A value a field does not accept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("`{text}` is not {expected}")]
    NotOneOf { text: String, expected: &'static str },
    #[error("`{text}` compares with an anomaly detection band; only static thresholds are supported")]
    AnomalyBand { text: String },
}

impl ValueError {
    pub(crate) fn not_one_of(text: &str, expected: &'static str) -> Self {
        Self::NotOneOf { text: text.to_owned(), expected }
    }
}

/// A timestamp that is not RFC 3339 (or CloudWatch's colon-less form of it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("`{text}` is not an RFC 3339 timestamp")]
    NotRfc3339 {
        text: String,
        #[source]
        source: time::error::Parse,
    },
    #[error("`{text}` is before 1970")]
    Before1970 { text: String },
}

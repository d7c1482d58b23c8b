//! Timestamps as CloudWatch and its users write them: RFC 3339, and CloudWatch's own form whose
//! offset has no colon (`2023-08-04T12:36:15.490+0000`), which strict RFC 3339 parsers reject.

use coldstandby_engine::Timestamp;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::TimestampError;

/// Parse an RFC 3339 or CloudWatch-style timestamp.
pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
    let text = text.trim();
    let normalized = with_colon_in_offset(text);
    let parsed = OffsetDateTime::parse(&normalized, &Rfc3339)
        .map_err(|source| TimestampError::NotRfc3339 { text: text.to_owned(), source })?;
    let millis = parsed.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(millis)
        .map(Timestamp::from_unix_millis)
        .map_err(|_| TimestampError::Before1970 { text: text.to_owned() })
}

/// `...+0000` -> `...+00:00`; anything else unchanged.
fn with_colon_in_offset(text: &str) -> String {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let offset_without_colon = n > 5
        && matches!(bytes[n - 5], b'+' | b'-')
        && bytes[n - 4..].iter().all(u8::is_ascii_digit)
        && text[..n - 5].contains('T');
    if offset_without_colon {
        format!("{}:{}", &text[..n - 2], &text[n - 2..])
    } else {
        text.to_owned()
    }
}

/// RFC 3339 in UTC, with milliseconds only when there are any.
pub fn format(at: Timestamp) -> String {
    let nanos = i128::from(at.unix_millis()) * 1_000_000;
    let Ok(datetime) = OffsetDateTime::from_unix_timestamp_nanos(nanos) else {
        return format!("{}ms", at.unix_millis());
    };
    let text = datetime.format(&Rfc3339).unwrap_or_else(|_| format!("{}ms", at.unix_millis()));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse_to_the_same_instant() {
        let cloudwatch = parse("2026-11-20T03:14:07.312+0000").unwrap();
        let rfc = parse("2026-11-20T03:14:07.312Z").unwrap();
        let offset = parse("2026-11-20T12:14:07.312+09:00").unwrap();
        assert_eq!(cloudwatch, rfc);
        assert_eq!(offset, rfc);
        assert_eq!(rfc.unix_millis(), 1_795_144_447_312);
        assert_eq!(format(rfc), "2026-11-20T03:14:07.312Z");
        assert_eq!(format(parse("2026-11-20T03:14:00Z").unwrap()), "2026-11-20T03:14:00Z");
    }

    #[test]
    fn junk_is_named() {
        let error = parse("yesterday").unwrap_err();
        assert!(error.to_string().contains("`yesterday`"), "{error}");
        assert!(std::error::Error::source(&error).is_some(), "the parser's own error is kept as the source");
        assert!(parse("2026-11-20 03:14:07").is_err());
        assert_eq!(
            parse("1969-12-31T23:59:59Z").unwrap_err(),
            TimestampError::Before1970 { text: "1969-12-31T23:59:59Z".to_owned() }
        );
    }
}

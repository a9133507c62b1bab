//! Timestamps on the wire: RFC 3339, UTC, millisecond precision, `Z` suffix.
//! One format everywhere keeps signed documents byte-stable.

use chrono::{DateTime, SecondsFormat, Utc};

pub type Timestamp = DateTime<Utc>;

pub fn now() -> Timestamp {
    // Truncate to milliseconds so a value survives a round trip unchanged.
    let t = Utc::now();
    DateTime::from_timestamp_millis(t.timestamp_millis()).expect("in range")
}

pub fn format(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parse any RFC 3339 timestamp (with `Z` or an offset).
pub fn parse(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

//! Browsing and exporting evidence traces.
//!
//! The list costs one page, not the table (migration 0008): newest first is
//! `received_at DESC, rowid DESC`, served by the index of whichever equality
//! filter is set (agent, type, status; none: `received_at` alone), entered at
//! a keyset position, so a page is an index walk of `limit` rows. Text of
//! three or more characters goes through the FTS5 trigram index, whose rowid
//! is a key ascending from newest to oldest (see [`text_key`]), so its
//! forward walk is the list's order; one or two characters cannot be trigram
//! lookups and fall back to matching the rows as the list walks them.
//!
//! Totals come from counters kept by triggers when only agent, type and
//! status filter (one lookup); else from counting the index range or the
//! text matches (never reading rows for a time range or text alone), only
//! when the first page does not already hold them all, and once per cursor
//! chain: a next cursor carries such a total on, so paging through a broad
//! search costs a page per page. That total is the count as of the chain's
//! first page; the list it pages through (newest first) does not grow
//! behind the cursor.

use super::sql::{Arg as Sql, Backend, Db};
use super::{events, text_index};
use crate::error::{ApiError, ApiResult};
use gatehouse_protocol::time;
use gatehouse_protocol::trace::{TraceBundle, BUNDLE_FORMAT};
use gatehouse_protocol::wire::{ActionStatus, TraceList, TraceSummary};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The query shape the operator core sends, defined once in protocol.
pub use gatehouse_protocol::wire::TraceQuery;

/// Bits of the action's rowid in the text key (see [`text_key`]).
pub const KEY_ROWID_BITS: u32 = 21;

/// Text shorter than this (in characters) has no trigram to look up.
pub const MIN_INDEXED_TEXT: usize = 3;

pub const DEFAULT_LIMIT: i64 = 200;
pub const MAX_LIMIT: i64 = 5000;

/// Above every timestamp (they start with a digit): the keyset bound of a
/// first page, so the first and the next pages are the same statement.
const TOP: &str = "~";

/// The FTS rowid of an action received at `ms` (since the epoch) with rowid
/// `rowid`, as migration 0008's triggers compute it:
/// `-((ms << 21) | (rowid & 0x1FFFFF))`. Newest first is ascending, the
/// direction FTS5 walks cheaply (a descending walk of a long doclist costs
/// the whole doclist), and a time range is a key range.
/// A bound from a query (`from`/`to`) outside the keys' range (before 1970,
/// or after 2109) is clamped to it, so it can neither wrap nor overflow.
pub fn text_key(ms: i64, rowid: i64) -> i64 {
    let ms = ms.clamp(0, (1 << (63 - KEY_ROWID_BITS)) - 1);
    -((ms << KEY_ROWID_BITS) | (rowid & ((1 << KEY_ROWID_BITS) - 1)))
}

/// One statement and its arguments: what [`list`] runs, exposed so tests can
/// `EXPLAIN QUERY PLAN` exactly that.
#[derive(Debug, Clone)]
pub struct Stmt {
    pub sql: String,
    pub args: Vec<Sql>,
}

/// An opaque page position: JSON, hex-encoded (so it survives any query
/// string untouched).
pub(crate) fn encode_cursor(v: &Value) -> String {
    hex::encode(v.to_string())
}

pub(crate) fn bad_cursor() -> ApiError {
    ApiError::bad_request("invalid_query", "cursor is not one this hub issued (pass a response's nextCursor unchanged)")
}

pub(crate) fn decode_cursor(s: &str) -> ApiResult<Vec<Value>> {
    let bytes = hex::decode(s.trim()).map_err(|_| bad_cursor())?;
    match serde_json::from_slice::<Value>(&bytes).map_err(|_| bad_cursor())? {
        Value::Array(parts) => Ok(parts),
        _ => Err(bad_cursor()),
    }
}

fn like(s: &str) -> String {
    format!("%{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

/// The text as one FTS5 phrase: a string literal, so nothing in it
/// (`:`, `*`, `"`, `OR`, parentheses...) is query syntax.
pub fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

enum Text {
    /// Three characters or more: an FTS5 phrase, and the LIKE pattern for
    /// the newest actions, not yet in the index (store/text_index.rs).
    Indexed { phrase: String, pattern: String },
    /// One or two: a LIKE pattern over the four columns.
    Scan(String),
}

/// A [`TraceQuery`] read and checked.
struct Parsed {
    agent: Option<String>,
    action_type: Option<String>,
    status: Option<String>,
    from: Option<time::Timestamp>,
    to: Option<time::Timestamp>,
    text: Option<Text>,
    limit: i64,
    offset: i64,
    /// List order: `(received_at, rowid)` strictly below this.
    before: (String, i64),
    /// Text order: FTS rowid strictly above this, and at most `until`.
    after_key: i64,
    until_key: i64,
    /// Whether a cursor was given, and the total it carries.
    cursor: bool,
    /// The database the statements are for.
    backend: Backend,
    carried_total: Option<i64>,
}

impl Parsed {
    /// The total is a counter lookup (else it counts matches).
    fn counted_by_counters(&self) -> bool {
        self.from.is_none() && self.to.is_none() && self.text.is_none()
    }

    /// What the filters are, short: a cursor is good for its own query only.
    fn fingerprint(&self) -> String {
        use sha2::Digest;
        let text = match &self.text {
            Some(Text::Indexed { phrase: t, .. }) | Some(Text::Scan(t)) => Some(t.as_str()),
            None => None,
        };
        let when = |t: &Option<time::Timestamp>| t.as_ref().map(time::format);
        let filters = json!([self.agent, self.action_type, self.status, when(&self.from), when(&self.to), text]);
        hex::encode(&sha2::Sha256::digest(filters.to_string().as_bytes())[..6])
    }
}

/// On PostgreSQL all text is matched as the list walks its rows, by a
/// case-insensitive LIKE (the same matches as SQLite's LIKE and its trigram
/// index) that PostgreSQL's trigram indexes (`pg_trgm`) serve.
fn parse(q: &TraceQuery, backend: Backend) -> ApiResult<Parsed> {
    let q = q.normalized();
    let when = |v: &Option<String>| v.as_deref().and_then(time::parse);
    let indexed = |t: &str| backend == Backend::Sqlite && t.chars().count() >= MIN_INDEXED_TEXT;
    let text = q.q.map(|t| if indexed(&t) { Text::Indexed { phrase: fts_phrase(&t), pattern: like(&t) } } else { Text::Scan(like(&t)) });
    let (from, to) = (when(&q.from), when(&q.to));
    let mut p = Parsed {
        agent: q.agent,
        action_type: q.action_type,
        status: q.status,
        limit: q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
        offset: q.offset.unwrap_or(0).max(0),
        before: (TOP.to_owned(), 0),
        // `received_at >= from` is key <= the key of (from, rowid 0);
        // `received_at <= to` is key > the key of (to + 1 ms, rowid 0).
        after_key: to.as_ref().map(|t| text_key(t.timestamp_millis() + 1, 0)).unwrap_or(i64::MIN),
        until_key: from.as_ref().map(|t| text_key(t.timestamp_millis(), 0)).unwrap_or(i64::MAX),
        cursor: q.cursor.is_some(),
        backend,
        carried_total: None,
        from,
        to,
        text,
    };
    // `received_at <= to` is `(received_at, rowid) < (to, MAX)`: one upper
    // bound with the cursor, so the index is entered at the tighter of them.
    if let Some(to) = &p.to {
        p.before = (time::format(to), i64::MAX);
    }
    if let Some(c) = &q.cursor {
        let parts = decode_cursor(c)?;
        let mismatch = || ApiError::bad_request("invalid_query", "this cursor belongs to a query with other filters (start again without a cursor)");
        let total = |v: Option<&Value>| match v {
            None => Ok(None),
            Some(t) => t.as_i64().filter(|t| *t >= 0).map(Some).ok_or_else(bad_cursor),
        };
        let fingerprint = p.fingerprint();
        match parts.as_slice() {
            [Value::String(k), Value::String(fp), ..] if (k == "f" || k == "r") && *fp != fingerprint => return Err(mismatch()),
            [Value::String(k), _, Value::Number(key), rest @ ..] if k == "f" && rest.len() <= 1 && matches!(p.text, Some(Text::Indexed { .. })) => {
                p.after_key = p.after_key.max(key.as_i64().ok_or_else(bad_cursor)?);
                p.carried_total = total(rest.first())?;
            }
            [Value::String(k), _, Value::String(at), Value::Number(rowid), rest @ ..]
                if k == "r" && rest.len() <= 1 && !matches!(p.text, Some(Text::Indexed { .. })) =>
            {
                let key = (at.clone(), rowid.as_i64().ok_or_else(bad_cursor)?);
                p.before = p.before.clone().min(key);
                p.carried_total = total(rest.first())?;
            }
            _ => return Err(bad_cursor()),
        }
    }
    Ok(p)
}

/// The equality filters (and, for the list's own walk, the lower time
/// bound) on `a`, as SQL terms. When the text index drives, `a` is reached
/// by rowid only: the unary `+` keeps the planner from trading that for an
/// index on the filter, whatever its statistics say.
fn row_filters(p: &Parsed, text_driven: bool, clauses: &mut Vec<&'static str>, args: &mut Vec<Sql>) {
    let terms = if text_driven { ["+a.agent = ?", "+a.type = ?", "+a.status = ?"] } else { ["a.agent = ?", "a.type = ?", "a.status = ?"] };
    for (value, clause) in [&p.agent, &p.action_type, &p.status].into_iter().zip(terms) {
        if let Some(v) = value {
            clauses.push(clause);
            args.push(Sql::Text(v.clone()));
        }
    }
    if !text_driven {
        if let Some(f) = &p.from {
            clauses.push("a.received_at >= ?");
            args.push(Sql::Text(time::format(f)));
        }
    }
    if let Some(Text::Scan(pattern)) = &p.text {
        clauses.push(match p.backend {
            Backend::Sqlite => "(a.id LIKE ? ESCAPE '\\' OR a.type LIKE ? ESCAPE '\\' OR a.agent LIKE ? ESCAPE '\\' OR a.target LIKE ? ESCAPE '\\')",
            Backend::Postgres => "(a.id ILIKE ? ESCAPE '\\' OR a.type ILIKE ? ESCAPE '\\' OR a.agent ILIKE ? ESCAPE '\\' OR a.target ILIKE ? ESCAPE '\\')",
        });
        args.extend(std::iter::repeat_n(Sql::Text(pattern.clone()), 4));
    }
}

const SUMMARY_COLS: &str = "a.id, a.type, a.agent, a.target, a.status, a.received_at, a.rule_id,
       (SELECT d.operator_id FROM decisions d WHERE d.action_id = a.id ORDER BY d.received_at DESC LIMIT 1)";

/// The page statement for `q`: `limit + 1` rows (the extra one says whether
/// there is a next page), each a [`TraceSummary`]'s columns then its sort key.
pub fn page_sql(q: &TraceQuery) -> ApiResult<Stmt> {
    let p = parse(q, Backend::Sqlite)?;
    page_stmt(&p, p.limit + 1, p.offset)
}

/// `rows` rows of the list from `offset` on.
fn page_stmt(p: &Parsed, rows: i64, offset: i64) -> ApiResult<Stmt> {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    let sql = if let Some(Text::Indexed { phrase, .. }) = &p.text {
        // Driven by the text index in its own order (newest first); each
        // match fetches its row by rowid and checks the equality filters.
        args.extend([Sql::Text(phrase.clone()), Sql::Int(p.after_key), Sql::Int(p.until_key)]);
        row_filters(p, true, &mut clauses, &mut args);
        let extra: String = clauses.iter().map(|c| format!(" AND {c}")).collect();
        format!(
            "SELECT {SUMMARY_COLS}, f.rowid
             FROM text.actions_fts f CROSS JOIN actions a
             WHERE f.actions_fts MATCH ? AND f.rowid > ? AND f.rowid <= ? AND a.rowid = f.action_rowid{extra}
             ORDER BY f.rowid LIMIT ? OFFSET ?"
        )
    } else {
        row_filters(p, false, &mut clauses, &mut args);
        clauses.push("(a.received_at, a.rowid) < (?, ?)");
        args.push(Sql::Text(p.before.0.clone()));
        args.push(Sql::Int(p.before.1));
        format!(
            "SELECT {SUMMARY_COLS}, a.received_at, a.rowid
             FROM actions a
             WHERE {}
             ORDER BY a.received_at DESC, a.rowid DESC LIMIT ? OFFSET ?",
            clauses.join(" AND ")
        )
    };
    args.push(Sql::Int(rows));
    args.push(Sql::Int(offset));
    Ok(Stmt { sql, args })
}

/// The matches for indexed text among the actions not yet in the text index
/// (rowid above `upto`: the newest fraction of a second's worth), in the
/// index's order (`rows` of them), or their count. The same filters and key
/// range as the indexed part; the text by LIKE over the four columns.
fn tail_stmt(p: &Parsed, upto: i64, rows: Option<i64>) -> Option<Stmt> {
    let Some(Text::Indexed { pattern, .. }) = &p.text else { return None };
    let key = text_index::KEY_SQL;
    let mut clauses = vec!["a.rowid > ?"];
    let mut args = vec![Sql::Int(upto)];
    clauses.push("(a.id LIKE ? ESCAPE '\\' OR a.type LIKE ? ESCAPE '\\' OR a.agent LIKE ? ESCAPE '\\' OR a.target LIKE ? ESCAPE '\\')");
    args.extend(std::iter::repeat_n(Sql::Text(pattern.clone()), 4));
    row_filters(p, true, &mut clauses, &mut args);
    let sql = match rows {
        Some(n) => {
            args.extend([Sql::Int(p.after_key), Sql::Int(p.until_key), Sql::Int(n)]);
            format!("SELECT {SUMMARY_COLS}, {key} FROM actions a WHERE {} AND {key} > ? AND {key} <= ? ORDER BY 9 LIMIT ?", clauses.join(" AND "))
        }
        None => {
            let after = p.to.as_ref().map(|t| text_key(t.timestamp_millis() + 1, 0)).unwrap_or(i64::MIN);
            args.extend([Sql::Int(after), Sql::Int(p.until_key)]);
            format!("SELECT count(*) FROM actions a WHERE {} AND {key} > ? AND {key} <= ?", clauses.join(" AND "))
        }
    };
    Some(Stmt { sql, args })
}

/// The statement counting every trace that matches `q` (the cursor and
/// paging left aside): a counter lookup when only agent, type and status
/// filter, else a count over the index range or the text matches.
pub fn count_sql(q: &TraceQuery) -> ApiResult<Stmt> {
    count_stmt(&parse(q, Backend::Sqlite)?)
}

fn count_stmt(p: &Parsed) -> ApiResult<Stmt> {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    if let Some(Text::Indexed { phrase, .. }) = &p.text {
        let after = p.to.as_ref().map(|t| text_key(t.timestamp_millis() + 1, 0)).unwrap_or(i64::MIN);
        args.extend([Sql::Text(phrase.clone()), Sql::Int(after), Sql::Int(p.until_key)]);
        row_filters(p, true, &mut clauses, &mut args);
        let sql = if clauses.is_empty() {
            "SELECT count(*) FROM text.actions_fts f WHERE f.actions_fts MATCH ? AND f.rowid > ? AND f.rowid <= ?".to_owned()
        } else {
            let extra: String = clauses.iter().map(|c| format!(" AND {c}")).collect();
            format!(
                "SELECT count(*) FROM text.actions_fts f CROSS JOIN actions a
                 WHERE f.actions_fts MATCH ? AND f.rowid > ? AND f.rowid <= ? AND a.rowid = f.action_rowid{extra}"
            )
        };
        return Ok(Stmt { sql, args });
    }
    if p.counted_by_counters() {
        // Counters (migration 0008): grain 0 all, 1 agent, 2 type, 3 both.
        let grain = i64::from(p.agent.is_some()) + 2 * i64::from(p.action_type.is_some());
        let mut sql = "SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM action_counts WHERE grain = ? AND agent = ? AND type = ?".to_owned();
        args.push(Sql::Int(grain));
        args.push(Sql::Text(p.agent.clone().unwrap_or_default()));
        args.push(Sql::Text(p.action_type.clone().unwrap_or_default()));
        if let Some(s) = &p.status {
            sql.push_str(" AND status = ?");
            args.push(Sql::Text(s.clone()));
        }
        return Ok(Stmt { sql, args });
    }
    row_filters(p, false, &mut clauses, &mut args);
    if let Some(to) = &p.to {
        clauses.push("a.received_at <= ?");
        args.push(Sql::Text(time::format(to)));
    }
    Ok(Stmt { sql: format!("SELECT count(*) FROM actions a WHERE {}", clauses.join(" AND ")), args })
}

/// One list row: the summary, then its sort key as a cursor carries it.
fn list_rows(conn: &dyn Db, stmt: &Stmt, indexed: bool) -> ApiResult<Vec<(TraceSummary, Vec<Value>)>> {
    conn.query_all(&stmt.sql, &stmt.args, |r| {
        let status: String = r.get(4)?;
        let summary = TraceSummary {
            action_id: r.get(0)?,
            action_type: r.get(1)?,
            agent: r.get::<Option<String>>(2)?.unwrap_or_default(),
            target: r.get(3)?,
            status: ActionStatus::parse(&status).unwrap_or(ActionStatus::Recorded),
            received_at: r.get(5)?,
            rule_id: r.get(6)?,
            decided_by: r.get(7)?,
        };
        let key = if indexed { vec![json!(r.get::<i64>(8)?)] } else { vec![json!(r.get::<String>(8)?), json!(r.get::<i64>(9)?)] };
        Ok((summary, key))
    })
}

pub fn list(conn: &dyn Db, q: &TraceQuery) -> ApiResult<TraceList> {
    // One snapshot: the index, how far it reaches, and the rows above that.
    super::snapshot(conn, |snapshot| list_in(snapshot, q))
}

fn list_in(snapshot: &dyn Db, q: &TraceQuery) -> ApiResult<TraceList> {
    let p = parse(q, snapshot.backend())?;
    let indexed = matches!(p.text, Some(Text::Indexed { .. }));
    let fingerprint = p.fingerprint();
    let upto = if indexed { text_index::indexed_upto(snapshot)? } else { 0 };
    let tail = match tail_stmt(&p, upto, Some(p.offset + p.limit + 1)) {
        Some(t) => list_rows(snapshot, &t, true)?,
        None => Vec::new(),
    };
    let mut rows = if tail.is_empty() {
        list_rows(snapshot, &page_stmt(&p, p.limit + 1, p.offset)?, indexed)?
    } else {
        // Both parts in the index's order, merged, then the page cut out.
        let mut all = list_rows(snapshot, &page_stmt(&p, p.offset + p.limit + 1, 0)?, true)?;
        all.extend(tail);
        all.sort_by_key(|(_, k)| k[0].as_i64());
        all.into_iter().skip(usize::try_from(p.offset).unwrap_or(usize::MAX)).collect()
    };
    // A row beyond the page: there is a next one, from the last key.
    let more = rows.len() as i64 > p.limit;
    rows.truncate(usize::try_from(p.limit).unwrap_or(usize::MAX));
    let last_key = rows.last().map(|(_, k)| {
        let mut c = vec![json!(if indexed { "f" } else { "r" }), json!(fingerprint)];
        c.extend(k.iter().cloned());
        c
    });
    let items: Vec<TraceSummary> = rows.into_iter().map(|(s, _)| s).collect();
    let total = if !p.cursor && p.offset == 0 && !more {
        // The first page holds every match.
        items.len() as i64
    } else if let Some(t) = p.carried_total.filter(|_| !p.counted_by_counters()) {
        t
    } else {
        let count = |stmt: &Stmt| -> ApiResult<i64> { snapshot.query_row(&stmt.sql, &stmt.args, |r| r.get(0)) };
        count(&count_stmt(&p)?)? + tail_stmt(&p, upto, None).map(|t| count(&t)).transpose()?.unwrap_or(0)
    };
    let next_cursor = last_key.filter(|_| more).map(|mut k| {
        if !p.counted_by_counters() {
            k.push(json!(total));
        }
        encode_cursor(&Value::Array(k))
    });
    Ok(TraceList { total, items, next_cursor })
}

/// The action's whole trace as a self-contained bundle.
pub fn bundle(conn: &dyn Db, action_id: &str) -> ApiResult<Option<TraceBundle>> {
    let events = events::for_subject(conn, action_id)?;
    let Some(last) = events.last() else { return Ok(None) };
    let mut operators = BTreeMap::new();
    for e in &events {
        for signer in [&e.data["decision"], &e.data["extension"]] {
            if let (Some(id), Some(pk)) = (signer["operatorId"].as_str(), signer["publicKey"].as_str()) {
                operators.insert(id.to_owned(), pk.to_owned());
            }
        }
    }
    Ok(Some(TraceBundle {
        format: BUNDLE_FORMAT.to_owned(),
        action_id: action_id.to_owned(),
        exported_at: time::format(&time::now()),
        head: last.hash.clone(),
        events,
        operators,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keys_order_newest_first_and_clamp_dates_out_of_range() {
        assert!(text_key(2_000, 1) < text_key(1_000, 1), "newer is smaller");
        // A `to` in 2200 or a `from` before 1970 is a bound, not a wrap or a panic.
        let far = time::parse("2200-01-01T00:00:00Z").unwrap().timestamp_millis();
        assert_eq!(text_key(far, 0), text_key(i64::MAX, 0));
        assert!(text_key(far, 0) < text_key(4_000_000_000_000, 0));
        assert_eq!(text_key(-5, 0), text_key(0, 0));
    }
}

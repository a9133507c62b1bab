//! Browsing and exporting evidence traces.

use super::events;
use crate::error::ApiResult;
use gatehouse_protocol::time;
use gatehouse_protocol::trace::{TraceBundle, BUNDLE_FORMAT};
use gatehouse_protocol::wire::{ActionStatus, TraceList, TraceSummary};
use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection};
use std::collections::BTreeMap;

/// The query shape the operator core sends, defined once in protocol.
pub use gatehouse_protocol::wire::TraceQuery;

fn like(s: &str) -> String {
    format!("%{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

pub fn list(conn: &Connection, q: &TraceQuery) -> ApiResult<TraceList> {
    let mut clauses: Vec<&str> = Vec::new();
    let mut bound: Vec<Sql> = Vec::new();
    let nonempty = |o: &Option<String>| o.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    if let Some(a) = nonempty(&q.agent) {
        clauses.push("json_extract(a.actor, '$.name') = ?");
        bound.push(Sql::Text(a));
    }
    if let Some(t) = nonempty(&q.action_type) {
        clauses.push("a.type = ?");
        bound.push(Sql::Text(t));
    }
    if let Some(s) = nonempty(&q.status) {
        clauses.push("a.status = ?");
        bound.push(Sql::Text(s));
    }
    if let Some(f) = nonempty(&q.from).and_then(|f| time::parse(&f)) {
        clauses.push("a.received_at >= ?");
        bound.push(Sql::Text(time::format(&f)));
    }
    if let Some(t) = nonempty(&q.to).and_then(|t| time::parse(&t)) {
        clauses.push("a.received_at <= ?");
        bound.push(Sql::Text(time::format(&t)));
    }
    if let Some(text) = nonempty(&q.q) {
        clauses.push(
            "(a.id LIKE ? ESCAPE '\\' OR a.type LIKE ? ESCAPE '\\' OR a.target LIKE ? ESCAPE '\\' OR json_extract(a.actor, '$.name') LIKE ? ESCAPE '\\')",
        );
        bound.extend(std::iter::repeat_n(Sql::Text(like(&text)), 4));
    }
    let sql_where = if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };
    let total: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM actions a{sql_where}"), params_from_iter(bound.iter()), |r| r.get(0))?;
    let limit = q.limit.unwrap_or(200).clamp(1, 5000);
    let offset = q.offset.unwrap_or(0).max(0);
    let mut page_args = bound.clone();
    page_args.push(Sql::Integer(limit));
    page_args.push(Sql::Integer(offset));
    let mut stmt = conn.prepare(&format!(
        "SELECT a.id, a.type, json_extract(a.actor, '$.name'), a.target, a.status, a.received_at, a.rule_id,
                (SELECT d.operator_id FROM decisions d WHERE d.action_id = a.id ORDER BY d.received_at DESC LIMIT 1)
         FROM actions a{sql_where} ORDER BY a.received_at DESC, a.rowid DESC LIMIT ? OFFSET ?"
    ))?;
    let items = stmt
        .query_map(params_from_iter(page_args.iter()), |r| {
            let status: String = r.get(4)?;
            Ok(TraceSummary {
                action_id: r.get(0)?,
                action_type: r.get(1)?,
                agent: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                target: r.get(3)?,
                status: ActionStatus::parse(&status).unwrap_or(ActionStatus::Recorded),
                received_at: r.get(5)?,
                rule_id: r.get(6)?,
                decided_by: r.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(TraceList { total, items })
}

/// The action's whole trace as a self-contained bundle.
pub fn bundle(conn: &Connection, action_id: &str) -> ApiResult<Option<TraceBundle>> {
    let events = events::for_subject(conn, action_id)?;
    let Some(last) = events.last() else { return Ok(None) };
    let mut operators = BTreeMap::new();
    for e in &events {
        if let (Some(id), Some(pk)) = (e.data["decision"]["operatorId"].as_str(), e.data["decision"]["publicKey"].as_str()) {
            operators.insert(id.to_owned(), pk.to_owned());
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

//! Reads proportional to the page (migration 0008): the queue and the trace
//! list walk an index in their own order from a keyset cursor, totals come
//! from counters or index counts, text search goes through FTS5 trigrams.
//!
//! The plans are checked on the very SQL the store runs
//! (`actions::list_sql`, `traces::page_sql`, `traces::count_sql`); paging,
//! totals, text search and bad queries through the HTTP routes in-process.
//!
//! Long on purpose: one plan check per list shape (queue filter × sort,
//! trace filter × text), each spelled out so a failing shape is named.

mod common;

use axum::http::StatusCode;
use common::{Hub, Reply, OPEN};
use gatehouse_hub::seed;
use gatehouse_hub::store::actions::{self, ListFilter, ListSort};
use gatehouse_hub::store::sql::{Arg as Sql, Db};
use gatehouse_hub::store::text_index;
use gatehouse_hub::store::traces::{self, TraceQuery};
use gatehouse_protocol::wire::{ActionStatus, ApprovalList, HoldCounts, TraceList};
use gatehouse_protocol::{time, ErrorBody};
use rusqlite::{params_from_iter, Connection};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

// ---- helpers ---------------------------------------------------------------

#[track_caller]
fn shape<T: DeserializeOwned>(v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("not the expected shape ({e}): {v}"))
}

#[track_caller]
fn assert_invalid_query(r: &Reply, ctx: &str) {
    let text = String::from_utf8_lossy(&r.body);
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{ctx}: {text}");
    assert!(r.content_type().starts_with("application/json"), "{ctx}: {text}");
    let e: ErrorBody = serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{ctx}: not an error body ({e}): {text}"));
    assert_eq!(e.code, "invalid_query", "{ctx}: {text}");
    assert!(!e.message.trim().is_empty(), "{ctx}");
}

/// Percent-encode a query value.
fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// `2025-01-01T00:00:00.000Z` plus `ms`.
fn at(ms: i64) -> String {
    time::format(&(time::parse("2025-01-01T00:00:00.000Z").unwrap() + chrono::Duration::milliseconds(ms)))
}

const AGENTS: [&str; 5] = ["zeta-bot", "alpha-bot", "mail-bot", "ci-bot", "billing-bot"];

/// The fixture of the paging tests: row `n` (its rowid order) as inserted.
#[derive(Debug, Clone)]
struct Row {
    n: usize,
    id: String,
    agent: &'static str,
    action_type: &'static str,
    target: String,
    received_at: String,
    deadline: Option<String>,
}

/// `count` held actions: ten share each received time (ties broken by
/// rowid), deadlines repeat and a third have none, five agents.
fn rows(count: usize) -> Vec<Row> {
    (0..count)
        .map(|n| Row {
            n,
            id: format!("act-{n:05}"),
            agent: AGENTS[(n * 7) % AGENTS.len()],
            action_type: ["send_email", "merge_pr", "payment.refund"][n % 3],
            target: format!("seed://target/{n}"),
            received_at: at((n / 10) as i64),
            deadline: (n % 3 != 0).then(|| at(3_600_000 + ((n * 37) % 50) as i64 * 60_000)),
        })
        .collect()
}

fn insert(conn: &dyn Db, rows: &[Row], held: bool) {
    for r in rows {
        let hold = held.then(|| seed::hold(&format!("hold-{}", r.n), r.deadline.clone()));
        let status = if held { ActionStatus::RequiresApproval } else { ActionStatus::Allowed };
        let a = seed::action(&r.id, r.action_type, r.agent, Some(&r.target), &r.received_at, status, hold);
        actions::propose(conn, a).map_err(|e| e.body).unwrap();
    }
}

async fn hub_with(rows: &[Row], held: bool) -> Hub {
    let hub = Hub::new(OPEN).await;
    let rows = rows.to_vec();
    hub.state
        .store
        .write(move |tx| {
            insert(tx, &rows, held);
            Ok(())
        })
        .await
        .unwrap();
    hub
}

async fn sql(hub: &Hub, sql: &'static str) {
    hub.state.store.write(move |tx| tx.batch(sql)).await.unwrap();
}

/// Migrated databases of their own, with a few rows, for query plans: one
/// as the hub leaves it, one after `ANALYZE` (statistics must not talk the
/// planner into a sort or a scan either). Every list shape the plan checks
/// try has more than a page of 3 (so its next page is checked too): holds
/// in all four states; allowed actions as well as held ones (`n` 300..450,
/// so `target/42` matches 42 and 420..428); a tenth of the allowed ones,
/// ci-bot's, mail `mailto:` addresses with a 42 in them.
fn plan_dbs() -> Vec<(tempfile::TempDir, Connection)> {
    [false, true]
        .into_iter()
        .map(|analyze| {
            let dir = tempfile::tempdir().unwrap();
            let mut conn = gatehouse_hub::db::open(&dir.path().join("hub.db")).unwrap();
            let tx = conn.transaction().unwrap();
            let all = rows(450);
            insert(&tx, &all[..300], true);
            let mut allowed = all[300..].to_vec();
            for r in allowed.iter_mut().filter(|r| r.n % 10 == 9) {
                assert_eq!(r.agent, "ci-bot");
                r.target = format!("mailto:ops-42+{}@example.com", r.n);
            }
            insert(&tx, &allowed, false);
            tx.execute_batch(
                "UPDATE holds SET status = 'approved' WHERE rowid % 3 = 0;
                 UPDATE holds SET status = 'rejected' WHERE rowid % 3 = 1 AND rowid % 4 = 1;
                 UPDATE holds SET status = 'expired' WHERE rowid % 3 = 2 AND rowid % 4 = 2;",
            )
            .unwrap();
            tx.commit().unwrap();
            if analyze {
                conn.execute_batch("ANALYZE").unwrap();
            }
            (dir, conn)
        })
        .collect()
}

/// The plan's lines (printed with `READS_PLANS=1`).
fn plan(c: &Connection, sql: &str, args: &[Sql]) -> Vec<String> {
    let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap_or_else(|e| panic!("{e}: {sql}"));
    let lines: Vec<String> = st.query_map(params_from_iter(args.iter()), |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect();
    if std::env::var_os("READS_PLANS").is_some() {
        eprintln!("{}\n  {}\n", sql.split_whitespace().collect::<Vec<_>>().join(" "), lines.join("\n  "));
    }
    lines
}

/// No sort of its own, no full scan of a table (an FTS5 index lookup shows
/// as `SCAN f VIRTUAL TABLE`, which is the text index, not a table), and
/// the named index used.
#[track_caller]
fn assert_page_plan(lines: &[String], index: &str, ctx: &str) {
    let all = lines.join("\n");
    assert!(!all.contains("TEMP B-TREE"), "{ctx}: sorts instead of walking an index:\n{all}");
    for l in lines {
        assert!(!l.starts_with("SCAN") || l.contains("VIRTUAL TABLE"), "{ctx}: full scan `{l}`:\n{all}");
    }
    assert!(all.contains(index), "{ctx}: not through {index}:\n{all}");
}

fn tq(pairs: &[(&str, &str)]) -> TraceQuery {
    let mut q = TraceQuery::default();
    for (k, v) in pairs {
        let v = Some(v.to_string());
        match *k {
            "agent" => q.agent = v,
            "type" => q.action_type = v,
            "status" => q.status = v,
            "from" => q.from = v,
            "to" => q.to = v,
            "q" => q.q = v,
            "cursor" => q.cursor = v,
            "limit" | "offset" => {}
            _ => panic!("{k}"),
        }
    }
    let number = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.parse::<i64>().expect("a number"));
    q.limit = Some(number("limit").unwrap_or(50));
    q.offset = number("offset");
    q
}

// ---- the machinery ---------------------------------------------------------

#[test]
fn sqlite_has_fts5_with_the_trigram_tokenizer() {
    let c = Connection::open_in_memory().unwrap();
    let on: i64 = c.query_row("SELECT sqlite_compileoption_used('ENABLE_FTS5')", [], |r| r.get(0)).unwrap();
    assert_eq!(on, 1, "rusqlite's bundled SQLite is built with FTS5");
    c.execute_batch("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'trigram'); INSERT INTO t (x) VALUES ('mailto:a@b.c');").unwrap();
    let n: i64 = c.query_row("SELECT count(*) FROM t WHERE t MATCH '\"ilto:a\"'", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1, "a substring is a trigram match");
}

#[test]
fn the_escalation_sweep_walks_only_holds_still_waiting_to_escalate() {
    for (_dir, c) in plan_dbs() {
        let lines = plan(&c, actions::ESCALATION_DUE, &[Sql::Text("2026-11-22T10:00:00.000Z".into())]);
        assert!(lines.iter().any(|l| l.starts_with("SEARCH holds USING INDEX holds_escalation")), "{lines:?}");
        assert!(!lines.iter().any(|l| l.starts_with("SCAN")), "{lines:?}");
    }
}

#[test]
fn every_queue_page_walks_an_index_in_its_own_order() {
    for (_dir, c) in plan_dbs() {
        queue_plans(&c);
    }
}

fn queue_plans(c: &Connection) {
    let filters = [ListFilter::Pending, ListFilter::Approved, ListFilter::Rejected, ListFilter::Expired, ListFilter::All];
    for filter in filters {
        for sort in ListSort::ALL {
            let index = match (filter, sort) {
                (ListFilter::All, ListSort::Age) => "holds_created",
                (ListFilter::All, ListSort::Deadline) => "holds_deadline",
                (ListFilter::All, ListSort::Agent) => "holds_agent",
                (_, ListSort::Age) => "holds_status_created",
                (_, ListSort::Deadline) => "holds_status_deadline",
                (_, ListSort::Agent) => "holds_status_agent",
            };
            let sql = actions::list_sql(filter, sort);
            let first = actions::list_args(filter, sort, None, 51).unwrap();
            assert_page_plan(&plan(c, &sql, &first), index, &format!("{filter:?}/{sort:?} first page"));
            // A later page: the same statement from a real cursor.
            let page = actions::list(c, filter, sort, None, 2).unwrap();
            let cursor = page.next_cursor.unwrap_or_else(|| panic!("{filter:?}/{sort:?}: the fixture has no second page (total {})", page.total));
            let next = actions::list_args(filter, sort, Some(&cursor), 51).unwrap();
            assert_page_plan(&plan(c, &sql, &next), index, &format!("{filter:?}/{sort:?} next page"));
        }
    }
}

#[test]
fn every_trace_page_walks_an_index_in_its_own_order() {
    for (_dir, c) in plan_dbs() {
        trace_plans(&c);
    }
}

fn trace_plans(c: &Connection) {
    let (from, to) = (at(0), at(20));
    let shapes: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "actions_received"),
        (vec![("agent", "ci-bot")], "actions_agent_received"),
        (vec![("type", "merge_pr")], "actions_type_received"),
        (vec![("status", "requires_approval")], "actions_status"),
        (vec![("from", &from)], "actions_received"),
        (vec![("to", &to)], "actions_received"),
        (vec![("from", &from), ("to", &to)], "actions_received"),
        (vec![("agent", "ci-bot"), ("from", &from), ("to", &to)], "actions_agent_received"),
        (vec![("type", "merge_pr"), ("to", &to)], "actions_type_received"),
        (vec![("status", "allowed"), ("from", &from)], "actions_status"),
        (vec![("agent", "ci-bot"), ("type", "merge_pr"), ("status", "requires_approval")], "INDEX actions_"),
        // Text: the FTS index drives, each match fetched by rowid.
        (vec![("q", "target/42")], "VIRTUAL TABLE"),
        (vec![("q", "mailto:")], "VIRTUAL TABLE"),
        (vec![("q", "target/4"), ("agent", "ci-bot")], "INTEGER PRIMARY KEY"),
        (vec![("q", "target/4"), ("type", "merge_pr"), ("status", "allowed")], "INTEGER PRIMARY KEY"),
        (vec![("q", "target/4"), ("from", &from), ("to", &to)], "VIRTUAL TABLE"),
        // One or two characters: no trigram; the list's own walk, matching as it goes.
        (vec![("q", "4")], "actions_received"),
        (vec![("q", "42"), ("agent", "ci-bot")], "actions_agent_received"),
    ];
    for (pairs, index) in &shapes {
        let q = tq(pairs);
        let page = traces::page_sql(&q).unwrap();
        assert_page_plan(&plan(c, &page.sql, &page.args), index, &format!("traces {pairs:?}"));
        // The decision column is an index seek too.
        assert!(plan(c, &page.sql, &page.args).iter().any(|l| l.contains("decisions_action_received")), "{pairs:?}");
        // The next page: the same statement from the cursor the store hands out.
        let list = traces::list(c, &TraceQuery { limit: Some(3), ..q.clone() }).unwrap();
        let cursor = list.next_cursor.unwrap_or_else(|| panic!("traces {pairs:?}: the fixture has no second page (total {})", list.total));
        let next = traces::page_sql(&TraceQuery { cursor: Some(cursor), ..q.clone() }).unwrap();
        assert_page_plan(&plan(c, &next.sql, &next.args), index, &format!("traces {pairs:?}, next page"));
    }
}

#[test]
fn trace_totals_come_from_counters_an_index_range_or_the_text_index() {
    for (_dir, c) in plan_dbs() {
        count_plans(&c);
    }
}

fn count_plans(c: &Connection) {
    let (from, to) = (at(0), at(20));
    let shapes: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "action_counts USING PRIMARY KEY"),
        (vec![("agent", "ci-bot")], "action_counts USING PRIMARY KEY"),
        (vec![("type", "merge_pr"), ("status", "allowed")], "action_counts USING PRIMARY KEY"),
        (vec![("agent", "ci-bot"), ("type", "merge_pr"), ("status", "allowed")], "action_counts USING PRIMARY KEY"),
        (vec![("from", &from), ("to", &to)], "COVERING INDEX actions_received"),
        (vec![("agent", "ci-bot"), ("from", &from)], "INDEX actions_agent_received (agent=? AND received_at>?)"),
        (vec![("q", "target/42")], "VIRTUAL TABLE"),
        (vec![("q", "target/42"), ("status", "allowed")], "INTEGER PRIMARY KEY"),
    ];
    for (pairs, how) in &shapes {
        let count = traces::count_sql(&tq(pairs)).unwrap();
        assert_page_plan(&plan(c, &count.sql, &count.args), how, &format!("count {pairs:?}"));
    }
    // Each agrees with counting the rows.
    let truth = |w: &str| -> i64 { c.query_row(&format!("SELECT count(*) FROM actions WHERE {w}"), [], |r| r.get(0)).unwrap() };
    for (pairs, w) in [
        (vec![], "1".to_owned()),
        (vec![("agent", "ci-bot")], "json_extract(actor, '$.name') = 'ci-bot'".to_owned()),
        (vec![("type", "merge_pr"), ("status", "requires_approval")], "type = 'merge_pr' AND status = 'requires_approval'".to_owned()),
        (vec![("agent", "ci-bot"), ("type", "merge_pr")], "json_extract(actor, '$.name') = 'ci-bot' AND type = 'merge_pr'".to_owned()),
        (vec![("from", from.as_str()), ("to", to.as_str())], format!("received_at BETWEEN '{from}' AND '{to}'")),
        (vec![("q", "target/4")], "target LIKE '%target/4%'".to_owned()),
        (vec![("q", "target/4"), ("to", to.as_str())], format!("target LIKE '%target/4%' AND received_at <= '{to}'")),
        (vec![("q", "4")], "(id LIKE '%4%' OR target LIKE '%4%')".to_owned()),
    ] {
        let got = traces::list(c, &tq(&pairs)).unwrap().total;
        assert_eq!(got, truth(&w), "{pairs:?}");
    }
}

#[test]
fn counters_and_the_text_index_follow_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    // A database from before this migration, with rows in it...
    {
        let c = Connection::open(&path).unwrap();
        for m in [
            include_str!("../migrations/0001_init.sql"),
            include_str!("../migrations/0002_lodestar.sql"),
            include_str!("../migrations/0003_traces.sql"),
            include_str!("../migrations/0004_principals.sql"),
            include_str!("../migrations/0005_helpers.sql"),
            include_str!("../migrations/0006_trust.sql"),
            include_str!("../migrations/0007_replay.sql"),
        ] {
            c.execute_batch(m).unwrap();
        }
        c.pragma_update(None, "user_version", 7).unwrap();
        c.execute_batch(
            "INSERT INTO actions (id, source, type, actor, target, received_at, checks, status, request_digest) VALUES
               ('old-1', 'trace', 'send_email', '{\"kind\":\"agent\",\"name\":\"mail-bot\"}', 'mailto:old@example.com', '2024-05-01T00:00:00.000Z', '[]', 'requires_approval', 'x'),
               ('old-2', 'trace', 'read.file', '{\"kind\":\"agent\",\"name\":\"ci-bot\"}', 'file:///etc/motd', '2024-05-01T00:00:01.000Z', '[]', 'allowed', 'y');
             INSERT INTO holds (id, action_id, kind, status, created_at) VALUES ('old-h1', 'old-1', 'trace', 'pending', '2024-05-01T00:00:00.000Z');",
        )
        .unwrap();
    }
    // ...is backfilled when the hub opens it.
    let mut c = gatehouse_hub::db::open(&path).unwrap();
    let agent: String = c.query_row("SELECT agent FROM holds WHERE id = 'old-h1'", [], |r| r.get(0)).unwrap();
    assert_eq!(agent, "mail-bot");
    let found = |c: &Connection, q: &str| traces::list(c, &tq(&[("q", q)])).unwrap().items.into_iter().map(|t| t.action_id).collect::<Vec<_>>();
    assert_eq!(found(&c, "old@exa"), ["old-1"]);
    assert_eq!(found(&c, "etc/mo"), ["old-2"]);
    assert_eq!(actions::hold_counts(&c).unwrap(), HoldCounts { pending: 1, ..Default::default() });

    // New rows, status changes, a deletion: the counters and the text
    // index keep up (checked against counting the rows themselves).
    let tx = c.transaction().unwrap();
    insert(&tx, &rows(40), true);
    insert(&tx, &rows(60)[40..], false);
    tx.execute_batch(
        "UPDATE holds SET status = 'approved' WHERE rowid % 4 = 0;
         UPDATE holds SET status = 'expired' WHERE rowid % 4 = 1;
         UPDATE actions SET status = 'approved' WHERE rowid % 5 = 0;
         UPDATE actions SET target = 'mailto:renamed@example.com' WHERE id = 'act-00041';
         DELETE FROM events WHERE subject = 'act-00059';
         DELETE FROM actions WHERE id = 'act-00059';",
    )
    .unwrap();
    tx.commit().unwrap();
    let per_state: BTreeMap<String, i64> = c
        .prepare("SELECT status, count(*) FROM holds GROUP BY status")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let n = |s: &str| per_state.get(s).copied().unwrap_or(0);
    assert_eq!(
        actions::hold_counts(&c).unwrap(),
        HoldCounts { pending: n("pending"), approved: n("approved"), rejected: n("rejected"), expired: n("expired") }
    );
    let stale: i64 = c
        .query_row(
            "SELECT count(*) FROM (
               SELECT grain, agent, type, status, n FROM action_counts WHERE n != 0
               EXCEPT SELECT * FROM (
                 SELECT 0, '', '', status, count(*) FROM actions GROUP BY status
                 UNION ALL SELECT 1, agent, '', status, count(*) FROM actions GROUP BY agent, status
                 UNION ALL SELECT 2, '', type, status, count(*) FROM actions GROUP BY type, status
                 UNION ALL SELECT 3, agent, type, status, count(*) FROM actions GROUP BY agent, type, status))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stale, 0, "every counter equals its count");
    let grain0: i64 = c.query_row("SELECT sum(n) FROM action_counts WHERE grain = 0", [], |r| r.get(0)).unwrap();
    assert_eq!(grain0, 2 + 59);
    assert_eq!(found(&c, "renamed@"), ["act-00041"], "an edited target is searchable");
    assert!(found(&c, "target/41").iter().all(|id| id != "act-00041"), "and its old text is gone");
    assert!(found(&c, "target/59").is_empty(), "a deleted action leaves the index");

    // The same once the indexer has them (they were found above as actions
    // not yet in the text index).
    assert!(text_index::catch_up_all(&mut c).unwrap() > 0, "the new rows were waiting to be indexed");
    assert_eq!(found(&c, "renamed@"), ["act-00041"]);
    assert!(found(&c, "target/41").iter().all(|id| id != "act-00041"));
    assert!(found(&c, "target/59").is_empty());
    assert_eq!(found(&c, "target/5").len(), 10, "target/5 and target/50..58");
}

/// Text search sees every match whether it is in the text index yet or not:
/// with part of the rows indexed and the newest not, pages by cursor and by
/// offset are the index's order across the boundary, and totals add up.
#[test]
fn text_search_spans_the_indexed_and_the_newest_actions() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = gatehouse_hub::db::open(&dir.path().join("hub.db")).unwrap();
    let all = rows(600);
    let tx = c.transaction().unwrap();
    insert(&tx, &all[..350], false);
    tx.commit().unwrap();
    text_index::catch_up_all(&mut c).unwrap();
    let tx = c.transaction().unwrap();
    insert(&tx, &all[350..], false);
    tx.commit().unwrap();
    let upto = text_index::indexed_upto(&c).unwrap();
    let waiting: i64 = c.query_row("SELECT count(*) FROM actions WHERE rowid > ?1", [upto], |r| r.get(0)).unwrap();
    assert_eq!(waiting, 250, "the newest 250 are not indexed yet");

    let pages = |c: &Connection, q: &str, limit: usize| {
        let (mut ids, mut cursor, mut totals) = (Vec::new(), None::<String>, BTreeSet::new());
        loop {
            let mut pairs = vec![("q", q.to_owned()), ("limit", limit.to_string())];
            pairs.extend(cursor.take().map(|c| ("cursor", c)));
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let page = traces::list(c, &tq(&pairs)).unwrap();
            totals.insert(page.total);
            ids.extend(page.items.into_iter().map(|t| t.action_id));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return (ids, totals),
            }
        }
    };
    for q in ["target/1", "ARGET/2", "act-003", "seed:"] {
        let needle = q.to_lowercase();
        let mut want: Vec<&Row> = all.iter().filter(|r| r.id.contains(&needle) || r.target.contains(&needle)).collect();
        want.sort_by_key(|r| std::cmp::Reverse((r.received_at.clone(), r.n)));
        let want: Vec<String> = want.into_iter().map(|r| r.id.clone()).collect();
        assert!(want.len() > 7, "{q}: a case that pages");
        let (got, totals) = pages(&c, q, 7);
        assert_eq!(got, want, "{q}: every match once, newest first, across the boundary");
        assert_eq!(totals, BTreeSet::from([want.len() as i64]), "{q}: one total on every page");
        let by_offset = traces::list(&c, &tq(&[("q", q), ("limit", "5"), ("offset", "3")])).unwrap();
        let ids: Vec<String> = by_offset.items.into_iter().map(|t| t.action_id).collect();
        assert_eq!(ids, want[3..8], "{q}: a page by offset");
    }
    // Indexed at last: the same answers.
    assert_eq!(text_index::catch_up_all(&mut c).unwrap(), 250);
    let (got, _) = pages(&c, "target/1", 7);
    assert_eq!(got.len(), all.iter().filter(|r| r.target.contains("target/1")).count());
}

// ---- paging ------------------------------------------------------------------

async fn approvals(hub: &Hub, query: &str) -> ApprovalList {
    shape(&hub.signed_get(&format!("/operator/approvals?{query}")).await)
}

/// Every page of `query` at `limit`, in order: (action ids, pages).
async fn all_approvals(hub: &Hub, query: &str, limit: usize, want_total: i64) -> (Vec<String>, usize) {
    let (mut ids, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let c = cursor.as_deref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page = approvals(hub, &format!("{query}&limit={limit}{c}")).await;
        pages += 1;
        assert_eq!(page.total, Some(want_total), "{query}: page {pages}");
        assert!(page.items.len() <= limit);
        ids.extend(page.items.iter().map(|i| i.action.action_id.clone()));
        match page.next_cursor {
            Some(c) => {
                assert_eq!(page.items.len(), limit, "{query}: only a full page has a next one");
                cursor = Some(c);
            }
            None => break,
        }
        assert!(pages < 1000, "{query}: endless paging");
    }
    (ids, pages)
}

#[tokio::test]
async fn the_queue_pages_through_1234_holds_in_each_sort_exactly_once() {
    let rows = rows(1234);
    let hub = hub_with(&rows, true).await;
    let ids = |v: Vec<&Row>| v.into_iter().map(|r| r.id.clone()).collect::<Vec<_>>();

    let mut by_age: Vec<&Row> = rows.iter().collect();
    by_age.sort_by_key(|r| (r.received_at.clone(), r.n));
    let mut by_deadline: Vec<&Row> = rows.iter().collect();
    by_deadline.sort_by_key(|r| (r.deadline.clone().unwrap_or_else(|| "~".into()), r.n));
    let mut by_agent: Vec<&Row> = rows.iter().collect();
    by_agent.sort_by_key(|r| (r.agent, r.received_at.clone(), r.n));
    for (sort, want) in [("age", ids(by_age)), ("deadline", ids(by_deadline)), ("agent", ids(by_agent))] {
        let (got, pages) = all_approvals(&hub, &format!("status=pending&sort={sort}"), 100, 1234).await;
        assert_eq!(pages, 13, "{sort}");
        assert_eq!(got.len(), 1234, "{sort}");
        assert_eq!(got.iter().collect::<BTreeSet<_>>().len(), 1234, "{sort}: each exactly once");
        assert_eq!(got, want, "{sort}: in order");
    }

    // Without limit or cursor, as consoles have always asked: the first
    // 1000, and the page says it is not all of them.
    let first = approvals(&hub, "").await;
    assert_eq!((first.items.len(), first.total), (1000, Some(1234)));
    assert_eq!(first.counts, Some(HoldCounts { pending: 1234, ..Default::default() }));
    let rest = approvals(&hub, &format!("cursor={}", first.next_cursor.clone().expect("more to come"))).await;
    assert_eq!((rest.items.len(), rest.next_cursor), (234, None));
    assert_eq!(rest.items.last().unwrap().action.action_id, "act-01233");

    // Decided holds leave the queue; `all` is history, newest first.
    sql(&hub, "UPDATE holds SET status = 'approved' WHERE rowid % 5 = 0; UPDATE holds SET status = 'rejected' WHERE rowid % 7 = 0 AND status = 'pending'")
        .await;
    let counts = approvals(&hub, "limit=1").await.counts.unwrap();
    assert_eq!(counts.pending + counts.approved + counts.rejected + counts.expired, 1234);
    assert_eq!(counts.approved, (1..=1234).filter(|r| r % 5 == 0).count() as i64);
    assert_eq!(counts.rejected, (1..=1234).filter(|r| r % 7 == 0 && r % 5 != 0).count() as i64);
    let (pending, _) = all_approvals(&hub, "status=pending", 100, counts.pending).await;
    assert_eq!(pending.len() as i64, counts.pending);
    let (approved, _) = all_approvals(&hub, "status=approved&sort=deadline", 100, counts.approved).await;
    assert_eq!(approved.len() as i64, counts.approved);
    let (all, _) = all_approvals(&hub, "status=all", 100, 1234).await;
    let mut newest: Vec<&Row> = rows.iter().collect();
    newest.sort_by_key(|r| std::cmp::Reverse((r.received_at.clone(), r.n)));
    assert_eq!(all, ids(newest));
    let decided = approvals(&hub, "status=all&limit=1").await.items.remove(0);
    assert_eq!(decided.action.action_id, "act-01233");
}

async fn traces_page(hub: &Hub, query: &str) -> TraceList {
    shape(&hub.signed_get(&format!("/operator/traces?{query}")).await)
}

async fn all_traces(hub: &Hub, query: &str, limit: usize) -> (Vec<String>, i64) {
    let (mut ids, mut cursor, mut total) = (Vec::new(), None::<String>, None);
    loop {
        let c = cursor.as_deref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page = traces_page(hub, &format!("{query}&limit={limit}{c}")).await;
        assert!(total.is_none_or(|t| t == page.total), "{query}: the total holds from page to page");
        total = Some(page.total);
        ids.extend(page.items.iter().map(|t| t.action_id.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(ids.len() <= 100_000, "{query}: endless paging");
    }
    (ids, total.unwrap())
}

#[tokio::test]
async fn the_trace_list_pages_with_cursors_under_every_filter() {
    let rows = rows(1234);
    // Mixed statuses, in rowid order: every fourth action is held, the rest
    // allowed, so a status filter that is ignored shows.
    let held = |r: &Row| r.n.is_multiple_of(4);
    let hub = Hub::new(OPEN).await;
    let fixture = rows.clone();
    hub.state
        .store
        .write(move |tx| {
            for r in &fixture {
                insert(tx, std::slice::from_ref(r), held(r));
            }
            Ok(())
        })
        .await
        .unwrap();
    let newest = |keep: &dyn Fn(&Row) -> bool| {
        let mut v: Vec<&Row> = rows.iter().filter(|r| keep(r)).collect();
        v.sort_by_key(|r| std::cmp::Reverse((r.received_at.clone(), r.n)));
        v.into_iter().map(|r| r.id.clone()).collect::<Vec<_>>()
    };
    let (from, to) = (at(20), at(80));
    type Keep<'a> = Box<dyn Fn(&Row) -> bool + 'a>;
    let cases: Vec<(String, Keep)> = vec![
        (String::new(), Box::new(|_| true)),
        ("agent=ci-bot".into(), Box::new(|r| r.agent == "ci-bot")),
        ("type=merge_pr".into(), Box::new(|r| r.action_type == "merge_pr")),
        ("status=allowed".into(), Box::new(|r| !held(r))),
        ("status=requires_approval".into(), Box::new(held)),
        ("status=requires_approval&type=merge_pr".into(), Box::new(|r| held(r) && r.action_type == "merge_pr")),
        (format!("from={}&to={}", enc(&from), enc(&to)), Box::new(|r| r.received_at >= from && r.received_at <= to)),
        (format!("agent=mail-bot&to={}", enc(&to)), Box::new(|r| r.agent == "mail-bot" && r.received_at <= to)),
        ("q=target%2F1".into(), Box::new(|r| r.target.contains("target/1"))),
        ("q=TARGET%2F12&type=merge_pr".into(), Box::new(|r| r.target.contains("target/12") && r.action_type == "merge_pr")),
        (format!("q=lling-bo&from={}", enc(&from)), Box::new(|r| r.agent == "billing-bot" && r.received_at >= from)),
        ("q=7".into(), Box::new(|r| r.id.contains('7') || r.target.contains('7'))),
        ("q=-0".into(), Box::new(|r| r.id.contains("-0"))),
    ];
    for (query, keep) in &cases {
        let want = newest(keep.as_ref());
        let (got, total) = all_traces(&hub, query, 100).await;
        assert_eq!(total, want.len() as i64, "{query}: total");
        assert_eq!(got, want, "{query}: each once, newest first");
    }
    // A page in the middle by cursor is the same as by offset (old clients).
    let p1 = traces_page(&hub, "limit=100").await;
    let by_cursor = traces_page(&hub, &format!("limit=100&cursor={}", p1.next_cursor.unwrap())).await;
    let by_offset = traces_page(&hub, "limit=100&offset=100").await;
    assert_eq!(by_cursor.items, by_offset.items);
    assert_eq!((by_offset.total, by_offset.items.len()), (1234, 100));
    // The last page: no cursor.
    let last = traces_page(&hub, "limit=100&offset=1200").await;
    assert_eq!((last.items.len(), last.next_cursor), (34, None));
    let exact = traces_page(&hub, "limit=1234").await;
    assert_eq!((exact.items.len(), exact.next_cursor), (1234, None), "a page that ends exactly at the end has no next");
}

// ---- text search ---------------------------------------------------------------

#[tokio::test]
async fn text_search_finds_substrings_and_takes_the_text_literally() {
    let hub = Hub::new(OPEN).await;
    let t = |n: i64| at(n);
    let fixture: Vec<(&str, &str, &str, &str)> = vec![
        ("a-mail", "send_email", "mail-bot", "mailto:alice@example.com"),
        ("a-quote", "note.write", "scribe-bot", "say \"hello\" to them"),
        ("a-star", "glob.list", "files-bot", "/srv/*.csv"),
        ("a-or", "db.query", "billing-bot", "SELECT 1 OR 2"),
        ("a-paren", "http.get", "ci-bot", "https://x.test/(near)"),
        ("a-plain", "read.file", "research-bot", "file:///etc/motd"),
        ("a-under", "x_y", "under_bot", "100%_done"),
    ];
    let rows = fixture
        .iter()
        .enumerate()
        .map(|(i, (id, ty, agent, target))| (id.to_string(), ty.to_string(), agent.to_string(), target.to_string(), t(i as i64)))
        .collect::<Vec<_>>();
    hub.state
        .store
        .write(move |tx| {
            for (id, ty, agent, target, at) in &rows {
                actions::propose(tx, seed::action(id, ty, agent, Some(target), at, ActionStatus::Allowed, None))?;
            }
            Ok(())
        })
        .await
        .unwrap();
    async fn find(hub: &Hub, q: &str) -> Vec<String> {
        let l: TraceList = shape(&hub.signed_get(&format!("/operator/traces?q={}", enc(q))).await);
        let mut ids: Vec<String> = l.items.into_iter().map(|t| t.action_id).collect();
        assert_eq!(l.total, ids.len() as i64, "{q:?}");
        ids.sort();
        ids
    }
    for (q, want) in [
        // Substrings of the target, the type, the agent, the id; any case.
        ("mailto:", vec!["a-mail"]),
        ("ICE@EXAMPLE.C", vec!["a-mail"]),
        ("nd_ema", vec!["a-mail"]),
        ("illing-b", vec!["a-or"]),
        ("a-pl", vec!["a-plain"]),
        ("etc/motd", vec!["a-plain"]),
        // Query syntax is text.
        ("\"hello\"", vec!["a-quote"]),
        ("\"", vec!["a-quote"]),
        ("*", vec!["a-star"]),
        ("/*.c", vec!["a-star"]),
        ("1 OR 2", vec!["a-or"]),
        ("OR", vec!["a-or"]),
        ("(near)", vec!["a-paren"]),
        ("NEAR", vec!["a-paren"]),
        ("mail* OR motd", vec![]),
        ("%_d", vec!["a-under"]),
        ("_", vec!["a-mail", "a-under"]),
        ("%", vec!["a-under"]),
        ("nothing-like-this", vec![]),
    ] {
        assert_eq!(find(&hub, q).await, want, "{q:?}");
    }
}

// ---- bad queries ---------------------------------------------------------------

#[tokio::test]
async fn bad_cursors_sorts_and_limits_are_400_invalid_query() {
    let rows = rows(30);
    let hub = hub_with(&rows, true).await;
    let age = approvals(&hub, "limit=5").await.next_cursor.unwrap();
    let text = traces_page(&hub, "q=target&limit=5").await.next_cursor.unwrap();
    let list = traces_page(&hub, "limit=5").await.next_cursor.unwrap();
    let forged = hex::encode("[\"age\",\"pending\",\"2025\"]");
    for path in [
        "/operator/approvals?cursor=zz".to_owned(),
        "/operator/approvals?cursor=%22%7B%7D%22".to_owned(),
        format!("/operator/approvals?cursor={}", hex::encode("{\"a\":1}")),
        format!("/operator/approvals?cursor={forged}"),
        format!("/operator/approvals?sort=deadline&cursor={age}"),
        format!("/operator/approvals?status=all&cursor={age}"),
        format!("/operator/approvals?cursor={list}"),
        "/operator/approvals?sort=newest".to_owned(),
        "/operator/approvals?status=decided".to_owned(),
        "/operator/approvals?limit=many".to_owned(),
        "/operator/traces?cursor=nothex".to_owned(),
        format!("/operator/traces?cursor={age}"),
        format!("/operator/traces?cursor={text}"),
        format!("/operator/traces?q=ta&cursor={text}"),
        format!("/operator/traces?q=target&cursor={list}"),
        format!("/operator/traces?q=target&agent=ci-bot&cursor={text}"),
        format!("/operator/traces?status=allowed&cursor={list}"),
        "/operator/traces?limit=-x".to_owned(),
    ] {
        let r = hub.call(hub.signed("GET", &path, None)).await;
        assert_invalid_query(&r, &path);
    }
    // The right cursor in the right place still works.
    assert_eq!(approvals(&hub, &format!("cursor={age}&limit=5")).await.items.len(), 5);
    assert_eq!(traces_page(&hub, &format!("q=target&limit=5&cursor={text}")).await.items.len(), 5);
}

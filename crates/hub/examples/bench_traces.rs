//! Figures for the hub's list reads on COUNT actions (default 10,000), every
//! HELD_EVERY-th one held pending (default 2: half): seeding, then a page of
//! 50 of each kind (the queue in each sort, the trace list unfiltered, by
//! type, agent, status, time range, free text), each on a fresh connection:
//! cold is its first call, warm the median of the next 20. Then a deep page
//! by cursor and by offset, and export + offline verification of one trace.
//! Prints timings; asserts nothing.
//!
//!     cargo run --release -p gatehouse-hub --example bench_traces [-- COUNT [HELD_EVERY [DB]]]
//!
//! With DB given and already seeded, seeding is skipped (so a million rows
//! are seeded once and measured many times). `BENCH_SEED_ONLY=1` stops after
//! seeding; `BENCH_WITHOUT=counters,holds,actions` (or `all`) seeds
//! without those parts of what migration 0008 adds to every write (the
//! counters, the holds' and the actions' sort indexes), to see what each
//! costs a proposal. (The text index is filled by its own thread since
//! migration 0010; see store/text_index.rs.)

use gatehouse_hub::store::actions::{self, ListFilter, ListSort};
use gatehouse_hub::store::traces::{self, TraceQuery};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let arg = |i: usize| std::env::args().nth(i);
    let count: usize = arg(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let held_every: usize = arg(2).and_then(|s| s.parse().ok()).unwrap_or(2);
    let (path, keep) = match arg(3) {
        Some(p) => (PathBuf::from(p), true),
        None => (std::env::temp_dir().join(format!("gatehouse-bench-{}", std::process::id())).join("hub.db"), false),
    };
    let mut conn = gatehouse_hub::db::open(&path)?;
    let have: i64 = conn.query_row("SELECT count(*) FROM actions", [], |r| r.get(0))?;
    if have == 0 {
        // What migration 0008 adds to every write, by part.
        let parts = [
            ("counters", "DROP TRIGGER action_counts_insert; DROP TRIGGER hold_counts_insert;"),
            ("holds", "DROP TRIGGER holds_agent; DROP INDEX holds_status_created; DROP INDEX holds_status_deadline; DROP INDEX holds_status_agent; DROP INDEX holds_created; DROP INDEX holds_deadline; DROP INDEX holds_agent;"),
            ("actions", "DROP INDEX actions_agent_received; DROP INDEX actions_type_received;"),
        ];
        let without = std::env::var("BENCH_WITHOUT").unwrap_or_default();
        for (part, sql) in parts {
            if without.split(',').any(|w| w == part || w == "all") {
                conn.execute_batch(sql)?;
            }
        }
        let t = Instant::now();
        let opts = gatehouse_hub::seed::Options { held_every, ..Default::default() };
        gatehouse_hub::seed::seed_with(&mut conn, count, &opts)?;
        println!("seed {count} actions (every {held_every}th held): {:.1?}", t.elapsed());
    } else {
        println!("{have} actions already in {}", path.display());
    }
    drop(conn);
    println!("database: {:.0} MB", std::fs::metadata(&path)?.len() as f64 / 1e6);
    if std::env::var_os("BENCH_SEED_ONLY").is_some() {
        return Ok(());
    }

    // A fresh read-only connection per kind: its first call is cold.
    let measure = |label: &str, f: &dyn Fn(&rusqlite::Connection) -> anyhow::Result<(usize, i64)>| -> anyhow::Result<()> {
        let c = gatehouse_hub::db::open_reader(&path)?;
        let t = Instant::now();
        let (n, total) = f(&c)?;
        let cold = t.elapsed();
        let mut warm: Vec<Duration> = (0..20)
            .map(|_| {
                let t = Instant::now();
                f(&c).map(|_| t.elapsed())
            })
            .collect::<anyhow::Result<_>>()?;
        warm.sort();
        println!("{label:<34} cold {cold:>9.2?}  warm {:>9.2?}  ({n} rows of {total})", warm[warm.len() / 2]);
        Ok(())
    };
    for sort in ListSort::ALL {
        measure(&format!("queue, sort={}", sort.as_str()), &|c| {
            let p = actions::list(c, ListFilter::Pending, sort, None, 50)?;
            Ok((p.items.len(), p.total))
        })?;
    }
    measure("queue, status=all", &|c| {
        let p = actions::list(c, ListFilter::All, ListSort::Age, None, 50)?;
        Ok((p.items.len(), p.total))
    })?;
    let recent = gatehouse_protocol::time::format(&(gatehouse_protocol::time::now() - chrono::Duration::days(1)));
    let page = |q: TraceQuery| TraceQuery { limit: Some(50), ..q };
    let kinds: Vec<(&str, TraceQuery)> = vec![
        ("traces", page(TraceQuery::default())),
        ("traces type=merge_pr", page(TraceQuery { action_type: Some("merge_pr".into()), ..Default::default() })),
        ("traces agent=ci-bot", page(TraceQuery { agent: Some("ci-bot".into()), ..Default::default() })),
        ("traces status=requires_approval", page(TraceQuery { status: Some("requires_approval".into()), ..Default::default() })),
        ("traces from=(a day ago)", page(TraceQuery { from: Some(recent.clone()), ..Default::default() })),
        ("traces q=target/4242", page(TraceQuery { q: Some("target/4242".into()), ..Default::default() })),
        ("traces q=seed:// (every row)", page(TraceQuery { q: Some("seed://".into()), ..Default::default() })),
        ("traces q=target/4242 agent=ci-bot", page(TraceQuery { q: Some("target/4242".into()), agent: Some("ci-bot".into()), ..Default::default() })),
        ("traces q=42 (short: no index)", page(TraceQuery { q: Some("42".into()), ..Default::default() })),
    ];
    for (label, q) in &kinds {
        measure(label, &|c| {
            let l = traces::list(c, q)?;
            Ok((l.items.len(), l.total))
        })?;
    }

    // Deep in the list: the 100th page of 50, by cursor (the cursor fetched
    // beforehand) and by offset. And the second page of the costly totals
    // (the cursor carries the first page's total on).
    let c = gatehouse_hub::db::open_reader(&path)?;
    for text in ["seed://", "42"] {
        let q = page(TraceQuery { q: Some(text.into()), ..Default::default() });
        let cursor = traces::list(&c, &q)?.next_cursor;
        measure(&format!("traces q={text} page 2 by cursor"), &|c| {
            let l = traces::list(c, &TraceQuery { cursor: cursor.clone(), ..q.clone() })?;
            Ok((l.items.len(), l.total))
        })?;
    }
    let mut cursor = None;
    for _ in 0..99 {
        cursor = traces::list(&c, &page(TraceQuery { cursor: cursor.clone(), ..Default::default() }))?.next_cursor;
    }
    measure("traces page 100 by cursor", &|c| {
        let l = traces::list(c, &page(TraceQuery { cursor: cursor.clone(), ..Default::default() }))?;
        Ok((l.items.len(), l.total))
    })?;
    measure("traces page 100 by offset", &|c| {
        let l = traces::list(c, &page(TraceQuery { offset: Some(99 * 50), ..Default::default() }))?;
        Ok((l.items.len(), l.total))
    })?;

    let t = Instant::now();
    let bundle = traces::bundle(&c, "seed-42")?.expect("trace");
    let report = gatehouse_protocol::trace::verify(&bundle, &BTreeMap::new());
    println!("export + verify one trace: {:?} (valid: {})", t.elapsed(), report.valid);
    if !keep {
        std::fs::remove_dir_all(path.parent().expect("a temp dir")).ok();
    }
    Ok(())
}

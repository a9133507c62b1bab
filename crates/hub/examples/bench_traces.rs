//! Figures for the evidence browser's hub side on 10,000 traces: seeding,
//! one page, a filtered page, a free-text search, and export + offline
//! verification of one trace. Prints timings; asserts nothing.
//!
//!     cargo run --release -p gatehouse-hub --example bench_traces [-- COUNT]

use gatehouse_hub::store::traces;
use std::collections::BTreeMap;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("gatehouse-bench-{}", std::process::id()));
    let mut conn = gatehouse_hub::db::open(&dir.join("hub.db"))?;

    let t = Instant::now();
    gatehouse_hub::seed::seed(&mut conn, count)?;
    println!("seed {count} traces: {:?}", t.elapsed());

    let time = |label: &str, q: traces::TraceQuery| -> anyhow::Result<()> {
        let t = Instant::now();
        let runs = 20;
        let mut n = 0;
        for _ in 0..runs {
            n = traces::list(&conn, &q).map_err(|e| anyhow::anyhow!("{}", e.body))?.total;
        }
        println!("{label}: {:?} per query ({n} match)", t.elapsed() / runs);
        Ok(())
    };
    time("first page (500)", traces::TraceQuery { limit: Some(500), ..Default::default() })?;
    time("last page (500)", traces::TraceQuery { limit: Some(500), offset: Some(count as i64 - 500), ..Default::default() })?;
    time("filter type", traces::TraceQuery { action_type: Some("merge_pr".into()), limit: Some(500), ..Default::default() })?;
    time("filter agent", traces::TraceQuery { agent: Some("ci-bot".into()), limit: Some(500), ..Default::default() })?;
    time("free text", traces::TraceQuery { q: Some("seed://target/99".into()), limit: Some(500), ..Default::default() })?;

    let t = Instant::now();
    let bundle = traces::bundle(&conn, "seed-42").map_err(|e| anyhow::anyhow!("{}", e.body))?.expect("trace");
    let report = gatehouse_protocol::trace::verify(&bundle, &BTreeMap::new());
    println!("export + verify one trace: {:?} (valid: {})", t.elapsed(), report.valid);
    std::fs::remove_dir_all(dir).ok();
    Ok(())
}

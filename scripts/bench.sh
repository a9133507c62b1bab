#!/usr/bin/env bash
# The hub's benchmark suite (Debian 12, as root): release build, real hub
# processes on loopback with their SQLite files on the real disk, `wrk` as
# the load generator (scripts/bench/propose.lua), and the probes in
# crates/hub/examples/bench_suite.rs. Prints one table and writes it, with
# the machine and the disk's physical references, to docs/benchmarks.md.
#
#   bash scripts/bench.sh                  # everything (about 15 minutes)
#   BENCH_QUICK=1 bash scripts/bench.sh    # shorter runs, no 1M-action row
#
# BENCH_TMP        where the databases go (default /var/tmp; not tmpfs)
# BENCH_OUT        the report (default docs/benchmarks.md)
# BENCH_ONLY       a subset: refs,ingest,probes,longpoll,stalled,slowloris,growth,postgres
# BENCH_PROFILE    debug: try the script out on a debug build (never writes docs/)
# BENCH_QUIET_WAIT seconds to wait for other cargo/rustc runs to end before
#                  measuring (default 900); they are noted in the report
# BENCH_KEEP=1     keep the temporary directory
# Scale knobs for trying it out: see the top of bench_suite.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=${BENCH_QUICK:-0}
profile=${BENCH_PROFILE:-release}
out=${BENCH_OUT:-}
if [ -z "$out" ]; then
  if [ "$profile" = release ] && [ -z "${BENCH_ONLY:-}" ]; then out=docs/benchmarks.md; else out=""; fi
fi

{ command -v wrk && ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 || bash scripts/deps.sh bench
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"

# Long-polls and slowloris need many descriptors (the hub inherits this too).
hard=$(ulimit -Hn)
ulimit -n "$hard"
if [ "$hard" != unlimited ] && [ "$hard" -lt 4096 ]; then
  echo "bench: the hard descriptor limit is $hard; the long-poll and slowloris runs need about 4,000" >&2
fi

# shellcheck source=scripts/bench/machine.sh
. scripts/bench/machine.sh

echo "== build ($profile)"
flags=(--locked -p gatehouse-hub --bin gatehouse-hub --example bench_suite)
if [ "$profile" = release ]; then flags+=(--release); fi
cargo build "${flags[@]}"
bench_dir bench

# Run copies: a build elsewhere in the same target directory must not swap
# the binaries in the middle of the run.
mkdir -p "$dir/bin"
cp "$bin_dir/gatehouse-hub" "$bin_dir/examples/bench_suite" "$dir/bin/"

# Measure on a quiet machine: wait for other builds to finish (up to a limit).
wait_for_quiet bench

# The machine, as the report describes it.
describe_machine
dev=$(df -P "$dir" | awk 'NR == 2 {print $1}')
mnt=$(df -P "$dir" | awk 'NR == 2 {print $6}')
fsinfo=$({ findmnt -no FSTYPE,OPTIONS -T "$dir" 2>/dev/null || true; } | head -1 | tr -s ' ' | sed 's/ /, /')
[ -n "$fsinfo" ] || fsinfo=$fstype
disk=$(lsblk -dno MODEL,ROTA,SIZE "$dev" 2>/dev/null | awk '{rota = ($(NF-1) == 1) ? "rotational" : "non-rotational"; $NF = ""; $(NF-1) = ""; gsub(/ +$/, ""); print ($0 == "" ? "" : $0 ", ") rota}' || true)
src_dirty=$(git status --porcelain -- crates Cargo.toml Cargo.lock ':(exclude)crates/hub/examples' 2>/dev/null | wc -l)
wrk_v=$({ wrk -v 2>&1 || true; } | head -1 | awk '{print $1, $2}')
date_utc=$(date -u +"%Y-%m-%d %H:%M UTC")

args=(run --hub-bin "$dir/bin/gatehouse-hub" --wrk-script scripts/bench/propose.lua --dir "$dir" --out "$dir/out")
[ "$quick" = 1 ] && args+=(--quick)
[ -n "${BENCH_ONLY:-}" ] && args+=(--only "$BENCH_ONLY")
echo "== measuring (databases in $dir, $fstype)"
# A PostgreSQL server of its own for the replica rows, on the same disk
# (its cluster belongs to the postgres user, who must reach it).
chmod a+x "$dir"
GATEHOUSE_PG_DIR="$dir" scripts/postgres.sh "$dir/bin/bench_suite" "${args[@]}"
machine_load_end

report="$dir/benchmarks.md"
{
  echo "# Hub benchmarks"
  echo
  echo "Measured by \`scripts/bench.sh\` on $date_utc ($profile build$([ "$quick" = 1 ] && echo ', BENCH_QUICK=1: shorter runs, no 1M row'))."
  echo "Every figure is as measured in this run, next to its target; none is tuned to pass."
  echo
  echo "## Machine"
  echo
  echo "- CPU: $cpu, \`nproc\` = $cores${virt:+ (virtualization: $virt)}"
  echo "- Memory: $mem"
  echo "- Disk under the databases: \`$dev\` mounted on \`$mnt\`${disk:+ ($disk)}, $fsinfo"
  echo "- Kernel: $kernel"
  echo "- Code: commit \`$commit\`, $dirty uncommitted paths in the work tree ($src_dirty of them hub/protocol sources outside \`crates/hub/examples\`)"
  echo "- Toolchain: $rustc_v; load generator $wrk_v"
  echo "- Machine load: $load_start at the start, $load_end at the end; other build processes running: $busy_start at the start, $busy_end at the end"
  echo "- The hub, \`wrk\` and the probes share these $cores cores (loopback); the hub runs with a soft descriptor limit of $(ulimit -n)"
  echo
  echo "## Physical references (the same disk, the same run)"
  echo
  cat "$dir/out/refs.md"
  echo
  echo "## Results"
  echo
  cat "$dir/out/table.md"
  echo
  echo "## Notes from this run"
  echo
  cat "$dir/out/details.md"
  echo
  cat <<'EOF'
## How the figures are taken

- **Ingest**: `wrk` (`scripts/bench/propose.lua`) posts ~300-byte TRACE proposals with a principal's API token, cycling `send_email` (held by the bench policy), `read.file` (observed) and `search.web` (recorded), each with a fresh id. The hub commits each with `synchronous=FULL` before answering, so every counted answer is durable. c=1 uses one wrk thread, c=8 and c=64 two.
- **Hold → SSE**: a console follows `GET /operator/feed`; an agent proposes a held action every 50 ms. The figure runs from the moment the `POST /actions` is sent to the moment the console has the `hold.created` event, so it includes the durable commit (the time from the agent's 201 reply is in the notes). "With ingest" runs the same probe while `wrk` drives c=64.
- **Decision → release**: the agent long-polls `GET /actions/{id}?wait_ms=30000` with its `statusToken`; the operator signs a content-bound decision and posts it. The figure runs from the decision being sent to the agent holding its `approved` answer.
- **Long-polls**: that many held actions, one parked long-poll each on its own connection, then proposals open-loop at 30/s (a third of them held); propose latency from send to reply; hub threads are the peak of `Threads` in `/proc/<pid>/status`, sampled every 100 ms.
- **Stalled subscribers**: raw connections send a signed `GET /operator/feed` and never read; the agent attaches ~200 KB evidence (carried verbatim on the feed) while a healthy console follows. Then each stalled subscriber drops its connection and reconnects with `Last-Event-ID` at its last event (it consumed none), all at once, and must receive exactly the events the healthy console saw, in order. Hub memory is the peak of `VmRSS` sampled every 50 ms and `VmHWM` over the whole run (the hub is killed at 3 GB to protect the machine).
- **Slowloris**: connections that send half a request's headers and one more header line every 3 to 7 s, reopening when the hub closes them; `/health` is probed 20 times a second, each on a fresh connection, and a failure counts with its elapsed time (5 s timeout).
- **Growth**: the database is seeded through the store's own path (hash-chained events), half the actions held pending; each kind of page (the queue; the trace list unfiltered, by type, agent, status, and free text) is read by a freshly started hub: cold is the first call, warm the median of the next 20. The row shows the slowest kind; every kind is in the notes.
- **PostgreSQL**: a server of the run's own (Debian's package, `scripts/postgres.sh`, default settings but for `max_connections`: `fsync` and `synchronous_commit` on) with its cluster on the same disk; the hubs run `--db postgres://…` on one database. Ingest is the same `wrk` load through one replica at c=64, then through two replicas at once (c=32 each; the figure is their sum). Every replica's writes take one advisory lock per batch (see docs/deploy.md), so a second replica adds request handling, not write throughput. Decision → release across replicas: the agent long-polls replica A, the decision is posted to replica B, and A learns of the commit through `LISTEN/NOTIFY`.
- **Physical references**: 512 bytes appended then `fdatasync`, repeated on one file; SQLite one 300-byte INSERT per transaction with the hub's settings (WAL, `synchronous=FULL`). Both on the disk under the databases.

## How to run

`bash scripts/bench.sh` (release build; about 15 minutes; installs `wrk` through `scripts/deps.sh bench` if missing) — or `BENCH_QUICK=1 bash scripts/bench.sh` for shorter runs without the 1M row. It prints the table above and rewrites this file.
EOF
} >"$report"

echo
cat "$dir/out/table.md"
if [ -n "$out" ]; then
  cp "$report" "$out"
  echo
  echo "bench: wrote $out"
else
  echo
  echo "bench: report not written to docs/ (profile $profile${BENCH_ONLY:+, BENCH_ONLY=$BENCH_ONLY}); set BENCH_OUT to keep it"
fi

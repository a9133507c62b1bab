# Sourced by scripts/bench.sh and scripts/bench_console.sh: what both need
# to measure on a quiet machine and to describe it in their reports.
#
#   others                 how many build processes (cargo, rustc, cc, ld...) run
#   wait_for_quiet NAME    wait for them to end, at most BENCH_QUIET_WAIT s
#                          (default 900); sets busy_start and load_start
#   describe_machine       sets cores cpu mem virt kernel os commit dirty rustc_v
#   machine_load_end       sets busy_end and load_end
#   bench_dir NAME         sets bin_dir (the $profile build's binaries) and
#                          dir, a fresh directory under BENCH_TMP (default
#                          /var/tmp) removed at exit unless BENCH_KEEP=1; refuses
#                          tmpfs (the hub's database must be on a real disk for
#                          durable writes to mean anything); sets fstype

others() { { pgrep -x 'cargo|rustc|rustdoc|cc|cc1|cc1plus|ld|ld.lld|clang' 2>/dev/null || true; } | wc -l; }

wait_for_quiet() {
  local wait_s=${BENCH_QUIET_WAIT:-900} waited=0
  while [ "$(others)" -gt 0 ] && [ "$waited" -lt "$wait_s" ]; do
    [ "$waited" = 0 ] && echo "$1: waiting for other cargo/rustc processes to finish (at most ${wait_s}s)"
    sleep 5
    waited=$((waited + 5))
  done
  busy_start=$(others)
  load_start=$(cut -d' ' -f1-3 /proc/loadavg)
}

describe_machine() {
  cores=$(nproc)
  cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
  [ -n "$cpu" ] || cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)
  mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
  virt=$(systemd-detect-virt 2>/dev/null || true)
  kernel=$(uname -sr)
  os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-}")
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  dirty=$(git status --porcelain 2>/dev/null | wc -l)
  rustc_v=$(rustc --version)
}

machine_load_end() {
  busy_end=$(others)
  load_end=$(cut -d' ' -f1-3 /proc/loadavg)
}

bench_dir() {
  local target_dir=${CARGO_TARGET_DIR:-target}
  bin_dir="$target_dir/$([ "$profile" = release ] && echo release || echo debug)"
  dir=$(mktemp -d "${BENCH_TMP:-/var/tmp}/gatehouse-$1.XXXXXX")
  trap '[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$dir"' EXIT
  fstype=$(stat -f -c %T "$dir")
  case "$fstype" in
    tmpfs | ramfs)
      echo "$1: $dir is on $fstype; the hub's database must be on a real disk (set BENCH_TMP)" >&2
      exit 2
      ;;
  esac
}

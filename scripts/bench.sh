#!/usr/bin/env bash
# Benchmarks the worker against a minimal hand-written Rust bridge (the ceiling) and the Python
# script users write by hand, in one run on this machine, and renders docs/benchmarks.md with a
# chart (docs/benchmarks.png):
#   - sink: N JSON records (4 partitions) from Kafka into Redis as STRING, HASH and STREAM,
#     exactly-once on and off, tasks.max 1 and 4;
#   - source: N Redis Stream entries into Kafka;
#   - distributed: the STRING sink (exactly-once on and off, tasks.max 4) on a cluster of three
#     workers sharing a group.id, next to the same connector on one standalone worker;
#   - latency: p50/p99 from produce to visible in Redis at a steady 10,000 records/s (the
#     worker's and the Rust bridge's runs repeated and interleaved as the throughput runs);
#   - perf profiles of the worker sinking STRING records (exactly-once, one task) and reading
#     the stream into Kafka (one task).
#
#   scripts/bench.sh            1,000,000 records, 2 repetitions, 10 s of latency (meant to fit
#                               in 30 minutes on 2 cores; the report says how long each part took)
#   scripts/bench.sh --quick    100,000 records, 1 repetition, 5 s of latency; the report goes
#                               to the results directory only (add --docs to write docs/ too)
# Options: --count N, --runs N, --only sink,source,latency,python,profile,distributed,
#          --types string,hash,stream,
#          --results DIR (default $CACHE_DIR/bench-results/<UTC time>), --no-profile, --docs.
#
# BENCH_COMMIT names the code benchmarked in the report when the checkout is not a git work tree.
#
# It starts a redis-server and a tansu broker of its own (never those of scripts/services.sh
# start, which tests may be using), and stops every process it started, whatever happens.
set -euo pipefail
BENCH_TMP="$(mktemp -d)"
export CONNECT_RS_STATE="$BENCH_TMP/services"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

COMMAND="scripts/bench.sh${*:+ $*}"
COUNT=1000000 RUNS=2 LATENCY_SECONDS=10 ONLY="sink,source,latency,python,profile,distributed"
TYPES="string,hash,stream" RESULTS="" DOCS=1
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) COUNT=100000 RUNS=1 LATENCY_SECONDS=5 DOCS=0 ;;
    --count) COUNT="$2"; shift ;;
    --runs) RUNS="$2"; shift ;;
    --only) ONLY="$2"; shift ;;
    --types) TYPES="$2"; shift ;;
    --results) RESULTS="$2"; shift ;;
    --no-profile) ONLY="${ONLY//profile/}" ;;
    --docs) DOCS=1 ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
RESULTS="${RESULTS:-$CACHE_DIR/bench-results/$(date -u +%Y%m%dT%H%M%SZ)}"

HARNESS_PID=""
cleanup() {
    if [ -n "$HARNESS_PID" ] && kill -0 "$HARNESS_PID" 2>/dev/null; then
        kill -TERM "$HARNESS_PID" 2>/dev/null || true
        wait "$HARNESS_PID" 2>/dev/null || true
    fi
    scripts/services.sh stop
    rm -rf "$BENCH_TMP"
}
trap cleanup EXIT

scripts/install-deps.sh

ensure_bench_venv

if [[ "$ONLY" == *profile* ]] && ! command -v perf >/dev/null; then
    log "perf is missing; trying apt-get install linux-perf"
    (export DEBIAN_FRONTEND=noninteractive
        as_root apt-get update -qq && as_root apt-get install -y -qq linux-perf >/dev/null) ||
        true
    command -v perf >/dev/null || { log "no perf: the profile is skipped"; ONLY="${ONLY//profile/}"; }
fi

use_cargo_target_dir
log "building connect-worker and bench-baseline (release)"
cargo build --quiet --release --locked -p connect-worker -p bench-baseline
WORKER_BIN="$CARGO_TARGET_DIR/release/connect-worker"
BASELINE_BIN="$CARGO_TARGET_DIR/release/bench-baseline"

scripts/services.sh start
# shellcheck disable=SC1090
source "$SERVICES_ENV"
mkdir -p "$RESULTS"

# What the report says about the machine and the software.
META="$(
    COMMAND="$COMMAND" RUSTC="$(rustc --version)" TANSU="$("$TANSU_BIN" --version)" \
        REDIS="$(redis-server --version | cut -d' ' -f1-3)" \
        COMMIT="${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')}" \
        "$BENCH_PY" - <<'PY'
import json, os, platform
from importlib.metadata import version
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
print(json.dumps({
    "command": os.environ["COMMAND"], "commit": os.environ["COMMIT"],
    "date": __import__("datetime").datetime.now(__import__("datetime").timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "nproc": os.cpu_count(), "cpu": cpu, "memory": f"{mem / 1024 / 1024:.0f} GiB",
    "kernel": platform.release(), "rustc_version": os.environ["RUSTC"],
    "tansu_version": os.environ["TANSU"], "redis_version": os.environ["REDIS"],
    "python_version": platform.python_version(),
    "python_packages": ", ".join(f"{p} {version(p)}" for p in ("kafka-python", "redis")),
}))
PY
)"

log "results go to $RESULTS; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BENCH_PY" scripts/bench/harness.py --results "$RESULTS" --work "$BENCH_TMP" \
    --state "$CONNECT_RS_STATE" --scripts "$REPO_ROOT/scripts/bench" \
    --worker-bin "$WORKER_BIN" --baseline-bin "$BASELINE_BIN" \
    --kafka "$KAFKA_BOOTSTRAP" --redis-host "$REDIS_HOST" --redis-port "$REDIS_PORT" \
    --count "$COUNT" --runs "$RUNS" --latency-seconds "$LATENCY_SECONDS" \
    --only "$ONLY" --types "$TYPES" --meta "$META" &
HARNESS_PID=$!
wait "$HARNESS_PID"
HARNESS_PID=""

if [ "$DOCS" = 1 ]; then
    OUT="$REPO_ROOT/docs/benchmarks.md" PNG="$REPO_ROOT/docs/benchmarks.png"
else
    OUT="$RESULTS/benchmarks.md" PNG="$RESULTS/benchmarks.png"
fi
"$BENCH_PY" scripts/bench/report.py --results "$RESULTS" --out "$OUT" --png "$PNG" \
    --notes "$REPO_ROOT/scripts/bench/findings.md"
log "report: $OUT (chart $PNG); raw results: $RESULTS"

#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Renders docs/grafana-dashboard.png: a cluster of three workers (one group.id) moves real
# records (FileStreamSource -> Kafka -> Redis sink with 4 tasks, with poison records, a pause
# and a resume); half way the worker that runs the most is killed with SIGKILL, and later a
# fourth worker joins. Every worker's /metrics is scraped every second (each series labelled
# with its instance, as Prometheus does); then the dashboard's own queries
# (docs/grafana-dashboard.json) are evaluated on those samples and drawn
# (scripts/render_dashboard.py), with what the run did marked on every panel. About two and
# a half minutes.
set -euo pipefail
WORK_DIR="$(mktemp -d)"
export CONNECT_RS_STATE="$WORK_DIR/services"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

scripts/install-deps.sh
ensure_bench_venv
use_cargo_target_dir
cargo build --quiet --release --locked -p connect-worker
WORKER_BIN="$CARGO_TARGET_DIR/release/connect-worker"

# Every process this script starts in the background (workers, the scraper, the writer): each
# is stopped by its pid on the way out, whatever happens.
PIDS=()
# Waits up to SECONDS for the child PID to exit and reaps it; 1 if it still runs.
wait_exit() {
    local pid="$1" seconds="$2" state
    for _ in $(seq 1 $((seconds * 10))); do
        state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)"
        if [ "$state" = gone ] || [ "$state" = Z ]; then
            wait "$pid" 2>/dev/null || true
            return 0
        fi
        sleep 0.1
    done
    return 1
}
# Stops the child PID: SIGTERM, SIGKILL after 10 s. Nothing when it has exited already (or
# its pid is no longer one of our children).
stop_pid() {
    local pid="$1"
    [ "$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null)" = "$$" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    wait_exit "$pid" 10 && return 0
    log "pid $pid ignored SIGTERM for 10 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_exit "$pid" 5 || log "pid $pid survived SIGKILL"
}
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    # SNAPSHOT_KEEP=DIR keeps the samples, the events and the workers' logs, to look into a
    # picture (render it again with render_dashboard.py render).
    if [ -n "${SNAPSHOT_KEEP:-}" ]; then
        mkdir -p "$SNAPSHOT_KEEP"
        cp -r "$WORK_DIR"/*.jsonl "$WORK_DIR"/worker-* "$SNAPSHOT_KEEP"/ 2>/dev/null || true
    fi
    scripts/services.sh stop
    rm -rf "$WORK_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
scripts/services.sh start
# shellcheck disable=SC1090
source "$SERVICES_ENV"

# Four workers' ports, chosen now so that the scraper knows every target from the start (as a
# Prometheus with four static targets would: the fourth fails its scrapes until it starts).
PORTS=()
for _ in 1 2 3 4; do PORTS+=("$(free_port)"); done
WORKER_PIDS=()
# Starts worker N (1-4) of the cluster and waits until its REST API answers.
start_cluster_worker() {
    local n="$1" port="${PORTS[$(($1 - 1))]}" dir="$WORK_DIR/worker-$1" pid
    mkdir -p "$dir"
    cat >"$dir/worker.properties" <<PROPS
bootstrap.servers=$KAFKA_BOOTSTRAP
listeners=http://127.0.0.1:$port
group.id=dashboard-snapshot
config.storage.topic=dashboard-snapshot-configs
offset.storage.topic=dashboard-snapshot-offsets
status.storage.topic=dashboard-snapshot-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.storage.partitions=5
status.storage.partitions=2
session.timeout.ms=6000
heartbeat.interval.ms=1000
rebalance.timeout.ms=10000
scheduled.rebalance.max.delay.ms=0
offset.flush.interval.ms=2000
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
PROPS
    "$WORKER_BIN" "$dir/worker.properties" >"$dir/worker.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    WORKER_PIDS[n]="$pid"
    wait_for_rest "http://127.0.0.1:$port" "$pid" "$dir/worker.log"
}

EVENTS="$WORK_DIR/events.jsonl"
: >"$EVENTS"
mark() { # what the run does now: logged, and marked on the picture
    log "$1"
    printf '{"t": %s, "label": "%s"}\n' "$(date +%s.%N)" "$1" >>"$EVENTS"
}

URLS=()
for port in "${PORTS[@]}"; do URLS+=("http://127.0.0.1:$port/metrics"); done
# At most 240 s; stopped with SIGTERM once the run is over.
"$BENCH_PY" scripts/render_dashboard.py scrape "$WORK_DIR/samples.jsonl" 240 "${URLS[@]}" &
SCRAPER=$!
PIDS+=("$SCRAPER")

mark "3 workers start"
for n in 1 2 3; do start_cluster_worker "$n"; done
REST="http://127.0.0.1:${PORTS[0]}"

# METHOD PATH [BODY] through $REST, again while the cluster answers 409 (forming or
# rebalancing, as Kafka Connect answers then), for up to 60 s.
rest() {
    local code deadline=$((SECONDS + 60))
    while :; do
        code="$(curl -s -o "$WORK_DIR/answer" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
            "$REST$2" ${3:+-d "$3"})" || code=000
        case "$code" in
            2??) return 0 ;;
            409 | 000) [ "$SECONDS" -lt "$deadline" ] || die "$1 $2 still answers $code after 60 s: $(cat "$WORK_DIR/answer")" ;;
            *) die "$1 $2 answered $code: $(cat "$WORK_DIR/answer")" ;;
        esac
        sleep 0.5
    done
}
# Waits up to 60 s until connector NAME has TASKS tasks, all RUNNING.
wait_running() {
    local deadline=$((SECONDS + 60))
    until curl -sf "$REST/connectors/$1/status" 2>/dev/null | "$BENCH_PY" -c '
import json, sys
tasks = json.load(sys.stdin)["tasks"]
sys.exit(0 if len(tasks) == int(sys.argv[1]) and all(t["state"] == "RUNNING" for t in tasks) else 1)' "$2"; do
        [ "$SECONDS" -lt "$deadline" ] || die "$1 does not run $2 tasks after 60 s: $(curl -s "$REST/connectors/$1/status")"
        sleep 0.5
    done
}

"$BENCH_PY" - "$KAFKA_BOOTSTRAP" <<'PY'
import sys
from kafka.admin import KafkaAdminClient, NewTopic
KafkaAdminClient(bootstrap_servers=sys.argv[1]).create_topics([NewTopic("pageviews", 4, 1)])
PY
touch "$WORK_DIR/pageviews.txt"
rest POST /connectors "{\"name\": \"pageviews-in\", \"config\": {\"connector.class\": \"FileStreamSource\",
  \"file\": \"$WORK_DIR/pageviews.txt\", \"topic\": \"pageviews\"}}"
rest POST /connectors "{\"name\": \"pageviews-to-redis\", \"config\": {\"connector.class\": \"RedisSink\",
  \"topics\": \"pageviews\", \"tasks.max\": \"4\", \"redis.uri\": \"$REDIS_URL\", \"redis.type\": \"STREAM\",
  \"redis.keyspace\": \"pageviews\", \"value.converter\": \"org.apache.kafka.connect.json.JsonConverter\",
  \"value.converter.schemas.enable\": \"false\", \"errors.tolerance\": \"all\",
  \"errors.deadletterqueue.topic.name\": \"pageviews-dlq\", \"errors.deadletterqueue.topic.replication.factor\": \"1\"}}"
wait_running pageviews-in 1
wait_running pageviews-to-redis 4

write() { # lines per second, seconds, poison every n-th line (0: none)
    "$BENCH_PY" - "$WORK_DIR/pageviews.txt" "$@" <<'PY' &
import sys, time
path, rate, seconds, poison = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
n = 0
with open(path, "a") as f:
    for _ in range(seconds * 10):
        for _ in range(rate // 10):
            n += 1
            f.write("not json\n" if poison and n % poison == 0 else '{"page": %d, "user": %d}\n' % (n % 50, n % 7))
        f.flush()
        time.sleep(0.1)
PY
    local writer=$!
    PIDS+=("$writer")
    wait "$writer"
}
mark "load"; write 2000 20 0
mark "poison records"; write 2000 15 100

# The worker that runs the most (connectors and tasks), as the statuses say, dies.
VICTIM_ID="$(for c in pageviews-in pageviews-to-redis; do curl -sf "$REST/connectors/$c/status"; echo; done |
    "$BENCH_PY" -c '
import collections, json, sys
runs = collections.Counter()
for line in sys.stdin:
    status = json.loads(line)
    for unit in [status["connector"]] + status["tasks"]:
        runs[unit["worker_id"]] += 1
print(runs.most_common(1)[0][0])')"
VICTIM=""
for n in 1 2 3; do [ "$VICTIM_ID" = "127.0.0.1:${PORTS[$((n - 1))]}" ] && VICTIM="$n"; done
[ -n "$VICTIM" ] || die "the statuses name $VICTIM_ID, none of the workers"
mark "kill -9 $VICTIM_ID"
kill -KILL "${WORKER_PIDS[VICTIM]}"
wait_exit "${WORKER_PIDS[VICTIM]}" 5 || die "worker $VICTIM survived SIGKILL"
# Requests go to a survivor from now on.
REST="http://127.0.0.1:${PORTS[$((VICTIM % 3))]}"
write 2000 20 0

mark "sink paused"; rest PUT /connectors/pageviews-to-redis/pause
write 2000 15 0
mark "sink resumed"; rest PUT /connectors/pageviews-to-redis/resume
write 4000 15 0
mark "127.0.0.1:${PORTS[3]} joins"; start_cluster_worker 4
write 2000 25 0
mark "idle"; sleep 10
stop_pid "$SCRAPER"
"$BENCH_PY" scripts/render_dashboard.py render docs/grafana-dashboard.json "$WORK_DIR/samples.jsonl" \
    docs/grafana-dashboard.png "$EVENTS"
log "wrote docs/grafana-dashboard.png"
log "took ${SECONDS} s"

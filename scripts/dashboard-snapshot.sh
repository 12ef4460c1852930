#!/usr/bin/env bash
# Renders docs/grafana-dashboard.png: a worker moves real records (FileStreamSource -> Kafka ->
# Redis sink, with poison records, a pause and a resume) while its /metrics is scraped every
# second; then the dashboard's own queries (docs/grafana-dashboard.json) are evaluated on
# those samples and drawn (scripts/render_dashboard.py). About two minutes.
set -euo pipefail
WORK_DIR="$(mktemp -d)"
export CONNECT_RS_STATE="$WORK_DIR/services"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

scripts/install-deps.sh
ensure_bench_venv
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_DIR/target}"
cargo build --quiet --release --locked -p connect-worker
WORKER_BIN="$CARGO_TARGET_DIR/release/connect-worker"

WORKER_PID=""
cleanup() {
    [ -n "$WORKER_PID" ] && kill -TERM "$WORKER_PID" 2>/dev/null && wait "$WORKER_PID" 2>/dev/null || true
    scripts/services.sh stop
    rm -rf "$WORK_DIR"
}
trap cleanup EXIT
scripts/services.sh start
# shellcheck disable=SC1090
source "$SERVICES_ENV"

start_worker "$WORK_DIR" 2000

"$BENCH_PY" - "$KAFKA_BOOTSTRAP" <<'PY'
import sys
from kafka.admin import KafkaAdminClient, NewTopic
KafkaAdminClient(bootstrap_servers=sys.argv[1]).create_topics([NewTopic("pageviews", 4, 1)])
PY
post() { curl -sf -X POST -H 'Content-Type: application/json' "$REST/connectors" -d "$1" >/dev/null; }
touch "$WORK_DIR/pageviews.txt"
post "{\"name\": \"pageviews-in\", \"config\": {\"connector.class\": \"FileStreamSource\",
  \"file\": \"$WORK_DIR/pageviews.txt\", \"topic\": \"pageviews\"}}"
post "{\"name\": \"pageviews-to-redis\", \"config\": {\"connector.class\": \"RedisSink\",
  \"topics\": \"pageviews\", \"tasks.max\": \"2\", \"redis.uri\": \"$REDIS_URL\", \"redis.type\": \"STREAM\",
  \"redis.keyspace\": \"pageviews\", \"value.converter\": \"org.apache.kafka.connect.json.JsonConverter\",
  \"value.converter.schemas.enable\": \"false\", \"errors.tolerance\": \"all\",
  \"errors.deadletterqueue.topic.name\": \"pageviews-dlq\", \"errors.deadletterqueue.topic.replication.factor\": \"1\"}}"

"$BENCH_PY" scripts/render_dashboard.py scrape "$REST/metrics" "$WORK_DIR/samples.jsonl" 110 &
SCRAPER=$!
write() { # lines per second, seconds, poison every n-th line (0: none)
    "$BENCH_PY" - "$WORK_DIR/pageviews.txt" "$@" <<'PY'
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
}
log "steady load"; write 2000 25 0
log "poison records"; write 2000 15 100
log "sink paused: lag builds up"; curl -sf -X PUT "$REST/connectors/pageviews-to-redis/pause"
write 2000 15 0
log "sink resumed"; curl -sf -X PUT "$REST/connectors/pageviews-to-redis/resume"
write 4000 20 0
log "idle"; wait "$SCRAPER"
"$BENCH_PY" scripts/render_dashboard.py render docs/grafana-dashboard.json "$WORK_DIR/samples.jsonl" docs/grafana-dashboard.png
log "wrote docs/grafana-dashboard.png"

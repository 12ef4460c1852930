#!/usr/bin/env bash
# The main job, on real services: starts Kafka (tansu) and Redis on loopback, puts records in a
# Kafka topic and shows them arriving in Redis, then stops everything it started.
#
# The connect-worker runtime does not exist yet (issue #4). Until it does, this demo moves the
# records with kafka-python and redis-cli, to show the services the worker will use are up and
# talking; the worker will take this glue's place.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

scripts/install-deps.sh
trap 'scripts/services.sh stop' EXIT
scripts/services.sh start
# shellcheck disable=SC1090
source "$SERVICES_ENV"

TOPIC=orders
"$TANSU_BIN" topic create "$TOPIC" --partitions 4 --broker "$KAFKA_BROKER_URL" >/dev/null
log "created topic $TOPIC (4 partitions) on $KAFKA_BOOTSTRAP"

for i in $(seq 1 10); do
    printf '{"key": "order-%d", "value": "{\\"id\\": %d, \\"amount\\": %d.50}"}\n' "$i" "$i" "$((i * 7))"
done | "$KAFKA_PYTHON" "$KAFKA_TOOL" produce --bootstrap "$KAFKA_BOOTSTRAP" --topic "$TOPIC" >/dev/null
log "produced 10 records to $TOPIC with kafka-python"

# Kafka -> Redis: every record becomes SET orders:<key> <value>, written in one pipeline.
"$KAFKA_PYTHON" "$KAFKA_TOOL" consume --bootstrap "$KAFKA_BOOTSTRAP" --topic "$TOPIC" --count 10 |
    "$KAFKA_PYTHON" -c '
import json, sys
def resp(*args):
    out = "*%d\r\n" % len(args)
    for a in args:
        b = a.encode()
        out += "$%d\r\n%s\r\n" % (len(b), a)
    return out
for line in sys.stdin:
    r = json.loads(line)
    sys.stdout.write(resp("SET", "orders:" + r["key"], r["value"]))
' | redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --pipe >/dev/null
log "moved them into Redis at $REDIS_URL; what Redis holds now:"

for key in $(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --scan --pattern 'orders:*' | sort -t- -k2 -n); do
    printf '  %-10s %s\n' "$key" "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --raw GET "$key")"
done

#!/usr/bin/env bash
# Starts and stops the real services the tests and the demo use, on loopback only:
#   - redis-server on a free port, in a temporary directory, with persistence off;
#   - the tansu Kafka-compatible broker on a free port, with its in-memory storage engine.
#
#   scripts/services.sh start    start both, wait until they answer, write $SERVICES_ENV
#   scripts/services.sh stop     stop exactly the processes `start` started
#   scripts/services.sh status   say what runs
#
# $SERVICES_ENV (default .services/services.env) holds KAFKA_BOOTSTRAP, REDIS_URL and the
# paths of the helper programs; the end-to-end tests read it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Prints the pid recorded for a service if that process still runs the expected program.
live_pid() {
    local name="$1" program="$2" pid
    [ -f "$STATE_DIR/$name.pid" ] || return 1
    pid="$(cat "$STATE_DIR/$name.pid")"
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$program" || return 1
    echo "$pid"
}

stop_one() {
    local name="$1" program="$2" pid
    if pid="$(live_pid "$name" "$program")"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        log "stopped $name (pid $pid)"
    fi
    rm -f "$STATE_DIR/$name.pid"
}

stop_all() {
    stop_one tansu "$TANSU_BIN"
    stop_one redis redis-server
    rm -f "$SERVICES_ENV"
}

wait_until() {
    local what="$1" seconds="$2"
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            return 1
        fi
        sleep 0.1
    done
}

start_redis() {
    local port="$1" dir="$STATE_DIR/redis"
    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes --daemonize no \
        --save '' --appendonly no --dir "$dir" --logfile "$STATE_DIR/redis.log" \
        </dev/null >>"$STATE_DIR/redis.log" 2>&1 &
    echo $! >"$STATE_DIR/redis.pid"
    if ! wait_until "redis" 20 redis-cli -h 127.0.0.1 -p "$port" ping; then
        tail -n 20 "$STATE_DIR/redis.log" >&2 || true
        return 1
    fi
}

start_tansu() {
    local port="$1"
    # No RUST_LOG: tansu then logs only what it prints itself (info is very verbose). A cluster
    # id of its own (tansu's default is the same everywhere), which tests compare with GET /.
    "$TANSU_BIN" broker --storage-engine memory://tansu/ \
        --cluster-id "connect-rs-$port-$(date +%s)" \
        --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
        </dev/null >>"$STATE_DIR/tansu.log" 2>&1 &
    echo $! >"$STATE_DIR/tansu.pid"
    if ! wait_until "tansu" 30 "$TANSU_BIN" topic list --broker "tcp://127.0.0.1:$port"; then
        tail -n 20 "$STATE_DIR/tansu.log" >&2 || true
        return 1
    fi
}

start_all() {
    [ -x "$TANSU_BIN" ] && [ -x "$VENV_PYTHON" ] && command -v redis-server >/dev/null ||
        die "missing tools; run scripts/install-deps.sh first"
    mkdir -p "$STATE_DIR"
    stop_all # whatever an earlier, interrupted run of ours left behind
    local redis_port kafka_port
    redis_port="$(free_port)"
    start_redis "$redis_port" || { stop_all; die "redis-server did not answer PING on 127.0.0.1:$redis_port"; }
    kafka_port="$(free_port)"
    start_tansu "$kafka_port" || { stop_all; die "tansu did not answer on 127.0.0.1:$kafka_port"; }
    cat >"$SERVICES_ENV.tmp" <<ENV
KAFKA_BOOTSTRAP=127.0.0.1:$kafka_port
KAFKA_BROKER_URL=tcp://127.0.0.1:$kafka_port
REDIS_HOST=127.0.0.1
REDIS_PORT=$redis_port
REDIS_URL=redis://127.0.0.1:$redis_port
TANSU_BIN=$TANSU_BIN
KAFKA_PYTHON=$VENV_PYTHON
REDIS_CLI=$(command -v redis-cli)
KAFKA_TOOL=$REPO_ROOT/tests/py/kafka_tool.py
ENV
    mv "$SERVICES_ENV.tmp" "$SERVICES_ENV"
    log "redis-server on 127.0.0.1:$redis_port, tansu on 127.0.0.1:$kafka_port; addresses in $SERVICES_ENV"
}

status_all() {
    local pid
    for svc in "redis redis-server" "tansu $TANSU_BIN"; do
        set -- $svc
        if pid="$(live_pid "$1" "$2")"; then echo "$1: running (pid $pid)"; else echo "$1: stopped"; fi
    done
    [ -f "$SERVICES_ENV" ] && cat "$SERVICES_ENV"
    return 0
}

case "${1:-}" in
start) start_all ;;
stop) stop_all ;;
status) status_all ;;
*) die "usage: $0 start|stop|status" ;;
esac

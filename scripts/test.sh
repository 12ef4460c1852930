#!/usr/bin/env bash
# Runs every check and every test, as CI does (.ci/run calls this verbatim):
#   1. installs what is missing (scripts/install-deps.sh: redis-server, the tansu broker,
#      kafka-python's virtualenv), then the brokers that require TLS and SASL for the Kafka
#      security tests (scripts/secure-kafka.sh install: stunnel and a tansu built with SASL,
#      15-35 minutes of compiling on a fresh machine, once; the demo does not need them);
#   2. cargo fmt --check, cargo clippy --all-targets -D warnings, and that a custom worker
#      binary depends on the worker runtime only (scripts/check-custom-worker-deps.sh);
#   3. the unit and doc tests of every crate;
#   4. starts the real services on loopback, runs the end-to-end tests in tests/ against them,
#      then drives the web console in headless Chromium against real workers
#      (scripts/console-test.sh, which installs chromium, chromium-driver and selenium itself),
#      then fuzzes the REST API of a real worker from its OpenAPI description
#      (scripts/fuzz-rest.sh, schemathesis), and stops exactly the processes it started,
#      whatever happened.
# Exits non-zero when anything fails. A test that cannot reach a service fails; none skips.
#
# The cargo target directory defaults to $CACHE_DIR/target, shared by every checkout on the
# machine, so a fresh clone does not compile the dependencies again; a checkout that did not
# build there last rebuilds its own crates first (use_cargo_target_dir in common.sh says
# why). Set CARGO_TARGET_DIR to use another one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

use_cargo_target_dir
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# End-to-end tests stop by themselves; this bounds a run that hangs anyway.
E2E_TIMEOUT="${E2E_TIMEOUT:-30m}"

step() { log "== $* =="; }

step "installing what is missing"
scripts/install-deps.sh
# Only the Kafka security tests (tests/tests/security_kafka.rs) use these; they fail without
# them, never skip.
scripts/secure-kafka.sh install

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "a custom worker binary gets the runtime only (no built-in connectors, no jemalloc)"
scripts/check-custom-worker-deps.sh

step "unit and doc tests"
cargo test --workspace --locked --exclude connect-e2e

step "starting the services"
trap 'scripts/services.sh stop' EXIT
scripts/services.sh start

step "end-to-end tests"
# Worker logs from tests that install the subscriber: warnings and errors only.
RUST_LOG="${RUST_LOG:-warn}" timeout --signal=TERM --kill-after=30s "$E2E_TIMEOUT" \
    cargo test --locked -p connect-e2e -- --test-threads="${E2E_THREADS:-4}"

step "the web console in a browser (headless Chromium, selenium)"
scripts/console-test.sh

step "fuzzing the REST API (schemathesis)"
scripts/fuzz-rest.sh

step "all checks and tests passed"

#!/usr/bin/env bash
# Checks that a checkout never builds with another checkout's crates when both use the shared
# cargo target directory (use_cargo_target_dir in common.sh):
#   1. clones this checkout's HEAD into a temporary directory and adds a constant to
#      connect-core there;
#   2. builds connect-worker (debug) in the clone, through use_cargo_target_dir, and checks that
#      the constant is in connect-core's rlib;
#   3. builds connect-worker here with plain cargo and reports whether that rlib still holds
#      the clone's constant (cargo's own behaviour, the trap: it keeps the newer artifacts);
#   4. builds here through use_cargo_target_dir and fails unless the constant is gone.
# Takes a few minutes (the workspace's crates are compiled three times; the dependencies are
# not). Not part of scripts/test.sh for that reason. Removes the clone whatever happens.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

use_cargo_target_dir
MARK="OTHER_CHECKOUT_$$_$(date +%s)"
CLONE="$(mktemp -d)"
trap 'rm -rf "$CLONE"' EXIT

# How many of connect-core's debug rlibs hold the clone's constant.
rlibs_with_mark() {
    local n=0 rlib
    for rlib in "$CARGO_TARGET_DIR"/debug/deps/libconnect_core-*.rlib; do
        [ -e "$rlib" ] && grep -aq "$MARK" "$rlib" && n=$((n + 1))
    done
    echo "$n"
}
build() {
    (cd "$1" && bash -c 'set -euo pipefail; source scripts/common.sh; use_cargo_target_dir
        cargo build --quiet --locked -p connect-worker --bin connect-worker')
}

git clone --quiet "$REPO_ROOT" "$CLONE"
printf '\n/// Only in the clone of scripts/check-shared-target-dir.sh.\npub const CLONE_MARK: &str = "%s";\n' \
    "$MARK" >>"$CLONE/connect-core/src/lib.rs"

log "building in the clone $CLONE"
build "$CLONE"
[ "$(rlibs_with_mark)" -gt 0 ] || die "the clone's build has no connect-core rlib with its constant: this check looks at the wrong files"

log "building here with plain cargo"
cargo build --quiet --locked -p connect-worker --bin connect-worker
if [ "$(rlibs_with_mark)" -gt 0 ]; then
    log "plain cargo kept the clone's connect-core (the trap use_cargo_target_dir avoids)"
else
    log "plain cargo rebuilt connect-core by itself"
fi

log "building here through use_cargo_target_dir"
build "$REPO_ROOT"
[ "$(rlibs_with_mark)" -eq 0 ] || die "connect-core's rlib still holds the clone's constant after use_cargo_target_dir"
[ "$(cat "$CARGO_TARGET_DIR/.last-checkout")" = "$REPO_ROOT" ] || die "the target directory does not record $REPO_ROOT as its last checkout"
log "ok: this checkout's build has none of the clone's code"

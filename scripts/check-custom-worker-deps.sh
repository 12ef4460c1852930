#!/usr/bin/env bash
# Checks that a worker binary of one's own gets the runtime only: the example custom worker
# (examples/custom-connector, which depends on connect-worker without default features) must
# not compile the built-in connectors, fred or jemalloc. scripts/test.sh runs this; it fails,
# naming what pulled the crate in, when a dependency or a default feature brings one back.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

PACKAGE=custom-connector-example
FORBIDDEN='fred|connect-redis|connect-file|tikv-jemallocator|tikv-jemalloc-sys'

# Into a variable first: a failing `cargo tree` must fail the check, not pass it as "no match".
tree="$(cargo tree --locked -p "$PACKAGE" -e normal --prefix none)"
# The check means something only if the worker library is in the tree at all.
grep -q '^connect-worker v' <<<"$tree" || die "cargo tree -p $PACKAGE shows no connect-worker: is this check still looking at the right package?"

found="$(grep -E "^($FORBIDDEN) v" <<<"$tree" | sort -u || true)"
if [ -n "$found" ]; then
    log "$PACKAGE (a custom worker binary) must depend on the worker runtime only, but its normal dependencies include:"
    sed 's/^/    /' <<<"$found" >&2
    crate="$(head -n1 <<<"$found" | cut -d' ' -f1)"
    log "what pulls $crate in (cargo tree -p $PACKAGE -e normal,features -i $crate):"
    cargo tree --locked -p "$PACKAGE" -e normal,features -i "$crate" >&2 || true
    die "the built-in connectors and jemalloc must stay behind connect-worker's features builtin-connectors and jemalloc, off for $PACKAGE (see docs/sdk.md, \"A worker binary of your own\")"
fi
log "ok: $PACKAGE depends on neither the built-in connectors, fred nor jemalloc"

#!/usr/bin/env bash
# backfill.sh: the online backfill against the initial snapshot, in one
# run on throwaway clusters.  The same ROWS-row table is copied twice into
# the same upsert mapping: first by the initial snapshot (walpipe starting
# on an idle source), then by an online backfill (the mapping added by
# SIGHUP to a `walpipe run` that streams a steady insert load into another
# table).  Reports both copy rates, their ratio, and the stream's apply lag
# (per row: arrival in analytics minus insert on the source) before and
# during the backfill.
#
# Usage: bench/backfill.sh [BUILD_DIR]      (default: build)
# Sizes: ROWS (1000000), LOAD_TPS (200 transactions/s of LOAD_ROWS = 5
#        inserted rows: 1,000 changes/s), BEFORE (15 s of load measured
#        before the SIGHUP), CHUNKS (the backfill.chunk_size values, each
#        an online backfill from fresh walpipe state: "10000 2000"),
#        MAX_RATE (backfill.max_rate, 0: unlimited).
# Results: bench/results/backfill.md.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
[ -x "$build/walpipe" ] || { echo "bench: build walpipe first (tests/run.sh)" >&2; exit 1; }
export WALPIPE_BIN=$build/walpipe BENCH_OUT=$root/bench/results
mkdir -p "$BENCH_OUT"
exec "$root/tests/harness/with-clusters" --timeout 3000 bash "$root/bench/backfill-inner.sh"

#!/usr/bin/env bash
# tables.sh: what the number of mapped tables costs.  For each N in
# TABLES_N, walpipe maps N source tables (one upsert mapping each) while a
# fixed-rate load writes one row per transaction to a random one of them;
# the commit-to-visible delay of every row is measured, as in compare.sh's
# latency part.  PostgreSQL's native logical replication of the same N
# tables is the reference.
#
# Usage: bench/tables.sh [BUILD_DIR]       (default: build)
# Sizes: TABLES_N ("1 50 200"), RATE (300 transactions/s), SECONDS_EACH (15).
# Results: bench/results/tables.md.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
[ -x "$build/walpipe" ] || { echo "bench: build walpipe first (tests/run.sh)" >&2; exit 1; }
export WALPIPE_BIN=$build/walpipe BENCH_OUT=$root/bench/results
mkdir -p "$BENCH_OUT"
exec "$root/tests/harness/with-clusters" --timeout 3000 bash "$root/bench/tables-inner.sh"

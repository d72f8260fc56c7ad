#!/usr/bin/env bash
# compare.sh: walpipe against the limits.  On one pair of throwaway clusters
# and the same WAL, each alone in turn: pg_recvlogical with walpipe's
# wal2json options to /dev/null (the decode limit), pg_recvlogical with
# pgoutput (pgoutput's decode limit), PostgreSQL's native logical
# replication (publication + subscription), walpipe mirroring into tables
# (a), walpipe with staging and tables (b) and walpipe on pgoutput into
# tables (p; CONTENDERS picks some of recv recvpg native wpa wpb wpp);
# three workloads (OLTP
# mix, one 1M-row transaction, wide rows with TOASTed values); then the
# commit-to-visible delay under a fixed-rate load.
#
# Usage: bench/compare.sh [BUILD_DIR]      (default: build)
# Sizes: OLTP_TXNS (40000 transactions of ~5 changes), HUGE_ROWS (1000000),
#        WIDE_TXNS (10000 of 2 changes), LAT_RATE (1000 tps of 5 changes),
#        LAT_SECONDS (20), REPEAT (2: passes over the same WAL, best kept;
#        the huge transaction runs once).
# SCHEDULING: walpipe's process.scheduling (batch, the default, or inherit:
#        the default policy, as before 2026-12-01).
# Results: bench/results/compare.md, compare.png, compare.dat.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
[ -x "$build/walpipe" ] || { echo "bench: build walpipe first (tests/run.sh)" >&2; exit 1; }
# Bench-only dependency: the chart.
if ! command -v gnuplot >/dev/null; then
	apt-get install -y -q --no-install-recommends gnuplot-nox >/dev/null ||
		echo "bench: no gnuplot, the chart will be missing" >&2
fi
export WALPIPE_BIN=$build/walpipe BENCH_OUT=$root/bench/results BENCH_ROOT=$root
mkdir -p "$BENCH_OUT"
exec "$root/tests/harness/with-clusters" --timeout 5400 bash "$root/bench/compare-inner.sh"

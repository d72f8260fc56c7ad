#!/usr/bin/env bash
# stream.sh: `walpipe stream > /dev/null` against `pg_recvlogical -f /dev/null`
# on the same slot contents, then peak RSS through a one-million-row
# transaction.  Usage: bench/stream.sh [BUILD_DIR] (default: build)
#
# Both consumers read identical copies of one slot (same WAL, same wal2json
# options), one at a time, so the ratio compares client cost on top of the
# same server-side decoding.  Results: bench/results/stream.md.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
[ -x "$build/walpipe" ] || { echo "bench: build walpipe first (tests/run.sh)" >&2; exit 1; }
export WALPIPE_BIN=$build/walpipe BENCH_OUT=$root/bench/results
mkdir -p "$BENCH_OUT"
exec "$root/tests/harness/with-clusters" --timeout 3000 bash "$root/bench/stream-inner.sh"

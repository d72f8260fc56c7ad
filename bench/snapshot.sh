#!/usr/bin/env bash
# snapshot.sh: the initial snapshot of one large table: rows/s with 1 and
# 2 readers, and walpipe's peak RSS (bounded memory: a batch per reader,
# whatever the table's size).  Usage: bench/snapshot.sh [BUILD_DIR] [ROWS]
# (defaults: build, 1000000 rows in each of two tables; BENCH_READERS="1 2"
# the reader counts to try).  Results: bench/results/snapshot.md.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
[ -x "$build/walpipe" ] || { echo "bench: build walpipe first (tests/run.sh)" >&2; exit 1; }
export WALPIPE_BIN=$build/walpipe BENCH_OUT=$root/bench/results BENCH_ROWS=${2:-1000000}
export BENCH_READERS=${BENCH_READERS:-1 2}
mkdir -p "$BENCH_OUT"
exec "$root/tests/harness/with-clusters" --timeout 3000 bash -c '
set -euo pipefail
src() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_SOURCE" "$@"; }
ana() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_ANALYTICS" "$@"; }
T=$WALPIPE_TEST_TMPDIR
src -c "CREATE TABLE big (id bigint PRIMARY KEY, a text, b numeric(12,2), c timestamptz, d jsonb, e boolean)" \
    -c "INSERT INTO big SELECT g, md5(g::text), g / 7.0, now(), jsonb_build_object(\$\$k\$\$, g), g % 2 = 0 FROM generate_series(1, $BENCH_ROWS) g" \
    -c "CREATE TABLE big2 (LIKE big INCLUDING ALL)" -c "INSERT INTO big2 SELECT * FROM big" -c "VACUUM ANALYZE"
ana -c "CREATE TABLE f (id bigint PRIMARY KEY, a text, b numeric, c timestamptz, d jsonb, e boolean)" \
    -c "CREATE TABLE f2 (LIKE f INCLUDING ALL)"
echo "| readers | tables | rows | seconds | rows/s | peak RSS (MB) |" >"$BENCH_OUT/snapshot.md"
echo "|---|---|---|---|---|---|" >>"$BENCH_OUT/snapshot.md"
for w in $BENCH_READERS; do
	ana -c "DROP SCHEMA IF EXISTS walpipe CASCADE" -c "DROP SCHEMA IF EXISTS staging CASCADE" -c "TRUNCATE f, f2" >/dev/null 2>&1
	# The last run'"'"'s walsender may still be exiting: drop when inactive.
	while [ "$(src -c "SELECT count(*) FROM pg_replication_slots")" != 0 ]; do
		src -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active" >/dev/null
		sleep 0.2
	done
	cat >"$T/c.yaml" <<YAML
source: { name: bench, conninfo: "$WALPIPE_TEST_SOURCE", slot: bench, create_slot: true, tables: [public.big, public.big2] }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS" }
staging: { table: staging.raw }
snapshot: { workers: $w }
mappings:
  - { from: public.big, to: public.f, key: [id], columns: { id: id, a: a, b: b, c: c, d: d, e: e } }
  - { from: public.big2, to: public.f2, key: [id], columns: { id: id, a: a, b: b, c: c, d: d, e: e } }
YAML
	rm -f "$T/run.log"
	t0=$(date +%s.%N)
	"$WALPIPE_BIN" run -c "$T/c.yaml" 2>"$T/run.log" &
	pid=$!
	until grep -q "snapshot (initial) done" "$T/run.log" 2>/dev/null; do sleep 0.5; kill -0 $pid || { cat "$T/run.log"; exit 1; }; done
	t1=$(date +%s.%N)
	rss=$(awk "/^VmHWM/ { print int(\$2 / 1024) }" /proc/$pid/status)
	kill -TERM $pid; wait $pid || true
	rows=$(ana -c "SELECT (SELECT count(*) FROM f) + (SELECT count(*) FROM f2)")
	secs=$(echo "$t1 - $t0" | bc)
	echo "| $w | 2 | $rows | $secs | $(echo "$rows / $secs" | bc) | $rss |" >>"$BENCH_OUT/snapshot.md"
	grep "snapshot" "$T/run.log" | tail -4
done
cat "$BENCH_OUT/snapshot.md"
'

# run_shards.sh: several sources into one analytics database, the normal
# deployment (issue 15, item 11): N walpipes, one per shard, started at the
# same moment, sharing the staging table (day partitions, many made ahead)
# and one fact table, while a "DBA" runs the partition maintenance too.
# Every walpipe must come up and stay up, and each shard's facts and
# staging rows must be exact.  Before the fix two of them racing to create
# the same partition died with "relation ... already exists".
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR
N=${WALPIPE_SHARDS:-5}

ana -c "CREATE SCHEMA analytics" \
	-c "CREATE TABLE analytics.fact_items (id int PRIMARY KEY, v text, shard text)"
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done' EXIT
for n in $(seq 1 "$N"); do
	pgc_psql source postgres -c "CREATE DATABASE shard$n"
	pgc_psql source "shard$n" -c "CREATE TABLE items (id int PRIMARY KEY, v text)" \
		-c "INSERT INTO items SELECT $n * 10000 + g, 'v' || g FROM generate_series(1, 100) g"
	cat >"$T/shard$n.yaml" <<EOF
source: { name: shard$n, conninfo: "$(pgc_conninfo source "shard$n")", slot: walpipe_shard$n,
          create_slot: true, tables: [public.items] }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS", schema: walpipe }
batch: { max_changes: 100, max_bytes: 16MB, max_delay: 50ms }
staging: { table: staging.raw_events, partition: day, premake: 36 }
mappings:
  - { from: public.items, to: analytics.fact_items, key: [id],
      columns: { id: id, v: v, shard: \$source } }
EOF
done
# All at once, and a DBA's maintenance beside them.
for n in $(seq 1 "$N"); do
	"$WALPIPE_BIN" run -c "$T/shard$n.yaml" 2>"$T/shard$n.log" &
	pids+=($!)
done
for _ in $(seq 1 20); do
	ana -c "SELECT walpipe.ensure_partitions('staging.raw_events', 'day', 36)" >/dev/null 2>&1 || true
done
for n in $(seq 1 "$N"); do
	wait_sql ana "SELECT count(*) = 1 FROM walpipe.snapshot_tables WHERE source = 'shard$n' AND state = 'done'" "${pids[$((n - 1))]}" ||
		{ cat "$T/shard$n.log"; fail "shard$n did not come up"; }
done
for n in $(seq 1 "$N"); do
	pgc_psql source "shard$n" -c "INSERT INTO items SELECT $n * 10000 + g, 'new' FROM generate_series(101, 150) g" \
		-c "UPDATE items SET v = 'upd' WHERE id % 3 = 0" -c "DELETE FROM items WHERE id % 7 = 0"
done
for n in $(seq 1 "$N"); do
	end=$(pgc_psql source "shard$n" -c "SELECT pg_current_wal_lsn()")
	wait_sql ana "SELECT coalesce((SELECT lsn FROM walpipe.checkpoints WHERE source = 'shard$n'), '0/0') >= '$end'" "${pids[$((n - 1))]}" ||
		{ cat "$T/shard$n.log"; fail "shard$n did not catch up"; }
done
for n in $(seq 1 "$N"); do
	assert_eq "shard$n: facts exact" \
		"$(pgc_psql source "shard$n" -c "SELECT count(*) || ':' || md5(string_agg(id || '/' || v, ',' ORDER BY id)) FROM items")" \
		"$(ana -c "SELECT count(*) || ':' || md5(string_agg(id || '/' || v, ',' ORDER BY id)) FROM analytics.fact_items WHERE shard = 'shard$n'")"
	# Every row the snapshot copied (100) and every streamed change: 50
	# inserts, the updates of the multiples of 3 and the deletes of the
	# multiples of 7 among the 150 ids.
	want=$(pgc_psql source "shard$n" -c "SELECT 100 + 50 + count(*) FILTER (WHERE g % 3 = 0) + count(*) FILTER (WHERE g % 7 = 0) FROM generate_series($n * 10000 + 1, $n * 10000 + 150) g")
	assert_eq "shard$n: staging rows" "$want" "$(ana -c "SELECT count(*) FROM staging.raw_events WHERE source = 'shard$n'")"
	grep -q 'error' "$T/shard$n.log" && { cat "$T/shard$n.log"; fail "shard$n logged an error"; }
done
assert_eq "the partitions made ahead, once each, and the default" 38 \
	"$(ana -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'staging.raw_events'::regclass")"
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || fail "a walpipe exited non-zero"; done
pids=()
echo "ok: run_shards"

# kafka_snapshot.sh: the initial snapshot, then an online backfill, to
# Kafka (issue 20, item 1; issue 18, item 5).  The initial snapshot: a
# source with existing rows; walpipe copies them and produces each as
# Debezium's read event (op r, source.snapshot as Debezium 2.x marks it:
# "first", "first_in_data_collection", "true", "last_in_data_collection",
# "last"), at the slot's consistent point, while a workload changes the
# source; then streams from exactly there.  Replaying each topic (last
# message per key) gives the source table: no gap, no overlap.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
. "$WALPIPE_SOURCE_DIR/tests/integration/kafka_lib.sh"
T=$WALPIPE_TEST_TMPDIR

mock_start
run_setup_schema
run_workload 11 1500
read -r users0 orders0 < <(src -c "SELECT count(*) FROM users" -c "SELECT count(*) FROM orders" | xargs)
kafka_config "$T/shop.yaml"
sed -i 's|^kafka:$|snapshot: { mode: initial, workers: 2 }\n&|' "$T/shop.yaml"
run_start "$T/shop.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
(run_workload 12 300; run_small_txns 30) >"$T/workload.log" 2>&1 &
wl=$!
wait "$wl" || { cat "$T/workload.log"; fail "workload failed"; }
wait_slot_at "$(src -c "SELECT pg_current_wal_lsn()")" "$pid"

kafka_load km
snap=$(ana -c "SELECT DISTINCT snapshot_lsn FROM walpipe.snapshot_tables")
echo "snapshot at $snap: $users0 users, $orders0 orders"
assert_eq "one read event per existing row: users, orders" "$users0 $orders0" \
	"$(ana -c "SELECT count(*) FILTER (WHERE topic = 'shop.public.users'), count(*) FILTER (WHERE topic = 'shop.public.orders') FROM km_v WHERE op = 'r'" | tr '|' ' ')"
assert_eq "read events: op r, at the snapshot's point, one first, one last, a first and last in the other table" \
	"$users0 $orders0 1 1 1 1 0" \
	"$(ana -c "SELECT count(*) FILTER (WHERE topic = 'shop.public.users'), count(*) FILTER (WHERE topic = 'shop.public.orders'),
		count(*) FILTER (WHERE value->'source'->>'snapshot' = 'first'),
		count(*) FILTER (WHERE value->'source'->>'snapshot' = 'last'),
		count(*) FILTER (WHERE value->'source'->>'snapshot' = 'first_in_data_collection'),
		count(*) FILTER (WHERE value->'source'->>'snapshot' = 'last_in_data_collection'),
		count(*) FILTER (WHERE value->'source'->>'snapshot' NOT IN ('true', 'first', 'last', 'first_in_data_collection', 'last_in_data_collection') OR lsn <> '$snap' OR value->>'op' <> 'r' OR value->'before' <> 'null')
		FROM km_v WHERE op = 'r'" | tr '|' ' ')"
# Debezium 2.x's markers: each table's first row (txn_pos 1) first or
# first_in_data_collection, its last one last or last_in_data_collection,
# first and last in different tables, everything else true.
assert_eq "source.snapshot marks each table's first and last row" "0 t" \
	"$(ana -c "WITH r AS (SELECT topic, txn_pos, value->'source'->>'snapshot' AS m,
		max(txn_pos) OVER (PARTITION BY topic) AS n FROM km_v WHERE op = 'r')
		SELECT count(*) FILTER (WHERE CASE WHEN txn_pos = n THEN m NOT IN ('last', 'last_in_data_collection')
			WHEN txn_pos = 1 THEN m NOT IN ('first', 'first_in_data_collection') ELSE m <> 'true' END),
		(SELECT count(DISTINCT topic) = 2 FROM r WHERE m IN ('first', 'last')) FROM r" | tr '|' ' ')"
assert_eq "the stream starts after the snapshot's point" 0 \
	"$(ana -c "SELECT count(*) FROM km_v WHERE op <> 'r' AND txn_end <= '$snap'")"
assert_eq "the stream has changes too" t "$(ana -c "SELECT count(*) > 100 FROM km_v WHERE op <> 'r'")"
# Replay: per key, the last message (reads first, then the stream in
# source order; a tombstone after its delete) says whether and how the
# row exists.
replay() { # TOPIC COLUMNS
	ana -c "SELECT md5(coalesce(string_agg(r, ',' ORDER BY r), '')) FROM (
		SELECT DISTINCT ON (key) key, value, op FROM km_v WHERE topic = '$1'
		ORDER BY key, txn_end DESC, txn_pos DESC, value IS NULL DESC) last,
		LATERAL (SELECT format('%s', ARRAY[$2]) AS r) f WHERE op <> 'd' AND value IS NOT NULL"
}
src_set() { # TABLE COLUMNS
	src -c "SELECT md5(coalesce(string_agg(r, ',' ORDER BY r), '')) FROM (SELECT format('%s', ARRAY[$2]) AS r FROM $1) x"
}
assert_eq "replaying users gives the source's users" \
	"$(src_set users "id::text, name, email")" \
	"$(replay shop.public.users "value->'after'->>'id', value->'after'->>'name', value->'after'->>'email'")"
assert_eq "replaying orders gives the source's orders" \
	"$(src_set orders "id::text, user_id::text, status")" \
	"$(replay shop.public.orders "value->'after'->>'id', value->'after'->>'user_id', value->'after'->>'status'")"
assert_contains "the log says so" "existing row(s) of 2 table(s) to Kafka as read events at $snap" "$(cat "$T/run.log")"

# An online backfill of orders (walpipe snapshot --table) produces its
# rows as read events too, delivered before each chunk commits; replaying
# the topic (the backfill's reads at their position in the stream) still
# gives the source's orders.
(run_small_txns 40) >"$T/workload.log" 2>&1 &
wl=$!
"$WALPIPE_BIN" snapshot -c "$T/shop.yaml" --table public.orders 2>"$T/backfill.log" ||
	{ cat "$T/backfill.log"; fail "walpipe snapshot --table failed"; }
wait "$wl" || { cat "$T/workload.log"; fail "workload failed"; }
wait_slot_at "$(src -c "SELECT pg_current_wal_lsn()")" "$pid"
kafka_load km2
read -r bf_rows bf_chunks < <(ana -c "SELECT rows_copied, chunks FROM walpipe.backfills WHERE source_table = 'public.orders'" | tr '|' ' ')
assert_eq "one read event per backfilled row, each incremental (as Debezium's incremental snapshot)" "$bf_rows $bf_rows" \
	"$(ana -c "SELECT count(*), count(*) FILTER (WHERE value->'source'->>'snapshot' = 'incremental') FROM km2_v WHERE op = 'r' AND topic = 'shop.public.orders' AND lsn > '$snap'" | tr '|' ' ')"
assert_eq "replaying orders after the backfill gives the source's orders" \
	"$(src_set orders "id::text, user_id::text, status")" \
	"$(ana -c "SELECT md5(coalesce(string_agg(r, ',' ORDER BY r), '')) FROM (
		SELECT DISTINCT ON (key) key, value, op FROM km2_v WHERE topic = 'shop.public.orders'
		ORDER BY key, txn_end DESC, (op = 'r') DESC, txn_pos DESC, value IS NULL DESC) last,
		LATERAL (SELECT format('%s', ARRAY[value->'after'->>'id', value->'after'->>'user_id', value->'after'->>'status']) AS r) f WHERE op <> 'd' AND value IS NOT NULL")"

kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
trap - EXIT
assert_eq "SIGTERM exits 0" 0 "$rc"
mock_stop

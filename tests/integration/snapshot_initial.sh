# snapshot_initial.sh: a source with existing rows in three tables; walpipe
# copies them in an exported snapshot, two tables at a time, while a
# workload changes the source, then streams from the slot's consistent
# point: facts equal the source, staging has one 'r' row per copied row and
# one row per change.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/snapshot_lib.sh"

run_setup_schema
snap_seed_rows "${WALPIPE_SNAPSHOT_ROWS:-300000}"
read -r users0 orders0 events0 < <(src -c "SELECT count(*) FROM users" -c "SELECT count(*) FROM orders" -c "SELECT count(*) FROM order_events" | xargs)
port=$(pgc_free_port)
BATCH_CHANGES=2000 run_config "$T/shop.yaml" "snapshot: { mode: initial, workers: 2 }
metrics: { listen: \"127.0.0.1:$port\" }"

"$WALPIPE_BIN" run -c "$T/shop.yaml" 2>"$T/run.log" &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true' EXIT
snap_witness "$pid"
# The workload runs while the tables are being copied.
wl_start=$(src -c "SELECT clock_timestamp()")
(run_workload 12 300; run_small_txns 40; run_workload 13 200) >"$T/workload.log" 2>&1 &
wl=$!
"$WALPIPE_BIN" status -c "$T/shop.yaml" >"$T/status.txt" || true
snap_wait_done "$pid" "$T/run.log"
wait "$wl" || { cat "$T/workload.log"; fail "workload failed"; }
wait_caught_up "$pid" || { tail -30 "$T/run.log"; fail "did not catch up"; }

assert_eq "the workload ran during the snapshot" t \
	"$(ana -c "SELECT max(finished_at) > '$wl_start' FROM walpipe.snapshot_tables")"
assert_eq "every table copied at the slot's consistent point" \
	"$(src -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'witness'")" \
	"$(ana -c "SELECT DISTINCT snapshot_lsn FROM walpipe.snapshot_tables")"
assert_eq "rows copied: users, orders, order_events" "$users0 $orders0 $events0" \
	"$(ana -c "SELECT rows_copied FROM walpipe.snapshot_tables ORDER BY source_table = 'public.order_events', source_table DESC" | xargs)"
assert_eq "one 'r' staging row per copied row" "$users0 $orders0 $events0" \
	"$(ana -c "SELECT count(*) FILTER (WHERE source_table = 'users'), count(*) FILTER (WHERE source_table = 'orders'), count(*) FILTER (WHERE source_table = 'order_events') FROM staging.raw_events WHERE op = 'r'" | tr '|' ' ')"
assert_eq "copied fact rows carry \$op r" "$(ana -c "SELECT count(*) > 0 FROM analytics.fact_users WHERE op = 'r'")" t
snap_assert_exact "after the initial snapshot"
# order_events only gets inserts: each event is a copied row or an insert
# the stream delivered, never both (no overlap between copy and stream).
assert_eq "order_events staging rows are copies or inserts, each once" \
	"$(src -c "SELECT count(*) FROM order_events")" \
	"$(ana -c "SELECT count(*) FROM staging.raw_events WHERE source_table = 'order_events' AND op IN ('r', 'I')")"
grep -q 'holds the source.s WAL' "$T/run.log" || fail "the log does not say the slot holds WAL during the snapshot"
grep -q 'snapshot (initial) done' "$T/run.log" || fail "no snapshot summary in the log"

# walpipe status shows the per-table progress.
"$WALPIPE_BIN" status -c "$T/shop.yaml" --json >"$T/status.json"
assert_eq "status: order_events done with its row count" "done $events0" \
	"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["snapshot public.order_events"]; print(d["state"], d["rows_copied"])' "$T/status.json")"

# ... and so do the metrics.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
cat <&3 >"$T/metrics"
exec 3<&-
assert_eq "metrics: order_events rows copied, done" "$events0 1" \
	"$(awk '/^walpipe_snapshot_rows_copied\{source="shop",table="public.order_events"\}/ { r = $2 } /^walpipe_snapshot_table_done\{source="shop",table="public.order_events"\}/ { d = $2 } END { print r, d }' "$T/metrics")"
kill -TERM "$pid"; wait "$pid" || true
trap - EXIT

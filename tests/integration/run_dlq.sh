# run_dlq.sh: rows failing their mapping (a cast, a NULL into NOT NULL)
# go to the dead letter table with their error; all other rows of the
# batch are applied.  And an idle source's slot keeps advancing.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

run_setup_schema
BATCH_CHANGES=1000 run_config "$T/shop.yaml"
run_start "$T/shop.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT

# 100 events in one transaction: 3 with an order_id that is no bigint,
# 2 with none (NOT NULL in the fact table).
src -c "INSERT INTO order_events (order_id, kind, value, payload)
	SELECT g, 'e', g, CASE WHEN g IN (10, 50, 90) THEN jsonb_build_object('order_id', 'x' || g)
	                       WHEN g IN (20, 60) THEN '{}'::jsonb
	                       ELSE jsonb_build_object('order_id', g) END
	FROM generate_series(1, 100) g"
wait_caught_up "$pid" || { cat "$T/run.log"; fail "no catch up"; }

assert_eq "good rows applied" 95 "$(ana -c "SELECT count(*) FROM analytics.fact_user_events")"
assert_eq "bad rows are dead letters" 5 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters WHERE NOT resolved")"
assert_eq "cast errors recorded with their text" \
	'invalid input syntax for type bigint: "x10"|invalid input syntax for type bigint: "x50"|invalid input syntax for type bigint: "x90"' \
	"$(ana -c "SELECT string_agg(error, '|' ORDER BY error) FROM walpipe.dead_letters WHERE sqlstate = '22P02'")"
assert_eq "NOT NULL violations recorded" 2 \
	"$(ana -c "SELECT count(*) FROM walpipe.dead_letters WHERE sqlstate = '23502' AND error LIKE 'null value in column \"order_id\"%'")"
assert_eq "dead letters carry source, tables and payload" "shop public.order_events analytics.fact_user_events 20" \
	"$(ana -c "SELECT source, source_table, target_table, payload->'columns'->0->>'value' FROM walpipe.dead_letters WHERE sqlstate = '23502' ORDER BY lsn LIMIT 1" | tr '|' ' ')"
assert_eq "staging still has every change" 100 "$(ana -c "SELECT count(*) FROM staging.raw_events")"
assert_eq "the good rows are the right ones" 0 \
	"$(ana -c "SELECT count(*) FROM analytics.fact_user_events WHERE order_id IN (10, 20, 50, 60, 90)")"

# The operator's view: list, resolve by id, resolve the rest.
list=$("$WALPIPE_BIN" dlq list -c "$T/shop.yaml")
assert_contains "dlq list shows the cast error" 'invalid input syntax for type bigint: "x50" (22P02)' "$list"
assert_contains "dlq list counts" '(5 dead letters)' "$list"
first=$(ana -c "SELECT min(id) FROM walpipe.dead_letters")
assert_eq "dlq resolve --id" "resolved 1 dead letter(s)" "$("$WALPIPE_BIN" dlq resolve -c "$T/shop.yaml" --id "$first")"
assert_contains "pending after one resolve" '(4 dead letters)' "$("$WALPIPE_BIN" dlq list -c "$T/shop.yaml")"
assert_eq "dlq resolve --all" "resolved 4 dead letter(s)" "$("$WALPIPE_BIN" dlq resolve -c "$T/shop.yaml" --all)"
assert_contains "resolved ones stay on record" '(5 dead letters)' "$("$WALPIPE_BIN" dlq list -c "$T/shop.yaml" --all)"

# Idle: WAL written elsewhere moves the checkpoint and then the slot.
pgc_psql source postgres -c "CREATE TABLE noise AS SELECT g FROM generate_series(1, 10000) g"
target=$(src -c "SELECT pg_current_wal_lsn()")
moved=f
for _ in $(seq 1 100); do
	moved=$(src -c "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'")
	[ "$moved" = t ] && break
	sleep 0.3
done
assert_eq "idle source: slot advances past unrelated WAL" t "$moved"
assert_eq "idle source: checkpoint is at or ahead of the slot" t \
	"$(ana -c "SELECT lsn >= '$target' FROM walpipe.checkpoints WHERE source = 'shop'")"
kill -TERM "$pid"; wait "$pid" || true
trap - EXIT

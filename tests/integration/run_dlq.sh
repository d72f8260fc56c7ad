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

list=$("$WALPIPE_BIN" dlq list -c "$T/shop.yaml")
assert_contains "dlq list shows the cast error" 'invalid input syntax for type bigint: "x50" (22P02)' "$list"
assert_contains "dlq list counts" '(5 dead letters)' "$list"

# Upsert dead letters (amount is NOT NULL in fact_orders), each change in
# a batch of its own so nothing merges: 8000 fails, then a later update
# fixes it on the source; 8001 fails twice; 8002 fails, then is deleted.
for sql in "INSERT INTO orders VALUES (8000, 1, NULL, 'a', now()), (8001, 1, NULL, 'b', now()), (8002, 1, NULL, 'c', now())" \
	"UPDATE orders SET amount = 5, status = 'fixed' WHERE id = 8000" \
	"UPDATE orders SET status = 'b2' WHERE id = 8001" \
	"DELETE FROM orders WHERE id = 8002"; do
	src -c "$sql"
	wait_caught_up "$pid"
done
assert_eq "upsert dead letters" 4 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters WHERE target_table = 'analytics.fact_orders'")"

# Retry before any fix, with walpipe running: 8000 takes the source row as
# it is now (not the failed insert's NULL), 8002 is gone on the source; the
# rest fail again with one more attempt.
set +e
out=$("$WALPIPE_BIN" dlq retry -c "$T/shop.yaml" --all)
rc=$?
set -e
assert_eq "retry with failures exits 1" 1 "$rc"
assert_contains "retry summary" "retried 9 dead letter(s): 2 applied, 7 failed again" "$out"
assert_contains "a failure says why" 'failed again: null value in column "amount"' "$out"
assert_eq "retried upsert is the current source row" "5.0000|fixed" \
	"$(ana -c "SELECT amount, status FROM analytics.fact_orders WHERE order_id = 8000")"
assert_eq "retry of a row deleted since leaves no row" 0 \
	"$(ana -c "SELECT count(*) FROM analytics.fact_orders WHERE order_id = 8002")"
assert_eq "failed retries count their attempts" "7 2" \
	"$(ana -c "SELECT count(*), min(attempts) FROM walpipe.dead_letters WHERE NOT resolved" | tr '|' ' ')"

# The operator fixes the analytics side; retry by id, then the rest.
ana -c "ALTER TABLE analytics.fact_orders ALTER amount DROP NOT NULL;
	ALTER TABLE analytics.fact_user_events ALTER order_id DROP NOT NULL"
ids=$(ana -c "SELECT string_agg('--id=' || id, ' ') FROM walpipe.dead_letters WHERE target_table = 'analytics.fact_orders' AND NOT resolved")
# shellcheck disable=SC2086
assert_contains "retry by id" "retried 2 dead letter(s): 2 applied, 0 failed again" \
	"$("$WALPIPE_BIN" dlq retry -c "$T/shop.yaml" $ids)"
assert_eq "8001 as on the source" "|b2" \
	"$(ana -c "SELECT amount, status FROM analytics.fact_orders WHERE order_id = 8001")"
"$WALPIPE_BIN" dlq retry -c "$T/shop.yaml" --all >"$T/retry.out" || true
assert_contains "append rows with a NULL key apply now; casts still fail" \
	"retried 5 dead letter(s): 2 applied, 3 failed again" "$(cat "$T/retry.out")"
assert_eq "retried appends are in the fact table" 97 "$(ana -c "SELECT count(*) FROM analytics.fact_user_events")"
assert_eq "the cast errors keep their text" 3 \
	"$(ana -c "SELECT count(*) FROM walpipe.dead_letters WHERE NOT resolved AND attempts = 3 AND error LIKE 'invalid input syntax for type bigint%'")"
src -c "INSERT INTO orders VALUES (8003, 1, 3, 'after', now())"
wait_caught_up "$pid"
assert_eq "walpipe run went on beside the retries" "after" \
	"$(ana -c "SELECT status FROM analytics.fact_orders WHERE order_id = 8003")"
read -r s_users s_orders s_events < <(src_checksums | xargs)
read -r a_users a_orders a_events < <(ana_checksums | xargs)
assert_eq "fact_orders equals the source after the retries" "$s_orders" "$a_orders"

# The operator's view: resolve by id, resolve the rest.
first=$(ana -c "SELECT min(id) FROM walpipe.dead_letters WHERE NOT resolved")
assert_eq "dlq resolve --id" "resolved 1 dead letter(s)" "$("$WALPIPE_BIN" dlq resolve -c "$T/shop.yaml" --id "$first")"
assert_contains "pending after one resolve" '(2 dead letters)' "$("$WALPIPE_BIN" dlq list -c "$T/shop.yaml")"
assert_eq "dlq resolve --all" "resolved 2 dead letter(s)" "$("$WALPIPE_BIN" dlq resolve -c "$T/shop.yaml" --all)"
assert_contains "resolved ones stay on record" '(9 dead letters)' "$("$WALPIPE_BIN" dlq list -c "$T/shop.yaml" --all)"

# A value with an escape sequence: dlq list shows it escaped, never raw
# (issue 15, item 9).
src -c "INSERT INTO order_events (order_id, kind, value, payload) VALUES (777, 'e', 1, jsonb_build_object('order_id', E'\\x1b[31mred\\r'))"
wait_caught_up "$pid"
"$WALPIPE_BIN" dlq list -c "$T/shop.yaml" >"$T/list.txt"
assert_contains "control bytes shown escaped" 'invalid input syntax for type bigint: "\x1b[31mred\x0d" (22P02)' "$(cat "$T/list.txt")"
assert_eq "no raw control byte reaches the terminal" 0 "$(LC_ALL=C grep -c $'[\x01-\x08\x0b-\x1f\x7f]' "$T/list.txt" || true)"

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

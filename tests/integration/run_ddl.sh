# run_ddl.sh: source tables change shape under `walpipe run`.  Enum, domain,
# char(n) and generated columns map; a widened numeric keeps its digits; an
# added column changes nothing; a dropped mapped column stops walpipe with
# the mapping's error after applying everything before it, and after the
# mapping is fixed the rest arrives exactly once.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

run_setup_schema
src -c "CREATE TYPE mood AS ENUM ('sad', 'ok');
	CREATE DOMAIN posint AS int CHECK (VALUE > 0);
	ALTER TABLE orders ADD COLUMN mood mood, ADD COLUMN qty posint,
	  ADD COLUMN twice bigint GENERATED ALWAYS AS (id * 2) STORED,
	  ADD COLUMN code char(5)"
ana -c "ALTER TABLE analytics.fact_orders ADD COLUMN mood text,
	ADD COLUMN qty int, ADD COLUMN code text"
run_config "$T/shop.yaml"
# Map the three extra columns too (after "placed_at: created_at").
sed -i 's/^      placed_at: created_at$/      placed_at: created_at\n      mood: mood\n      qty: qty\n      code: code/' "$T/shop.yaml"
"$WALPIPE_BIN" check -q -c "$T/shop.yaml"
run_start "$T/shop.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT

src -c "INSERT INTO orders VALUES (1, 1, 1, 'a', now(), 'ok', 3, DEFAULT, 'ab')"
wait_caught_up "$pid"
# char(5) 'ab' is 'ab   '; into text it is 'ab', as code::text on the source.
assert_eq "enum, domain and char(n) columns arrive as text and int" "ok|3|ab" \
	"$(ana -c "SELECT mood, qty, code FROM analytics.fact_orders WHERE order_id = 1")"

# A column added on the source is not in the mapping: nothing changes.
src -c "ALTER TABLE orders ADD COLUMN note text;
	INSERT INTO orders VALUES (2, 1, 2, 'b', now(), 'sad', 4, DEFAULT, 'abcde', 'n')"
# Widened numeric: the temp table must not round to the old scale.
src -c "ALTER TABLE orders ALTER COLUMN amount TYPE numeric(20,4);
	INSERT INTO orders (id, user_id, amount, status) VALUES (3, 1, 1.12345, 'c')"
wait_caught_up "$pid"
assert_eq "row after ADD COLUMN applied" "b" \
	"$(ana -c "SELECT status FROM analytics.fact_orders WHERE order_id = 2")"
assert_eq "widened numeric keeps its new scale" "1.1235" \
	"$(ana -c "SELECT amount FROM analytics.fact_orders WHERE order_id = 3")"

# Drop a mapped column between two inserts of one transaction.
src -c "BEGIN; INSERT INTO orders (id, user_id, amount, status) VALUES (5, 1, 5, 'd');
	ALTER TABLE orders DROP COLUMN status;
	INSERT INTO orders (id, user_id, amount) VALUES (6, 1, 6); COMMIT"
set +e
wait "$pid"
rc=$?
set -e
trap - EXIT
assert_eq "dropped mapped column: exit status 1" 1 "$rc"
assert_contains "the shape change is logged" \
	'source table "public.orders" changed shape: the insert at' "$(cat "$T/run.log")"
assert_contains "the mapping error names the column" \
	'column "status" of mapping public.orders -> analytics.fact_orders does not exist in the source table' \
	"$(cat "$T/run.log")"
assert_eq "the insert before the drop was applied" "d" \
	"$(ana -c "SELECT status FROM analytics.fact_orders WHERE order_id = 5")"
assert_eq "the insert after the drop was not" 0 \
	"$(ana -c "SELECT count(*) FROM analytics.fact_orders WHERE order_id = 6")"
assert_eq "no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"

# The operator takes status out of the mapping and restarts.
sed -i '/^      status: status$/d' "$T/shop.yaml"
staged=$(ana -c "SELECT count(*) FROM staging.raw_events WHERE op <> 'r'")
run_start "$T/shop.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
src -c "INSERT INTO orders (id, user_id, amount) VALUES (7, 1, 7)"
wait_caught_up "$pid"
assert_eq "after the fix, the rest arrives" "6|6.0000,7|7.0000" \
	"$(ana -c "SELECT string_agg(order_id || '|' || amount, ',' ORDER BY order_id) FROM analytics.fact_orders WHERE order_id > 5")"
assert_eq "staging: the two later inserts once each" $((staged + 2)) \
	"$(ana -c "SELECT count(*) FROM staging.raw_events WHERE op <> 'r'")"
# The mapping changed (a column less): its rows are rewritten online.
wait_sql ana "SELECT state = 'done' AND reason = 'changed' FROM walpipe.backfills WHERE source_table = 'public.orders'" "$pid"
kill -TERM "$pid"
wait "$pid"
trap - EXIT

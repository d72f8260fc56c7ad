# run_ckpt_guard.sh: a checkpoint moved by another session (a killed
# walpipe whose backend commits its last batch late) is never overwritten:
# the running walpipe's write is refused, it starts over from the stored
# checkpoint and does not apply what that checkpoint covers a second time.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

run_setup_schema
run_config "$T/shop.yaml"
run_start "$T/shop.yaml" "$T/run.log"
trap 'kill -CONT $pid 2>/dev/null; kill -9 $pid 2>/dev/null || true' EXIT
src -c "INSERT INTO order_events (order_id, kind, value, payload) VALUES (1, 'a', 1, '{\"order_id\": 1}')"
wait_caught_up "$pid"

# Frozen walpipe; events 2 and 3 happen; "another session" records them
# as applied (without the rows, so a second application would show).
kill -STOP "$pid"
src -c "INSERT INTO order_events (order_id, kind, value, payload) VALUES (2, 'b', 1, '{\"order_id\": 2}')"
src -c "INSERT INTO order_events (order_id, kind, value, payload) VALUES (3, 'c', 1, '{\"order_id\": 3}')"
moved=$(src -c "SELECT pg_current_wal_lsn()")
ana -c "UPDATE walpipe.checkpoints SET lsn = '$moved', txn_end = NULL, txn_applied = 0 WHERE source = 'shop'"
kill -CONT "$pid"
src -c "INSERT INTO order_events (order_id, kind, value, payload) VALUES (4, 'd', 1, '{\"order_id\": 4}')"
wait_caught_up "$pid"
kill -0 "$pid" || fail "walpipe exited"

assert_contains "the write over a moved checkpoint is refused" \
	'the checkpoint of source "shop" was moved by another session' "$(cat "$T/run.log")"
assert_eq "what the moved checkpoint covers is not applied again" "1,4" \
	"$(ana -c "SELECT string_agg(order_id::text, ',' ORDER BY order_id) FROM analytics.fact_user_events")"
kill -TERM "$pid"; wait "$pid" || true
trap - EXIT

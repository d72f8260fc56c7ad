# heartbeat.sh: with source.heartbeat, an idle source's slot keeps moving,
# and a stalled walsender (SIGSTOP) is detected and walpipe reconnects.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

run_setup_schema
run_config "$T/shop.yaml"
sed -i 's/^  create_slot: true$/  create_slot: true\n  heartbeat: 1s\n  status_interval: 1s/' "$T/shop.yaml"
"$WALPIPE_BIN" check -q -c "$T/shop.yaml"
run_start "$T/shop.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true; [ -n "${ws:-}" ] && kill -CONT "$ws" 2>/dev/null || true' EXIT

# Idle: nothing happens on the source but the heartbeat.
sleep 1
before=$(src -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'")
sleep 4
after=$(src -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'")

assert_eq "idle source: heartbeats move the slot" t "$(src -c "SELECT '$after'::pg_lsn > '$before'::pg_lsn")"

# Freeze the walsender: the heartbeat stops coming back.
ws=$(src -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'")
kill -STOP "$ws"
for _ in $(seq 1 100); do grep -q 'has not come back' "$T/run.log" && break; sleep 0.1; done
grep -q 'has not come back' "$T/run.log" || fail "stalled walsender not detected"
echo "ok: stalled walsender detected"
kill -CONT "$ws"; ws=
src -c "INSERT INTO orders VALUES (1, 1, 1, 'after', now())"
wait_caught_up "$pid"
assert_eq "recovered after the stall" after "$(ana -c "SELECT status FROM analytics.fact_orders WHERE order_id = 1")"
assert_eq "heartbeats are not staged" 0 "$(ana -c "SELECT count(*) FROM staging.raw_events WHERE op = 'M'")"
kill -TERM "$pid"; wait "$pid" || true
trap - EXIT

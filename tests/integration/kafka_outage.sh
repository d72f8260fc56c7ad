# kafka_outage.sh: the slot never moves past what Kafka has not taken.
# With the mock cluster's brokers down the analytics side goes on but the
# slot stays; failing produce requests are retried; a full producer queue
# stops reading the stream while status updates keep the walsender
# alive; after recovery every change is in Kafka exactly once, in order
# per key.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
. "$WALPIPE_SOURCE_DIR/tests/integration/kafka_lib.sh"
T=$WALPIPE_TEST_TMPDIR

mock_start
run_setup_schema
# A small producer queue, so that an outage fills it quickly.
kafka_config "$T/shop.yaml" "    queue.buffering.max.messages: 300"
run_start "$T/shop.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
src -c "SELECT 1 FROM pg_copy_logical_replication_slot('walpipe_shop', 'witness', false, 'wal2json')" >/dev/null

run_workload 42 100
wait_slot_at "$(src -c "SELECT pg_current_wal_lsn()")" "$pid"
echo "ok: delivered with the brokers up"

# 1. Brokers down: analytics goes on, the slot stays.
mock_cmd down
held=$(slot_confirmed)
run_small_txns 10
wait_caught_up "$pid"
sleep 3
assert_eq "analytics applies while Kafka is down" t \
	"$(ana -c "SELECT lsn > '$held' FROM walpipe.checkpoints WHERE source = 'shop'")"
assert_slot_before "$(first_commit_after "$held")" "the slot does not move past undelivered messages"

# 2. Back up, but the first produce requests fail (NOT_LEADER_OR_FOLLOWER,
# then REQUEST_TIMED_OUT): the idempotent producer retries them.
mock_cmd produce-errors 5 6
mock_cmd produce-errors 5 7
mock_cmd up
wait_slot_at "$(src -c "SELECT pg_current_wal_lsn()")" "$pid"
echo "ok: the slot moves once Kafka has everything"

# 3. Back-pressure: brokers down and more changes than the queue holds.
mock_cmd down
held=$(slot_confirmed)
run_workload 44 300
sleep 12
assert_eq "walpipe stops reading: analytics is held back too" f \
	"$(ana -c "SELECT lsn >= pg_current_wal_lsn() FROM walpipe.checkpoints WHERE source = 'shop'" 2>/dev/null || src -c "SELECT false")"
assert_slot_before "$(first_commit_after "$held")" "the slot stays while the queue is full"
assert_eq "status updates go on: the walsender saw a reply in the last 3 s" t \
	"$(src -c "SELECT reply_time > now() - interval '3 s' FROM pg_stat_replication WHERE application_name = 'walpipe'")"
grep -q 'producer queue has been full' "$T/run.log" || { cat "$T/run.log"; fail "no back-pressure warning logged"; }
echo "ok: back-pressure warning logged"
mock_cmd up
end=$(src -c "SELECT pg_current_wal_lsn()")
wait_caught_up "$pid"
wait_slot_at "$end" "$pid"
grep -q 'queue has room again' "$T/run.log" || fail "no recovery logged"

kafka_load km
witness_load w
n=$(ana -c "SELECT count(*) FROM w")
assert_eq "every change delivered exactly once after the outages" "$n" "$(ana <<'SQL'
SELECT count(*) FROM w JOIN km_v k ON k.lsn = w.lsn AND k.topic = 'shop.public.' || w.tbl
  AND k.value IS NOT NULL AND k.key IS NOT DISTINCT FROM w.key
  AND k.value->'after' IS NOT DISTINCT FROM coalesce(w.after, 'null')
SQL
)"
assert_eq "nothing else delivered" "$n" "$(ana -c "SELECT count(*) FROM km_v WHERE value IS NOT NULL")"
assert_key_order km
assert_facts_exact

kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
trap - EXIT
assert_eq "SIGTERM exits 0" 0 "$rc"
mock_stop

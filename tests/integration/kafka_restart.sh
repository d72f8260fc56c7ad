# kafka_restart.sh: restart rules of the Kafka sink.  Transactions Kafka
# had when walpipe was killed (the slot was confirmed past them) are not
# sent again; those it did not have are, although the analytics
# checkpoint is past them, and the analytics side applies nothing twice.
# A message the brokers refuse for good stops walpipe with a clear
# message and the slot stays before it.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
. "$WALPIPE_SOURCE_DIR/tests/integration/kafka_lib.sh"
T=$WALPIPE_TEST_TMPDIR

mock_start
run_setup_schema
kafka_config "$T/shop.yaml"
port=$(pgc_free_port)
echo "metrics: { listen: \"127.0.0.1:$port\" }" >>"$T/shop.yaml"
run_start "$T/shop.yaml" "$T/run1.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
src -c "SELECT 1 FROM pg_copy_logical_replication_slot('walpipe_shop', 'witness', false, 'wal2json')" >/dev/null

# A: delivered and confirmed.
run_workload 42 150
end_a=$(src -c "SELECT pg_current_wal_lsn()")
wait_slot_at "$end_a" "$pid"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
delivered=$(awk '/^walpipe_kafka_messages_delivered_total/ { print $2 }' <&3)
exec 3<&-
assert_eq "delivered messages exported" t "$([ "${delivered:-0}" -gt 100 ] && echo t || echo f)"

# B: applied to analytics while the brokers are down, then kill -9.
mock_cmd down
run_small_txns 15
run_workload 43 50
end_b=$(src -c "SELECT pg_current_wal_lsn()")
wait_caught_up "$pid"
sleep 2
assert_eq "analytics has B" t "$(ana -c "SELECT lsn >= '$end_b' FROM walpipe.checkpoints WHERE source = 'shop'")"
assert_slot_before "$(first_commit_after "$end_a")" "the slot is still before B"
held=$(slot_confirmed)
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
mock_cmd up

# Restart: the stream starts at the slot, behind the checkpoint.
run_start "$T/shop.yaml" "$T/run2.log"
wait_slot_at "$end_b" "$pid"
wait_caught_up "$pid"
grep -q "producing to Kafka from $held" "$T/run2.log" || { cat "$T/run2.log"; fail "restart did not produce from the slot position $held"; }
echo "ok: restarted producing from the slot position $held"

kafka_load km
witness_load w
assert_eq "A and B both have changes" t "$(ana -c "SELECT count(*) FILTER (WHERE lsn < '$held') > 100 AND count(*) FILTER (WHERE lsn >= '$held') > 50 FROM w")"
assert_eq "A (confirmed before the kill) is in Kafka exactly once" 0 "$(ana <<SQL
SELECT count(*) FROM (SELECT w.n FROM w LEFT JOIN km_v k ON k.lsn = w.lsn AND k.topic = 'shop.public.' || w.tbl
  AND k.value IS NOT NULL AND k.key IS NOT DISTINCT FROM w.key
WHERE w.lsn < '$held' GROUP BY w.n HAVING count(k.off) <> 1) x
SQL
)"
assert_eq "B (unconfirmed at the kill) is in Kafka, sent again" 0 "$(ana <<SQL
SELECT count(*) FROM (SELECT w.n FROM w LEFT JOIN km_v k ON k.lsn = w.lsn AND k.topic = 'shop.public.' || w.tbl
  AND k.value IS NOT NULL AND k.key IS NOT DISTINCT FROM w.key
WHERE w.lsn >= '$held' GROUP BY w.n HAVING count(k.off) < 1) x
SQL
)"
assert_eq "nothing but source changes in Kafka" 0 \
	"$(ana -c "SELECT count(*) FROM km_v k WHERE value IS NOT NULL AND NOT EXISTS (SELECT 1 FROM w WHERE w.lsn = k.lsn)")"
assert_eq "analytics applied nothing twice: one staging row per change" \
	"$(source_change_count)" "$(ana -c "SELECT count(*) FROM staging.raw_events")"
assert_facts_exact
kill -TERM "$pid"
wait "$pid" || fail "walpipe did not stop cleanly"

# A message bigger than the brokers take: fatal, clear, slot held.
sed -i 's|^    linger.ms: 5$|&\n    message.max.bytes: 2000|' "$T/shop.yaml"
before=$(slot_confirmed)
src -c "INSERT INTO users VALUES (9999, 'big', 'b@x', repeat('y', 5000))"
rc=0
timeout 60 "$WALPIPE_BIN" run -c "$T/shop.yaml" 2>"$T/run3.log" || rc=$?
trap - EXIT
assert_eq "a message too large for Kafka stops walpipe with exit 1" 1 "$rc"
grep -q 'could not produce to Kafka topic "shop.public.users": .*too large' "$T/run3.log" || { cat "$T/run3.log"; fail "no clear message"; }
echo "ok: $(grep -o 'could not produce.*' "$T/run3.log")"
assert_slot_before "$(first_commit_after "$before")" "the slot stays before the refused change"
mock_stop

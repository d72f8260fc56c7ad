# kafka_exactly_once.sh: exactly once into Kafka (issue 20, item 7): Kafka
# alone with a transactional producer (TXN=false: the at-least-once
# default), killed with -9 at 10 random points while the source changes
# (each restart fences the one before), then stopped and restarted 5
# times.  Every change of the source is in Kafka exactly once: a restart
# reads the end of each partition and skips what Kafka already has
# (kafka.dedupe_on_restart).  DEDUPE=false shows the duplicates without.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
. "$WALPIPE_SOURCE_DIR/tests/integration/kafka_lib.sh"
T=$WALPIPE_TEST_TMPDIR

run_setup_schema
kafka_alone_start "$T/shop.yaml" "public.users, public.orders" "  transactions: ${TXN:-true}
  dedupe_on_restart: ${DEDUPE:-true}
  transaction_metadata: true"
"$WALPIPE_BIN" check -c "$T/shop.yaml" >/dev/null
# The dedupe computes murmur2 partitions: another partitioner is refused.
if [ "${DEDUPE:-true}" = true ]; then
	sed 's/^  transactions:/  properties:\n    partitioner: consistent\n&/' "$T/shop.yaml" >"$T/part.yaml"
	rc=0; "$WALPIPE_BIN" check -c "$T/part.yaml" >"$T/part.out" 2>&1 || rc=$?
	assert_eq "another partitioner is refused" 1 "$(grep -c 'kafka.properties.partitioner: kafka.dedupe_on_restart picks partitions itself' "$T/part.out")"
	assert_eq "walpipe check fails" t "$([ "$rc" -ne 0 ] && echo t || echo f)"
fi
# Without transactions the dedupe needs the producer never to leave a gap:
# a message timeout (not covered by librdkafka's gapless guarantee) is
# refused.
if [ "${DEDUPE:-true}" = true ] && [ "${TXN:-true}" = false ]; then
	sed 's/^  transactions:/  properties:\n    message.timeout.ms: 30000\n&/' "$T/shop.yaml" >"$T/tmo.yaml"
	rc=0; "$WALPIPE_BIN" check -c "$T/tmo.yaml" >"$T/tmo.out" 2>&1 || rc=$?
	assert_eq "a message timeout is refused" 1 "$(grep -c 'kafka.properties.message.timeout.ms: kafka.dedupe_on_restart needs message.timeout.ms 0' "$T/tmo.out")"
	assert_eq "walpipe check fails on it" t "$([ "$rc" -ne 0 ] && echo t || echo f)"
fi
run_start "$T/shop.yaml" "$T/run.log"
trap 'kill -9 $pid $wl 2>/dev/null || true' EXIT
src -c "SELECT 1 FROM pg_copy_logical_replication_slot('walpipe_shop', 'witness', false, 'wal2json')" >/dev/null
src -c "CREATE SEQUENCE moved START 100000"
# Besides the shop's workload: key changes (Debezium's delete, tombstone
# and create at one position) and logical decoding messages, in and out
# of transactions.
more_changes() {
	src -c "UPDATE orders SET id = nextval('moved') WHERE id = (SELECT min(id) FROM orders WHERE id < 100000)" \
		-c "SELECT pg_logical_emit_message(true, 'shop', 'in $1')" \
		-c "SELECT pg_logical_emit_message(false, 'shop', 'out $1')" >/dev/null
}
# Phase 1: kill -9 at 10 random points while the source changes.
(for i in $(seq 1 20); do run_workload "$i" 40; run_small_txns 5; more_changes "$i"; done) >"$T/workload.log" 2>&1 &
wl=$!
for k in $(seq 1 10); do
	sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.3 + r / 32767 * 1.5 }')"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	run_start "$T/shop.yaml" "$T/run.log"
done
wait "$wl" || { cat "$T/workload.log"; fail "workload failed"; }
wait_slot_at "$(src -c "SELECT pg_current_wal_lsn()")" "$pid" ||
	{ grep -v "debug" "$T/run.log" | tail -15; fail "phase 1 did not catch up"; }
phase2=$(src -c "SELECT pg_current_wal_lsn()")
# Phase 2: five rounds of changes, each followed by a stop (SIGTERM,
# which commits the open Kafka transaction) and a restart.
for k in $(seq 1 5); do
	run_workload "$((20 + k))" 40
	run_small_txns 5
	more_changes "$((20 + k))"
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	run_start "$T/shop.yaml" "$T/run.log"
done
wait_slot_at "$(src -c "SELECT pg_current_wal_lsn()")" "$pid"

kafka_load km
witness_load w
n=$(ana -c "SELECT count(*) FROM w")
echo "source changes: $n; walpipe started $(grep -c 'producing to Kafka' "$T/run.log") times"
assert_eq "the workload is not trivially small" t "$(ana -c "SELECT $n > 1000")"
# A key change is a delete and a create: the create stands for it.
ana -c "CREATE TABLE seen AS SELECT w.n, w.lsn, count(k.off) AS c FROM w LEFT JOIN km_v k ON k.lsn = w.lsn
  AND k.topic = 'shop.public.' || w.tbl AND k.value IS NOT NULL
  AND k.op IN (translate(w.action, 'IUDT', 'cudt'), CASE w.action WHEN 'U' THEN 'c' END)
  GROUP BY w.n, w.lsn"
echo "changes seen once: $(ana -c "SELECT count(*) FROM seen WHERE c = 1"), more than once: $(ana -c "SELECT count(*) FROM seen WHERE c > 1")," \
	"skipped on restarts: $(grep -o 'skipped [0-9]* messages Kafka already had' "$T/run.log" | awk '{ s += $2 } END { print s + 0 }')"
grep -E 'read back Kafka topic|could not read (Kafka|the (partitions|offsets))' "$T/run.log" | tail -5 || true
assert_eq "after 10 kills -9: no change lost" 0 "$(ana -c "SELECT count(*) FROM seen WHERE c = 0")"
assert_eq "after 10 kills -9: no change twice" 0 "$(ana -c "SELECT count(*) FROM seen WHERE c > 1")"
# Every message once: changes, tombstones, the halves of key changes,
# logical messages, transaction BEGIN and END events.
assert_eq "no message twice in any topic" 0 "$(ana -c "SELECT count(*) FROM (SELECT 1 FROM km_v
  GROUP BY topic, lsn, txn_end, txn_pos, op, value IS NULL HAVING count(*) > 1) d")"
assert_eq "key changes arrived" t "$(ana -c "SELECT count(*) >= 25 FROM km_v WHERE op = 'd' AND value->'after' = 'null' AND lsn IN (SELECT lsn FROM km_v WHERE op = 'c')")"
assert_eq "every logical message once" "50/50" \
	"$(ana -c "SELECT count(DISTINCT value->'message'->>'content') || '/' || count(*) FROM km_v WHERE op = 'm'")"
assert_eq "every transaction's END once" 0 "$(ana -c "SELECT count(*) FROM (SELECT 1 FROM km_v WHERE op = 'E' GROUP BY txn_end HAVING count(*) <> 1) d")"
assert_eq "phase 2: no change lost" 0 "$(ana -c "SELECT count(*) FROM seen WHERE lsn > '$phase2' AND c = 0")"
assert_eq "phase 2 has changes" t "$(ana -c "SELECT count(*) > 500 FROM seen WHERE lsn > '$phase2'")"
assert_eq "every Kafka transaction ended: no session ended on a commit error" 0 \
	"$(grep -c 'could not commit a Kafka transaction' "$T/run.log" || true)"
assert_eq "restarts were fenced, not refused" 0 "$(grep -c 'could not start Kafka transactions' "$T/run.log" || true)"

# Phase 3: the ends of the partitions hold no position (another
# producer's messages, without walpipe's headers, on top): the restart
# reads further back.  Killed right after changes, so it sends some again.
run_workload 31 40
more_changes 31
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
for t in shop.public.users shop.public.orders; do
	n=$(kcat -L -J -b "$BROKERS" -t "$t" | jq '.topics[0].partitions | length')
	for p in $(seq 0 $((n - 1))); do
		seq 1 150 | sed 's/.*/{"foreign": &}/' | kcat -P -q -b "$BROKERS" -t "$t" -p "$p" ||
			fail "kcat could not produce to $t"
	done
done
skipped_before=$(grep -o 'skipped [0-9]* messages Kafka already had' "$T/run.log" | awk '{ s += $2 } END { print s + 0 }')
run_start "$T/shop.yaml" "$T/run.log"
run_small_txns 5
wait_slot_at "$(src -c "SELECT pg_current_wal_lsn()")" "$pid"
kafka_load km3
witness_load w3
ana -c "CREATE TABLE seen3 AS SELECT w.n, w.lsn, count(k.off) AS c FROM w3 w LEFT JOIN km3_v k ON k.lsn = w.lsn
  AND k.topic = 'shop.public.' || w.tbl AND k.value IS NOT NULL
  AND k.op IN (translate(w.action, 'IUDT', 'cudt'), CASE w.action WHEN 'U' THEN 'c' END)
  GROUP BY w.n, w.lsn"
echo "phase 3: $(ana -c "SELECT count(*) FROM km3_v WHERE txn_end IS NULL") foreign messages," \
	"skipped on the restart: $(($(grep -o 'skipped [0-9]* messages Kafka already had' "$T/run.log" | awk '{ s += $2 } END { print s + 0 }') - skipped_before))"
assert_eq "phase 3: the foreign messages are there" t "$(ana -c "SELECT count(*) > 0 FROM km3_v WHERE txn_end IS NULL")"
assert_eq "phase 3: no change lost" 0 "$(ana -c "SELECT count(*) FROM seen3 WHERE c = 0")"
assert_eq "phase 3: no change twice" 0 "$(ana -c "SELECT count(*) FROM seen3 WHERE c > 1")"
assert_eq "phase 3: no message twice in any topic" 0 "$(ana -c "SELECT count(*) FROM (SELECT 1 FROM km3_v WHERE txn_end IS NOT NULL
  GROUP BY topic, lsn, txn_end, txn_pos, op, value IS NULL HAVING count(*) > 1) d")"

kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
trap - EXIT
assert_eq "SIGTERM exits 0" 0 "$rc"
mock_stop

# kafka_only_snapshot.sh: the initial snapshot with Kafka alone (issue 20,
# Debezium's snapshot.mode=initial without an analytics database).  A
# first start reads every existing row as one read event at the slot's
# consistent point, then streams from exactly there: each change the
# source made after it once (against a witness slot copied from walpipe's),
# none before.  A kill -9 before Kafka has every read event leaves no
# position recorded: the next run reads the whole snapshot again (at
# least once); once the position is recorded, a restart reads nothing.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
. "$WALPIPE_SOURCE_DIR/tests/integration/kafka_lib.sh"
T=$WALPIPE_TEST_TMPDIR

conf() { # FILE TOPIC_PREFIX [SNAPSHOT_MODE]
	kafka_alone_config "$1" "public.users, public.orders" "  topic: \"$2.{table}\"
  format: debezium
  tombstones: true
  properties:
    linger.ms: 5" "snapshot:
  mode: ${3:-initial}
"
}
# replay VIEW TOPIC: per key the last message (reads first, then the
# stream in source order) as id,name-or-status, md5 of all.
replay() {
	ana -c "SELECT md5(coalesce(string_agg(r, ',' ORDER BY r), '')) FROM (
		SELECT DISTINCT ON (key) key, value, op FROM $1 WHERE topic = '$2'
		ORDER BY key, txn_end DESC, txn_pos DESC, value IS NULL DESC) last,
		LATERAL (SELECT format('%s', ARRAY[value->'after'->>'id', value->'after'->>'$3']) AS r) f
		WHERE op <> 'd' AND value IS NOT NULL"
}
src_set() { # TABLE COLUMN
	src -c "SELECT md5(coalesce(string_agg(r, ',' ORDER BY r), '')) FROM (SELECT format('%s', ARRAY[id::text, $2]) AS r FROM $1) x"
}
# stop_caught_up: walpipe ($pid) stopped with SIGTERM once the slot has
# everything the source wrote; its exit status in rc.
stop_caught_up() {
	wait_slot_at "$(src -c "SELECT pg_current_wal_lsn()")" "$pid"
	kill -TERM "$pid"
	rc=0; wait "$pid" || rc=$?
	trap - EXIT
}
# stream_small CONFIG LOG: walpipe started, five small transactions
# streamed, stopped (stop_caught_up).
stream_small() {
	run_start "$1" "$2"
	trap 'kill -9 $pid 2>/dev/null || true' EXIT
	run_small_txns 5
	stop_caught_up
}

run_setup_schema
run_workload 11 1500
read -r users0 orders0 < <(src -c "SELECT count(*) FROM users" -c "SELECT count(*) FROM orders" | xargs)

# 1. A first start: the slot's own snapshot, then the stream.
mock_start
conf "$T/a.yaml" a
run_start "$T/a.yaml" "$T/a.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
src -c "SELECT 1 FROM pg_copy_logical_replication_slot('walpipe_shop', 'witness', false, 'wal2json')" >/dev/null
(run_workload 12 300; run_small_txns 30) >"$T/workload.log" 2>&1 &
wl=$!
wait "$wl" || { cat "$T/workload.log"; fail "workload failed"; }
stop_caught_up
assert_eq "SIGTERM exits 0" 0 "$rc"
kafka_load ka
witness_load w
snap=$(sed -n 's/.*created replication slot "walpipe_shop" at \([0-9A-F/]*\) with an exported snapshot.*/\1/p' "$T/a.log")
[ -n "$snap" ] || fail "no slot created with an exported snapshot in the log"
assert_eq "the read events stand at the slot's consistent point" "$snap" \
	"$(ana -c "SELECT string_agg(DISTINCT lsn::text, ',') FROM ka_v WHERE op = 'r'")"
assert_eq "one read event per existing row: users, orders, each key once" \
	"$users0 $orders0 $users0 $orders0" \
	"$(ana -c "SELECT count(*) FILTER (WHERE topic = 'a.users'), count(*) FILTER (WHERE topic = 'a.orders'),
		count(DISTINCT key) FILTER (WHERE topic = 'a.users'), count(DISTINCT key) FILTER (WHERE topic = 'a.orders')
		FROM ka_v WHERE op = 'r'" | tr '|' ' ')"
assert_eq "read events: op r, no before, one snapshot first, one last" "1 1 0" \
	"$(ana -c "SELECT count(*) FILTER (WHERE value->'source'->>'snapshot' = 'first'),
		count(*) FILTER (WHERE value->'source'->>'snapshot' = 'last'),
		count(*) FILTER (WHERE value->>'op' <> 'r' OR value->'before' <> 'null')
		FROM ka_v WHERE op = 'r'" | tr '|' ' ')"
assert_eq "the stream: each change after the snapshot exactly once" 0 "$(ana <<SQL
SELECT count(*) FROM (SELECT w.n FROM w LEFT JOIN ka_v k ON k.op <> 'r' AND k.value IS NOT NULL
  AND k.topic = 'a.' || w.tbl AND k.lsn = w.lsn AND k.key = w.key
  GROUP BY w.n HAVING count(k.off) <> 1) x
SQL
)"
assert_eq "nothing else in the stream (nothing before the snapshot)" "$(ana -c "SELECT count(*) FROM w")" \
	"$(ana -c "SELECT count(*) FROM ka_v WHERE op <> 'r' AND value IS NOT NULL")"
assert_eq "the workload ran during the first start" t "$(ana -c "SELECT count(*) > 300 FROM w")"
assert_eq "replaying users gives the source's users" "$(src_set users name)" "$(replay ka_v a.users name)"
assert_eq "replaying orders gives the source's orders" "$(src_set orders status)" "$(replay ka_v a.orders status)"
assert_contains "progress in the log" "row(s) of public.orders to Kafka as read events (table 2 of 2)" "$(cat "$T/a.log")"
assert_contains "the position is recorded once Kafka has them" "Kafka has every read event of the initial snapshot" "$(cat "$T/a.log")"

# 2. A restart with the position recorded reads nothing again.
stream_small "$T/a.yaml" "$T/a2.log"
kafka_load ka2
assert_eq "a restart produces no read event" "$((users0 + orders0))" \
	"$(ana -c "SELECT count(*) FROM ka2_v WHERE op = 'r'")"

# 3. A kill -9 while the brokers have none of the reads: no position
# recorded, so the next run reads the whole snapshot again.
src -c "SELECT pg_drop_replication_slot('walpipe_shop')" -c "SELECT pg_drop_replication_slot('witness')" >/dev/null
rm -f "$T/shop.position"
conf "$T/b.yaml" b
# The restart dedupe reads a topic's end before its first message, which
# needs the brokers: off here, so that the reads are queued while down.
sed -i 's/^  tombstones: true$/&\n  dedupe_on_restart: false/' "$T/b.yaml"
mock_cmd down
run_start "$T/b.yaml" "$T/b.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do grep -q "existing row(s) of 2 table(s) to Kafka" "$T/b.log" && break; sleep 0.1; done
assert_contains "the reads are produced" "existing row(s) of 2 table(s) to Kafka as read events" "$(cat "$T/b.log")"
sleep 1
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
assert_eq "killed before Kafka had them: no position recorded" f "$([ -e "$T/shop.position" ] && echo t || echo f)"
mock_cmd up
run_workload 13 100 # between the slot's point and the next snapshot
read -r users1 orders1 < <(src -c "SELECT count(*) FROM users" -c "SELECT count(*) FROM orders" | xargs)
run_start "$T/b.yaml" "$T/b2.log"
for _ in $(seq 1 300); do grep -q "Kafka has every read event" "$T/b2.log" && break; sleep 0.1; done
run_small_txns 20
stop_caught_up
assert_eq "SIGTERM exits 0" 0 "$rc"
assert_contains "the next run says it reads the snapshot again" "no position recorded in \"$T/shop.position\": the initial snapshot for Kafka is read again" "$(cat "$T/b2.log")"
kafka_load kb
assert_eq "after the kill, one read event per row, each key once" \
	"$users1 $orders1 $users1 $orders1 1" \
	"$(ana -c "SELECT count(*) FILTER (WHERE topic = 'b.users'), count(*) FILTER (WHERE topic = 'b.orders'),
		count(DISTINCT key) FILTER (WHERE topic = 'b.users'), count(DISTINCT key) FILTER (WHERE topic = 'b.orders'),
		count(*) FILTER (WHERE value->'source'->>'snapshot' = 'last')
		FROM kb_v WHERE op = 'r' AND topic LIKE 'b.%'" | tr '|' ' ')"
assert_eq "replaying users gives the source's users" "$(src_set users name)" "$(replay kb_v b.users name)"
assert_eq "replaying orders gives the source's orders" "$(src_set orders status)" "$(replay kb_v b.orders status)"
assert_eq "the position is recorded" t "$([ -e "$T/shop.position" ] && echo t || echo f)"

# 4. snapshot.mode never: no read events (a fresh slot).
src -c "SELECT pg_drop_replication_slot('walpipe_shop')" >/dev/null
rm -f "$T/shop.position"
conf "$T/c.yaml" c never
stream_small "$T/c.yaml" "$T/c.log"
kafka_load kc
assert_eq "snapshot: never takes no snapshot, streams" "0 t" \
	"$(ana -c "SELECT count(*) FILTER (WHERE op = 'r'), count(*) FILTER (WHERE op <> 'r') > 0 FROM kc_v WHERE topic LIKE 'c.%'" | tr '|' ' ')"
mock_stop

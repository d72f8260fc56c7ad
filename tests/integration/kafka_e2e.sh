# kafka_e2e.sh: the Kafka sink beside the analytics sink, end to end
# against a mock Kafka cluster over TCP: every change of the opted-in
# tables arrives once, with its primary key as the key, the Debezium
# envelope of exactly the source's row, headers, tombstones after deletes,
# in source order per key; the analytics side stays exact.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
. "$WALPIPE_SOURCE_DIR/tests/integration/kafka_lib.sh"
T=$WALPIPE_TEST_TMPDIR

mock_start
run_setup_schema
kafka_config "$T/shop.yaml"
"$WALPIPE_BIN" check -c "$T/shop.yaml" >/dev/null

run_start "$T/shop.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
src -c "SELECT 1 FROM pg_copy_logical_replication_slot('walpipe_shop', 'witness', false, 'wal2json')" >/dev/null

run_workload 42 300
run_small_txns 40
src -c "BEGIN; INSERT INTO orders VALUES (5000, 1, 1, 'x', now()); TRUNCATE orders;
	INSERT INTO orders VALUES (5001, 1, 2, 'after', now()); COMMIT;"
run_workload 43 100
# A bio too big and random to stay inline: TOASTed out of line, so an
# update of the email leaves it out of wal2json's new row.
src -c "INSERT INTO users (id, name, bio) SELECT 900001, 'toast', string_agg(md5(random()::text), '') FROM generate_series(1, 2000)" \
	-c "UPDATE users SET email = 'toasted@x' WHERE id = 900001"
end=$(src -c "SELECT pg_current_wal_lsn()")
wait_caught_up "$pid"
wait_slot_at "$end" "$pid"

kafka_load km
witness_load w
n=$(ana -c "SELECT count(*) FROM w")
echo "source changes of users and orders: $n"
assert_eq "the workload is not trivially small" t "$(ana -c "SELECT $n > 1000")"
assert_eq "only the opted-in tables have topics" "shop.public.orders,shop.public.users" \
	"$(ana -c "SELECT string_agg(DISTINCT topic, ',' ORDER BY topic) FROM km_v")"
assert_eq "one message per source change" "$n" \
	"$(ana -c "SELECT count(*) FROM km_v WHERE value IS NOT NULL")"
assert_eq "every change matches its message: key, op, envelope" "$n" "$(ana <<'SQL'
SELECT count(*) FROM w JOIN km_v k ON k.lsn = w.lsn AND k.topic = 'shop.public.' || w.tbl
  AND k.value IS NOT NULL AND k.key IS NOT DISTINCT FROM w.key
WHERE k.op = translate(w.action, 'IUDT', 'cudt')
  AND k.value->>'op' = k.op
  AND k.value->'after' IS NOT DISTINCT FROM coalesce(w.after, 'null')
  AND k.value->'before' IS NOT DISTINCT FROM coalesce(w.before, 'null')
  AND (k.value->'source'->>'lsn')::numeric = w.lsn - '0/0'
  AND (k.value->'source'->>'txId')::bigint = w.xid AND k.xid = w.xid
  AND k.value->'source'->>'table' = w.tbl AND k.value->'source'->>'schema' = 'public'
  AND k.value->'source'->>'name' = 'shop'
  AND (k.value->'source'->>'ts_ms')::bigint > 0 AND (k.value->>'ts_ms')::bigint > 0
SQL
)"
assert_eq "some updates left a TOASTed bio unchanged: Debezium's placeholder" t \
	"$(ana -c "SELECT count(*) > 0 FROM km_v WHERE op = 'u' AND value->'after'->>'bio' = '__debezium_unavailable_value'")"
assert_eq "timestamptz and numeric(12,2) arrive converted" t \
	"$(ana -c "SELECT bool_and(value->'after'->>'created_at' LIKE '____-__-__T__:__:__%Z') FROM km_v WHERE op = 'c'")"
assert_eq "no message twice" 0 "$(ana -c "SELECT count(*) FROM (SELECT 1 FROM km_v GROUP BY txn_end, txn_pos, value IS NULL HAVING count(*) > 1) d")"
assert_eq "truncates arrive without a key" 1 "$(ana -c "SELECT count(*) FROM km_v WHERE op = 't' AND key IS NULL")"
assert_eq "every delete is followed by its tombstone" \
	"$(ana -c "SELECT count(*) FROM w WHERE action = 'D'")" "$(ana <<'SQL'
SELECT count(*) FROM km_v d JOIN km_v t ON t.topic = d.topic AND t.part = d.part
  AND t.off = d.off + 1 AND t.value IS NULL AND t.key = d.key
WHERE d.op = 'd' AND d.value IS NOT NULL
SQL
)"
assert_eq "a key lives in one partition" 0 "$(ana -c "SELECT count(*) FROM (SELECT 1 FROM km_v WHERE key IS NOT NULL GROUP BY topic, key HAVING count(DISTINCT part) > 1) d")"
assert_key_order km
# Read back with kcat too: the same messages, keyed where Java puts them.
kcat_load kc
assert_eq "kcat reads the same messages" "$(ana -c "SELECT count(*) FROM km_v")" \
	"$(ana -c "SELECT count(*) FROM kc k JOIN km_v m ON m.topic = k.j->>'topic'
		AND m.part = (k.j->>'partition')::int AND m.off = (k.j->>'offset')::bigint
		AND m.key IS NOT DISTINCT FROM (k.j->>'key')::jsonb
		AND m.value IS NOT DISTINCT FROM (k.j->>'payload')::jsonb
		AND m.lsn = (k.j->'headers'->>1)::pg_lsn")"
assert_java_partitions kc

assert_facts_exact

# An update of a primary key goes out as Debezium sends it: a delete and a
# tombstone of the old key, then a create of the new one.
old_id=$(src -c "SELECT min(id) FROM users")
src -c "UPDATE users SET id = 777777 WHERE id = $old_id"
wait_slot_at "$(src -c "SELECT pg_current_wal_lsn()")" "$pid"
kafka_load km2
assert_eq "a key update is delete, tombstone, create" \
	"d {\"id\": $old_id} true,d {\"id\": $old_id} false,c {\"id\": 777777} true" \
	"$(ana -c "SELECT string_agg(op || ' ' || key::text || ' ' || (value IS NOT NULL)::text, ',' ORDER BY op DESC, value IS NULL) FROM km2_v WHERE txn_end = (SELECT max(txn_end) FROM km2_v)")"
assert_eq "the create carries the new row" "777777" \
	"$(ana -c "SELECT value->'after'->>'id' FROM km2_v WHERE op = 'c' AND txn_end = (SELECT max(txn_end) FROM km2_v)")"

kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
trap - EXIT
assert_eq "SIGTERM exits 0" 0 "$rc"
mock_stop

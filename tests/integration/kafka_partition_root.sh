# kafka_partition_root.sh: a mapping from a partitioned table sends the
# changes of its partitions to Kafka as the partitioned table's: one topic,
# the envelope's source.table, one truncate for TRUNCATE of the table (or
# of every partition); a partition truncated alone stops walpipe;
# tables of the partitions' schema that nobody listed send nothing; with
# Kafka alone, a partitioned table listed in source.tables likewise.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
. "$WALPIPE_SOURCE_DIR/tests/integration/kafka_lib.sh"
T=$WALPIPE_TEST_TMPDIR

mock_start
src <<'SQL'
CREATE TABLE ev (id int, region text, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE ev_eu PARTITION OF ev FOR VALUES IN ('eu');
CREATE TABLE ev_us PARTITION OF ev FOR VALUES IN ('us') PARTITION BY RANGE (id);
CREATE TABLE ev_us_lo PARTITION OF ev_us FOR VALUES FROM (MINVALUE) TO (100);
CREATE TABLE ev_us_hi PARTITION OF ev_us FOR VALUES FROM (100) TO (MAXVALUE);
CREATE TABLE unlisted (id int PRIMARY KEY);
SQL
ana -c "CREATE TABLE ev (id int, region text, v text, PRIMARY KEY (id, region))"
cat >"$T/k.yaml" <<EOF
$(shop_header "public.ev" 1000 50ms)
mappings:
  - { from: public.ev, to: public.ev, key: [id, region], columns: { id: id, region: region, v: v } }
kafka:
  brokers: "$BROKERS"
  topic: "{source}.{schema}.{table}"
  format: debezium
  tombstones: false
EOF
run_up "$T/k.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
src -c "INSERT INTO ev VALUES (1, 'eu', 'a'), (2, 'us', 'b'), (200, 'us', 'c')" \
	-c "UPDATE ev SET region = 'us' WHERE id = 1" \
	-c "UPDATE ev SET id = 300 WHERE id = 2" \
	-c "UPDATE ev SET v = 'd' WHERE id = 200" \
	-c "INSERT INTO unlisted VALUES (1)" \
	-c "DELETE FROM ev WHERE id = 300" \
	-c "TRUNCATE ev" -c "INSERT INTO ev VALUES (5, 'eu', 'after')"
end=$(src -c "SELECT pg_current_wal_lsn()")
wait_caught_up "$pid"
wait_slot_at "$end" "$pid"
kafka_load km
assert_eq "one topic, the partitioned table's" "shop.public.ev" \
	"$(ana -c "SELECT string_agg(DISTINCT topic, ',' ORDER BY topic) FROM km_v")"
# 3 inserts, 2 moves (a delete and an insert each), 1 update, 1 delete,
# 1 truncate (the partitions' T go with the table's), 1 insert.
assert_eq "every change once, in order, as the table's" \
	"c:ev c:ev c:ev d:ev c:ev d:ev c:ev u:ev d:ev t:ev c:ev" \
	"$(ana -c "SELECT string_agg(op || ':' || (value->'source'->>'table'), ' ' ORDER BY lsn, txn_pos) FROM km_v")"
assert_eq "analytics = source" "$(src -c "SELECT string_agg(t::text, ',' ORDER BY id) FROM ev t")" \
	"$(ana -c "SELECT string_agg(t::text, ',' ORDER BY id) FROM ev t")"

# Every partition named, not the table: the table's truncate all the
# same (pgoutput sends a TRUNCATE of the table so: its leaves alone).
src -c "INSERT INTO ev VALUES (6, 'us', 'x'), (150, 'us', 'y')" \
	-c "TRUNCATE ev_eu, ev_us" -c "INSERT INTO ev VALUES (7, 'eu', 'z'), (8, 'us', 'w')"
wait_caught_up "$pid"
assert_eq "every partition truncated: analytics = source" "$(src -c "SELECT string_agg(t::text, ',' ORDER BY id) FROM ev t")" \
	"$(ana -c "SELECT string_agg(t::text, ',' ORDER BY id) FROM ev t")"
# One partition alone: walpipe cannot tell its rows in the target, and
# stops before applying anything of the transaction, whichever decoder.
src -c "TRUNCATE ev_us_lo"
rc=0; wait "$pid" || rc=$?
pid=
assert_eq "a truncate of one partition stops walpipe" 1 "$rc"
assert_contains "and says why" \
	'partition "public.ev_us_lo" of source table "public.ev" was truncated at ' "$(cat "$T/run.log")"
assert_eq "nothing was truncated" 2 "$(ana -c "SELECT count(*) FROM ev")"

# Kafka alone (no mappings): a partitioned table listed in source.tables
# is followed all the same, a partition created meanwhile too.
src -c "SELECT pg_drop_replication_slot('walpipe_shop')" >/dev/null
kafka_alone_config "$T/alone.yaml" public.ev '  topic: "alone.{table}"
  format: debezium
  tombstones: false'
run_start "$T/alone.yaml" "$T/alone.log"
src -c "INSERT INTO ev VALUES (10, 'eu', 'k'), (150, 'us', 'l')" \
	-c "CREATE TABLE ev_asia PARTITION OF ev FOR VALUES IN ('asia')" \
	-c "INSERT INTO ev VALUES (11, 'asia', 'm')" \
	-c "UPDATE ev SET region = 'asia' WHERE id = 10" \
	-c "INSERT INTO unlisted VALUES (2)"
end=$(src -c "SELECT pg_current_wal_lsn()")
wait_slot_at "$end" "$pid"
kafka_load km2
assert_eq "Kafka alone: the partitioned table's topic only" "alone.ev" \
	"$(ana -c "SELECT string_agg(DISTINCT topic, ',' ORDER BY topic) FROM km2_v WHERE topic LIKE 'alone.%'")"
# The row left from above (7: the truncate of ev_us_lo took 8) comes
# first, as the initial snapshot's read event (snapshot.mode initial),
# read from the partitioned table.  A read carries the snapshot's point as
# its lsn, which the first change after it may share: reads sort first.
assert_eq "Kafka alone: the existing row read, every change once, as the table's" \
	"r:ev:7 c:ev:10 c:ev:150 c:ev:11 d:ev:10 c:ev:10" \
	"$(ana -c "SELECT string_agg(op || ':' || (value->'source'->>'table') || ':' || coalesce(value->'after'->>'id', value->'before'->>'id'), ' ' ORDER BY op <> 'r', lsn, txn_pos) FROM km2_v WHERE topic LIKE 'alone.%'")"
assert_contains "Kafka alone: the new partition is followed" \
	'partition "public.ev_asia" of "public.ev" is now followed' "$(cat "$T/alone.log")"
echo "ok: kafka_partition_root"

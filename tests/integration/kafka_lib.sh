# kafka_lib.sh: shared setup of the Kafka sink tests: a mock Kafka cluster
# (librdkafka's, served by tests/tools/kafka_mock in its own process so it
# survives walpipe), a consumer that loads every message into a table of
# the analytics database, and the source's own record of its changes.
# Source run_lib.sh first.

# mock_start: start the cluster; its bootstrap servers in $BROKERS.
mock_start() {
	coproc MOCK { "$WALPIPE_KAFKA_MOCK" serve 3; }
	read -r -t 20 BROKERS <&"${MOCK[0]}" || fail "the mock Kafka cluster did not start"
	echo "mock Kafka cluster at $BROKERS"
}

# mock_cmd COMMAND...: e.g. "down", "up", "produce-errors 30 6".
mock_cmd() {
	local reply
	echo "$*" >&"${MOCK[1]}"
	read -r -t 20 reply <&"${MOCK[0]}" || fail "mock: no answer to $*"
	[ "$reply" = ok ] || fail "mock: $* answered $reply"
}

mock_stop() {
	echo quit >&"${MOCK[1]}" 2>/dev/null || true
	wait "$MOCK_PID" 2>/dev/null || true
}

# kafka_config FILE [MORE KAFKA KEYS]: run_config plus a kafka section;
# order_events opts out, so only users and orders go to Kafka.
kafka_config() {
	run_config "$1" "kafka:
  brokers: \"$BROKERS\"
  topic: \"{source}.{schema}.{table}\"
  format: debezium
  tombstones: true
  properties:
    linger.ms: 5
${2:-}"
	sed -i 's|^    to: analytics.fact_user_events$|&\n    kafka: false|' "$1"
	sed -i 's|^  create_slot: true$|&\n  status_interval: 1s|' "$1"
}

# kafka_alone_config FILE TABLES KAFKA_KEYS [SECTIONS]: a configuration
# with Kafka alone (no target: the slot is the checkpoint, its position
# recorded in $T): source shop on slot walpipe_shop following TABLES
# ("public.users, public.orders"), a kafka section of the mock's brokers
# and KAFKA_KEYS (lines "  key: value"); SECTIONS (whole lines) between.
kafka_alone_config() {
	cat >"$1" <<EOF
source:
  name: shop
  conninfo: "$WALPIPE_TEST_SOURCE"
  slot: walpipe_shop
  create_slot: true
  status_interval: 1s
  tables: [$2]
  state_dir: "$T"
${4:-}kafka:
  brokers: "$BROKERS"
$3
EOF
}

# kafka_alone_start FILE TABLES KAFKA_KEYS [SECTIONS]: the mock cluster
# started ($BROKERS) and kafka_alone_config FILE written for it.
kafka_alone_start() {
	mock_start
	kafka_alone_config "$@"
}

# kafka_load TABLE: consume every topic from the start into analytics
# table TABLE (topic, partition, offset, key, value (jsonb), headers).
kafka_load() {
	"$WALPIPE_KAFKA_MOCK" consume "$BROKERS" >"$T/$1.jsonl" || fail "could not consume the topics"
	ana -c "DROP TABLE IF EXISTS $1" -c "CREATE TABLE $1 (j jsonb)"
	# CSV with quote and delimiter bytes that never occur: one line, one value.
	ana -c "\\copy $1 FROM '$T/$1.jsonl' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
	ana -c "CREATE VIEW ${1}_v AS SELECT j->>'topic' AS topic, (j->>'partition')::int AS part,
		(j->>'offset')::bigint AS off, (j->>'key')::jsonb AS key, (j->>'value')::jsonb AS value,
		(j->'headers'->>'lsn')::pg_lsn AS lsn, (j->'headers'->>'txn_end')::pg_lsn AS txn_end,
		(j->'headers'->>'txn_pos')::bigint AS txn_pos, j->'headers'->>'op' AS op,
		(j->'headers'->>'xid')::bigint AS xid FROM $1"
}

# witness_load TABLE: the changes of users and orders as the witness slot
# saw them (lsn, xid, table, action, key object, new row, old row), the
# values as a Debezium consumer reads them by default (dbz_value), an
# update's absent (unchanged TOASTed) bio as Debezium's placeholder.
# witness_load TABLE 0: without types, as walpipe's raw wal2json objects.
witness_load() {
	src -c "COPY (SELECT data FROM pg_logical_slot_peek_changes('witness', NULL, NULL,
		'format-version', '2', 'include-xids', '1', 'include-lsn', '1', 'include-pk', '1',
		'include-types', '${2:-1}', 'add-tables', 'public.users,public.orders')
		WHERE data::jsonb->>'action' IN ('I', 'U', 'D', 'T')) TO STDOUT" >"$T/$1.jsonl"
	ana -c "DROP TABLE IF EXISTS $1_raw" -c "CREATE TABLE $1_raw (n bigserial, j jsonb)"
	ana -c "\\copy $1_raw (j) FROM '$T/$1.jsonl' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
	ana <<'SQL'
-- Debezium's defaults, worked out in SQL apart from walpipe's C:
-- timestamptz as ISO-8601 in UTC without trailing zeros (ZonedTimestamp),
-- numeric(P,S) as base64 of the unscaled value's shortest two's
-- complement (Decimal, decimal.handling.mode=precise).
CREATE OR REPLACE FUNCTION dbz_value(typ text, v jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  b bytea;
  t text;
BEGIN
  IF v IS NULL OR v = 'null' THEN
    RETURN v;
  ELSIF typ = 'timestamp with time zone' THEN
    t := to_char((v->>0)::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US');
    RETURN to_jsonb(rtrim(rtrim(t, '0'), '.') || 'Z');
  ELSIF typ LIKE 'numeric(%,%)' THEN
    b := int8send(((v->>0)::numeric * 10 ^ split_part(rtrim(typ, ')'), ',', 2)::int)::bigint);
    WHILE length(b) > 1 AND ((get_byte(b, 0) = 0 AND get_byte(b, 1) < 128)
        OR (get_byte(b, 0) = 255 AND get_byte(b, 1) >= 128)) LOOP
      b := substring(b FROM 2);
    END LOOP;
    RETURN to_jsonb(encode(b, 'base64'));
  END IF;
  RETURN v;
END $$;
SQL
	ana <<SQL
CREATE VIEW $1 AS
SELECT n, (j->>'lsn')::pg_lsn AS lsn, (j->>'xid')::bigint AS xid, j->>'table' AS tbl,
  j->>'action' AS action,
  (SELECT jsonb_object_agg(c->>'name', dbz_value(c->>'type', c->'value')) FROM jsonb_array_elements(j->'columns') c)
    || CASE WHEN j->>'action' = 'U' AND j->>'table' = 'users'
       AND NOT jsonb_path_exists(j, '\$.columns[*] ? (@.name == "bio")')
       THEN '{"bio": "__debezium_unavailable_value"}'::jsonb ELSE '{}' END AS after,
  -- An update's identity that only repeats the unchanged key: Debezium's
  -- before is null (REPLICA IDENTITY DEFAULT).
  CASE WHEN j->>'action' = 'U' AND (SELECT jsonb_object_agg(c->>'name', c->'value') FROM jsonb_array_elements(j->'identity') c)
    <@ (SELECT jsonb_object_agg(c->>'name', c->'value') FROM jsonb_array_elements(j->'columns') c) THEN NULL ELSE
  (SELECT jsonb_object_agg(c->>'name', dbz_value(c->>'type', c->'value')) FROM jsonb_array_elements(j->'identity') c) END AS before,
  (SELECT jsonb_object_agg(p->>'name', coalesce(
     (SELECT c->'value' FROM jsonb_array_elements(CASE WHEN j->>'action' = 'D' THEN j->'identity' ELSE j->'columns' END) c WHERE c->>'name' = p->>'name'),
     (SELECT c->'value' FROM jsonb_array_elements(j->'identity') c WHERE c->>'name' = p->>'name')))
   FROM jsonb_array_elements(j->'pk') p) AS key
FROM $1_raw;
SQL
}

# first_commit_after LSN: the end of the first transaction that commits
# after LSN (the witness slot sees all of them).  The slot may move to
# idle positions while Kafka is down, but never to this one or past it.
first_commit_after() {
	src -c "SELECT min((data::jsonb->>'nextlsn')::pg_lsn) FROM pg_logical_slot_peek_changes('witness', NULL, NULL,
		'format-version', '2', 'include-lsn', '1') WHERE data::jsonb->>'action' = 'C'
		AND (data::jsonb->>'nextlsn')::pg_lsn > '$1'"
}

# assert_slot_before LSN DESCRIPTION: the slot is confirmed before LSN.
assert_slot_before() {
	assert_eq "$2" t "$(src -c "SELECT confirmed_flush_lsn < '$1' FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'")"
}

slot_confirmed() {
	src -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'"
}

# wait_slot_at LSN [PID]: until the slot is confirmed at or past LSN.
wait_slot_at() {
	wait_sql src "SELECT confirmed_flush_lsn >= '$1' FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'" "${2:-}"
}

# assert_key_order TABLE: per key, the offsets follow the source order
# (transaction end, position in it; a tombstone right after its delete).
assert_key_order() {
	assert_eq "per key, offsets follow the source order" 0 "$(ana <<SQL
SELECT count(*) FROM (
  SELECT off, lag(off) OVER (PARTITION BY topic, key ORDER BY txn_end, txn_pos, value IS NULL) AS prev
  FROM ${1}_v WHERE key IS NOT NULL) x WHERE off < prev
SQL
)"
}

# assert_facts_exact: the fact tables equal the source tables.
assert_facts_exact() {
	local s_users s_orders s_events a_users a_orders a_events
	read -r s_users s_orders s_events < <(src_checksums | xargs)
	read -r a_users a_orders a_events < <(ana_checksums | xargs)
	assert_eq "fact_users equals source users" "$s_users" "$a_users"
	assert_eq "fact_orders equals source orders" "$s_orders" "$a_orders"
	assert_eq "fact_user_events has one row per event" "$s_events" "$a_events"
}

# kcat_load TABLE: every topic read back with kcat, a client independent of
# walpipe's (kcat -J: topic, partition, offset, key, payload, headers as a
# name, value list), into analytics table TABLE (j jsonb), and the
# partition count of each topic into TABLE_parts (topic, n).
kcat_load() {
	local t
	kcat -L -J -b "$BROKERS" >"$T/$1.meta.json" || fail "kcat could not read the metadata"
	: >"$T/$1.kcat.jsonl"
	for t in $(jq -r '.topics[].topic | select(startswith("_") | not)' "$T/$1.meta.json"); do
		kcat -C -q -J -e -o beginning -b "$BROKERS" -t "$t" >>"$T/$1.kcat.jsonl" ||
			fail "kcat could not consume topic $t"
	done
	ana -c "DROP TABLE IF EXISTS $1" -c "CREATE TABLE $1 (j jsonb)" \
		-c "DROP TABLE IF EXISTS $1_parts" -c "CREATE TABLE $1_parts (topic text, n int)"
	ana -c "\\copy $1 FROM '$T/$1.kcat.jsonl' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
	jq -r '.topics[] | select(.topic | startswith("_") | not) | "\(.topic)\t\(.partitions | length)"' \
		"$T/$1.meta.json" >"$T/$1.parts.tsv"
	ana -c "\\copy $1_parts FROM '$T/$1.parts.tsv'"
}

# assert_java_partitions TABLE: every keyed message (kcat_load TABLE) is in
# the partition Kafka's Java producer picks for its key (murmur2), where
# Debezium's records of that key are.
assert_java_partitions() {
	local n bad
	n=$(ana -c "SELECT count(*) FROM $1 WHERE j->>'key' IS NOT NULL")
	assert_eq "kcat read keyed messages" t "$(ana -c "SELECT $n > 0")"
	bad=0
	while IFS=$'\t' read -r topic parts; do
		ana -c "SELECT j->>'key', j->>'partition' FROM $1 WHERE j->>'topic' = '$topic' AND j->>'key' IS NOT NULL ORDER BY j->>'partition', (j->>'offset')::bigint" \
			-F $'\t' >"$T/$1.keys.tsv"
		cut -f1 "$T/$1.keys.tsv" | "$WALPIPE_KAFKA_MOCK" partition "$parts" >"$T/$1.java.txt" ||
			fail "kafka_mock partition failed"
		bad=$((bad + $(paste <(cut -f2 "$T/$1.keys.tsv") "$T/$1.java.txt" | awk '$1 != $2' | wc -l)))
	done < <(ana -F $'\t' -c "SELECT topic, n FROM $1_parts WHERE n > 1")
	assert_eq "keys are in the Java client's murmur2 partition" 0 "$bad"
	assert_eq "the topics have several partitions" t "$(ana -c "SELECT count(*) > 0 FROM $1_parts WHERE n > 1")"
}

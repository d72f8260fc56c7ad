# kafka_debezium.sh: what a Debezium consumer reads, field by field,
# consumed back with kcat: every type family converted as Debezium's
# PostgreSQL connector documents it (defaults: decimal.handling.mode
# precise, time.precision.mode adaptive), JsonConverter's schemas
# (kafka.schemas: true) with Debezium's schema names, an unchanged TOASTed
# value as the placeholder, logical decoding messages (op m) and
# transaction metadata (BEGIN/END, the transaction block).
# kafka_debezium_plain.sh runs it with schemas off (SCHEMAS=false).
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
. "$WALPIPE_SOURCE_DIR/tests/integration/kafka_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src <<'SQL'
CREATE EXTENSION hstore;
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE public.types (id integer PRIMARY KEY, s smallint, b bigint NOT NULL,
  r real, d double precision, ok boolean, n numeric(10,3), nv numeric, dt date,
  t time, t3 time(3), ts timestamp, ts3 timestamp(3), tz timestamptz, ttz timetz,
  j jsonb, u uuid, m mood, arr integer[], tarr text[], by bytea, big text,
  iv interval, ivs interval[], h hstore, secret text);
CREATE TABLE public.other (id bigint PRIMARY KEY, v text);
SQL
kafka_alone_start "$T/shop.yaml" "public.types, public.other" "  schemas: ${SCHEMAS:-true}
  transaction_metadata: true
  interval_handling_mode: ${INTERVAL_MODE:-numeric}
  hstore_handling_mode: ${HSTORE_MODE:-json}
  column_exclude_list: 'public\.types\.secret, public\.other\.nothing'
  message_key_columns: 'public\.oth.*:id,v'"
"$WALPIPE_BIN" check -c "$T/shop.yaml" >/dev/null
# Debezium's rule: one column list or the other; a bad expression is
# named at its line.
sed 's|^  column_exclude_list:|  column_include_list: "public.other.(v"\n&|' "$T/shop.yaml" >"$T/bad.yaml"
rc=0; out=$("$WALPIPE_BIN" check -c "$T/bad.yaml" 2>&1) || rc=$?
assert_eq "check refuses the bad column lists" 1 "$rc"
line=$(grep -n column_include_list "$T/bad.yaml" | cut -d: -f1)
assert_contains "a bad expression, at its line" "bad.yaml:$line:24: kafka.column_include_list: invalid regular expression \"public.other.(v\" in column_include_list:" "$out"
assert_contains "both lists, at the second" "bad.yaml:$((line + 1)):24: kafka.column_exclude_list: column_include_list and column_exclude_list cannot both be set (Debezium's rule: one or the other)" "$out"
run_start "$T/shop.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT

src <<'SQL'
INSERT INTO types VALUES (1, 7, 4294967297, 1.5, -2.25, true, 12.345, 1.50,
  '2026-11-25', '01:02:03.5', '01:02:03.5', '1970-01-02 00:00:00.000001',
  '2026-11-25 00:19:22.79', '2026-11-25 01:19:22.5+01', '10:15:30.1-02',
  '{"k": [1]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'sad', '{1,NULL,3}',
  '{a,"b c"}', '\x00ff10', (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 2000)),
  '1 year 2 mons 3 days 04:05:06.78', '{"-1 days -00:00:01.5",0}', 'a=>1, "b c"=>NULL', 'hidden');
UPDATE types SET s = 8, n = -12.345 WHERE id = 1;
BEGIN;
INSERT INTO types (id, b) VALUES (2, 1), (3, 2);
INSERT INTO other VALUES (1, 'x');
SELECT pg_logical_emit_message(true, 'foo', 'bar');
COMMIT;
SELECT pg_logical_emit_message(false, 'nt', 'é');
DELETE FROM types WHERE id = 3;
SQL
wait_slot_at "$(src -c "SELECT pg_current_wal_lsn()")" "$pid"

kcat_load k
# Tombstones (null payloads) left out.
jq -c 'select(.payload != null)' "$T/k.kcat.jsonl" >"$T/k.jsonl"
# val TOPIC OP [ID]: the value of the message of topic TOPIC with op OP
# (and, for a table, after.id or before.id ID), as jq -c writes it.
P=.
[ "${SCHEMAS:-true}" = true ] && P=.payload
val() {
	jq -c -s "[.[] | select(.topic == \"$1\") | .payload | fromjson | $P | select(.op == \"$2\")
		| select(\"${3:-}\" == \"\" or ((.after // .before).id | tostring) == \"${3:-}\")][0]" "$T/k.jsonl"
}
ins=$(val shop.public.types c 1)
assert_eq "integers, floats, booleans" '[1,7,4294967297,1.5,-2.25,true]' \
	"$(jq -c '.after | [.id, .s, .b, .r, .d, .ok]' <<<"$ins")"
assert_eq "numeric(10,3) precise: base64 of 12345; numeric: VariableScaleDecimal" \
	'["MDk=",{"scale":2,"value":"AJY="}]' "$(jq -c '.after | [.n, .nv]' <<<"$ins")"
assert_eq "date as days, time in µs and ms, timestamp in µs and ms, zoned as UTC ISO" \
	'[20782,3723500000,3723500,86400000001,1795565962790,"2026-11-25T00:19:22.5Z","12:15:30.1Z"]' \
	"$(jq -c '.after | [.dt, .t, .t3, .ts, .ts3, .tz, .ttz]' <<<"$ins")"
assert_eq "json, uuid, enum as strings; arrays; bytea as base64" \
	'["{\"k\": [1]}","a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","sad",[1,null,3],["a","b c"],"AP8Q"]' \
	"$(jq -c '.after | [.j, .u, .m, .arr, .tarr, .by]' <<<"$ins")"
# interval.handling.mode numeric: µs with 365.25 / 12 days a month
# (Debezium's MicroDuration); string: ISO 8601 with every field
# (Interval).  hstore.handling.mode json: the map as JSON text; map: an
# object.
if [ "${INTERVAL_MODE:-numeric}" = numeric ]; then
	want_iv='[37091106780000,[-86401500000,0]]'
else
	want_iv='["P1Y2M3DT4H5M6.78S",["P0Y0M-1DT0H0M-1.5S","P0Y0M0DT0H0M0S"]]'
fi
if [ "${HSTORE_MODE:-json}" = json ]; then
	want_h='"{\"a\":\"1\",\"b c\":null}"'
else
	want_h='{"a":"1","b c":null}'
fi
assert_eq "interval ${INTERVAL_MODE:-numeric}, hstore ${HSTORE_MODE:-json}" \
	"[$want_iv,$want_h]" "$(jq -c '.after | [[.iv, .ivs], .h]' <<<"$ins")"
# column.exclude.list leaves the column out; message.key.columns makes
# the key of other (id, v).
assert_eq "the excluded column is in no row" 0 \
	"$(jq -s "[.[] | select(.topic == \"shop.public.types\") | .payload | fromjson | $P | (.after // {}), (.before // {}) | select(has(\"secret\"))] | length" "$T/k.jsonl")"
assert_eq "message_key_columns: other's key is id and v" '{"id":1,"v":"x"}' \
	"$(jq -c -s "[.[] | select(.topic == \"shop.public.other\") | .key | fromjson | $P][0]" "$T/k.jsonl")"
upd=$(val shop.public.types u 1)
assert_eq "an update: the unchanged TOASTed column as the placeholder, before null" \
	'[null,8,"z8c=","__debezium_unavailable_value"]' "$(jq -c '[.before, .after.s, .after.n, .after.big]' <<<"$upd")"
assert_eq "the source block" \
	'["walpipe","postgresql","shop","false","source","public","types",true,true,true,null]' \
	"$(jq -c --arg db x '.source | [.version, .connector, .name, .snapshot, .db, .schema, .table, (.txId > 0), (.lsn > 0), (.ts_ms > 0), .xmin]' <<<"$upd")"
del=$(val shop.public.types d 3)
assert_eq "a delete: before holds the key, after null" '[{"id":3},null]' "$(jq -c '[.before, .after]' <<<"$del")"

# Messages: Debezium's op m to {source}.message, keyed by prefix.
assert_eq "message events: prefix, base64 content, txId only when transactional" \
	'[["{\"prefix\":\"foo\"}","foo","YmFy",true],["{\"prefix\":\"nt\"}","nt","w6k=",false]]' \
	"$(jq -c -s "[.[] | select(.topic == \"shop.message\") | [(.key | fromjson | $P | tojson), (.payload | fromjson | $P | .message.prefix, .message.content, (.source.txId != null))]] | sort_by(.[1])" "$T/k.jsonl")"

# Transaction metadata: BEGIN and END of each transaction, the changes'
# transaction blocks counting in order.
assert_eq "the transaction with three changes: BEGIN, END with counts per table" \
	'["BEGIN",null,"END",3,[{"data_collection":"public.other","event_count":1},{"data_collection":"public.types","event_count":2}]]' \
	"$(jq -c -s "[.[] | select(.topic == \"shop.transaction\") | .payload | fromjson | $P] | map(select(.event_count == 3 or .status == \"BEGIN\")) as \$e
	  | (\$e | map(select(.status == \"END\"))[0].id) as \$id | [\$e[] | select(.id == \$id)] | [.[0].status, .[0].event_count, .[1].status, .[1].event_count, (.[1].data_collections | sort_by(.data_collection))]" "$T/k.jsonl")"
assert_eq "its changes carry the transaction block" '[[1,1],[2,2],[3,1]]' \
	"$(jq -c -s "[.[] | select(.topic | startswith(\"shop.public.\")) | .payload | fromjson | $P | select(.op == \"c\" and .transaction.total_order != null and (.after.id == 2 or .after.id == 3 or .source.table == \"other\"))] | sort_by(.transaction.total_order) | map([.transaction.total_order, .transaction.data_collection_order])" "$T/k.jsonl")"
assert_eq "BEGIN and END come per transaction" \
	"$(jq -s '[.[] | select(.topic == "shop.transaction")] | length' "$T/k.jsonl")" \
	"$(jq -s '[.[] | select(.topic | startswith("shop.public.")) | .payload | fromjson | '$P' | .transaction.id] | unique | length * 2' "$T/k.jsonl")"

if [ "${SCHEMAS:-true}" = true ]; then
	sch() { jq -c -s "[.[] | select(.topic == \"$1\") | .$2 | fromjson | .schema][0]" "$T/k.jsonl"; }
	assert_eq "the key schema" \
		'{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"shop.public.types.Key"}' \
		"$(sch shop.public.types key)"
	assert_eq "the envelope schema's names" \
		'["shop.public.types.Envelope",["before","after","source","op","ts_ms","transaction"],["shop.public.types.Value","shop.public.types.Value","io.debezium.connector.postgresql.Source",null,null,"event.block"]]' \
		"$(sch shop.public.types payload | jq -c '[.name, [.fields[].field], [.fields[].name]]')"
	assert_eq "field schemas: Decimal, VariableScaleDecimal, times, Json, Uuid, Enum, arrays" \
		'[{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"3","connect.decimal.precision":"10"},"field":"n"},"io.debezium.data.VariableScaleDecimal","io.debezium.time.Date","io.debezium.time.MicroTime","io.debezium.time.Time","io.debezium.time.MicroTimestamp","io.debezium.time.Timestamp","io.debezium.time.ZonedTimestamp","io.debezium.time.ZonedTime","io.debezium.data.Json","io.debezium.data.Uuid",{"allowed":"happy,sad"},{"type":"int32","optional":true},false]' \
		"$(sch shop.public.types payload | jq -c '.fields[1].fields | [(.[] | select(.field == "n")), (.[7:17][] | .name), (.[] | select(.field == "m") | .parameters), (.[] | select(.field == "arr") | .items), (.[] | select(.field == "b") | .optional)]')"
	assert_eq "message and transaction schemas" \
		'["io.debezium.connector.postgresql.MessageKey","io.debezium.connector.postgresql.MessageValue","io.debezium.connector.common.TransactionMetadataKey","io.debezium.connector.common.TransactionMetadataValue"]' \
		"$(jq -c '[.name]' <<<"$(sch shop.message key)$(sch shop.message payload)$(sch shop.transaction key)$(sch shop.transaction payload)" | jq -c -s 'map(.[0])')"
	assert_eq "the excluded column is in no schema; the key schema of other" \
		'[false,["id","v"]]' \
		"$(jq -c -s '[(([.[] | select(.topic == "shop.public.types") | .payload | fromjson | .schema.fields[1].fields[].field] | index("secret")) != null),
			[.[] | select(.topic == "shop.public.other") | .key | fromjson | .schema.fields[].field][0:2]]' "$T/k.jsonl")"
	assert_eq "interval and hstore schemas" \
		'[{"type":"int64","optional":true,"name":"io.debezium.time.MicroDuration","version":1,"field":"iv"},{"type":"array","items":{"type":"int64","optional":true,"name":"io.debezium.time.MicroDuration","version":1},"optional":true,"field":"ivs"},{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"h"}]' \
		"$(sch shop.public.types payload | jq -c '.fields[1].fields | map(select(.field == "iv" or .field == "ivs" or .field == "h"))')"
fi

kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
trap - EXIT
assert_eq "SIGTERM exits 0" 0 "$rc"
mock_stop

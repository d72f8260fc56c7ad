# check_live.sh: `walpipe check --live` against real clusters reports a
# missing column, a type that cannot be cast, a table without replica
# identity, a missing unique key and a missing target table; and passes a
# good configuration.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

run_setup_schema
run_config "$T/good.yaml"
out=$("$WALPIPE_BIN" check --live -q -c "$T/good.yaml" 2>"$T/good.err") || fail "good config rejected: $out $(cat "$T/good.err")"
assert_eq "good config passes --live" "live: source and analytics databases accept this configuration" "$out"
# wal2json 2.5 (Debian 12) cannot carry NaN and the infinities; 2.6+ can.
if [ -s "$T/good.err" ]; then
	assert_eq "the only warning: the numeric columns' special values" \
		"warning: the source's wal2json has no numeric-data-types-as-string (it came with wal2json 2.6): NaN, Infinity and -Infinity in columns public.order_events (value numeric), public.orders (amount numeric(12,2)) would arrive as NULL" \
		"$(cat "$T/good.err")"
fi

src -c "CREATE TABLE public.nokey (a int, b text)"
ana -c "CREATE TABLE analytics.t_nokey (a int, b text)" \
	-c "CREATE TABLE analytics.t_types (id bigint PRIMARY KEY, n integer)" \
	-c "CREATE TABLE analytics.t_nouniq (id bigint, name text)" \
	-c "CREATE TABLE analytics.t_ok (id bigint, n integer)"
cat >"$T/bad.yaml" <<YAML
source:
  name: shop
  conninfo: "$WALPIPE_TEST_SOURCE"
  slot: nope
  tables: [public.users, public.orders, public.nokey, public.missing]
target:
  conninfo: "$WALPIPE_TEST_ANALYTICS"
mappings:
  - from: public.users
    to: analytics.fact_users
    key: [user_id]
    columns:
      user_id: id
      shoe_size: name
  - from: public.orders
    to: analytics.t_types
    key: [id]
    columns:
      id: id
      n: status
  - from: public.nokey
    to: analytics.t_nokey
    mode: append
    columns:
      a: a
  - from: public.users
    to: analytics.t_nouniq
    key: [id]
    columns:
      id: id
      name: name
  - from: public.users
    to: analytics.t_ok
    mode: append
    columns:
      id: id
      n: { from: id, type: integer }
  - from: public.orders
    to: analytics.not_there
    key: [id]
    columns:
      id: id
      bogus: no_such_source_column
YAML
set +e
out=$("$WALPIPE_BIN" check --live -q -c "$T/bad.yaml" 2>&1); rc=$?
set -e
echo "$out"
assert_eq "bad config exit code" 1 "$rc"
assert_contains "missing slot" 'live: replication slot "nope" does not exist and source.create_slot is false' "$out"
assert_contains "missing source table" 'live: source.tables: table "public.missing" does not exist' "$out"
assert_contains "no replica identity" 'live: source.tables: table "public.nokey" has no primary key or replica identity' "$out"
assert_contains "missing target column" 'live: mappings[0] (public.users -> analytics.fact_users): column "shoe_size" of relation "fact_users" does not exist' "$out"
assert_contains "uncastable type" 'live: mappings[1] (public.orders -> analytics.t_types): column "n" is of type integer but expression is of type text' "$out"
assert_contains "no unique index for the key" 'live: mappings[3] (public.users -> analytics.t_nouniq): there is no unique or exclusion constraint matching the ON CONFLICT specification' "$out"
assert_contains "missing source column" 'live: mappings[5]: column "no_such_source_column" of mapping public.orders -> analytics.not_there does not exist in the source table' "$out"
assert_eq "a valid mapping after a failed one is not blamed" "" "$(echo "$out" | grep 'mappings\[4\]' || true)"
# pgoutput: also its publication, missing.
n=7; [ "${WALPIPE_PLUGIN:-wal2json}" = wal2json ] || n=8
assert_contains "problem count" "$n problem(s) found against the live databases" "$out"
assert_eq "every problem once" "$n" "$(echo "$out" | grep -c '^live: ')"

# Unreachable database: could not check.
sed "s|$WALPIPE_TEST_ANALYTICS|host=/nonexistent dbname=x|" "$T/good.yaml" >"$T/down.yaml"
set +e
out=$("$WALPIPE_BIN" check --live -q -c "$T/down.yaml" 2>&1); rc=$?
set -e
assert_eq "unreachable database exit code" 2 "$rc"
assert_contains "unreachable message" 'walpipe check: could not connect to the analytics server' "$out"

# A mapping from a partitioned table (with a sub-partitioned partition) is
# clean, also without its partitions in source.tables; a partition whose
# own replica identity lacks the table's key is named.
src -c "CREATE TABLE public.meas (id int, day date, v text, PRIMARY KEY (id, day)) PARTITION BY RANGE (day)" \
	-c "CREATE TABLE public.meas_1 PARTITION OF public.meas FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')" \
	-c "CREATE TABLE public.meas_2 PARTITION OF public.meas FOR VALUES FROM ('2026-02-01') TO ('2026-03-01') PARTITION BY HASH (id)" \
	-c "CREATE TABLE public.meas_2a PARTITION OF public.meas_2 FOR VALUES WITH (MODULUS 1, REMAINDER 0)"
ana -c "CREATE TABLE analytics.meas (id int, day date, v text, PRIMARY KEY (id, day))"
cat >"$T/root.yaml" <<YAML
source:
  name: shop
  conninfo: "$WALPIPE_TEST_SOURCE"
  slot: root
  create_slot: true
  tables: [public.meas]
target:
  conninfo: "$WALPIPE_TEST_ANALYTICS"
mappings:
  - { from: public.meas, to: analytics.meas, key: [id, day], columns: { id: id, day: day, v: v } }
YAML
out=$("$WALPIPE_BIN" check --live -q -c "$T/root.yaml" 2>&1) || fail "root mapping rejected: $out"
assert_eq "a mapping from a partitioned table passes --live" "live: source and analytics databases accept this configuration" "$out"
out=$("$WALPIPE_BIN" check --live -c "$T/root.yaml" 2>&1)
assert_contains "and shows the partitions it receives" \
	'partitioned: public.meas receives the changes of public.meas_1, public.meas_2a' "$out"
src -c "CREATE UNIQUE INDEX meas_2a_v ON public.meas_2a (v)" -c "ALTER TABLE public.meas_2a ALTER v SET NOT NULL" \
	-c "ALTER TABLE public.meas_2a REPLICA IDENTITY USING INDEX meas_2a_v"
set +e
out=$("$WALPIPE_BIN" check --live -q -c "$T/root.yaml" 2>&1); rc=$?
set -e
assert_eq "a partition without the key: exit code" 1 "$rc"
assert_contains "names the partition" \
	'live: partition "public.meas_2a" of source table "public.meas" has a replica identity without key column "id" of "public.meas"' "$out"

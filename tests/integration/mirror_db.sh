# mirror_db.sh: a whole schema mirrored with a few lines of YAML (issue
# 17): 100 generated tables of mixed types (an enum, a domain, arrays,
# jsonb, uuid, quoted mixed-case names), foreign keys, a keyless table
# under REPLICA IDENTITY FULL, a partitioned table; an excluded table, a
# table an explicit mapping takes over, a second schema mirrored with a
# soft delete and metadata columns.  The targets (and the enum and the
# domain) are created by walpipe with the source's column types, NOT
# NULL and key; the initial snapshot copies every table, a workload
# streams, a table created while streaming is picked up without a restart
# and copied, a kill -9 in the middle resumes exactly; every table is
# checked by md5 against its source.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src <<'SQL'
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE SCHEMA app;
DO $$
DECLARE name text;
BEGIN
  FOR i IN 1..100 LOOP
    name := CASE WHEN i % 10 = 0 THEN 'Mixed Case ' || i ELSE 't' || i END;
    EXECUTE format('CREATE TABLE app.%I (id bigint PRIMARY KEY, n int NOT NULL,
        amount numeric(12,2), name varchar(40), at timestamptz, doc jsonb,
        flag bool, tags text[], m mood, p posint, u uuid)', name);
    EXECUTE format('INSERT INTO app.%I SELECT g, g %% 7, g * 1.25, ''name '' || g,
        ''2026-01-01''::timestamptz + g * interval ''1 hour'',
        jsonb_build_object(''g'', g, ''s'', repeat(''x'', g)), g %% 2 = 0,
        ARRAY[''a'' || g, NULL], (ARRAY[''sad'', ''ok'', ''happy''])[1 + g %% 3]::mood,
        1 + g, md5(g::text)::uuid FROM generate_series(1, 20 + $1) g', name) USING i;
  END LOOP;
END $$;
CREATE TABLE app.parent (id int PRIMARY KEY, label text);
CREATE TABLE app.child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES app.parent, v text);
INSERT INTO app.parent SELECT g, 'p' || g FROM generate_series(1, 50) g;
INSERT INTO app.child SELECT g, 1 + g % 50, 'c' || g FROM generate_series(1, 200) g;
CREATE TABLE app.log (at int, msg text);
ALTER TABLE app.log REPLICA IDENTITY FULL;
INSERT INTO app.log SELECT g % 10, 'm' || (g % 4) FROM generate_series(1, 100) g;
CREATE TABLE app.events (id int, region text, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE app.events_eu PARTITION OF app.events FOR VALUES IN ('eu');
CREATE TABLE app.events_us PARTITION OF app.events FOR VALUES IN ('us');
INSERT INTO app.events SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, 'e' || g FROM generate_series(1, 300) g;
-- Excluded: without a key and without FULL it could not be mirrored.
CREATE TABLE app.skip_me (v text);
INSERT INTO app.skip_me VALUES ('never');
-- Taken over by an explicit mapping.
CREATE TABLE app.special (id int PRIMARY KEY, v text, secret text);
INSERT INTO app.special SELECT g, 'v' || g, 's' || g FROM generate_series(1, 10) g;
CREATE SCHEMA "Sales";
CREATE TABLE "Sales"."Order" (id int PRIMARY KEY, total numeric(10,2) NOT NULL);
INSERT INTO "Sales"."Order" SELECT g, g * 3 FROM generate_series(1, 40) g;
SQL
ana -c "CREATE TABLE public.special_custom (id int PRIMARY KEY, v text)"

cat >"$T/mirror.yaml" <<EOF
source: { name: shop, conninfo: "$WALPIPE_TEST_SOURCE", create_slot: true }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS" }
batch: { max_changes: 500, max_delay: 50ms }
mirror:
  - { from: app.*, exclude: app.skip_me, to: mirror }
  - from: '"Sales".*'
    to: sales_mirror
    soft_delete: deleted_at
    metadata: { _lsn: \$lsn }
mappings:
  - { from: app.special, to: public.special_custom, key: [id], columns: { id: id, v: v } }
EOF
out=$("$WALPIPE_BIN" check -c "$T/mirror.yaml" 2>&1) || fail "check refused the mirror: $out"
assert_contains "check shows the mirror" \
	'mirror: app.* except app.skip_me -> schema mirror (each table 1:1, targets created)' "$out"
# Without the exclude, the table without a key is refused by name, by
# check --live and by run, before anything is created.
sed 's/, exclude: app.skip_me//' "$T/mirror.yaml" >"$T/all.yaml"
rc=0; out=$("$WALPIPE_BIN" check --live -c "$T/all.yaml" 2>&1) || rc=$?
assert_eq "check --live fails on a table that cannot be mirrored" 1 "$rc"
assert_contains "check --live says why and how to fix it" \
	'live: mirror[0]: table app.skip_me has no primary key: its updates and deletes are not logged; give it a primary key, or run ALTER TABLE app.skip_me REPLICA IDENTITY FULL' "$out"
rc=0; "$WALPIPE_BIN" run -c "$T/all.yaml" 2>"$T/all.log" || rc=$?
assert_eq "run refuses it" 1 "$rc"
if [ "${WALPIPE_PLUGIN:-wal2json}" = pgoutput ]; then
	# pgoutput: the publication, made first, would hold schema app whole,
	# excluded tables included (the source would refuse their updates).
	assert_contains "run names the table" \
		"cannot publish schemas app, \"Sales\" for the mirrors: tables app.skip_me have no replica identity" "$(cat "$T/all.log")"
else
	assert_contains "run names the table" \
		"cannot mirror these tables:
  table app.skip_me has no primary key" "$(cat "$T/all.log")"
fi
assert_eq "run created no target" "" "$(ana -c "SELECT to_regclass('sales_mirror.\"Order\"')")"
assert_eq "nor says it did" "" "$(grep 'created target' "$T/all.log" || true)"
src -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'" >/dev/null
# pgoutput publishes schema app whole: the excluded table needs a replica
# identity too (README, "pgoutput").
[ "${WALPIPE_PLUGIN:-wal2json}" = wal2json ] || src -c "ALTER TABLE app.skip_me REPLICA IDENTITY FULL"
out=$("$WALPIPE_BIN" check --live -c "$T/mirror.yaml" 2>&1) || fail "check --live refused the mirror: $out"
assert_contains "check --live lists what a mirror matches" \
	'mirror[0]: 104 table(s): app."Mixed Case 10", app."Mixed Case 100",' "$out"
assert_contains "check --live names the targets to create" \
	'mirror[1]: targets walpipe run will create in schema sales_mirror: "Order"' "$out"
assert_eq "check --live created nothing" "" "$(ana -c "SELECT to_regclass('mirror.t1')")"
# (pgoutput: run stopped at the publication, before walpipe's tables.)
[ -z "$(ana -c "SELECT to_regclass('walpipe.checkpoints')")" ] ||
	ana -c "DELETE FROM walpipe.checkpoints" -c "DELETE FROM walpipe.snapshot_tables"

# The mirrored tables of app: every table but the excluded and the mapped.
tables() {
	src -c "SELECT format('%I', c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	         WHERE n.nspname = 'app' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
	           AND c.relname NOT IN ('skip_me', 'special') ORDER BY 1"
}
sum_of() { # PSQL_FN TABLE
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM $2 t"
}
same_all() { # WHAT
	local n=0 t
	while read -r t; do
		assert_eq "$1: mirror.$t = app.$t" "$(sum_of src "app.$t")" "$(sum_of ana "mirror.$t")" >/dev/null
		n=$((n + 1))
	done < <(tables)
	echo "ok - $1: $n tables equal their source"
	assert_eq "$1: the explicit mapping wins" \
		"$(src -c "SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM app.special")" \
		"$(ana -c "SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM public.special_custom")"
	assert_eq "$1: soft deletes and metadata beside the source's columns" \
		"$(src -c "SELECT count(*) || ':' || md5(string_agg(t::text, ',' ORDER BY id)) FROM \"Sales\".\"Order\" t")" \
		"$(ana -c "SELECT count(*) || ':' || md5(string_agg((id, total)::text, ',' ORDER BY id)) FROM sales_mirror.\"Order\" WHERE deleted_at IS NULL AND _lsn IS NOT NULL")"
}
coldefs() { # PSQL_FN TABLE
	"$1" -c "SELECT string_agg(format('%s %s%s', attname, format_type(atttypid, atttypmod), CASE WHEN attnotnull THEN ' not null' END), ', ' ORDER BY attnum)
	           FROM pg_attribute WHERE attrelid = '$2'::regclass AND attnum > 0 AND NOT attisdropped"
}

run_up "$T/mirror.yaml" "$T/run.log"
trap 'rc=$?; [ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null; [ $rc = 0 ] || tail -n 40 "$T/run.log" >&2' EXIT
wait_sql ana "SELECT count(*) > 0 AND bool_and(state = 'done') FROM walpipe.snapshot_tables" "$pid"
assert_eq "104 app tables and one of Sales mirrored" 106 \
	"$(ana -c "SELECT count(*) FROM walpipe.snapshot_tables")"
assert_eq "the excluded table has no target" "" "$(ana -c "SELECT to_regclass('mirror.skip_me')")"
assert_eq "the mapped table has no mirror target" "" "$(ana -c "SELECT to_regclass('mirror.special')")"
assert_eq "column types, NOT NULL and order as on the source" \
	"$(coldefs src 'app."Mixed Case 10"')" "$(coldefs ana 'mirror."Mixed Case 10"')"
assert_eq "the key is the source's primary key" "id" \
	"$(ana -c "SELECT string_agg(a.attname, ',') FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) WHERE i.indrelid = 'mirror.t1'::regclass AND i.indisprimary")"
assert_eq "the enum was created with its labels" "{sad,ok,happy}" \
	"$(ana -c "SELECT enum_range(NULL::public.mood)")"
assert_eq "the domain was created with its check" "CHECK ((VALUE > 0))" \
	"$(ana -c "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contypid = 'public.posint'::regtype")"
assert_eq "the keyless table has no key" 0 \
	"$(ana -c "SELECT count(*) FROM pg_index WHERE indrelid = 'mirror.log'::regclass")"
assert_contains "the log names the mirrors" 'mirror[0]: 104 table(s) into schema "mirror"' "$(cat "$T/run.log")"
if grep -q "has no numeric-data-types-as-string" "$T/run.log"; then
	assert_contains "the NaN warning names ten tables and counts the rest" \
		', and 91 more table(s) arrive as NULL' "$(cat "$T/run.log")"
fi
same_all "snapshot"

workload() { # ROUND
	src <<SQL
UPDATE app.t1 SET amount = amount + 1, doc = doc || '{"r": $1}' WHERE id % 3 = 0;
UPDATE app."Mixed Case 20" SET name = NULL, m = 'happy' WHERE id % 4 = 1;
DELETE FROM app.t55 WHERE id % 5 = 0;
INSERT INTO app.t99 (id, n, p) SELECT 1000 * $1 + g, g, g FROM generate_series(1, 30) g;
UPDATE app.t2 SET id = id + 10000 WHERE id = $1;
UPDATE app.child SET parent_id = 1 + (parent_id + $1) % 30 WHERE id % 6 = 0;
DELETE FROM app.child WHERE parent_id = 40 + $1;
DELETE FROM app.parent WHERE id = 40 + $1;
UPDATE app.log SET msg = msg || '+' WHERE ctid = (SELECT min(ctid) FROM app.log WHERE at = $1);
DELETE FROM app.log WHERE ctid = (SELECT min(ctid) FROM app.log WHERE at = $1 + 1);
UPDATE app.events SET region = 'us' WHERE region = 'eu' AND id % 10 = $1;
UPDATE "Sales"."Order" SET total = total + 1 WHERE id % 7 = $1;
DELETE FROM "Sales"."Order" WHERE id = 30 + $1;
SQL
}
workload 1
workload 2
wait_caught_up "$pid"
same_all "streamed"

# A table created while streaming, written in its creating transaction and
# after: picked up without a restart, every row there.
src -c "BEGIN" -c "CREATE TABLE app.fresh (id int PRIMARY KEY, v text)" \
	-c "INSERT INTO app.fresh SELECT g, 'f' || g FROM generate_series(1, 100) g" -c "COMMIT" \
	-c "UPDATE app.fresh SET v = v || '!' WHERE id % 2 = 0" -c "UPDATE app.t3 SET n = n + 1"
wait_sql ana "SELECT to_regclass('mirror.fresh') IS NOT NULL" "$pid"
wait_caught_up "$pid"
assert_contains "the new table was noticed" 'source table "app.fresh" is new and matches a mirror' "$(cat "$T/run.log")"
same_all "new table"
out=$("$WALPIPE_BIN" status -c "$T/mirror.yaml")
assert_contains "status: the tables a mirror matches, their targets, no copy pending" \
	"mirror[0]   to                     mirror
mirror[0]   tables                 105
mirror[0]   targets                105
mirror[0]   copies_pending         0
mirror[0]   cannot_mirror          -" "$out"
echo "$out" >"$T/status.txt"
assert_eq "status --json carries the mirrors" 105 \
	"$("$WALPIPE_BIN" status --json -c "$T/mirror.yaml" | python3 -c 'import json,sys; print(json.load(sys.stdin)["mirror[0]"]["targets"])')"

# kill -9 in the middle of a workload, then a restart: nothing lost,
# nothing twice.
workload 3 &
wl=$!
sleep 0.3
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
wait "$wl"
workload 4
run_start "$T/mirror.yaml" "$T/run.log"
wait_caught_up "$pid"
same_all "after kill -9"
assert_eq "no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"
run_down

# mirror_ddl.sh: a mirror follows the source's schema while a workload
# writes (issue 17): ADD COLUMN with a default (rows from before get it)
# and without, widened types (varchar(20) to text, int to bigint with a
# value only bigint holds, numeric(10,2) to numeric(20,4)), DROP COLUMN
# (the target keeps it, NULL in new rows, its NOT NULL dropped), a label
# added to an enum; a kill -9 in the middle of the migration resumes
# exactly; a renamed column stops walpipe with the statement to run, and
# after running it walpipe goes on.  Every table is checked by md5
# against its source, on the source's columns.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src <<'SQL'
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE SCHEMA app;
CREATE TABLE app.a (id int PRIMARY KEY, v varchar(20), n int, amount numeric(10,2));
CREATE TABLE app.b (id int PRIMARY KEY, x text NOT NULL, y int, m mood);
INSERT INTO app.a SELECT g, 'v' || g, g, g / 3.0 FROM generate_series(1, 500) g;
INSERT INTO app.b SELECT g, 'x' || g, g, 'ok' FROM generate_series(1, 500) g;
SQL
cat >"$T/m.yaml" <<EOF
source: { name: shop, conninfo: "$WALPIPE_TEST_SOURCE", create_slot: true }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS" }
batch: { max_changes: 200, max_delay: 20ms }
mirror:
  - { from: app.*, to: mirror }
EOF

# The table as the source has it now, on both sides, by the source's
# columns (a column the source dropped stays on the target).
same() { # WHAT TABLE
	local cols
	cols=$(src -c "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'app.$2'::regclass AND attnum > 0 AND NOT attisdropped")
	assert_eq "$1: mirror.$2 = app.$2" \
		"$(src -c "SELECT count(*) || ':' || md5(string_agg(t::text, ',' ORDER BY id)) FROM (SELECT $cols FROM app.$2) t")" \
		"$(ana -c "SELECT count(*) || ':' || md5(string_agg(t::text, ',' ORDER BY id)) FROM (SELECT $cols FROM mirror.$2) t")"
}
coltype() { # PSQL_FN TABLE COLUMN
	"$1" -c "SELECT format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END FROM pg_attribute WHERE attrelid = '$2'::regclass AND attname = '$3'"
}
# A steady trickle of writes to both tables, until $T/stop exists.
writer() {
	local i=0
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		src -c "INSERT INTO app.a (id, v, n) VALUES (1000 + $i, 'w$i', $i)" \
			-c "UPDATE app.a SET v = v || '.' WHERE id = 1 + $i % 500" \
			-c "UPDATE app.b SET y = y + 1 WHERE id = 1 + $i % 500" \
			-c "DELETE FROM app.a WHERE id = 2 + ($i * 7) % 500" 2>/dev/null || true
		sleep 0.02
	done
}

run_up "$T/m.yaml" "$T/run.log"
trap 'rc=$?; touch "$T/stop"; [ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null; [ $rc = 0 ] || tail -n 30 "$T/run.log" >&2' EXIT
wait_sql ana "SELECT count(*) = 2 AND bool_and(state = 'done') FROM walpipe.snapshot_tables" "$pid"
same "snapshot" a
same "snapshot" b

writer &
wpid=$!
src <<'SQL'
ALTER TABLE app.a ADD COLUMN c int DEFAULT 7;
ALTER TABLE app.a ADD COLUMN d text;
UPDATE app.a SET d = 'd' || id WHERE id % 10 = 0;
ALTER TABLE app.a ALTER v TYPE text;
UPDATE app.a SET v = repeat('long', 10) WHERE id = 3;
SQL
sleep 0.5
# A kill -9 in the middle of the migration.
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
src <<'SQL'
ALTER TABLE app.a ALTER n TYPE bigint;
UPDATE app.a SET n = 5000000000 WHERE id = 4;
ALTER TABLE app.a ALTER amount TYPE numeric(20,4);
UPDATE app.a SET amount = 1234567890.1234 WHERE id = 5;
ALTER TABLE app.b DROP COLUMN x;
INSERT INTO app.b (id, y, m) VALUES (9001, 1, 'ok');
ALTER TYPE mood ADD VALUE 'happy';
SQL
src -c "INSERT INTO app.b (id, y, m) VALUES (9002, 2, 'happy')" \
	-c "ALTER TYPE mood ADD VALUE 'meh' BEFORE 'sad'" \
	-c "UPDATE app.b SET m = 'meh' WHERE id = 7"
run_start "$T/m.yaml" "$T/run.log"
sleep 1
touch "$T/stop"
wait "$wpid"
wait_caught_up "$pid"
same "migrated" a
same "migrated" b
assert_eq "rows from before the ADD COLUMN hold its default" 0 \
	"$(ana -c "SELECT count(*) FROM mirror.a WHERE id <= 500 AND c IS DISTINCT FROM 7")"
assert_eq "varchar(20) widened to text" "text" "$(coltype ana mirror.a v)"
assert_eq "int widened to bigint" "bigint" "$(coltype ana mirror.a n)"
assert_eq "numeric(10,2) widened to numeric(20,4)" "numeric(20,4)" "$(coltype ana mirror.a amount)"
assert_eq "the dropped column stays, nullable" "text" "$(coltype ana mirror.b x)"
assert_eq "new rows leave the dropped column NULL" "" \
	"$(ana -c "SELECT x FROM mirror.b WHERE id = 9001")"
assert_eq "the enum gained the labels in order" "{meh,sad,ok,happy}" \
	"$(ana -c "SELECT enum_range(NULL::public.mood)")"
assert_contains "the log says what followed" 'ALTER TABLE "mirror"."a" ADD COLUMN "c" integer DEFAULT' "$(cat "$T/run.log")"
assert_eq "no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"

# A renamed column: walpipe cannot tell it from a drop and an add, so it
# stops with both statements; after the rename on the target it goes on.
src -c "ALTER TABLE app.b RENAME COLUMN y TO z" -c "UPDATE app.b SET z = z + 100 WHERE id < 20"
rc=0; wait "$pid" || rc=$?
pid=
assert_eq "a rename stops walpipe" 1 "$rc"
assert_contains "with the statement to run" \
	'column "z" is new and "y" is gone at its place: if it was renamed, run ALTER TABLE "mirror"."b" RENAME COLUMN "y" TO "z"; if not, ALTER TABLE "mirror"."b" ADD COLUMN "z" integer;' \
	"$(cat "$T/run.log")"
ana -c 'ALTER TABLE "mirror"."b" RENAME COLUMN "y" TO "z"'
run_start "$T/m.yaml" "$T/run.log"
wait_caught_up "$pid"
same "renamed" b
same "renamed" a

# The last changes before a DROP TABLE arrive; the target stays.
sessions=$(grep -c 'columns of mirrored source tables changed' "$T/run.log" || true)
src -c "INSERT INTO app.a (id, v) VALUES (99999, 'last words')" -c "DROP TABLE app.a"
wait_caught_up "$pid"
assert_eq "a change just before DROP TABLE arrives" "last words" \
	"$(ana -c "SELECT v FROM mirror.a WHERE id = 99999")"
assert_eq "no new session for a dropped table" "$sessions" \
	"$(grep -c 'columns of mirrored source tables changed' "$T/run.log" || true)"
run_down

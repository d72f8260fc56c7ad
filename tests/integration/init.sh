# init.sh: `walpipe init` writes a configuration for a live database that
# `walpipe check --live` accepts as written and that mirrors exactly
# (issue 17): a mirror section by default, the tables that cannot be
# mirrored excluded with the reason; --explicit with one mapping per
# table, every column written out, and --create-targets; names that need
# quoting in SQL and in YAML; refusing to overwrite a file.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src <<'SQL'
CREATE SCHEMA shop;
CREATE TABLE shop.users (id int PRIMARY KEY, "createdAt" timestamptz NOT NULL DEFAULT now(), email text);
CREATE TABLE shop."Order Lines" (order_id int, line int, "it's" text, PRIMARY KEY (order_id, line));
CREATE TABLE shop.audit (at int, what text);
ALTER TABLE shop.audit REPLICA IDENTITY FULL;
CREATE TABLE shop.scratch (v text);
INSERT INTO shop.users SELECT g, '2026-01-01'::timestamptz + g * interval '1 day', 'u' || g || '@x' FROM generate_series(1, 50) g;
INSERT INTO shop."Order Lines" SELECT g / 3, g % 3, 'o''' || g FROM generate_series(1, 90) g;
INSERT INTO shop.audit SELECT g % 5, 'w' FROM generate_series(1, 20) g;
SQL

"$WALPIPE_BIN" init --source "$WALPIPE_TEST_SOURCE" --target "$WALPIPE_TEST_ANALYTICS" \
	--name shop --mirror 'shop.*' -o "$T/shop.yaml" 2>"$T/init.err"
assert_contains "init says what it wrote" \
	"walpipe init: 3 table(s), excluded tables that cannot be mirrored (see the comments)" "$(cat "$T/init.err")"
assert_eq "the file is not world-readable" 640 "$(stat -c %a "$T/shop.yaml")"
assert_contains "the unmirrorable table is excluded with the fix" \
	"- shop.scratch   # table shop.scratch has no primary key: its updates and deletes are not logged; give it a primary key, or run ALTER TABLE shop.scratch REPLICA IDENTITY FULL" \
	"$(cat "$T/shop.yaml")"
rc=0; "$WALPIPE_BIN" init --source "$WALPIPE_TEST_SOURCE" --target "$WALPIPE_TEST_ANALYTICS" \
	-o "$T/shop.yaml" 2>"$T/again.err" || rc=$?
assert_eq "init does not overwrite a file" 1 "$rc"
assert_contains "and says how to" "(--force overwrites)" "$(cat "$T/again.err")"
if [ "${WALPIPE_PLUGIN:-wal2json}" = pgoutput ]; then
	# pgoutput publishes schema shop whole, the excluded table too: once
	# published without a replica identity, the source would refuse its
	# updates, and walpipe refuses to publish it (README, "pgoutput").
	out=$("$WALPIPE_BIN" check --live -c "$T/shop.yaml" 2>&1) && fail "check --live published a keyless table: $out"
	assert_contains "check --live names the keyless table with the fix" \
		"tables shop.scratch have no replica identity" "$out"
	src -c "ALTER TABLE shop.scratch REPLICA IDENTITY FULL"
fi
out=$("$WALPIPE_BIN" check --live -c "$T/shop.yaml" 2>&1) || fail "check --live refused init's file: $out"
assert_contains "check --live accepts it as written" \
	'mirror[0]: 3 table(s): shop."Order Lines", shop.audit, shop.users' "$out"

same() { # TABLE_ON_SOURCE TABLE_ON_ANALYTICS
	assert_eq "$2 = $1" \
		"$(src -c "SELECT count(*) || ':' || md5(string_agg(t::text, ',' ORDER BY t::text)) FROM $1 t")" \
		"$(ana -c "SELECT count(*) || ':' || md5(string_agg(t::text, ',' ORDER BY t::text)) FROM $2 t")"
}
run_up "$T/shop.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) = 3 AND bool_and(state = 'done') FROM walpipe.snapshot_tables" "$pid"
src -c "UPDATE shop.users SET email = NULL WHERE id % 4 = 0" \
	-c "DELETE FROM shop.\"Order Lines\" WHERE line = 1" \
	-c "DELETE FROM shop.audit WHERE ctid = (SELECT min(ctid) FROM shop.audit WHERE at = 2)"
wait_caught_up "$pid"
same shop.users mirror.users
same 'shop."Order Lines"' 'mirror."Order Lines"'
same shop.audit mirror.audit
run_down

# One mapping per table, the targets created now, in another schema.
"$WALPIPE_BIN" init --source "$WALPIPE_TEST_SOURCE" --target "$WALPIPE_TEST_ANALYTICS" \
	--name shop --mirror 'shop.*' --exclude shop.scratch --to explicit --explicit \
	--create-targets -o "$T/explicit.yaml" 2>/dev/null
assert_contains "a column with its type as a comment" \
	"'\"createdAt\"': '\"createdAt\"'   # timestamp with time zone not null" "$(cat "$T/explicit.yaml")"
assert_contains "a table without a key is a keyless mapping" \
	"mode: keyless   # REPLICA IDENTITY FULL" "$(cat "$T/explicit.yaml")"
assert_eq "the targets exist" 3 \
	"$(ana -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'explicit'")"
out=$("$WALPIPE_BIN" check --live -c "$T/explicit.yaml" 2>&1) || fail "check --live refused the explicit file: $out"
assert_contains "check --live accepts it as written" "live: source and analytics databases accept this configuration" "$out"

# A column of an extension's type: the analytics database must have the
# extension; walpipe says which statement to run, and creates nothing.
src -c "CREATE EXTENSION citext" -c "CREATE SCHEMA ext" \
	-c "CREATE TABLE ext.people (id int PRIMARY KEY, email citext)" \
	-c "INSERT INTO ext.people VALUES (1, 'A@B.example')"
"$WALPIPE_BIN" init --source "$WALPIPE_TEST_SOURCE" --target "$WALPIPE_TEST_ANALYTICS" \
	--name shop --mirror 'ext.*' --to ext_mirror -o "$T/ext.yaml" 2>/dev/null
rc=0; out=$("$WALPIPE_BIN" check --live -c "$T/ext.yaml" 2>&1) || rc=$?
assert_eq "check --live fails without the extension" 1 "$rc"
assert_contains "and names the statement to run" \
	'live: mirror[0]: the analytics database lacks type public.citext of extension "citext" (column "email"): run CREATE EXTENSION "citext" there' "$out"
assert_eq "nothing was created" "" "$(ana -c "SELECT to_regnamespace('ext_mirror')")"
ana -c "CREATE EXTENSION citext"
out=$("$WALPIPE_BIN" check --live -c "$T/ext.yaml" 2>&1) || fail "check --live refused after CREATE EXTENSION: $out"
assert_contains "with it, the target can be made" \
	'mirror[0]: targets walpipe run will create in schema ext_mirror: people' "$out"

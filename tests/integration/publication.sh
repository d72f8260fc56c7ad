# publication.sh: source.plugin pgoutput and its publication (issue 19):
# without create_slot a missing publication, a missing table, a row filter
# and an action not published are refused by check --live and by run, each
# with the SQL that fixes it; with create_slot walpipe creates the
# publication before the slot, adds a table listed later, and refuses to
# publish a table without a replica identity (its updates and deletes
# would fail on the source); a wal2json slot is refused for pgoutput.
# With mirrors, the publication holds their schemas whole (FOR TABLES IN
# SCHEMA) or every table (a pattern *.t): a table created later is
# published without walpipe; a schema holding a table without a replica
# identity is not published, the tables named with the fix.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR
W=${WALPIPE_REAL_BIN:-$WALPIPE_BIN}

src -c "CREATE TABLE public.a (id int PRIMARY KEY, v text);
	CREATE TABLE public.b (id int PRIMARY KEY, v text);
	CREATE TABLE public.nokey (v text);"
ana -c "CREATE TABLE public.a (id int PRIMARY KEY, v text);
	CREATE TABLE public.b (id int PRIMARY KEY, v text);"
conf() { # FILE CREATE_SLOT TABLES
	cat >"$1" <<YAML
source: { name: shop, conninfo: "$WALPIPE_TEST_SOURCE", slot: walpipe_shop,
          plugin: pgoutput, create_slot: $2, tables: [$3] }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS", schema: walpipe }
batch: { max_changes: 1000, max_bytes: 64MB, max_delay: 50ms }
snapshot: never
mappings:
  - { from: public.a, to: public.a, key: [id], columns: { id: id, v: v } }
YAML
}
live() { "$W" check --live -q -c "$1" 2>&1 || true; }
run_fails() { # CONFIG: walpipe run exits 1; its log
	local rc=0
	timeout 60 "$W" run -c "$1" >"$T/fail.log" 2>&1 || rc=$?
	assert_eq "walpipe run refuses ($1)" 1 "$rc"
	cat "$T/fail.log"
}

# ---- create_slot false: the publication must be there and right
conf "$T/fixed.yaml" false "public.a"
assert_contains "check: missing publication, with the SQL" \
	'publication "walpipe_shop" does not exist
CREATE PUBLICATION "walpipe_shop" FOR TABLE public.a; on the source as the owner of the tables (or a superuser), or set source.create_slot: true.' \
	"$(live "$T/fixed.yaml")"
assert_contains "run: missing publication" 'publication "walpipe_shop" does not exist' "$(run_fails "$T/fixed.yaml")"

src -c "CREATE PUBLICATION walpipe_shop FOR TABLE public.b"
assert_contains "check: table not published" \
	'publication "walpipe_shop" does not publish table public.a: none of their changes would reach walpipe
ALTER PUBLICATION "walpipe_shop" ADD TABLE public.a; on the source as the owner of the tables (or a superuser).' "$(live "$T/fixed.yaml")"

src -c "ALTER PUBLICATION walpipe_shop ADD TABLE public.a WHERE (id > 10)"
assert_contains "check: row filter" \
	'publication "walpipe_shop" has a row filter or a column list for table public.a: walpipe would mirror only part of it' \
	"$(live "$T/fixed.yaml")"
src -c "ALTER PUBLICATION walpipe_shop SET TABLE public.a, public.b"
src -c "ALTER PUBLICATION walpipe_shop SET (publish = 'insert, update')"
assert_contains "check: actions" \
	'publication "walpipe_shop" does not publish every action walpipe mirrors' "$(live "$T/fixed.yaml")"
src -c "ALTER PUBLICATION walpipe_shop SET (publish = 'insert, update, delete, truncate')"
out=$(live "$T/fixed.yaml")
assert_contains "check: only the slot is missing" \
	'replication slot "walpipe_shop" does not exist and source.create_slot is false' "$out"
assert_eq "check: the publication is right" 0 "$(echo "$out" | grep -c publication || true)"

# A wal2json slot of the name: refused for pgoutput.
src -c "SELECT 1 FROM pg_create_logical_replication_slot('walpipe_shop', 'wal2json')" >/dev/null
assert_contains "check: slot of the other plugin" \
	'replication slot "walpipe_shop" uses plugin "wal2json", not pgoutput (source.plugin)' "$(live "$T/fixed.yaml")"
assert_contains "run: slot of the other plugin" \
	'replication slot "walpipe_shop" uses output plugin "wal2json"; walpipe needs "pgoutput" (source.plugin)' \
	"$(run_fails "$T/fixed.yaml")"
src -c "SELECT pg_drop_replication_slot('walpipe_shop'); DROP PUBLICATION walpipe_shop" >/dev/null

# ---- create_slot true: created before the slot, a later table added
conf "$T/own.yaml" true "public.a, public.nokey"
assert_contains "run: no publication of a table without replica identity" \
	'table public.nokey has no replica identity: once published, its updates and deletes would fail on the source' \
	"$(run_fails "$T/own.yaml")"
assert_eq "nothing was published" 0 "$(src -c "SELECT count(*) FROM pg_publication")"
src -c "UPDATE nokey SET v = v" # still possible

conf "$T/own.yaml" true "public.a"
"$W" run -c "$T/own.yaml" 2>"$T/run.log" &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true' EXIT
wait_sql src "SELECT count(*) = 1 FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'" "$pid"
assert_contains "created, and said so" 'created publication "walpipe_shop" for source.tables' "$(cat "$T/run.log")"
src -c "INSERT INTO a VALUES (1, 'one'), (2, NULL); UPDATE a SET v = 'uno' WHERE id = 1; DELETE FROM a WHERE id = 2"
wait_caught_up "$pid"
assert_eq "rows mirrored" "1|uno" "$(ana -c "SELECT id || '|' || v FROM public.a")"
kill -TERM "$pid"; wait "$pid" || true

conf "$T/own.yaml" true "public.a, public.b"
sed -i 's/^mappings:/mappings:\n  - { from: public.b, to: public.b, key: [id], columns: { id: id, v: v } }/' "$T/own.yaml"
"$W" run -c "$T/own.yaml" 2>"$T/run2.log" &
pid=$!
wait_sql src "SELECT count(*) = 2 FROM pg_publication_tables WHERE pubname = 'walpipe_shop'" "$pid"
src -c "INSERT INTO b VALUES (7, 'seven')"
wait_caught_up "$pid"
assert_contains "a table listed later is added" 'added to publication "walpipe_shop" for public.b' "$(cat "$T/run2.log")"
assert_eq "its rows mirrored" "7|seven" "$(ana -c "SELECT id || '|' || v FROM public.b")"
kill -TERM "$pid"; wait "$pid" || true
src -c "SELECT pg_drop_replication_slot('walpipe_shop'); DROP PUBLICATION walpipe_shop" >/dev/null

# ---- mirrors: their schemas published whole
src -c "CREATE SCHEMA app; CREATE TABLE app.x (id int PRIMARY KEY);
	CREATE TABLE app.loose (v text); CREATE TABLE app.\"Odd\" (v text)"
mconf() { # FILE CREATE_SLOT MIRROR_FROM
	conf "$1" "$2" "public.a"
	sed -i "s/^snapshot: never/snapshot: never\nmirror:\n  - { from: $3, exclude: [app.loose, 'app.\"Odd\"'], to: m }/" "$1"
}
mconf "$T/m.yaml" true "app.*"
want='cannot publish schema app for the mirrors: tables app."Odd", app.loose have no replica identity, and once published the source would refuse their updates and deletes ("cannot update table ... because it does not have a replica identity and publishes updates")
ALTER TABLE app."Odd" REPLICA IDENTITY FULL; ALTER TABLE app.loose REPLICA IDENTITY FULL; on the source (or give each a primary key), or create publication "walpipe_shop" yourself.'
assert_contains "check --live: tables without a replica identity in a mirrored schema" "$want" "$(live "$T/m.yaml")"
assert_contains "run: refused, the tables named with the fix" "$want" "$(run_fails "$T/m.yaml")"
assert_eq "nothing was published" 0 "$(src -c "SELECT count(*) FROM pg_publication")"
src -c "UPDATE app.loose SET v = v" # still possible
src -c 'ALTER TABLE app.loose REPLICA IDENTITY FULL; ALTER TABLE app."Odd" REPLICA IDENTITY FULL'
mconf "$T/fixed_m.yaml" false "app.*"
assert_contains "check: missing publication of a mirror, with the SQL and the role" \
	'publication "walpipe_shop" does not exist
CREATE PUBLICATION "walpipe_shop" FOR TABLES IN SCHEMA "app", TABLE public.a; on the source as a superuser, or set source.create_slot: true.' \
	"$(live "$T/fixed_m.yaml")"
src -c "CREATE PUBLICATION walpipe_shop FOR TABLE public.a, app.x"
assert_contains "check: a mirrored schema not published whole" \
	'publication "walpipe_shop" does not publish schema app: none of their changes would reach walpipe
ALTER PUBLICATION "walpipe_shop" ADD TABLES IN SCHEMA "app"; on the source as a superuser.' \
	"$(live "$T/fixed_m.yaml")"
mconf "$T/all.yaml" false "'*.x'"
assert_contains "check: a mirror of every schema needs FOR ALL TABLES" \
	'publication "walpipe_shop" is not FOR ALL TABLES, which a mirror of every schema needs (a table created later in any schema must be published)
DROP PUBLICATION "walpipe_shop"; CREATE PUBLICATION "walpipe_shop" FOR ALL TABLES; on the source as a superuser, before the slot is created.' \
	"$(live "$T/all.yaml")"
src -c "DROP PUBLICATION walpipe_shop"
ana -c "DELETE FROM walpipe.checkpoints" # the slot was dropped
"$W" run -c "$T/m.yaml" 2>"$T/run3.log" &
pid=$!
wait_sql src "SELECT count(*) = 1 FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'" "$pid"
assert_contains "created for the schema, said so" \
	'created publication "walpipe_shop": CREATE PUBLICATION "walpipe_shop" FOR TABLES IN SCHEMA "app", TABLE public.a' "$(cat "$T/run3.log")"
src -c "CREATE TABLE app.later (id int PRIMARY KEY)"
assert_eq "a table created later is published" 1 \
	"$(src -c "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'walpipe_shop' AND tablename = 'later'")"
kill -TERM "$pid" || { cat "$T/run3.log"; fail "walpipe stopped"; }
wait "$pid" || true
echo "ok: publication"

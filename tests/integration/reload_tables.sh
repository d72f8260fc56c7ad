# reload_tables.sh: SIGHUP takes a new source.tables and a new mirror
# (issue 18, items 1 and 2): `walpipe plan` tells first what such a
# reload would change; the stream is reopened at the checkpoint with the
# new list, and only between transactions.  A reload that arrives while a
# transaction is applied in pieces reads it to its commit first: the next
# session counts that transaction's changes with another filter (here the
# table it adds has changes inside it), so a checkpoint inside it would
# skip the wrong changes (an append mapping would get some twice).  The
# mirrored table's target is created and copied by the reload; every
# table ends equal to its source.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src -c "CREATE TABLE a (id int PRIMARY KEY, v text)" -c "CREATE TABLE b (id int PRIMARY KEY, v text)" \
	-c "INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 100) g" \
	-c "INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 100) g"
ana -c "CREATE TABLE a_t (id int PRIMARY KEY, v text)" -c "CREATE TABLE a_log (id int, v text)"
config() { # TABLES [MIRROR]
	cat <<EOF
source: { ${WALPIPE_PLUGIN:+plugin: $WALPIPE_PLUGIN, }name: shop, conninfo: "$WALPIPE_TEST_SOURCE", create_slot: true, tables: [$1] }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS" }
batch: { max_changes: 200, max_delay: 20ms }
mappings:
  - { from: public.a, to: public.a_t, key: [id], columns: { id: id, v: v } }
  # Every change of a as a row: a change applied twice or skipped shows.
  - { from: public.a, to: public.a_log, mode: append, columns: { id: id, v: v } }
${2:-}
EOF
}
config public.a >"$T/r.yaml"
run_up "$T/r.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT bool_and(state = 'done') FROM walpipe.snapshot_tables" "$pid"

# A gate in the middle of the big transaction below: the statement that
# writes a_log's row 30250 takes a shared advisory lock, which the test
# holds, so walpipe stays inside the transaction (its first pieces
# committed) however long `plan` and `check --live` take.
ana <<'SQL'
CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(4243);
  RETURN NULL;
END $$;
CREATE TRIGGER gate AFTER INSERT ON a_log FOR EACH ROW WHEN (NEW.id = 30250)
  EXECUTE FUNCTION gate();
SQL
PGAPPNAME=gate psql -X -q -d "$WALPIPE_TEST_ANALYTICS" -c "SELECT pg_advisory_lock(4243)" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
gate=$!
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true; kill $gate 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4243 AND mode = 'ExclusiveLock' AND granted"

# One transaction whose changes of a and b interleave, big enough to be
# applied in pieces of 200.
src <<'SQL'
DO $$
BEGIN
  FOR i IN 1..60 LOOP
    INSERT INTO a SELECT 1000 * i + g, 'big' FROM generate_series(1, 500) g;
    INSERT INTO b SELECT 1000 * i + g, 'big' FROM generate_series(1, 50) g;
    UPDATE a SET v = v || i WHERE id = i;
  END LOOP;
END $$;
SQL
wait_sql ana "SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'walpipe' AND l.locktype = 'advisory' AND l.objid = 4243 AND NOT l.granted" "$pid"
assert_eq "walpipe waits inside the transaction" t \
	"$(ana -c "SELECT txn_end IS NOT NULL FROM walpipe.checkpoints")"

# walpipe plan: what a reload with another file would do, against the
# rules the running source recorded.
config "public.a, public.b" "mirror: [{ from: public.b, to: m }]" |
	sed -e 's/columns: { id: id, v: v } }$/columns: { id: id, v: { sql: "upper(v)" } } }/' \
		-e '/a_log/d' >"$T/plan.yaml"
out=$("$WALPIPE_BIN" plan -c "$T/plan.yaml") || { echo "$out"; fail "plan failed"; }
assert_contains "plan: a mirrored table added" \
	"  added    public.b -> m.b (mirror): the reload creates the target and copies the table's about " "$out"
assert_eq "plan: row estimates are numbers" 2 \
	"$(echo "$out" | grep -cE '(table.s|\() ?about [0-9]+ rows')"
assert_contains "plan: a changed mapping, with what differs" \
	"  changed  public.a -> public.a_t (mapping): the reload rewrites the target rows online, in chunks, while streaming (about " "$out"
assert_contains "plan: what becomes of rows that no longer match" \
	" rows/s its copies ran); rows that no longer match are deleted
           - column v = v" "$out"
assert_contains "plan: the lines that differ" \
	"           - column v = v
           + column v = sql: upper(v)" "$out"
assert_contains "plan: a removed mapping" \
	"  removed  public.a -> public.a_log (mapping): its target rows are left as they are" "$out"
assert_contains "plan: nothing else" "  unchanged: 0 rule(s)" "$out"
# The other kinds: an append mapping changed, mappings added (upsert,
# append, keyless), and with backfill.auto off.
config "public.a, public.b" "  - { from: public.b, to: public.b_t, key: [id], columns: { id: id, v: v } }
  - { from: public.b, to: public.b_log, mode: append, columns: { id: id, v: v } }
  - { from: public.b, to: public.b_kl, mode: keyless, columns: { id: id, v: v } }" |
	sed -e 's/to: public.a_log, mode: append, columns: { id: id, v: v }/to: public.a_log, mode: append, columns: { id: id, v: v, w: { sql: "1" } }/' >"$T/plan2.yaml"
out=$("$WALPIPE_BIN" plan -c "$T/plan2.yaml" 2>&1 | sed -e "s/(about [0-9]* rows[^)]*)/(SIZE)/") || { echo "$out"; fail "plan failed"; }
assert_eq "plan: every other kind of change" "$(cat <<'PLAN'
  changed  public.a -> public.a_log (mapping): past events stay as they were (a changed append mapping is not backfilled)
           + column w = sql: 1
  added    public.b -> public.b_t (mapping): the reload copies the existing rows online, in chunks, while streaming (SIZE)
  added    public.b -> public.b_log (mapping): the reload copies the existing rows online, in chunks, while streaming (SIZE)
  added    public.b -> public.b_kl (mapping): existing rows are not copied (a keyless mapping is not backfilled)
  unchanged: 1 rule(s)
PLAN
)" "$(echo "$out" | sed 1d)"
echo "backfill: { auto: false }" >>"$T/plan2.yaml"
assert_contains "plan: backfill.auto off" \
	"  added    public.b -> public.b_t (mapping): backfill.auto is off: run walpipe snapshot --table public.b after the reload to copy the rows (SIZE)" \
	"$("$WALPIPE_BIN" plan -c "$T/plan2.yaml" | sed -e 's/(about [0-9]* rows[^)]*)/(SIZE)/')"
out=$("$WALPIPE_BIN" check --live -c "$T/plan.yaml") || fail "check --live failed: $out"
assert_contains "check --live includes the plan" 'plan: against the rules source "shop" applies' "$out"

# While it is applied in pieces, reload with b listed and mirrored, then
# open the gate.
config "public.a, public.b" "mirror: [{ from: public.b, to: m }]" >"$T/r.yaml"
kill -HUP "$pid"
ana -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gate'" >/dev/null
wait "$gate" || true
src -c "UPDATE b SET v = 'after' WHERE id <= 10" -c "INSERT INTO a VALUES (999999, 'after')"
wait_sql ana "SELECT to_regclass('m.b') IS NOT NULL" "$pid"
wait_caught_up "$pid"
assert_contains "the reload waited for the transaction's commit" \
	"reload: reading the rest of the transaction in hand" "$(cat "$T/run.log")"
assert_eq "no checkpoint inside a transaction after the reload" "" \
	"$(ana -c "SELECT txn_end FROM walpipe.checkpoints")"
for t in "a a_t" "b m.b"; do
	set -- $t
	assert_eq "$2 = $1" \
		"$(src -c "SELECT count(*) || ':' || md5(string_agg(t::text, ',' ORDER BY id)) FROM $1 t")" \
		"$(ana -c "SELECT count(*) || ':' || md5(string_agg(t::text, ',' ORDER BY id)) FROM $2 t")"
done
# 100 copied, 30,000 inserted and 60 updated in the big transaction, 1 after.
assert_eq "every change of a applied once" 30161 "$(ana -c "SELECT count(*) FROM a_log")"
run_down

# exact_added_column.sh: a column added in the middle of the stream (issue
# 13, class 8).  An insert decoded from before the column existed lacks it;
# the source row now holds the column's missing value (the ADD COLUMN
# default, or NULL), and so must the mirror.  walpipe used to end the
# session to re-read the catalog, find the column there, and stop for good:
# it could never pass such a transaction.
#   A. walpipe restarted after the mapping gained the added columns: the
#      inserts older than its catalog are filled, with no re-planning.
#   B. while walpipe runs, a mapped column is dropped and added again: the
#      insert between is newer than the plan, so the catalog is read again
#      once, and the row gets the new column's default.
#   C. a column renamed away and back: the insert between carries a column
#      the table no longer has instead of the mapped one; walpipe cannot
#      tell where its value went and stops, saying so.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src <<'SQL'
CREATE TABLE public.t (id int PRIMARY KEY, v text);
CREATE TABLE public.t2 (id int PRIMARY KEY, v text, c int DEFAULT 1);
SQL
ana <<'SQL'
CREATE SCHEMA analytics;
CREATE TABLE analytics.t (id int PRIMARY KEY, v text, c int, d text, e bytea, f text);
CREATE TABLE analytics.t2 (id int PRIMARY KEY, v text, c int);
SQL
config() { # FILE T-COLUMNS
	cat >"$1" <<YAML
$(shop_header "public.t, public.t2" 1000 100ms)
snapshot: never
mappings:
  - { from: public.t, to: analytics.t, key: [id], columns: { $2 } }
  - { from: public.t2, to: analytics.t2, key: [id], columns: { id: id, v: v, c: c } }
YAML
}
sum_t() { # PSQL_FN TABLE
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(format('%s|%s|%s|%s|%s|%s', id, v, c, d, encode(e, 'hex'), f), ',' ORDER BY id), '')) FROM $2"
}
sum_t2() { # PSQL_FN TABLE
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(format('%s|%s|%s', id, v, c), ',' ORDER BY id), '')) FROM $2"
}

# A. The slot exists while the mapping does not read c, d, e, f yet.
config "$T/a.yaml" "id: id, v: v"
run_start "$T/a.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) = 1 FROM walpipe.checkpoints WHERE source = 'shop'" "$pid"
kill -TERM "$pid"
wait "$pid"
trap - EXIT
src <<'SQL'
INSERT INTO t VALUES (0, 'before');
BEGIN;
INSERT INTO t VALUES (1, 'a'), (3, 'c');
ALTER TABLE t ADD COLUMN c int DEFAULT 7, ADD COLUMN d text DEFAULT 'x y',
  ADD COLUMN e bytea DEFAULT '\x0102', ADD COLUMN f text;
INSERT INTO t VALUES (2, 'b', 8, 'z', '\x03', 'f');
UPDATE t SET v = 'c2' WHERE id = 3;
COMMIT;
SQL
# The operator maps the new columns and starts walpipe again.
config "$T/b.yaml" "id: id, v: v, c: c, d: d, e: e, f: f"
"$WALPIPE_BIN" check -q -c "$T/b.yaml"
run_start "$T/b.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
wait_caught_up "$pid" || { cat "$T/run.log"; fail "walpipe did not apply the transaction"; }
assert_eq "A: rows from before the ADD COLUMN hold its defaults" \
	"0|before|7|x y|0102|,1|a|7|x y|0102|,2|b|8|z|03|f,3|c2|7|x y|0102|" \
	"$(ana -c "SELECT string_agg(format('%s|%s|%s|%s|%s|%s', id, v, c, d, encode(e, 'hex'), f), ',' ORDER BY id) FROM analytics.t")"
assert_eq "A: t equals the source" "$(sum_t src t)" "$(sum_t ana analytics.t)"
grep -q 're-reading the source catalog' "$T/run.log" &&
	fail "A: older inserts made walpipe re-read the catalog"

# B. Dropped and added again while walpipe runs, inside one transaction.
src <<'SQL'
BEGIN;
ALTER TABLE t2 DROP COLUMN c;
INSERT INTO t2 (id, v) VALUES (1, 'a');
ALTER TABLE t2 ADD COLUMN c int DEFAULT 9;
INSERT INTO t2 (id, v, c) VALUES (2, 'b', 5);
COMMIT;
SQL
src -c "INSERT INTO t2 (id, v) VALUES (3, 'c')"
wait_caught_up "$pid" || { cat "$T/run.log"; fail "walpipe did not apply the transaction"; }
assert_eq "B: the insert between gets the new column's default" "1|a|9,2|b|5,3|c|9" \
	"$(ana -c "SELECT string_agg(format('%s|%s|%s', id, v, c), ',' ORDER BY id) FROM analytics.t2")"
assert_eq "B: t2 equals the source" "$(sum_t2 src t2)" "$(sum_t2 ana analytics.t2)"
assert_eq "B: the catalog was read again once" 1 \
	"$(grep -c 'source table "public.t2" changed shape: the insert at .* has no column "c"; re-reading the source catalog' "$T/run.log")"
kill -0 "$pid" || fail "B: walpipe stopped"

# C. Renamed away and back: the insert between carries w, not v.
src <<'SQL'
BEGIN;
INSERT INTO t2 (id, v) VALUES (4, 'd');
ALTER TABLE t2 RENAME COLUMN v TO w;
INSERT INTO t2 (id, w) VALUES (5, 'renamed');
ALTER TABLE t2 RENAME COLUMN w TO v;
COMMIT;
SQL
set +e
wait "$pid"
rc=$?
set -e
trap - EXIT
assert_eq "C: exit status 1" 1 "$rc"
# The insert's position, from the slot walpipe left it in.
lsn=$(src -c "SELECT lsn FROM pg_logical_slot_peek_changes('walpipe_shop', NULL, NULL, 'format-version', '2', 'add-tables', 'public.t2') WHERE data::jsonb->'columns' @> '[{\"name\": \"w\"}]'")
assert_contains "C: the stop says what is wrong" \
	"error: insert into \"public.t2\" at $lsn has no column \"v\", which the mapping to \"analytics.t2\" reads, but has column \"w\", which the source table no longer has" \
	"$(cat "$T/run.log")"
assert_eq "C: everything before it was applied" "4|d" \
	"$(ana -c "SELECT id || '|' || v FROM analytics.t2 WHERE id > 3")"
assert_eq "no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"
echo "ok: exact_added_column"

# exact_filter.sh: a mapping's where keeps the target equal to the source
# filtered by it, whatever the batch boundaries (issue 13, class 4; the
# scenario follows PostgreSQL's src/test/subscription/t/028_row_filter.pl).
# A row that stops matching leaves (deleted, or soft-deleted); one that
# starts matching arrives; a partial update that cannot be completed is a
# dead letter, never a silent loss, and `dlq retry` applies it.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src <<'SQL'
CREATE TABLE tab_rowfilter_1 (a int PRIMARY KEY, b text);
CREATE TABLE tab_toast (a int PRIMARY KEY, big text, b text);
ALTER TABLE tab_toast ALTER big SET STORAGE EXTERNAL;
SQL
ana <<'SQL'
CREATE TABLE tab_rowfilter_1 (a int PRIMARY KEY, b text);
CREATE TABLE tab_soft (a int PRIMARY KEY, b text, deleted_at timestamptz);
CREATE TABLE tab_toast (a int PRIMARY KEY, big text, b text);
SQL
cat >"$T/filter.yaml" <<EOF
$(shop_header "public.tab_rowfilter_1, public.tab_toast" 10000 50ms)
snapshot: never
mappings:
  - from: public.tab_rowfilter_1
    to: public.tab_rowfilter_1
    key: [a]
    columns: { a: a, b: b }
    where: "a > 1000 AND b <> 'filtered'"
  - from: public.tab_rowfilter_1
    to: public.tab_soft
    key: [a]
    columns: { a: a, b: b, deleted_at: { sql: "null::timestamptz" } }
    where: "a > 1000 AND b <> 'filtered'"
    on_delete: { soft_delete: deleted_at }
  - from: public.tab_toast
    to: public.tab_toast
    key: [a]
    columns: { a: a, big: big, b: b }
    where: "b <> 'hidden'"
EOF

filtered() { # PSQL_FN TABLE WHERE
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(a || '|' || coalesce(b, '-'), ',' ORDER BY a), '')) FROM $2 WHERE $3"
}
check() { # WHAT
	wait_caught_up "${pid:-}"
	assert_eq "$1: target = source filtered" \
		"$(filtered src tab_rowfilter_1 "a > 1000 AND b <> 'filtered'")" \
		"$(filtered ana tab_rowfilter_1 true)"
	assert_eq "$1: live rows of the soft-delete target = source filtered" \
		"$(filtered src tab_rowfilter_1 "a > 1000 AND b <> 'filtered'")" \
		"$(filtered ana tab_soft "deleted_at IS NULL")"
	assert_eq "$1: no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"
}
start() { run_up "$T/filter.yaml" "$T/run.log"; }
stop() { run_down; }
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT

# 028_row_filter's changes to tab_rowfilter_1, offset by $1.
round() {
	local o=$1
	src <<SQL
INSERT INTO tab_rowfilter_1 (a, b) VALUES ($o + 1, 'not replicated');
INSERT INTO tab_rowfilter_1 (a, b) VALUES ($o + 1500, 'filtered');
INSERT INTO tab_rowfilter_1 (a, b) VALUES ($o + 1980, 'not filtered');
INSERT INTO tab_rowfilter_1 (a, b) SELECT x + $o, 'test ' || x FROM generate_series(990, 1002) x;
INSERT INTO tab_rowfilter_1 (a, b) VALUES ($o + 1600, 'test 1600');
INSERT INTO tab_rowfilter_1 (a, b) VALUES ($o + 1601, 'test 1601');
INSERT INTO tab_rowfilter_1 (a, b) VALUES ($o + 1602, 'filtered');
INSERT INTO tab_rowfilter_1 (a, b) VALUES ($o + 1700, 'test 1700');
UPDATE tab_rowfilter_1 SET b = NULL WHERE a = $o + 1600;
UPDATE tab_rowfilter_1 SET b = 'test 1601 updated' WHERE a = $o + 1601;
UPDATE tab_rowfilter_1 SET b = 'test 1602 updated' WHERE a = $o + 1602;
DELETE FROM tab_rowfilter_1 WHERE a = $o + 1700;
UPDATE tab_rowfilter_1 SET b = 'filtered' WHERE a = $o + 1980;
UPDATE tab_rowfilter_1 SET a = a - 500 WHERE a = $o + 1001;
UPDATE tab_rowfilter_1 SET a = a + 200000 WHERE a = $o + 1500;
SQL
}

start
round 0
check "streamed"
stop
round 10000
start
check "one batch"

# A partial update (the TOASTed big left out) that makes a filtered row
# match has nothing to complete it: a dead letter, then `dlq retry`
# takes the source row as it is.
src <<'SQL'
INSERT INTO tab_toast SELECT g, repeat(md5(g::text), 200), 'hidden' FROM generate_series(1, 3) g;
INSERT INTO tab_toast VALUES (4, repeat('x', 9000), 'shown');
SQL
wait_caught_up "$pid"
src <<'SQL'
UPDATE tab_toast SET b = 'shown' WHERE a = 2;
UPDATE tab_toast SET b = 'shown again' WHERE a = 4;
SQL
wait_caught_up "$pid"
assert_eq "the uncompletable update is a dead letter" \
	"public.tab_toast|2|the update made the row match the mapping's where, but left out unchanged TOASTed columns, and the target has no row to take them from" \
	"$(ana -c "SELECT source_table, payload->'columns'->0->>'value', error FROM walpipe.dead_letters")"
"$WALPIPE_BIN" dlq retry -c "$T/filter.yaml" --all >"$T/retry.log" 2>&1 || { cat "$T/retry.log"; fail "dlq retry failed"; }
toast_sum() { # PSQL_FN WHERE
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(a || '|' || md5(big) || '|' || b, ',' ORDER BY a), '')) FROM tab_toast WHERE $2"
}
assert_eq "tab_toast = source filtered after the retry" \
	"$(toast_sum src "b <> 'hidden'")" "$(toast_sum ana true)"
stop
echo "ok: exact_filter"

# exact_keys.sh: rows are found and kept exactly when keys hold TOASTed
# values, keys change while other columns stay out of line, and the replica
# identity changes while walpipe streams (issue 13, classes 1, 2 and 5).
# Every phase runs once while walpipe streams and once with walpipe
# stopped, so that the same changes land in one batch.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src <<'SQL'
-- Class 1: a replica identity index over a column stored out of line.
CREATE TABLE t1 (a text NOT NULL, b text NOT NULL, c int);
ALTER TABLE t1 ALTER a SET STORAGE EXTERNAL;
CREATE UNIQUE INDEX t1_ri ON t1 (a, b);
ALTER TABLE t1 REPLICA IDENTITY USING INDEX t1_ri;
-- Class 2: a primary key that changes while a large column does not.
CREATE TABLE t2 (id int PRIMARY KEY, big text, n int);
ALTER TABLE t2 ALTER big SET STORAGE EXTERNAL;
-- Class 5: the replica identity moves from one unique index to another.
CREATE TABLE t5 (a int NOT NULL, b int NOT NULL, c text);
CREATE UNIQUE INDEX t5_a ON t5 (a);
CREATE UNIQUE INDEX t5_b ON t5 (b);
ALTER TABLE t5 REPLICA IDENTITY USING INDEX t5_a;
SQL
ana <<'SQL'
CREATE TABLE t1 (a text NOT NULL, b text NOT NULL, c int, UNIQUE (a, b));
CREATE TABLE t2 (id int PRIMARY KEY, big text, n int);
CREATE TABLE t5 (a int NOT NULL UNIQUE, b int NOT NULL UNIQUE, c text);
SQL
cat >"$T/keys.yaml" <<EOF
$(shop_header "public.t1, public.t2, public.t5" 10000 50ms)
snapshot: never
mappings:
  - { from: public.t1, to: public.t1, key: [a, b], columns: { a: a, b: b, c: c } }
  - { from: public.t2, to: public.t2, key: [id], columns: { id: id, big: big, n: n } }
  - { from: public.t5, to: public.t5, key: [a], columns: { a: a, b: b, c: c } }
EOF

sums() { # PSQL_FN
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(md5(a) || '|' || b || '|' || coalesce(c::text, '-'), ',' ORDER BY a, b), '')) FROM t1" \
		-c "SELECT count(*) || ':' || md5(coalesce(string_agg(id || '|' || md5(coalesce(big, '-')) || '|' || coalesce(n::text, '-'), ',' ORDER BY id), '')) FROM t2" \
		-c "SELECT count(*) || ':' || md5(coalesce(string_agg(a || '|' || b || '|' || coalesce(c, '-'), ',' ORDER BY a), '')) FROM t5"
}
check() { # WHAT
	wait_caught_up "${pid:-}"
	assert_eq "$1: analytics = source" "$(sums src)" "$(sums ana)"
	assert_eq "$1: no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"
}
start() { run_up "$T/keys.yaml" "$T/run.log"; }
stop() { run_down; }
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT

# The workload of one round; $1 makes keys distinct per round.
round() {
	local o=$1
	src <<SQL
INSERT INTO t1 SELECT repeat(md5(g::text), 60) || '$o', 'x', g FROM generate_series(1, 20) g;
INSERT INTO t2 SELECT g + $o, repeat(md5(g::text), 200), g FROM generate_series(1, 20) g;
INSERT INTO t5 SELECT g + $o, g + $o, 'row ' || g FROM generate_series(1, 20) g;
SQL
	src <<SQL
UPDATE t1 SET c = c * 10 WHERE a LIKE '%$o';
UPDATE t1 SET b = 'moved' WHERE c = 30 AND a LIKE '%$o';
UPDATE t2 SET id = -id WHERE id BETWEEN $o + 1 AND $o + 10;
UPDATE t2 SET n = n + 1000 WHERE id = -($o + 1);
UPDATE t2 SET id = id + 5000, n = 0 WHERE id = -($o + 2);
BEGIN;
UPDATE t2 SET id = 900000 + $o WHERE id = $o + 11;
UPDATE t2 SET id = 800000 + $o WHERE id = 900000 + $o;
COMMIT;
SQL
}

start
round 0
check "streamed, key columns out of line and key changes"

# The same in one batch: walpipe stopped while the source changes.
stop
round 1000
start
check "one batch, key columns out of line and key changes"

# Class 5: the replica identity changes while walpipe streams; the old key
# column is updated and a row deleted by the new identity.
src <<'SQL'
ALTER TABLE t5 REPLICA IDENTITY USING INDEX t5_b;
UPDATE t5 SET a = a + 100 WHERE b = 1;
DELETE FROM t5 WHERE b = 2;
UPDATE t5 SET c = 'changed' WHERE b = 3;
SQL
check "replica identity changed while streaming"
assert_contains "the identity change is logged" \
	'replica identity of source table "public.t5" changed' "$(cat "$T/run.log")"
stop

# And while walpipe is stopped, back to the first index.
src <<'SQL'
ALTER TABLE t5 REPLICA IDENTITY USING INDEX t5_a;
UPDATE t5 SET b = b + 100 WHERE a = 1004;
DELETE FROM t5 WHERE a = 1005;
SQL
start
check "replica identity changed while stopped"
stop
echo "ok: exact_keys"

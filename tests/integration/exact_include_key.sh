# exact_include_key.sh: a primary key or replica identity index with
# INCLUDE columns identifies rows by its key columns only.  The included
# column is not in a delete's identity, so a walpipe that took it for a key
# column merged a batch's changes of one row under two keys and kept rows
# the source had deleted (issue 13, class 3).
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src <<'SQL'
CREATE TABLE public.t (a int, b text, CONSTRAINT t_pk PRIMARY KEY (a) INCLUDE (b));
CREATE TABLE public.u (a int NOT NULL, b text, c text);
CREATE UNIQUE INDEX u_a ON public.u (a) INCLUDE (b);
ALTER TABLE public.u REPLICA IDENTITY USING INDEX u_a;
SQL
ana <<'SQL'
CREATE SCHEMA analytics;
CREATE TABLE analytics.t (a int, b text, CONSTRAINT t_pk PRIMARY KEY (a) INCLUDE (b));
CREATE TABLE analytics.u (a int PRIMARY KEY, b text, c text);
SQL
cat >"$T/inc.yaml" <<YAML
$(shop_header "public.t, public.u" 1000 100ms)
snapshot: never
mappings:
  - { from: public.t, to: analytics.t, key: [a], columns: { a: a, b: b } }
  - { from: public.u, to: analytics.u, key: [a], columns: { a: a, b: b, c: c } }
YAML
"$WALPIPE_BIN" check -q -c "$T/inc.yaml"
run_start "$T/inc.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) = 1 FROM walpipe.checkpoints WHERE source = 'shop'" "$pid"

sum_t() { # PSQL_FN TABLE
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(format('%s|%s', a, b), ',' ORDER BY a), '')) FROM $2"
}
sum_u() { # PSQL_FN TABLE
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(format('%s|%s|%s', a, b, c), ',' ORDER BY a), '')) FROM $2"
}

# One transaction, so one batch: inserts, then deletes whose identity holds
# only a, then updates of the included column and of the key itself.
src <<'SQL'
BEGIN;
INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 50) g;
INSERT INTO u SELECT g, 'v' || g, 'c' || g FROM generate_series(1, 50) g;
DELETE FROM t WHERE a > 20;
DELETE FROM u WHERE a > 20;
UPDATE t SET b = 'changed' WHERE a % 5 = 0;
UPDATE u SET b = 'changed', c = 'x' WHERE a % 5 = 0;
UPDATE t SET a = a + 100 WHERE a % 7 = 0;
UPDATE u SET a = a + 100 WHERE a % 7 = 0;
COMMIT;
SQL
wait_caught_up "$pid"
assert_eq "t: 20 rows remain" 20 "$(ana -c "SELECT count(*) FROM analytics.t")"
assert_eq "t equals the source" "$(sum_t src t)" "$(sum_t ana analytics.t)"
assert_eq "u: 20 rows remain" 20 "$(ana -c "SELECT count(*) FROM analytics.u")"
assert_eq "u equals the source" "$(sum_u src u)" "$(sum_u ana analytics.u)"

# The same kinds of change one transaction each (rows already mirrored).
src -c "INSERT INTO t SELECT g, 'w' || g FROM generate_series(200, 260) g"
src -c "INSERT INTO u SELECT g, 'w' || g, 'd' || g FROM generate_series(200, 260) g"
src -c "UPDATE t SET b = b || '!' WHERE a % 3 = 0"
src -c "UPDATE u SET b = b || '!' WHERE a % 3 = 0"
src -c "UPDATE t SET a = a + 1000 WHERE a % 11 = 0"
src -c "UPDATE u SET a = a + 1000 WHERE a % 11 = 0"
src -c "DELETE FROM t WHERE a % 2 = 0"
src -c "DELETE FROM u WHERE a % 2 = 0"
wait_caught_up "$pid"
assert_eq "t equals the source after more transactions" "$(sum_t src t)" "$(sum_t ana analytics.t)"
assert_eq "u equals the source after more transactions" "$(sum_u src u)" "$(sum_u ana analytics.u)"
assert_eq "no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
trap - EXIT
assert_eq "SIGTERM exits 0" 0 "$rc"
echo "ok: exact_include_key"

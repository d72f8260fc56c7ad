# exact_truncate_fk.sh: one TRUNCATE of several relations truncates their
# targets together.  tab4 references tab3 on the source and fact_tab4
# references fact_tab3 on the analytics side; `TRUNCATE tab3, tab4` and
# `TRUNCATE tab3 CASCADE` must both apply (one TRUNCATE of every target,
# tab3 also feeding a second target), with rows before and after them in
# the same batch.  A target referenced by a table outside the group still
# stops walpipe, with a message that says what to do.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src <<'SQL'
CREATE TABLE public.tab3 (id int PRIMARY KEY, v text);
CREATE TABLE public.tab4 (id int PRIMARY KEY, tab3_id int REFERENCES public.tab3, v text);
CREATE TABLE public.tab5 (id int PRIMARY KEY, tab3_id int);
SQL
ana <<'SQL'
CREATE SCHEMA analytics;
CREATE TABLE analytics.fact_tab3 (id int PRIMARY KEY, v text);
CREATE TABLE analytics.fact_tab4 (id int PRIMARY KEY,
  tab3_id int REFERENCES analytics.fact_tab3, v text);
CREATE TABLE analytics.fact_tab3_copy (id int PRIMARY KEY, v text);
CREATE TABLE analytics.tab3_log (id int, v text);
CREATE TABLE analytics.fact_tab5 (id int PRIMARY KEY, tab3_id int);
SQL
# The child's mapping first: the group's order must not matter.
cat >"$T/fk.yaml" <<EOF
$(shop_header "public.tab3, public.tab4, public.tab5" 5000 100ms)
snapshot: never
mappings:
  - { from: public.tab4, to: analytics.fact_tab4, key: [id],
      columns: { id: id, tab3_id: tab3_id, v: v } }
  - { from: public.tab3, to: analytics.fact_tab3, key: [id],
      columns: { id: id, v: v } }
  - { from: public.tab3, to: analytics.fact_tab3_copy, key: [id],
      columns: { id: id, v: v } }
  - { from: public.tab3, to: analytics.tab3_log, mode: append,
      columns: { id: id, v: v }, on_truncate: ignore }
  - { from: public.tab5, to: analytics.fact_tab5, key: [id],
      columns: { id: id, tab3_id: tab3_id } }
EOF
run_start "$T/fk.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) = 1 FROM walpipe.checkpoints WHERE source = 'shop'" "$pid"

rows() { # PSQL_FN TABLE: count and checksum of (id, v) in id order
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(id || '=' || coalesce(v, '-'), ',' ORDER BY id), '')) FROM $2"
}
rows4() { # PSQL_FN TABLE
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(id || '>' || tab3_id || '=' || v, ',' ORDER BY id), '')) FROM $2"
}
check_equal() { # WHAT
	assert_eq "$1: fact_tab3 = tab3" "$(rows src tab3)" "$(rows ana analytics.fact_tab3)"
	assert_eq "$1: fact_tab3_copy = tab3" "$(rows src tab3)" "$(rows ana analytics.fact_tab3_copy)"
	assert_eq "$1: fact_tab4 = tab4" "$(rows4 src tab4)" "$(rows4 ana analytics.fact_tab4)"
	assert_eq "$1: no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"
	kill -0 "$pid" 2>/dev/null || { cat "$T/run.log" >&2; fail "$1: walpipe exited"; }
}
# Every insert into tab3 ever, as the append target (on_truncate: ignore)
# must keep them.
log_want=0

src <<'SQL'
INSERT INTO tab3 SELECT g, 'a' || g FROM generate_series(1, 100) g;
INSERT INTO tab4 SELECT g, 1 + g % 100, 'a' || g FROM generate_series(1, 300) g;
SQL
log_want=$((log_want + 100))
wait_caught_up "$pid"
check_equal "rows"

# Rows, one TRUNCATE of both tables (parent listed first, as wal2json
# sends them), rows again: one transaction, one batch.
src <<'SQL'
BEGIN;
INSERT INTO tab3 SELECT g, 'b' || g FROM generate_series(101, 150) g;
INSERT INTO tab4 SELECT g, 101 + g % 50, 'b' || g FROM generate_series(301, 400) g;
UPDATE tab4 SET v = 'moved' WHERE id <= 10;
TRUNCATE tab3, tab4;
INSERT INTO tab3 SELECT g, 'c' || g FROM generate_series(1, 30) g;
INSERT INTO tab4 SELECT g, 1 + g % 30, 'c' || g FROM generate_series(1, 60) g;
COMMIT;
SQL
log_want=$((log_want + 80))
wait_caught_up "$pid"
check_equal "TRUNCATE tab3, tab4"
assert_eq "TRUNCATE tab3, tab4: rows after it" 60 "$(ana -c "SELECT count(*) FROM analytics.fact_tab4")"

# The child listed first, in a transaction of its own.
src -c "TRUNCATE tab4, tab3"
src <<'SQL'
INSERT INTO tab3 SELECT g, 'd' || g FROM generate_series(1, 40) g;
INSERT INTO tab4 SELECT g, 1 + g % 40, 'd' || g FROM generate_series(1, 80) g;
SQL
log_want=$((log_want + 40))
wait_caught_up "$pid"
check_equal "TRUNCATE tab4, tab3"

# CASCADE: wal2json lists tab4 too.  Rows before it in the same batch.
src <<'SQL'
BEGIN;
INSERT INTO tab4 SELECT g, 1 + g % 40, 'e' || g FROM generate_series(81, 120) g;
TRUNCATE tab3 CASCADE;
INSERT INTO tab3 SELECT g, 'f' || g FROM generate_series(1, 10) g;
INSERT INTO tab4 SELECT g, 1 + g % 10, 'f' || g FROM generate_series(1, 20) g;
COMMIT;
SQL
log_want=$((log_want + 10))
wait_caught_up "$pid"
check_equal "TRUNCATE tab3 CASCADE"
assert_eq "TRUNCATE tab3 CASCADE: rows after it" "10 20" \
	"$(ana -c "SELECT (SELECT count(*) FROM analytics.fact_tab3) || ' ' || (SELECT count(*) FROM analytics.fact_tab4)")"
assert_eq "on_truncate: ignore keeps every row" "$log_want" "$(ana -c "SELECT count(*) FROM analytics.tab3_log")"

# A target outside the group references fact_tab3 (on the analytics side
# only): truncating it cannot work, and walpipe says what to do.
src -c "INSERT INTO tab5 VALUES (1, 1)"
wait_caught_up "$pid"
ana -c "ALTER TABLE analytics.fact_tab5 ADD FOREIGN KEY (tab3_id) REFERENCES analytics.fact_tab3"
src -c "TRUNCATE tab3, tab4"
rc=0
wait "$pid" || rc=$?
trap - EXIT
assert_eq "a truncate the analytics side refuses stops walpipe" 1 "$rc"
log=$(cat "$T/run.log")
assert_contains "the message names the group and the refusal" \
	'could not truncate "analytics"."fact_tab4", "analytics"."fact_tab3", "analytics"."fact_tab3_copy": cannot truncate a table referenced in a foreign key constraint' "$log"
assert_contains "the message names the referencing table" 'Table "fact_tab5" references "fact_tab3".' "$log"
assert_contains "the message says what to do" \
	'does not cascade to other tables.  Drop or change that foreign key on the analytics side' "$log"
assert_eq "nothing of that batch is applied" 10 "$(ana -c "SELECT count(*) FROM analytics.fact_tab3")"

# Done as the message says: the next start applies the truncate.
ana -c "ALTER TABLE analytics.fact_tab5 DROP CONSTRAINT fact_tab5_tab3_id_fkey"
run_start "$T/fk.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
wait_caught_up "$pid"
check_equal "after the foreign key is dropped"
assert_eq "the truncated targets are empty" "0:d41d8cd98f00b204e9800998ecf8427e" "$(rows ana analytics.fact_tab3)"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
trap - EXIT
assert_eq "SIGTERM exits 0" 0 "$rc"
echo "ok: exact_truncate_fk"

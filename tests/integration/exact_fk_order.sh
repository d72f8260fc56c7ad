# exact_fk_order.sh: foreign keys between target tables.  parent <- child
# <- toy on the source, the same keys between their targets on the
# analytics side (parent also references itself), and the mappings listed
# child first.  Batches that insert parents with their children, delete
# children with their parents, re-point children from one parent to
# another and delete the old one, each in one batch, must all apply with
# no dead letter; a batch that also holds a row the analytics side
# refuses dead-letters that row alone.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src <<'SQL'
CREATE TABLE public.parent (id int PRIMARY KEY, up_id int REFERENCES public.parent, v text);
CREATE TABLE public.child (id int PRIMARY KEY,
  parent_id int NOT NULL REFERENCES public.parent, v text);
CREATE TABLE public.toy (id int PRIMARY KEY, child_id int REFERENCES public.child, v text);
CREATE TABLE public.ca (id int PRIMARY KEY, cb_id int);
CREATE TABLE public.cb (id int PRIMARY KEY, ca_id int REFERENCES public.ca);
ALTER TABLE public.ca ADD FOREIGN KEY (cb_id) REFERENCES public.cb;
SQL
ana <<'SQL'
CREATE SCHEMA analytics;
CREATE TABLE analytics.fact_parent (id int PRIMARY KEY,
  up_id int REFERENCES analytics.fact_parent, v text);
CREATE TABLE analytics.fact_child (id int PRIMARY KEY,
  parent_id int NOT NULL REFERENCES analytics.fact_parent, v text);
CREATE TABLE analytics.fact_toy (id int PRIMARY KEY,
  child_id int REFERENCES analytics.fact_child, v varchar(20));
CREATE TABLE analytics.fact_ca (id int PRIMARY KEY, cb_id int);
CREATE TABLE analytics.fact_cb (id int PRIMARY KEY, ca_id int REFERENCES analytics.fact_ca);
ALTER TABLE analytics.fact_ca ADD FOREIGN KEY (cb_id) REFERENCES analytics.fact_cb;
SQL
# Children first: mapping order is the wrong order for inserts.
cat >"$T/fk.yaml" <<EOF
$(shop_header "public.parent, public.child, public.toy, public.ca, public.cb" 20000 2s)
snapshot: never
mappings:
  - { from: public.toy, to: analytics.fact_toy, key: [id],
      columns: { id: id, child_id: child_id, v: v } }
  - { from: public.child, to: analytics.fact_child, key: [id],
      columns: { id: id, parent_id: parent_id, v: v } }
  - { from: public.parent, to: analytics.fact_parent, key: [id],
      columns: { id: id, up_id: up_id, v: v } }
  - { from: public.cb, to: analytics.fact_cb, key: [id], columns: { id: id, ca_id: ca_id } }
  - { from: public.ca, to: analytics.fact_ca, key: [id], columns: { id: id, cb_id: cb_id } }
EOF
run_start "$T/fk.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) = 1 FROM walpipe.checkpoints WHERE source = 'shop'" "$pid"

sums() { # PSQL_FN SCHEMA_PREFIX: ordered checksums of the three tables
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(format('%s>%s=%s', id, up_id, v), ',' ORDER BY id), '')) FROM ${2}parent" \
		-c "SELECT count(*) || ':' || md5(coalesce(string_agg(format('%s>%s=%s', id, parent_id, v), ',' ORDER BY id), '')) FROM ${2}child" \
		-c "SELECT count(*) || ':' || md5(coalesce(string_agg(format('%s>%s=%s', id, child_id, v), ',' ORDER BY id), '')) FROM ${2}toy ${3:-}" |
		tr '\n' ' '
}
check_equal() { # WHAT
	wait_caught_up "$pid" || { cat "$T/run.log" >&2; fail "$1: walpipe did not catch up"; }
	assert_eq "$1: analytics = source" "$(sums src public.)" "$(sums ana analytics.fact_)"
	assert_eq "$1: no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"
	kill -0 "$pid" 2>/dev/null || { cat "$T/run.log" >&2; fail "$1: walpipe exited"; }
}

# Inserts: parents (some referencing others), children, toys.  Set-based,
# the toys' insert would run before the children's.
src <<'SQL'
BEGIN;
INSERT INTO parent SELECT g, NULL, 'p' || g FROM generate_series(1, 10) g;
INSERT INTO parent SELECT g, 1 + g % 10, 'p' || g FROM generate_series(11, 60) g;
INSERT INTO child SELECT g, 1 + g % 60, 'c' || g FROM generate_series(1, 300) g;
INSERT INTO toy SELECT g, 1 + g % 300, 't' || g FROM generate_series(1, 600) g;
COMMIT;
SQL
check_equal "insert parents, children, toys in one batch"

# Deletes: toys, their children, their parents; and an update of a
# surviving toy in the same batch.
src <<'SQL'
BEGIN;
DELETE FROM toy WHERE child_id IN (SELECT id FROM child WHERE parent_id > 50);
UPDATE toy SET v = 'kept' WHERE id <= 20;
DELETE FROM child WHERE parent_id > 50;
DELETE FROM parent WHERE id > 50;
COMMIT;
SQL
check_equal "delete toys, children, parents in one batch"

# Re-point: children of 41 move to 42 and 41 goes; children of 43 move to
# a new parent 100 and 43 goes; toys of child 44 move to a new child.
src <<'SQL'
BEGIN;
UPDATE child SET parent_id = 42, v = v || '>42' WHERE parent_id = 41;
DELETE FROM parent WHERE id = 41;
INSERT INTO parent VALUES (100, 1, 'p100');
UPDATE child SET parent_id = 100 WHERE parent_id = 43;
DELETE FROM parent WHERE id = 43;
INSERT INTO child VALUES (1000, 100, 'c1000');
UPDATE toy SET child_id = 1000 WHERE child_id = 44;
DELETE FROM child WHERE id = 44;
COMMIT;
SQL
check_equal "re-point children and delete their old parent in one batch"

# Within one table: parents moved off parent 7, then 7 deleted (its
# children moved too).
src <<'SQL'
BEGIN;
UPDATE parent SET up_id = 8, v = v || '>8' WHERE up_id = 7;
UPDATE child SET parent_id = 8 WHERE parent_id = 7;
DELETE FROM parent WHERE id = 7;
COMMIT;
SQL
check_equal "re-point a self-reference and delete its old parent in one batch"

# A cycle of keys (ca -> cb -> ca): rows that reference each other are
# built up and taken apart again in steps, some of them in one batch.
cycle_sums() { # PSQL_FN PREFIX
	"$1" -c "SELECT (SELECT string_agg(id || '>' || coalesce(cb_id::text, '-'), ',' ORDER BY id) FROM ${2}ca) || ' ' || (SELECT string_agg(id || '>' || coalesce(ca_id::text, '-'), ',' ORDER BY id) FROM ${2}cb)"
}
src <<'SQL'
BEGIN;
INSERT INTO ca VALUES (1, NULL), (2, NULL), (3, NULL);
INSERT INTO cb VALUES (1, 1), (2, 2), (3, 3);
UPDATE ca SET cb_id = id;
INSERT INTO cb VALUES (4, 1);
UPDATE ca SET cb_id = 4 WHERE id = 3;
UPDATE cb SET ca_id = NULL WHERE id = 3;
DELETE FROM cb WHERE id = 3;
COMMIT;
SQL
check_equal "a cycle of keys in one batch"
assert_eq "a cycle of keys: rows" "$(cycle_sums src public.)" "$(cycle_sums ana analytics.fact_)"
assert_eq "a cycle of keys: the rows expected" "1>1,2>2,3>4 1>1,2>2,4>1" "$(cycle_sums ana analytics.fact_)"

# While walpipe is stopped: a parent inserted and deleted with its child
# and toy, parents referencing a new one, children moving back and forth
# and their old parent deleted.  The first batch after the restart holds
# the last transaction whole (and likely the others too).
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
assert_eq "SIGTERM exits 0" 0 "$rc"
src <<'SQL'
INSERT INTO parent VALUES (200, NULL, 'p200');
INSERT INTO child VALUES (2000, 200, 'c2000');
INSERT INTO toy VALUES (2000, 2000, 't2000');
BEGIN;
DELETE FROM toy WHERE id = 2000;
DELETE FROM child WHERE id = 2000;
DELETE FROM parent WHERE id = 200;
INSERT INTO parent VALUES (201, NULL, 'p201');
UPDATE parent SET up_id = 201 WHERE id BETWEEN 11 AND 15;
UPDATE child SET parent_id = 201 WHERE id BETWEEN 1 AND 30;
UPDATE child SET parent_id = 1 WHERE parent_id = 42;
DELETE FROM parent WHERE id = 42;
UPDATE child SET parent_id = 2 WHERE id BETWEEN 1 AND 10;
INSERT INTO parent SELECT g, 201, 'q' || g FROM generate_series(300, 320) g;
UPDATE parent SET up_id = 300 WHERE id = 201;
COMMIT;
SQL
run_start "$T/fk.yaml" "$T/run.log"
check_equal "transactions applied together after a restart"

# A toy the analytics side refuses (varchar(20)) in a batch that also
# needs stream order: it alone is a dead letter.
src <<'SQL'
BEGIN;
UPDATE child SET parent_id = 13 WHERE parent_id = 12;
DELETE FROM parent WHERE id = 12;
INSERT INTO toy VALUES (3000, 1, repeat('x', 50));
INSERT INTO toy VALUES (3001, 1, 'fine');
COMMIT;
SQL
wait_caught_up "$pid"
assert_eq "refused row: the rest equals the source" "$(sums src public. "WHERE id <> 3000")" \
	"$(sums ana analytics.fact_ "WHERE id <> 3000")"
assert_eq "refused row: one dead letter, the toy" "public.toy|analytics.fact_toy|22001" \
	"$(ana -c "SELECT string_agg(source_table || '|' || target_table || '|' || sqlstate, ',') FROM walpipe.dead_letters")"
assert_eq "refused row: its payload" 3000 \
	"$(ana -c "SELECT payload->'columns'->0->>'value' FROM walpipe.dead_letters")"

kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
trap - EXIT
assert_eq "SIGTERM exits 0" 0 "$rc"
# The batches above did need more than the set-based order: some of
# their attempts failed on a foreign key and were redone in stream order.
redone=$(grep -c 'violates foreign key constraint' "$WALPIPE_TEST_TMPDIR/analytics/server.log" || true)
[ "$redone" -ge 3 ] || fail "expected set-based attempts failing on foreign keys, saw $redone"
echo "ok: exact_fk_order"

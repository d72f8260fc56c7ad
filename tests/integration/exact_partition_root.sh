# exact_partition_root.sh: a mapping from a partitioned table receives the
# changes of all its partitions, at every level, as its own (PostgreSQL's
# publish_via_partition_root): the initial snapshot copies every partition;
# inserts into each, updates inside one, cross-partition updates (which
# change the target's key, and which do not) alone and several in one
# transaction, deletes; a partition created (and one attached) while
# walpipe streams arrives at once, also in a schema that held none, and a
# table ignored until it was attached; staging names the partitioned
# table; unlisted tables of the partitions' schemas stay out; a detached
# partition stops counting after a restart; a partition created and
# dropped while walpipe was down is warned of and counted; an insert from
# before an added column takes the default the partitions hold; TRUNCATE
# of the table empties the target, TRUNCATE of one partition stops
# walpipe with the reason.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src <<'SQL'
CREATE SCHEMA parts;
CREATE TABLE ev (id int, region text, grp int, v text, big text,
                 PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE ev_eu PARTITION OF ev FOR VALUES IN ('eu');
-- Sub-partitioned, one of its leaves in another schema (whose name
-- wal2json's add-tables needs escaped).
CREATE TABLE ev_us PARTITION OF ev FOR VALUES IN ('us') PARTITION BY RANGE (id);
CREATE TABLE ev_us_lo PARTITION OF ev_us FOR VALUES FROM (MINVALUE) TO (1000);
CREATE SCHEMA "Part s";
CREATE TABLE "Part s"."ev Hi" PARTITION OF ev_us FOR VALUES FROM (1000) TO (MAXVALUE);
CREATE TABLE ev_def PARTITION OF ev DEFAULT;
-- Attached with its columns in another order and a dropped column.
CREATE TABLE ev_asia (big text, dropme int, v text, grp int,
                      region text NOT NULL, id int NOT NULL);
ALTER TABLE ev_asia DROP COLUMN dropme;
ALTER TABLE ev ATTACH PARTITION ev_asia FOR VALUES IN ('asia');
ALTER TABLE ev_eu ALTER big SET STORAGE EXTERNAL;
ALTER TABLE "Part s"."ev Hi" ALTER big SET STORAGE EXTERNAL;
INSERT INTO ev SELECT g, (ARRAY['eu', 'us', 'asia', 'xx'])[1 + g % 4], g % 7,
       'v' || g, repeat(md5(g::text), 100)
  FROM generate_series(1, 2000, 3) g;
-- Listed without a mapping (staged; a partitioned one as itself), and
-- not listed at all (never seen).
CREATE TABLE other (id int PRIMARY KEY, v text);
CREATE TABLE lst (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE lst_1 PARTITION OF lst FOR VALUES FROM (0) TO (100);
CREATE TABLE unlisted (id int PRIMARY KEY, v text);
CREATE TABLE parts.unlisted (id int PRIMARY KEY, v text);
SQL
ana -c "CREATE TABLE ev (id int, region text, grp int, v text, big text, PRIMARY KEY (id, region))" \
	-c "CREATE TABLE ev_by_id (id int PRIMARY KEY, region text, v text)"

cat >"$T/root.yaml" <<EOF
$(shop_header "public.ev, public.other, public.lst" 1000 50ms)
staging: { table: staging.raw_events, unmapped: true }
mappings:
  - { from: public.ev, to: public.ev, key: [id, region],
      columns: { id: id, region: region, grp: grp, v: v, big: big } }
  # The same rows keyed by id alone: moving a row between partitions
  # keeps its target key.
  - { from: public.ev, to: public.ev_by_id, key: [id],
      columns: { id: id, region: region, v: v } }
EOF
sums() { # PSQL_FN [ROWS]
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY id, region), '')) FROM (SELECT id, region, grp, v, md5(big) FROM ${2:-ev}) t"
}
sums_by_id() { # PSQL_FN [ROWS]
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM (SELECT id, region, v FROM ${2:-ev}) t"
}
same() { # WHAT [SOURCE_ROWS]
	assert_eq "$1: analytics = source" "$(sums src "${2:-}")" "$(sums ana)"
	assert_eq "$1: keyed by id, analytics = source" "$(sums_by_id src "${2:-}")" \
		"$(ana -c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM (SELECT id, region, v FROM ev_by_id) t")"
}

out=$("$WALPIPE_BIN" check --live -c "$T/root.yaml" 2>&1) || fail "check --live refused the root: $out"
assert_contains "check --live shows the partitions" \
	'partitioned: public.ev receives the changes of "Part s"."ev Hi", public.ev_asia, public.ev_def, public.ev_eu, public.ev_us_lo' "$out"
assert_eq "check --live: no warning of unmapped partitions" "" "$(echo "$out" | grep -i 'warning' || true)"

src -c "SELECT pg_create_logical_replication_slot('witness', 'wal2json')" >/dev/null
run_up "$T/root.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) = 1 FROM walpipe.snapshot_tables WHERE state = 'done'" "$pid"
assert_eq "the snapshot copied every partition" 667 "$(ana -c "SELECT count(*) FROM ev")"
same "snapshot"

# Inserts into every leaf, updates inside one (of the key too), deletes.
src -c "INSERT INTO ev VALUES (3001, 'eu', 1, 'n', 'a'), (3002, 'us', 1, 'n', 'b'), (12, 'us', 1, 'n', 'c'), (3004, 'asia', 1, 'n', 'd'), (3005, 'zz', 1, 'n', 'e')" \
	-c "UPDATE ev SET v = v || '+' WHERE id % 5 = 0" \
	-c "UPDATE ev SET id = id + 5000 WHERE region = 'eu' AND id % 7 = 1" \
	-c "UPDATE ev SET grp = grp + 100 WHERE region = 'asia'" \
	-c "DELETE FROM ev WHERE id % 11 = 0"
# Cross-partition updates, one per transaction: between leaves of the
# sub-partitioned one (id changes), into and out of the default one and
# between lists (region changes, id stays), a TOASTed column unchanged.
src -c "UPDATE ev SET id = id + 1000 WHERE region = 'us' AND id < 1000 AND id % 3 = 0" \
	-c "UPDATE ev SET region = 'us' WHERE region = 'eu' AND id % 4 = 1" \
	-c "UPDATE ev SET region = 'zz', v = 'moved' WHERE region = 'asia' AND id % 5 = 2" \
	-c "UPDATE ev SET region = 'eu' WHERE region = 'xx' AND id % 6 = 3"
# Several in one transaction, also the same row twice.
src <<'SQL'
BEGIN;
UPDATE ev SET region = 'asia' WHERE region = 'us' AND id % 8 = 1;
UPDATE ev SET region = 'eu' WHERE region = 'asia' AND id % 8 = 1;
UPDATE ev SET id = id - 1000 WHERE region = 'us' AND id BETWEEN 1000 AND 1999 AND id % 9 = 4;
DELETE FROM ev WHERE region = 'zz' AND id % 2 = 0;
INSERT INTO ev VALUES (4000, 'eu', 2, 'txn', 'f');
UPDATE ev SET region = 'us', id = 4001 WHERE id = 4000;
COMMIT;
SQL
wait_caught_up "$pid"
same "streamed"

# A partition created while streaming and written at once, another created
# alone, attached, then written, a third in a schema that held none: all
# arrive.
src -c "BEGIN" -c "CREATE TABLE ev_sa PARTITION OF ev FOR VALUES IN ('sa')" \
	-c "INSERT INTO ev VALUES (5001, 'sa', 3, 'new', 'g'), (5002, 'sa', 3, 'new', 'h')" -c "COMMIT"
src -c "CREATE TABLE ev_af (id int NOT NULL, region text NOT NULL, grp int, v text, big text)" \
	-c "ALTER TABLE ev ATTACH PARTITION ev_af FOR VALUES IN ('af')" \
	-c "INSERT INTO ev VALUES (6001, 'af', 4, 'att', 'i')" \
	-c "UPDATE ev SET region = 'sa' WHERE id = 6001" \
	-c "UPDATE ev SET region = 'af' WHERE id = 5001" \
	-c "CREATE SCHEMA far" -c "CREATE TABLE far.ev_far PARTITION OF ev FOR VALUES IN ('far')" \
	-c "INSERT INTO ev VALUES (6002, 'far', 4, 'far', 'j'), (6003, 'far', 4, 'far', 'k')" \
	-c "UPDATE ev SET region = 'far' WHERE id = 5002" \
	-c "INSERT INTO other VALUES (1, 'listed')" -c "INSERT INTO lst VALUES (1)" \
	-c "INSERT INTO unlisted VALUES (1, 'not listed')" \
	-c "INSERT INTO parts.unlisted VALUES (1, 'not listed')"
wait_caught_up "$pid"
same "new partitions"
assert_eq "the new partitions' rows are there" 5 "$(ana -c "SELECT count(*) FROM ev WHERE region IN ('sa', 'af', 'far')")"
assert_contains "a partition in a schema wal2json was not asked for: read again" \
	'partition "far.ev_far" of source table "public.ev" is in a schema walpipe did not ask wal2json for; re-reading the source catalog' "$(cat "$T/run.log")"
assert_contains "walpipe says it follows the new partition" \
	'partition "public.ev_sa" of "public.ev" is now followed' "$(cat "$T/run.log")"
assert_contains "and the attached one" \
	'partition "public.ev_af" of "public.ev" is now followed' "$(cat "$T/run.log")"
assert_eq "staging names the partitioned tables (and the listed table)" \
	"public.other public.lst public.ev" "$(ana -c "SELECT string_agg(DISTINCT source_schema || '.' || source_table, ' ' ORDER BY source_schema || '.' || source_table DESC) FROM staging.raw_events")"
assert_eq "every change of a partition is staged, as the partitioned table's" \
	"$(src -c "SELECT count(*) FROM pg_logical_slot_peek_changes('witness', NULL, NULL, 'format-version', '2', 'add-tables', 'public.*,parts.*,far.*,Part\\ s.*') WHERE data::jsonb->>'action' IN ('I', 'U', 'D') AND data::jsonb->>'table' NOT IN ('other', 'unlisted', 'lst_1')")" \
	"$(ana -c "SELECT count(*) FROM staging.raw_events WHERE source_schema = 'public' AND source_table = 'ev' AND op IN ('I', 'U', 'D')")"
assert_eq "no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"

# A table written before it is attached: those rows are no change of the
# partitioned table (as for a subscriber: ATTACH copies nothing), the rows
# written after the attach are, though walpipe ignored the table before.
src -c "CREATE TABLE ev_late (LIKE ev INCLUDING ALL)" \
	-c "INSERT INTO ev_late VALUES (9001, 'late', 1, 'before', 'x'), (9002, 'late', 1, 'before', 'y')"
wait_caught_up "$pid"
src -c "ALTER TABLE ev ATTACH PARTITION ev_late FOR VALUES IN ('late')" \
	-c "INSERT INTO ev VALUES (9003, 'late', 1, 'after', 'z')" -c "UPDATE ev SET v = 'after' WHERE id = 9001"
wait_caught_up "$pid"
assert_eq "only the rows written after the attach arrive" "9001:after 9003:after" \
	"$(ana -c "SELECT string_agg(id || ':' || v, ' ' ORDER BY id) FROM ev WHERE region = 'late'")"
assert_contains "walpipe read the catalog again" \
	'table "public.ev_late" became a partition of source table "public.ev" after walpipe had ignored changes of it' "$(cat "$T/run.log")"
src -c "DELETE FROM ev WHERE id = 9002" -c "UPDATE ev SET v = 'again' WHERE region = 'late'"
wait_caught_up "$pid"
same "attached after being written"

# Detached: its changes are its own from the next session on.  Its rows
# stay in the target, as on a subscriber: a detach is no change of rows.
src -c "ALTER TABLE ev DETACH PARTITION ev_def"
run_down
# While walpipe is down, a row, then a column with a default (which the
# partitions hold, not the partitioned table) that is mapped from now on:
# the older insert lacks it and takes the default.
# A partition created, written and dropped meanwhile: walpipe cannot tell
# any more what it was, and says so.
src -c "CREATE TABLE ev_tmp PARTITION OF ev FOR VALUES IN ('tmp')" \
	-c "INSERT INTO ev VALUES (7201, 'tmp', 5, 'gone', 'q'), (7202, 'tmp', 5, 'gone', 'r')" \
	-c "DROP TABLE ev_tmp"
src -c "INSERT INTO ev VALUES (7101, 'eu', 5, 'old', 'o')" \
	-c "ALTER TABLE ev ADD COLUMN extra int DEFAULT 7" \
	-c "INSERT INTO ev (id, region, grp, v, big) VALUES (7102, 'us', 5, 'new', 'p')"
ana -c "ALTER TABLE ev ADD COLUMN extra int"
sed -i 's/columns: { id: id, region: region, grp: grp, v: v, big: big }/columns: { id: id, region: region, grp: grp, v: v, big: big, extra: extra }/' "$T/root.yaml"
run_up "$T/root.yaml" "$T/run.log"
src -c "INSERT INTO ev_def VALUES (7001, 'qq', 5, 'detached', 'j')" \
	-c "INSERT INTO ev VALUES (7002, 'eu', 5, 'after', 'k')"
wait_caught_up "$pid"
same "after a detach" "(SELECT id, region, grp, v, big FROM ev UNION ALL SELECT id, region, grp, v, big FROM ev_def WHERE id <> 7001) x"
assert_eq "the detached table's row is not in the target" 0 "$(ana -c "SELECT count(*) FROM ev WHERE id = 7001")"
assert_contains "a dropped table is warned of" \
	'source table "public.ev_tmp" no longer exists, so walpipe cannot tell whether it was a partition of a followed partitioned table' "$(cat "$T/run.log")"
assert_eq "an insert from before an added column gets its default" "7101:7 7102:7" \
	"$(ana -c "SELECT string_agg(id || ':' || extra, ' ' ORDER BY id) FROM ev WHERE id IN (7101, 7102)")"

# TRUNCATE of the partitioned table: the target, once.
src -c "TRUNCATE ev" -c "INSERT INTO ev VALUES (8001, 'eu', 6, 'after', 'l'), (8002, 'us', 6, 'after', 'm')"
wait_caught_up "$pid"
same "truncated"
assert_eq "one truncate staged" 1 "$(ana -c "SELECT count(*) FROM staging.raw_events WHERE op = 'T'")"

# One partition alone: walpipe cannot tell its rows in the target apart.
src -c "TRUNCATE ev_eu"
rc=0; wait "$pid" || rc=$?
pid=
assert_contains "the dropped table's changes were counted" \
	'ignored 2 change(s) of source table "public.ev_tmp", which no longer existed when walpipe looked it up' "$(cat "$T/run.log")"
assert_eq "a truncate of one partition stops walpipe" 1 "$rc"
assert_contains "and says why" \
	'partition "public.ev_eu" of source table "public.ev" was truncated at' "$(cat "$T/run.log")"
assert_contains "and what to do" 'Set on_truncate: ignore on the mappings of "public.ev" until walpipe has passed' "$(cat "$T/run.log")"
assert_eq "nothing was truncated" 2 "$(ana -c "SELECT count(*) FROM ev")"
echo "ok: exact_partition_root"

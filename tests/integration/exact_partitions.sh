# exact_partitions.sh: the partitions of a partitioned table mirror into
# one target, cross-partition updates (a delete from one partition, an
# insert into another) end with one row, in one batch or across batches.
# (A mapping from the partitioned table itself: exact_partition_root.sh.)
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src <<'SQL'
CREATE TABLE parted (id int PRIMARY KEY, v text, big text) PARTITION BY RANGE (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (1000);
CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (1000) TO (2000);
-- Not mapped (and kept empty): walpipe warns that its changes would not
-- arrive.
CREATE TABLE parted_3 PARTITION OF parted FOR VALUES FROM (2000) TO (3000);
ALTER TABLE parted_1 ALTER big SET STORAGE EXTERNAL;
ALTER TABLE parted_2 ALTER big SET STORAGE EXTERNAL;
INSERT INTO parted SELECT g, 'v' || g, repeat(md5(g::text), 100) FROM generate_series(1, 1990, 10) g;
SQL
ana -c "CREATE TABLE parted (id int PRIMARY KEY, v text, big text)"

# The partitions, into one target.
cat >"$T/leaves.yaml" <<EOF
$(shop_header "public.parted_1, public.parted_2" 10000 50ms)
mappings:
  - { from: public.parted_1, to: public.parted, key: [id], columns: { id: id, v: v, big: big } }
  - { from: public.parted_2, to: public.parted, key: [id], columns: { id: id, v: v, big: big } }
EOF
sums() { # PSQL_FN
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(id || '|' || v || '|' || md5(big), ',' ORDER BY id), '')) FROM parted"
}
moves() { # OFFSET: cross-partition updates both ways, a big column unchanged
	src -c "UPDATE parted SET id = id + 1000 + $1 WHERE id BETWEEN 1 AND 300 AND id % 20 = 1" \
		-c "UPDATE parted SET id = id - 995, v = 'back' WHERE id BETWEEN 1500 AND 1990 AND id % 30 = 1" \
		-c "INSERT INTO parted VALUES (5 + $1, 'new', 'x'), (1005 + $1, 'new', 'y')" \
		-c "UPDATE parted SET id = id + 1100 WHERE id = 5 + $1"
}
"$WALPIPE_BIN" check -c "$T/leaves.yaml" --live >"$T/check2.log" 2>&1 || { cat "$T/check2.log"; fail "check --live refused the partitions"; }
assert_contains "check --live warns of the unmapped partition" \
	'warning: source.tables: partitions public.parted_3 of the same partitioned tables are not listed' "$(cat "$T/check2.log")"
run_up "$T/leaves.yaml" "$T/run.log"
assert_contains "run warns of the unmapped partition" \
	'partitions public.parted_3 belong to the partitioned tables of mapped partitions but are not mapped' "$(cat "$T/run.log")"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) = 2 FROM walpipe.snapshot_tables WHERE state = 'done'" "$pid"
assert_eq "snapshot: analytics = source" "$(sums src)" "$(sums ana)"
moves 2
wait_caught_up "$pid"
assert_eq "streamed: analytics = source" "$(sums src)" "$(sums ana)"
run_down
moves 4
run_up "$T/leaves.yaml" "$T/run.log"
wait_caught_up "$pid"
assert_eq "one batch: analytics = source" "$(sums src)" "$(sums ana)"
assert_eq "no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"

# TRUNCATE of the partitioned table: every partition, so the target too.
src -c "TRUNCATE parted" -c "INSERT INTO parted VALUES (7, 'after', 'a'), (1007, 'after', 'b')"
wait_caught_up "$pid"
assert_eq "truncated together: analytics = source" "$(sums src)" "$(sums ana)"
# One partition alone: the shared target holds the other's rows too, so
# walpipe stops rather than truncate them away.
src -c "TRUNCATE parted_1"
rc=0; wait "$pid" || rc=$?
pid=
assert_eq "a truncate of one partition stops walpipe" 1 "$rc"
assert_contains "and says why" \
	'source table public.parted_1 was truncated, but its target public.parted also holds the rows of source table public.parted_2, which was not' \
	"$(cat "$T/run.log")"
assert_eq "nothing was truncated" 2 "$(ana -c "SELECT count(*) FROM parted")"
echo "ok: exact_partitions"

# exact_snapshot_fk.sh: the initial snapshot copies a parent table before
# the tables whose targets reference it by a foreign key, whatever the
# order of the mappings and the number of readers; otherwise every child
# row would fail its key (issue 13, class 7, in the snapshot).
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

DDL="CREATE TABLE grand (id int PRIMARY KEY, v text);
CREATE TABLE parent (id int PRIMARY KEY, grand_id int REFERENCES grand, v text);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent, v text);"
src -c "$DDL"
src <<'SQL'
INSERT INTO grand SELECT g, 'g' || g FROM generate_series(1, 50) g;
INSERT INTO parent SELECT g, 1 + g % 50, 'p' || g FROM generate_series(1, 3000) g;
INSERT INTO child SELECT g, 1 + g % 3000, 'c' || g FROM generate_series(1, 20000) g;
SQL

sums() { # PSQL_FN
	local t
	for t in grand parent child; do
		"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg($t::text, ',' ORDER BY id), '')) FROM $t"
	done
}

for workers in 1 2; do
	ana -c "DROP SCHEMA IF EXISTS walpipe CASCADE" -c "DROP TABLE IF EXISTS child, parent, grand" -c "$DDL"
	src -c "SELECT pg_drop_replication_slot('walpipe_shop') FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'" >/dev/null
	cat >"$T/fk.yaml" <<EOF
$(shop_header "public.child, public.parent, public.grand" 2000 50ms)
snapshot: { mode: initial, workers: $workers }
mappings:
  - { from: public.child, to: public.child, key: [id], columns: { id: id, parent_id: parent_id, v: v } }
  - { from: public.parent, to: public.parent, key: [id], columns: { id: id, grand_id: grand_id, v: v } }
  - { from: public.grand, to: public.grand, key: [id], columns: { id: id, v: v } }
EOF
	run_up "$T/fk.yaml" "$T/run$workers.log"
	trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
	wait_sql ana "SELECT count(*) = 3 FROM walpipe.snapshot_tables WHERE state = 'done'" "$pid"
	src -c "INSERT INTO parent VALUES (5000 + $workers, 2, 'late')" -c "INSERT INTO child VALUES (50000 + $workers, 5000 + $workers, 'late')"
	wait_caught_up "$pid"
	assert_eq "workers $workers: analytics = source" "$(sums src)" "$(sums ana)"
	assert_eq "workers $workers: no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"
	run_down
done
echo "ok: exact_snapshot_fk"

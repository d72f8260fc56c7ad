# pgoutput_no_wal2json.sh: issue 19's "done when": a source on which
# wal2json cannot be loaded mirrors exactly with source.plugin: pgoutput,
# NaN and the infinities included.  The source's dynamic_library_path
# points at a directory that holds pgoutput alone, so creating a wal2json
# slot fails there exactly as on a server without the package; walpipe
# must never need it (check --live, slot, publication, snapshot, stream,
# a restart).
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

libdir=$(pg_config --pkglibdir)
only=$T/libs
mkdir -p "$only"
ln -s "$libdir/pgoutput.so" "$only/pgoutput.so"
chmod 755 "$T" "$only"
src -c "ALTER SYSTEM SET dynamic_library_path = '$only'" >/dev/null
src -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
out=$(src -c "SELECT pg_create_logical_replication_slot('probe', 'wal2json')" 2>&1 || true)
case $out in
*'could not access file "wal2json"'*) echo "ok: the source cannot load wal2json: ${out%%$'\n'*}" ;;
*) fail "wal2json is still loadable on the source: $out" ;;
esac

DDL="CREATE TABLE nums (id int PRIMARY KEY, r real, d double precision,
  n numeric, a float8[], t text, big text);"
src -c "$DDL"
ana -c "$DDL"
rows() { # FIRST_ID
	cat <<SQL
INSERT INTO nums VALUES
  ($1, 'NaN', 'NaN', 'NaN', '{NaN,1.5}', 'nan', NULL),
  ($1 + 1, 'Infinity', 'Infinity', 'Infinity', '{Infinity}', 'inf', repeat('x', 200000)),
  ($1 + 2, '-Infinity', '-Infinity', '-Infinity', '{-Infinity,-0}', '-inf', NULL),
  ($1 + 3, 1.5e-7, 1e308, 12345678901234567890.123456789, '{}', E'tab\there', NULL);
SQL
}
src -c "$(rows 1)"
cat >"$T/nums.yaml" <<EOF
source: { plugin: pgoutput, name: shop, conninfo: "$WALPIPE_TEST_SOURCE", slot: walpipe_shop,
          create_slot: true, tables: [public.nums] }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS", schema: walpipe }
batch: { max_changes: 1000, max_bytes: 64MB, max_delay: 50ms }
mappings:
  - { from: public.nums, to: public.nums, key: [id],
      columns: { id: id, r: r, d: d, n: n, a: a, t: t, big: big } }
EOF
"$WALPIPE_BIN" check -c "$T/nums.yaml" --live >"$T/check.log" 2>&1 ||
	{ cat "$T/check.log"; fail "check --live refused a pgoutput source without wal2json"; }
sums() { # PSQL_FN
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY id), '')) FROM nums t"
}
run_up "$T/nums.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) = 1 FROM walpipe.snapshot_tables WHERE state = 'done'" "$pid"
assert_eq "snapshot: every value exact" "$(sums src)" "$(sums ana)"
src -c "$(rows 101)"
# An update that leaves the TOASTed column out, and specials streamed.
src -c "UPDATE nums SET r = 'NaN', d = '-Infinity', t = t || ' updated' WHERE id IN (2, 104)"
src -c "DELETE FROM nums WHERE id = 3"
wait_caught_up "$pid"
assert_eq "stream: every value exact" "$(sums src)" "$(sums ana)"
assert_eq "the stream carried the specials" "NaN|-Infinity|200000" \
	"$(ana -c "SELECT r || '|' || d || '|' || length(big) FROM nums WHERE id = 2")"
run_down
# A restart streams on from the checkpoint, still without wal2json.
run_up "$T/nums.yaml" "$T/run.log"
src -c "INSERT INTO nums VALUES (500, 'Infinity', 'NaN', '-Infinity', '{NaN}', 'after restart', NULL)"
wait_caught_up "$pid"
assert_eq "after a restart: every value exact" "$(sums src)" "$(sums ana)"
run_down
trap - EXIT
assert_eq "the slot is pgoutput's" pgoutput \
	"$(src -c "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'")"

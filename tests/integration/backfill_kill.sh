# backfill_kill.sh: kill -9 in the middle of an online backfill, twice
# (issue 18): the backfill resumes after its last committed chunk, not
# from the start, and the result is exact.  The mapping is added by a
# restart, with nothing asked: a table added to the configuration is
# backfilled by itself.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR
ROWS=${WALPIPE_BACKFILL_ROWS:-200000}

src <<SQL
CREATE TABLE hot (id bigint PRIMARY KEY, v int);
CREATE TABLE big (id bigint PRIMARY KEY, grp int, note text);
INSERT INTO hot SELECT g, g FROM generate_series(1, 100) g;
INSERT INTO big SELECT g, g % 10, 'n' || g FROM generate_series(1, $ROWS) g;
SQL
ana -c "CREATE TABLE hot_t (id bigint PRIMARY KEY, v int)" \
	-c "CREATE TABLE big_t (id bigint PRIMARY KEY, grp int, note text, deleted_at timestamptz)"
config() { # EXTRA-MAPPINGS
	cat <<EOF
source: { name: shop, conninfo: "$WALPIPE_TEST_SOURCE", create_slot: true,
          tables: [public.hot, public.big] }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS" }
batch: { max_changes: 300, max_delay: 50ms }
backfill: { chunk_size: 2000, max_rate: $((ROWS / 8)) }
mappings:
  - { from: public.hot, to: public.hot_t, key: [id], columns: { id: id, v: v } }
${1:-}
EOF
}
config >"$T/k.yaml"
run_up "$T/k.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true; kill $wl 2>/dev/null || true' EXIT
wait_sql ana "SELECT bool_and(state = 'done') FROM walpipe.snapshot_tables" "$pid"
run_down

(
	i=0
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		for k in $(seq 1 20); do
			n=$((i * 20 + k))
			echo "UPDATE hot SET v = v + 1 WHERE id = $n % 100 + 1;
				UPDATE big SET grp = grp + 1, note = 'u$n' WHERE id = ($n::bigint * 7919) % $ROWS + 1;
				INSERT INTO big VALUES ($ROWS + $n, $n % 10, 'new');
				DELETE FROM big WHERE id = ($n::bigint * 104729) % $ROWS + 1;"
		done | src
	done
) >"$T/workload.log" 2>&1 &
wl=$!

# The new mapping soft-deletes: rows of group 7 (which the where drops) and
# deleted rows stay, marked.
config "  - { from: public.big, to: public.big_t, key: [id], where: \"grp <> 7\",
      columns: { id: id, grp: grp, note: note, deleted_at: { sql: \"null::timestamptz\" } }, on_delete: { soft_delete: deleted_at } }" >"$T/k.yaml"
for round in 1 2; do
	run_start "$T/k.yaml" "$T/run.log"
	# A quarter, then half of the table's chunks (of 2000 rows).
	wait_sql ana "SELECT chunks >= $((round * ROWS / 8000)) FROM walpipe.backfills" "$pid" ||
		{ tail -20 "$T/run.log"; fail "round $round: the backfill did not get far enough"; }
	kill -9 "$pid"
	wait "$pid" || true
	echo "killed in round $round at: $(ana -c "SELECT chunks, rows_copied, last_key FROM walpipe.backfills")"
done
run_start "$T/k.yaml" "$T/run.log"
wait_sql ana "SELECT state = 'done' FROM walpipe.backfills" "$pid" ||
	{ tail -20 "$T/run.log"; fail "the backfill did not finish"; }
touch "$T/stop"
wait "$wl" || { cat "$T/workload.log"; fail "workload failed"; }
wait_caught_up "$pid" || { tail -30 "$T/run.log"; fail "did not catch up"; }
assert_eq "the backfill resumed twice" 2 "$(grep -c 'into "public.big_t" (added) resumes' "$T/run.log")"
copied=$(ana -c "SELECT rows_copied FROM walpipe.backfills")
echo "rows copied in all: $copied (the table has $(src -c "SELECT count(*) FROM big"))"
[ "$copied" -lt $((ROWS + ROWS / 4)) ] || fail "the backfill copied $copied rows: it started over"
live="SELECT count(*), md5(string_agg(format('%s|%s|%s', id, grp, note), ',' ORDER BY id))"
assert_eq "the live rows equal the source's (where grp <> 7)" \
	"$(src -c "$live FROM big WHERE grp <> 7")" "$(ana -c "$live FROM big_t WHERE deleted_at IS NULL")"
marked=$(ana -c "SELECT coalesce(string_agg(id::text, ','), '0') FROM big_t WHERE deleted_at IS NOT NULL")
[ "$marked" != 0 ] || fail "no row was marked deleted"
assert_eq "no row marked deleted matches on the source" 0 \
	"$(echo "SELECT count(*) FROM big WHERE grp <> 7 AND id IN ($marked)" | src)"
assert_eq "hot equals its source" "$(src -c "SELECT md5(string_agg(format('%s|%s', id, v), ',' ORDER BY id)) FROM hot")" \
	"$(ana -c "SELECT md5(string_agg(format('%s|%s', id, v), ',' ORDER BY id)) FROM hot_t")"
run_down
trap - EXIT

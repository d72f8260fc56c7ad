# snapshot_kill.sh: kill -9 walpipe in the middle of its initial snapshot
# (one table copied, another half copied), and again in the middle of the
# resumed copy, with a workload running throughout.  The copied table
# stays; the half-copied ones are copied again in a new exported snapshot
# and their stream skips what that copy holds.  The end state is exact.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/snapshot_lib.sh"

run_setup_schema
snap_seed_rows "${WALPIPE_SNAPSHOT_ROWS:-300000}"
# Two readers: one copies order_events, the other the two small tables,
# which are done long before it.
BATCH_CHANGES=2000 run_config "$T/shop.yaml" "snapshot: { workers: 2 }"

start_walpipe() {
	"$WALPIPE_BIN" run -c "$T/shop.yaml" 2>>"$T/run.log" &
	pid=$!
}
# wait_copied MIN KIND: until order_events has at least MIN rows copied by
# a snapshot of KIND and the other two tables are done.
wait_copied() {
	for _ in $(seq 1 1200); do
		[ "$(ana -c "SELECT count(*) FROM walpipe.snapshot_tables WHERE (source_table = 'public.order_events' AND state = 'copying' AND kind = '$2' AND rows_copied >= $1) OR state = 'done'" 2>/dev/null)" = 3 ] && return 0
		kill -0 "$pid" 2>/dev/null || { tail -20 "$T/run.log"; fail "walpipe exited"; }
		sleep 0.05
	done
	fail "order_events never reached $1 copied rows"
}

start_walpipe
trap 'kill -9 $pid $wl 2>/dev/null || true' EXIT
snap_witness "$pid"
(for r in 1 2 3 4; do run_workload "2$r" 150; run_small_txns 20; done) >"$T/workload.log" 2>&1 &
wl=$!

wait_copied 20000 initial
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
first_lsn=$(ana -c "SELECT lsn FROM walpipe.checkpoints WHERE source = 'shop'")
assert_eq "killed with users and orders copied, order_events half copied" \
	"public.order_events copying|public.orders done|public.users done" \
	"$(ana -c "SELECT string_agg(source_table || ' ' || state, '|' ORDER BY source_table) FROM walpipe.snapshot_tables")"
assert_eq "nothing of the half-copied table committed" 0 \
	"$(ana -c "SELECT count(*) FROM staging.raw_events WHERE op = 'r' AND source_table = 'order_events'")"

# Restart: the slot still holds WAL from the first consistent point; the
# half-copied table is read again in a new snapshot.  Kill it again there.
start_walpipe
wait_copied 20000 resume
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
start_walpipe
snap_wait_done "$pid" "$T/run.log"
wait "$wl" || { cat "$T/workload.log"; fail "workload failed"; }
wait_caught_up "$pid" || { tail -30 "$T/run.log"; fail "did not catch up"; }

assert_eq "the streamed checkpoint started at the first consistent point" \
	"$first_lsn" "$(src -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'witness'")"
assert_eq "copied tables kept their first copy" "initial true,initial true" \
	"$(ana -c "SELECT string_agg(kind || ' ' || (snapshot_lsn = '$first_lsn'), ',' ORDER BY source_table) FROM walpipe.snapshot_tables WHERE source_table IN ('public.orders', 'public.users')")"
assert_eq "the half-copied table was copied again, at a later point" "resume t" \
	"$(ana -c "SELECT kind, snapshot_lsn > '$first_lsn' FROM walpipe.snapshot_tables WHERE source_table = 'public.order_events'" | tr '|' ' ')"
grep -q 'snapshot (resume) of 1 table' "$T/run.log" || fail "no resumed snapshot in the log"
snap_assert_exact "after two kills during the snapshot"
kill -TERM "$pid"; wait "$pid" || true
trap - EXIT

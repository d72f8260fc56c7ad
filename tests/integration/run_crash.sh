# run_crash.sh: kill -9 walpipe at random points of a live workload (12
# times), crash-restart the analytics server once, and check the end
# state is exact: facts equal the source, one staging row per change.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

run_setup_schema
# Small batches: many commits, and the big workload transactions are
# applied in pieces, so kills land inside split transactions too.
BATCH_CHANGES=40 run_config "$T/shop.yaml"

start_walpipe() {
	"$WALPIPE_BIN" run -c "$T/shop.yaml" 2>>"$T/run.log" &
	pid=$!
}
start_walpipe
trap 'kill -9 $pid $wl 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
	[ "$(src -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'")" = 1 ] && break
	sleep 0.1
done
src -c "SELECT 1 FROM pg_copy_logical_replication_slot('walpipe_shop', 'witness', false, 'wal2json')" >/dev/null

# The workload runs on its own while walpipe is killed again and again.
(
	for round in 1 2 3 4 5 6; do
		run_workload "$round" 150
		run_small_txns 30
	done
) >"$T/workload.log" 2>&1 &
wl=$!

RANDOM=7
kills=0
for i in $(seq 1 12); do
	sleep "$(printf '0.%d' $((3 + RANDOM % 7)))"
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	kills=$((kills + 1))
	if [ "$i" -eq 9 ]; then
		# The source drops walpipe's connection: walpipe must reconnect by
		# itself (its backoff loop), not be restarted.
		start_walpipe
		sleep 1
		src -c "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
			WHERE slot_name = 'walpipe_shop' AND active_pid IS NOT NULL" >/dev/null
		sleep 2.5
		kill -0 "$pid" || fail "walpipe exited after losing the source connection"
		kill -9 "$pid"; wait "$pid" 2>/dev/null || true
	fi
	if [ "$i" -eq 6 ]; then
		# The analytics server crashes too, mid-stream.
		pgc_restart analytics immediate
		echo "analytics server restarted"
	fi
	start_walpipe
done
wait "$wl" || { cat "$T/workload.log"; fail "workload failed"; }
assert_eq "walpipe was killed 12 times" 12 "$kills"
wait_caught_up "$pid" || { tail -30 "$T/run.log"; fail "did not catch up"; }

read -r s_users s_orders s_events < <(src_checksums | xargs)
read -r a_users a_orders a_events < <(ana_checksums | xargs)
assert_eq "after crashes: fact_users equals source" "$s_users" "$a_users"
assert_eq "after crashes: fact_orders equals source" "$s_orders" "$a_orders"
assert_eq "after crashes: one fact event per source event" "$s_events" "$a_events"
assert_eq "after crashes: staging holds exactly one row per change" \
	"$(source_change_count)" "$(ana -c "SELECT count(*) FROM staging.raw_events")"
assert_eq "after crashes: no duplicate staging rows" 0 \
	"$(ana -c "SELECT count(*) FROM (SELECT lsn, payload FROM staging.raw_events GROUP BY 1, 2 HAVING count(*) > 1) d")"
grep -q 'reconnecting in' "$T/run.log" || fail "no reconnect logged after the source dropped the connection"
echo "ok: reconnected after the source dropped the connection"
n=$(grep -c 'inside a split transaction' "$T/run.log" || true)
echo "restarts that resumed inside a split transaction: $n"
kill -TERM "$pid"; wait "$pid" || true
trap - EXIT

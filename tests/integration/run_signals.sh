# run_signals.sh: SIGTERM mid-stream loses nothing and re-applies nothing;
# SIGHUP swaps in a valid changed file, and keeps running on an invalid
# one or one that changes what cannot change live.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

run_setup_schema
BATCH_CHANGES=50 run_config "$T/shop.yaml"
run_start "$T/shop.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
src -c "SELECT 1 FROM pg_copy_logical_replication_slot('walpipe_shop', 'witness', false, 'wal2json')" >/dev/null

# SIGTERM while a workload streams in.  Start it once walpipe streams: on
# its first start it copies the (empty) tables first, and a fast machine
# could otherwise finish the workload before the first batch lands.
for _ in $(seq 1 300); do grep -q 'streaming slot' "$T/run.log" && break; sleep 0.05; done
grep -q 'streaming slot' "$T/run.log" || fail "walpipe did not start streaming"
staged() { [ "$(ana -c "SELECT count(*) FROM staging.raw_events" 2>/dev/null || echo 0)" -gt 0 ]; }
# The workload's second half waits until the first changes have landed,
# then makes small transactions until the test has sent the signal (at
# most 60 s): however slow walpipe's first batch is, or this shell (a
# sanitizer build beside other tests), the signal lands while changes
# still stream in.
rm -f "$T/signalled"
(
	run_workload 1 300
	for _ in $(seq 1 600); do staged && break; sleep 0.05; done
	for _ in $(seq 1 600); do
		run_small_txns 10
		[ -e "$T/signalled" ] && break
		sleep 0.1
	done
	run_workload 2 200
) >/dev/null 2>&1 &
wl=$!
# Wait until changes are flowing, so the signal lands mid-stream.
for _ in $(seq 1 600); do staged && break; sleep 0.05; done
staged || fail "no change reached staging within 30 s"
kill -0 "$wl" 2>/dev/null || fail "the workload finished before the signal"
t0=$(date +%s%N)
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
touch "$T/signalled"
assert_eq "SIGTERM mid-stream exits 0" 0 "$rc"
[ "$ms" -lt 5000 ] || fail "SIGTERM took ${ms} ms"
echo "ok: stopped ${ms} ms after SIGTERM"
wait "$wl"
run_start "$T/shop.yaml" "$T/run.log"
wait_caught_up "$pid"
read -r s_users s_orders s_events < <(src_checksums | xargs)
read -r a_users a_orders a_events < <(ana_checksums | xargs)
assert_eq "after SIGTERM: users exact" "$s_users" "$a_users"
assert_eq "after SIGTERM: orders exact" "$s_orders" "$a_orders"
assert_eq "after SIGTERM: events exact" "$s_events" "$a_events"
assert_eq "after SIGTERM: one staging row per change" "$(source_change_count)" \
	"$(ana -c "SELECT count(*) FROM staging.raw_events")"

# SIGHUP with a valid change: statuses upper-cased from now on.
sed -i 's/^      status: status$/      status: { sql: "upper(status)" }/' "$T/shop.yaml"
"$WALPIPE_BIN" check -q -c "$T/shop.yaml"
kill -HUP "$pid"
for _ in $(seq 1 50); do grep -q 'reloaded ' "$T/run.log" && break; sleep 0.1; done
grep -q 'reloaded ' "$T/run.log" || fail "no reload logged"
src -c "INSERT INTO orders VALUES (7001, 1, 10, 'fresh', now())"
wait_caught_up "$pid"
assert_eq "reloaded mapping takes effect" FRESH "$(ana -c "SELECT status FROM analytics.fact_orders WHERE order_id = 7001")"

# SIGHUP with an invalid file: logged, the running configuration stays.
cp "$T/shop.yaml" "$T/good.yaml"
sed -i 's/max_bytes: 16MB/max_bytes: lots/' "$T/shop.yaml"
kill -HUP "$pid"
for _ in $(seq 1 50); do grep -q 'not reloading' "$T/run.log" && break; sleep 0.1; done
assert_contains "invalid file reported with its error" 'batch.max_bytes: invalid size "lots"' "$(cat "$T/run.log")"
kill -0 "$pid" || fail "walpipe died on an invalid reload"
src -c "INSERT INTO orders VALUES (7002, 1, 10, 'still', now())"
wait_caught_up "$pid"
assert_eq "old configuration keeps running" STILL "$(ana -c "SELECT status FROM analytics.fact_orders WHERE order_id = 7002")"

# SIGHUP changing the slot: reported, not applied.
sed 's/^  slot: walpipe_shop$/  slot: other_slot/' "$T/good.yaml" >"$T/shop.yaml"
kill -HUP "$pid"
for _ in $(seq 1 50); do grep -q 'source.slot cannot change' "$T/run.log" && break; sleep 0.1; done
assert_contains "fixed key reported" 'source.slot cannot change while walpipe runs; restart it to apply the change' "$(cat "$T/run.log")"
kill -0 "$pid" || fail "walpipe died on a reload changing the slot"

kill -TERM "$pid"; wait "$pid" || true
trap - EXIT

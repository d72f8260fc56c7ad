# run_huge.sh: one source transaction of a million rows is applied in
# pieces with bounded memory (peak RSS from /proc), and a kill in its
# middle resumes at the right change: exactly a million rows in the end.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR
ROWS=${WALPIPE_HUGE_ROWS:-1000000}

run_setup_schema
BATCH_CHANGES=10000 run_config "$T/shop.yaml"
run_start "$T/shop.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT

src -c "INSERT INTO order_events (order_id, kind, value, payload, created_at)
	SELECT g, 'bulk', g % 1000, jsonb_build_object('order_id', g, 'pad', repeat('p', 100)), now()
	FROM generate_series(1, $ROWS) g"
echo "inserted $ROWS rows in one transaction"

# Kill walpipe once a third of the transaction is in.
for _ in $(seq 1 1200); do
	n=$(ana -c "SELECT coalesce((SELECT txn_applied FROM walpipe.checkpoints WHERE source = 'shop'), 0)" 2>/dev/null || echo 0)
	[ "$n" -ge $((ROWS / 3)) ] && break
	sleep 0.1
done
[ "$n" -ge $((ROWS / 3)) ] || fail "split transaction never reached a third (at $n)"
hwm1=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
echo "killed with $n of $ROWS changes applied (peak RSS ${hwm1} kB)"

"$WALPIPE_BIN" run -c "$T/shop.yaml" 2>>"$T/run.log" &
pid=$!
wait_caught_up "$pid" || { tail "$T/run.log"; fail "no catch up"; }
hwm2=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
echo "after resume: peak RSS ${hwm2} kB"
grep -q 'inside a split transaction' "$T/run.log" || fail "restart did not resume inside the transaction"
echo "ok: resumed inside the split transaction"

assert_eq "exactly $ROWS fact rows" "$ROWS" "$(ana -c "SELECT count(*) FROM analytics.fact_user_events")"
assert_eq "exactly $ROWS distinct fact rows" "$ROWS" "$(ana -c "SELECT count(DISTINCT order_id) FROM analytics.fact_user_events")"
assert_eq "exactly $ROWS staging rows" "$ROWS" "$(ana -c "SELECT count(*) FROM staging.raw_events")"

# Bounded memory: a batch is 10,000 changes; holding the transaction would
# take hundreds of MB.  Sanitizer builds carry their own shadow memory.
limit=${WALPIPE_RSS_LIMIT_KB:-131072}
for h in "$hwm1" "$hwm2"; do
	[ "$h" -lt "$limit" ] || fail "peak RSS $h kB is not under $limit kB"
done
echo "ok: peak RSS under $limit kB through a $ROWS-row transaction"
kill -TERM "$pid"; wait "$pid" || true
trap - EXIT

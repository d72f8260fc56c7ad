# snapshot_backfill.sh: `walpipe snapshot --table public.orders` asks the
# running `walpipe run` to copy a table again (an online backfill, issue
# 18 item 4) while a workload keeps updating, inserting and deleting
# orders.  The analytics copy of orders was damaged first (as after a
# mapping change), so only a complete backfill repairs it; no concurrent
# change may be lost or applied twice, and the stream never pauses.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/snapshot_lib.sh"

run_setup_schema
snap_seed_rows 20000
src -c "INSERT INTO orders SELECT g, g % 200, g / 100.0, 'old', now() FROM generate_series(1000, ${WALPIPE_BACKFILL_ROWS:-150000}) g"
BATCH_CHANGES=500 run_config "$T/shop.yaml"

"$WALPIPE_BIN" run -c "$T/shop.yaml" 2>"$T/run.log" &
pid=$!
trap 'kill -9 $pid $wl 2>/dev/null || true' EXIT
snap_witness "$pid"
snap_wait_done "$pid" "$T/run.log"
wait_caught_up "$pid"
initial_lsn=$(ana -c "SELECT snapshot_lsn FROM walpipe.snapshot_tables WHERE source_table = 'public.orders'")

# Damage the copy: what a changed mapping would have to rewrite.
ana -c "UPDATE analytics.fact_orders SET status = 'stale'; DELETE FROM analytics.fact_orders WHERE order_id % 3 = 0"

deleted0=$(src -c "SELECT n_tup_del FROM pg_stat_user_tables WHERE relname = 'orders'")
# Orders change all the time, in small transactions, from before the
# backfill starts until after it ended.
(
	round=0
	extra=0
	while [ "$extra" -lt 2 ]; do
		[ -e "$T/backfill.done" ] && extra=$((extra + 1))
		round=$((round + 1))
		for i in $(seq $((round * 50 - 49)) $((round * 50))); do
			echo "UPDATE orders SET amount = amount + 1, status = 'upd$i' WHERE id = 1000 + ($i * 7919) % 140000;
				INSERT INTO orders VALUES (200000 + $i, $i, $i, 'new', now());
				DELETE FROM orders WHERE id = 1000 + ($i * 104729) % 140000;
				BEGIN; UPDATE orders SET status = 'txn$i' WHERE id IN (1000 + $i, 200000 + $i - 1); UPDATE users SET name = name || '+' WHERE id = $i % 200; COMMIT;"
		done | src
	done
) >"$T/workload.log" 2>&1 &
wl=$!
# Start once the workload has deleted orders (pg_stat counts them).
for _ in $(seq 1 200); do
	[ "$(src -c "SELECT n_tup_del > $deleted0 FROM pg_stat_user_tables WHERE relname = 'orders'")" = t ] && break
	sleep 0.05
done
"$WALPIPE_BIN" snapshot -c "$T/shop.yaml" --table public.orders 2>"$T/backfill.log" ||
	{ cat "$T/backfill.log"; fail "walpipe snapshot --table failed"; }
touch "$T/backfill.done"
cat "$T/backfill.log"
wait "$wl" || { cat "$T/workload.log"; fail "workload failed"; }
wait_caught_up "$pid" || { tail -30 "$T/run.log"; fail "did not catch up"; }

read -r reason state bf_rows < <(ana -c "SELECT reason, state, rows_copied FROM walpipe.backfills WHERE source_table = 'public.orders'" | tr '|' ' ')
assert_eq "orders: backfill done" "requested done" "$reason $state"
assert_eq "one 'r' staging row per backfilled row" "$bf_rows" \
	"$(ana -c "SELECT count(*) FROM staging.raw_events WHERE op = 'r' AND source_table = 'orders' AND lsn > '$initial_lsn'")"
snap_assert_exact "after a backfill under concurrent changes"
assert_eq "walpipe run never waited for the backfill" 0 "$(grep -c 'waiting for' "$T/run.log" || true)"
assert_eq "changes to orders were applied while the backfill copied" t \
	"$(ana -c "SELECT count(*) > 0 FROM staging.raw_events WHERE op <> 'r' AND source_table = 'orders' AND received_at BETWEEN (SELECT started_at FROM walpipe.backfills WHERE source_table = 'public.orders') AND (SELECT finished_at FROM walpipe.backfills WHERE source_table = 'public.orders')")"
grep -q 'backfill of "public.orders" into "analytics.fact_orders" requested' "$T/backfill.log" ||
	fail "walpipe snapshot did not say what it asked for"
grep -q 'backfill of "public.orders" into "analytics.fact_orders" done' "$T/backfill.log" ||
	fail "walpipe snapshot did not wait for the end"
kill -TERM "$pid"; wait "$pid" || true
trap - EXIT

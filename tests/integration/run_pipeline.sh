# run_pipeline.sh: while the apply thread is stuck on the analytics server,
# the loop goes on reading the stream and answering the walsender, the slot
# is confirmed no further than what committed, and a stall of 10 s is
# reported; once the analytics side moves again everything lands exactly
# once.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

run_setup_schema
# A gate on fact_orders: every statement writing it first takes a shared
# advisory lock, which the test holds exclusively to stop the applier.
ana <<'SQL'
CREATE FUNCTION analytics.gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(4242);
  RETURN NULL;
END $$;
CREATE TRIGGER gate AFTER INSERT OR UPDATE OR DELETE ON analytics.fact_orders
  FOR EACH STATEMENT EXECUTE FUNCTION analytics.gate();
SQL
# Batches big and slow to fall due: the loop may read everything the
# workload makes into the next batch while the first one is stuck.
BATCH_CHANGES=5000 run_config "$T/shop.yaml"
sed -i 's/max_delay: 100ms/max_delay: 60s/; s/^  create_slot: true$/&\n  status_interval: 100ms/' "$T/shop.yaml"
grep -q 'status_interval: 100ms' "$T/shop.yaml" || fail "could not set status_interval"
run_start "$T/shop.yaml" "$T/run.log"
gate=''
trap 'kill -9 $pid 2>/dev/null || true; [ -z "$gate" ] || kill $gate 2>/dev/null || true' EXIT
src -c "SELECT 1 FROM pg_copy_logical_replication_slot('walpipe_shop', 'witness', false, 'wal2json')" >/dev/null
wait_sql ana "SELECT count(*) = 1 FROM walpipe.checkpoints WHERE source = 'shop'" "$pid"
run_workload 1 100
wait_caught_up "$pid"

gate_held() {
	ana -c "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND mode = 'ExclusiveLock' AND granted"
}
PGAPPNAME=gate psql -X -q -d "$WALPIPE_TEST_ANALYTICS" -c "SELECT pg_advisory_lock(4242)" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
gate=$!
wait_sql gate_held "SELECT 1"
ckpt0=$(ana -c "SELECT lsn FROM walpipe.checkpoints WHERE source = 'shop'")

# The first transaction's batch goes to the applier, which stops at the
# gate; the rest arrives while it waits.
src -c "UPDATE orders SET status = 'gated' WHERE id IN (SELECT id FROM orders ORDER BY id LIMIT 3)"
wait_sql ana "SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'walpipe' AND l.locktype = 'advisory' AND l.objid = 4242 AND NOT l.granted" "$pid"
run_small_txns 40
run_workload 2 30
end=$(src -c "SELECT pg_current_wal_lsn()")

# The loop reads on: the walsender hears that walpipe received up to the
# end (the write position of its status updates) ...
wait_sql src "SELECT coalesce((SELECT r.write_lsn >= '$end' FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = 'walpipe_shop'), false)" "$pid"
echo "ok: the stream was read to $end while the applier waited"
# ... but nothing past the stuck batch is committed or confirmed.
sleep 1
assert_eq "checkpoint while the applier waits" "$ckpt0" \
	"$(ana -c "SELECT lsn FROM walpipe.checkpoints WHERE source = 'shop'")"
assert_eq "slot not confirmed past the checkpoint" t \
	"$(src -c "SELECT confirmed_flush_lsn <= '$ckpt0' FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'")"
assert_eq "status updates still flow" t \
	"$(src -c "SELECT coalesce((SELECT now() - r.reply_time < interval '2 s' FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = 'walpipe_shop'), false)")"

# A statement stuck for 10 s is reported, and from then on the service
# watchdog is not fed (a hung analytics server must end in a restart).
for _ in $(seq 1 150); do
	grep -q 'has run for' "$T/run.log" && break
	sleep 0.1
done
assert_contains "stall reported" \
	"warning: a statement of the batch being applied has run for 1" "$(cat "$T/run.log")"
assert_contains "stall explained" \
	" s on the analytics server (a lock wait, or a lost connection); the service watchdog is no longer fed until it ends" \
	"$(cat "$T/run.log")"

# Open the gate: both batches commit, in order, and the slot follows.
ana -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gate'" >/dev/null
wait "$gate" || true
wait_caught_up "$pid"
wait_sql src "SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'" "$pid"
read -r s_users s_orders s_events < <(src_checksums | xargs)
read -r a_users a_orders a_events < <(ana_checksums | xargs)
assert_eq "fact_users = users" "$s_users" "$a_users"
assert_eq "fact_orders = orders" "$s_orders" "$a_orders"
assert_eq "fact_user_events rows = order_events rows" "$s_events" "$a_events"
assert_eq "staging holds each change once" "$(source_change_count)" \
	"$(ana -c "SELECT count(*) FROM staging.raw_events WHERE op IN ('I', 'U', 'D', 'T')")"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
assert_eq "SIGTERM exits 0" 0 "$rc"
echo "ok: pipeline"

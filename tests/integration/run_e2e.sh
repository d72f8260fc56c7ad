# run_e2e.sh: `walpipe run` end to end: a randomized workload on three
# source tables; afterwards every fact table equals its source query, the
# append table has one row per source event, and staging holds exactly one
# row per source change.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

run_setup_schema
run_config "$T/shop.yaml"
"$WALPIPE_BIN" check -c "$T/shop.yaml" >/dev/null

# Rows that exist before walpipe's slot are not streamed: start empty.
run_start "$T/shop.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
src -c "SELECT 1 FROM pg_copy_logical_replication_slot('walpipe_shop', 'witness', false, 'wal2json')" >/dev/null

run_workload 42 400
run_small_txns 50
# A TOASTed bio updated elsewhere (bio absent from the change) right after
# its insert, in one transaction: the merged row keeps the bio.
src -c "BEGIN; INSERT INTO users VALUES (1000, 'big', 'b@x', repeat('x', 100000));
	UPDATE users SET name = 'big2' WHERE id = 1000; COMMIT;"
# Delete then re-insert of one key in one transaction.
src -c "BEGIN; DELETE FROM orders WHERE id = (SELECT min(id) FROM orders);
	INSERT INTO orders SELECT -1, 1, 1, 'reborn', now(); COMMIT;"
run_workload 43 100
wait_caught_up "$pid"

n=$(ana -c "SELECT (SELECT count(*) FROM analytics.fact_users) > 100 AND (SELECT count(*) FROM analytics.fact_orders) > 100")
assert_eq "facts are not trivially empty" t "$n"
read -r s_users s_orders s_events < <(src_checksums | xargs)
read -r a_users a_orders a_events < <(ana_checksums | xargs)
assert_eq "fact_users equals source users" "$s_users" "$a_users"
assert_eq "fact_orders equals source orders" "$s_orders" "$a_orders"
assert_eq "fact_user_events has one row per event" "$s_events" "$a_events"
assert_eq "TOASTed bio survives a later partial update" 100000 \
	"$(ana -c "SELECT length(bio) FROM analytics.fact_users WHERE user_id = 1000")"
assert_eq "SQL expression computed in the analytics database" 0 \
	"$(ana -c "SELECT count(*) FROM analytics.fact_user_events WHERE event_value < 0 OR event_value > 1e6")"
assert_eq "metadata columns filled" 0 \
	"$(ana -c "SELECT count(*) FROM analytics.fact_users WHERE source_lsn IS NULL OR op NOT IN ('I', 'U')")"

changes=$(source_change_count)
assert_eq "staging holds one row per source change" "$changes" \
	"$(ana -c "SELECT count(*) FROM staging.raw_events")"
assert_eq "no duplicate staging rows" 0 \
	"$(ana -c "SELECT count(*) FROM (SELECT lsn, payload FROM staging.raw_events GROUP BY 1, 2 HAVING count(*) > 1) d")"
assert_eq "staging partitions created ahead" t \
	"$(ana -c "SELECT count(*) >= 3 FROM pg_inherits WHERE inhparent = 'staging.raw_events'::regclass")"
assert_eq "no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"

# A truncate of a mapped table empties its fact table, in stream order.
src -c "BEGIN; INSERT INTO orders VALUES (5000, 1, 1, 'x', now()); TRUNCATE orders;
	INSERT INTO orders VALUES (5001, 1, 2, 'after', now()); COMMIT;"
wait_caught_up "$pid"
assert_eq "truncate then insert leaves exactly the later row" "5001" \
	"$(ana -c "SELECT string_agg(order_id::text, ',') FROM analytics.fact_orders")"

# The slot is confirmed up to the checkpoint, never beyond.
ck=$(ana -c "SELECT lsn FROM walpipe.checkpoints WHERE source = 'shop'")
sl=$(src -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'")
assert_eq "slot not ahead of checkpoint" t "$(src -c "SELECT '$sl'::pg_lsn <= '$ck'::pg_lsn")"

kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
trap - EXIT
assert_eq "SIGTERM exits 0" 0 "$rc"
grep -q 'stopped at checkpoint' "$T/run.log" || { cat "$T/run.log"; fail "no clean stop logged"; }
echo "ok: clean stop"

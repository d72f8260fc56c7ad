# run_timeouts.sh: failures that must neither retry the same thing forever
# nor give up (issue 15, item 5).  A batch slower than
# target.statement_timeout is retried in smaller batches until it fits
# (it used to be retried at the same size forever); a read-only analytics
# server (25006, a standby during a failover) is retried with backoff until
# it takes writes again (it used to stop walpipe).
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src -c "CREATE TABLE items (id int PRIMARY KEY, v text)"
ana <<'SQL'
CREATE TABLE items (id int PRIMARY KEY, v text);
-- 20 ms a row: 200 rows take 4 s, more than the 1 s statement timeout.
CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN PERFORM pg_sleep(0.02); RETURN NEW; END $$;
CREATE TRIGGER slow BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION slow();
SQL
cat >"$T/t.yaml" <<EOF
source: { name: shop, conninfo: "$WALPIPE_TEST_SOURCE", slot: walpipe_shop,
          create_slot: true, tables: [public.items] }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS", schema: walpipe, statement_timeout: 1s }
batch: { max_changes: 1000, max_bytes: 64MB, max_delay: 50ms }
snapshot: never
mappings:
  - { from: public.items, to: public.items, key: [id], columns: { id: id, v: v } }
EOF
"$WALPIPE_BIN" check -q -c "$T/t.yaml"
run_up "$T/t.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
src -c "INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 200) g"
wait_caught_up "$pid"
assert_eq "every row arrived" 200 "$(ana -c "SELECT count(*) FROM items")"
assert_contains "the batch was halved" "a batch of 200 changes did not finish within target.statement_timeout: retrying with batches of at most 100" "$(cat "$T/run.log")"
assert_contains "and halved again until it fit" "retrying with batches of at most 25" "$(cat "$T/run.log")"
assert_contains "the timeout is the server's" "canceling statement due to statement timeout" "$(cat "$T/run.log")"

# Read-only: new sessions cannot write; walpipe's own is cut off.
ana -c "DROP TRIGGER slow ON items"
ana -c "ALTER DATABASE analytics SET default_transaction_read_only = on"
pgc_psql analytics postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'analytics' AND application_name = 'walpipe'" >/dev/null
src -c "INSERT INTO items VALUES (201, 'while read-only')"
for _ in $(seq 1 100); do
	grep -q 'read-only transaction' "$T/run.log" && break
	sleep 0.1
done
assert_contains "the read-only server is met" "cannot execute" "$(cat "$T/run.log")"
sleep 2
kill -0 "$pid" || fail "walpipe stopped on a read-only server"
pgc_psql analytics postgres -c "ALTER DATABASE analytics RESET default_transaction_read_only"
wait_caught_up "$pid"
assert_eq "the change made while read-only arrives" "while read-only" "$(ana -c "SELECT v FROM items WHERE id = 201")"
run_down
echo "ok: run_timeouts"

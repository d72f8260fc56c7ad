# run_copy_new_identity.sh: a target column GENERATED ALWAYS AS IDENTITY
# refuses an INSERT of a value, where COPY would take it: such a target
# keeps the INSERT, so its new keys stop walpipe with the server's error
# as its updates would, instead of going in by COPY alone.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src -c "CREATE TABLE public.items (id bigint PRIMARY KEY, v text)"
ana <<'SQL'
CREATE SCHEMA analytics;
CREATE TABLE analytics.always (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
SQL
cat >"$T/items.yaml" <<EOF
source: { name: shop, conninfo: "$WALPIPE_TEST_SOURCE", slot: walpipe_shop,
          create_slot: true, tables: [public.items] }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS", schema: walpipe }
batch: { max_changes: 1000, max_bytes: 16MB, max_delay: 100ms }
snapshot: never
mappings:
  - { from: public.items, to: analytics.always, key: [id], columns: { id: id, v: v } }
EOF
run_start "$T/items.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) = 1 FROM walpipe.checkpoints WHERE source = 'shop'" "$pid"
src -c "INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 10) g"
for _ in $(seq 1 300); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "walpipe still runs: the new keys went in"
rc=0; wait "$pid" || rc=$?
[ "$rc" -ne 0 ] || fail "walpipe exited 0"
assert_contains "the server's error" 'cannot insert a non-DEFAULT value into column "id"' "$(cat "$T/run.log")"
assert_eq "no row applied" 0 "$(ana -c "SELECT count(*) FROM analytics.always")"
assert_eq "nothing confirmed past the rows" t \
	"$(src -c "SELECT confirmed_flush_lsn < pg_current_wal_lsn() FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'")"
echo "ok: copy_new_identity"

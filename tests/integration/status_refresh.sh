# status_refresh.sh: materialized views refreshed on schedule between
# batches (CONCURRENTLY when possible, a failing one logged, not fatal),
# and `walpipe status` reporting a known state, as text and JSON.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

run_setup_schema
ana <<'SQL'
CREATE MATERIALIZED VIEW analytics.mv_status AS
  SELECT status, count(*) AS n FROM analytics.fact_orders GROUP BY status;
CREATE UNIQUE INDEX ON analytics.mv_status (status);
CREATE MATERIALIZED VIEW analytics.mv_total AS
  SELECT count(*) AS n FROM analytics.fact_orders;      -- no unique index
CREATE MATERIALIZED VIEW analytics.mv_bad AS
  SELECT 1 / (SELECT count(*) FROM analytics.fact_orders WHERE status = 'zzz') AS x
  WITH NO DATA;
SQL
run_config "$T/shop.yaml" 'refresh:
  - { view: analytics.mv_status, every: 1s, concurrently: true }
  - { view: analytics.mv_total, every: 1s, concurrently: true }
  - { view: analytics.mv_bad, every: 1s }'
run_start "$T/shop.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT

src -c "INSERT INTO orders SELECT g, g, g, (ARRAY['new','paid'])[1 + g % 2], now() FROM generate_series(1, 50) g"
wait_caught_up "$pid"
sleep 3
assert_eq "mv_status refreshed concurrently with the applied facts" "new=25 paid=25" \
	"$(ana -c "SELECT string_agg(status || '=' || n, ' ' ORDER BY status) FROM analytics.mv_status")"
assert_eq "mv_total refreshed plainly (no unique index)" 50 "$(ana -c "SELECT n FROM analytics.mv_total")"
assert_eq "refreshes recorded" "analytics.mv_status analytics.mv_total" \
	"$(ana -c "SELECT string_agg(view, ' ' ORDER BY view) FROM walpipe.refreshes WHERE last_ok_at IS NOT NULL")"
assert_eq "failing refresh recorded with its error" t \
	"$(ana -c "SELECT last_error LIKE '%division by zero%' AND last_ok_at IS NULL FROM walpipe.refreshes WHERE view = 'analytics.mv_bad'")"
kill -0 "$pid" || fail "a failing refresh stopped walpipe"
grep -q 'analytics.mv_bad: could not refresh materialized view' "$T/run.log" || fail "refresh failure not logged"
echo "ok: a failing refresh is logged and walpipe goes on"

# Dead letter for status: a NULL amount into NOT NULL.
src -c "INSERT INTO orders VALUES (999, 1, NULL, 'new', now())"
wait_caught_up "$pid"

out=$("$WALPIPE_BIN" status -c "$T/shop.yaml")
echo "$out"
assert_contains "text: slot line" "slot        slot                   walpipe_shop" "$out"
assert_contains "text: active" "slot        active                 true" "$out"
assert_contains "text: dead letters" "checkpoint  pending_dead_letters   1" "$out"

json=$("$WALPIPE_BIN" status -c "$T/shop.yaml" --json)
ck=$(ana -c "SELECT lsn FROM walpipe.checkpoints WHERE source = 'shop'")
q() { src -c "SELECT '$(echo "$json" | sed "s/'/''/g")'::jsonb #>> '{$1}'"; }
assert_eq "json: source name" shop "$(q source,name)"
assert_eq "json: slot exists" true "$(q slot,exists)"
assert_eq "json: checkpoint is the analytics checkpoint" "$ck" "$(q checkpoint,checkpoint_lsn)"
assert_eq "json: one pending dead letter" 1 "$(q checkpoint,pending_dead_letters)"
assert_eq "json: staging partitions ahead" t "$(src -c "SELECT ($(q staging,partitions_ahead))::int >= 2")"
assert_eq "json: refresh state" null "$(src -c "SELECT coalesce('$(echo "$json" | sed "s/'/''/g")'::jsonb #>> '{refresh analytics.mv_status,last_error}', 'null')")"
assert_eq "json: lag numbers are numbers" number "$(src -c "SELECT jsonb_typeof('$(echo "$json" | sed "s/'/''/g")'::jsonb #> '{slot,lag_bytes}')")"

kill -TERM "$pid"; wait "$pid" || true
trap - EXIT

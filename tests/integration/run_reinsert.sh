# run_reinsert.sh: keys a batch first inserts go in by a plain INSERT; when
# the target already holds such a key (a soft-deleted row, or one kept by
# on_delete: ignore) the batch is redone with upserts and nothing is lost.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src -c "CREATE TABLE public.items (id int PRIMARY KEY, v text)"
ana <<'SQL'
CREATE SCHEMA analytics;
CREATE TABLE analytics.fact_items (id int PRIMARY KEY, v text, deleted_at timestamptz);
CREATE TABLE analytics.fact_items_kept (id int PRIMARY KEY, v text);
SQL
cat >"$T/items.yaml" <<EOF
source: { name: shop, conninfo: "$WALPIPE_TEST_SOURCE", slot: walpipe_shop,
          create_slot: true, tables: [public.items] }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS", schema: walpipe }
batch: { max_changes: 1000, max_bytes: 16MB, max_delay: 100ms }
snapshot: never
mappings:
  - from: public.items
    to: analytics.fact_items
    key: [id]
    columns: { id: id, v: v, deleted_at: { sql: "null::timestamptz" } }
    on_delete: { soft_delete: deleted_at }
  - from: public.items
    to: analytics.fact_items_kept
    key: [id]
    columns: { id: id, v: v }
    on_delete: ignore
EOF
run_start "$T/items.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) = 1 FROM walpipe.checkpoints WHERE source = 'shop'" "$pid"

items_sum() { # PSQL_FN TABLE [WHERE]
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(id || '=' || coalesce(v, '-'), ',' ORDER BY id), '')) FROM $2 ${3:-}"
}

# New keys: plain inserts (rows of 1,000 keys in pieces of a batch).
src -c "INSERT INTO items SELECT g, 'first ' || g FROM generate_series(1, 2000) g"
wait_caught_up "$pid"
grep -q 'upserted from now on' "$T/run.log" && fail "a first insert of new keys met existing keys"
# Deleted at the source: soft-deleted in one target, kept in the other.
src -c "DELETE FROM items WHERE id <= 700"
wait_caught_up "$pid"
assert_eq "soft-deleted rows" 700 "$(ana -c "SELECT count(*) FROM analytics.fact_items WHERE deleted_at IS NOT NULL")"
# The same keys inserted again: both targets hold them, so the plain
# insert meets them; the batch is redone with upserts.
src -c "INSERT INTO items SELECT g, 'again ' || g FROM generate_series(1, 700) g"
src -c "INSERT INTO items SELECT g, 'later ' || g FROM generate_series(2001, 2500) g"
src -c "UPDATE items SET v = 'moved' WHERE id % 97 = 0"
wait_caught_up "$pid"

want=$(items_sum src items)
assert_eq "fact_items = items" "$want" "$(items_sum ana analytics.fact_items)"
assert_eq "no row of fact_items stays deleted" 0 \
	"$(ana -c "SELECT count(*) FROM analytics.fact_items WHERE deleted_at IS NOT NULL")"
assert_eq "fact_items_kept = items" "$want" "$(items_sum ana analytics.fact_items_kept)"
assert_eq "no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"
assert_contains "soft-delete target switched to upserts" \
	'"analytics.fact_items" holds rows with keys the source has just inserted' "$(cat "$T/run.log")"
assert_contains "kept-rows target switched to upserts" \
	'"analytics.fact_items_kept" holds rows with keys the source has just inserted' "$(cat "$T/run.log")"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
assert_eq "SIGTERM exits 0" 0 "$rc"
echo "ok: reinsert"

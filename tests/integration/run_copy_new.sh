# run_copy_new.sh: keys a batch first inserts go straight into the target
# by COPY where that stores exactly what the INSERT from the temp table
# would (every column plain, of the same type), and by that INSERT
# elsewhere. Both ways must store the same values, dead-letter the same
# rows and fall back the same way; a statement trigger tells which way
# each target was written.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src -c "CREATE TABLE public.items (id bigint PRIMARY KEY, n numeric,
  v varchar(10), at timestamptz, b bytea, j jsonb, c char(3), tags text[])"
ana <<'SQL'
CREATE SCHEMA analytics;
CREATE TABLE analytics.statements (target text, verb text);
CREATE FUNCTION analytics.note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics.statements
  VALUES (TG_TABLE_NAME, split_part(ltrim(current_query()), ' ', 1));
  RETURN NULL;
END $$;
-- The same columns, modifiers and a CHECK the source does not have.
CREATE TABLE analytics.direct (id bigint PRIMARY KEY, n numeric(10,2) CHECK (n >= 0),
  v varchar(5), at timestamptz, b bytea, j jsonb, c char(3), tags text[]);
CREATE TABLE analytics.twin (LIKE analytics.direct INCLUDING ALL);
-- A timestamp without time zone: not the source's type.
CREATE TABLE analytics.local (id bigint PRIMARY KEY, at timestamp);
CREATE TRIGGER note AFTER INSERT ON analytics.direct
  FOR EACH STATEMENT EXECUTE FUNCTION analytics.note();
CREATE TRIGGER note AFTER INSERT ON analytics.twin
  FOR EACH STATEMENT EXECUTE FUNCTION analytics.note();
CREATE TRIGGER note AFTER INSERT ON analytics.local
  FOR EACH STATEMENT EXECUTE FUNCTION analytics.note();
SQL
cat >"$T/items.yaml" <<EOF
source: { name: shop, conninfo: "$WALPIPE_TEST_SOURCE", slot: walpipe_shop,
          create_slot: true, tables: [public.items] }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS", schema: walpipe }
batch: { max_changes: 1000, max_bytes: 16MB, max_delay: 100ms }
snapshot: never
mappings:
  - { from: public.items, to: analytics.direct, key: [id], on_delete: ignore,
      columns: { id: id, n: n, v: v, at: at, b: b, j: j, c: c, tags: tags } }
  # A where that keeps every row: the twin goes through the temp table.
  - { from: public.items, to: analytics.twin, key: [id], on_delete: ignore,
      where: "id IS NOT NULL",
      columns: { id: id, n: n, v: v, at: at, b: b, j: j, c: c, tags: tags } }
  - { from: public.items, to: analytics.local, key: [id],
      columns: { id: id, at: at } }
EOF
run_start "$T/items.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) = 1 FROM walpipe.checkpoints WHERE source = 'shop'" "$pid"

rows() { # TABLE
	ana -c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM $1 t"
}
verbs() { # TABLE
	ana -c "SELECT string_agg(DISTINCT verb, ',') FROM analytics.statements WHERE target = '$1'"
}

# 1,000 new keys in one transaction, with values a modifier rounds or
# pads, text escapes of every kind, and times written in another zone.
src <<'SQL'
SET TimeZone = 'Asia/Kolkata';
INSERT INTO items
SELECT g, g * 1.005, 'v' || g % 100,
       '2026-03-29 01:30:00+01'::timestamptz + g * interval '1 minute',
       decode(lpad(to_hex(g), 8, '0'), 'hex'),
       jsonb_build_object('g', g, 'tab', E'a\tb', 'q', 'x"y\\z'),
       CASE WHEN g % 2 = 0 THEN 'ab' END, ARRAY['a b', NULL, E'c\nd']
  FROM generate_series(1, 1000) g;
SQL
wait_caught_up "$pid"
assert_eq "direct target written by COPY" COPY "$(verbs direct)"
assert_eq "twin written by INSERT" INSERT "$(verbs twin)"
assert_eq "a timestamp target written by INSERT" INSERT "$(verbs local)"
assert_eq "direct = twin" "$(rows analytics.twin)" "$(rows analytics.direct)"
assert_eq "1,000 rows" 1000 "$(ana -c "SELECT count(*) FROM analytics.direct")"
assert_eq "rounded as the INSERT rounds" "1.01|10.05" \
	"$(ana -c "SELECT n FROM analytics.direct WHERE id IN (1, 10) ORDER BY id" | paste -sd'|')"
assert_eq "padded as the INSERT pads" 3 "$(ana -c "SELECT octet_length(c) FROM analytics.direct WHERE id = 2")"
want=$(src -c "SELECT count(*) || ':' || md5(string_agg(id || '=' || (at AT TIME ZONE 'UTC'), ',' ORDER BY id)) FROM items")
assert_eq "timestamp target: the analytics session's local time" "$want" \
	"$(ana -c "SET TimeZone = 'UTC'" -c "SELECT count(*) || ':' || md5(string_agg(id || '=' || at, ',' ORDER BY id)) FROM analytics.local")"

# A batch of new keys with a row that breaks the CHECK (1001) and one
# too long for varchar(5) (1002): the COPY fails as the INSERT does, the
# batch is redone row by row, both rows are dead-lettered, the rest stays.
src -c "INSERT INTO items SELECT g, CASE WHEN g = 1001 THEN -1 ELSE g END,
  CASE WHEN g = 1002 THEN 'toolong' ELSE 'ok' END FROM generate_series(1001, 1100) g"
wait_caught_up "$pid"
assert_eq "direct = twin after the dead letters" "$(rows analytics.twin)" "$(rows analytics.direct)"
assert_eq "1,098 rows" 1098 "$(ana -c "SELECT count(*) FROM analytics.direct")"
assert_eq "dead letters: the same two rows of each" \
	"twin 23514 1001|twin 22001 1002|direct 23514 1001|direct 22001 1002" \
	"$(ana -c "SELECT split_part(target_table, '.', 2) || ' ' || sqlstate || ' ' || (payload->'columns'->0->>'value')
	           FROM walpipe.dead_letters ORDER BY target_table DESC, (payload->'columns'->0->>'value')::int" | paste -sd'|')"

# Keys the target holds already (on_delete: ignore kept them): the COPY
# meets them, the batch is redone with upserts, nothing is lost.
src -c "DELETE FROM items WHERE id <= 100"
wait_caught_up "$pid"
ana -c "TRUNCATE analytics.statements"
src -c "INSERT INTO items SELECT g, g, 'again', now(), NULL, NULL, NULL, NULL FROM generate_series(1, 100) g"
src -c "INSERT INTO items SELECT g, g, 'later', now(), NULL, NULL, NULL, NULL FROM generate_series(2001, 2100) g"
wait_caught_up "$pid"
assert_contains "direct target switched to upserts" \
	'"analytics.direct" holds rows with keys the source has just inserted' "$(cat "$T/run.log")"
assert_eq "direct = twin after the fallback" "$(rows analytics.twin)" "$(rows analytics.direct)"
assert_eq "the re-inserted rows are the source's" 100 \
	"$(ana -c "SELECT count(*) FROM analytics.direct WHERE v = 'again' AND id <= 100")"
assert_eq "upserts from then on" INSERT "$(verbs direct)"
assert_eq "still two dead letters per target" 4 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
assert_eq "SIGTERM exits 0" 0 "$rc"
echo "ok: copy_new"

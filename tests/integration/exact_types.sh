# exact_types.sh: columns of enum, domain (over an enum), composite, range,
# extension (hstore, citext) types and arrays of them mirror 1:1 with a
# plain `col: col` mapping, no type:, through the initial snapshot and the
# stream: values go through the target column's own type input, as
# PostgreSQL's subscriber does (issue 14, item 2).
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

DDL="CREATE EXTENSION hstore;
CREATE EXTENSION citext;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'it''s \"fine\"');
CREATE DOMAIN good_mood AS mood CHECK (VALUE <> 'sad');
CREATE TYPE pair AS (a int, b text);
CREATE TYPE floatrange AS RANGE (subtype = float8);
CREATE TABLE typed (id int PRIMARY KEY, m mood, gm good_mood, ms mood[],
  p pair, ps pair[], fr floatrange, h hstore, ci citext, cis citext[],
  ir int4range);"
src -c "$DDL"
ana -c "$DDL"
src <<'SQL'
INSERT INTO typed SELECT g, (ARRAY['sad', 'ok', 'happy', 'it''s "fine"']::mood[])[1 + g % 4],
  (ARRAY['ok', 'happy']::mood[])[1 + g % 2], ARRAY['sad', 'happy', 'it''s "fine"']::mood[],
  ROW(g, 'b, "' || g || '"')::pair, ARRAY[ROW(1, 'x')::pair, ROW(g, NULL)::pair],
  floatrange(g, g + 0.5), hstore('k' || g, 'v "' || g || '"'), 'MiXed ' || g,
  ARRAY['A', 'b']::citext[], int4range(g, g + 10)
  FROM generate_series(1, 200) g;
INSERT INTO typed (id) VALUES (0);
SQL
cat >"$T/types.yaml" <<EOF
$(shop_header "public.typed" 1000 50ms)
mappings:
  - from: public.typed
    to: public.typed
    key: [id]
    columns: { id: id, m: m, gm: gm, ms: ms, p: p, ps: ps, fr: fr, h: h,
               ci: ci, cis: cis, ir: ir }
EOF
"$WALPIPE_BIN" check -c "$T/types.yaml" --live >"$T/check.log" 2>&1 || { cat "$T/check.log"; fail "check --live refused the 1:1 mapping"; }

sums() { # PSQL_FN
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY id), '')) FROM typed t"
}
run_up "$T/types.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) = 1 FROM walpipe.snapshot_tables WHERE state = 'done'" "$pid"
assert_eq "snapshot: analytics = source" "$(sums src)" "$(sums ana)"
src <<'SQL'
INSERT INTO typed SELECT g, 'happy', 'ok', ARRAY['ok']::mood[], ROW(-g, 'new')::pair,
  ARRAY[]::pair[], floatrange(-g, NULL), 'a=>1, b=>NULL', 'NEW', ARRAY[]::citext[], 'empty'
  FROM generate_series(201, 300) g;
UPDATE typed SET m = 'it''s "fine"', p.b = 'updated', h = h || hstore('x', 'y'),
  ms = ms || 'ok'::mood WHERE id % 3 = 0;
DELETE FROM typed WHERE id % 7 = 0;
SQL
wait_caught_up "$pid"
assert_eq "stream: analytics = source" "$(sums src)" "$(sums ana)"
assert_eq "no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"
run_down
echo "ok: exact_types"

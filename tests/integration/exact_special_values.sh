# exact_special_values.sh: NaN, Infinity and -Infinity of real, double
# precision and numeric columns (issue 14, item 5).  walpipe asks wal2json
# for numeric-data-types-as-string and falls back without it when the
# server's wal2json (before 2.6) refuses it.  The initial snapshot copies
# every value exactly.  Streamed: with 2.6+ every value arrives exactly;
# with 2.5 (Debian 12) wal2json sends the special values as null, and
# walpipe says so for each such column, in check --live and at start,
# while finite values, domains over numeric and arrays (which wal2json
# quotes) still arrive exactly.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

DDL="CREATE DOMAIN money_ish AS numeric;
CREATE TABLE xpto (a int PRIMARY KEY, d real, e numeric, f double precision,
  g money_ish, h float8[], n numeric(12, 3), c text);"
src -c "$DDL"
ana -c "$DDL"
# Rows of every special value in every column, and finite ones beside.
rows() { # FIRST_ID
	cat <<SQL
INSERT INTO xpto VALUES
  ($1, 'NaN', 'NaN', 'NaN', 'NaN', '{NaN,1.5}', 'NaN', 'nan'),
  ($1 + 1, 'Infinity', 'Infinity', 'Infinity', 'Infinity', '{Infinity}', 1.5, 'inf'),
  ($1 + 2, '-Infinity', '-Infinity', '-Infinity', '-Infinity', '{-Infinity,-0}', -2.25, '-inf'),
  ($1 + 3, 1.5e-7, 12345678901234567890.123456789, 1e308, 0.1, '{}', 123456789.123, 'finite'),
  ($1 + 4, -0, -0.0, -0, -0.0, NULL, NULL, 'zeros');
SQL
}
src -c "$(rows 1)"
cat >"$T/special.yaml" <<EOF
$(shop_header "public.xpto" 1000 50ms)
mappings:
  - { from: public.xpto, to: public.xpto, key: [a],
      columns: { a: a, d: d, e: e, f: f, g: g, h: h, n: n, c: c } }
EOF
"$WALPIPE_BIN" check -c "$T/special.yaml" --live >"$T/check.log" 2>&1 || { cat "$T/check.log"; fail "check --live refused the mapping"; }

sums() { # PSQL_FN WHERE
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY a), '')) FROM xpto t WHERE $2"
}
run_up "$T/special.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) = 1 FROM walpipe.snapshot_tables WHERE state = 'done'" "$pid"
assert_eq "snapshot: every value exact" "$(sums src true)" "$(sums ana true)"
src -c "$(rows 101)"
src -c "UPDATE xpto SET d = 'NaN', f = '-Infinity', c = c || ' updated' WHERE a IN (4, 104)"
wait_caught_up "$pid"
run_down

if [ "${WALPIPE_PLUGIN:-wal2json}" = pgoutput ]; then
	# pgoutput sends every value as its text: nothing to warn about.
	assert_eq "stream: every value exact" "$(sums src true)" "$(sums ana true)"
	assert_eq "pgoutput: no warning from check" 0 "$(grep -c 'numeric-data-types-as-string' "$T/check.log" || true)"
	assert_eq "pgoutput: no warning at start" 0 "$(grep -c 'numeric-data-types-as-string' "$T/run.log" || true)"
	assert_eq "the stream carried the specials (not the snapshot)" "NaN|-Infinity" \
		"$(ana -c "SELECT d || '|' || f FROM xpto WHERE a = 104")"
elif grep -q 'sends numeric values as strings' "$T/run.log"; then
	# wal2json 2.6 or later.
	assert_eq "stream: every value exact" "$(sums src true)" "$(sums ana true)"
	assert_eq "no warning from check" 0 "$(grep -c 'numeric-data-types-as-string' "$T/check.log" || true)"
else
	cols='public.xpto (d real, e numeric, f double precision, n numeric(12,3))'
	assert_contains "check --live names each column" \
		"warning: the source's wal2json has no numeric-data-types-as-string (it came with wal2json 2.6): NaN, Infinity and -Infinity in columns $cols would arrive as NULL" \
		"$(cat "$T/check.log")"
	assert_contains "the start-up log names each column" \
		"NaN, Infinity and -Infinity in columns $cols arrive as NULL" "$(cat "$T/run.log")"
	# The streamed rows: specials of the plain columns as NULL, the rest exact.
	nulled="SELECT a, CASE WHEN d::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE d END,
	  CASE WHEN e::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE e END,
	  CASE WHEN f::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE f END,
	  g, h, CASE WHEN n::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE n END, c
	  FROM xpto WHERE a > 100 OR a = 4"
	assert_eq "stream: finite values, domains and arrays exact, specials NULL" \
		"$(src -c "SELECT md5(string_agg(x::text, E'\n' ORDER BY a)) FROM ($nulled) x")" \
		"$(ana -c "SELECT md5(string_agg(x::text, E'\n' ORDER BY a)) FROM (SELECT * FROM xpto WHERE a > 100 OR a = 4) x")"
	assert_eq "the specials of the domain and the array came exactly" \
		"NaN|{NaN,1.5}" "$(ana -c "SELECT g || '|' || h::text FROM xpto WHERE a = 101")"
	assert_eq "snapshot rows untouched by the stream stay exact" \
		"$(sums src 'a IN (1, 2, 3, 5)')" "$(sums ana 'a IN (1, 2, 3, 5)')"
fi
assert_eq "no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"
echo "ok: exact_special_values"

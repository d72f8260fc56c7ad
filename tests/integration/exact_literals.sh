# exact_literals.sh: the literals walpipe writes into its statements (JSON
# paths, $source, missing values) mean exactly their text even on an
# analytics server whose default is standard_conforming_strings = off,
# where a backslash inside '...' would be an escape (issue 15, item 9:
# walpipe quotes them itself, so its session sets the setting).
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

pgc_psql analytics postgres -c "ALTER DATABASE analytics SET standard_conforming_strings = off" -c "ALTER DATABASE analytics SET escape_string_warning = off"
src -c "CREATE TABLE docs (id int PRIMARY KEY, payload jsonb)"
ana -c "CREATE TABLE docs (id int PRIMARY KEY, back text, quoted text, src text)"
cat >"$T/lit.yaml" <<EOF
$(shop_header "public.docs" 1000 50ms)
snapshot: never
mappings:
  - from: public.docs
    to: public.docs
    key: [id]
    columns:
      id: id
      back: { from: 'payload."a\\b"', type: text }
      quoted: { from: 'payload."say ""hi"""', type: text }
      src: \$source
EOF
"$WALPIPE_BIN" check --live -q -c "$T/lit.yaml" >"$T/check.log" 2>&1 || { cat "$T/check.log"; fail "check --live refused"; }
run_up "$T/lit.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
src -c "INSERT INTO docs VALUES (1, jsonb_build_object(E'a\\\\b', 'backslash key', 'say \"hi\"', 'quoted key'))"
wait_caught_up "$pid"
run_down
assert_eq "paths with a backslash and a quote read their keys" "backslash key|quoted key|shop" \
	"$(ana -c "SELECT back || '|' || quoted || '|' || src FROM docs WHERE id = 1")"
assert_eq "no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"
echo "ok: exact_literals"

# exact_keyless.sh: a table without a replica identity keeps its inserts
# flowing into an append mapping; the updates and deletes wal2json drops
# for it are never silent: the server's warnings reach walpipe's log (as a
# count per 10 s, not a line per row).
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src -c "CREATE TABLE events (a int, b text)"
ana -c "CREATE TABLE events_log (a int, b text, op text)"
cat >"$T/keyless.yaml" <<EOF
$(shop_header "public.events" 1000 50ms)
snapshot: never
log: { format: json }
mappings:
  - { from: public.events, to: public.events_log, mode: append, columns: { a: a, b: b, op: \$op } }
EOF
run_up "$T/keyless.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
src -c "INSERT INTO events SELECT g, 'e' || g FROM generate_series(1, 500) g"
src -c "UPDATE events SET b = 'changed' WHERE a <= 300"
src -c "INSERT INTO events VALUES (501, 'last')"
wait_caught_up "$pid"
assert_eq "every insert is appended" "501:501" \
	"$(ana -c "SELECT count(*) || ':' || count(*) FILTER (WHERE op = 'I') FROM events_log")"
run_down
# Every dropped update counted, in a line or two (the first at once, the
# rest within 10 s or when walpipe stops), never a line per row.
assert_contains "the dropped updates are logged" \
	'warning(s) while decoding; the last: WARNING: no tuple identifier for UPDATE in table \"public\".\"events\"' "$(cat "$T/run.log")"
assert_eq "300 warnings counted" 300 \
	"$(grep -o 'sent [0-9]* warning' "$T/run.log" | awk '{ n += $2 } END { print n }')"
[ "$(grep -c 'while decoding' "$T/run.log")" -le 2 ] || fail "a log line per dropped row"
assert_eq "nothing of the server's reaches stderr raw" 0 "$(grep -c '^WARNING' "$T/run.log" || true)"
echo "ok: exact_keyless"

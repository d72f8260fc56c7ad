# stream.sh: `walpipe stream` against a real source with wal2json: exact
# output, --endpos, stop and restart without loss or repeats, idle status
# updates, and clear errors for a missing slot, wrong plugin, wal_level.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"

W=$WALPIPE_BIN
T=$WALPIPE_TEST_TMPDIR
src() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_SOURCE" "$@"; }
OPTS="'format-version','2','include-xids','1','include-timestamp','1',
	'include-lsn','1','include-pk','1','include-types','1'"
stream() { timeout 60 "$W" stream --source "$WALPIPE_TEST_SOURCE" "$@"; }

# Compare two JSON-lines files as jsonb, line by line, in the source db.
same_json_lines() {
	src -c "CREATE TEMP TABLE a(n bigserial, j jsonb); CREATE TEMP TABLE b(n bigserial, j jsonb);" \
		-c "\\copy a(j) FROM '$1' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')" \
		-c "\\copy b(j) FROM '$2' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')" \
		-c "SELECT (SELECT count(*) FROM a) || ' ' || (SELECT count(*) FROM b) || ' ' ||
			(SELECT count(*) FROM a FULL JOIN b USING (n) WHERE a.j IS DISTINCT FROM b.j)"
}

src <<'SQL'
CREATE TABLE public.items (id bigint PRIMARY KEY, name text, price numeric,
	ok boolean, tags text[], doc jsonb, raw bytea, at timestamptz, big text);
CREATE TABLE public.other (k text PRIMARY KEY, v int);
SQL

# ---- errors: each clear, each non-zero
set +e
out=$(stream --slot nope --endpos 0/1 2>&1); rc=$?
set -e
assert_eq "missing slot exit code" 1 "$rc"
assert_contains "missing slot message" 'replication slot "nope" does not exist' "$out"

src -c "SELECT 1 FROM pg_create_logical_replication_slot('td', 'test_decoding')" >/dev/null
set +e
out=$(stream --slot td 2>&1); rc=$?
set -e
assert_eq "wrong plugin exit code" 1 "$rc"
assert_contains "wrong plugin message" 'replication slot "td" uses output plugin "test_decoding"; walpipe needs "wal2json"' "$out"
src -c "SELECT pg_drop_replication_slot('td')" >/dev/null

set +e
out=$(stream --slot 'Bad-Name' 2>&1); rc=$?
set -e
assert_eq "bad slot name exit code" 1 "$rc"
assert_contains "bad slot name message" 'invalid replication slot name "Bad-Name"' "$out"

pgc_create replica "wal_level = replica"
pgc_psql replica postgres -c "CREATE DATABASE r"
set +e
out=$(timeout 60 "$W" stream --source "$(pgc_conninfo replica r)" --slot x --create-slot 2>&1); rc=$?
set -e
assert_eq "wal_level=replica exit code" 1 "$rc"
assert_contains "wal_level=replica message" 'logical decoding requires wal_level "logical", but the source server has "replica"' "$out"
pgc_stop replica

# ---- create the slot and a witness slot at the same point
end0=$(src -c "SELECT pg_current_wal_lsn()")
stream --slot s1 --create-slot --endpos "$end0" >"$T/empty.out" 2>"$T/create.err"
assert_contains "slot created" 'created replication slot "s1"' "$(cat "$T/create.err")"
assert_eq "nothing streamed before any change" "" "$(cat "$T/empty.out")"
src -c "SELECT 1 FROM pg_copy_logical_replication_slot('s1', 'witness')" >/dev/null

# ---- a workload of every kind of change
src >/dev/null <<'SQL'
INSERT INTO items VALUES
  (1, 'plain', 1.50, true, '{a,b}', '{"k": [1, 2]}', '\xdeadbeef', '2024-01-02 03:04:05.123456+00', NULL),
  (9223372036854775807, E'quote " backslash \\ tab \t newline \n', 123456789012345678901234567890.123456789, false, NULL, NULL, NULL, NULL, NULL),
  (3, 'ünïcödé ✓ 😀', 'NaN', NULL, '{}', '"str"', '\x', 'infinity', repeat('toasted-', 5000));
BEGIN;
UPDATE items SET name = 'renamed' WHERE id = 3;       -- TOASTed big unchanged: absent
INSERT INTO other VALUES ('x', 1), ('y', NULL);
SELECT 1 FROM pg_logical_emit_message(true, 'walpipe', 'in a transaction');
DELETE FROM items WHERE id = 1;
COMMIT;
SELECT 1 FROM pg_logical_emit_message(false, 'walpipe', 'not transactional');
UPDATE other SET v = v + 1;
TRUNCATE other, items;
SQL
end1=$(src -c "SELECT pg_current_wal_lsn()")
src -c "SELECT data FROM pg_logical_slot_peek_changes('witness', '$end1', NULL, $OPTS)" >"$T/expected.jsonl"
assert_eq "server produced the workload" 21 "$(wc -l <"$T/expected.jsonl")"

stream --slot s1 --endpos "$end1" --raw >"$T/raw.out" 2>"$T/raw.err" || { cat "$T/raw.err"; head -c 600 "$T/raw.out"; fail "stream --raw"; }
if ! cmp -s "$T/expected.jsonl" "$T/raw.out"; then
	diff "$T/expected.jsonl" "$T/raw.out" | head -20
	fail "--raw output differs from pg_logical_slot_peek_changes"
fi
echo "ok: --raw output is byte-identical to the server's"

# The decoded output, re-encoded, equals the server's objects as jsonb.
# (The raw run above confirmed the slot: use the witness copy.)
src -c "SELECT 1 FROM pg_copy_logical_replication_slot('witness', 'w2')" >/dev/null
stream --slot w2 --endpos "$end1" >"$T/decoded.out" 2>"$T/decoded.err" || { cat "$T/decoded.err"; fail "stream"; }
assert_eq "decoded lines equal the server's as jsonb" "21 21 0" \
	"$(same_json_lines "$T/expected.jsonl" "$T/decoded.out")"
grep -q '"value":123456789012345678901234567890.123456789' "$T/decoded.out" ||
	fail "huge numeric not passed through as exact text"
grep -q '"value":9223372036854775807' "$T/decoded.out" || fail "max bigint not exact"
echo "ok: numerics keep their exact text"
assert_contains "unicode survives" 'ünïcödé ✓ 😀' "$(cat "$T/decoded.out")"

# Confirmed: the slot is past the workload and re-reading yields nothing.
# (Up to end1: the jsonb comparison above made empty transactions since.)
n=$(src -c "SELECT count(*) FROM pg_logical_slot_peek_changes('s1', '$end1', NULL, $OPTS)")
assert_eq "nothing confirmed is re-sent" 0 "$n"
stream --slot s1 --endpos "$end1" >"$T/again.out" 2>/dev/null
assert_eq "second run prints nothing" "" "$(cat "$T/again.out")"

# ---- --endpos stops at the right transaction
for i in 1 2 3; do src -c "INSERT INTO other VALUES ('e$i', $i)"; done
src -c "SELECT data FROM pg_logical_slot_peek_changes('s1', NULL, NULL, $OPTS)" >"$T/three.jsonl"
# (Empty transactions, from the psql sessions above, come out as B/C too.)
commit2=$(awk '/"e2"/ { hit = 1 } hit && /"action":"C"/ { print; exit }' "$T/three.jsonl" |
	sed 's/.*"lsn":"\([^"]*\)".*/\1/')
stream --slot s1 --endpos "$commit2" >"$T/two.out" 2>/dev/null
assert_eq "endpos at the 2nd commit: inserts e1 and e2 only" "e1 e2" \
	"$(grep -o '"value":"e[0-9]"' "$T/two.out" | sed 's/.*"\(e[0-9]\)"/\1/' | xargs)"
end2=$(src -c "SELECT pg_current_wal_lsn()")
stream --slot s1 --endpos "$end2" >"$T/third.out" 2>/dev/null
assert_eq "the rest is exactly the 3rd insert" "e3" \
	"$(grep -o '"value":"e[0-9]"' "$T/third.out" | sed 's/.*"\(e[0-9]\)"/\1/' | xargs)"

# ---- SIGINT mid-stream, restart: union equals the witness, no repeats
# (--foreground: without it timeout passes a signal on twice, to walpipe and
# to its process group, and the second means "exit at once".)
src -c "SELECT 1 FROM pg_copy_logical_replication_slot('s1', 'witness2')" >/dev/null
timeout --foreground 120 "$W" stream --source "$WALPIPE_TEST_SOURCE" --slot s1 --status-interval 0.2 >"$T/part1.out" 2>"$T/part1.err" &
pid=$!
for i in $(seq 1 40); do src -c "INSERT INTO other VALUES ('s$i', $i)"; done
sleep 0.5
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
assert_eq "SIGINT exits 0" 0 "$rc"
for i in $(seq 41 60); do src -c "INSERT INTO other VALUES ('s$i', $i)"; done
end3=$(src -c "SELECT pg_current_wal_lsn()")
stream --slot s1 --endpos "$end3" >"$T/part2.out" 2>/dev/null
src -c "SELECT data FROM pg_logical_slot_peek_changes('witness2', '$end3', NULL, $OPTS)" >"$T/all.jsonl"
cat "$T/part1.out" "$T/part2.out" >"$T/both.out"
# Every line once, in order: the server's stream and ours are identical.
assert_eq "stop+restart equals the server's stream, lines" "$(wc -l <"$T/all.jsonl")" "$(wc -l <"$T/both.out")"
assert_eq "stop+restart: 60 inserts, each once" 60 "$(grep -c '"action":"I"' "$T/both.out")"
n=$(same_json_lines "$T/all.jsonl" "$T/both.out" | cut -d' ' -f3)
assert_eq "stop+restart equals the server's stream as jsonb" 0 "$n"

# ---- an idle stream keeps its connection and its slot moves
src -c "ALTER SYSTEM SET wal_sender_timeout = '2s'" -c "SELECT pg_reload_conf()" >/dev/null
timeout --foreground 120 "$W" stream --source "$WALPIPE_TEST_SOURCE" --slot s1 >"$T/idle.out" 2>"$T/idle.err" &
pid=$!
sleep 1
wspid=$(src -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 's1'")
# WAL from another database: nothing to stream, but the slot may move.
pgc_psql source postgres -c "CREATE TABLE noise AS SELECT g FROM generate_series(1, 1000) g"
target=$(src -c "SELECT pg_current_wal_lsn()")
sleep 6   # three wal_sender_timeouts
moved=$(src -c "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = 's1'")
still=$(src -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 's1'")
kill -TERM "$pid"; wait "$pid" || true
assert_eq "idle connection survives wal_sender_timeout" "$wspid" "$still"
assert_eq "idle slot advances past unrelated WAL" t "$moved"
assert_eq "idle stream printed no row change" 0 "$(grep -c '"action":"[IUDT]"' "$T/idle.out" || true)"

# stream_pgoutput.sh: `walpipe stream --plugin pgoutput` prints the same
# JSON lines as `walpipe stream` of a wal2json slot at the same position,
# for every kind of change (issue 19); stop and restart lose and repeat
# nothing; options of the other plugin are refused.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"

W=${WALPIPE_REAL_BIN:-$WALPIPE_BIN}
T=$WALPIPE_TEST_TMPDIR
src() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_SOURCE" "$@"; }
stream() { timeout 60 "$W" stream --source "$WALPIPE_TEST_SOURCE" "$@"; }
pgo() { stream --plugin pgoutput --publication p "$@"; }

# Two JSON-lines files as jsonb, line by line, B lines without "nextlsn"
# (pgoutput's Begin does not carry it: pgoutput.h), commit times as
# instants (wal2json writes them in the server's time zone, walpipe's
# pgoutput decoder in UTC): "N M DIFFERING".
same_json_lines() {
	src -c "CREATE TEMP TABLE a(n bigserial, j jsonb); CREATE TEMP TABLE b(n bigserial, j jsonb);" \
		-c "\\copy a(j) FROM '$1' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')" \
		-c "\\copy b(j) FROM '$2' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')" \
		-c "UPDATE a SET j = j - 'nextlsn' WHERE j->>'action' = 'B'" \
		-c "UPDATE b SET j = j - 'nextlsn' WHERE j->>'action' = 'B'" \
		-c "UPDATE a SET j = jsonb_set(j, '{timestamp}', to_jsonb((j->>'timestamp')::timestamptz)) WHERE j->>'timestamp' IS NOT NULL" \
		-c "UPDATE b SET j = jsonb_set(j, '{timestamp}', to_jsonb((j->>'timestamp')::timestamptz)) WHERE j->>'timestamp' IS NOT NULL" \
		-c "SELECT (SELECT count(*) FROM a) || ' ' || (SELECT count(*) FROM b) || ' ' ||
			(SELECT count(*) FROM a FULL JOIN b USING (n) WHERE a.j IS DISTINCT FROM b.j)"
}

src <<'SQL'
CREATE TABLE public.items (id bigint PRIMARY KEY, name text, price numeric,
	ok boolean, tags text[], doc jsonb, raw bytea, at timestamptz, big text,
	r real, v varchar(10));
CREATE TABLE public."Other" (k text PRIMARY KEY, v int);
CREATE PUBLICATION p FOR TABLE public.items, public."Other";
SQL

# ---- options of the other plugin: refused, exit 2
set +e
out=$(stream --slot x --plugin pgoutput 2>&1); rc=$?
set -e
assert_eq "pgoutput without a publication: exit code" 2 "$rc"
assert_contains "pgoutput without a publication" "--plugin pgoutput needs --publication" "$out"
set +e
out=$(pgo --slot x --tables public.items 2>&1); rc=$?
set -e
assert_eq "--tables with pgoutput: exit code" 2 "$rc"
assert_contains "--tables with pgoutput" "--tables (the publication chooses the tables) is not for plugin pgoutput" "$out"
set +e
out=$(stream --slot x --publication p 2>&1); rc=$?
set -e
assert_contains "--publication with wal2json" "--publication is not for plugin wal2json" "$out"

# ---- the pgoutput slot, and a wal2json slot at the same point
end0=$(src -c "SELECT pg_current_wal_lsn()")
pgo --slot sp --create-slot --endpos "$end0" >"$T/empty.out" 2>"$T/create.err"
assert_contains "slot created" 'created replication slot "sp"' "$(cat "$T/create.err")"
assert_eq "pgoutput slot" pgoutput "$(src -c "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'sp'")"
src -c "SELECT 1 FROM pg_copy_logical_replication_slot('sp', 'sw', false, 'wal2json')" >/dev/null

src >/dev/null <<'SQL'
INSERT INTO items VALUES
  (1, 'plain', 1.50, true, '{a,b}', '{"k": [1, 2]}', '\xdeadbeef', '2024-01-02 03:04:05.123456+00', NULL, 1.5e-7, 'ab'),
  (9223372036854775807, E'quote " backslash \\ tab \t newline \n', 123456789012345678901234567890.123456789, false, NULL, NULL, NULL, NULL, NULL, -0, NULL),
  (3, 'ünïcödé ✓ 😀', 0, NULL, '{}', '"str"', '\x', 'infinity', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i), 1e30, 'x');
BEGIN;
UPDATE items SET name = 'renamed' WHERE id = 3;       -- TOASTed big unchanged: absent
INSERT INTO "Other" VALUES ('x', 1), ('y', NULL);
SELECT 1 FROM pg_logical_emit_message(true, 'walpipe', 'in a transaction');
UPDATE items SET id = 2 WHERE id = 1;                 -- a key update
DELETE FROM items WHERE id = 2;
COMMIT;
SELECT 1 FROM pg_logical_emit_message(false, 'walpipe', 'not transactional');
UPDATE "Other" SET v = v + 1;
ALTER TABLE "Other" ADD COLUMN w text DEFAULT 'd';
INSERT INTO "Other" VALUES ('z', 3, 'new column');
TRUNCATE "Other", items;
SQL
end1=$(src -c "SELECT pg_current_wal_lsn()")

stream --slot sw --endpos "$end1" >"$T/w2j.out" 2>"$T/w2j.err" || { cat "$T/w2j.err"; fail "stream of the wal2json slot"; }
pgo --slot sp --endpos "$end1" >"$T/pgo.out" 2>"$T/pgo.err" || { cat "$T/pgo.err"; fail "stream --plugin pgoutput"; }
# wal2json also sends the ALTER TABLE's empty transaction: drop B/C pairs
# with nothing between.
awk '{ l[NR] = $0 } END { for (i = 1; i <= NR; i++) {
	if (l[i] ~ /"action":"B"/ && l[i + 1] ~ /"action":"C"/) { i++; continue }
	print l[i] } }' "$T/w2j.out" >"$T/w2j.nonempty"
n=$(wc -l <"$T/w2j.nonempty")
[ "$n" -ge 25 ] || fail "the wal2json slot streamed only $n lines"
assert_eq "pgoutput lines equal wal2json's as jsonb (B without nextlsn)" "$n $n 0" \
	"$(same_json_lines "$T/w2j.nonempty" "$T/pgo.out")"
grep -q '"value":123456789012345678901234567890.123456789' "$T/pgo.out" ||
	fail "huge numeric not passed through as exact text"
assert_contains "the added column arrives" '"name":"w","type":"text","value":"new column"' "$(cat "$T/pgo.out")"
assert_contains "unicode survives" 'ünïcödé ✓ 😀' "$(cat "$T/pgo.out")"
echo "ok: pgoutput prints wal2json's lines"

# ---- confirmed, and SIGINT mid-stream then restart: nothing lost or repeated
assert_eq "second run prints nothing" "" "$(pgo --slot sp --endpos "$end1" 2>/dev/null)"
timeout --foreground 120 "$W" stream --source "$WALPIPE_TEST_SOURCE" --plugin pgoutput --publication p \
	--slot sp --status-interval 0.2 >"$T/part1.out" 2>"$T/part1.err" &
pid=$!
for i in $(seq 1 40); do src -c "INSERT INTO \"Other\" VALUES ('s$i', $i)"; done
sleep 0.5
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
assert_eq "SIGINT exits 0" 0 "$rc"
for i in $(seq 41 60); do src -c "INSERT INTO \"Other\" VALUES ('s$i', $i)"; done
end2=$(src -c "SELECT pg_current_wal_lsn()")
pgo --slot sp --endpos "$end2" >"$T/part2.out" 2>/dev/null
got=$(cat "$T/part1.out" "$T/part2.out" | grep -o '"value":"s[0-9]*"' | sort | uniq -c | awk '$1 != 1 { bad++ } END { print NR " " bad + 0 }')
assert_eq "60 inserts across the restart, each once" "60 0" "$got"
echo "ok: stream_pgoutput"

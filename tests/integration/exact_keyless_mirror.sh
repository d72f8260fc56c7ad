# exact_keyless_mirror.sh: a table without a key under REPLICA IDENTITY
# FULL mirrors exactly through mode keyless, duplicates included: the
# initial snapshot copies every row, and each update or delete changes one
# target row equal to its old row (NULLs equal, json and point compared),
# in separate transactions and in one big one, with a TOASTed column left
# out of updates; a change that finds no row is a dead letter and the rest
# commits.  A table without a replica identity is refused ("only inserts
# can be mirrored") by check --live and run; while streaming, an identity
# that becomes NOTHING (wal2json drops the update) or an index stops
# walpipe after what came before; a backfill of a keyless mapping is
# refused.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src <<'SQL'
CREATE TABLE km (a int, b text, j json, p point, big text);
ALTER TABLE km ALTER big SET STORAGE EXTERNAL;
ALTER TABLE km REPLICA IDENTITY FULL;
-- Duplicates identical in every column, NULLs, TOASTed values.
INSERT INTO km SELECT 1, 'x', '{"k": 1}', '(1,2)', 'small' FROM generate_series(1, 3);
INSERT INTO km SELECT NULL, NULL, NULL, NULL, NULL FROM generate_series(1, 2);
INSERT INTO km SELECT 2, NULL, '{"k": [1, 2]}', NULL, NULL FROM generate_series(1, 2);
INSERT INTO km SELECT 3, 't', NULL, '(3,3)', repeat(md5('3'), 300) FROM generate_series(1, 2);
INSERT INTO km SELECT g % 40 + 10, 'r' || (g % 40), NULL, point(g % 40, 0), NULL
  FROM generate_series(1, 200) g;
CREATE TABLE kn (a int, b text);
SQL
ana -c "CREATE TABLE km (a int, b text, j json, p point, big text)" \
	-c "CREATE TABLE kn (a int, b text)"
sums() { # PSQL_FN: count and checksum of every row, duplicates included
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM km t"
}

# No replica identity: only inserts can be mirrored.
cat >"$T/kn.yaml" <<EOF
$(shop_header "public.kn" 1000 50ms)
mappings:
  - { from: public.kn, to: public.kn, mode: keyless, columns: { a: a, b: b } }
EOF
out=$("$WALPIPE_BIN" check -c "$T/kn.yaml" 2>&1) || fail "offline check refused: $out"
assert_contains "check shows the keyless mapping" \
	'mapping: public.kn -> public.kn (keyless, no key: rows matched on all mapped columns, REPLICA IDENTITY FULL, 2 column(s))' "$out"
rc=0; "$WALPIPE_BIN" check --live -c "$T/kn.yaml" >"$T/kn.check" 2>&1 || rc=$?
assert_eq "check --live refuses it" 1 "$rc"
assert_contains "check --live: only inserts" \
	'live: mappings[0]: source table "public.kn" has no primary key and REPLICA IDENTITY DEFAULT, so only inserts can be mirrored: wal2json drops its updates and deletes' \
	"$(cat "$T/kn.check")"
src -c "ALTER TABLE kn ALTER a SET NOT NULL" -c "CREATE UNIQUE INDEX kn_a ON kn (a)" \
	-c "ALTER TABLE kn REPLICA IDENTITY USING INDEX kn_a" -c "DROP INDEX kn_a"
rc=0; "$WALPIPE_BIN" check --live -c "$T/kn.yaml" >"$T/kn.check" 2>&1 || rc=$?
assert_contains "check --live: a dropped identity index" \
	'live: mappings[0]: source table "public.kn" has lost its replica identity index (dropped), so only inserts can be mirrored: wal2json drops its updates and deletes' \
	"$(cat "$T/kn.check")"
src -c "ALTER TABLE kn REPLICA IDENTITY NOTHING"
rc=0; "$WALPIPE_BIN" check --live -c "$T/kn.yaml" >"$T/kn.check" 2>&1 || rc=$?
assert_contains "check --live: NOTHING" \
	'live: mappings[0]: source table "public.kn" has REPLICA IDENTITY NOTHING, so only inserts can be mirrored: wal2json drops its updates and deletes' \
	"$(cat "$T/kn.check")"
rc=0; "$WALPIPE_BIN" run -c "$T/kn.yaml" >"$T/kn.log" 2>&1 || rc=$?
assert_eq "run refuses it" 1 "$rc"
assert_contains "run: only inserts" \
	'source table "public.kn" has REPLICA IDENTITY NOTHING, so only inserts can be mirrored: wal2json drops its updates and deletes' \
	"$(cat "$T/kn.log")"
assert_contains "run: the hint" 'ALTER TABLE public.kn REPLICA IDENTITY FULL, or map it with mode append.' "$(cat "$T/kn.log")"
src -c "SELECT pg_drop_replication_slot('walpipe_shop') FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'" >/dev/null
ana -c "DROP SCHEMA IF EXISTS walpipe CASCADE" >/dev/null

cat >"$T/km.yaml" <<EOF
$(shop_header "public.km" 1000 50ms)
mappings:
  - { from: public.km, to: public.km, mode: keyless, columns: { a: a, b: b, j: j, p: p, big: big } }
EOF
"$WALPIPE_BIN" check --live -c "$T/km.yaml" >"$T/km.check" 2>&1 || { cat "$T/km.check"; fail "check --live refused the keyless mirror"; }
run_up "$T/km.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
wait_caught_up "$pid"
assert_eq "the snapshot copies every row, duplicates included" "$(sums src)" "$(sums ana)"
assert_eq "209 rows" 209 "$(ana -c "SELECT count(*) FROM km")"

# Separate transactions.
src -c "UPDATE km SET b = 'one' WHERE ctid IN (SELECT ctid FROM km WHERE a = 1 LIMIT 1)" \
	-c "UPDATE km SET a = 7 WHERE ctid IN (SELECT ctid FROM km WHERE a IS NULL LIMIT 1)" \
	-c "UPDATE km SET b = 'nb' WHERE a = 2 AND b IS NULL" \
	-c "UPDATE km SET a = 33 WHERE ctid IN (SELECT ctid FROM km WHERE a = 3 LIMIT 1)" \
	-c "UPDATE km SET p = '(9,9)' WHERE ctid IN (SELECT ctid FROM km WHERE a = 12 LIMIT 1)" \
	-c "DELETE FROM km WHERE a = 1 AND b = 'x'" \
	-c "DELETE FROM km WHERE ctid IN (SELECT ctid FROM km WHERE a = 11 LIMIT 2)" \
	-c "INSERT INTO km VALUES (1, 'x', '{\"k\": 1}', '(1,2)', 'small'), (1, 'x', '{\"k\": 1}', '(1,2)', 'small')"
wait_caught_up "$pid"
assert_eq "separate transactions: one row per change" "$(sums src)" "$(sums ana)"
assert_eq "the TOASTed value kept" 2 "$(ana -c "SELECT count(*) FROM km WHERE big = repeat(md5('3'), 300)")"

# One big transaction: inserts, updates of rows inserted in it and of old
# ones, duplicates, NULLs, deletes, a TOASTed value unchanged.
src <<'SQL'
BEGIN;
INSERT INTO km SELECT 5, 'dup', NULL, NULL, NULL FROM generate_series(1, 4);
UPDATE km SET b = 'dup2' WHERE ctid IN (SELECT ctid FROM km WHERE a = 5 LIMIT 1);
UPDATE km SET b = 'dup2' WHERE ctid IN (SELECT ctid FROM km WHERE a = 5 AND b = 'dup' LIMIT 1);
DELETE FROM km WHERE ctid IN (SELECT ctid FROM km WHERE a = 5 AND b = 'dup' LIMIT 1);
UPDATE km SET a = a + 100 WHERE a BETWEEN 20 AND 30;
DELETE FROM km WHERE a = 121;
UPDATE km SET a = NULL, j = '{"k": null}' WHERE ctid IN (SELECT ctid FROM km WHERE a = 7);
UPDATE km SET b = 'toast kept' WHERE a IN (3, 33);
INSERT INTO km SELECT g % 7, NULL, NULL, NULL, NULL FROM generate_series(1, 50) g;
DELETE FROM km WHERE a = 4 AND b IS NULL;
UPDATE km SET b = 'again' WHERE ctid IN (SELECT ctid FROM km WHERE a = 6 LIMIT 3);
COMMIT;
SQL
wait_caught_up "$pid"
assert_eq "one big transaction: one row per change" "$(sums src)" "$(sums ana)"
assert_eq "nothing dead-lettered" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"

# A change that finds no row: dead-lettered with the reason, the rest commits.
ana -c "DELETE FROM km WHERE a = 45"
src -c "BEGIN" -c "UPDATE km SET b = 'lost' WHERE a = 45 AND b = 'r35'" \
	-c "INSERT INTO km VALUES (946, 'after', NULL, NULL, NULL)" -c "DELETE FROM km WHERE a = 946 AND b = 'after'" \
	-c "INSERT INTO km VALUES (947, 'kept', NULL, NULL, NULL)" -c "COMMIT"
wait_caught_up "$pid"
n45=$(src -c "SELECT count(*) FROM km WHERE a = 45")
assert_eq "one dead letter per row the update missed" "$n45" \
	"$(ana -c "SELECT count(*) FROM walpipe.dead_letters WHERE op = 'U' AND error = 'no target row equals the updated row''s old values on every mapped column (mode keyless), so there is nothing to update'")"
assert_eq "the rest commits" "1:0" "$(ana -c "SELECT count(*) FILTER (WHERE a = 947) || ':' || count(*) FILTER (WHERE a = 946) FROM km")"
assert_eq "all else equal" "$(src -c "SELECT count(*) FROM km WHERE a IS DISTINCT FROM 45")" \
	"$(ana -c "SELECT count(*) FROM km")"

# A row the target refuses (a CHECK): bisected to that change, which is a
# dead letter; the changes around it apply, in order.
ana -c "ALTER TABLE km ADD CONSTRAINT km_not_bad CHECK (b IS DISTINCT FROM 'bad')"
src -c "BEGIN" -c "INSERT INTO km VALUES (950, 'ok1', NULL, NULL, NULL)" \
	-c "UPDATE km SET b = 'bad' WHERE a = 947" \
	-c "INSERT INTO km VALUES (951, 'ok2', NULL, NULL, NULL)" \
	-c "DELETE FROM km WHERE a = 950" -c "UPDATE km SET b = 'ok3' WHERE a = 951" -c "COMMIT"
wait_caught_up "$pid"
assert_eq "the refused update is a dead letter" 1 \
	"$(ana -c "SELECT count(*) FROM walpipe.dead_letters WHERE sqlstate = '23514' AND payload::text LIKE '%\"bad\"%'")"
assert_eq "the rest applied in order" "0:1:1" \
	"$(ana -c "SELECT count(*) FILTER (WHERE a = 950) || ':' || count(*) FILTER (WHERE a = 951 AND b = 'ok3') || ':' || count(*) FILTER (WHERE a = 947 AND b = 'kept') FROM km")"
src -c "UPDATE km SET b = 'kept' WHERE a = 947"
wait_caught_up "$pid"

# The identity becomes NOTHING while streaming: wal2json drops the update
# with a warning; walpipe commits what came before it and stops, at every
# start, rather than go on without it.
src -c "ALTER TABLE km REPLICA IDENTITY NOTHING" -c "BEGIN" \
	-c "INSERT INTO km VALUES (948, 'before', NULL, NULL, NULL)" \
	-c "UPDATE km SET b = 'dropped' WHERE a = 947" \
	-c "INSERT INTO km VALUES (949, 'after', NULL, NULL, NULL)" -c "COMMIT"
rc=0; wait "$pid" || rc=$?
pid=
assert_eq "walpipe stops at the dropped update" 1 "$rc"
assert_contains "it says why" \
	'wal2json dropped a change that a keyless mapping needs: no tuple identifier for UPDATE in table "public"."km"' \
	"$(cat "$T/run.log")"
assert_eq "what came before is applied, nothing after" "1:0:0" \
	"$(ana -c "SELECT count(*) FILTER (WHERE a = 948) || ':' || count(*) FILTER (WHERE a = 949) || ':' || count(*) FILTER (WHERE b = 'dropped') FROM km")"
rc=0; "$WALPIPE_BIN" run -c "$T/km.yaml" >"$T/run2.log" 2>&1 || rc=$?
assert_eq "and again at the next start" 1 "$rc"
assert_contains "with the same reason" 'only inserts can be mirrored' "$(cat "$T/run2.log")"
assert_eq "still nothing after it" 0 "$(ana -c "SELECT count(*) FROM km WHERE a = 949")"
src -c "SELECT pg_drop_replication_slot('walpipe_shop')" >/dev/null
ana -c "DROP SCHEMA walpipe CASCADE" 2>/dev/null

# The identity changes to an index while streaming: walpipe stops with
# the reason rather than match updates on the key columns alone.
src -c "CREATE TABLE km2 (a int, b text)" -c "ALTER TABLE km2 REPLICA IDENTITY FULL" \
	-c "INSERT INTO km2 VALUES (1, 'x'), (1, 'x')"
ana -c "CREATE TABLE km2 (a int, b text)"
cat >"$T/km2.yaml" <<EOF
$(shop_header "public.km2" 1000 50ms)
mappings:
  - { from: public.km2, to: public.km2, mode: keyless, columns: { a: a, b: b } }
EOF
run_up "$T/km2.yaml" "$T/run3.log"
wait_caught_up "$pid"
src -c "ALTER TABLE km2 ADD COLUMN id serial PRIMARY KEY" -c "ALTER TABLE km2 REPLICA IDENTITY DEFAULT" \
	-c "UPDATE km2 SET b = 'keyed' WHERE id = 1"
rc=0; wait "$pid" || rc=$?
pid=
assert_eq "walpipe stops" 1 "$rc"
assert_contains "it says why" \
	'source table "public.km2" has a replica identity key, so its updates and deletes carry the key columns only, not the whole old row a keyless mapping finds its row by' \
	"$(cat "$T/run3.log")"
assert_eq "the update was not applied" "2:0" "$(ana -c "SELECT count(*) || ':' || count(*) FILTER (WHERE b = 'keyed') FROM km2")"

# A backfill cannot copy a keyless mapping exactly: refused.
rc=0; "$WALPIPE_BIN" snapshot -c "$T/km2.yaml" --table public.km2 >"$T/bf.log" 2>&1 || rc=$?
assert_eq "backfill refused" 1 "$rc"
assert_contains "backfill: why" 'source table "public.km2" has a keyless mapping (to "public.km2"), which a backfill cannot copy exactly' "$(cat "$T/bf.log")"
echo "ok: exact_keyless_mirror"

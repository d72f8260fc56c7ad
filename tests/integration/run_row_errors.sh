# run_row_errors.sh: every error that belongs to one row dead-letters that
# row and lets the rest commit (issue 15, item 2), beyond SQLSTATE classes
# 21, 22 and 23: a value too large for a btree index on the analytics side
# (54000), a target trigger that refuses a row (P0001), and a staging row
# refused by a trigger a DBA put on the staging table (a staging COPY
# error used to stop walpipe for good).  walpipe dlq retry applies them
# once the cause is gone, the staging row included.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src -c "CREATE TABLE items (id int PRIMARY KEY, v text, j json)"
ana <<'SQL'
CREATE TABLE items (id int PRIMARY KEY, v text, j jsonb);
CREATE INDEX items_v ON items (v);
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN IF NEW.v = 'forbidden' THEN RAISE EXCEPTION 'row % refused', NEW.id; END IF; RETURN NEW; END $$;
CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION refuse();
SQL
cat >"$T/rows.yaml" <<EOF
$(shop_header "public.items" 1000 50ms)
snapshot: never
staging: { table: staging.raw_events, partition: month }
mappings:
  - { from: public.items, to: public.items, key: [id], columns: { id: id, v: v, j: j } }
EOF
run_up "$T/rows.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
ana <<'SQL'
CREATE FUNCTION staging_guard() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN IF NEW.payload::text LIKE '%poison-staging%' THEN RAISE EXCEPTION 'staging refuses %', NEW.lsn; END IF; RETURN NEW; END $$;
CREATE TRIGGER guard BEFORE INSERT ON staging.raw_events FOR EACH ROW EXECUTE FUNCTION staging_guard();
SQL
# One transaction (one batch): three bad rows among 100 good ones.
src <<'SQL'
BEGIN;
INSERT INTO items SELECT g, 'ok ' || g FROM generate_series(1, 100) g;
INSERT INTO items VALUES (1001, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 300) g));
INSERT INTO items VALUES (1002, 'forbidden');
INSERT INTO items VALUES (1003, 'poison-staging');
-- json keeps a \u0000 escape that jsonb refuses (22P05).
INSERT INTO items VALUES (1004, 'nul', '{"a": "\u0000"}');
COMMIT;
SQL
wait_caught_up "$pid"
kill -0 "$pid" || fail "walpipe stopped"
assert_eq "the good rows and the staging-refused row's fact are applied" 101 "$(ana -c "SELECT count(*) FROM items")"
assert_eq "one dead letter per bad row" \
	"54000 public.items 1001|P0001 public.items 1002|P0001 staging.raw_events 1003|22P05 public.items 1004" \
	"$(ana -c "SELECT string_agg(sqlstate || ' ' || target_table || ' ' || (payload -> 'columns' -> 0 ->> 'value'), '|' ORDER BY payload -> 'columns' -> 0 ->> 'value') FROM walpipe.dead_letters")"
assert_contains "the index error is recorded" "index row requires" "$(ana -c "SELECT error FROM walpipe.dead_letters WHERE sqlstate = '54000'")"
assert_eq "the staging refusal is recorded as the trigger said it" t \
	"$(ana -c "SELECT error LIKE 'staging refuses %' FROM walpipe.dead_letters WHERE target_table = 'staging.raw_events'")"
assert_eq "every other change is staged" 103 "$(ana -c "SELECT count(*) FROM staging.raw_events")"
run_down

# The causes gone (but the index): retry applies two and keeps one.
ana -c "DROP TRIGGER guard ON staging.raw_events" -c "DROP TRIGGER refuse ON items"
"$WALPIPE_BIN" dlq retry -c "$T/rows.yaml" --all >"$T/retry.log" 2>&1 || true
assert_contains "retry: two applied, two failed again" "retried 4 dead letter(s): 2 applied, 2 failed again" "$(cat "$T/retry.log")"
assert_eq "the staging row is back, with its commit time" 1 \
	"$(ana -c "SELECT count(*) FROM staging.raw_events WHERE payload::text LIKE '%poison-staging%' AND commit_time < now() - interval '0 s' AND commit_time > now() - interval '10 min'")"
assert_eq "the refused row is applied" forbidden "$(ana -c "SELECT v FROM items WHERE id = 1002")"
assert_eq "the oversized row and the NUL wait" "22P05 54000" "$(ana -c "SELECT string_agg(sqlstate, ' ' ORDER BY sqlstate) FROM walpipe.dead_letters WHERE NOT resolved")"
echo "ok: run_row_errors"

# backfill_online.sh: a mapping added to a running source is backfilled
# online (issue 18, item 3): while a workload writes to several tables,
# a reload adds a mapping of a big table; walpipe copies it in chunks
# between the stream's transactions, the other tables' apply lag stays
# small, and every target ends equal to its source.  Then the mapping's
# where and a cast change: the rows no longer matching leave, the rest are
# rewritten.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR
ROWS=${WALPIPE_BACKFILL_ROWS:-1000000}
MPORT=$(pgc_free_port)

src <<SQL
CREATE TABLE hot (id bigint PRIMARY KEY, v int, at timestamptz DEFAULT clock_timestamp());
CREATE TABLE big (id bigint PRIMARY KEY, grp int, amount numeric(12,3), note text, bio text);
INSERT INTO hot SELECT g, g FROM generate_series(1, 1000) g;
INSERT INTO big SELECT g, g % 10, g / 7.0, 'n' || g,
  CASE WHEN g % 5000 = 0 THEN repeat(md5(g::text), 400) ELSE 'b' END
  FROM generate_series(1, $ROWS) g;
SQL
ana <<'SQL'
CREATE TABLE hot_t (id bigint PRIMARY KEY, v int, at timestamptz);
CREATE TABLE big_t (id bigint PRIMARY KEY, grp int, amount numeric(15,2), note text, bio_md5 text);
SQL
config() { # EXTRA-MAPPINGS
	cat <<EOF
source: { ${WALPIPE_PLUGIN:+plugin: $WALPIPE_PLUGIN, }name: shop, conninfo: "$WALPIPE_TEST_SOURCE", create_slot: true,
          tables: [public.hot, public.big] }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS" }
batch: { max_changes: 500, max_delay: 50ms }
backfill: { chunk_size: ${CHUNK:-5000} }
metrics: { listen: "127.0.0.1:$MPORT" }
mappings:
  - { from: public.hot, to: public.hot_t, key: [id], columns: { id: id, v: v, at: at } }
${1:-}
EOF
}
big_mapping() { # WHERE AMOUNT-TYPE
	cat <<EOF
  - from: public.big
    to: public.big_t
    key: [id]
    where: "$1"
    columns:
      id: id
      grp: grp
      amount: { from: amount, type: "$2" }
      note: note
      bio_md5: { sql: "md5(bio)" }
EOF
}
config >"$T/w.yaml"
run_up "$T/w.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true; kill $wl 2>/dev/null || true' EXIT
wait_sql ana "SELECT bool_and(state = 'done') FROM walpipe.snapshot_tables" "$pid"

# A workload on both tables, in small transactions, until told to stop.
workload() {
	i=${1:-0}
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		for k in $(seq 1 20); do
			n=$((i * 20 + k))
			echo "UPDATE hot SET v = v + 1, at = clock_timestamp() WHERE id = $n % 1000 + 1;
				UPDATE big SET amount = amount + 1, note = 'u$n' WHERE id = ($n::bigint * 7919) % $ROWS + 1;
				INSERT INTO big VALUES ($ROWS + $n, $n % 10, $n, 'new', 'b') ON CONFLICT DO NOTHING;
				DELETE FROM big WHERE id = ($n::bigint * 104729) % $ROWS + 1;
				BEGIN; UPDATE big SET grp = grp + 1 WHERE id = ($n::bigint * 31) % $ROWS + 1; UPDATE hot SET v = v - 1 WHERE id = $n % 1000 + 1; COMMIT;"
		done | src
		echo "$i" >"$T/rounds"
	done
}
workload >"$T/workload.log" 2>&1 &
wl=$!
while [ ! -e "$T/rounds" ]; do sleep 0.1; done

r0=$(cat "$T/rounds")
t0=$(date +%s%N)
# Add the mapping: a reload registers its backfill.
config "$(big_mapping 'grp <> 3' 'numeric(15,2)')" >"$T/w.yaml"
kill -HUP "$pid"
wait_sql ana "SELECT count(*) = 1 FROM walpipe.backfills WHERE state = 'copying'" "$pid" ||
	{ tail -30 "$T/run.log"; fail "no backfill started"; }
# While it copies: the other table's changes still arrive within seconds.
maxlag=0
probes=0
while [ "$(ana -c "SELECT state FROM walpipe.backfills")" = copying ]; do
	probes=$((probes + 1))
	t0=$(date +%s%N)
	src -c "INSERT INTO hot VALUES (1000000 + $probes, $probes)"
	wait_sql ana "SELECT count(*) = 1 FROM hot_t WHERE id = 1000000 + $probes" "$pid"
	lag=$((($(date +%s%N) - t0) / 1000000))
	[ "$lag" -gt "$maxlag" ] && maxlag=$lag
	sleep 0.3
done
echo "apply lag of hot during the backfill: at most $maxlag ms over $probes probes"
# Each round: 20 times 5 statements, 6 row changes.
echo "workload meanwhile: about $((($(cat "$T/rounds") - r0) * 120 * 1000000000 / ($(date +%s%N) - t0))) row changes/s"
[ "$probes" -ge 3 ] || fail "the backfill ended before the lag could be measured ($probes probes)"
[ "$maxlag" -lt 5000 ] || fail "apply lag of hot during the backfill reached $maxlag ms"
assert_eq "backfill done" "done added" "$(ana -c "SELECT state, reason FROM walpipe.backfills" | tr '|' ' ')"
grep -q 'backfill of "public.big" into "public.big_t" done' "$T/run.log" || fail "no end line in the log"
assert_eq "walpipe status shows the backfill" "done added $(ana -c "SELECT rows_copied FROM walpipe.backfills") yes" \
	"$("$WALPIPE_BIN" status --json -c "$T/w.yaml" | python3 -c 'import json,sys; b=json.load(sys.stdin)["backfill public.big -> public.big_t"]; print(b["state"], b["reason"], b["rows_copied"], b["removes_stale"])')"
curl -s "http://127.0.0.1:$MPORT/metrics" >"$T/metrics.txt"
grep -q '^walpipe_backfill_done{source="shop",table="public.big",target="public.big_t"} 1$' "$T/metrics.txt" ||
	{ grep backfill "$T/metrics.txt"; fail "the metrics do not show the backfill done"; }

touch "$T/stop"
wait "$wl" || { cat "$T/workload.log"; fail "workload failed"; }
wait_caught_up "$pid" || { tail -30 "$T/run.log"; fail "did not catch up"; }

big_src() { # WHERE AMOUNT-TYPE
	src -c "SELECT count(*), md5(string_agg(format('%s|%s|%s|%s|%s', id, grp, amount::$2, note, md5(bio)), ',' ORDER BY id)) FROM big WHERE $1"
}
big_ana() {
	ana -c "SELECT count(*), md5(string_agg(format('%s|%s|%s|%s|%s', id, grp, amount, note, bio_md5), ',' ORDER BY id)) FROM big_t"
}
hot_sum="SELECT count(*), md5(string_agg(format('%s|%s|%s', id, v, at), ',' ORDER BY id))"
assert_eq "hot equals its source" "$(src -c "$hot_sum FROM hot")" "$(ana -c "$hot_sum FROM hot_t")"
assert_eq "big equals its source (where grp <> 3)" "$(big_src 'grp <> 3' 'numeric(15,2)')" "$(big_ana)"

# Change the where and a cast: rows of group 4 no longer match and leave,
# group 3's arrive, every amount is rewritten at the new precision.
rm -f "$T/stop"
workload 5000 >"$T/workload.log" 2>&1 &
wl=$!
config "$(big_mapping 'grp <> 4' 'numeric(15,0)')" >"$T/w.yaml"
kill -HUP "$pid"
wait_sql ana "SELECT state = 'done' AND reason = 'changed' FROM walpipe.backfills" "$pid" ||
	{ tail -30 "$T/run.log"; fail "the changed mapping was not backfilled"; }
touch "$T/stop"
wait "$wl" || { cat "$T/workload.log"; fail "workload failed"; }
wait_caught_up "$pid" || { tail -30 "$T/run.log"; fail "did not catch up"; }
removed=$(ana -c "SELECT rows_removed FROM walpipe.backfills")
echo "rows removed by the sweep: $removed"
[ "$removed" -gt 0 ] || fail "the sweep removed nothing"
assert_eq "no row of group 4 is left" 0 "$(ana -c "SELECT count(*) FROM big_t WHERE grp = 4")"
assert_eq "big equals its source (where grp <> 4, amounts rounded)" \
	"$(big_src 'grp <> 4' 'numeric(15,0)::numeric(15,2)')" "$(big_ana)"
assert_eq "hot equals its source" "$(src -c "$hot_sum FROM hot")" "$(ana -c "$hot_sum FROM hot_t")"
run_down
trap - EXIT

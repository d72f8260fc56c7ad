# backfill-inner.sh: the body of bench/backfill.sh, run beside throwaway
# clusters.
set -euo pipefail
# shellcheck source=../tests/harness/pgcluster.sh
. "$WALPIPE_TEST_HARNESS"
T=$WALPIPE_TEST_TMPDIR
ROWS=${ROWS:-1000000}
LOAD_TPS=${LOAD_TPS:-200}
LOAD_ROWS=${LOAD_ROWS:-5}
BEFORE=${BEFORE:-15}
CHUNKS=${CHUNKS:-10000 2000}
MAX_RATE=${MAX_RATE:-0}
PGBIN=/usr/lib/postgresql/15/bin
src() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_SOURCE" "$@"; }
ana() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_ANALYTICS" "$@"; }
fail() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pid='' lpid=''
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; [ -n "$lpid" ] && kill -9 $lpid 2>/dev/null; true' EXIT

bench_load_big "$ROWS"
# lat: the streamed table.  Each row carries its insert time on the source
# and, in analytics, the time its apply statement wrote it (same machine,
# same clock): every row of the load is a lag sample.
src -c "CREATE TABLE lat (id bigserial PRIMARY KEY, v int, src_at timestamptz NOT NULL DEFAULT clock_timestamp())"
ana -c "CREATE TABLE big_t (id bigint PRIMARY KEY, a text, b numeric, c timestamptz, d jsonb, e boolean)" \
	-c "CREATE TABLE lat (id bigint PRIMARY KEY, v int, src_at timestamptz,
		arrived_at timestamptz NOT NULL DEFAULT clock_timestamp())"

# config [big]: lat mapped, and big too with "big"; walpipe's batch
# defaults (10,000 changes, 16 MB, 200 ms), one snapshot reader (a
# backfill reads with one connection too).
config() {
	cat >"$T/c.yaml" <<EOF
source: { name: bench, conninfo: "$WALPIPE_TEST_SOURCE", slot: bench, create_slot: true,
          tables: [public.big, public.lat] }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS" }
snapshot: { workers: 1 }
backfill: { chunk_size: ${CHUNK:-10000}, max_rate: $MAX_RATE }
mappings:
  - { from: public.lat, to: public.lat, key: [id], columns: { id: id, v: v, src_at: src_at } }
EOF
	[ "${1:-}" = big ] && echo "  - { from: public.big, to: public.big_t, key: [id], columns: { id: id, a: a, b: b, c: c, d: d, e: e } }" >>"$T/c.yaml"
	true
}
# wait_for QUERY SECONDS: until QUERY (analytics) answers t; fails if
# walpipe exits first.
wait_for() {
	local deadline=$((SECONDS + $2))
	until [ "$(ana -c "$1" 2>/dev/null || echo f)" = t ]; do
		kill -0 "$pid" 2>/dev/null || { tail -20 "$T/run.log" >&2; fail "walpipe exited"; }
		[ $SECONDS -lt $deadline ] || { tail -20 "$T/run.log" >&2; fail "timed out waiting for: $1"; }
		sleep 0.5
	done
}
start_walpipe() {
	"$WALPIPE_BIN" run -c "$T/c.yaml" 2>>"$T/run.log" &
	pid=$!
}
stop_walpipe() {
	kill -TERM "$pid"
	wait "$pid" || true
	pid=
}
rss_mb() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status"; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$pid/stat"; }
same() { [ "$(src -c "$1")" = "$(ana -c "$2")" ] && echo equal || echo DIFFERENT; }
big_sum="SELECT count(*), md5(string_agg(format('%s|%s|%s|%s|%s|%s', id, a, b, c, d, e), ',' ORDER BY id))"
lat_sum="SELECT count(*), md5(string_agg(format('%s|%s|%s', id, v, src_at), ',' ORDER BY id))"

# 1. The initial snapshot, the source idle.
log "initial snapshot of $ROWS rows"
config big
start_walpipe
wait_for "SELECT count(*) FILTER (WHERE state = 'done') = 2 FROM walpipe.snapshot_tables" 3000
read -r snap_rows snap_s < <(ana -F ' ' -c "SELECT rows_copied, extract(epoch FROM finished_at - started_at)
	FROM walpipe.snapshot_tables WHERE source_table = 'public.big'")
snap_rss=$(rss_mb)
snap_cpu=$(cpu_s)
stop_walpipe
snap_check=$(same "$big_sum FROM big" "$big_sum FROM big_t")
log "initial snapshot: $snap_rows rows in $snap_s s ($snap_check)"

rate() { awk -v r="$1" -v s="$2" 'BEGIN { printf "%.0f", r / s }'; }
snap_rate=$(rate "$snap_rows" "$snap_s")

# The lag of every lat row inserted between FROM and TO (SQL expressions):
# rows, changes/s, p50, p99, max in ms.
lag() { # FROM TO
	ana -F ' ' -c "SELECT count(*), round((count(*) / extract(epoch FROM ($2) - ($1)))::numeric),
		round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 1),
		round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric, 1),
		round(max(d)::numeric, 1)
		FROM (SELECT extract(epoch FROM arrived_at - src_at) * 1000 AS d FROM lat
			WHERE src_at >= $1 AND src_at < $2) x"
}
echo "INSERT INTO lat (v) SELECT g FROM generate_series(1, $LOAD_ROWS) g;" >"$T/lat.sql"

# 2. For each chunk size, from nothing again: walpipe streams lat under a
# steady load, then a reload adds big's mapping.  Appends a row to
# $copies and two to $lags.
copies='' lags='' all_equal=yes
online() { # CHUNK
	local load_at hup_at rss_before cpu0 cpu1 bf_rss want bf_check lat_check
	local bf_rows bf_chunks bf_s bf_rate b d
	ana -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS walpipe CASCADE" -c "TRUNCATE big_t, lat"
	src -c "TRUNCATE lat"
	# The last walsender may still be exiting: drop the slot once inactive.
	until [ "$(src -c "SELECT count(*) FROM pg_replication_slots")" = 0 ]; do
		src -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active" >/dev/null
		sleep 0.2
	done
	CHUNK=$1 config
	start_walpipe
	wait_for "SELECT bool_and(state = 'done') FROM walpipe.snapshot_tables" 120
	wait_for "SELECT count(*) = 1 FROM walpipe.checkpoints" 120
	load_at=$(ana -c "SELECT clock_timestamp()")
	"$PGBIN/pgbench" -n -f "$T/lat.sql" -c 2 -j 2 -R "$LOAD_TPS" -T 3000 "$WALPIPE_TEST_SOURCE" >"$T/pgbench.log" 2>&1 &
	lpid=$!
	log "chunk_size $1: load of $LOAD_TPS transactions/s of $LOAD_ROWS inserts; ${BEFORE}s before the reload"
	sleep $((BEFORE + 2))
	hup_at=$(ana -c "SELECT clock_timestamp()")
	rss_before=$(rss_mb)
	cpu0=$(cpu_s)
	CHUNK=$1 config big
	kill -HUP "$pid"
	wait_for "SELECT count(*) = 1 FROM walpipe.backfills WHERE state IN ('done', 'refused')" 3000
	cpu1=$(cpu_s)
	bf_rss=$(rss_mb)
	[ "$(ana -c "SELECT state FROM walpipe.backfills")" = 'done' ] ||
		fail "backfill refused: $(ana -c "SELECT note FROM walpipe.backfills")"
	sleep 2
	# TERM: a background job of a script ignores SIGINT.
	kill -TERM "$lpid"
	wait "$lpid" || true
	lpid=
	want=$(src -c "SELECT count(*) FROM lat")
	wait_for "SELECT count(*) = $want FROM lat" 300
	stop_walpipe
	bf_check=$(same "$big_sum FROM big" "$big_sum FROM big_t")
	lat_check=$(same "$lat_sum FROM lat" "$lat_sum FROM lat")
	[ "$bf_check$lat_check" = equalequal ] || all_equal=no
	read -r bf_rows bf_chunks bf_s < <(ana -F ' ' -c "SELECT rows_copied, chunks,
		extract(epoch FROM finished_at - started_at) FROM walpipe.backfills")
	log "chunk_size $1: $bf_rows rows in $bf_chunks chunks, $bf_s s ($bf_check); lat $lat_check"
	bf_rate=$(rate "$bf_rows" "$bf_s")
	copies+=$(printf '| online backfill (under load), chunk_size %s | %s | %s | %.1f | %s | %s | %s | %s (%s before) | %s |' \
		"$1" "$bf_rows" "$bf_chunks" "$bf_s" "$bf_rate" \
		"$(awk -v a="$bf_rate" -v b="$snap_rate" 'BEGIN { printf "%.2f", a / b }')" \
		"$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')" "$bf_rss" "$rss_before" "$bf_check")$'\n'
	# before: from 2 s after the load started until the reload; during:
	# from the backfill's start to its end.
	b=$(lag "'$load_at'::timestamptz + interval '2 s'" "'$hup_at'::timestamptz")
	d=$(ana -c "SELECT started_at, finished_at FROM walpipe.backfills" |
		{ IFS='|' read -r s f; lag "'$s'::timestamptz" "'$f'::timestamptz"; })
	lags+="| $1 | before the backfill (${BEFORE} s) | ${b// / | } | $lat_check |"$'\n'
	lags+="| $1 | during the backfill | ${d// / | } | $lat_check |"$'\n'
}
for c in $CHUNKS; do
	online "$c"
done

{
	echo "## Online backfill vs initial snapshot (bench/backfill.sh, ROWS=$ROWS, $(date -u '+%Y-%m-%d %H:%M UTC'))"
	echo
	echo "One table of $ROWS rows (bigint key, text, numeric, timestamptz, jsonb,"
	echo "boolean) into one upsert mapping, no staging; both PostgreSQL 15 clusters"
	echo "and walpipe on this $(nproc)-core machine. Initial snapshot: walpipe's first"
	echo "start on an idle source, one reader. Online backfill: the same mapping added"
	echo "by SIGHUP to \`walpipe run\` streaming a steady load into another table"
	echo "($LOAD_TPS transactions/s of $LOAD_ROWS inserted rows, pgbench -R, 2 clients),"
	echo "max_rate $MAX_RATE, walpipe's batch defaults; each chunk size from fresh"
	echo "walpipe state. Rates from \`rows_copied / (finished_at - started_at)\` of"
	echo "walpipe.snapshot_tables and walpipe.backfills. CPU: walpipe's own"
	echo "(snapshot: from its start until the copy is done; backfill: from the"
	echo "SIGHUP until done, the stream's work included)."
	echo
	echo "| copy | rows | chunks | seconds | rows/s | x initial snapshot | walpipe CPU s | peak RSS MB | analytics = source |"
	echo "|---|---|---|---|---|---|---|---|---|"
	printf '| initial snapshot (idle source) | %s | - | %.1f | %s | 1.00 | %s | %s | %s |\n' \
		"$snap_rows" "$snap_s" "$snap_rate" "$snap_cpu" "$snap_rss" "$snap_check"
	printf '%s' "$copies"
	echo
	echo "Apply lag of the streamed table, per row: written in analytics minus"
	echo "inserted on the source (both \`clock_timestamp()\`, same machine):"
	echo
	echo "| chunk_size | window | rows | changes/s | lag p50 ms | lag p99 ms | lag max ms | analytics = source |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '%s' "$lags"
} | tee "$BENCH_OUT/backfill.md"
[ "$snap_check$all_equal" = equalyes ] || fail "a target differs from its source"

# compare-inner.sh: the body of bench/compare.sh, run beside throwaway clusters.
#
# Per workload: a slot for every contender is created first, the workload
# runs once, then each contender alone reads the same WAL from its own slot
# until it has applied everything up to the workload's end LSN (a fence
# transaction after it makes the end visible to all).  Time runs from the
# contender's start (or ENABLE of the subscription) to caught up.  CPU is
# read from /proc: the client process (time), the analytics backend doing
# its apply (walpipe's session; native's apply worker does it itself) and
# the source walsender decoding for it.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
W=$WALPIPE_BIN
T=$WALPIPE_TEST_TMPDIR
O=$BENCH_OUT
PGBIN=/usr/lib/postgresql/15/bin
OLTP_TXNS=${OLTP_TXNS:-40000}
HUGE_ROWS=${HUGE_ROWS:-1000000}
WIDE_TXNS=${WIDE_TXNS:-10000}
LAT_RATE=${LAT_RATE:-1000}
LAT_SECONDS=${LAT_SECONDS:-20}
WORKLOADS=${WORKLOADS:-oltp huge wide}
REPEAT=${REPEAT:-2}
SCHEDULING=${SCHEDULING:-batch}
CONTENDERS=${CONTENDERS:-recv recvpg native wpa wpb wpp}
SRC=$WALPIPE_TEST_SOURCE
TABLES=public.oltp,public.huge,public.wide,public.lat,public.fence
TCK=$(getconf CLK_TCK)

log() { echo "bench: $*" >&2; }
src() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$SRC" "$@"; }
anadb() { pgc_conninfo analytics "$1"; }
ana() {
	local db=$1
	shift
	psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$(anadb "$db")" "$@"
}
now() { echo "$EPOCHREALTIME"; }
calc() { awk "BEGIN { printf \"%.3f\", ($*) }"; }

SCHEMA="
CREATE TABLE oltp (id bigserial PRIMARY KEY, user_id bigint NOT NULL, kind text,
  amount numeric(15,4), ok boolean, at timestamptz, payload jsonb, note text);
CREATE TABLE huge (id bigint PRIMARY KEY, user_id bigint, kind text,
  amount numeric(15,4), at timestamptz, note text);
CREATE TABLE wide (id bigserial PRIMARY KEY, n int NOT NULL, a text, b text,
  at timestamptz);
CREATE TABLE lat (id bigserial PRIMARY KEY, v int,
  src_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE fence (id int PRIMARY KEY, w text);"
src -c "$SCHEMA" -c "CREATE PUBLICATION benchpub FOR TABLE oltp, huge, wide, lat, fence"
for db in native wpa wpb wpp; do
	pgc_psql analytics postgres -c "CREATE DATABASE $db"
	ana "$db" -c "$SCHEMA" -c "ALTER TABLE lat ADD COLUMN arrived_at timestamptz
		NOT NULL DEFAULT clock_timestamp()"
done

# The walpipe configuration: every table mirrored by key; wpb adds staging.
wp_config() { # FILE SOURCE_NAME SLOT DB
	cat >"$1" <<EOF
source: { name: $2, conninfo: "$SRC", slot: $3, create_slot: false,
          $([ "$4" = wpp ] && echo "plugin: pgoutput, publication: benchpub,")
          tables: [public.oltp, public.huge, public.wide, public.lat, public.fence] }
target: { conninfo: "$(anadb "$4")", schema: walpipe }
batch: { max_changes: 10000, max_bytes: 16MB, max_delay: 200ms }
snapshot: never
$([ "$4" = wpb ] && echo "staging: { table: staging.raw_events, partition: month }")
log: { level: warning }
process: { scheduling: $SCHEDULING }
mappings:
  - { from: public.oltp, to: public.oltp, key: [id], columns: { id: id,
      user_id: user_id, kind: kind, amount: amount, ok: ok, at: at,
      payload: payload, note: note } }
  - { from: public.huge, to: public.huge, key: [id], columns: { id: id,
      user_id: user_id, kind: kind, amount: amount, at: at, note: note } }
  - { from: public.wide, to: public.wide, key: [id], columns: { id: id,
      n: n, a: a, b: b, at: at } }
  - { from: public.lat, to: public.lat, key: [id], columns: { id: id, v: v,
      src_at: src_at } }
  - { from: public.fence, to: public.fence, key: [id], columns: { id: id, w: w } }
EOF
}

# currval() is volatile: a WHERE on it cannot use the index, so the id
# comes back through \gset.
cat >"$T/oltp.sql" <<'SQL'
\set u random(1, 100000)
BEGIN;
WITH ins AS (INSERT INTO oltp (user_id, kind, amount, ok, at, payload, note) VALUES
  (:u, 'click', :u * 0.25, true, now(), jsonb_build_object('page', 'p' || :u, 'n', :u), 'some note text'),
  (:u + 1, 'view', :u * 0.5, false, now(), jsonb_build_object('page', 'q' || :u), 'another note'),
  (:u + 2, 'buy', :u * 1.25, true, now(), '{"cart": [1, 2, 3]}', NULL) RETURNING id)
SELECT max(id) AS last FROM ins \gset
UPDATE oltp SET amount = amount + 1, kind = 'seen' WHERE id = :last - 7;
DELETE FROM oltp WHERE id = :last - 20;
COMMIT;
SQL
cat >"$T/wide.sql" <<'SQL'
BEGIN;
INSERT INTO wide (n, a, b, at) VALUES (0,
  (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 100)),
  (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 60)), now())
  RETURNING id AS last \gset
UPDATE wide SET n = n + 1, at = now() WHERE id = :last - 3;
COMMIT;
SQL
cat >"$T/lat.sql" <<'SQL'
INSERT INTO lat (v) SELECT g FROM generate_series(1, 5) g;
SQL

workload_oltp() {
	"$PGBIN/pgbench" -n -f "$T/oltp.sql" -c 2 -j 2 -t $((OLTP_TXNS / 2)) "$SRC" >/dev/null
}
workload_huge() {
	src -c "INSERT INTO huge SELECT g, g % 1000, 'bulk', g * 0.5, now(), 'row ' || g
		FROM generate_series(1, $HUGE_ROWS) g"
}
workload_wide() {
	"$PGBIN/pgbench" -n -f "$T/wide.sql" -c 2 -j 2 -t $((WIDE_TXNS / 2)) "$SRC" >/dev/null
}

# Row changes the source made to its tables (statistics are flushed when
# the writing sessions end).
tup_changes() {
	src -c "SELECT pg_stat_clear_snapshot()" -c "SELECT sum(n_tup_ins + n_tup_upd + n_tup_del)
		FROM pg_stat_user_tables WHERE relname IN ('oltp', 'huge', 'wide', 'lat')"
}

# count:md5 of a table's rows, in key order.
tbl_sum() { # PSQL_FN [DB] TABLE COLUMNS
	local cols=${*: -1} tbl=${*: -2:1}
	"${@:1:$#-2}" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(($cols)::text, ',' ORDER BY id), '')) FROM $tbl"
}
cols_of() {
	case $1 in
	oltp) echo "id, user_id, kind, amount, ok, at, payload, note" ;;
	huge) echo "id, user_id, kind, amount, at, note" ;;
	wide) echo "id, n, a, b, at" ;;
	lat) echo "id, v, src_at" ;;
	esac
}

fence() { # after the workload: a transaction that ends past END
	src -c "INSERT INTO fence SELECT coalesce(max(id), 0) + 1, '$1' FROM fence"
}

# Sample CPU of the given pids into cpu_<name> (monotonic: keep the last).
declare -A cpu
sample() { # NAME "PID..." (no fork: it runs every 50 ms)
	local p f t=0
	[ -n "$2" ] || return 0
	for p in $2; do
		read -r -a f <"/proc/$p/stat" 2>/dev/null || continue
		t=$((t + f[13] + f[14]))
	done
	[ "$t" -gt "${cpu[$1]:-0}" ] && cpu[$1]=$t
	return 0
}
slot_pid() { src -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$1'"; }

# The poll while a contender runs goes through one psql session (a
# coprocess) instead of a new psql per look: a psql start and its backend
# cost several ms of CPU, every 50 ms, on the same two cores as the
# contender.  pg_recvlogical needs no poll (it stops at END by itself), so
# polling that way charged the other contenders alone.
poll_open() { # CONNINFO
	coproc POLL { psql -X -A -t -q -v ON_ERROR_STOP=0 -d "$1" 2>/dev/null; }
}
poll_ask() { # VAR SQL (one row, one column): VAR gets the answer or ''
	local line='' answer=''
	# A statement that fails prints nothing: the marker ends every answer.
	printf '%s;\n\\echo __poll_end__\n' "$2" >&"${POLL[1]}"
	while read -r -t 30 line <&"${POLL[0]}"; do
		[ "$line" = __poll_end__ ] && break
		answer=$line
	done
	printf -v "$1" '%s' "$answer"
}
poll_close() {
	[ -n "${POLL_PID:-}" ] || return 0
	exec {POLL[1]}>&-
	wait "$POLL_PID" 2>/dev/null || true
}

# run_contender WORKLOAD CONTENDER END: prints "seconds rss_kb client_s
# backend_s walsender_s".  END @FILE: the end LSN is read from FILE once it
# exists (a live load still running when the contender starts).
run_contender() {
	local w=$1 c=$2 end=$3 t0 t1 pid wsp='' bkp='' done=f rss=0 client=0 sub="sub_$1_$2"
	local endfile=''
	if [ "${end#@}" != "$end" ]; then
		endfile=${end#@}
		end=''
	fi
	cpu=()
	t0=$(now)
	case $c in
	recv)
		/usr/bin/time -f "%M %U %S" -o "$T/$c.time" "$PGBIN/pg_recvlogical" -d "$SRC" \
			--slot "${c}_$w" --start -E "$end" -o format-version=2 -o include-xids=1 \
			-o include-timestamp=1 -o include-lsn=1 -o include-pk=1 -o include-types=0 \
			-o add-tables="$TABLES" -f /dev/null --no-loop >/dev/null 2>"$T/$c.err" &
		pid=$!
		;;
	recvpg)
		/usr/bin/time -f "%M %U %S" -o "$T/$c.time" "$PGBIN/pg_recvlogical" -d "$SRC" \
			--slot "${c}_$w" --start -E "$end" -o proto_version=1 \
			-o publication_names=benchpub -f /dev/null --no-loop >/dev/null 2>"$T/$c.err" &
		pid=$!
		;;
	native)
		ana native -c "CREATE SUBSCRIPTION $sub CONNECTION '$SRC' PUBLICATION benchpub
			WITH (create_slot = false, slot_name = '${c}_$w', enabled = false, copy_data = false)"
		t0=$(now)
		ana native -c "ALTER SUBSCRIPTION $sub ENABLE"
		pid=''
		;;
	wpa | wpb | wpp)
		wp_config "$T/$c-$w.yaml" "b_${w}_$c" "${c}_$w" "$c"
		# Not under time(1): SIGTERM must reach walpipe itself.  Its CPU
		# and peak RSS are read from /proc just before it is stopped.
		"$W" run -c "$T/$c-$w.yaml" >/dev/null 2>"$T/$c-$w.log" &
		pid=$!
		;;
	esac
	case $c in
	native | wpa | wpb | wpp) poll_open "$(anadb "$c")" ;;
	esac
	while [ "$done" != t ]; do
		[ -n "$wsp" ] || wsp=$(slot_pid "${c}_$w")
		[ -n "$end" ] || { [ -s "$endfile" ] && read -r end <"$endfile"; } || true
		if [ -z "$end" ]; then
			sample ws "$wsp"
			sleep 0.1
			continue
		fi
		case $c in
		recv | recvpg) kill -0 "$pid" 2>/dev/null || done=t ;;
		native)
			[ -n "$bkp" ] || poll_ask bkp "SELECT pid FROM pg_stat_subscription WHERE subname = '$sub' AND relid IS NULL"
			poll_ask done "SELECT coalesce((SELECT remote_lsn > '$end' FROM pg_replication_origin_status o
				JOIN pg_subscription s ON o.external_id = 'pg_' || s.oid WHERE s.subname = '$sub'), false)"
			;;
		wpa | wpb | wpp)
			[ -n "$bkp" ] || poll_ask bkp "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE application_name = 'walpipe' AND datname = '$c' AND backend_type = 'client backend'"
			# Until walpipe made its schema the query fails: no answer.
			poll_ask done "SELECT coalesce((SELECT lsn >= '$end' FROM walpipe.checkpoints WHERE source = 'b_${w}_$c'), false)"
			[ -n "$done" ] || done=f
			kill -0 "$pid" 2>/dev/null || { cat "$T/$c-$w.log" >&2; log "walpipe exited"; exit 1; }
			;;
		esac
		sample ws "$wsp"
		sample bk "$bkp"
		[ "${c#recv}" != "$c" ] || sample cl "$pid"
		[ "$done" = t ] || sleep 0.05
		if [ "${EPOCHSECONDS}" -gt "$((${t0%.*} + 900))" ]; then
			log "$c $w: not caught up after 900 s"
			exit 1
		fi
	done
	t1=$(now)
	poll_close
	# How often the walsender was preempted (process.scheduling's effect).
	log "$c $w: walsender preempted $(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "/proc/$wsp/status" 2>/dev/null || echo '?') times"
	case $c in
	recv | recvpg) wait "$pid" || { cat "$T/$c.err" >&2; exit 1; } ;;
	native)
		rss=$(awk '/VmHWM/ {print $2; exit}' "/proc/${bkp%% *}/status")
		ana native -c "ALTER SUBSCRIPTION $sub DISABLE"
		ana native -c "DROP SUBSCRIPTION $sub"
		;;
	wpa | wpb | wpp)
		sample cl "$pid"
		rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
		kill -TERM "$pid"
		wait "$pid" || { cat "$T/$c-$w.log" >&2; exit 1; }
		src -c "SELECT pg_drop_replication_slot('${c}_$w')" >/dev/null
		;;
	esac
	[ "${c#recv}" != "$c" ] && src -c "SELECT pg_drop_replication_slot('${c}_$w')" >/dev/null
	case $c in
	recv | recvpg)
		read -r rss u s <"$T/$c.time"
		client=$(calc "$u + $s")
		;;
	wpa | wpb | wpp) client=$(calc "${cpu[cl]:-0} / $TCK") ;;
	native) client=0 ;;
	esac
	echo "$(calc "$t1 - $t0") $rss $client $(calc "${cpu[bk]:-0} / $TCK") $(calc "${cpu[ws]:-0} / $TCK")"
}

results=$T/results.tsv
: >"$results"
for w in $WORKLOADS; do
	# REPEAT passes over the same WAL (the huge transaction: one).
	passes=$REPEAT
	[ "$w" = huge ] && passes=1
	log "workload $w: creating $passes slot(s) per contender, then the workload"
	for p in $(seq 1 "$passes"); do
		for c in $CONTENDERS; do
			plugin=wal2json
			case $c in native | recvpg | wpp) plugin=pgoutput ;; esac
			src -c "SELECT 1 FROM pg_create_logical_replication_slot('${c}_$w$p', '$plugin')" >/dev/null
		done
	done
	before=$(tup_changes)
	"workload_$w"
	sleep 1
	changes=$(($(tup_changes) - before))
	end=$(src -c "SELECT pg_current_wal_lsn()")
	fence "$w"
	want=$(tbl_sum src "$w" "$(cols_of "$w")")
	log "workload $w: $changes row changes up to $end"
	for p in $(seq 1 "$passes"); do
	for c in $CONTENDERS; do
		# Each pass starts from empty analytics tables.
		[ "${c#recv}" != "$c" ] || ana "$c" -c "TRUNCATE $w, fence"
		r=$(run_contender "$w$p" "$c" "$end")
		check=-
		case $c in
		native | wpa | wpb | wpp)
			got=$(tbl_sum ana "$c" "$w" "$(cols_of "$w")")
			if [ "$got" = "$want" ]; then check=equal; else
				log "$c $w: analytics differs from the source: $got vs $want"
				check=DIFFERENT
			fi
			;;
		esac
		log "$w pass $p $c: $r (s rss_kb client_cpu backend_cpu walsender_cpu) $check"
		printf '%s\t%s\t%s\t%s\t%s\n' "$w" "$c" "$changes" "$r" "$check" >>"$results"
	done
	done
done

# Commit-to-visible delay at a fixed rate: each contender alone, live.
lat_results=$T/latency.tsv
: >"$lat_results"
for c in $(echo "$CONTENDERS" | tr ' ' '\n' | grep -v recv); do
	src -c "TRUNCATE lat"
	ana "$c" -c "TRUNCATE lat"
	plugin=wal2json
	case $c in native | wpp) plugin=pgoutput ;; esac
	src -c "SELECT 1 FROM pg_create_logical_replication_slot('${c}_lat', '$plugin')" >/dev/null
	log "latency $c: $LAT_RATE transactions/s of 5 rows for ${LAT_SECONDS}s"
	# The contender starts first; the load 2 s later; END is known when
	# the load is over (run_contender reads it from the file then).
	rm -f "$T/lat-end"
	(
		# Load only once the contender streams (a subscription's worker
		# takes a moment to start).
		for _ in $(seq 1 300); do
			[ -n "$(slot_pid "${c}_lat")" ] && break
			sleep 0.1
		done
		sleep 1
		"$PGBIN/pgbench" -n -f "$T/lat.sql" -c 4 -j 2 -R "$LAT_RATE" -T "$LAT_SECONDS" \
			"$SRC" >"$T/lat-$c.pgbench" 2>&1
		src -c "SELECT pg_current_wal_lsn()" >"$T/lat-end.tmp"
		fence "lat"
		mv "$T/lat-end.tmp" "$T/lat-end"
	) &
	lpid=$!
	r=$(run_contender lat "$c" "@$T/lat-end")
	wait "$lpid"
	want=$(tbl_sum src lat "$(cols_of lat)")
	got=$(tbl_sum ana "$c" lat "$(cols_of lat)")
	check=equal
	[ "$got" = "$want" ] || { check=DIFFERENT; log "latency $c: differs: $got vs $want"; }
	p=$(ana "$c" -F ' ' -c "SELECT count(*), round((percentile_cont(0.5) WITHIN GROUP (ORDER BY d) * 1000)::numeric, 1),
		round((percentile_cont(0.99) WITHIN GROUP (ORDER BY d) * 1000)::numeric, 1),
		round((max(d) * 1000)::numeric, 1)
		FROM (SELECT extract(epoch FROM arrived_at - src_at) AS d FROM lat) x")
	rate=$(awk '/^tps/ {print $3; exit}' "$T/lat-$c.pgbench")
	log "latency $c: rows p50_ms p99_ms max_ms = $p ($check, $rate tps)"
	printf '%s\t%s\t%s\t%s\n' "$c" "$p" "$rate" "$check" >>"$lat_results"
done
cp "$results" "$O/compare.tsv"
cp "$lat_results" "$O/latency.tsv"
bash "$BENCH_ROOT/bench/report.sh" "$O"

# tables-inner.sh: the body of bench/tables.sh, run beside throwaway clusters.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
W=$WALPIPE_BIN
T=$WALPIPE_TEST_TMPDIR
SRC=$WALPIPE_TEST_SOURCE
PGBIN=/usr/lib/postgresql/15/bin
TABLES_N=${TABLES_N:-1 50 200}
RATE=${RATE:-300}
SECONDS_EACH=${SECONDS_EACH:-15}

log() { echo "bench: $*" >&2; }
src() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$SRC" "$@"; }
ana() { # DB SQL...
	local db=$1
	shift
	psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$(pgc_conninfo analytics "$db")" "$@"
}
each() { # N TEXT: TEXT for tables 1..N, each @ in it the table's number
	local i
	for i in $(seq 1 "$1"); do printf '%s' "${2//@/$i}"; done
}
slot_pid() { src -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$1'"; }

# Delay of every row: count p50 p99 max (ms), and whether the copy is
# equal to the source (count and md5 of all rows).
measure() { # DB N
	local u sum_src sum_ana
	u=$(each "$2" 'SELECT @ AS t, id, src_at, arrived_at FROM t@ UNION ALL ')
	u=${u% UNION ALL }
	p=$(ana "$1" -F ' ' -c "SELECT count(*),
		round((percentile_cont(0.5) WITHIN GROUP (ORDER BY d) * 1000)::numeric, 1),
		round((percentile_cont(0.99) WITHIN GROUP (ORDER BY d) * 1000)::numeric, 1),
		round((max(d) * 1000)::numeric, 1)
		FROM (SELECT extract(epoch FROM arrived_at - src_at) AS d FROM ($u) x) y")
	sum_ana=$(ana "$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(t || '/' || id || '/' || src_at, ',' ORDER BY t, id), '')) FROM ($u) x")
	u=$(each "$2" 'SELECT @ AS t, id, src_at FROM t@ UNION ALL ')
	sum_src=$(src -c "SELECT count(*) || ':' || md5(coalesce(string_agg(t || '/' || id || '/' || src_at, ',' ORDER BY t, id), '')) FROM (${u% UNION ALL }) x")
	check=equal
	[ "$sum_ana" = "$sum_src" ] || { check=DIFFERENT; log "$1: $sum_ana vs $sum_src"; }
	echo "$p $check"
}

load() { # N: RATE transactions/s for SECONDS_EACH, each one row into a random table
	printf '\\set t random(1, %s)\nINSERT INTO t:t (v) VALUES (1);\n' "$1" >"$T/load.sql"
	"$PGBIN/pgbench" -n -f "$T/load.sql" -c 2 -j 2 -R "$RATE" -T "$SECONDS_EACH" "$SRC" >"$T/pgbench.out" 2>&1
	awk '/^tps/ {printf "%.0f\n", $3; exit}' "$T/pgbench.out"
}

wait_active() { # SLOT
	for _ in $(seq 1 300); do
		[ -n "$(slot_pid "$1")" ] && return 0
		sleep 0.1
	done
	log "slot $1 never became active"
	exit 1
}

rows=()
for n in $TABLES_N; do
	log "$n tables: creating them"
	src -c "$(each "$n" 'CREATE TABLE t@ (id bigserial PRIMARY KEY, v int, src_at timestamptz NOT NULL DEFAULT clock_timestamp());')" \
		-c "CREATE PUBLICATION pub FOR TABLE $(each "$n" 't@, ' | sed 's/, $//')"
	for db in wp native; do
		pgc_psql analytics postgres -c "CREATE DATABASE $db" >/dev/null
		ana "$db" -c "$(each "$n" 'CREATE TABLE t@ (id bigint PRIMARY KEY, v int, src_at timestamptz, arrived_at timestamptz NOT NULL DEFAULT clock_timestamp());')"
	done

	# walpipe: one upsert mapping per table, walpipe's defaults otherwise.
	src -c "SELECT 1 FROM pg_create_logical_replication_slot('wp', 'wal2json')" >/dev/null
	{
		echo "source: { name: tables$n, conninfo: \"$SRC\", slot: wp, create_slot: false,"
		echo "          tables: [$(each "$n" 'public.t@, ' | sed 's/, $//')] }"
		echo "target: { conninfo: \"$(pgc_conninfo analytics wp)\", schema: walpipe }"
		echo "snapshot: never"
		echo "log: { level: warning }"
		echo "mappings:"
		each "$n" '  - { from: public.t@, to: public.t@, key: [id], columns: { id: id, v: v, src_at: src_at } }
'
	} >"$T/wp.yaml"
	"$W" run -c "$T/wp.yaml" 2>"$T/wp.log" &
	pid=$!
	wait_active wp
	sleep 1
	log "$n tables: walpipe, $RATE transactions/s for ${SECONDS_EACH}s"
	tps=$(load "$n")
	sleep 3
	kill -TERM "$pid"
	wait "$pid" || { cat "$T/wp.log" >&2; exit 1; }
	rows+=("| $n | walpipe | $tps | $(measure wp "$n" | sed 's/ / | /g') |")
	src -c "SELECT pg_drop_replication_slot('wp')" >/dev/null
	# The next contender starts from empty tables (its slot, made after
	# the truncate, does not see it).
	src -c "TRUNCATE $(each "$n" 't@, ' | sed 's/, $//')"

	# Native: a subscription to the same publication.
	ana native -c "CREATE SUBSCRIPTION sub CONNECTION '$SRC' PUBLICATION pub WITH (copy_data = false)"
	wait_active sub
	sleep 1
	log "$n tables: native, $RATE transactions/s for ${SECONDS_EACH}s"
	tps=$(load "$n")
	sleep 3
	rows+=("| $n | native logical replication | $tps | $(measure native "$n" | sed 's/ / | /g') |")
	ana native -c "DROP SUBSCRIPTION sub"

	src -c "DROP PUBLICATION pub" -c "DROP TABLE $(each "$n" 't@, ' | sed 's/, $//')"
	pgc_psql analytics postgres -c "DROP DATABASE wp" -c "DROP DATABASE native" >/dev/null
	log "${rows[-2]}"
	log "${rows[-1]}"
done

{
	echo "# What the number of mapped tables costs ($(date -u +%Y-%m-%dT%H:%MZ))"
	echo
	echo "One row per transaction into a random one of N tables at a fixed rate;"
	echo "commit-to-visible delay of every row (source clock_timestamp() to the"
	echo "analytics side's, same machine)."
	echo
	echo "| tables | contender | load tps | rows | p50 ms | p99 ms | max ms | analytics = source |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
} | tee "$BENCH_OUT/tables.md"

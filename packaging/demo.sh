#!/usr/bin/env bash
# demo.sh: the README's first command.  Builds walpipe, starts a throwaway
# "shop" (source) and "analytics" cluster, streams a live shop workload into
# the seed article's analytics model (conf/demo.yaml) and shows what arrived.
#
# Usage: packaging/demo.sh [--keep] [--seconds N] [--rate TPS] [--no-build]
#   --keep        leave both clusters and walpipe running, print how to connect
#   --seconds N   length of the live workload (default 30)
#   --rate TPS    shop interactions per second (default 150, about 5 changes each)
#   --no-build    use $WALPIPE_BIN (or build/walpipe) as it is, skip apt and cmake
# Exit status: 0 when the analytics side matches the source, 1 otherwise.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
keep=false build=true seconds=30 rate=150
while [ $# -gt 0 ]; do
	case "$1" in
	--keep) keep=true ;;
	--seconds) seconds=$2; shift ;;
	--rate) rate=$2; shift ;;
	--no-build) build=false ;;
	-h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[ -t 1 ] || say() { printf '\n== %s\n' "$*"; }

if $build; then
	say "installing what is missing, building walpipe"
	"$root/packaging/install-deps.sh"
	cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$root/build" -j "$(nproc)" >/dev/null
	WALPIPE_BIN=$root/build/walpipe
fi
W=${WALPIPE_BIN:-$root/build/walpipe}
[ -x "$W" ] || { echo "demo: no walpipe binary at $W (run without --no-build)" >&2; exit 1; }
PGBIN=/usr/lib/postgresql/15/bin

# shellcheck source=../tests/harness/pgcluster.sh
. "$root/tests/harness/pgcluster.sh"
# Kept clusters live outside the test sweeper's walpipe-test.* pattern.
if $keep; then
	WALPIPE_TEST_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/walpipe-demo.XXXXXX")
	export WALPIPE_TEST_TMPDIR
	chmod 755 "$WALPIPE_TEST_TMPDIR"
	[ "$(id -u)" -ne 0 ] || chown postgres: "$WALPIPE_TEST_TMPDIR"
fi
wpid='' bpid=''
cleanup() {
	local rc=$?
	[ -n "$bpid" ] && kill "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
	if $keep && [ "${demo_done:-false}" = true ]; then
		return "$rc"
	fi
	[ -n "$wpid" ] && kill -TERM "$wpid" 2>/dev/null && wait "$wpid" 2>/dev/null
	pgc_cleanup
	return "$rc"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted, cleaning up" >&2; keep=false; exit 130' INT TERM HUP

say "starting throwaway clusters: shop (source) and analytics"
pgc_init
pgc_create shop >/dev/null
pgc_create analytics >/dev/null
pgc_psql shop postgres -c "CREATE DATABASE shop"
pgc_psql analytics postgres -c "CREATE DATABASE analytics"
SHOP=$(pgc_conninfo shop shop)
ANA=$(pgc_conninfo analytics analytics)
T=$WALPIPE_TEST_TMPDIR
src() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$SHOP" "$@"; }
ana() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$ANA" "$@"; }
echo "shop:      $SHOP"
echo "analytics: $ANA"

say "loading the shop schema (users, orders, order_events) and the analytics model"
src -f "$root/sql/demo_shop.sql"
ana -f "$root/sql/demo_analytics.sql"
sed -e "s|conninfo: \"dbname=shop\"|conninfo: \"$SHOP\"|" \
	-e "s|conninfo: \"dbname=analytics\"|conninfo: \"$ANA\"|" \
	"$root/conf/demo.yaml" >"$T/demo.yaml"
"$W" check --live -c "$T/demo.yaml" | sed 's/^/  /'

say "starting walpipe run (log: $T/walpipe.log)"
# Not on our stdout: with --keep it outlives this script.
"$W" run -c "$T/demo.yaml" >/dev/null 2>"$T/walpipe.log" &
wpid=$!
for _ in $(seq 1 100); do
	[ "$(src -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'")" = 1 ] && break
	kill -0 "$wpid" 2>/dev/null || { cat "$T/walpipe.log" >&2; exit 1; }
	sleep 0.1
done

# One line of progress: changes in staging (one row per source change),
# bytes of source WAL not yet applied, and how old the last applied commit is.
progress() {
	local cur ck applied
	cur=$(src -c "SELECT pg_current_wal_lsn()")
	read -r ck applied age < <(ana -F ' ' -c "SELECT coalesce((SELECT lsn::text FROM walpipe.checkpoints), '0/0'),
		(SELECT count(*) FROM staging.raw_events),
		coalesce(round(extract(epoch FROM now() - (SELECT last_commit_time FROM walpipe.checkpoints))::numeric, 1)::text, '-')")
	lagb=$(src -c "SELECT greatest(pg_wal_lsn_diff('$cur', '$ck'), 0)::bigint")
	printf '%s %7d changes applied   lag %8d bytes   last commit applied %ss ago' "$1" "$applied" "$lagb" "$age"
}
if [ -t 1 ]; then
	show() { printf '\r\033[K%s' "$(progress "$1")"; }
	every=1
else
	show() { progress "$1"; echo; }
	every=5
fi

say "live workload: $rate shop interactions/s for ${seconds}s (pgbench, 2 clients)"
echo "SELECT shop_tick();" >"$T/tick.sql"
"$PGBIN/pgbench" -n -f "$T/tick.sql" -c 2 -j 2 -R "$rate" -T "$seconds" "$SHOP" \
	>"$T/pgbench.log" 2>&1 &
bpid=$!
start=$SECONDS
while kill -0 "$bpid" 2>/dev/null; do
	show "[$((SECONDS - start))s]"
	sleep "$every"
done
wait "$bpid" || { echo; cat "$T/pgbench.log" >&2; exit 1; }
bpid=''
[ -t 1 ] && echo

# A customer event whose user_id is not a number: the events fact casts it
# to bigint, so this row goes to the dead letter queue and the rest commits.
src -c "INSERT INTO order_events (order_id, kind, value, payload)
	VALUES (0, 'created', 1, '{\"user_id\": \"guest-42\"}')"

say "workload stopped; waiting for walpipe to catch up"
target=$(src -c "SELECT pg_current_wal_lsn()")
for i in $(seq 1 600); do
	[ "$(ana -c "SELECT coalesce((SELECT lsn FROM walpipe.checkpoints), '0/0') >= '$target'")" = t ] && break
	kill -0 "$wpid" 2>/dev/null || { cat "$T/walpipe.log" >&2; exit 1; }
	[ "$i" -eq 600 ] && { echo "demo: walpipe did not catch up" >&2; tail "$T/walpipe.log" >&2; exit 1; }
	[ $((i % 5)) -eq 0 ] && show "[catching up]" && { [ -t 1 ] || true; }
	sleep 0.2
done
show "[caught up]"
[ -t 1 ] && echo
ana -c "REFRESH MATERIALIZED VIEW analytics.mv_daily_user_metrics"

say "what arrived"
# The expected numbers are computed on the source with the mapping's own
# predicates: fact_orders keeps orders with status <> 'test' and marks
# deleted ones (soft delete); the events fact gets every event whose
# payload user_id is a number.
read -r s_users s_orders s_amount s_cancel s_events s_bad < <(src -F ' ' -c "SELECT
	(SELECT count(*) FROM users),
	(SELECT count(*) FROM orders WHERE status <> 'test'),
	(SELECT coalesce(sum(amount), 0)::numeric(15,4) FROM orders WHERE status <> 'test'),
	(SELECT count(*) FROM order_events WHERE kind = 'cancelled'),
	(SELECT count(*) FROM order_events WHERE payload->>'user_id' ~ '^[0-9]+\$'),
	(SELECT count(*) FROM order_events WHERE NOT payload->>'user_id' ~ '^[0-9]+\$')")
read -r a_users a_orders a_amount a_cancel a_events a_dead a_staged < <(ana -F ' ' -c "SELECT
	(SELECT count(*) FROM analytics.dim_users),
	(SELECT count(*) FROM analytics.fact_orders WHERE deleted_at IS NULL),
	(SELECT coalesce(sum(amount), 0) FROM analytics.fact_orders WHERE deleted_at IS NULL),
	(SELECT count(*) FROM analytics.fact_orders WHERE deleted_at IS NOT NULL),
	(SELECT count(*) FROM analytics.fact_user_events),
	(SELECT count(*) FROM walpipe.dead_letters WHERE NOT resolved),
	(SELECT count(*) FROM staging.raw_events)")
s_visits=$(src -c "SELECT count(*) || ' ' || md5(string_agg(v::text, ',' ORDER BY user_id)) FROM visits v")
a_visits=$(ana -c "SELECT count(*) || ' ' || md5(string_agg(v::text, ',' ORDER BY user_id)) FROM replica.visits v")
mismatch=0
row() { # LABEL SOURCE ANALYTICS
	local mark=ok
	[ "$2" = "$3" ] || { mark=DIFFERENT; mismatch=1; }
	printf '  %-58s %12s %12s  %s\n' "$1" "$2" "$3" "$mark"
}
printf '  %-58s %12s %12s\n' "" source analytics
row "users -> dim_users" "$s_users" "$a_users"
row "orders, status <> 'test' -> fact_orders, not deleted" "$s_orders" "$a_orders"
row "  sum(amount) of those" "$s_amount" "$a_amount"
row "orders cancelled (deleted) -> fact_orders, soft-deleted" "$s_cancel" "$a_cancel"
row "order_events, numeric user_id -> fact_user_events" "$s_events" "$a_events"
row "order_events, bad user_id -> walpipe.dead_letters" "$s_bad" "$a_dead"
row "visits -> replica.visits (mirror), rows" "${s_visits% *}" "${a_visits% *}"
row "  md5 of those rows" "$(echo "${s_visits#* }" | cut -c1-12)" "$(echo "${a_visits#* }" | cut -c1-12)"
printf '  %-58s %12s %12s\n' "all changes -> staging.raw_events (partitioned by month)" "" "$a_staged"

say "lag and dead letters (walpipe status)"
"$W" status -c "$T/demo.yaml" | grep -E 'lag|checkpoint|dead|partitions' | sed 's/^/  /' || true
"$W" dlq list -c "$T/demo.yaml" | sed 's/^/  /' | head -n 6

say "analytics.mv_daily_user_metrics, top 5 users today"
psql -X -q -d "$ANA" -c "SELECT user_id, day::date, event_count, total_value, unique_event_types
	FROM analytics.mv_daily_user_metrics ORDER BY event_count DESC, user_id LIMIT 5"

if [ "$mismatch" -ne 0 ]; then
	echo "demo: FAILED: the analytics database differs from the source" >&2
	tail -n 20 "$T/walpipe.log" >&2
	exit 1
fi
echo "demo: OK: every number on the analytics side matches the source"

if $keep; then
	demo_done=true
	say "left running (--keep)"
	cat <<EOF
  walpipe (pid $wpid) log:  $T/walpipe.log     config: $T/demo.yaml
  source:     psql "$SHOP"
  analytics:  psql "$ANA"
  more load:  $PGBIN/pgbench -n -f $T/tick.sql -R 100 -T 60 "$SHOP"
  stop all:   kill $wpid; WALPIPE_TEST_TMPDIR=$T bash -c '. $root/tests/harness/pgcluster.sh; pgc_cleanup'
EOF
fi

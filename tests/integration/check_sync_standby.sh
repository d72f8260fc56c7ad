# check_sync_standby.sh: walpipe as a synchronous standby of its source.
# With its application name in synchronous_standby_names, every source
# commit waits until walpipe has applied it and confirmed it, and a change
# that makes walpipe read the source catalog waits for a commit that waits
# for walpipe (exact_catalog_visibility).  walpipe says so once it streams,
# naming the setting and its own application name, instead of only after
# a stalled catalog read; as a potential standby it says what would
# happen.  Without the setting it says nothing.  In each case the rows
# still arrive, and committing them returns as soon as walpipe applied
# them: walpipe confirms what it committed at once.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src -c "CREATE TABLE public.t (id int PRIMARY KEY, v text)"
ana -c "CREATE SCHEMA analytics" -c "CREATE TABLE analytics.t (id int PRIMARY KEY, v text)"
cat >"$T/w.yaml" <<YAML
$(shop_header "public.t" 1000 50ms | sed 's/create_slot: true,/create_slot: true, status_interval: 60s,/')
snapshot: never
log: { level: debug }
mappings:
  - { from: public.t, to: analytics.t, key: [id], columns: { id: id, v: v } }
YAML
sync_names() {
	src -c "ALTER SYSTEM SET synchronous_standby_names = '$1'" -c "SELECT pg_reload_conf()" >/dev/null
}
trap 'rc=$?; [ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null; src -c "ALTER SYSTEM RESET synchronous_standby_names" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true; [ $rc = 0 ] || tail -n 30 "$T"/*.log >&2' EXIT

# round NAME SYNC_NAMES FIRST_ID: walpipe started with the setting at
# SYNC_NAMES streams 10 rows whose commits wait for it where it is a
# synchronous standby; its log is $T/NAME.log once it stopped.
round() {
	sync_names "$2"
	run_up "$T/w.yaml" "$T/$1.log"
	# The check runs a second after the stream started; it logs what it
	# saw (at debug level when there is nothing to warn of).
	for _ in $(seq 1 300); do
		grep -q 'synchronous standby' "$T/$1.log" && break
		sleep 0.1
	done
	# Where walpipe is a synchronous standby, the commit waits for it: it
	# confirms a batch once it committed it, not at its status interval
	# (60 s here; it used to confirm only then, or when the walsender asked:
	# 28 s).  10 s is ample for a batch.
	timeout 10 psql -X -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_SOURCE" \
		-c "INSERT INTO public.t SELECT g, 'v' || g FROM generate_series($3, $3 + 9) g" ||
		fail "$1: the commit waited more than 10 s for walpipe's confirmation"
	wait_caught_up "$pid"
	assert_eq "$1: the rows arrive" 10 \
		"$(ana -c "SELECT count(*) FROM analytics.t WHERE id BETWEEN $3 AND $3 + 9")"
	run_down
}

round sync walpipe 1
assert_contains "sync: walpipe says the source waits for it" \
	"walpipe is a synchronous standby of the source (sync_state sync, synchronous_standby_names 'walpipe'): every commit on the source waits until walpipe has applied it and confirmed it, and waits for as long as walpipe is stopped; a change that makes walpipe read the source catalog (a new mirrored table or partition, a mapped table that changes shape) cannot apply, since its commit shows only once walpipe confirms it. Take walpipe's application name \"walpipe\" out of synchronous_standby_names." \
	"$(cat "$T/sync.log")"

round quorum 'ANY 1 (nobody, walpipe)' 11
assert_contains "quorum: walpipe says the source waits for it" \
	"walpipe is a synchronous standby of the source (sync_state quorum, synchronous_standby_names 'ANY 1 (nobody, walpipe)')" \
	"$(cat "$T/quorum.log")"

# "alpha" is connected (a WAL receiver that flushes and answers at once)
# and comes before walpipe in the list.  Without walpipe, nothing may
# wait for it meanwhile.
sync_names ''
mkdir "$T/wal"
"$PGC_BINDIR/pg_receivewal" -d "$WALPIPE_TEST_SOURCE application_name=alpha" -D "$T/wal" \
	--synchronous -n 2>"$T/recv.err" &
recv_pid=$!
wait_sql src "SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = 'alpha' AND flush_lsn IS NOT NULL"
round potential 'FIRST 1 (alpha, walpipe)' 21
kill "$recv_pid"
wait "$recv_pid" || true
assert_contains "potential: walpipe says what would happen" \
	"walpipe is a potential synchronous standby of the source (synchronous_standby_names 'FIRST 1 (alpha, walpipe)'): if a synchronous standby named before it goes away, every commit on the source waits until walpipe has applied it and confirmed it. Take walpipe's application name \"walpipe\" out of synchronous_standby_names." \
	"$(cat "$T/potential.log")"
assert_eq "potential: not called a synchronous standby" 0 \
	"$(grep -c 'walpipe is a synchronous standby' "$T/potential.log" || true)"

round async '' 31
assert_contains "async: the check ran and saw it" \
	"debug: synchronous standby check: sync_state 'async'" "$(cat "$T/async.log")"
assert_eq "async: no warning about synchronous standbys" 0 \
	"$(grep -c 'warning: .*synchronous standby' "$T/async.log" || true)"
assert_eq "every row arrived" 40 "$(ana -c "SELECT count(*) FROM analytics.t")"

# check --live says it before walpipe runs: a warning (exit 0) naming the
# setting, which names walpipe's application name ignoring case; nothing
# when it does not.
sync_names 'FIRST 1 (alpha, WalPipe)'
rc=0
"$WALPIPE_BIN" check --live -c "$T/w.yaml" >"$T/check.out" 2>"$T/check.err" || rc=$?
assert_eq "check --live: a warning, not a problem" 0 "$rc"
assert_contains "check --live: walpipe named in synchronous_standby_names" \
	"warning: the source's synchronous_standby_names ('FIRST 1 (alpha, WalPipe)') names walpipe's application name \"walpipe\": walpipe will be a synchronous standby of the source, or a potential one. Every commit on the source then waits until walpipe has applied it and confirmed it, and a change that makes walpipe read the source catalog (a new mirrored table or partition, a mapped table that changes shape) cannot apply. Take \"walpipe\" out of synchronous_standby_names, or give walpipe another application_name in source.conninfo." \
	"$(cat "$T/check.err")"
sync_names 'FIRST 1 (alpha, walpipe_backup)'
"$WALPIPE_BIN" check --live -c "$T/w.yaml" >"$T/check2.out" 2>"$T/check2.err"
assert_eq "check --live: no word when the setting names others" 0 \
	"$(grep -c 'synchronous_standby_names' "$T/check2.err" || true)"
sync_names ''

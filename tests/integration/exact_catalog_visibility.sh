# exact_catalog_visibility.sh: the stream can be ahead of the source's
# catalog.  Logical decoding sends a transaction as soon as its commit
# record is flushed; the committing backend shows the commit to other
# sessions a moment later, and with synchronous replication only once a
# standby answers.  walpipe reads the source catalog about a table the
# stream names for the first time (a new table a mirror matches, a new
# partition of a followed partitioned table): read before the commit
# shows, the table "does not exist", and its changes were dropped
# without a word (mirror_db under pgoutput, twice).  Here a synchronous
# standby that never comes holds each commit in that window for as long
# as the test wants: walpipe must wait for the commit to show (and after
# 10 s start its session again and keep waiting), then mirror every row.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

src <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.t1 (id int PRIMARY KEY, v text);
INSERT INTO app.t1 SELECT g, 'v' || g FROM generate_series(1, 10) g;
CREATE TABLE app.ev (id int, region text, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE app.ev_eu PARTITION OF app.ev FOR VALUES IN ('eu');
INSERT INTO app.ev SELECT g, 'eu', 'e' || g FROM generate_series(1, 10) g;
SQL
cat >"$T/mirror.yaml" <<EOF
source: { name: shop, conninfo: "$WALPIPE_TEST_SOURCE", create_slot: true }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS" }
batch: { max_changes: 500, max_delay: 50ms }
mirror:
  - { from: app.*, to: mirror }
EOF
run_up "$T/mirror.yaml" "$T/run.log"
trap 'rc=$?; [ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null; src -c "ALTER SYSTEM RESET synchronous_standby_names" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true; [ $rc = 0 ] || tail -n 30 "$T/run.log" >&2' EXIT
wait_sql ana "SELECT count(*) > 0 AND bool_and(state = 'done') FROM walpipe.snapshot_tables" "$pid"
wait_caught_up "$pid"

same() { # TABLE
	assert_eq "mirror.$1 = app.$1" \
		"$(src -c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM app.$1 t")" \
		"$(ana -c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM mirror.$1 t")"
}

# held ROUND SECONDS SQL: run SQL in one transaction whose commit waits
# for a synchronous standby that never comes; once walpipe's walsender
# has sent the commit and the catalog still does not show it, hold it
# SECONDS more, then let it go.
held() {
	local commit_lsn
	src -c "ALTER SYSTEM SET synchronous_standby_names = 'nobody'" -c "SELECT pg_reload_conf()" >/dev/null
	src -c "BEGIN" -c "$3" -c "COMMIT" >"$T/held.$1.out" 2>&1 &
	held_pid=$!
	wait_sql src "SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
	commit_lsn=$(src -c "SELECT pg_current_wal_flush_lsn()")
	# Sent it all, or sending it (walpipe reads no more until the commit
	# shows: the transaction fills the socket), or, wal2json only, waiting
	# for the lock of a table the transaction holds: that walsender
	# cannot get ahead of the commit (mirror_db always passed there).
	local state="" i
	for i in $(seq 1 300); do
		state=$(src -c "SELECT CASE WHEN r.sent_lsn >= '$commit_lsn' OR a.wait_event = 'WalSenderWriteData' THEN 'sent'
			WHEN a.wait_event_type = 'Lock' THEN 'locked' END
			FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid
			JOIN pg_stat_activity a ON a.pid = r.pid WHERE s.slot_name = 'walpipe_shop'")
		[ -z "$state" ] || break
		sleep 0.1
	done
	if [ "$state" = locked ] && [ "${WALPIPE_PLUGIN:-wal2json}" = wal2json ]; then
		echo "ok - round $1: wal2json's walsender waits for the transaction's lock"
	else
		assert_eq "round $1: the walsender sent the held transaction" sent "$state"
		# The premise: the stream has the transaction, the catalog not yet.
		assert_eq "round $1: the commit is sent but does not show yet" "" \
			"$(src -c "SELECT to_regclass('$4')")"
	fi
	held_state=$state
	sleep "$2"
	src -c "ALTER SYSTEM RESET synchronous_standby_names" -c "SELECT pg_reload_conf()" >/dev/null
	wait "$held_pid" || fail "round $1: the held transaction failed: $(cat "$T/held.$1.out")"
}

# Round 1: a new table, created and filled in one transaction, held 12 s:
# past walpipe's 10 s wait, so its session starts again and waits again.
held 1 12 "CREATE TABLE app.fresh (id int PRIMARY KEY, v text);
	INSERT INTO app.fresh SELECT g, 'f' || g FROM generate_series(1, 100) g" app.fresh
src -c "UPDATE app.fresh SET v = v || '!' WHERE id % 2 = 0" -c "UPDATE app.t1 SET v = v || '+'"
wait_sql ana "SELECT to_regclass('mirror.fresh') IS NOT NULL" "$pid"
wait_caught_up "$pid"
same fresh
same t1
[ "$held_state" = locked ] ||
	assert_contains "round 1: walpipe says why it waits" \
		"is in the stream, but after 10000 ms it is still not visible on the source (its commit waits for a synchronous standby?); walpipe reads the source catalog about its changes only once it is
The source's synchronous_standby_names is 'nobody'. If it names walpipe (application name \"walpipe\" unless its conninfo sets one), the commit waits for walpipe, which confirms only what it has applied: take walpipe out of it." \
		"$(cat "$T/run.log")"
assert_contains "round 1: then mirrors the table" \
	'source table "app.fresh" is new and matches a mirror' "$(cat "$T/run.log")"

# Round 2: a new partition of a mirrored partitioned table, created and
# written in one transaction, held 2 s.
held 2 2 "CREATE TABLE app.ev_us PARTITION OF app.ev FOR VALUES IN ('us');
	INSERT INTO app.ev SELECT g, 'us', 'u' || g FROM generate_series(1, 50) g" app.ev_us
src -c "UPDATE app.ev SET v = v || '!' WHERE id % 3 = 0"
wait_caught_up "$pid"
same ev
assert_eq "round 2: the new partition's rows are there" 50 \
	"$(ana -c "SELECT count(*) FROM mirror.ev WHERE region = 'us'")"
assert_eq "no table was taken for gone" "" "$(grep 'no longer exists' "$T/run.log" || true)"
assert_eq "no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"
run_down

# run_source_identity.sh: the checkpoint names the source cluster and its
# timeline (issue 15, item 4), and walpipe refuses a source whose WAL
# positions are not those of its checkpoint: another cluster, a timeline
# before the checkpoint's, and a promoted standby whose history left the
# checkpoint's timeline before the checkpoint (changes walpipe applied are
# not in the source any more).  Without these checks walpipe would skip
# every change below its checkpoint on such a source.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

ev() { src -c "INSERT INTO order_events (order_id, kind, value, payload) VALUES ($1, 'e', 1, '{\"order_id\": $1}')"; }
# refused CONFIG LOG: walpipe run exits 1 on its own.
refused() {
	rc=0
	timeout 60 "$WALPIPE_BIN" run -c "$1" >"$2" 2>&1 || rc=$?
	assert_eq "walpipe exits 1" 1 "$rc"
}

run_setup_schema
run_config "$T/shop.yaml"
run_up "$T/shop.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
ev 1
wait_caught_up "$pid"
run_down
sysid=$(src -c "SELECT system_identifier FROM pg_control_system()")
assert_eq "the checkpoint records the cluster and timeline" "$sysid:1" \
	"$(ana -c "SELECT system_id || ':' || timeline FROM walpipe.checkpoints WHERE source = 'shop'")"

# Another cluster (as a conninfo pointing elsewhere would show).
ana -c "UPDATE walpipe.checkpoints SET system_id = '7000000000000000001'"
refused "$T/shop.yaml" "$T/other.log"
assert_contains "another cluster is refused" \
	"the source server is cluster $sysid, but walpipe's checkpoint was written for cluster 7000000000000000001: its WAL positions mean nothing here" \
	"$(cat "$T/other.log")"
assert_contains "with the way out" "empty the mapped tables, delete this source's row of walpipe's checkpoints table" "$(cat "$T/other.log")"
ana -c "UPDATE walpipe.checkpoints SET system_id = '$sysid', timeline = 3"
refused "$T/shop.yaml" "$T/tli.log"
assert_contains "a timeline before the checkpoint's is refused" \
	"the source server is on timeline 1, before the timeline 3 of walpipe's checkpoint" "$(cat "$T/tli.log")"
ana -c "UPDATE walpipe.checkpoints SET timeline = 1"

# A standby of the source, stopped while walpipe applies more, then
# promoted: its timeline 2 branches off before walpipe's checkpoint.
sb=$WALPIPE_TEST_TMPDIR/standby
pgc_as_owner mkdir -p "$sb/sock"
pgc_as_owner pg_basebackup -c fast -D "$sb/data" -R -X stream -d "$WALPIPE_TEST_SOURCE" >/dev/null
echo "unix_socket_directories = '$sb/sock'" | pgc_as_owner tee -a "$sb/data/postgresql.conf" >/dev/null
pgc_free_port | pgc_as_owner tee "$sb/port" >/dev/null
pgc_start standby
pgc_stop standby
run_start "$T/shop.yaml" "$T/run2.log"
for i in 2 3 4; do ev "$i"; done
wait_caught_up "$pid"
run_down
# Cut off from the source, so that it cannot receive what came since.
pgc_as_owner sed -i '/primary_conninfo/d' "$sb/data/postgresql.auto.conf"
pgc_start standby
pgc_as_owner pg_ctl -D "$sb/data" -w promote >/dev/null
sed "s|$WALPIPE_TEST_SOURCE|$(pgc_conninfo standby source)|" "$T/shop.yaml" >"$T/standby.yaml"
for _ in $(seq 1 50); do
	[ "$(pgc_psql standby source -c "SELECT pg_is_in_recovery()")" = f ] && break
	sleep 0.1
done
switch=$(pgc_psql standby source -c "SELECT pg_current_wal_lsn()")
ck=$(ana -c "SELECT lsn FROM walpipe.checkpoints WHERE source = 'shop'")
refused "$T/standby.yaml" "$T/promoted.log"
assert_contains "a history that left the checkpoint's timeline before it is refused" \
	"the source server's history left timeline 1 at " "$(cat "$T/promoted.log")"
assert_contains "naming walpipe's checkpoint" "before walpipe's checkpoint $ck: changes walpipe applied are not in the source's history" "$(cat "$T/promoted.log")"
# A checkpoint from before the branch point is on the standby's history:
# the identity check passes (the slot check that follows refuses: the
# standby has no slot, and a new one starts after the checkpoint).
ana -c "UPDATE walpipe.checkpoints SET lsn = '0/1000000', txn_end = NULL, txn_applied = 0"
refused "$T/standby.yaml" "$T/promoted2.log"
assert_eq "no identity refusal before the branch point" 0 "$(grep -c "history left timeline" "$T/promoted2.log" || true)"
assert_contains "the slot check comes next" "ahead of walpipe's checkpoint 0/1000000" "$(cat "$T/promoted2.log")"
echo "ok: run_source_identity (switch near $switch)"

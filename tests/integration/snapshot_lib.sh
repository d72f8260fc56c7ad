# snapshot_lib.sh: shared setup and checks of the snapshot tests: a source
# that already holds rows when walpipe first starts, and the exact checks of
# the end state (facts equal the source; staging holds one 'r' row per
# copied row and exactly one row per change).  Sources run_lib.sh.
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

# Rows that no WAL walpipe reads will ever show: written before its slot.
snap_seed_rows() { # EVENTS
	run_workload 11 2000
	src -c "INSERT INTO order_events (order_id, kind, value, payload)
		SELECT g % 400, 'old', g, jsonb_build_object('order_id', g % 400, 'old', true)
		FROM generate_series(1, $1) g"
}

# snap_wait_ckpt PID: until walpipe wrote its first checkpoint (the slot's
# consistent point), then copy the slot to 'witness' (same position): the
# witness sees exactly the changes walpipe's stream must deliver.
snap_witness() {
	for _ in $(seq 1 300); do
		[ "$(ana -c "SELECT count(*) FROM walpipe.checkpoints WHERE source = 'shop'" 2>/dev/null || echo 0)" = 1 ] && break
		kill -0 "$1" 2>/dev/null || fail "walpipe exited before its first checkpoint"
		sleep 0.05
	done
	src -c "SELECT 1 FROM pg_copy_logical_replication_slot('walpipe_shop', 'witness', false, 'wal2json')" >/dev/null
	assert_eq "witness slot at walpipe's checkpoint" \
		"$(ana -c "SELECT lsn FROM walpipe.checkpoints WHERE source = 'shop'")" \
		"$(src -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'witness'")"
}

# snap_wait_done PID LOG: until every snapshot table is done.
snap_wait_done() {
	for _ in $(seq 1 6000); do
		[ "$(ana -c "SELECT count(*) FILTER (WHERE state <> 'done') || ',' || count(*) FROM walpipe.snapshot_tables WHERE source = 'shop'" 2>/dev/null)" = "0,3" ] && return 0
		kill -0 "$1" 2>/dev/null || { tail -20 "$2"; fail "walpipe exited during the snapshot"; }
		sleep 0.1
	done
	fail "the snapshot did not finish"
}

# The end state is exact.  LABEL
snap_assert_exact() {
	local s_users s_orders s_events a_users a_orders a_events
	read -r s_users s_orders s_events < <(src_checksums | xargs)
	read -r a_users a_orders a_events < <(ana_checksums | xargs)
	assert_eq "$1: fact_users equals source" "$s_users" "$a_users"
	[ "$s_orders" = "$a_orders" ] || snap_diff_orders
	assert_eq "$1: fact_orders equals source" "$s_orders" "$a_orders"
	assert_eq "$1: one fact event per source event" "$s_events" "$a_events"
	assert_eq "$1: fact events are the source's events" \
		"$(src -c "SELECT md5(string_agg(format('%s|%s|%s', order_id, kind, payload), ',' ORDER BY order_id, kind, payload::text)) FROM order_events")" \
		"$(ana -c "SELECT md5(string_agg(format('%s|%s|%s', order_id, event_type, metadata), ',' ORDER BY order_id, event_type, metadata::text)) FROM analytics.fact_user_events")"
	# Staging: every change exactly once, and no row copied twice.
	assert_eq "$1: staging holds exactly one row per change" \
		"$(source_change_count)" "$(ana -c "SELECT count(*) FROM staging.raw_events WHERE op <> 'r'")"
	assert_eq "$1: no duplicate change rows in staging" 0 \
		"$(ana -c "SELECT count(*) FROM (SELECT lsn, payload FROM staging.raw_events WHERE op <> 'r' GROUP BY 1, 2 HAVING count(*) > 1) d")"
	assert_eq "$1: no row copied twice by one snapshot" 0 \
		"$(ana -c "SELECT count(*) FROM (SELECT source_table, lsn, $SNAP_ID FROM staging.raw_events WHERE op = 'r' GROUP BY 1, 2, 3 HAVING count(*) > 1) d")"
	assert_eq "$1: every source event is in staging" \
		"$(src -c "SELECT count(*) FROM order_events")" \
		"$(ana -c "SELECT count(DISTINCT $SNAP_ID) FROM staging.raw_events WHERE source_table = 'order_events' AND op IN ('r', 'I')")"
}

# The id column of a staged row.
SNAP_ID="(SELECT c->>'value' FROM jsonb_array_elements(payload->'columns') c WHERE c->>'name' = 'id')"

# On a mismatch: the first differing orders, source against analytics.
snap_diff_orders() {
	src -c "SELECT format('%s|%s|%s|%s|%s', id, user_id, amount::numeric(15,4), status, created_at) FROM orders ORDER BY id" >"$T/orders.src"
	ana -c "SELECT format('%s|%s|%s|%s|%s', order_id, customer_id, amount, status, placed_at) FROM analytics.fact_orders ORDER BY order_id" >"$T/orders.ana"
	diff "$T/orders.src" "$T/orders.ana" | head -20 || true
}

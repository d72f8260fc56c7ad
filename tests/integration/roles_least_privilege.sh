# roles_least_privilege.sh: walpipe runs with the roles sql/roles.sql makes
# and nothing more (issue 15, item 9): on the source a REPLICATION role with
# SELECT on the streamed tables only, on the analytics side a role that
# owns walpipe's and the staging schema but has no CREATE on the database
# (roles.sql used to grant SELECT on every table and CREATE on the
# database).  The initial snapshot, the stream and staging are exact.
# pgoutput: the role cannot create the publication; walpipe says what to
# run as whom, and roles.sql -v publication creates it.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR
R=$WALPIPE_SOURCE_DIR/sql/roles.sql

run_setup_schema
src -c "INSERT INTO users (id, name) SELECT g, 'before ' || g FROM generate_series(1, 50) g"
psql -X -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_SOURCE" -v side=source \
	-v tables=public.users,public.orders,public.order_events -f "$R" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_ANALYTICS" -v side=analytics -f "$R" >/dev/null
ana -c "GRANT USAGE ON SCHEMA analytics TO walpipe" \
	-c "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA analytics TO walpipe" \
	-c "GRANT USAGE ON ALL SEQUENCES IN SCHEMA analytics TO walpipe"
assert_eq "source role: the three tables, not the others" "true|false" \
	"$(src -c "SELECT has_table_privilege('walpipe_repl', 'public.orders', 'SELECT')::text || '|' || has_table_privilege('walpipe_repl', 'public.ignored', 'SELECT')::text")"
assert_eq "analytics role: no CREATE on the database" f \
	"$(ana -c "SELECT has_database_privilege('walpipe', current_database(), 'CREATE')")"

run_config "$T/shop.yaml"
sed -i "s|conninfo: \"$WALPIPE_TEST_SOURCE\"|conninfo: \"$WALPIPE_TEST_SOURCE user=walpipe_repl\"|; s|conninfo: \"$WALPIPE_TEST_ANALYTICS\"|conninfo: \"$WALPIPE_TEST_ANALYTICS user=walpipe\"|" "$T/shop.yaml"
sed -i 's/user=postgres user=/user=/' "$T/shop.yaml"
grep -q 'user=walpipe_repl' "$T/shop.yaml" || fail "the source conninfo was not changed"
if [ "${WALPIPE_PLUGIN:-wal2json}" = pgoutput ]; then
	# pgoutput: walpipe_repl owns no table, so it cannot create the
	# publication; check --live and run say what to run, and as whom, and
	# roles.sql does it (-v publication).
	want='publication "walpipe_shop" does not exist, and role "walpipe_repl" cannot create it: FOR TABLE needs the ownership of each table (and CREATE on the database)
CREATE PUBLICATION "walpipe_shop" FOR TABLE public.users, public.orders, public.order_events; on the source as the owner of the tables (or a superuser), then start walpipe again.'
	out=$("$WALPIPE_BIN" check --live -q -c "$T/shop.yaml" 2>&1) && fail "check --live accepted a publication the role cannot create"
	assert_contains "check --live: the statement and the role" "$want" "$out"
	rc=0; "$WALPIPE_BIN" run -c "$T/shop.yaml" 2>"$T/refused.log" || rc=$?
	assert_eq "run refuses" 1 "$rc"
	assert_contains "run: the statement and the role" "$want" "$(cat "$T/refused.log")"
	psql -X -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_SOURCE" -v side=source -v publication=walpipe_shop \
		-v tables=public.users,public.orders,public.order_events -f "$R" >/dev/null
	assert_eq "roles.sql made the publication" 3 \
		"$(src -c "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'walpipe_shop'")"
fi
"$WALPIPE_BIN" check --live -q -c "$T/shop.yaml" >"$T/check.log" 2>&1 || { cat "$T/check.log"; fail "check --live refused the least-privilege roles"; }
run_up "$T/shop.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
run_workload 7 100
run_small_txns 20
wait_caught_up "$pid"
run_down
assert_eq "facts exact as the least-privileged roles" "$(src_checksums)" "$(ana_checksums)"
assert_eq "walpipe's schema is the one made ahead, owned by walpipe" walpipe \
	"$(ana -c "SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'walpipe'")"
assert_eq "staging holds the streamed changes" t "$(ana -c "SELECT count(*) > 100 FROM staging.raw_events")"
echo "ok: roles_least_privilege"

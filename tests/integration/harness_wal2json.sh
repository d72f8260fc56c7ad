# harness_wal2json.sh: the harness end to end: a real source cluster with
# wal2json decodes changes we make, and the analytics cluster is separate.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"

src() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_SOURCE" "$@"; }
ana() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_ANALYTICS" "$@"; }

assert_eq "source wal_level" logical "$(src -c 'SHOW wal_level')"
assert_eq "source database" source "$(src -c 'SELECT current_database()')"
assert_eq "analytics database" analytics "$(ana -c 'SELECT current_database()')"
# Two clusters, not one: different system identifiers.
src_id=$(src -c 'SELECT system_identifier FROM pg_control_system()')
ana_id=$(ana -c 'SELECT system_identifier FROM pg_control_system()')
[ "$src_id" != "$ana_id" ] || fail "source and analytics share a cluster"
echo "ok: source and analytics are separate clusters"

# The server runs as the unprivileged postgres user, never as root.
pid=$(head -n 1 "$(pgc_dir source)/data/postmaster.pid")
assert_eq "postmaster owner" postgres "$(ps -o user= -p "$pid" | tr -d ' ')"

src <<'SQL'
CREATE TABLE public.items (id int PRIMARY KEY, name text, price numeric(12,2));
SELECT 'init' FROM pg_create_logical_replication_slot('harness_slot', 'wal2json');
BEGIN;
INSERT INTO public.items VALUES (1, 'apple', 1.50), (2, 'pear ünï', NULL);
COMMIT;
UPDATE public.items SET price = 2.25 WHERE id = 1;
DELETE FROM public.items WHERE id = 2;
SQL

opts="'format-version','2','include-xids','false','include-timestamp','false',
	'include-types','false','include-lsn','false'"
actual=$(src -c "SELECT data FROM pg_logical_slot_peek_changes('harness_slot', NULL, NULL, $opts)")
expected='{"action":"B"}
{"action":"I","schema":"public","table":"items","columns":[{"name":"id","value":1},{"name":"name","value":"apple"},{"name":"price","value":1.50}]}
{"action":"I","schema":"public","table":"items","columns":[{"name":"id","value":2},{"name":"name","value":"pear ünï"},{"name":"price","value":null}]}
{"action":"C"}
{"action":"B"}
{"action":"U","schema":"public","table":"items","columns":[{"name":"id","value":1},{"name":"name","value":"apple"},{"name":"price","value":2.25}],"identity":[{"name":"id","value":1}]}
{"action":"C"}
{"action":"B"}
{"action":"D","schema":"public","table":"items","identity":[{"name":"id","value":2}]}
{"action":"C"}'
assert_eq "wal2json output of the workload" "$expected" "$actual"

# get_changes consumes: the slot advances and a second read is empty.
n=$(src -c "SELECT count(*) FROM pg_logical_slot_get_changes('harness_slot', NULL, NULL, $opts)")
assert_eq "changes consumed" 10 "$n"
n=$(src -c "SELECT count(*) FROM pg_logical_slot_get_changes('harness_slot', NULL, NULL, $opts)")
assert_eq "nothing left after consuming" 0 "$n"

# The binary under test is the one ctest built.
"$WALPIPE_BIN" --version | grep -q '^walpipe ' || fail "walpipe --version"
echo "ok: walpipe --version"

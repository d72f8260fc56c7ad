# run_search_path.sh: walpipe's sessions on the source run with
# search_path = pg_catalog, pg_temp (issue 15, item 6), whatever the role
# or database sets.  Someone with CREATE in public defines functions of
# the names and signatures walpipe's SQL calls; where the role's
# search_path puts public before pg_catalog (ALTER ROLE ... SET), a
# session that keeps it would run them as walpipe's role.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

run_setup_schema
src <<'SQL'
CREATE TABLE public.pwned (who text, fn text);
ALTER ROLE postgres IN DATABASE source SET search_path = public, pg_catalog;
GRANT INSERT ON public.pwned TO PUBLIC;
CREATE FUNCTION public.format(text, name, name) RETURNS text LANGUAGE sql AS
  $$ INSERT INTO public.pwned VALUES (current_setting('application_name'), 'format(text,name,name)'); SELECT pg_catalog.format($1, $2, $3) $$;
CREATE FUNCTION public.format(text, text, text) RETURNS text LANGUAGE sql AS
  $$ INSERT INTO public.pwned VALUES (current_setting('application_name'), 'format(text,text,text)'); SELECT pg_catalog.format($1, $2, $3) $$;
CREATE FUNCTION public.format(text, text) RETURNS text LANGUAGE sql AS
  $$ INSERT INTO public.pwned VALUES (current_setting('application_name'), 'format(text,text)'); SELECT pg_catalog.format($1, $2) $$;
CREATE FUNCTION public.to_regclass(text) RETURNS regclass LANGUAGE sql AS
  $$ INSERT INTO public.pwned VALUES (current_setting('application_name'), 'to_regclass(text)'); SELECT pg_catalog.to_regclass($1) $$;
CREATE FUNCTION public.has_table_privilege(oid, text) RETURNS bool LANGUAGE sql AS
  $$ INSERT INTO public.pwned VALUES (current_setting('application_name'), 'has_table_privilege(oid,text)'); SELECT pg_catalog.has_table_privilege($1, $2) $$;
CREATE FUNCTION public.pg_is_in_recovery() RETURNS bool LANGUAGE sql AS
  $$ INSERT INTO public.pwned VALUES (current_setting('application_name'), 'pg_is_in_recovery()'); SELECT pg_catalog.pg_is_in_recovery() $$;
CREATE FUNCTION public.pg_current_wal_lsn() RETURNS pg_lsn LANGUAGE sql AS
  $$ INSERT INTO public.pwned VALUES (current_setting('application_name'), 'pg_current_wal_lsn()'); SELECT pg_catalog.pg_current_wal_lsn() $$;
CREATE FUNCTION public.quote_ident(name) RETURNS text LANGUAGE sql AS
  $$ INSERT INTO public.pwned VALUES (current_setting('application_name'), 'quote_ident(name)'); SELECT pg_catalog.quote_ident($1) $$;
SQL
# The same shadowing is in effect for any session with public on its path.
src -c "SELECT to_regclass('public.pwned')" >/dev/null
assert_eq "the trap works for an ordinary session" 1 "$(src -c "SELECT count(*) FROM public.pwned")"
src -c "TRUNCATE public.pwned"

run_config "$T/shop.yaml"
"$WALPIPE_BIN" check --live -q -c "$T/shop.yaml" >"$T/check.log" 2>&1 || { cat "$T/check.log"; fail "check --live refused"; }
run_up "$T/shop.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
src -c "INSERT INTO users (id, name) VALUES (1, 'a')"
wait_caught_up "$pid"
run_down
assert_eq "none of walpipe's sessions called a function from public" "" \
	"$(src -c "SELECT string_agg(DISTINCT who || ': ' || fn, ', ') FROM public.pwned WHERE who LIKE 'walpipe%'")"
assert_eq "and walpipe did its work" 1 "$(ana -c "SELECT count(*) FROM analytics.fact_users")"
echo "ok: run_search_path"

# lib.sh: shared setup of the benchmarks; source it beside throwaway
# clusters, with src() defined.

# bench_load_ev ROWS: a 10-column table ev, a slot "base" made before the
# load, then ROWS rows inserted in transactions of 10 by two pgbench
# clients (the small-transaction OLTP shape).
bench_load_ev() {
	src >/dev/null <<'SQL'
CREATE TABLE ev (id bigint PRIMARY KEY, user_id bigint, kind text,
	amount numeric(15,4), ok boolean, at timestamptz, payload jsonb,
	note text, score double precision, tags text[]);
SELECT 1 FROM pg_create_logical_replication_slot('base', 'wal2json');
SQL
	echo "bench: loading $1 rows in transactions of 10 rows" >&2
	cat >"$T/oltp.sql" <<'SQL'
\set id random(1, 1000000000000)
BEGIN;
INSERT INTO ev SELECT :id::bigint * 10 + g, g, 'click', g * 1.25, g % 2 = 0, now(),
  jsonb_build_object('page', 'p' || g, 'n', g), 'some note text', g / 3.0,
  ARRAY['a', 'b'] FROM generate_series(0, 9) g ON CONFLICT DO NOTHING;
COMMIT;
SQL
	/usr/lib/postgresql/15/bin/pgbench -n -f "$T/oltp.sql" -t $(($1 / 10 / 2)) -c 2 \
		"$WALPIPE_TEST_SOURCE" >/dev/null
}

# bench_load_big ROWS: the table big of bench/snapshot.sh (bigint key,
# text, numeric, timestamptz, jsonb, boolean) with ROWS rows, analysed.
bench_load_big() {
	echo "bench: loading $1 rows into big" >&2
	src -c "CREATE TABLE big (id bigint PRIMARY KEY, a text, b numeric(12,2), c timestamptz, d jsonb, e boolean)" \
		-c "INSERT INTO big SELECT g, md5(g::text), g / 7.0, now(), jsonb_build_object('k', g), g % 2 = 0
			FROM generate_series(1, $1) g" -c "VACUUM ANALYZE big"
}

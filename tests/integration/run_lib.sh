# run_lib.sh: shared setup of `walpipe run` integration tests: the shop
# schema on the source, fact tables on the analytics side, a config, a
# workload, and checksums of source against analytics.

src() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_SOURCE" "$@"; }
ana() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_ANALYTICS" "$@"; }

run_setup_schema() {
	src <<'SQL'
CREATE TABLE public.users (id bigint PRIMARY KEY, name text, email text,
  bio text, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE public.orders (id bigint PRIMARY KEY, user_id bigint,
  amount numeric(12,2), status text, created_at timestamptz DEFAULT now());
CREATE TABLE public.order_events (id bigserial PRIMARY KEY, order_id bigint,
  kind text, value numeric, payload jsonb, created_at timestamptz DEFAULT now());
CREATE TABLE public.ignored (id int PRIMARY KEY, x text);
CREATE FUNCTION shop_workload(rounds int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r int;
  uid bigint;
  oid bigint;
BEGIN
  FOR r IN 1..rounds LOOP
    uid := (random() * 200)::bigint;
    oid := (random() * 400)::bigint;
    INSERT INTO users (id, name, email, bio)
      VALUES (uid, 'user ' || uid, CASE WHEN random() < 0.2 THEN NULL ELSE 'u' || uid || '@x' END,
              CASE WHEN random() < 0.3 THEN repeat(md5(random()::text), 300) ELSE 'short' END)
      ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name || ' again';
    INSERT INTO orders VALUES (oid, uid, round((random() * 1000)::numeric, 2),
      (ARRAY['new', 'paid', 'shipped', 'test'])[1 + (random() * 3)::int], now())
      ON CONFLICT (id) DO UPDATE SET status = 'paid', amount = orders.amount + 1;
    INSERT INTO order_events (order_id, kind, value, payload)
      VALUES (oid, 'status', random() * 2e6 - 5e5, jsonb_build_object('order_id', oid, 'n', r));
    IF random() < 0.3 THEN
      -- bio unchanged: a TOASTed bio arrives absent from the update
      UPDATE users SET email = 'changed' || r WHERE id = (random() * 200)::bigint;
    END IF;
    IF random() < 0.15 THEN
      DELETE FROM orders WHERE id = (random() * 400)::bigint;
    END IF;
    IF random() < 0.1 THEN
      DELETE FROM users WHERE id = (random() * 200)::bigint;
    END IF;
  END LOOP;
END $$;
SQL
	ana <<'SQL'
CREATE SCHEMA analytics;
CREATE TABLE analytics.fact_users (user_id bigint PRIMARY KEY, name text,
  email text, bio text, signed_up timestamptz, source_lsn pg_lsn, op text);
CREATE TABLE analytics.fact_orders (order_id bigint PRIMARY KEY,
  customer_id bigint, amount numeric(15,4) NOT NULL, status text,
  placed_at timestamptz, deleted_at timestamptz);
CREATE TABLE analytics.fact_user_events (id bigserial PRIMARY KEY,
  order_id bigint NOT NULL, event_type text, event_value numeric(15,4),
  metadata jsonb, source text, event_at timestamptz);
SQL
}

# run_config FILE [EXTRA YAML]
run_config() {
	cat >"$1" <<EOF
source:
  name: shop
  conninfo: "$WALPIPE_TEST_SOURCE"
  slot: walpipe_shop
  create_slot: true
  tables: [public.users, public.orders, public.order_events]
target:
  conninfo: "$WALPIPE_TEST_ANALYTICS"
  schema: walpipe
batch: { max_changes: ${BATCH_CHANGES:-500}, max_bytes: 16MB, max_delay: 100ms }
staging:
  table: staging.raw_events
  partition: month
  premake: 2
mappings:
  - from: public.users
    to: analytics.fact_users
    mode: upsert
    key: [user_id]
    columns:
      user_id: id
      name: name
      email: email
      bio: bio
      signed_up: created_at
      source_lsn: \$lsn
      op: \$op
  - from: public.orders
    to: analytics.fact_orders
    mode: upsert
    key: [order_id]
    columns:
      order_id: id
      customer_id: user_id
      amount: { from: amount, type: "numeric(15,4)" }
      status: status
      placed_at: created_at
    on_delete: delete
  - from: public.order_events
    to: analytics.fact_user_events
    mode: append
    columns:
      order_id: { from: payload.order_id, type: bigint }
      event_type: kind
      event_value: { sql: "least(greatest(value, 0), 1e6)" }
      metadata: payload
      source: \$source
      event_at: created_at
${2:-}
EOF
}

# A randomized workload in one transaction (bigger than a batch, so it is
# applied in pieces): inserts, upserts, updates that leave a TOASTed value
# out, deletes, NULLs.  run_workload SEED ROUNDS
run_workload() {
	src -c "SELECT setseed($1 / 1000.0)" -c "SELECT shop_workload($2)" >/dev/null
}

# Many small transactions, each of several statements.
run_small_txns() {
	local i
	for i in $(seq 1 "$1"); do
		echo "BEGIN; UPDATE orders SET amount = amount + 0.5 WHERE id % 7 = $i % 7;
			INSERT INTO order_events (order_id, kind, value, payload) VALUES ($i, 'tick', $i, '{\"order_id\": $i}');
			UPDATE users SET name = name || '.' WHERE id = $i % 50; COMMIT;"
	done | src
}

src_checksums() {
	src -c "SELECT md5(coalesce(string_agg(format('%s|%s|%s|%s|%s', id, name, email, md5(coalesce(bio, '')), created_at), ',' ORDER BY id), '')) FROM users" \
		-c "SELECT md5(coalesce(string_agg(format('%s|%s|%s|%s|%s', id, user_id, amount::numeric(15,4), status, created_at), ',' ORDER BY id), '')) FROM orders" \
		-c "SELECT count(*) FROM order_events"
}

ana_checksums() {
	ana -c "SELECT md5(coalesce(string_agg(format('%s|%s|%s|%s|%s', user_id, name, email, md5(coalesce(bio, '')), signed_up), ',' ORDER BY user_id), '')) FROM analytics.fact_users" \
		-c "SELECT md5(coalesce(string_agg(format('%s|%s|%s|%s|%s', order_id, customer_id, amount, status, placed_at), ',' ORDER BY order_id), '')) FROM analytics.fact_orders" \
		-c "SELECT count(*) FROM analytics.fact_user_events"
}

# wait_sql WHAT QUERY [PID]: until QUERY (on the analytics database with
# WHAT = ana, the source with src) answers t; fails if PID exits first.
wait_sql() {
	local i
	for i in $(seq 1 600); do
		[ "$("$1" -c "$2" 2>/dev/null || echo f)" = t ] && return 0
		if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then
			echo "walpipe exited while waiting" >&2
			return 1
		fi
		sleep 0.2
	done
	echo "timed out waiting for: $2" >&2
	return 1
}

# wait_caught_up [PID]: until walpipe's checkpoint reaches the source's
# current WAL end (fails if PID exits first).
wait_caught_up() {
	wait_sql ana "SELECT coalesce((SELECT lsn FROM walpipe.checkpoints WHERE source = 'shop'), '0/0') >= '$(src -c "SELECT pg_current_wal_lsn()")'" "${1:-}"
}

# The number of row changes (I/U/D/T) of the mapped tables the source made
# since the witness slot was created.
source_change_count() {
	src -c "SELECT count(*) FROM pg_logical_slot_peek_changes('witness', NULL, NULL,
		'format-version', '2', 'add-tables', 'public.users,public.orders,public.order_events')
		WHERE data::jsonb->>'action' IN ('I', 'U', 'D', 'T')"
}

# run_start CONFIG LOG: start `walpipe run` in the background (its pid in
# $pid) and wait until its slot exists.
run_start() {
	"$WALPIPE_BIN" run -c "$1" 2>>"$2" &
	pid=$!
	for _ in $(seq 1 100); do
		[ "$(src -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'walpipe_shop'")" = 1 ] && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$2" >&2; return 1; }
		sleep 0.1
	done
	echo "walpipe did not create its slot" >&2
	return 1
}

# run_up CONFIG LOG: run_start, then wait until walpipe has written its
# checkpoint (it streams).
run_up() {
	run_start "$1" "$2"
	wait_sql ana "SELECT count(*) = 1 FROM walpipe.checkpoints WHERE source = 'shop'" "$pid"
}

# run_down: SIGTERM walpipe ($pid) and assert that it exits 0.
run_down() {
	kill -TERM "$pid"
	rc=0; wait "$pid" || rc=$?
	assert_eq "SIGTERM exits 0" 0 "$rc"
	pid=
}

# shop_header TABLES [MAX_CHANGES [MAX_DELAY]]: the source, target and
# batch sections of a test configuration that streams TABLES (the body of
# a YAML list), for use inside a here-document.
shop_header() {
	cat <<EOT
source: { ${WALPIPE_PLUGIN:+plugin: $WALPIPE_PLUGIN, }name: shop, conninfo: "$WALPIPE_TEST_SOURCE", slot: walpipe_shop,
          create_slot: true, tables: [$1] }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS", schema: walpipe }
batch: { max_changes: ${2:-1000}, max_bytes: 64MB, max_delay: ${3:-100ms} }
EOT
}

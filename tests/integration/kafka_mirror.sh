# kafka_mirror.sh: a mirror's tables go to Kafka like mapped ones (one
# topic per table, the Debezium envelope), a table created while
# streaming too, and a mirror with kafka: false keeps its tables out.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
. "$WALPIPE_SOURCE_DIR/tests/integration/kafka_lib.sh"
T=$WALPIPE_TEST_TMPDIR

mock_start
src <<'SQL'
CREATE SCHEMA app;
CREATE SCHEMA priv;
CREATE TABLE app.a (id int PRIMARY KEY, v text);
CREATE TABLE priv.p (id int PRIMARY KEY, secret text);
SQL
cat >"$T/k.yaml" <<EOF
source: { name: shop, conninfo: "$WALPIPE_TEST_SOURCE", create_slot: true }
target: { conninfo: "$WALPIPE_TEST_ANALYTICS" }
batch: { max_changes: 1000, max_delay: 50ms }
mirror:
  - { from: app.*, to: mirror }
  - { from: priv.*, to: mirror_priv, kafka: false }
kafka:
  brokers: "$BROKERS"
  topic: "{source}.{schema}.{table}"
  format: debezium
  tombstones: false
EOF
run_up "$T/k.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
src -c "INSERT INTO app.a VALUES (1, 'x'), (2, 'y')" -c "INSERT INTO priv.p VALUES (1, 's')" \
	-c "UPDATE app.a SET v = 'z' WHERE id = 2" -c "DELETE FROM app.a WHERE id = 1" \
	-c "CREATE TABLE app.fresh (id int PRIMARY KEY)" -c "INSERT INTO app.fresh VALUES (7)" \
	-c "UPDATE priv.p SET secret = 't'"
end=$(src -c "SELECT pg_current_wal_lsn()")
wait_sql ana "SELECT to_regclass('mirror.fresh') IS NOT NULL" "$pid"
wait_caught_up "$pid"
wait_slot_at "$end" "$pid"
kafka_load km
assert_eq "a topic per mirrored table, none for kafka: false" \
	"shop.app.a,shop.app.fresh" \
	"$(ana -c "SELECT string_agg(DISTINCT topic, ',' ORDER BY topic) FROM km_v")"
assert_eq "every change of app.a once, in order" "c c u d" \
	"$(ana -c "SELECT string_agg(op, ' ' ORDER BY lsn, txn_pos) FROM km_v WHERE topic = 'shop.app.a'")"
assert_eq "the new table's insert" '{"id": 7}' \
	"$(ana -c "SELECT string_agg((value->'after')::text, ' ') FROM km_v WHERE topic = 'shop.app.fresh'")"
assert_eq "analytics = source" "$(src -c "SELECT string_agg(t::text, ',' ORDER BY id) FROM priv.p t")" \
	"$(ana -c "SELECT string_agg(t::text, ',' ORDER BY id) FROM mirror_priv.p t")"
run_down

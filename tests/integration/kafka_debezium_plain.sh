# kafka_debezium_plain.sh: kafka_debezium.sh with kafka.schemas off: the
# same payloads, without JsonConverter's schema wrapper; and the other
# interval.handling.mode (string) and hstore.handling.mode (map).
SCHEMAS=false
INTERVAL_MODE=string
HSTORE_MODE=map
. "$WALPIPE_SOURCE_DIR/tests/integration/kafka_debezium.sh"

# kafka_debezium_plain.sh: kafka_debezium.sh with kafka.schemas off: the
# same payloads, without JsonConverter's schema wrapper.
SCHEMAS=false
. "$WALPIPE_SOURCE_DIR/tests/integration/kafka_debezium.sh"

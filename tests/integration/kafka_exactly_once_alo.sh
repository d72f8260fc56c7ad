# kafka_exactly_once_alo.sh: kafka_exactly_once.sh with the at-least-once
# default (no Kafka transactions): the restarts' dedupe alone makes every
# change arrive once.
TXN=false
. "$WALPIPE_SOURCE_DIR/tests/integration/kafka_exactly_once.sh"

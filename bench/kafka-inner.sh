# kafka-inner.sh: the body of bench/kafka.sh, run beside throwaway clusters.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
T=$WALPIPE_TEST_TMPDIR
ROWS=${ROWS:-200000}   # rows, inserted in transactions of 10
src() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_SOURCE" "$@"; }
ana() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_ANALYTICS" "$@"; }
fail() { echo "bench: $*" >&2; exit 1; }
. "$WALPIPE_SOURCE_DIR/tests/integration/kafka_lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_load_ev "$ROWS"
for s in a b; do
	ana -c "CREATE TABLE IF NOT EXISTS public.fact_ev_$s (id bigint PRIMARY KEY, user_id bigint,
		kind text, amount numeric(15,4), at timestamptz, payload jsonb)"
done
end=$(src -c "SELECT pg_current_wal_lsn()")
rows=$(src -c "SELECT count(*) FROM ev")
echo "bench: $rows rows up to $end" >&2
mock_start

# config NAME KIND (a: analytics, b: analytics + Kafka, c: Kafka alone,
# d: Kafka alone with kafka.transactions)
config() {
	{
		# Kafka alone records its position in state_dir.
		echo "source: { name: s_$1, conninfo: \"$WALPIPE_TEST_SOURCE\", slot: s_$1, status_interval: 100ms, tables: [public.ev], state_dir: \"$T\" }"
		if [ "$2" = a ] || [ "$2" = b ]; then
			echo "target: { conninfo: \"$WALPIPE_TEST_ANALYTICS\" }"
			echo "batch: { max_changes: 10000, max_delay: 200ms }"
			# Stream only: the default initial snapshot would copy the
			# table first and the stream would then skip what it holds.
			echo "snapshot: never"
			echo "mappings:"
			echo "  - { from: public.ev, to: public.fact_ev_$2, key: [id],"
			echo "      columns: { id: id, user_id: user_id, kind: kind, amount: amount, at: at, payload: payload } }"
		fi
		if [ "$2" != a ]; then
			echo "kafka: { brokers: \"$BROKERS\", topic: \"bench.{source}.{table}\","
			[ "$2" = d ] && echo "         transactions: true,"
			echo "         properties: { linger.ms: 20, compression.type: lz4 } }"
		fi
		echo "log: { level: warning }"
	} >"$T/$1.yaml"
}

# measure NAME KIND: seconds until everything of the load is confirmed.
measure() {
	local t0 t1 pid
	src -c "SELECT 1 FROM pg_copy_logical_replication_slot('base', 's_$1')" >/dev/null
	config "$1" "$2"
	"$WALPIPE_BIN" check -q -c "$T/$1.yaml"
	t0=$(date +%s.%N)
	"$WALPIPE_BIN" run -c "$T/$1.yaml" 2>"$T/$1.log" &
	pid=$!
	until [ "$(src -c "SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 's_$1'")" = t ]; do
		kill -0 $pid 2>/dev/null || { cat "$T/$1.log" >&2; fail "walpipe $1 exited"; }
		sleep 0.05
	done
	t1=$(date +%s.%N)
	# walpipe's own CPU time (utime + stime, clock ticks), the machine
	# being shared with both servers and the mock brokers.
	cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' /proc/$pid/stat)
	kill -TERM $pid
	wait $pid || true
	echo "$t0 $t1 $cpu" | awk '{ printf "%.2f %s\n", $2 - $1, $3 }'
}
declare -A best bestcpu
for run in 1 2 3; do
	for k in a b c d; do
		read -r s cpu < <(measure "$k$run" "$k")
		echo "bench: run $run kind $k: $s s, walpipe CPU $cpu s" >&2
		if [ -z "${best[$k]:-}" ] || awk -v a="$s" -v b="${best[$k]}" 'BEGIN { exit !(a < b) }'; then
			best[$k]=$s
			bestcpu[$k]=$cpu
		fi
		ana -c "TRUNCATE public.fact_ev_a, public.fact_ev_b" >/dev/null
	done
done
delivered=$("$WALPIPE_KAFKA_MOCK" consume "$BROKERS" | wc -l)
mock_stop
{
	echo "## walpipe run with Kafka (bench/kafka.sh, ROWS=$ROWS, $(date -u +%Y-%m-%d))"
	echo
	echo "$rows rows in transactions of 10, one mapping (upsert), best of 3;"
	echo "Kafka: librdkafka $("$WALPIPE_BIN" --version | awk '/librdkafka/ { print $2 }') mock cluster (3 brokers, 127.0.0.1), Debezium format, linger.ms 20, lz4."
	echo "Time until the slot is confirmed past the whole load (status_interval 100ms)."
	echo
	echo "| sinks | seconds | rows/s | walpipe CPU s | CPU µs/row |"
	echo "|---|---|---|---|---|"
	for k in a b c d; do
		case $k in a) n="analytics only" ;; b) n="analytics + Kafka" ;; c) n="Kafka only" ;;
			d) n="Kafka only, transactions" ;; esac
		echo "| $n | ${best[$k]} | $(awk -v r="$rows" -v s="${best[$k]}" 'BEGIN { printf "%.0f", r / s }') | ${bestcpu[$k]} | $(awk -v r="$rows" -v c="${bestcpu[$k]}" 'BEGIN { printf "%.1f", c * 1e6 / r }') |"
	done
	echo
	echo "Messages in the mock cluster after 9 Kafka runs: $delivered (expected $((rows * 9)); the mock shows aborted transactions too)."
} | tee "$BENCH_OUT/kafka.md"

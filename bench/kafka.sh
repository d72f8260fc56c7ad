#!/usr/bin/env bash
# kafka.sh: `walpipe run` throughput with the analytics sink alone, with
# the analytics sink and Kafka, and with Kafka alone, on identical copies
# of one slot; Kafka is librdkafka's mock cluster (tests/tools/kafka_mock)
# on 127.0.0.1.  Usage: bench/kafka.sh [BUILD_DIR] (default: build)
# Results: bench/results/kafka.md.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
[ -x "$build/walpipe" ] && [ -x "$build/tests/kafka_mock" ] ||
	{ echo "bench: build walpipe with Kafka first (tests/run.sh)" >&2; exit 1; }
export WALPIPE_BIN=$build/walpipe WALPIPE_KAFKA_MOCK=$build/tests/kafka_mock
export BENCH_OUT=$root/bench/results WALPIPE_SOURCE_DIR=$root
mkdir -p "$BENCH_OUT"
exec "$root/tests/harness/with-clusters" --timeout 3000 bash "$root/bench/kafka-inner.sh"

#!/usr/bin/env bash
# run.sh: run the libFuzzer targets for a while each.
#
# Usage: tests/fuzz/run.sh [--build DIR] [--seconds N] [TARGET...]
#   TARGET     wal2json, replproto, config, names, xidsnap, kafka_msg,
#              pgoutput (default: all)
#   --build    a build directory configured with CC=clang and
#              -DWALPIPE_FUZZ=ON (default: build-fuzz, configured and built
#              here when missing)
#   --seconds  time per target (default 60)
# Each target starts from its seeds (tests/data, tests/fuzz/seeds) and its
# regression inputs (tests/fuzz/regressions/TARGET: every crash found goes
# there), in a scratch corpus that is removed afterwards.  A crash, leak,
# timeout (10 s per input) or 2 GiB of memory fails the run and leaves the
# input in the scratch directory, whose path is printed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

build=$root/build-fuzz
seconds=60
targets=()
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	-h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
[ ${#targets[@]} -gt 0 ] || targets=(wal2json replproto config names xidsnap kafka_msg pgoutput kafka_pos)

if [ ! -x "$build/fuzz_wal2json" ]; then
	command -v clang >/dev/null || { echo "run.sh: clang is not installed (apt-get install clang)" >&2; exit 2; }
	CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWALPIPE_FUZZ=ON >/dev/null
	cmake --build "$build" -j "$(nproc)" --target fuzz_wal2json fuzz_replproto fuzz_config fuzz_names fuzz_xidsnap fuzz_kafka_msg fuzz_pgoutput fuzz_kafka_pos >/dev/null
fi

seeds_of() {
	case "$1" in
	wal2json) echo "$root/tests/data/wal2json" ;;
	replproto) echo "$here/seeds/replproto" ;;
	names) echo "$here/seeds/names" ;;
	xidsnap) echo "$here/seeds/xidsnap" ;;
	kafka_msg) echo "$here/seeds/kafka_msg" ;;
	pgoutput) echo "$here/seeds/pgoutput" ;;
	kafka_pos) echo "$here/seeds/kafka_pos" ;;
	config) echo "$root/tests/data/config/good $root/tests/data/config/bad $root/tests/data/config/kafka $root/conf" ;;
	*) echo "run.sh: unknown target \"$1\" (wal2json, replproto, config, names, xidsnap, kafka_msg, pgoutput, kafka_pos)" >&2; exit 2 ;;
	esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${targets[@]}"; do
	seeds=$(seeds_of "$t")
	work=$(mktemp -d "${TMPDIR:-/tmp}/walpipe-fuzz-$t.XXXXXX")
	mkdir "$work/corpus"
	dirs=("$work/corpus")
	for d in $seeds "$here/regressions/$t"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	echo "==> fuzz_$t for ${seconds}s (seeds: ${dirs[*]:1})"
	if "$build/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$work/" "${dirs[@]}" >"$work/log" 2>&1; then
		grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$work/log" | tr '\n' ' '
		echo "corpus: $(ls "$work/corpus" | wc -l) inputs; ok"
		rm -rf "$work"
	else
		tail -40 "$work/log"
		echo "FAIL: fuzz_$t found a problem; input and log kept in $work" >&2
		status=1
	fi
done
exit $status

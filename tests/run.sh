#!/usr/bin/env bash
# run.sh: install dependencies, build walpipe and run the whole test suite.
#
# Usage: tests/run.sh [--sanitize] [CTEST ARGS...]
#   --sanitize   build in build-asan/ with AddressSanitizer and UBSan, and
#                then run the libFuzzer targets briefly (ctest -L fuzz in
#                build-fuzz/, built with clang; tests/fuzz/run.sh runs
#                them longer)
#   CTEST ARGS   passed to ctest, e.g. -L unit or -R stream
# Run as root or as a user with sudo (for the apt-get step only).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
	shift
	build=build-asan
	cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DWALPIPE_SANITIZE=ON)
	# Any report fails the test that caused it.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:halt_on_error=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi

packaging/install-deps.sh
echo "==> configuring $build (${cmake_args[*]})"
cmake -S . -B "$build" "${cmake_args[@]}" >/dev/null
echo "==> building $build"
cmake --build "$build" -j "$(nproc)"
echo "==> testing $build"
ctest --test-dir "$build" --output-on-failure -j 2 "$@"
if [ "$build" = build-asan ] && [ $# -eq 0 ]; then
	echo "==> fuzzing (build-fuzz, clang)"
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DWALPIPE_FUZZ=ON -DWALPIPE_TESTS=OFF >/dev/null
	# Every target tests/fuzz/CMakeLists.txt defines (a list here fell
	# behind once: ctest ran a target that was never built).
	fuzz=$(sed -n 's/^foreach(target \(.*\))$/\1/p' tests/fuzz/CMakeLists.txt)
	[ -n "$fuzz" ] || { echo "run.sh: no fuzz targets in tests/fuzz/CMakeLists.txt" >&2; exit 1; }
	# shellcheck disable=SC2046
	cmake --build build-fuzz -j "$(nproc)" --target $(printf 'fuzz_%s ' $fuzz)
	ctest --test-dir build-fuzz --output-on-failure -L fuzz -j 2
fi

#!/usr/bin/env bash
# demo.sh: the README's demo command.  For now: build and show the CLI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
packaging/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
build/walpipe --version
echo
build/walpipe --help

#!/usr/bin/env bash
# parse.sh: capture real wal2json output and time three JSON parsers on it.
# Usage: bench/parse.sh [ROWS]   (needs libyajl-dev and libjansson-dev)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BENCH_ROWS=${1:-100000} BENCH_OUT=$root/bench/results
mkdir -p "$BENCH_OUT"
cmake -S "$root" -B "$root/build" >/dev/null
cmake --build "$root/build" --target w2j_parse_bench >/dev/null
"$root/tests/harness/with-clusters" bash -c '
set -euo pipefail
psql -XAtq -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_SOURCE" <<SQL >/dev/null
CREATE TABLE ev (id bigint PRIMARY KEY, user_id bigint, kind text,
  amount numeric(15,4), ok boolean, at timestamptz, payload jsonb,
  note text, score double precision, tags text[]);
SELECT 1 FROM pg_create_logical_replication_slot(\$\$b\$\$, \$\$wal2json\$\$);
INSERT INTO ev SELECT g, g % 977, \$\$click\$\$, g * 1.25, g % 2 = 0, now(),
  jsonb_build_object(\$\$page\$\$, \$\$/p/\$\$ || g, \$\$n\$\$, g), \$\$a note with \"quotes\" and ü\$\$,
  g / 3.0, ARRAY[\$\$a\$\$, \$\$b\$\$] FROM generate_series(1, $BENCH_ROWS) g;
UPDATE ev SET kind = \$\$view\$\$ WHERE id % 10 = 0;
SQL
psql -XAtq -d "$WALPIPE_TEST_SOURCE" -c "SELECT data FROM pg_logical_slot_peek_changes(\$\$b\$\$, NULL, NULL,
  \$\$format-version\$\$, \$\$2\$\$, \$\$include-xids\$\$, \$\$1\$\$, \$\$include-timestamp\$\$, \$\$1\$\$,
  \$\$include-lsn\$\$, \$\$1\$\$, \$\$include-pk\$\$, \$\$1\$\$, \$\$include-types\$\$, \$\$1\$\$)" > "$WALPIPE_TEST_TMPDIR/capture.jsonl"
cp "$WALPIPE_TEST_TMPDIR/capture.jsonl" /tmp/walpipe-capture.jsonl
'
"$root/build/w2j_parse_bench" /tmp/walpipe-capture.jsonl 5 | tee "$BENCH_OUT/parse.md"
[ -n "${KEEP_CAPTURE:-}" ] || rm -f /tmp/walpipe-capture.jsonl

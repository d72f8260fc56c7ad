# stream-inner.sh: the body of bench/stream.sh, run beside throwaway clusters.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
W=$WALPIPE_BIN
T=$WALPIPE_TEST_TMPDIR
ROWS_OLTP=${ROWS_OLTP:-300000}     # rows in small transactions
ROWS_HUGE=${ROWS_HUGE:-1000000}    # rows in one transaction
src() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$WALPIPE_TEST_SOURCE" "$@"; }
RECV=/usr/lib/postgresql/15/bin/pg_recvlogical
W2J_OPTS=(-o format-version=2 -o include-xids=1 -o include-timestamp=1
	-o include-lsn=1 -o include-pk=1 -o include-types=1)

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_load_ev "$ROWS_OLTP"
end=$(src -c "SELECT pg_current_wal_lsn()")
changes=$(src -c "SELECT count(*) FROM pg_logical_slot_peek_changes('base', '$end', NULL, 'format-version', '2')")
echo "bench: $changes wal2json messages up to $end" >&2

measure() { # NAME CMD...: prints "seconds rss_kb"
	local name=$1
	shift
	/usr/bin/time -f "%e %M %U %S" -o "$T/$name.time" "$@" >/dev/null 2>"$T/$name.err" ||
		{ cat "$T/$name.err" >&2; exit 1; }
	cat "$T/$name.time"
}
results=()
for run in 1 2 3; do
	for s in r w n; do
		src -c "SELECT 1 FROM pg_copy_logical_replication_slot('base', '$s$run')" >/dev/null
	done
	r=$(measure recv$run "$RECV" -d "$WALPIPE_TEST_SOURCE" --slot "r$run" --start -E "$end" \
		"${W2J_OPTS[@]}" -f /dev/null --no-loop)
	w=$(measure walp$run "$W" stream --source "$WALPIPE_TEST_SOURCE" --slot "w$run" --endpos "$end" --no-loop)
	n=$(measure notypes$run "$W" stream --source "$WALPIPE_TEST_SOURCE" --slot "n$run" --endpos "$end" --no-loop --no-types)
	results+=("$r|$w|$n")
	echo "bench: run $run: pg_recvlogical $r / walpipe $w / walpipe --no-types $n (s rss_kb user sys)" >&2
done

# Best of three for each (least disturbed by the other core).
best() { printf '%s\n' "${results[@]}" | cut -d'|' -f"$1" | sort -n | head -n 1; }
r=$(best 1); w=$(best 2); nt=$(best 3)
rs=$(echo "$r" | cut -d' ' -f1); ws=$(echo "$w" | cut -d' ' -f1); ns=$(echo "$nt" | cut -d' ' -f1)

echo "bench: one transaction of $ROWS_HUGE rows" >&2
src -c "SELECT 1 FROM pg_create_logical_replication_slot('huge', 'wal2json')" >/dev/null
src -c "INSERT INTO ev SELECT 2000000000000000 + g, g, 'bulk', g, true, now(), '{}', 'n', 1, '{}' FROM generate_series(1, $ROWS_HUGE) g"
hend=$(src -c "SELECT pg_current_wal_lsn()")
h=$(measure huge "$W" stream --source "$WALPIPE_TEST_SOURCE" --slot huge --endpos "$hend" --no-loop)
hs=$(echo "$h" | cut -d' ' -f1); hrss=$(echo "$h" | cut -d' ' -f2)

awk -v n="$changes" -v rs="$rs" -v ws="$ws" -v ns="$ns" -v r="$r" -v w="$w" -v nt="$nt" -v hs="$hs" -v hrss="$hrss" \
	-v hrows="$ROWS_HUGE" -v date="$(date -u +%Y-%m-%dT%H:%MZ)" 'BEGIN {
	split(r, ra, " "); split(w, wa, " "); split(nt, na, " ");
	printf "# walpipe stream vs pg_recvlogical (%s)\n\n", date;
	printf "Same slot contents (%d wal2json messages, small transactions), same options, best of 3.\n\n", n;
	printf "| consumer | seconds | messages/s | peak RSS (MB) | user+sys CPU s |\n|---|---|---|---|---|\n";
	printf "| pg_recvlogical -f /dev/null | %.2f | %.0f | %.1f | %.2f |\n", rs, n / rs, ra[2] / 1024, ra[3] + ra[4];
	printf "| walpipe stream > /dev/null | %.2f | %.0f | %.1f | %.2f |\n", ws, n / ws, wa[2] / 1024, wa[3] + wa[4];
	printf "| walpipe stream --no-types > /dev/null | %.2f | %.0f | %.1f | %.2f |\n\n", ns, n / ns, na[2] / 1024, na[3] + na[4];
	printf "**Ratio walpipe / pg_recvlogical (rate): %.2f**; include-types off: %.2f\n\n", rs / ws, rs / ns;
	printf "One transaction of %d rows: walpipe stream took %.2f s, peak RSS %.1f MB.\n", hrows, hs, hrss / 1024;
}' | tee "$BENCH_OUT/stream.md"

#!/usr/bin/env bash
# report.sh: bench/compare.sh's tables and chart from its raw results.
# Usage: bench/report.sh DIR  (reads compare.tsv and latency.tsv, writes
# compare.md, compare.dat and compare.png there)
set -euo pipefail
O=$1
awk -F'\t' -v date="$(date -u +%Y-%m-%dT%H:%MZ)" -v lat="$O/latency.tsv" '
function name(c) {
	if (c == "recv") return "pg_recvlogical > /dev/null (decode limit)";
	if (c == "recvpg") return "pg_recvlogical, pgoutput > /dev/null (pgoutput decode limit)";
	if (c == "wpp") return "walpipe on pgoutput: tables";
	if (c == "native") return "native logical replication";
	if (c == "wpa") return "walpipe: tables";
	return "walpipe: staging + tables";
}
{
	# Several passes of one contender: keep the fastest (least disturbed
	# by the rest of the machine), but any failed check shows.
	split($4, r, " ");   # seconds rss_kb client_s backend_s walsender_s
	k = ($1 SUBSEP $2);
	if ($5 == "DIFFERENT") bad[k] = 1;
	npass[k]++;
	if (!(k in row)) { row[k] = ++NRW; w[NRW] = $1; c[NRW] = $2 }
	else if (r[1] >= sec[row[k]]) next;
	i = row[k];
	n[i] = $3; sec[i] = r[1]; rss[i] = r[2]; cpu[i] = r[3] + r[4]; ws[i] = r[5];
	chk[i] = $5; rate[$1, $2] = $3 / r[1];
	if (!($1 in seen)) { seen[$1] = 1; order[++nw] = $1 }
}
END {
	printf "# walpipe against the limits (%s)\n\n", date;
	printf "Each contender alone, reading the same WAL from its own slot; several\n";
	printf "passes: the fastest is shown. CPU: the\n";
	printf "client process plus the analytics backend applying for it (native: its\n";
	printf "apply worker); decode: the source walsender. RSS: the client process\n";
	printf "(native: the apply worker, shared memory included).\n\n";
	printf "| workload | contender | changes | s | changes/s | x decode limit | x native | CPU s / M changes | decode CPU s / M | peak RSS MB | analytics = source |\n";
	printf "|---|---|---|---|---|---|---|---|---|---|---|\n";
	for (i = 1; i <= NRW; i++) {
		# The pgoutput contenders against the pgoutput decode limit.
		d = rate[w[i], (c[i] == "wpp" || c[i] == "recvpg") ? "recvpg" : "recv"];
		nat = rate[w[i], "native"];
		if ((w[i] SUBSEP c[i]) in bad) chk[i] = "DIFFERENT";
		printf "| %s | %s | %d | %.2f | %.0f | %s | %s | %.1f | %.1f | %.1f | %s |\n",
			w[i], name(c[i]) (npass[w[i], c[i]] > 1 ? sprintf(" (best of %d)", npass[w[i], c[i]]) : ""), n[i], sec[i], rate[w[i], c[i]],
			d ? sprintf("%.2f", rate[w[i], c[i]] / d) : "-",
			nat ? sprintf("%.2f", rate[w[i], c[i]] / nat) : "-",
			cpu[i] * 1e6 / n[i], ws[i] * 1e6 / n[i], rss[i] / 1024, chk[i];
	}
	printf "\n## Commit-to-visible delay at a fixed rate\n\n";
	printf "| contender | rows | p50 ms | p99 ms | max ms | load tps (5 rows each) | analytics = source |\n|---|---|---|---|---|---|---|\n";
	while ((getline line < lat) > 0) {
		split(line, f, "\t"); split(f[2], p, " ");
		printf "| %s | %d | %s | %s | %s | %.0f | %s |\n", name(f[1]), p[1], p[2], p[3], p[4], f[3], f[4];
	}
	# Chart data: one row per workload, changes/s per contender.
	dat = FILENAME; sub(/compare.tsv$/, "compare.dat", dat);
	printf "# workload recv native wpa wpb recvpg wpp\n" > dat;
	for (i = 1; i <= nw; i++)
		printf "%s %.0f %.0f %.0f %.0f %.0f %.0f\n", order[i], rate[order[i], "recv"], rate[order[i], "native"],
			rate[order[i], "wpa"], rate[order[i], "wpb"], rate[order[i], "recvpg"], rate[order[i], "wpp"] > dat;
}' "$O/compare.tsv" | tee "$O/compare.md"
if command -v gnuplot >/dev/null; then
	gnuplot <<GP
set terminal pngcairo size 900,500 noenhanced
set output "$O/compare.png"
set title "Changes per second, each contender alone on the same WAL (higher is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "changes/s"
set key top right
set grid ytics
plot "$O/compare.dat" using 2:xtic(1) title "pg_recvlogical (decode limit)", \
     "" using 3 title "native logical replication", \
     "" using 4 title "walpipe: tables", \
     "" using 5 title "walpipe: staging + tables", \
     "" using 6 title "pg_recvlogical, pgoutput (its decode limit)", \
     "" using 7 title "walpipe on pgoutput: tables"
GP
	echo "chart: $O/compare.png" >&2
fi

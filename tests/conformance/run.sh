#!/usr/bin/env bash
# run.sh: the conformance suite.  Each scenario in scenarios/NAME.sql (ported
# from PostgreSQL's subscription tests and wal2json's regression tests) runs
# in two batch modes on fresh databases of one pair of clusters: source DDL,
# a wal2json slot, the DML, then `walpipe run` until its checkpoint reaches
# the source's WAL end; every compared table must then hold on the analytics
# side exactly the rows of the source (or of the scenario's expect query),
# with no dead letter and exit status 0 after SIGTERM.  See README.md.
#
# Usage: tests/conformance/run.sh [--mode MODE]... [--keep] [NAME...]
#   NAME     scenarios to run (default: all); a trailing .sql is ignored
#   --mode   batch1 (every change its own batch) or batch100k (everything in
#            one batch); repeatable; default both
#   --keep   keep the databases of failed and xfail runs (useful inside a
#            shell of tests/harness/with-clusters)
# Outside the harness (no WALPIPE_TEST_SOURCE) it runs itself under
# tests/harness/with-clusters.  WALPIPE_BIN defaults to build/walpipe.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

args=("$@")
modes=()
keep=0
names=()
while [ $# -gt 0 ]; do
	case "$1" in
	--mode) modes+=("$2"); shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) names+=("${1%.sql}"); shift ;;
	esac
done
[ ${#modes[@]} -gt 0 ] || modes=(batch1 batch100k)
for m in "${modes[@]}"; do
	case "$m" in
	batch1 | batch100k) ;;
	*) echo "run.sh: unknown mode \"$m\" (batch1 or batch100k)" >&2; exit 2 ;;
	esac
done
if [ ${#names[@]} -eq 0 ]; then
	for f in "$here"/scenarios/*.sql; do
		n=${f##*/}
		names+=("${n%.sql}")
	done
fi
WALPIPE_BIN=${WALPIPE_BIN:-$root/build/walpipe}
# WALPIPE_PLUGIN=pgoutput: the slots use pgoutput, with a publication.
PLUGIN=${WALPIPE_PLUGIN:-wal2json}
[ -x "$WALPIPE_BIN" ] || { echo "run.sh: no walpipe binary at $WALPIPE_BIN" >&2; exit 2; }
if [ -z "${WALPIPE_TEST_SOURCE:-}" ]; then
	export WALPIPE_BIN
	exec "$root/tests/harness/with-clusters" --timeout 1150 bash "$here/run.sh" "${args[@]}"
fi

if [ -n "${WALPIPE_TEST_TMPDIR:-}" ]; then
	work=$WALPIPE_TEST_TMPDIR/conformance
	rm -rf "$work"
	mkdir -p "$work"
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/conformance.XXXXXX")
fi

# conninfo of database $2 on the cluster of conninfo $1
db_conninfo() {
	local c=$1
	c=$(echo "$c" | sed -E "s/(^| )dbname=[^ ]*//")
	echo "$c dbname=$2"
}
SRC_ADMIN=$WALPIPE_TEST_SOURCE
ANA_ADMIN=$WALPIPE_TEST_ANALYTICS
# q CONNINFO ARGS...: psql, quiet, unaligned, tuples only, stopping at the
# first error.  Every session of the suite, on both sides, has one time zone
# and date style, so that the same data has the same text (walpipe's own
# sessions keep the servers' settings).
q() {
	local c=$1
	shift
	PGTZ=UTC PGDATESTYLE=ISO,MDY psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$c" "$@"
}

# scenario_split FILE DIR: the header and sections of FILE into DIR/header,
# DIR/source, DIR/analytics, DIR/mapping, DIR/dml, DIR/expect; the line
# number of each section's marker into DIR/SECTION.line.
scenario_split() {
	awk -v dir="$2" '
		/^-- @[a-z]+[ \t]*$/ {
			sec = $2
			sub(/^@/, "", sec)
			if (sec !~ /^(source|analytics|mapping|dml|expect)$/) {
				print "unknown section \"-- @" sec "\" at line " NR > "/dev/stderr"
				bad = 1
			}
			seen[sec]++
			print NR > (dir "/" sec ".line")
			next
		}
		sec == "" { print > (dir "/header"); next }
		{ print > (dir "/" sec) }
		END {
			if (!seen["source"] || !seen["dml"]) {
				print "a scenario needs the sections -- @source and -- @dml" > "/dev/stderr"
				bad = 1
			}
			exit bad
		}
	' "$1"
}

# header_field DIR KEY: the value of "-- KEY: value" in the header
header_field() {
	sed -n "s/^-- $2:[ \t]*//p" "$1/header" 2>/dev/null | head -n 1
}

# Table and column names are in walpipe's notation (SQL's: "Quoted" names
# are exact, commas, dots and spaces inside the quotes belong to them).

# split_names LIST: the names of a comma-separated list, one a line
split_names() {
	awk -v s="$1" '
		function trim(x) { gsub(/^[ \t]+|[ \t]+$/, "", x); return x }
		BEGIN {
			for (i = 1; i <= length(s); i++) {
				c = substr(s, i, 1)
				if (c == "\"") quoted = !quoted
				if (c == "," && !quoted) { print trim(cur); cur = ""; continue }
				cur = cur c
			}
			if (trim(cur) != "") print trim(cur)
		}'
}

# schema_of NAME: the part of schema.table before the first dot outside
# quotes (nothing when there is none)
schema_of() {
	awk -v s="$1" 'BEGIN {
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (c == "\"") quoted = !quoted
			else if (c == "." && !quoted) { print substr(s, 1, i - 1); exit }
		}
	}'
}

qualify() { # public.x for x
	if [ -n "$(schema_of "$1")" ]; then echo "$1"; else echo "public.$1"; fi
}

# sql_name NAME: an exact name (from the catalog) in the notation
sql_name() {
	if [[ $1 =~ ^[a-z_][a-z0-9_]*$ ]]; then
		printf '%s' "$1"
	else
		printf '"%s"' "${1//\"/\"\"}"
	fi
}

# yaml_scalar TEXT: TEXT as a YAML scalar (single-quoted unless plain)
yaml_scalar() {
	if [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_.\$]*$ ]]; then
		printf '%s' "$1"
	else
		printf "'%s'" "${1//\'/\'\'}"
	fi
}

# mapping_from FILE: the from: table of each @mapping entry, YAML quotes
# removed
mapping_from() {
	[ -f "$1" ] || return 0
	awk '
		match($0, /^[ \t]*-[ \t]*(\{[ \t]*)?from:[ \t]*/) {
			v = substr($0, RSTART + RLENGTH)
			q = substr(v, 1, 1)
			if (q == "\047" || q == "\"") {
				out = ""
				for (i = 2; i <= length(v); i++) {
					c = substr(v, i, 1)
					if (c == q && q == "\047" && substr(v, i + 1, 1) == q) { out = out c; i++; continue }
					if (c == q) break
					out = out c
				}
				print out
			} else {
				sub(/[ \t]*[,}].*$/, "", v)
				sub(/[ \t]+$/, "", v)
				print v
			}
		}' "$1"
}

# The source catalog of table $2, on conninfo $1: one line "key<TAB>KIND<TAB>
# COL,COL" (KIND pk, unique or none: the key columns of the replica identity
# index, else of the primary key; never INCLUDE columns) and one line per
# column "col<TAB>NAME<TAB>TYPE<TAB>NOTNULL<TAB>USERTYPE<TAB>GENERATED".
# USERTYPE (true/false): walpipe stages user-defined types (enums,
# composites, extension types) as text, which has no implicit cast to them,
# so their mapping gets a type:.  GENERATED: the expression of a stored
# generated column, which the target computes itself (PostgreSQL 15 does not
# publish generated columns; walpipe does not map them).
table_catalog() {
	q "$1" -F $'\t' -v tab="$2" <<'SQL'
WITH r AS (SELECT oid, relreplident FROM pg_class WHERE oid = :'tab'::regclass),
k AS (
  SELECT i.indisprimary, i.indkey, i.indnkeyatts
  FROM pg_index i JOIN r ON i.indrelid = r.oid
  WHERE CASE WHEN r.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END
)
SELECT 'key',
  coalesce((SELECT CASE WHEN indisprimary THEN 'pk' ELSE 'unique' END FROM k), 'none'),
  coalesce((SELECT string_agg(a.attname, ',' ORDER BY g)
    FROM k, generate_series(0, k.indnkeyatts - 1) g, pg_attribute a
    WHERE a.attrelid = (SELECT oid FROM r) AND a.attnum = k.indkey[g]), ''),
  '', '', ''
UNION ALL
(SELECT 'col', a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull::text,
   (coalesce(nullif(t.typbasetype, 0), t.oid) >= 16384)::text,
   CASE WHEN a.attgenerated = 's' THEN pg_get_expr(d.adbin, d.adrelid) ELSE '' END
 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = (SELECT oid FROM r) AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum)
SQL
}

# gen_analytics CATALOG TABLE: CREATE TABLE for the analytics side
gen_analytics() {
	local cat=$1 tab=$2 kind keys cols=() line name type notnull gen
	kind=$(awk -F '\t' '$1 == "key" { print $2 }' "$cat")
	keys=$(awk -F '\t' '$1 == "key" { print $3 }' "$cat")
	while IFS=$'\t' read -r _ name type notnull _ gen; do
		line="$(sql_name "$name") $type"
		[ -n "$gen" ] && line="$line GENERATED ALWAYS AS ($gen) STORED"
		[ "$notnull" = true ] && line="$line NOT NULL"
		cols+=("$line")
	done < <(awk -F '\t' '$1 == "col"' "$cat")
	case "$kind" in
	pk) cols+=("PRIMARY KEY ($(key_names "$keys" sql))") ;;
	unique) cols+=("UNIQUE ($(key_names "$keys" sql))") ;;
	esac
	echo "CREATE SCHEMA IF NOT EXISTS $(schema_of "$tab");"
	local IFS=,
	echo "CREATE TABLE $tab (${cols[*]});"
}

# key_names KEYS sql|yaml: the key columns (catalog names, comma-separated)
# in the notation, for SQL or as YAML scalars
key_names() {
	local k out=() IFS=,
	for k in $1; do
		if [ "$2" = sql ]; then
			out+=("$(sql_name "$k")")
		else
			out+=("$(yaml_scalar "$(sql_name "$k")")")
		fi
	done
	IFS=,
	echo "${out[*]}" | sed 's/,/, /g'
}

# gen_mapping CATALOG TABLE: the 1:1 mapping entry; an upsert on the key,
# an append when the table has none
gen_mapping() {
	local cat=$1 tab=$2 kind keys cols='' name type usertype gen n
	kind=$(awk -F '\t' '$1 == "key" { print $2 }' "$cat")
	keys=$(awk -F '\t' '$1 == "key" { print $3 }' "$cat")
	while IFS=$'\t' read -r _ name type _ usertype gen; do
		[ -n "$gen" ] && continue
		n=$(yaml_scalar "$(sql_name "$name")")
		if [ "$usertype" = true ]; then
			cols+="${cols:+, }$n: { from: $n, type: \"${type//\"/\\\"}\" }"
		else
			cols+="${cols:+, }$n: $n"
		fi
	done < <(awk -F '\t' '$1 == "col"' "$cat")
	echo "  - from: $(yaml_scalar "$tab")"
	echo "    to: $(yaml_scalar "$tab")"
	if [ "$kind" = none ]; then
		echo "    mode: append"
	else
		echo "    mode: upsert"
		echo "    key: [$(key_names "$keys" yaml)]"
	fi
	echo "    columns: { $cols }"
	[ "$kind" = none ] || echo "    on_delete: delete"
	echo "    on_truncate: truncate"
}

# The expect query of analytics table $2 in DIR $1 ("-- expect TABLE: QUERY",
# continued on the following lines up to the next "-- expect" or blank line),
# or nothing.  "-- expect[PLUGIN] TABLE: QUERY" holds only with that plugin
# (what wal2json 2.5 cannot carry, pgoutput does).
expect_query() {
	[ -f "$1/expect" ] || return 0
	awk -v want="$2" -v plugin="$PLUGIN" '
		function flush() { if (cur == want) print q; cur = ""; q = "" }
		/^-- expect(\[[a-z0-9]+\])? [^:]+:/ {
			flush()
			line = $0
			if (line ~ /^-- expect\[/) {
				tag = substr(line, 11)
				sub(/\].*/, "", tag)
				sub(/^-- expect\[[a-z0-9]+\]/, "-- expect", line)
				if (tag != plugin) { cur = "-"; q = ""; next }
			}
			sub(/^-- expect /, "", line)
			name = line
			sub(/:.*/, "", name)
			if (name !~ /\./) name = "public." name
			sub(/^[^:]+:[ \t]*/, "", line)
			cur = name
			q = line
			next
		}
		/^--/ || /^[ \t]*$/ { flush(); next }
		cur != "" { q = q "\n" $0 }
		END { flush() }
	' "$1/expect"
}

# rows CONNINFO QUERY FILE: the rows of QUERY as text, sorted, into FILE;
# prints "count md5"
rows() {
	q "$1" -c "COPY (SELECT t::text FROM ($2) t ORDER BY 1) TO STDOUT" >"$3" || return 1
	echo "$(wc -l <"$3") $(md5sum <"$3" | cut -c1-32)"
}

# Known failures: "NAME reason" or "NAME/MODE reason"; "NAME[PLUGIN]
# reason" only with that plugin, where the scenario may not even run (its
# DML refused by the source) and still counts as xfail.
known_reason() { # NAME MODE
	[ -f "$here/known-failures" ] || return 1
	awk -v n="$1" -v m="$2" -v p="$PLUGIN" '
		/^[ \t]*(#|$)/ { next }
		$1 == n || $1 == n "/" m || $1 == n "[" p "]" { $1 = ""; sub(/^ /, ""); print; found = 1; exit }
		END { exit !found }
	' "$here/known-failures"
}

# Whether NAME is listed as failing only with this plugin.
known_for_plugin() { # NAME
	[ -f "$here/known-failures" ] && grep -q "^$1\[$PLUGIN\][[:space:]]" "$here/known-failures"
}

passed=0 failed=0 xfailed=0
declare -A mode_secs
started=$SECONDS
# The walpipe of the run in progress, stopped if the suite is interrupted
# (with the clusters gone it would retry its connections forever).
wp_pid=
trap '[ -n "$wp_pid" ] && kill -KILL "$wp_pid" 2>/dev/null' EXIT
trap 'exit 130' INT TERM HUP

# scenario_error MESSAGE [OUTPUT [SECTION]]: the scenario itself is broken
# (not walpipe): always a failure, known or not.  The first error of OUTPUT
# (psql's, of SECTION: its line numbers made the scenario file's) joins the
# message, the first lines of OUTPUT are the details.
scenario_error() {
	broken=1
	why="scenario error: $1"
	[ -n "${2:-}" ] || return 0
	if [ -n "${3:-}" ] && [ -f "$d/$3.line" ]; then
		awk -v off="$(cat "$d/$3.line")" -v f="$name.sql" -v sec="$3" '
			match($0, "^psql:[^ ]*/" sec ":[0-9]+:") {
				n = substr($0, RSTART, RLENGTH)
				sub(/:$/, "", n)
				sub(/.*:/, "", n)
				$0 = f ":" (n + off) ":" substr($0, RSTART + RLENGTH)
			}
			{ print }
		' "$2" >"$2.mapped" && mv "$2.mapped" "$2"
	fi
	why+=": $(grep -m 1 -E 'ERROR|error' "$2" | cut -c1-200)"
	detail=$(head -n 20 "$2")
}

# run_one NAME MODE: prints nothing; sets $why to the failure reason (empty
# on success), $detail to the lines shown below a failure and $broken to 1
# when the scenario itself failed.
run_one() {
	local name=$1 mode=$2 file=$here/scenarios/$1.sql
	local d=$work/$name.$mode db=cf_${1}_$2 src ana pid rc lsn tables compare t c
	why='' detail='' broken=0
	[ -f "$file" ] || { scenario_error "no file $file"; return; }
	[[ $name =~ ^[a-z0-9_]+$ ]] || { scenario_error "a name has lower case letters, digits and underscores only"; return; }
	rm -rf "$d"
	mkdir -p "$d"
	if ! scenario_split "$file" "$d" 2>"$d/split.err"; then
		scenario_error "$(cat "$d/split.err")"
		return
	fi
	for t in from what tables; do
		[ -n "$(header_field "$d" "$t")" ] || { scenario_error "the header has no \"-- $t:\" line"; return; }
	done
	db=$(echo "$db" | cut -c1-63)
	src=$(db_conninfo "$SRC_ADMIN" "$db")
	ana=$(db_conninfo "$ANA_ADMIN" "$db")
	for c in "$SRC_ADMIN" "$ANA_ADMIN"; do
		if ! q "$c" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
			-c "CREATE DATABASE $db" >"$d/createdb.out" 2>&1; then
			scenario_error "could not create the databases" "$d/createdb.out"
			return
		fi
	done

	if ! q "$src" -f "$d/source" >"$d/source.out" 2>&1; then
		scenario_error "@source failed" "$d/source.out" source
		return
	fi
	tables=()
	while IFS= read -r t; do
		tables+=("$(qualify "$t")")
	done < <(split_names "$(header_field "$d" tables)")
	compare=()
	while IFS= read -r t; do
		compare+=("$(qualify "$t")")
	done < <(split_names "$(header_field "$d" compare)")
	[ ${#compare[@]} -gt 0 ] || compare=("${tables[@]}")

	# Analytics DDL and mappings, from the source catalog as @source left it.
	: >"$d/mappings.yaml"
	: >"$d/analytics.gen"
	for t in "${tables[@]}"; do
		if ! table_catalog "$src" "$t" >"$d/cat.$t" 2>"$d/cat.err"; then
			scenario_error "could not read the catalog of $t" "$d/cat.err"
			return
		fi
		gen_analytics "$d/cat.$t" "$t" >>"$d/analytics.gen"
		if ! mapping_from "$d/mapping" | grep -Fxq -- "$t"; then
			gen_mapping "$d/cat.$t" "$t" >>"$d/mappings.yaml"
		fi
	done
	[ -f "$d/mapping" ] && cat "$d/mapping" >>"$d/mappings.yaml"
	if [ -f "$d/analytics" ]; then
		cp "$d/analytics" "$d/analytics.sql"
	else
		cp "$d/analytics.gen" "$d/analytics.sql"
	fi
	if ! q "$ana" -f "$d/analytics.sql" >"$d/analytics.out" 2>&1; then
		scenario_error "the analytics DDL failed" "$d/analytics.out" analytics
		return
	fi

	local max
	case "$mode" in
	batch1) max=1 ;;
	batch100k) max=100000 ;;
	esac
	# source.tables: the tables, and the sources of the @mapping entries.
	local srctables
	srctables=$({
		printf '%s\n' "${tables[@]}"
		mapping_from "$d/mapping"
	} | sort -u | while IFS= read -r t; do
		printf '%s\n' "$(yaml_scalar "$t")"
	done | awk 'NR > 1 { printf ", " } { printf "%s", $0 }')
	cat >"$d/walpipe.yaml" <<EOF
# $name ($mode), generated by tests/conformance/run.sh
source:
  name: cf
  conninfo: "$src"
  slot: $db
  create_slot: false
  plugin: $PLUGIN
  tables: [$srctables]
target:
  conninfo: "$ana"
  schema: walpipe
batch: { max_changes: $max, max_bytes: 64MB, max_delay: 50ms }
snapshot: never
log: { format: text, level: info }
mappings:
EOF
	cat "$d/mappings.yaml" >>"$d/walpipe.yaml"
	if ! "$WALPIPE_BIN" check -q -c "$d/walpipe.yaml" >"$d/check.out" 2>&1; then
		why="walpipe check refused the configuration"
		detail=$(cat "$d/check.out")
		return
	fi

	# The slot first, then the changes: walpipe streams exactly them.
	# pgoutput: the publication before the slot (it is looked up as of
	# each change), of every table, as a DBA would for a whole database.
	if [ "$PLUGIN" = pgoutput ]; then
		q "$src" -c "CREATE PUBLICATION walpipe_cf FOR ALL TABLES" >/dev/null ||
			{ scenario_error "could not create the publication"; return; }
	fi
	q "$src" -c "SELECT 1 FROM pg_create_logical_replication_slot('$db', '$PLUGIN')" >/dev/null ||
		{ scenario_error "could not create the slot"; return; }
	if ! q "$src" -f "$d/dml" >"$d/dml.out" 2>&1; then
		scenario_error "@dml failed" "$d/dml.out" dml
		return
	fi
	lsn=$(q "$src" -c "SELECT pg_current_wal_lsn()")

	"$WALPIPE_BIN" run -c "$d/walpipe.yaml" >"$d/walpipe.log" 2>&1 &
	pid=$!
	wp_pid=$pid
	local caught=0 early=0
	for _ in $(seq 1 1200); do
		if [ "$(q "$ana" -c "SELECT coalesce((SELECT lsn >= '$lsn' FROM walpipe.checkpoints WHERE source = 'cf'), false)" 2>/dev/null)" = t ]; then
			caught=1
			break
		fi
		kill -0 "$pid" 2>/dev/null || { early=1; break; }
		sleep 0.1
	done
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		wp_pid=
		why="walpipe did not exit within 30 s of SIGTERM"
		detail=$(tail -n 15 "$d/walpipe.log")
		return
	fi
	rc=0
	wait "$pid" || rc=$?
	wp_pid=
	if [ "$caught" = 0 ]; then
		local err
		err=$(grep -m 1 -E '\] (error|fatal):' "$d/walpipe.log" | sed -E 's/^.*\] (error|fatal): //' | cut -c1-300)
		if [ "$early" = 1 ]; then
			why="walpipe exited $rc before its checkpoint reached the source's WAL end $lsn${err:+: $err}"
		else
			why="walpipe's checkpoint did not reach the source's WAL end $lsn in 120 s${err:+: $err}"
		fi
		detail=$(tail -n 15 "$d/walpipe.log")
		return
	fi

	# The contents, table by table.
	local problems=() diffs="" e sq s a total=0
	for t in "${compare[@]}"; do
		e=$(expect_query "$d" "$t")
		sq=${e:-SELECT * FROM $t}
		s=$(rows "$src" "$sq" "$d/rows.src.$t" 2>"$d/rows.err") ||
			{ problems+=("$t: the source query failed: $(head -n 1 "$d/rows.err")"); continue; }
		a=$(rows "$ana" "SELECT * FROM $t" "$d/rows.ana.$t" 2>"$d/rows.err") ||
			{ problems+=("$t: the analytics query failed: $(head -n 1 "$d/rows.err")"); continue; }
		total=$((total + ${s%% *}))
		if [ "$s" != "$a" ]; then
			problems+=("$t differs (source ${s%% *} rows, analytics ${a%% *})")
			diffs+="$(diff -U0 --label "$t on the source${e:+ (expect query)}" --label "$t on analytics" \
				"$d/rows.src.$t" "$d/rows.ana.$t" | grep -v '^@@' | head -n 12 | cut -c1-200)"$'\n'
		fi
	done
	if [ "$total" = 0 ] && [ ${#problems[@]} = 0 ]; then
		scenario_error "every compared table is empty on the source side: the scenario proves nothing"
		return
	fi
	local dl
	dl=$(q "$ana" -c "SELECT count(*) FROM walpipe.dead_letters" 2>/dev/null || echo "?")
	if [ "$dl" != 0 ]; then
		problems+=("$dl dead letter(s)")
		diffs+="$(q "$ana" -c "SELECT format('dead letter: %s %s at %s: %s', target_table, op, lsn, error) FROM walpipe.dead_letters ORDER BY id LIMIT 5" 2>/dev/null)"$'\n'
	fi
	[ "$rc" = 0 ] || problems+=("walpipe exited $rc after SIGTERM")
	if grep -Eq '\] (error|fatal):' "$d/walpipe.log"; then
		problems+=("walpipe logged errors")
	fi
	if [ ${#problems[@]} -gt 0 ]; then
		local IFS=';'
		why=$(printf '%s; ' "${problems[@]}")
		why=${why%; }
		detail="${diffs}--- walpipe log (tail)"$'\n'"$(tail -n 10 "$d/walpipe.log" | cut -c1-300)"
		return
	fi
}

# cleanup_one NAME MODE: drop the slot and both databases
cleanup_one() {
	local db
	db=$(echo "cf_${1}_$2" | cut -c1-63)
	q "$SRC_ADMIN" -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$db'" >/dev/null 2>&1
	q "$SRC_ADMIN" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
	q "$ANA_ADMIN" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
}

for name in "${names[@]}"; do
	for mode in "${modes[@]}"; do
		t0=$SECONDS
		run_one "$name" "$mode"
		mode_secs[$mode]=$((${mode_secs[$mode]:-0} + SECONDS - t0))
		reason=
		known=0
		reason=$(known_reason "$name" "$mode") && known=1
		if [ "$broken" = 1 ] && known_for_plugin "$name"; then
			echo "xfail $name ($mode): $why"
			xfailed=$((xfailed + 1))
		elif [ "$broken" = 1 ]; then
			echo "FAIL $name ($mode): $why"
			[ -n "$detail" ] && echo "$detail" | sed 's/^/    /'
			failed=$((failed + 1))
		elif [ -z "$why" ] && [ "$known" = 0 ]; then
			echo "ok $name ($mode)"
			passed=$((passed + 1))
		elif [ -z "$why" ]; then
			echo "FAIL $name ($mode): XPASS: listed in known-failures ($reason) but passed"
			failed=$((failed + 1))
		elif [ "$known" = 1 ]; then
			echo "xfail $name ($mode): $why"
			xfailed=$((xfailed + 1))
		else
			echo "FAIL $name ($mode): $why"
			[ -n "$detail" ] && echo "$detail" | sed 's/^/    /'
			failed=$((failed + 1))
		fi
		if [ -z "$why" ] || [ "$keep" = 0 ]; then
			cleanup_one "$name" "$mode"
		else
			echo "    kept: databases cf_${name}_$mode, files $work/$name.$mode"
		fi
	done
done
times=
for mode in "${modes[@]}"; do
	times+=", $mode ${mode_secs[$mode]:-0} s"
done
echo "# $xfailed xfail; $((SECONDS - started)) s$times"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

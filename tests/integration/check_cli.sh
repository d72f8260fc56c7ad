# check_cli.sh: `walpipe check` exit codes and output (no database needed).
set -uo pipefail
. "$WALPIPE_TEST_ASSERT"
D=$WALPIPE_SOURCE_DIR/tests/data/config

out=$("$WALPIPE_BIN" check -c "$D/good/one-mapping.yaml" 2>&1); rc=$?
assert_eq "good config exit code" 0 "$rc"
assert_contains "summary names the mapping" "mapping: public.orders -> analytics.fact_orders (upsert on order_id, 2 column(s))" "$out"
# -l is --live's short form (it was refused as an unknown option): an
# invalid file is still reported before any database is asked.
out=$("$WALPIPE_BIN" check -l -c "$D/bad/01-batch-bad-duration.yaml" 2>&1); rc=$?
assert_eq "check -l exit code on an invalid file" 1 "$rc"
assert_contains "check -l reports the file's problem" "01-batch-bad-duration.yaml:" "$out"

# Names in SQL's notation: quoted ones exact, unquoted ones folded, each
# shown back in the form that reads as the same name.
out=$("$WALPIPE_BIN" check -c "$D/good/names.yaml" 2>&1); rc=$?
assert_eq "quoted names exit code" 0 "$rc"
assert_contains "quoted names: staging" 'staging: every change -> "Raw Data"."events ""all""" (by month' "$out"
assert_contains "quoted names: a mapping" 'mapping: "Sales Dept"."order.items" -> analytics."order items é" (upsert on "line ""no""", 1 column(s))' "$out"
assert_contains "unquoted names fold" 'mapping: public.orders -> analytics.orders (upsert on id, 1 column(s))' "$out"

cd "$D/bad"
err=$("$WALPIPE_BIN" check -c 87-name-yaml-quotes-fold.yaml 2>&1 >/dev/null); rc=$?
assert_eq "YAML-quoted folding name exit code" 1 "$rc"
assert_contains "YAML-quoted folding name: the fix" "87-name-yaml-quotes-fold.yaml:13:7: mappings[0].columns.createdAt: name \"createdAt\" would fold to \"createdat\": YAML quotes are not SQL quotes; write '\"createdAt\"' for the exact name" "$err"
err=$("$WALPIPE_BIN" check -c 14-many-errors.yaml 2>&1 >/dev/null); rc=$?
assert_eq "bad config exit code" 1 "$rc"
assert_eq "bad config: every error, then the count" "$(cat 14-many-errors.expected; echo '14-many-errors.yaml: 5 error(s)')" "$err"

err=$("$WALPIPE_BIN" check -c /nonexistent/x.yaml 2>&1); rc=$?
assert_eq "missing file exit code" 2 "$rc"
assert_eq "missing file message" 'could not open configuration file "/nonexistent/x.yaml": No such file or directory' "$err"

"$WALPIPE_BIN" check >/dev/null 2>&1; rc=$?
assert_eq "usage error exit code" 2 "$rc"

# Kafka properties are judged by librdkafka itself, each at its line.
if "$WALPIPE_BIN" --version | grep -q 'librdkafka [0-9]'; then
	cd "$D/kafka"
	err=$("$WALPIPE_BIN" check -c bad-properties.yaml 2>&1 >/dev/null); rc=$?
	assert_eq "refused Kafka properties exit code" 1 "$rc"
	assert_eq "refused Kafka properties, each at its line" 'bad-properties.yaml:17:16: kafka.properties.linger.ms: Configuration property "queue.buffering.max.ms" value -5 is outside allowed range 0..900000
bad-properties.yaml:18:23: kafka.properties.no.such.property: No such configuration property: "no.such.property"
bad-properties.yaml:19:25: kafka.properties.enable.idempotence: walpipe needs the idempotent producer: without it a retried send can duplicate or reorder the changes of a key
bad-properties.yaml: 3 error(s)' "$err"
fi

# Connection strings are read by libpq's own parser (issue 15, item 7):
# every password form is masked in the summary, a string libpq cannot
# parse is an error that never shows its pieces, and a file holding a
# password warns while group or others can read it.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
sed 's|conninfo: "dbname=shop"|conninfo: "postgresql://u:s3cret@h/shop?sslpassword=k3y"|; s|conninfo: "dbname=analytics"|conninfo: "dbname=analytics password = pw2 user=w"|' \
	"$D/good/one-mapping.yaml" >"$T/pw.yaml"
chmod 644 "$T/pw.yaml"
out=$("$WALPIPE_BIN" check -c "$T/pw.yaml" 2>"$T/err"); rc=$?
assert_eq "a file with passwords is valid" 0 "$rc"
assert_contains "URI password and sslpassword masked" 'user=u password=**** dbname=shop host=h sslpassword=****' "$out"
assert_contains "key=value password with spaces masked" 'user=w password=**** dbname=analytics' "$out"
if grep -q 's3cret\|k3y\|pw2' <<<"$out$(cat "$T/err")"; then fail "a password was shown"; fi
assert_eq "readable by others: the warning" "warning: $T/pw.yaml holds a password and is readable by group or others (mode 0644)
chmod 600 it, or move the password to /etc/walpipe/pgpass (the unit's PGPASSFILE, mode 600)." "$(cat "$T/err")"
chmod 600 "$T/pw.yaml"
"$WALPIPE_BIN" check -q -c "$T/pw.yaml" 2>"$T/err"
assert_eq "mode 600: no warning" "" "$(cat "$T/err")"
sed 's|conninfo: "dbname=shop"|conninfo: "host=h hunter2"|' "$D/good/one-mapping.yaml" >"$T/bad.yaml"
err=$("$WALPIPE_BIN" check -c "$T/bad.yaml" 2>&1); rc=$?
assert_eq "unparseable conninfo exit code" 1 "$rc"
assert_contains "unparseable conninfo: the reason, not the pieces" "$T/bad.yaml: source.conninfo: invalid connection string (not shown: it may hold a password): missing \"...\" after \"...\" in connection info string" "$err"
if grep -q hunter2 <<<"$err"; then fail "a piece of the bad conninfo was shown"; fi
echo "ok: check_cli"

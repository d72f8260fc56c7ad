# metrics.sh: scrape /metrics during and after a workload; the counters
# match what the databases hold.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

port=$(pgc_free_port)
scrape() { # PATH -> the HTTP response body (status line kept in $T/status)
	exec 3<>"/dev/tcp/127.0.0.1/$port"
	printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$1" >&3
	cat <&3 >"$T/response"
	exec 3<&-
	head -n 1 "$T/response" >"$T/status"
	sed '1,/^\r$/d' "$T/response"
}
metric() { scrape /metrics | awk -v m="$1" 'index($0, m) == 1 { print $2 }'; }

run_setup_schema
run_config "$T/shop.yaml" "metrics: { listen: \"127.0.0.1:$port\" }
log: { format: json, level: info }"
run_start "$T/shop.yaml" "$T/run.log"
trap 'kill -9 $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do grep -q 'serving metrics' "$T/run.log" && break; sleep 0.1; done

# During the workload the endpoint answers.
(run_workload 5 300; run_small_txns 20) >/dev/null 2>&1 &
wl=$!
up=$(metric 'walpipe_up{source="shop"}')
assert_eq "scraped during the workload: up" 1 "$up"
wait "$wl"
src -c "INSERT INTO orders VALUES (8000, 1, NULL, 'x', now())"   # a dead letter
wait_caught_up "$pid"
sleep 0.3
body=$(scrape /metrics)
assert_contains "HTTP 200" "200" "$(cat "$T/status")"

# Applied changes per table and op equal the staging rows per table and op.
expected=$(ana -c "SELECT format('%s.%s %s %s', source_schema, source_table, op, count(*))
	FROM staging.raw_events GROUP BY source_schema, source_table, op" | LC_ALL=C sort | xargs)
actual=$(echo "$body" | sed -n 's/^walpipe_changes_applied_total{source="shop",table="\([^"]*\)",op="\(.\)"} \([0-9]*\)$/\1 \2 \3/p' | LC_ALL=C sort | xargs)
assert_eq "applied counters match staging per table and op" "$expected" "$actual"
received=$(echo "$body" | awk '/^walpipe_changes_received_total/ { n += $2 } END { print n }')
assert_eq "every received change was applied" "$(ana -c "SELECT count(*) FROM staging.raw_events")" "$received"
assert_eq "dead letters counted" 1 "$(echo "$body" | awk '/^walpipe_dead_letters_total/ { print $2 }')"
# The checkpoint may still move on an idle source (keepalive positions):
# compare at a moment when it is the same before and after the scrape.
ck() { ana -c "SELECT (lsn - '0/0')::bigint FROM walpipe.checkpoints WHERE source = 'shop'"; }
for _ in $(seq 1 20); do
	ck0=$(ck)
	gauge=$(scrape /metrics | awk '/^walpipe_checkpoint_lsn/ { print $2 }')
	ck1=$(ck)
	[ "$ck0" = "$ck1" ] && break
	sleep 0.2
done
assert_eq "checkpoint gauge is the checkpoint" "$ck1" "$gauge"
batches=$(echo "$body" | awk '/^walpipe_batch_duration_seconds_count/ { print $2 }')
inf=$(echo "$body" | awk '/le="\+Inf"/ { print $2 }')
assert_eq "histogram +Inf bucket equals its count" "$batches" "$inf"
[ "$batches" -gt 0 ] || fail "no batches counted"
echo "$body" | grep -q '^walpipe_apply_lag_seconds{source="shop"} [0-9.]*$' || fail "no apply lag"
echo "ok: apply lag exported"

scrape /nope >/dev/null
assert_contains "unknown path is 404" "404" "$(cat "$T/status")"

# 300 idle connections from one address neither hang the endpoint for
# another address nor take walpipe's descriptors (issue 15, item 8).
fds=()
for _ in $(seq 1 300); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$port" && fds+=("$fd")
done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --interface 127.0.0.2 "http://127.0.0.1:$port/metrics" || true)
assert_eq "another address is served beside 300 idle connections" 200 "$code"
nfd=$(ls "/proc/$pid/fd" | wc -l)
[ "$nfd" -lt 100 ] || fail "walpipe holds $nfd descriptors with 300 idle metrics connections"
echo "ok: walpipe holds $nfd descriptors"
src -c "INSERT INTO users (id, name) VALUES (9100, 'after the flood')"
wait_caught_up "$pid"
assert_eq "changes still apply" 1 "$(ana -c "SELECT count(*) FROM staging.raw_events WHERE source_table = 'users' AND (payload -> 'columns' -> 0 ->> 'value') = '9100'")"
for fd in "${fds[@]}"; do exec {fd}<&-; done
kill -TERM "$pid"; wait "$pid" || true
trap - EXIT

# log.format json: every line is one JSON object naming the source.
n=$(wc -l <"$T/run.log")
[ "$n" -ge 3 ] || fail "too few log lines"
ana -c "CREATE TEMP TABLE l (j text)" -c "\\copy l FROM '$T/run.log' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')" \
	-c "SELECT count(*) FILTER (WHERE j::jsonb ->> 'source' = 'shop' AND j::jsonb ? 'ts' AND j::jsonb ? 'level' AND j::jsonb ? 'msg') FROM l" >"$T/logcheck"
assert_eq "every log line is JSON with ts, level, source and msg" "$n" "$(cat "$T/logcheck")"
grep -q '"msg":"stopped at checkpoint' "$T/run.log" || fail "no stop line"
if grep -q 'password' "$T/run.log"; then fail "a password field reached the log"; fi
echo "ok: JSON logs"

# run_scheduling.sh: process.scheduling (bench/README.md, "walpipe as
# SCHED_BATCH").  By default `walpipe run` and every thread it starts run
# as SCHED_BATCH, and mirror exactly; `inherit` keeps the default policy;
# a reset-on-fork flag it was started with is kept; a real-time or idle
# policy chosen by the operator (chrt, systemd's CPUSchedulingPolicy) is
# left alone and said so; a reload cannot change the key.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

command -v chrt >/dev/null || fail "chrt (util-linux) is needed"
run_setup_schema
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT

# policies PID: the scheduling class of each of its threads (ps: TS the
# default, B batch, IDL idle, FF/RR real-time), sorted, one per kind.
policies() { ps -L -o cls= -p "$1" | tr -d ' ' | sort -u | xargs; }

# start NAME [PREFIX...]: walpipe run with $T/NAME.yaml under PREFIX
# (chrt ...), streaming a workload to the end.
start() {
	local name=$1
	shift
	"$@" "$WALPIPE_BIN" run -c "$T/$name.yaml" 2>>"$T/$name.log" &
	pid=$!
	wait_sql ana "SELECT count(*) = 1 FROM walpipe.checkpoints WHERE source = 'shop'" "$pid"
	run_workload "$round" 20
	round=$((round + 1))
	wait_caught_up "$pid"
}

round=1
run_config "$T/batch.yaml"
start batch
# The applier thread and libpq's are there by now: every thread is batch.
[ "$(ps -L -o tid= -p "$pid" | wc -l)" -ge 2 ] || fail "walpipe runs fewer threads than expected"
assert_eq "default: every thread SCHED_BATCH" B "$(policies "$pid")"
read -r s_users s_orders s_events < <(src_checksums | xargs)
read -r a_users a_orders a_events < <(ana_checksums | xargs)
assert_eq "as SCHED_BATCH: fact_users = users" "$s_users" "$a_users"
assert_eq "as SCHED_BATCH: fact_orders = orders" "$s_orders" "$a_orders"
assert_eq "as SCHED_BATCH: fact_user_events rows = order_events rows" "$s_events" "$a_events"

# A reload cannot change it: refused by name, walpipe runs on as it was.
printf 'process: { scheduling: inherit }\n' >>"$T/batch.yaml"
kill -HUP "$pid"
for _ in $(seq 1 50); do grep -q 'process.scheduling cannot change' "$T/batch.log" && break; sleep 0.1; done
assert_contains "a reload refuses a new process.scheduling" \
	'process.scheduling cannot change while walpipe runs; restart it to apply the change' "$(cat "$T/batch.log")"
assert_eq "still SCHED_BATCH after the refused reload" B "$(policies "$pid")"
run_down

# inherit: the policy walpipe was started with.
run_config "$T/inherit.yaml" "process: { scheduling: inherit }"
start inherit
assert_eq "inherit: every thread keeps the default policy" TS "$(policies "$pid")"
run_down

# Started with reset-on-fork: batch, and the flag kept (what walpipe's
# own children, if any, would fall back from).
run_config "$T/reset.yaml"
start reset chrt --reset-on-fork --other 0
assert_contains "the reset-on-fork flag is kept" "SCHED_BATCH|SCHED_RESET_ON_FORK" "$(chrt -p "$pid")"
run_down

# Started as SCHED_IDLE (the operator's choice): left alone, and said.
run_config "$T/idle.yaml"
start idle chrt --idle 0
assert_eq "an idle policy is left alone" IDL "$(policies "$pid")"
assert_contains "and walpipe says so" \
	"process.scheduling: started under SCHED_IDLE, which is left as it is (batch replaces only the default policy)" \
	"$(cat "$T/idle.log")"
run_down

read -r s_users s_orders s_events < <(src_checksums | xargs)
read -r a_users a_orders a_events < <(ana_checksums | xargs)
assert_eq "after every round: fact_users = users" "$s_users" "$a_users"
assert_eq "after every round: fact_orders = orders" "$s_orders" "$a_orders"
assert_eq "after every round: fact_user_events rows = order_events rows" "$s_events" "$a_events"

# harness_cleanup.sh: with-clusters leaves no process and no directory
# behind, whether the test passes, fails, times out or is interrupted.
set -uo pipefail
. "$WALPIPE_TEST_ASSERT"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/walpipe-cleanup.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# Each scenario records the temp dir and postmaster pids it saw, so we can
# check afterwards that exactly those are gone (other tests may run
# clusters of their own at the same time).
record='echo $$ > "$0.sh"; echo "$WALPIPE_TEST_TMPDIR" > "$0.dir";
	for f in "$WALPIPE_TEST_TMPDIR"/*/data/postmaster.pid; do head -n1 "$f"; done > "$0.pids"'

check_gone() {
	local what=$1 tag=$2 dir pid
	dir=$(cat "$scratch/$tag.dir" 2>/dev/null) || fail "$what: scenario did not run"
	[ -n "$dir" ] || fail "$what: no temp dir recorded"
	[ "$(wc -l <"$scratch/$tag.pids")" -eq 2 ] || fail "$what: expected 2 postmasters"
	while read -r pid; do
		if kill -0 "$pid" 2>/dev/null; then
			fail "$what: postmaster $pid still running"
		fi
	done <"$scratch/$tag.pids"
	[ ! -e "$dir" ] || fail "$what: $dir still exists"
	echo "ok: $what leaves nothing behind"
}

"$WALPIPE_WITH_CLUSTERS" bash -c "$record" "$scratch/pass"
assert_eq "passing test exit code" 0 "$?"
check_gone "passing test" pass

"$WALPIPE_WITH_CLUSTERS" bash -c "$record; exit 3" "$scratch/fail" 2>/dev/null
assert_eq "failing test exit code propagates" 3 "$?"
check_gone "failing test" fail

"$WALPIPE_WITH_CLUSTERS" --timeout 2 bash -c "$record; sleep 60" "$scratch/slow" 2>/dev/null
assert_eq "timed-out test exit code" 124 "$?"
check_gone "timed-out test" slow

# Interrupt the harness itself while the test runs.  Job control gives the
# background harness its own process group; without it bash starts
# background jobs with SIGINT ignored, as if nobody could press Ctrl-C.
set -m
"$WALPIPE_WITH_CLUSTERS" bash -c "$record; sleep 60" "$scratch/intr" 2>/dev/null &
harness=$!
for _ in $(seq 1 300); do
	[ -s "$scratch/intr.pids" ] && break
	sleep 0.2
done
kill -INT "$harness"
wait "$harness"
assert_eq "interrupted harness exit code" 130 "$?"
check_gone "interrupted test" intr

# SIGKILL of the harness cannot be trapped: the sweeper removes the rest.
"$WALPIPE_WITH_CLUSTERS" bash -c "$record; sleep 60" "$scratch/kill" 2>/dev/null &
harness=$!
for _ in $(seq 1 300); do
	[ -s "$scratch/kill.pids" ] && break
	sleep 0.2
done
kill -KILL "$harness"
wait "$harness" 2>/dev/null
# Its orphaned test command would otherwise sleep on.
pkill -KILL -P "$(cat "$scratch/kill.sh")" 2>/dev/null
kill -KILL "$(cat "$scratch/kill.sh")" 2>/dev/null
"$(dirname "$WALPIPE_WITH_CLUSTERS")/sweep"
check_gone "killed harness after sweep" kill

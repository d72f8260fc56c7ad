# exact_type_torture.sh: the conformance scenario type_torture (every
# built-in type family, enums, domains, composites, ranges, multiranges,
# hstore, citext, arrays of them) through the initial snapshot as well:
# its rows are inserted before walpipe starts and copied by the snapshot,
# then its changes are made again on top and streamed (issue 14, item 2).
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR
S=$WALPIPE_SOURCE_DIR/tests/conformance/scenarios/type_torture.sql

section() { awk -v s="-- @$1" '/^-- @/ { on = ($0 == s); next } on' "$S"; }
src -c "$(section source)"
ana -c "$(section analytics)"
src -c "$(section dml)"
cat >"$T/torture.yaml" <<EOF
$(shop_header "public.torture, public.torture_user" 1000 50ms)
mappings:
  - { from: public.torture, to: public.torture, key: [id], columns: {
      id: id, i2: i2, i8: i8, num: num, f4: f4, f8: f8, m: m, c: c, vc: vc,
      t: t, b: b, bo: bo, d: d, ti: ti, ttz: ttz, ts: ts, tstz: tstz,
      iv: iv, u: u, j: j, jb: jb, x: x, ip: ip, cd: cd, mac: mac,
      mac8: mac8, bt: bt, vb: vb, tv: tv, tq: tq, p: p, l: l, ls: ls,
      bx: bx, pa: pa, pg: pg, ci: ci, r: r, r8: r8, nr: nr, dr: dr,
      tsr: tsr, tstzr: tstzr, mr: mr, dmr: dmr, lsn: lsn, o: o, ia: ia,
      ta: ta, tm: tm, jba: jba, tsa: tsa, ipa: ipa } }
  - { from: public.torture_user, to: public.torture_user, key: [id],
      columns: { id: id, m: m, md: md, ms: ms, ma: ma, pi: pi, c: c, cs: cs,
                 fr: fr, frs: frs, fmr: fmr, h: h, hs: hs, ct: ct, cts: cts } }
EOF
"$WALPIPE_BIN" check -c "$T/torture.yaml" --live >"$T/check.log" 2>&1 || { cat "$T/check.log"; fail "check --live refused the 1:1 mappings"; }
# Row texts compare every value as its type prints it; json and xml have
# no equality operator, so compare texts, not rows.
sums() { # PSQL_FN TABLE
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY id), '')) FROM $2 t"
}
run_up "$T/torture.yaml" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) = 2 FROM walpipe.snapshot_tables WHERE state = 'done'" "$pid"
for t in torture torture_user; do
	assert_eq "snapshot: $t" "$(sums src $t)" "$(sums ana $t)"
done
# The same changes again, streamed: new keys, and updates and deletes of
# the copied rows.
src -c "DELETE FROM torture WHERE id <> 1" -c "DELETE FROM torture_user WHERE id <> 1" \
	-c "UPDATE torture SET id = 100 WHERE id = 1" -c "UPDATE torture_user SET id = 100 WHERE id = 1"
src -c "$(section dml)"
wait_caught_up "$pid"
for t in torture torture_user; do
	assert_eq "stream: $t" "$(sums src $t)" "$(sums ana $t)"
done
assert_eq "no dead letters" 0 "$(ana -c "SELECT count(*) FROM walpipe.dead_letters")"
run_down
echo "ok: exact_type_torture"

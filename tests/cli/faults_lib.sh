# Shared by the fault-injection tests (sourced; not a test itself). Needs
# $T; defines fail (0 until bad is called), bad, expect_fail and no_partial.
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# expect_fail NAME: the last command's status ($rc) and stderr ($T/err):
# exit 1 and exactly one line "neurospectra: error: <what> (<file>)"
# (warning lines are allowed beside it when FAULTS_ALLOW_WARNINGS=1).
expect_fail() {
  local lines filter=cat
  [ "${FAULTS_ALLOW_WARNINGS:-0}" = 1 ] && filter="grep -v warning:"
  lines=$($filter <"$T/err" | wc -l)
  if [ "$rc" != 1 ]; then
    bad "$1: exit status $rc, expected 1 ($(head -c 300 "$T/err"))"
  elif [ "$lines" != 1 ] || ! $filter <"$T/err" | grep -Eq '^neurospectra: error: .+ \(.+\)$'; then
    bad "$1: expected one line 'neurospectra: error: ... (file)', got $lines:"
    sed 's/^/    /' "$T/err" | head -5
  else
    echo "ok: $1: $($filter <"$T/err")"
  fi
}

# no_partial NAME OUT OLD REF: no hidden temporaries in OUT; every file in
# OUT is identical to its copy in OLD (earlier output) or REF (complete
# run), and no file of OLD was removed.
no_partial() {
  local name=$1 out=$2 old=$3 ref=$4 f rel n=0 kept=0 before=$fail
  fail=0
  if [ -n "$(find "$out" -name '.*' -print -quit)" ]; then
    bad "$name: temporary files left: $(find "$out" -name '.*' | head -3 | tr '\n' ' ')"
  fi
  while IFS= read -r -d '' f; do
    rel=${f#"$out"/}
    n=$((n + 1))
    if [ -f "$old/$rel" ] && cmp -s "$f" "$old/$rel"; then
      kept=$((kept + 1))
    elif ! { [ -f "$ref/$rel" ] && cmp -s "$f" "$ref/$rel"; }; then
      bad "$name: $rel is neither the earlier output nor a complete new one"
    fi
  done < <(find "$out" -type f -print0)
  if [ -d "$old" ]; then
    while IFS= read -r -d '' f; do
      rel=${f#"$old"/}
      [ -f "$out/$rel" ] || bad "$name: earlier output $rel was removed"
    done < <(find "$old" -type f -print0)
  fi
  [ $fail = 0 ] && echo "ok: $name: $n files complete ($kept earlier ones intact), no temporaries"
  [ $before = 0 ] || fail=1
}

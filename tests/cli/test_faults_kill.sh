#!/usr/bin/env bash
# requires: nifti_io ica fnc models report sim
# A batch killed (SIGKILL) at many points and rerun ends with the same
# results as an uninterrupted run. The batch is the BIDS-Apps sequence on a
# small simulated study: `group` (fit the group ICA model), `participant`
# (back-reconstruct every subject), `group` again (FNC features, classifier,
# report). For each stage and each delay, the earlier stages run to the
# end, the stage is killed after the delay, then the whole sequence is run
# again: every output must be byte-identical to the uninterrupted run's,
# except the wall-clock seconds recorded in the run summary and status
# files (their other columns must match). Hidden temporaries the killed
# process could not remove are counted and reported, not failed: the
# outputs under their final names are what the rerun guarantees.
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}" "${NS_SRC:?}"
rm -rf "$NS_TMP"
mkdir -p "$NS_TMP"
T=$NS_TMP
. "$NS_SRC/tests/cli/faults_lib.sh"

"$NS_BIN" simulate "$T/bids" --subjects 6 --shape 16,16 --timepoints 40 --sources 4 --motion -q
stage() { # OUT N: run stage N (1 group, 2 participant, 3 group)
  case $2 in
    1 | 3) "$NS_BIN" "$T/bids" "$1" group --orders 4 --models logreg --folds 2 --nprocs 2 -q ;;
    2) "$NS_BIN" "$T/bids" "$1" participant --nprocs 2 -q ;;
  esac
}
all() { stage "$1" 1 && stage "$1" 2 && stage "$1" 3; }

# The reference, written at the path every later run uses (paths are recorded),
# timing each stage so that the kills land inside it on any machine.
declare -a dur
for s in 1 2 3; do
  t0=$(date +%s.%N)
  stage "$T/out" $s || { echo "FAIL: the uninterrupted batch fails at stage $s"; exit 1; }
  dur[$s]=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.4f", a - b }')
done
mv "$T/out" "$T/ref"

# Same content, but the seconds column of the timing tables dropped.
same() { # A B REL
  case $3 in
    group/desc-run_summary.tsv | work/status/*.tsv)
      diff <(cut -f1-5 "$1") <(cut -f1-5 "$2") >/dev/null ;;
    *) cmp -s "$1" "$2" ;;
  esac
}
compare() { # NAME: $T/out against $T/ref
  local name=$1 f rel n=0 stale
  while IFS= read -r -d '' f; do
    rel=${f#"$T/ref"/}
    n=$((n + 1))
    if [ ! -f "$T/out/$rel" ]; then
      bad "$name: $rel missing after the rerun"
    elif ! same "$f" "$T/out/$rel" "$rel"; then
      bad "$name: $rel differs from the uninterrupted run"
    fi
  done < <(find "$T/ref" -type f -print0)
  stale=0
  while IFS= read -r -d '' f; do
    rel=${f#"$T/out"/}
    [ -f "$T/ref/$rel" ] && continue
    case "/$rel" in
      */.*) stale=$((stale + 1)); echo "$rel" >>"$T/stale.list" ;;  # a hidden temporary
      *) bad "$name: extra file $rel" ;;
    esac
  done < <(find "$T/out" -type f -print0)
  staletotal=$((staletotal + stale))
  echo "ok: $name: $n files identical$([ "$stale" = 0 ] || echo "; $stale stale temporaries left by the kill")"
}

staletotal=0
killed=0
for s in 1 2 3; do
  for frac in 0.1 0.3 0.5 0.7 0.9; do
    d=$(awk -v t="${dur[$s]}" -v f="$frac" 'BEGIN { printf "%.3f", t * f + 0.001 }')
    rm -rf "$T/out"
    for p in $(seq 1 $((s - 1))); do stage "$T/out" "$p"; done
    rc=0
    timeout -s KILL "$d" "$NS_BIN" "$T/bids" "$T/out" \
      $([ $s = 2 ] && echo participant --nprocs 2 -q || echo group --orders 4 --models logreg --folds 2 --nprocs 2 -q) \
      >/dev/null 2>&1 || rc=$?
    [ $rc = 137 ] && killed=$((killed + 1))
    if ! all "$T/out" >/dev/null 2>"$T/rerun.err"; then
      bad "stage $s killed after ${d}s: the rerun fails: $(head -3 "$T/rerun.err")"
      continue
    fi
    compare "stage $s killed after ${d}s ($([ $rc = 137 ] && echo killed || echo "finished first, status $rc"))"
  done
done
# stage 2 has nothing left to do (the first group level back-reconstructed
# every subject it fitted) and ends before most kills: stages 1 and 3 count
[ $killed -ge 4 ] || bad "only $killed of 15 runs were actually killed (stage times ${dur[*]} s)"
echo "$killed runs killed mid-way; $staletotal stale temporaries in all (not removed by the rerun):"
[ -f "$T/stale.list" ] && sed -E 's/[0-9]+/N/g' "$T/stale.list" | sort | uniq -c

[ $fail = 0 ] || exit 1
echo "kill and rerun test passed"

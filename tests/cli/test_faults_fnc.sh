#!/usr/bin/env bash
# requires: fnc ica sim nifti_io
# Bad confounds and write faults on `neurospectra fnc` (a batch over runs:
# a failed run is reported and recorded, the others go on).
#   A. sub-01's fMRIPrep confounds table with missing rows, a short row, a
#      non-number, the confounds file absent, a column that does not exist:
#      exit 1; every stderr line "neurospectra: error: ... (...)", one of
#      them naming sub-01's table (or run), the last "<n> of 3 runs failed";
#      no connectivity matrix for sub-01, sub-01 listed under FailedRuns of
#      desc-fnc_features.json and absent from desc-fnc_features.tsv.
#   B. a file-size limit swept over 1-8 KiB (SIGXFSZ ignored) over an
#      earlier fnc run with other settings: exit 0 with exactly the
#      reference outputs, or exit 1 with error lines only; no temporaries;
#      every file the earlier version or the reference's, byte for byte.
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}" "${NS_SRC:?}"
rm -rf "$NS_TMP"
mkdir -p "$NS_TMP"
T=$NS_TMP
. "$NS_SRC/tests/cli/faults_lib.sh"

# errors_only NAME: status $rc is 1 and every stderr line is an error line.
errors_only() {
  if [ "$rc" != 1 ]; then
    bad "$1: exit status $rc, expected 1 ($(head -c 300 "$T/err"))"; return 1
  fi
  if [ ! -s "$T/err" ] || grep -Evq '^neurospectra: error: .+ \(.+\)$' "$T/err"; then
    bad "$1: stderr is not only 'neurospectra: error: ... (...)' lines:"; sed 's/^/    /' "$T/err" | head -5
    return 1
  fi
  return 0
}

"$NS_BIN" simulate "$T/bids" --subjects 3 --shape 16,16 --timepoints 60 --sources 6 --motion -q
"$NS_BIN" ica -o "$T/ica" --bids "$T/bids" --orders 6 -q
conf="$T/bids/sub-01/func/sub-01_task-rest_desc-confounds_timeseries.tsv"
cp "$conf" "$T/conf.orig"

# ------------------------------------------------ A: bad confounds
case_run() { # NAME CONFOUNDS-ARG: fnc on a fresh copy of the ICA outputs
  rm -rf "$T/o"
  cp -a "$T/ica" "$T/o"
  rc=0
  "$NS_BIN" fnc "$T/o" --confounds "$2" --quiet 2>"$T/err" || rc=$?
  errors_only "$1" || return 0
  grep -q "sub-01" "$T/err" || bad "$1: no error line names sub-01"
  tail -1 "$T/err" | grep -Eq "[0-9]+ of 3 runs failed" || bad "$1: no summary line"
  [ -z "$(find "$T/o" -name '.*' -print -quit)" ] || bad "$1: temporaries left"
  ls "$T/o"/sub-01/func/*relmat* >/dev/null 2>&1 && bad "$1: sub-01 has a connectivity matrix"
  local feat="$T/o/group/desc-fnc_features"
  if [ -f "$feat.json" ]; then
    /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if any(r.startswith('sub-01') for r in j.get('FailedRuns', [])) else 1)" \
      "$feat.json" || bad "$1: sub-01 not listed under FailedRuns"
    grep -q "^sub-01" "$feat.tsv" && bad "$1: sub-01 has a row in the feature table"
  fi
  echo "ok: $1: $(head -1 "$T/err")"
}
head -41 "$T/conf.orig" >"$conf"
case_run "confounds with 40 of 60 rows" motion
awk 'NR==10{$0="1\t2\t3"}1' "$T/conf.orig" >"$conf"
case_run "confounds row with 3 cells" motion
awk -F'\t' 'BEGIN{OFS="\t"} NR==10{$4="abc"}1' "$T/conf.orig" >"$conf"
case_run "confounds cell not a number" motion
rm "$conf"
case_run "confounds table missing" motion
cp "$T/conf.orig" "$conf"
case_run "confound column that does not exist" trans_q
# Documented handling (docs/fnc.md): an n/a cell is 0 after z-scoring, the
# run succeeds and nothing non-finite is written.
awk -F'\t' 'BEGIN{OFS="\t"} NR==10{$4="n/a"}1' "$T/conf.orig" >"$conf"
rm -rf "$T/o" && cp -a "$T/ica" "$T/o"
"$NS_BIN" fnc "$T/o" --confounds motion --quiet || bad "n/a in a motion column: fnc failed"
if grep -qE "(^|\t)(n/a|nan|inf|-inf)(\t|$)" "$T"/o/sub-*/func/*relmat.tsv "$T/o/group/desc-fnc_features.tsv"; then
  bad "n/a in a motion column: non-finite values written"
else
  echo "ok: n/a in a motion column: handled as documented, all values finite"
fi
cp "$T/conf.orig" "$conf"

# ------------------------------------------------ B: file-size limit
# References at the path the faulty runs use (paths are recorded in outputs).
rm -rf "$T/o" && cp -a "$T/ica" "$T/o"
"$NS_BIN" fnc "$T/o" --confounds motion --lowpass 0 --quiet && mv "$T/o" "$T/old"
cp -a "$T/ica" "$T/o"
"$NS_BIN" fnc "$T/o" --confounds motion --quiet && mv "$T/o" "$T/ref"
# The largest file fnc writes (new, or different from the ICA outputs).
largest=0
while IFS= read -r -d '' f; do
  rel=${f#"$T/ref"/}
  cmp -s "$f" "$T/ica/$rel" 2>/dev/null && continue
  sz=$(stat -c %s "$f")
  [ "$sz" -gt "$largest" ] && largest=$sz
done < <(find "$T/ref" -type f -print0)
nfail=0
for kib in 1 2 3 4 6 8; do
  cp -a "$T/old" "$T/o"
  rc=0
  (ulimit -f "$kib"; trap '' XFSZ; exec "$NS_BIN" fnc "$T/o" --confounds motion --quiet) 2>"$T/err" || rc=$?
  name="fnc under ulimit -f $kib KiB"
  if [ $rc = 0 ]; then
    [ $((kib * 1024)) -ge "$largest" ] || bad "$name: succeeded although a ${largest}-byte file cannot be written"
    diff -r "$T/o" "$T/ref" >/dev/null || bad "$name: outputs differ from the reference"
    echo "ok: $name: complete, identical to the reference"
  elif errors_only "$name"; then
    nfail=$((nfail + 1))
    no_partial "$name" "$T/o" "$T/old" "$T/ref"
    echo "ok: $name: $(tail -1 "$T/err")"
  fi
  rm -rf "$T/o"
done
[ $nfail -ge 1 ] || bad "no limit made fnc fail: the sweep tests nothing"

[ $fail = 0 ] || exit 1
echo "fnc fault test passed"

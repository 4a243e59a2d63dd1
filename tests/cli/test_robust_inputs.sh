#!/usr/bin/env bash
# requires: sim nifti_io ica fnc models
# Bad subjects among good ones (6 simulated subjects, 40x40x1, 60 volumes):
#   A. `neurospectra ica` with one subject on another grid, with another TR
#      (second to last in the list, and first: the reference must not be
#      whichever subject comes first), or with a NaN in a brain voxel: exit 1,
#      one line "neurospectra: error: ... (<that subject's file>)", no file
#      written into a fresh OUT, and every file of an earlier run in OUT
#      (fitted with another mask) byte-identical afterwards.
#      NaN outside the brain in every volume (masked images): documented
#      handling, those voxels are outside the mask; success, all finite.
#   B. the BIDS-Apps group level on the same datasets, and with a run too
#      short for the model order: exit 1, the subject named on stderr, its row
#      "failed" with the error naming its file in OUT/group/desc-run_summary.tsv,
#      the other five "ok", in the feature table and the report; nothing
#      non-finite in any output file (TSV, JSON, NPY/NPZ, NIfTI, SVG/HTML).
#   C. participants.tsv with an n/a label and a subject without a row, through
#      the group level: warnings name both, the classifiers predict exactly
#      the other four, exit 0.
#   D. a confounds table with missing rows through the group level (the
#      `fnc` command itself is in test_faults_fnc.sh): exit 1, a failed "fnc"
#      row naming the table in the run summary, the others in the feature
#      table; after the table is fixed a rerun exits 0 and the row is gone.
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}"
PY=${NS_PYTHON:-/usr/bin/python3}
rm -rf "$NS_TMP"
mkdir -p "$NS_TMP"
T=$NS_TMP
fail=0
bad() { echo "FAIL: $*"; fail=1; }
t_start=$SECONDS

# finite DIR...: every TSV cell, JSON number, NPY/NPZ float, NIfTI voxel and
# number in an SVG/HTML file is finite.
cp "$NS_SRC/tests/cli/finite_check.py" "$T/finite.py"
finite() { "$PY" "$T/finite.py" "$@"; }

# ------------------------------------------------------------ datasets
sim() { "$NS_BIN" simulate "$1" --shape "${2:-40,40,1}" --timepoints "${3:-60}" --sources 8 --motion \
  --seed 3 -q "${@:4}"; rm -rf "$1/derivatives"; }
sim "$T/good" 40,40,1 60 --subjects 6
sim "$T/don_grid" 36,40,1 60 --subjects 1
sim "$T/don_tr" 40,40,1 60 --subjects 1 --tr 1.5
sim "$T/don_short" 40,40,1 25 --subjects 1
# variant NAME SUB DONOR: the good dataset with sub-SUB's files taken from DONOR's sub-01
variant() {
  rm -rf "${T:?}/$1"; cp -a "$T/good" "$T/$1"
  if [ -n "${3:-}" ]; then
    for f in "$T/$3"/sub-01/func/*; do
      b=$(basename "$f"); cp "$f" "$T/$1/sub-$2/func/${b/sub-01/sub-$2}"
    done
  fi
}
variant grid3 03 don_grid; variant tr3 03 don_tr
variant grid1 01 don_grid; variant tr1 01 don_tr
variant short4 04 don_short
variant nan3 03; variant nanbg3 03
"$PY" - "$T" <<'EOF'
import sys, numpy as np, nibabel as nib
T = sys.argv[1]
def edit(d, f):
    p = f"{T}/{d}/sub-03/func/sub-03_task-rest_bold.nii.gz"
    img = nib.load(p); x = np.asarray(img.dataobj, dtype=np.float32)
    h = img.header.copy(); h.set_data_dtype(np.float32)
    nib.save(nib.Nifti1Image(f(x), img.affine, h), p)
def brain(x):  # one brain voxel, one time point
    x[20, 20, 0, 7] = np.nan; return x
def background(x):  # NaN outside the head in every volume, as masked images have
    x[x[..., 0] < 0.5 * x[..., 0].mean()] = np.nan; return x
edit("nan3", brain); edit("nanbg3", background)
img = nib.load(f"{T}/good/sub-01/func/sub-01_task-rest_bold.nii.gz")
m = np.zeros(img.shape[:3], np.uint8); m[10:30, 10:20, 0] = 1
nib.save(nib.Nifti1Image(m, img.affine), f"{T}/half_mask.nii.gz")
EOF
odd_of() { case $1 in *1) echo sub-01 ;; *3) echo sub-03 ;; *4) echo sub-04 ;; esac; }
echo "data ready ($((SECONDS - t_start)) s)"

# ------------------------------------------------------------ A: ica
"$NS_BIN" ica -o "$T/earlier" --bids "$T/good" --orders 5 --mask "$T/half_mask.nii.gz" -q
# Two threads: the subject whose data fail may be read on one thread and
# reach the MIGP on the other; the error must still name its file.
for v in grid3 tr3 grid1 tr1 nan3; do
  odd=$(odd_of $v)
  rc=0
  "$NS_BIN" ica -o "$T/ica_$v" --bids "$T/$v" --orders 5 --nprocs 2 -q 2>"$T/err" || rc=$?
  if [ $rc != 1 ]; then
    bad "ica $v: exit $rc, expected 1"
  elif [ "$(wc -l <"$T/err")" != 1 ] || ! grep -Eq "^neurospectra: error: .+ \(.+\)$" "$T/err" ||
       ! grep -q "${odd}_task-rest_bold" "$T/err"; then
    bad "ica $v: expected one error line naming ${odd}'s file, got: $(head -3 "$T/err")"
  else
    echo "ok: ica $v: $(cat "$T/err")"
  fi
  left=$( (find "$T/ica_$v" -type f 2>/dev/null || true) | sed "s|$T/||")
  [ -z "$left" ] && echo "ok: ica $v: nothing written" || bad "ica $v: a failed run left files: $left"
  rm -rf "$T/o"; cp -a "$T/earlier" "$T/o"
  "$NS_BIN" ica -o "$T/o" --bids "$T/$v" --orders 5 -q 2>/dev/null && bad "ica $v over an earlier run succeeded"
  if diff -r "$T/o" "$T/earlier" >"$T/diff"; then
    echo "ok: ica $v: an earlier run in OUT is intact"
  else
    bad "ica $v: the failed run changed an earlier run's files: $(head -3 "$T/diff")"
  fi
done
rc=0
"$NS_BIN" ica -o "$T/ica_nanbg3" --bids "$T/nanbg3" --orders 5 -q 2>"$T/err" || rc=$?
[ $rc = 0 ] || bad "ica with NaN outside the brain: exit $rc ($(cat "$T/err"))"
finite "$T/ica_nanbg3" && echo "ok: ica with NaN outside the brain: success, outputs finite" ||
  bad "ica with NaN outside the brain: non-finite outputs"

# ------------------------------------------------------------ B: group level
group() { # DATASET OUT [options]: the group level, status in $rc, stderr in $T/err
  rc=0
  "$NS_BIN" "$T/$1" "$T/$2" group --orders "${ORDERS:-5}" --folds 2 --epochs 3 --models logreg,mlp:4 \
    --select none "${@:3}" 2>"$T/err" || rc=$?
}
# summary_has OUT SUBJECT STAGE STATUS [ERROR-SUBSTRING]
summary_has() {
  awk -F'\t' -v s="$2" -v st="$3" -v x="$4" -v e="${5:-}" \
    '$1 == s && $3 == st && $4 == x && index($5, e) { f = 1 } END { exit !f }' "$T/$1/group/desc-run_summary.tsv"
}
for v in grid3 tr3 grid1 tr1 nan3 short4; do
  odd=$(odd_of $v)
  ORDERS=5; [ $v = short4 ] && ORDERS=30
  ORDERS=$ORDERS group $v "g_$v"
  name="group level, $v"
  [ $rc = 1 ] || bad "$name: exit $rc, expected 1 ($(grep -v 'info:' "$T/err" | head -3))"
  grep -Eq "^neurospectra: error: .*$odd" "$T/err" || bad "$name: $odd not named on stderr"
  if [ ! -f "$T/g_$v/group/desc-run_summary.tsv" ]; then
    bad "$name: no run summary"; continue
  fi
  summary_has "g_$v" "$odd" backrecon failed "$odd/func/${odd}_task-rest_bold.nii.gz" ||
    bad "$name: $odd is not 'failed' with its file in the run summary"
  nok=$(awk -F'\t' '$3 == "backrecon" && $4 == "ok"' "$T/g_$v/group/desc-run_summary.tsv" | wc -l)
  [ "$nok" = 5 ] || bad "$name: $nok runs ok, expected the 5 others"
  feat=$(tail -n +2 "$T/g_$v/group/desc-fnc_features.tsv" 2>/dev/null | cut -f1 | tr '\n' ' ')
  [ "$(echo $feat | wc -w)" = 5 ] && ! grep -q "$odd" <<<"$feat" || bad "$name: feature table holds '$feat'"
  [ -s "$T/g_$v/report.html" ] || bad "$name: no report"
  finite "$T/g_$v" || bad "$name: non-finite values written"
  echo "ok: $name: $(awk -F'\t' '$4 == "failed" { print $1 ": " $5 }' "$T/g_$v/group/desc-run_summary.tsv")"
done
group nanbg3 g_nanbg3
[ $rc = 0 ] || bad "group level, NaN outside the brain: exit $rc"
nok=$(awk -F'\t' '$3 == "backrecon" && $4 == "ok"' "$T/g_nanbg3/group/desc-run_summary.tsv" | wc -l)
[ "$nok" = 6 ] || bad "group level, NaN outside the brain: $nok runs ok, expected 6"
finite "$T/g_nanbg3" && echo "ok: group level, NaN outside the brain: 6 runs ok, outputs finite" ||
  bad "group level, NaN outside the brain: non-finite values written"
# An order the data of no run allow is the study's error, not the subjects'.
ORDERS=60 group good g_k60
[ $rc = 1 ] || bad "group level, order 60 of 60 volumes: exit $rc"
grep -q "^neurospectra: error: number of components 60 must be below the number of time points 60" "$T/err" ||
  bad "group level, order 60 of 60 volumes: no clear error: $(grep -v info: "$T/err" | head -3)"
grep -q "failed" "$T/g_k60/group/desc-run_summary.tsv" 2>/dev/null &&
  bad "group level, order 60 of 60 volumes: subjects were set aside for it"
echo "ok: group level, order 60 of 60 volumes: one error, no subject set aside"

# ------------------------------------------------------------ C: labels
variant labels
awk -F'\t' -v OFS='\t' 'NR == 1 { $0 = $0 "\tgroup" } NR > 1 { $0 = $0 "\t" (NR % 2 ? "B" : "A") }
  $1 == "sub-02" { $NF = "n/a" } $1 != "sub-05"' "$T/good/participants.tsv" >"$T/labels/participants.tsv"
group labels g_labels --target group
[ $rc = 0 ] || bad "missing labels: exit $rc ($(grep -v info: "$T/err" | head -3))"
for s in sub-02 sub-05; do grep -q "warning:.*$s" "$T/err" || bad "missing labels: no warning names $s"; done
for m in logreg mlp_4; do
  p=$T/g_labels/group/train-group-$m/predictions.tsv
  got=$(tail -n +2 "$p" 2>/dev/null | cut -f1 | sed 's/^sub-//' | sort -u | tr '\n' ' ')
  [ "$got" = "01 03 04 06 " ] || bad "missing labels: $m predicted '$got', expected 01 03 04 06"
done
finite "$T/g_labels" || bad "missing labels: non-finite values written"
echo "ok: missing labels through the group level: $(grep -c 'warning:.*dropped' "$T/err") warnings, 4 subjects predicted"

# ------------------------------------------------------------ D: confounds
rm -rf "$T/fmriprep"; cp -a "$T/good" "$T/fmriprep" # the name makes the group level regress motion
conf=$T/fmriprep/sub-03/func/sub-03_task-rest_desc-confounds_timeseries.tsv
head -41 "$T/good/sub-03/func/sub-03_task-rest_desc-confounds_timeseries.tsv" >"$conf"
group fmriprep g_conf
[ $rc = 1 ] || bad "confounds with missing rows: exit $rc"
summary_has g_conf sub-03 fnc failed "sub-03_task-rest_desc-confounds_timeseries.tsv" ||
  bad "confounds with missing rows: no failed fnc row for sub-03 in the run summary"
feat=$(tail -n +2 "$T/g_conf/group/desc-fnc_features.tsv" | cut -f1 | tr '\n' ' ')
[ "$feat" = "sub-01 sub-02 sub-04 sub-05 sub-06 " ] || bad "confounds with missing rows: features for '$feat'"
echo "ok: confounds with missing rows through the group level: $(awk -F'\t' '$3 == "fnc" { print $1 " fnc " $4 ": " $5 }' "$T/g_conf/group/desc-run_summary.tsv")"
cp "$T/good/sub-03/func/sub-03_task-rest_desc-confounds_timeseries.tsv" "$conf"
group fmriprep g_conf
[ $rc = 0 ] || bad "confounds fixed, rerun: exit $rc"
grep -q "failed" "$T/g_conf/group/desc-run_summary.tsv" && bad "confounds fixed, rerun: a failed row is left"
[ "$(tail -n +2 "$T/g_conf/group/desc-fnc_features.tsv" | wc -l)" = 6 ] || bad "confounds fixed, rerun: not 6 participants"
echo "ok: confounds fixed, rerun: exit 0, no failed row"

echo "time: $((SECONDS - t_start)) s"
[ $fail = 0 ] || exit 1
echo "robust inputs test passed"

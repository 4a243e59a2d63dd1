#!/usr/bin/env bash
# The BIDS-Apps form under mpirun (docs/scaling.md): the group level with 2
# ranks (group ICA and FNC split across the ranks, training and the report
# on rank 0) gives the single-process feature table; the participant level
# with 2 and 3 ranks splits the runs so that every run is back-reconstructed
# exactly as one process does it, and the run summary lists every run once.
# requires: dist sim nifti_io ica fnc models report
set -euo pipefail
. "${NS_SRC:?}/tests/cli/scratch_lib.sh"
NS_MPI_TIMEOUT=300
. "$NS_SRC/tests/cli/mpi_lib.sh"

"$NS_BIN" simulate sim --subjects 9 --shape 48,48,1 --timepoints 80 --sources 8 --seed 3 -q
G=(group --orders 5,8 --models logreg --folds 3 --seed 2 --nprocs 1 -q)
"$NS_BIN" sim one "${G[@]}" > one.log 2>&1 || { tail one.log; fail "group level, one process"; }
"${MPI[@]}" -np 2 "$NS_BIN" sim two "${G[@]}" > two.log 2>&1 || { tail two.log; fail "group level, 2 ranks"; }
for f in group/desc-mpi_ranks.tsv group/desc-fncmpi_ranks.tsv report.html group/desc-run_summary.tsv; do
  [ -s two/$f ] || fail "2 ranks: no $f"
done
[ "$(tail -n +2 two/group/desc-fncmpi_ranks.tsv | wc -l)" = 2 ] || fail "fnc rank report"
"$NS_PYTHON" - one/group/desc-fnc_features.tsv two/group/desc-fnc_features.tsv <<'EOF' || fail "features of 2 ranks differ"
import sys, numpy as np
a, b = (np.genfromtxt(f, delimiter="\t", names=True, dtype=None, encoding=None) for f in sys.argv[1:])
assert a.dtype.names == b.dtype.names and len(a) == len(b) == 9, (len(a), len(b))
assert list(a["participant_id"]) == list(b["participant_id"])
x = np.array([list(r)[1:] for r in a], float); y = np.array([list(r)[1:] for r in b], float)
d = np.abs(x - y).max()
print(f"group level, 2 ranks vs one process: {x.size} feature values, max |difference| {d:.2e}")
assert d < 1e-3, d
EOF

# Participant level: every run back-reconstructed again, split across ranks.
for n in 2 3; do
  rm -rf p$n && cp -r one p$n && find p$n -name '*_desc-ica*_timeseries.tsv' -delete
  "${MPI[@]}" -np $n "$NS_BIN" sim p$n participant --force -q > p$n.log 2>&1 || { tail p$n.log; fail "participant level, $n ranks"; }
  for f in $(cd one && find . -name '*_desc-ica*_timeseries.tsv'); do
    cmp -s one/$f p$n/$f || fail "$n ranks: $f differs from the one-process back-reconstruction"
  done
  nts=$(find p$n -name '*_desc-ica*_timeseries.tsv' | wc -l)
  [ "$nts" = 18 ] || fail "$n ranks: $nts timecourse files, expected 18 (9 runs x 2 orders)"
  [ "$(grep -c $'\tbackrecon\tok' p$n/group/desc-run_summary.tsv)" = 9 ] || { cat p$n/group/desc-run_summary.tsv; fail "$n ranks: summary"; }
done
# A subject whose data fail inside the fit, on rank 1 (sub-07 of 9 with 2
# ranks): the ranks agree to set it aside, as one process does; it is named
# on stderr and failed in the run summary, the 8 others go on to the end.
cp -r sim simnan
"$NS_PYTHON" - simnan/sub-07/func/sub-07_task-rest_bold.nii.gz <<'EOF'
import sys, numpy as np, nibabel as nib
img = nib.load(sys.argv[1]); x = np.asarray(img.dataobj, dtype=np.float32)
i = np.unravel_index(np.argmax(x[..., 0]), x.shape[:3]); x[i + (7,)] = np.nan  # a brain voxel
h = img.header.copy(); h.set_data_dtype(np.float32)
nib.save(nib.Nifti1Image(x, img.affine, h), sys.argv[1])
EOF
rc=0
"${MPI[@]}" -np 2 "$NS_BIN" simnan twonan "${G[@]}" > twonan.log 2>&1 || rc=$?
[ $rc != 0 ] || fail "2 ranks, NaN in sub-07: exit 0, expected a failure status"
grep -q "^neurospectra: error: .*sub-07" twonan.log || { tail twonan.log; fail "2 ranks: sub-07 not named"; }
awk -F'\t' '$1 == "sub-07" && $3 == "backrecon" && $4 == "failed"' twonan/group/desc-run_summary.tsv | grep -q . ||
  { cat twonan/group/desc-run_summary.tsv; fail "2 ranks: sub-07 not failed in the run summary"; }
[ "$(grep -c $'\tbackrecon\tok' twonan/group/desc-run_summary.tsv)" = 8 ] || fail "2 ranks: not 8 runs ok"
feat=$(tail -n +2 twonan/group/desc-fnc_features.tsv | cut -f1 | tr '\n' ' ')
[ "$(echo $feat | wc -w)" = 8 ] && ! grep -q sub-07 <<<"$feat" || fail "2 ranks: feature table holds '$feat'"
[ -s twonan/report.html ] || fail "2 ranks, a failed subject: no report"
echo "ok"

#!/usr/bin/env bash
# mpirun -np N neurospectra ica (docs/scaling.md): with 2 and 3 ranks and
# every merge of the group PCA, the group maps, subject maps and timecourses
# equal the single-process run's (Hungarian-matched |r| >= 0.99, same seed,
# two orders, ICASSO), the default merge its group PCA bit for bit, the
# mean first volume (the report's background) bit for bit; each rank
# reports its subjects, bytes and peak memory; every subject's outputs exist
# once and no scratch is left; more ranks than subjects work; a broken
# subject stops every rank with one clear message instead of a hang;
# --model back-reconstruction split across 3 ranks equals one process's.
# requires: dist ica fnc sim nifti_io
set -euo pipefail
. "${NS_SRC:?}/tests/cli/scratch_lib.sh"
. "$NS_SRC/tests/cli/mpi_lib.sh"

"$NS_BIN" simulate sim --subjects 12 --shape 60,60,1 --timepoints 80 --sources 10 --seed 4 -q
ICA=(ica --bids sim --orders 6,10 --runs 3 --seed 7 -q)
"$NS_BIN" "${ICA[@]}" -o o1
"${MPI[@]}" -np 2 "$NS_BIN" "${ICA[@]}" -o o2
"${MPI[@]}" -np 3 "$NS_BIN" "${ICA[@]}" -o o3
# the bandwidth-bounded merges (NS_SCALE_MERGE, docs/scaling.md)
NS_SCALE_MERGE=chain "${MPI[@]}" -x NS_SCALE_MERGE -np 3 "$NS_BIN" "${ICA[@]}" -o o3c
NS_SCALE_MERGE=gather "${MPI[@]}" -x NS_SCALE_MERGE -np 2 "$NS_BIN" "${ICA[@]}" -o o2g

cat > cmp.py <<'EOF'
# Matches the group maps of run b to run a (Hungarian on 1 - |r|) and applies
# the same matching to every subject's maps and timecourses.
import sys, glob, os
import numpy as np, nibabel as nib
from scipy.optimize import linear_sum_assignment
a, b, K = sys.argv[1], sys.argv[2], int(sys.argv[3])
mask = nib.load(f"{a}/group/desc-brain_mask.nii.gz").get_fdata().astype(bool)
assert (mask == nib.load(f"{b}/group/desc-brain_mask.nii.gz").get_fdata().astype(bool)).all(), "masks differ"
def maps(f):
    return nib.load(f).get_fdata()[mask].T
def corr(x, y):
    x = x - x.mean(1, keepdims=True); y = y - y.mean(1, keepdims=True)
    x /= np.linalg.norm(x, axis=1, keepdims=True); y /= np.linalg.norm(y, axis=1, keepdims=True)
    return x @ y.T
r = corr(maps(f"{a}/group/desc-ica{K}_components.nii.gz"), maps(f"{b}/group/desc-ica{K}_components.nii.gz"))
ri, ci = linear_sum_assignment(-np.abs(r))
gm = np.abs(r[ri, ci])
ts = sorted(os.path.relpath(s, a) for s in glob.glob(f"{a}/sub-*/func/*_desc-ica{K}_timeseries.tsv"))
tb = sorted(os.path.relpath(s, b) for s in glob.glob(f"{b}/sub-*/func/*_desc-ica{K}_timeseries.tsv"))
assert ts == tb and len(ts) == 12, f"subject outputs differ: {len(ts)} vs {len(tb)}"
tmin = smin = 1.0
for s in ts:
    ta, tb_ = (np.loadtxt(f"{d}/{s}", skiprows=1) for d in (a, b))
    tmin = min(tmin, np.abs(corr(ta.T[ri], tb_.T[ci]).diagonal()).min())
    m = s.replace("_timeseries.tsv", "_components.nii.gz")
    smin = min(smin, np.abs(corr(maps(f"{a}/{m}")[ri], maps(f"{b}/{m}")[ci]).diagonal()).min())
print(f"{b} order {K}: group maps matched |r| min {gm.min():.5f}; {len(ts)} subjects: "
      f"timecourses min {tmin:.5f}, subject maps min {smin:.5f}")
sys.exit(0 if min(gm.min(), tmin, smin) >= 0.99 else 1)
EOF
for o in o2 o3 o3c o2g; do
  for k in 6 10; do "$NS_PYTHON" cmp.py o1 $o $k || fail "$o order $k differs from one process"; done
  # the report's background image (mean first volume, summed in fixed point)
  cmp o1/group/desc-mean_boldref.nii.gz $o/group/desc-mean_boldref.nii.gz ||
    fail "$o: mean first volume differs from one process"
done

# Per-rank report: contiguous blocks of subjects, bytes that balance, memory.
for n in 2 3; do
  "$NS_PYTHON" - o$n/group/desc-mpi_ranks.tsv $n <<'EOF' || fail "rank report of -np $n"
import sys, csv
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
n = int(sys.argv[2])
assert [int(r["rank"]) for r in rows] == list(range(n)), rows
subs = [int(r["subjects"]) for r in rows]
assert subs == [12 * (q + 1) // n - 12 * q // n for q in range(n)], subs
sent = sum(float(r["bytes_sent"]) for r in rows); recv = sum(float(r["bytes_received"]) for r in rows)
assert sent > 0 and all(float(r["bytes_sent"]) > 0 for r in rows), rows
assert all(float(r["peak_rss_mb"]) > 0 for r in rows), rows
print(f"-np {n}: subjects {subs}, bytes sent {sent:.0f} received {recv:.0f}, "
      f"peak RSS {max(float(r['peak_rss_mb']) for r in rows):.1f} MB")
EOF
done

# The default merge gives ns_ica_fit's group PCA bit for bit.
for o in o2 o3; do
  cmp -s <("$NS_PYTHON" -c "import numpy as n; print(n.load('o1/group/desc-ica10_model.npz')['whitened_pca_maps'].tobytes().hex())") \
         <("$NS_PYTHON" -c "import numpy as n; print(n.load('$o/group/desc-ica10_model.npz')['whitened_pca_maps'].tobytes().hex())") \
    || fail "$o: group PCA differs from one process"
  "$NS_PYTHON" - o1 $o <<'EOF' || fail "$o: the sidecar's group PCA passes differ from one process"
import sys, json
k = ("GroupPCA", "GroupPCAPowerIterations", "GroupPCARayleighRitz")
a, b = (json.load(open(f"{d}/group/desc-ica10_components.json")) for d in sys.argv[1:3])
assert [a[x] for x in k] == [b[x] for x in k] == ["MIGP", 1, True], ([a[x] for x in k], [b[x] for x in k])
EOF
done

# Each subject's outputs exactly once (2 orders x 3 files), no scratch left.
for o in o2 o3 o3c o2g; do
  [ "$(find $o -path '*/sub-*/func/*' -type f | wc -l)" -eq 72 ] || fail "$o: subject files"
  [ -z "$(find $o -name '.ica-cache-*' -o -name '*.tmp*')" ] || fail "$o: scratch left"
  [ "$(ls $o/group/desc-ica10_components.nii.gz)" ] || fail "$o: group maps"
done

# More ranks than subjects: a rank without subjects only relays and waits.
two=(sim/sub-01/func/*_bold.nii.gz sim/sub-02/func/*_bold.nii.gz)
"$NS_BIN" ica -o f1 "${two[@]}" --orders 5 --seed 2 -q
for m in exact chain gather; do
  NS_SCALE_MERGE=$m "${MPI[@]}" -x NS_SCALE_MERGE -np 3 "$NS_BIN" ica -o f3$m "${two[@]}" --orders 5 --seed 2 -q
  "$NS_PYTHON" - f1 f3$m <<'EOF2' || fail "-np 3 with 2 subjects ($m)"
import sys, numpy as np, nibabel as nib
from scipy.optimize import linear_sum_assignment
a, b = (nib.load(f"{d}/group/desc-ica5_components.nii.gz").get_fdata().reshape(-1, 5).T for d in sys.argv[1:])
r = np.abs(np.corrcoef(a, b)[:5, 5:]); i, j = linear_sum_assignment(-r)
assert r[i, j].min() >= 0.99, r[i, j]
EOF2
  [ "$(cut -f2 f3$m/group/desc-mpi_ranks.tsv | tail -n +2 | tr '\n' ' ')" = "0 1 1 " ] || fail "$m: rank shares"
done

# --group-only under mpirun: the group outputs, no subject outputs.
"${MPI[@]}" -np 2 "$NS_BIN" ica -o g2 "${two[@]}" --orders 5 --seed 2 --group-only -q
[ -z "$(find g2 -path '*/sub-*' -type f)" ] || fail "--group-only under mpirun wrote subject outputs"
"$NS_PYTHON" - f1 g2 <<'EOF2' || fail "--group-only under mpirun: group maps"
import sys, numpy as np, nibabel as nib
from scipy.optimize import linear_sum_assignment
a, b = (nib.load(f"{d}/group/desc-ica5_components.nii.gz").get_fdata().reshape(-1, 5).T for d in sys.argv[1:])
r = np.abs(np.corrcoef(a, b)[:5, 5:]); i, j = linear_sum_assignment(-r)
assert r[i, j].min() >= 0.99, r[i, j]
EOF2

# --model (back-reconstruction of subjects from a saved model) splits the
# subjects across ranks: every subject once, the one-process bytes.
bolds=(sim/sub-*/func/*_bold.nii.gz)
"$NS_BIN" ica --model o1/group/desc-ica6_model.npz -o m1 "${bolds[@]}" -q
"${MPI[@]}" -np 3 "$NS_BIN" ica --model o1/group/desc-ica6_model.npz -o m3 "${bolds[@]}" -q
diff -r m1 m3 > /dev/null || fail "--model with 3 ranks differs from one process"
[ "$(find m3 -name '*_desc-ica6_timeseries.tsv' | wc -l)" = 12 ] || fail "--model with 3 ranks: not every subject"

# A subject that cannot be read stops every rank with a message naming it.
cp -r sim bad
f=$(ls bad/sub-12/func/*_bold.nii.gz)
head -c 2000 "$f" > trunc && mv trunc "$f"
set +e
"${MPI[@]}" -np 3 "$NS_BIN" ica --bids bad --orders 6 -o ob -q 2> err.txt
rc=$?
set -e
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "broken subject: exit $rc (124 = hang)"
grep -q "sub-12" err.txt || { cat err.txt; fail "error does not name the subject"; }
echo "ok"

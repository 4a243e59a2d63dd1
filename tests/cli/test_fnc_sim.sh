#!/bin/bash
# requires: sim ica fnc nifti_io
# The real chain: neurospectra simulate (36 subjects, planted diagnosis
# coupling and dynamic states) -> neurospectra ica (orders 20, 32) ->
# neurospectra fnc. ICA components are matched to the true sources
# (Hungarian on map |r|, kept when |r| >= 0.8); the edges between components
# of the coupled diagnosis sources (thalamus, anterior cingulate, insula)
# must differ between patients and controls at FDR q < 0.05 (BH over every
# feature) while edges between sources without any planted effect mostly do
# not; dFNC on the components of the dynamic sources must recover the
# planted states (accuracy over windows, best state permutation).
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}" "${NS_PYTHON:=/usr/bin/python3}"
rm -rf "$NS_TMP" && mkdir -p "$NS_TMP" && cd "$NS_TMP"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$NS_BIN" simulate sim --subjects 36 --dynamic --uncompressed --no-subject-maps --quiet
"$NS_BIN" ica -o out --bids sim --orders 20,32 --seed 3 --nprocs 2 --quiet
"$NS_BIN" fnc out --quiet || fail "fnc exit $?"
[ "$(wc -l < out/group/desc-fnc_features.tsv)" -eq 37 ] || fail "expected 36 feature rows"

cat > check.py <<'PY'
import json, sys, glob, itertools, os
import numpy as np, nibabel as nib
from scipy import stats
from scipy.optimize import linear_sum_assignment
sim, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
truth = json.load(open(sim + "/derivatives/simulation/truth.json"))
tmaps = np.asarray(nib.load(sim + "/derivatives/simulation/group/desc-true_components.nii" + ("" if os.path.exists(sim + "/derivatives/simulation/group/desc-true_components.nii") else ".gz")).dataobj, float)
masks = glob.glob(out + "/group/desc-brain_mask.nii*")
mask = np.asarray(nib.load(masks[0]).dataobj) > 0 if masks else None
T = tmaps[mask] if masks else None  # voxels x sources
def match(K):
    m = np.asarray(nib.load(glob.glob(out + "/group/desc-ica%d_components.nii*" % K)[0]).dataobj, float)[mask]
    R = np.corrcoef(m.T, T.T)[:K, K:]
    row, col = linear_sum_assignment(-np.abs(R))
    return {"ica%dc%0*d" % (K, len(str(K)), r + 1): (c, abs(R[r, c])) for r, c in zip(row, col)}
orders = [int(k) for k in sys.argv[4].split(",")]
src = {}
for K in (orders if not mode.startswith("dfnc") else []):
    for cid, (c, r) in match(K).items():
        if r >= float(os.environ.get("MATCH_R", "0.5")):
            src[cid] = c
if mode == "static":
    eff = {e["name"]: e for e in truth["effects"]}
    dsrc = set(eff["diagnosis"]["sources"])
    insrc = set(c for e in truth["effects"] for c in e["sources"])
    rows = [l.split("\t") for l in open(out + "/group/desc-fnc_features.tsv").read().splitlines()]
    hdr, F = rows[0][1:], np.array([r[1:] for r in rows[1:]], float)
    pid = [r[0] for r in rows[1:]]
    dx = {l.split("\t")[0]: l.split("\t")[1] for l in open(sim + "/participants.tsv").read().splitlines()[1:]}
    g = np.array([dx[p] != "HC" for p in pid])
    t, p = stats.ttest_ind(F[g], F[~g], axis=0)
    n = len(p); o = np.argsort(p)
    q = np.empty(n); q[o] = np.minimum.accumulate((p[o] * n / np.arange(1, n + 1))[::-1])[::-1]
    coupled, unc = [], []
    for j, e in enumerate(hdr):
        a, b = e.split("-")
        if a not in src or b not in src or src[a] == src[b]:
            continue
        if src[a] in dsrc and src[b] in dsrc:
            coupled.append(j)
        elif src[a] not in insrc and src[b] not in insrc:
            unc.append(j)
    print("matched components: %d of %d; coupled diagnosis edges %d, uncoupled edges %d" % (len(src), sum(orders), len(coupled), len(unc)))
    names = truth["sources"]
    for j in coupled:
        a, b = hdr[j].split("-")
        print("  %-22s %-18s %-18s t %5.2f q %.2g" % (hdr[j], names[src[a]]["name"], names[src[b]]["name"], t[j], q[j]))
    fu = (q[unc] < 0.05).mean()
    print("uncoupled edges with q < 0.05: %d of %d (%.1f%%)" % ((q[unc] < 0.05).sum(), len(unc), 100 * fu))
    assert len(coupled) >= 3, "the diagnosis sources were not all found by ICA"
    assert (q[coupled] < 0.05).mean() >= 0.8 and np.all(t[coupled] > 0)
    assert fu < 0.1
elif mode == "ids":  # components matched to the dynamic-effect sources, for --components
    dyn = [e for e in truth["effects"] if e["name"] == "dynamic"][0]["sources"]
    print(",".join(sorted(c for c, s in src.items() if s in dyn)))
else:  # dfnc accuracy against the true states
    w = int(mode.split(":")[1])
    est, tru = [], []
    for f in sorted(glob.glob(out + "/sub-*/func/*_desc-dfnc_states.tsv")):
        sub = f.split("/")[-1].split("_")[0]
        st = [int(l) for l in open(glob.glob(sim + "/derivatives/simulation/%s/func/*_desc-states_timeseries.tsv" % sub)[0]).read().split()[1:]]
        lab = [int(l.split("\t")[3]) - 1 for l in open(f).read().splitlines()[1:]]
        est += lab; tru += [st[i + (w - 1) // 2] - 1 for i in range(len(lab))]
    est, tru = np.array(est), np.array(tru)
    k = max(est.max(), tru.max()) + 1
    acc = max((est == np.array(p)[tru]).mean() for p in itertools.permutations(range(k)))
    print("dFNC state-assignment accuracy on the simulator's planted states: %.3f (%d windows)" % (acc, len(est)))
    assert acc >= float(sys.argv[5]), acc
PY
MATCH_R=0.8 "$NS_PYTHON" check.py sim out static 20,32
ids=$(MATCH_R=0.8 "$NS_PYTHON" check.py sim out ids 32)
[ "$(echo "$ids" | tr ',' '\n' | wc -l)" -ge 4 ] || fail "ICA found fewer than 4 of the 5 dynamic sources: $ids"
"$NS_BIN" fnc out --orders 32 --components "$ids" --dynamic --states 4 --window 30 --seed 1 --quiet
"$NS_PYTHON" check.py sim out dfnc:30 32 0.5
echo "test_fnc_sim: all checks passed"

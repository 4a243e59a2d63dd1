#!/bin/bash
# requires: fnc
# neurospectra fnc on synthetic ICA trees: relmats equal an independent
# numpy/scipy implementation of the chain; a planted group difference in
# three pairs (one across orders) is found at FDR q < 0.05 while uncoupled
# pairs are not; nuisance regression removes a planted motion artefact;
# dFNC recovers planted states; a missing TR and a bad subject are errors
# that name the run while the others are still processed.
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}" "${NS_PYTHON:=/usr/bin/python3}"
rm -rf "$NS_TMP" && mkdir -p "$NS_TMP" && cd "$NS_TMP"
fail() { echo "FAIL: $*" >&2; exit 1; }

cat > gen.py <<'PY'
import numpy as np, json, os, sys
def make_tree(out, nsub=24, orders=(10, 20), T=150, TR=2.0, seed=0, coupled=(("ica10c01","ica10c02"),("ica10c03","ica10c04"),("ica10c05","ica20c07")), r=0.45, motion=0.0, tr_in_json=True, twosess="sub-02"):
    rng = np.random.default_rng(seed)
    os.makedirs(out + "/group", exist_ok=True)
    bids = os.path.abspath(out) + "_bids"
    ids = {K: ["ica%dc%0*d" % (K, len(str(K)), i + 1) for i in range(K)] for K in orders}
    allids = [i for K in orders for i in ids[K]]
    idx = {c: n for n, c in enumerate(allids)}
    parts = []
    for s in range(nsub):
        sub = "sub-%02d" % (s + 1)
        diag = "patient" if s % 2 == 0 else "control"
        parts.append((sub, diag))
        sessions = ["ses-1", "ses-2"] if sub == twosess else [None]
        for ses in sessions:
            x = rng.standard_normal((T, len(allids)))
            if diag == "patient":
                for a, b in coupled:
                    x[:, idx[b]] = r * x[:, idx[a]] + np.sqrt(1 - r * r) * x[:, idx[b]]
            # the same AR(1) smoothing on every column keeps the correlations
            for t in range(1, T):
                x[t] += 0.5 * x[t - 1]
            conf = np.cumsum(rng.standard_normal((T, 6)) * 0.05, axis=0)
            x += motion * conf[:, [0]] / conf[:, 0].std()
            x = x * 3 + 100 * rng.random(len(allids)) + np.linspace(0, 5, T)[:, None]
            ent = sub + ("_" + ses if ses else "") + "_task-rest"
            d = out + "/" + sub + ("/" + ses if ses else "") + "/func"
            bd = bids + "/" + sub + ("/" + ses if ses else "") + "/func"
            os.makedirs(d, exist_ok=True); os.makedirs(bd, exist_ok=True)
            src = bd + "/" + ent + "_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz"
            fd = np.r_[np.nan, np.abs(np.diff(conf, axis=0)).sum(1)]
            with open(bd + "/" + ent + "_desc-confounds_timeseries.tsv", "w") as f:
                f.write("trans_x\ttrans_y\ttrans_z\trot_x\trot_y\trot_z\tframewise_displacement\n")
                for t in range(T):
                    f.write("\t".join("%.8f" % v for v in conf[t]) + "\t" + ("n/a" if t == 0 else "%.8f" % fd[t]) + "\n")
            for K in orders:
                cols = [idx[c] for c in ids[K]]
                stem = d + "/" + ent + "_desc-ica%d_timeseries" % K
                with open(stem + ".tsv", "w") as f:
                    f.write("\t".join(ids[K]) + "\n")
                    for t in range(T):
                        f.write("\t".join("%.7g" % v for v in x[t, cols]) + "\n")
                js = {"Sources": [src], "Components": K}
                if tr_in_json:
                    js["RepetitionTime"] = TR
                json.dump(js, open(stem + ".json", "w"))
    for K in orders:
        with open(out + "/group/desc-ica%d_stability.tsv" % K, "w") as f:
            f.write("component\tstability_index\tskew\n")
            for i, c in enumerate(ids[K]):
                f.write("%s\t%.3f\t%.3f\n" % (c, 0.5 if c == "ica10c10" else 0.95, 1.0))
    with open(out + "/participants.tsv", "w") as f:
        f.write("participant_id\tdiagnosis\n")
        for p, dg in parts:
            f.write("%s\t%s\n" % (p, dg))
    return allids
if __name__ == "__main__":
    make_tree(sys.argv[1], motion=float(sys.argv[2]) if len(sys.argv) > 2 else 0.0)
PY
cat > gen_dfnc.py <<'PY'
import numpy as np, json, os, sys, itertools
def make_dfnc(out, nsub=16, K=8, T=300, TR=2.0, seed=1):
    rng = np.random.default_rng(seed)
    groups = [[0, 1, 2, 3], [4, 5, 6, 7], [2, 3, 6, 7], [0, 1, 4, 5]]
    sig = []
    for s, gset in enumerate(groups):
        S = np.eye(K)
        for a in gset:
            for b in gset:
                if a != b: S[a, b] = 0.7 if s != 3 else (-0.45 if (a < 2) != (b < 2) else 0.7)
        sig.append(np.linalg.cholesky(S))
    truth = {}
    ids = ["ica%dc%0*d" % (K, len(str(K)), i + 1) for i in range(K)]
    for n in range(nsub):
        sub = "sub-%02d" % (n + 1)
        lab = np.empty(T, int); t = 0; prev = -1
        while t < T:
            s = rng.choice([i for i in range(4) if i != prev]); d = rng.integers(20, 41)
            lab[t:t + d] = s; t += d; prev = s
        x = np.array([sig[lab[t]] @ rng.standard_normal(K) for t in range(T)])
        d = out + "/" + sub + "/func"; os.makedirs(d, exist_ok=True)
        stem = d + "/" + sub + "_task-rest_desc-ica%d_timeseries" % K
        np.savetxt(stem + ".tsv", x, delimiter="\t", header="\t".join(ids), comments="", fmt="%.7g")
        json.dump({"RepetitionTime": TR, "Sources": ["/nonexistent/" + sub + "_task-rest_bold.nii.gz"], "Components": K}, open(stem + ".json", "w"))
        truth[sub] = lab.tolist()
    json.dump(truth, open(out + "_truth.json", "w"))
if __name__ == "__main__":
    make_dfnc(sys.argv[1])
PY
cat > check.py <<'PY'
import numpy as np, json, sys, glob, os
from scipy import signal, stats
out = sys.argv[1]
def read_tsv(p):
    with open(p) as f:
        hdr = f.readline().rstrip("\n").split("\t")
        rows = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    return hdr, rows
def ref_chain(x, TR, conf=None, despike=True, lp=0.15):
    T = x.shape[0]
    t = np.arange(T)
    X = [np.ones(T), t - t.mean()]
    for c in (1, 2):
        for fn in (np.sin, np.cos):
            v = fn(2 * np.pi * c * t / T); X.append(v - v.mean())
    X = np.array(X).T
    if conf is not None:
        m = np.nanmean(conf, 0); s = np.nanstd(conf, 0, ddof=1)
        z = (conf - m) / s; z[np.isnan(z)] = 0
        X = np.c_[X, z]
    beta, *_ = np.linalg.lstsq(X, x, rcond=None)
    y = x - X @ beta
    if despike:
        s = y.copy(); s[1:-1] = (y[:-2] + y[1:-1] + y[2:]) / 3
        r = np.abs(y - s); bad = r > 2.5 * r.std(0, ddof=1)
        y = np.where(bad, s, y)
    b, a = signal.butter(5, lp / (0.5 / TR))
    y = signal.filtfilt(b, a, y, axis=0)
    R = np.corrcoef(y.T); np.fill_diagonal(R, 0)
    return np.arctanh(np.clip(R, -1 + 1e-7, 1 - 1e-7))
# 1. one subject: relmat multi vs independent reference
stem = out + "/sub-01/func/sub-01_task-rest"
xs, ids = [], []
for K in (10, 20):
    h, rows = read_tsv(stem + "_desc-ica%d_timeseries.tsv" % K)
    ids += h; xs.append(np.array(rows, float))
x = np.hstack(xs)
src = json.load(open(stem + "_desc-ica10_timeseries.json"))["Sources"][0]
cf = src.replace("_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz", "_desc-confounds_timeseries.tsv")
ch, crow = read_tsv(cf)
conf = np.array([[np.nan if v == "n/a" else float(v) for v in r] for r in crow])[:, :6]
Z = ref_chain(x, 2.0, conf)
h, rows = read_tsv(stem + "_desc-icamulti_relmat.tsv")
assert h[0] == "component" and h[1:] == ids, h[:3]
assert [r[0] for r in rows] == ids
M = np.array([r[1:] for r in rows], float)
err = np.abs(M - Z).max()
print("relmat vs numpy/scipy reference: max |dz| = %.2e" % err)
assert err < 2e-6, err
h10, rows10 = read_tsv(stem + "_desc-ica10_relmat.tsv")
assert np.allclose(np.array([r[1:] for r in rows10], float), M[:10, :10])
# 2. features: one row per participant; sub-02 = mean of its two sessions
h, rows = read_tsv(out + "/group/desc-fnc_features.tsv")
assert h[0] == "participant_id"
assert "ica10c01-ica10c02" in h and "ica10c05-ica20c07" in h
assert not any("ica10c10" in c for c in h), "dropped component in the features"
kept = [i for i in ids if i != "ica10c10"]
assert len(h) - 1 == len(kept) * (len(kept) - 1) // 2
pid = [r[0] for r in rows]
assert pid == ["sub-%02d" % i for i in range(1, 25)], pid
F = np.array([r[1:] for r in rows], float)
ms = []
for ses in ("ses-1", "ses-2"):
    hh, rr = read_tsv(out + "/sub-02/%s/func/sub-02_%s_task-rest_desc-icamulti_relmat.tsv" % (ses, ses))
    ms.append(np.array([r[1:] for r in rr], float))
m = (ms[0] + ms[1]) / 2
col = h.index("ica10c03-ica20c05") - 1
assert abs(F[1, col] - m[ids.index("ica10c03"), ids.index("ica20c05")]) < 2e-6
# 3. planted group difference
dx = dict(l.split() for l in open(out + "/participants.tsv").read().splitlines()[1:])
g = np.array([dx[p] == "patient" for p in pid])
t, p = stats.ttest_ind(F[g], F[~g], axis=0)
order = np.argsort(p); n = len(p)
q = np.empty(n); q[order] = np.minimum.accumulate((p[order] * n / np.arange(1, n + 1))[::-1])[::-1]
planted = ["ica10c01-ica10c02", "ica10c03-ica10c04", "ica10c05-ica20c07"]
pc = [h.index(c) - 1 for c in planted]
other = np.setdiff1d(np.arange(n), pc)
print("planted edges q:", ["%.2g" % q[c] for c in pc], " uncoupled edges with q<0.05: %d of %d" % ((q[other] < 0.05).sum(), len(other)))
assert all(q[c] < 0.05 for c in pc)
assert (q[other] < 0.05).mean() < 0.05
PY
cat > check_dfnc.py <<'PY'
import numpy as np, json, sys, itertools
out, w = sys.argv[1], int(sys.argv[2])
truth = json.load(open(out + "_truth.json"))
est, tru = [], []
for sub, lab in truth.items():
    rows = [l.split("\t") for l in open(out + "/%s/func/%s_task-rest_desc-dfnc_states.tsv" % (sub, sub)).read().splitlines()[1:]]
    T = len(lab); assert len(rows) == T - w
    for i, r in enumerate(rows):
        est.append(int(r[3]) - 1); tru.append(lab[i + (w - 1) // 2])
est, tru = np.array(est), np.array(tru)
k = est.max() + 1
best = max(((est == np.array(p)[tru]).mean(), p) for p in itertools.permutations(range(k), 4))
print("dFNC state-assignment accuracy: %.3f (windows %d)" % (best[0], len(est)))
assert best[0] >= 0.70, best
PY

# --- static FNC on a two-order tree with a motion artefact in every run
"$NS_PYTHON" gen.py tree 1.0
cp -r tree tree_noconf
"$NS_BIN" fnc tree --confounds motion --select iq:0.8 --quiet 2> err.txt || { cat err.txt; fail "fnc exit $?"; }
"$NS_PYTHON" check.py tree

# without the nuisance regression the artefact couples every pair
"$NS_BIN" fnc tree_noconf --select iq:0.8 --quiet
"$NS_PYTHON" - <<'PY'
import numpy as np
def mean_uncoupled(p):
    rows = [l.split("\t") for l in open(p).read().splitlines()]
    h, F = rows[0], np.array([r[1:] for r in rows[1:]], float)
    keep = [i for i, c in enumerate(h[1:]) if c not in ("ica10c01-ica10c02", "ica10c03-ica10c04", "ica10c05-ica20c07")]
    return F[:, keep].mean()
a, b = mean_uncoupled("tree/group/desc-fnc_features.tsv"), mean_uncoupled("tree_noconf/group/desc-fnc_features.tsv")
print("mean uncoupled z: with motion regression %.3f, without %.3f" % (a, b))
assert abs(a) < 0.05 and b > 0.1
PY

# --- selection by the fraction of low-frequency power: a component turned
# into high-frequency noise is dropped, and the sidecar says why
cp -r tree tree_lf
"$NS_PYTHON" - <<'PY'
import glob, numpy as np
rng = np.random.default_rng(5)
for p in glob.glob("tree_lf/sub-*/**/*_desc-ica20_timeseries.tsv", recursive=True):
    rows = [l.split("\t") for l in open(p).read().splitlines()]
    for t, r in enumerate(rows[1:]):
        r[19] = "%.6f" % ((-1) ** t * (1 + 0.2 * rng.standard_normal()))
    open(p, "w").write("\n".join("\t".join(r) for r in rows) + "\n")
PY
"$NS_BIN" fnc tree_lf --select lowfreq:0.3 --quiet
grep -q '"ica20c20": "low-frequency power fraction 0\.[0-2][0-9]* < 0.3"' tree_lf/group/desc-fnc_features.json || fail "high-frequency component not dropped"
! head -1 tree_lf/group/desc-fnc_features.tsv | grep -q ica20c20 || fail "dropped component in the features"

# --- a run without RepetitionTime: refused by name, the others go on
cp -r tree tree_notr
"$NS_PYTHON" - <<'PY'
import json, glob
for p in glob.glob("tree_notr/sub-03/func/*_timeseries.json"):
    j = json.load(open(p)); del j["RepetitionTime"]; json.dump(j, open(p, "w"))
PY
set +e
"$NS_BIN" fnc tree_notr --quiet 2> err.txt; rc=$?
set -e
cat err.txt
[ $rc -eq 1 ] || fail "missing TR: exit $rc, expected 1"
grep -q "neurospectra: error: no repetition time.*--tr.*(sub-03_task-rest)" err.txt || fail "no clear missing-TR message"
[ "$(wc -l < tree_notr/group/desc-fnc_features.tsv)" -eq 24 ] || fail "the other 23 participants were not written"
"$NS_BIN" fnc tree_notr --tr 2 --quiet || fail "--tr 2 should satisfy the missing TR"
"$NS_BIN" fnc tree_notr --tr 1.5 2> err.txt || fail "--tr 1.5 failed"
grep -q "warn.*--tr 1.5 differs from the data's RepetitionTime 2" err.txt || fail "no warning for a --tr that differs"
grep -q '"RepetitionTime": 1.5' tree_notr/group/desc-fnc_features.json || fail "TR used not recorded"

# --- no TR anywhere: every run refused, exit 1
"$NS_PYTHON" - <<'PY'
import json, glob
for p in glob.glob("tree_notr/sub-*/**/*_timeseries.json", recursive=True):
    j = json.load(open(p)); j.pop("RepetitionTime", None); json.dump(j, open(p, "w"))
PY
set +e
"$NS_BIN" fnc tree_notr --quiet 2> err.txt; rc=$?
set -e
[ $rc -eq 1 ] || fail "no TR at all: exit $rc"
[ "$(grep -c 'no repetition time' err.txt)" -eq 25 ] || fail "expected 25 missing-TR errors"

# --- a corrupt timecourse table: that subject named, the others processed
sed -i '5s/^[^\t]*/oops/' tree_noconf/sub-05/func/sub-05_task-rest_desc-ica20_timeseries.tsv
set +e
"$NS_BIN" fnc tree_noconf --quiet 2> err.txt; rc=$?
set -e
[ $rc -eq 1 ] || fail "corrupt subject: exit $rc"
grep -q "neurospectra: error: .*line 5, column 1 is not a number.*sub-05_task-rest_desc-ica20_timeseries.tsv" err.txt || { cat err.txt; fail "corrupt subject not named"; }
[ "$(wc -l < tree_noconf/group/desc-fnc_features.tsv)" -eq 24 ] || fail "corrupt subject: others not written"

# --- usage errors
set +e
"$NS_BIN" fnc tree --select bogus:1 2> /dev/null; [ $? -eq 2 ] || fail "--select bogus should be a usage error"
"$NS_BIN" fnc 2> /dev/null; [ $? -eq 2 ] || fail "missing OUT should be a usage error"
"$NS_BIN" fnc tree --orders 10,30 --quiet 2> err.txt; [ $? -eq 1 ] || fail "unknown order should fail"
set -e
grep -q "no order-30 timecourses" err.txt || fail "unknown order message"
grep -q -- "--dynamic" <<<"$("$NS_BIN" fnc --help)" || fail "--help"

# --- dynamic FNC recovers planted states
"$NS_PYTHON" gen_dfnc.py dtree
"$NS_BIN" fnc dtree --dynamic --window 22 --states 4 --seed 3 --quiet
for f in desc-dfnc_centroids.tsv desc-dfnc_summary.tsv desc-dfnc_summary.json; do
  [ -s "dtree/group/$f" ] || fail "missing $f"
done
[ -s dtree/sub-01/func/sub-01_task-rest_desc-dfnc_transitions.tsv ] || fail "missing transitions"
"$NS_PYTHON" check_dfnc.py dtree 22
echo "test_fnc: all checks passed"

#!/usr/bin/env bash
# neurospectra train --dist keeps each site's data on its rank: every rank
# holds exactly its own sites' rows (2 and 3 ranks, unequal sites); the
# standardisation (and imputation) statistics equal numpy's over the pooled
# training rows although no rank has them; folds are stratified within each
# site and identical for 1, 2 and 3 ranks, so CV predictions and weights
# equal the one-process run's; --impute mean and --select univariate give
# numpy's / sklearn's pooled statistics and columns and plain train's weights
# (--folds 1); predictions.tsv lists every participant once,
# in table order, with its own label, and metrics.tsv agrees with them; the
# statistics and gathered evaluation bytes equal their formulas; a failure on
# one rank ends every rank with an error.
# requires: dist models spectra
set -euo pipefail
. "${NS_SRC:?}/tests/cli/scratch_lib.sh"
if [ "${NS_HAVE_MPI:-OFF}" != "ON" ]; then
  echo "no MPI in this build: nothing to check (test_dist.sh checks the refusal)"
  exit 0
fi
NS_MPI_TIMEOUT=600
. "$NS_SRC/tests/cli/mpi_lib.sh"
export TMPDIR="$NS_TMP/scratch"
mkdir -p "$TMPDIR"

# 60 participants, sites A/B/C of 30/18/12 (interleaved) whose features are
# shifted and scaled differently (so site-local statistics would differ from
# the pooled ones); fnc_na.tsv has a few n/a cells
"$NS_PYTHON" - <<'EOF'
import numpy as np
rng = np.random.default_rng(11)
n, F = 60, 12
y = np.array([0, 1] * (n // 2))
sites = np.array(["A"] * 30 + ["B"] * 18 + ["C"] * 12); rng.shuffle(sites)
X = rng.normal(size=(n, F)); X[:, :3] += 0.9 * y[:, None]
shift = {"A": (0.0, 1.0), "B": (3.0, 0.5), "C": (-2.0, 2.0)}
for i in range(n):
    a, b = shift[sites[i]]; X[i] = a + b * X[i]
def write(path, na):
    with open(path, "w") as f:
        f.write("participant_id\t" + "\t".join("e%02d" % j for j in range(F)) + "\n")
        for i in range(n):
            cells = ["n/a" if (i, j) in na else "%.6f" % X[i, j] for j in range(F)]
            f.write("sub-%02d\t" % i + "\t".join(cells) + "\n")
write("fnc.tsv", set())
write("fnc_na.tsv", {(3, 0), (17, 0), (40, 5), (41, 11), (58, 2)})
with open("participants.tsv", "w") as f:
    f.write("participant_id\tdx\tsite\n")
    for i in range(n):
        f.write("sub-%02d\t%s\t%s\n" % (i, "P" if y[i] else "C", sites[i]))
EOF

cv() { # OUT NP METHOD
  "${MPI[@]}" -np "$2" "$NS_BIN" train fnc.tsv --labels participants.tsv --target dx \
    --model mlp:8 --folds 5 --epochs 6 --batch 12 --optimizer adam --lr 0.01 --seed 5 \
    --dist "$3" --site-column site -o "$1" 2> "$1.log"
}
cv cv1 1 dsgd
cv cv2 2 dad
cv cv3 3 edad

echo "rows held by each rank"
"$NS_PYTHON" - <<'EOF' || fail "a rank does not hold exactly its sites' rows"
import csv, re
sites = [r["site"] for r in csv.DictReader(open("participants.tsv"), delimiter="\t")]
names = sorted(set(sites))
for S, log in [(1, "cv1.log"), (2, "cv2.log"), (3, "cv3.log")]:
    got = {int(m.group(1)): (int(m.group(2)), m.group(3)) for m in
           re.finditer(r"rank (\d+) holds (\d+) rows \(sites ([^)]*)\)", open(log).read())}
    want = {}
    for r in range(S):
        mine = [s for k, s in enumerate(names) if k % S == r]
        want[r] = (sum(s in mine for s in sites), "+".join(mine))
    print("  %d ranks: %s" % (S, ", ".join("rank %d %d rows (%s)" % (r, *got[r]) for r in sorted(got))))
    assert got == want, (S, got, want)
EOF

echo "predictions, folds, metrics, standardisation and weights: 1 vs 2 vs 3 ranks"
"$NS_PYTHON" - <<'EOF' || fail "distributed CV differs from the one-process run or from numpy"
import csv, numpy as np
part = {r["participant_id"]: r for r in csv.DictReader(open("participants.tsv"), delimiter="\t")}
tab = list(csv.DictReader(open("fnc.tsv"), delimiter="\t"))
ids = [r["participant_id"] for r in tab]
X = np.array([[float(r["e%02d" % j]) for j in range(12)] for r in tab])
def preds(d):
    rows = list(csv.DictReader(open(d + "/predictions.tsv"), delimiter="\t"))
    assert [r["participant_id"] for r in rows] == ids, d + ": not every participant once, in order"
    for r in rows:
        assert r["true"] == part[r["participant_id"]]["dx"], (d, r)
    return rows
ref = preds("cv1")
fold = np.array([int(r["fold"]) for r in ref])
site = np.array([part[i]["site"] for i in ids]); y = np.array([part[i]["dx"] for i in ids])
for s in "ABC":            # stratified within each site
    for c in "CP":
        cnt = np.bincount(fold[(site == s) & (y == c)], minlength=5)
        assert cnt.max() - cnt.min() <= 1, (s, c, cnt)
for d in ["cv1", "cv2", "cv3"]:
    rows = preds(d)
    assert [int(r["fold"]) for r in rows] == list(fold), d + ": other folds"
    p = np.array([float(r["probability_P"]) for r in rows])
    pr = np.array([float(r["probability_P"]) for r in ref])
    print("  %s: largest probability difference to 1 rank %.2g" % (d, abs(p - pr).max()))
    assert abs(p - pr).max() < 1e-5, d
    # metrics.tsv agrees with its own predictions (recomputed here)
    m = {r["fold"]: r for r in csv.DictReader(open(d + "/metrics.tsv"), delimiter="\t")}
    pred = np.array([r["predicted"] for r in rows])
    assert int(m["pooled"]["n"]) == 60
    assert abs(float(m["pooled"]["accuracy"]) - np.mean(pred == y)) < 1e-6, d
    for f in range(5):
        k = fold == f
        assert int(m[str(f)]["n"]) == k.sum(), (d, f)
        assert abs(float(m[str(f)]["accuracy"]) - np.mean(pred[k] == y[k])) < 1e-6, (d, f)
    for f in range(5):
        z, z1 = np.load("%s/fold-%d_model.npz" % (d, f)), np.load("cv1/fold-%d_model.npz" % f)
        tr = X[fold != f]
        assert np.allclose(z["scale_mean"], tr.mean(0), rtol=1e-9, atol=1e-12), (d, f)
        assert np.allclose(z["scale_std"], tr.std(0), rtol=1e-9, atol=1e-12), (d, f)
        keys = [k for k in z1.files if "weight" in k or "bias" in k]
        e = np.sqrt(sum(np.sum((z[k] - z1[k]) ** 2) for k in keys) /
                    sum(np.sum(z1[k] ** 2) for k in keys))
        assert e < 1e-5, (d, f, e)
    # site-local statistics would have been far off: the check above is meaningful
    local = X[(fold != 0) & (site == "A")]
    assert abs(local.mean(0) - X[fold != 0].mean(0)).max() > 0.3
print("  folds stratified within every site; scale_mean/scale_std = numpy over the pooled "
      "training rows; fold weights within 1e-5")
EOF

echo "--folds 1 with --impute mean: 3 ranks vs plain train (full batch), bytes"
full=(--labels participants.tsv --target dx --folds 1 --epochs 30 --batch 100 --optimizer sgd
      --lr 0.2 --momentum 0.9 --seed 3 --impute mean --model mlp:8 -q)
"$NS_BIN" train fnc_na.tsv "${full[@]}" -o plain
"${MPI[@]}" -np 3 "$NS_BIN" train fnc_na.tsv "${full[@]}" --dist dad --site-column site -o imp3 \
  --predict fnc.tsv
"$NS_PYTHON" - <<'EOF' || fail "--impute/--folds 1 across ranks"
import csv, numpy as np
tab = list(csv.DictReader(open("fnc_na.tsv"), delimiter="\t"))
X = np.array([[float("nan") if r["e%02d" % j] == "n/a" else float(r["e%02d" % j])
               for j in range(12)] for r in tab])
Xi = np.where(np.isnan(X), np.nanmean(X, 0), X)
a, b = np.load("plain/model.npz"), np.load("imp3/model.npz")
for z in (a, b):
    assert np.allclose(z["scale_mean"], Xi.mean(0), rtol=1e-9), z["scale_mean"]
    assert np.allclose(z["scale_std"], Xi.std(0), rtol=1e-9)
keys = [k for k in a.files if "weight" in k or "bias" in k]
e = np.sqrt(sum(np.sum((a[k] - b[k]) ** 2) for k in keys) / sum(np.sum(a[k] ** 2) for k in keys))
print("  weights vs plain train: relative difference %.3g" % e)
assert e < 1e-5, e
p1 = list(csv.DictReader(open("plain/predictions.tsv"), delimiter="\t"))
p3 = list(csv.DictReader(open("imp3/predictions.tsv"), delimiter="\t"))
assert [r["participant_id"] for r in p1] == [r["participant_id"] for r in p3]
assert all(r["fold"] == "all" for r in p3)
d = max(abs(float(r["probability_P"]) - float(s["probability_P"])) for r, s in zip(p1, p3))
assert d < 1e-5, d
assert len(list(csv.DictReader(open("imp3/predict.tsv"), delimiter="\t"))) == 60
# bytes: imputation (2p) and standardisation (p + 1, then p) sums, full mesh on 3 ranks;
# rank r > 0 sends its n_r records of 3 + 2 classes + 1 double of id (sub-NN) to rank 0
sites = [r["site"] for r in csv.DictReader(open("participants.tsv"), delimiter="\t")]
nr = [sites.count(s) for s in "ABC"]
summ = {r["rank"]: r for r in csv.DictReader(open("imp3/dist_bandwidth_summary.tsv"), delimiter="\t")}
p = 12
for r in "012":
    assert float(summ[r]["stats_bytes"]) == 2 * 8 * (4 * p + 1) * 2, summ[r]
ev = [8 * 6 * n for n in nr]
assert float(summ["1"]["eval_bytes"]) == ev[1] and float(summ["2"]["eval_bytes"]) == ev[2]
assert float(summ["0"]["eval_bytes"]) == ev[1] + ev[2], summ["0"]
print("  scale statistics = numpy on the imputed pooled rows; stats_bytes %s, eval_bytes %s %s %s"
      % (summ["0"]["stats_bytes"], summ["0"]["eval_bytes"], summ["1"]["eval_bytes"],
         summ["2"]["eval_bytes"]))
EOF

echo "--select univariate across ranks: ANOVA from pooled class sums = sklearn's f_classif"
sel=(--labels participants.tsv --target dx --model mlp:8 --epochs 4 --batch 12 --seed 5 -q)
"${MPI[@]}" -np 1 "$NS_BIN" train fnc.tsv "${sel[@]}" --folds 4 --select univariate:5 \
  --dist dsgd --site-column site -o sel1
"${MPI[@]}" -np 3 "$NS_BIN" train fnc.tsv "${sel[@]}" --folds 4 --select univariate:5 \
  --dist dad --site-column site -o sel3
full=(--labels participants.tsv --target dx --folds 1 --epochs 30 --batch 100 --optimizer sgd
      --lr 0.2 --momentum 0.9 --seed 3 --model mlp:8 --select univariate -q)
"$NS_BIN" train fnc.tsv "${full[@]}" -o selplain
"${MPI[@]}" -np 2 "$NS_BIN" train fnc.tsv "${full[@]}" --dist edad --site-column site -o selfull2
"$NS_PYTHON" - <<'EOF' || fail "univariate selection across ranks"
import csv, numpy as np
from sklearn.feature_selection import f_classif
tab = list(csv.DictReader(open("fnc.tsv"), delimiter="\t"))
X = np.array([[float(r["e%02d" % j]) for j in range(12)] for r in tab])
rows = list(csv.DictReader(open("sel3/predictions.tsv"), delimiter="\t"))
fold = np.array([int(r["fold"]) for r in rows]); y = np.array([r["true"] for r in rows])
for f in range(4):
    a, b = np.load("sel1/fold-%d_model.npz" % f), np.load("sel3/fold-%d_model.npz" % f)
    F, _ = f_classif(X[fold != f], y[fold != f])
    want = sorted(np.argsort(-F, kind="stable")[:5])
    assert list(a["selected_columns"]) == want == list(b["selected_columns"]), (f, want)
    tr = X[fold != f][:, want]
    assert np.allclose(b["scale_mean"], tr.mean(0), rtol=1e-9)
    assert np.allclose(b["scale_std"], tr.std(0), rtol=1e-9)
    for k in a.files:
        if "weight" in k or "bias" in k:
            assert np.abs(a[k] - b[k]).max() < 1e-5 * (1 + np.abs(a[k]).max()), (f, k)
F, pv = f_classif(X, y)
a, b = np.load("selplain/model.npz"), np.load("selfull2/model.npz")
want = list(np.flatnonzero(pv < 0.05))
assert list(a["selected_columns"]) == list(b["selected_columns"]) == want, (a["selected_columns"], b["selected_columns"], pv)
keys = [k for k in a.files if "weight" in k or "bias" in k]
e = np.sqrt(sum(np.sum((a[k] - b[k]) ** 2) for k in keys) / sum(np.sum(a[k] ** 2) for k in keys))
assert e < 1e-5, e
print("  4 folds: top-5 columns = f_classif's on 1 and 3 ranks; p < 0.05 %s and weights "
      "(%.2g) = plain train" % (want, e))
EOF

echo "a failure on one rank: every rank ends with an error"
set +e
"${MPI[@]}" -np 3 "$NS_BIN" train fnc.tsv --labels participants.tsv --target dx --model mlp:4 \
  --folds 13 --dist dad --site-column site -o bad -q 2> err.txt >/dev/null
rc=$?
set -e
[ $rc -ne 0 ] || fail "13 folds for a 12-participant site must fail"
grep -q "has 12 participants for 13 folds" err.txt || fail "error names the site: $(cat err.txt)"
[ "$(grep -c '^neurospectra: error:' err.txt)" -eq 3 ] || fail "every rank reports: $(cat err.txt)"
[ -z "$(ls -A "$TMPDIR")" ] || fail "rank > 0 left its scratch directory: $(ls "$TMPDIR")"
echo "dist_sites: all checks passed"

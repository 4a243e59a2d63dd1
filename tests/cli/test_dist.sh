#!/usr/bin/env bash
# neurospectra train --dist over MPI (2 and 3 ranks, unequal sites): after 50
# steps dad and edad weights equal dsgd's and a pooled single-process run's
# (and, full-batch, plain `train` without --dist) for an MLP, a GRU and a
# conv1d model; rankdad with R >= the site's batch rows equals dad; rankdad's
# error falls with R and with power iterations toward the best rank-R
# truncation; counted bytes equal the formulas; rank 0 writes the outputs and
# every rank ends with the same weights; bad uses fail with one clear line.
# requires: dist models spectra
set -euo pipefail
. "${NS_SRC:?}/tests/cli/scratch_lib.sh"

if [ "${NS_HAVE_MPI:-OFF}" != "ON" ]; then
  set +e
  "$NS_BIN" train x.tsv --labels p.tsv --target dx -o o --model mlp:4 --dist dad 2>err.txt
  rc=$?
  set -e
  [ $rc -eq 2 ] && grep -q "MPI" err.txt || fail "--dist without MPI must say so (exit $rc)"
  echo "no MPI in this build: --dist refuses clearly"
  exit 0
fi
NS_MPI_TIMEOUT=600
. "$NS_SRC/tests/cli/mpi_lib.sh"
export TMPDIR="$NS_TMP/scratch" # rank > 0 writes its outputs under it, removed at exit
mkdir -p "$TMPDIR"

# 60 participants, sites A/B/C of 30/18/12 (unequal, interleaved); a table of
# 12 features and sequences of 16 steps x 3 channels, both with a planted effect
"$NS_PYTHON" - <<'EOF'
import numpy as np
rng = np.random.default_rng(7)
n, F, T, C = 60, 12, 16, 3
y = np.array([0, 1] * (n // 2))
X = rng.normal(size=(n, F)); X[:, :3] += 0.8 * y[:, None]
S = rng.normal(size=(n, T, C)).astype(np.float32); S[:, :, 0] += 0.5 * y[:, None]
sites = np.array(["A"] * 30 + ["B"] * 18 + ["C"] * 12); rng.shuffle(sites)
with open("fnc.tsv", "w") as f:
    f.write("participant_id\t" + "\t".join("e%02d" % j for j in range(F)) + "\n")
    for i in range(n):
        f.write("sub-%02d\t" % i + "\t".join("%.5f" % v for v in X[i]) + "\n")
np.save("seq.npy", S)
open("ids.txt", "w").write("".join("sub-%02d\n" % i for i in range(n)))
with open("participants.tsv", "w") as f:
    f.write("participant_id\tdx\tsite\n")
    for i in range(n):
        f.write("sub-%02d\t%s\t%s\n" % (i, "P" if y[i] else "C", sites[i]))
EOF
cat > cmp.py <<'EOF'
import numpy as np, sys
ref, tol = np.load(sys.argv[1]), float(sys.argv[2])
keys = [k for k in ref.files if "weight" in k or "bias" in k]
for f in sys.argv[3:]:
    z = np.load(f)
    num = sum(float(np.sum((z[k].astype(float) - ref[k].astype(float)) ** 2)) for k in keys)
    den = sum(float(np.sum(ref[k].astype(float) ** 2)) for k in keys)
    e = (num / den) ** 0.5
    print("  %-28s relative difference %.3g" % (f, e))
    assert e < tol, (f, e)
EOF

# 60 rows, batch 12: 5 steps per epoch, 10 epochs = 50 steps
train() { # OUT NP METHOD MODEL-ARGS...
  local out=$1 np=$2 method=$3; shift 3
  "${MPI[@]}" -np "$np" "$NS_BIN" train --labels participants.tsv --target dx --folds 1 \
    --epochs 10 --batch 12 --optimizer adam --lr 0.01 --seed 3 --dist "$method" \
    --site-column site -o "$out" -q --dist-spectra 25 "$@" # later options win
}
for model in mlp:8,6 gru:6 cnn1d:4k3s2,5k3; do
  tag=${model%%:*}
  if [ "$tag" = mlp ]; then in=(fnc.tsv); else in=(seq.npy --ids ids.txt --no-standardize); fi
  m=(--model "$model" "${in[@]}")
  train "$tag-pooled" 1 dsgd "${m[@]}"
  for np in 2 3; do
    for method in dsgd dad edad; do train "$tag-$method-$np" "$np" "$method" "${m[@]}"; done
  done
  echo "$model: dsgd / dad / edad on 2 and 3 ranks vs the pooled run (Adam)"
  "$NS_PYTHON" cmp.py "$tag-pooled/model.npz" 1e-5 "$tag"-{dsgd,dad,edad}-{2,3}/model.npz \
    || fail "$model: distributed weights differ from pooled"
  # rank-dAD at R >= the site's batch rows is dad up to the power iteration's
  # float32 rank tolerance; SGD keeps that difference at its size (Adam's
  # normalisation magnifies it in near-zero gradient entries: ~1e-4)
  sgd=(--optimizer sgd --momentum 0.9 --lr 0.1)
  train "$tag-sgd-dad-3" 3 dad "${m[@]}" "${sgd[@]}"
  train "$tag-rankdad-3" 3 rankdad:200 "${m[@]}" "${sgd[@]}"
  echo "$model: rankdad:200 vs dad (SGD with momentum)"
  "$NS_PYTHON" cmp.py "$tag-sgd-dad-3/model.npz" 1e-5 "$tag-rankdad-3/model.npz" \
    || fail "$model: rankdad with R >= batch rows differs from dad"
  grep -q "^dad	all	all	50	" "$tag-dad-3/dist_bandwidth_summary.tsv" || fail "$model: 50 steps"
done

# full batch: the distributed aggregate is the pooled full-batch gradient, the
# gradient plain `train` (no MPI) uses
full=(--labels participants.tsv --target dx --folds 1 --epochs 50 --batch 100 --optimizer sgd
      --lr 0.2 --momentum 0.9 --seed 3 -q)
"$NS_BIN" train fnc.tsv --model mlp:8,6 "${full[@]}" -o plain-mlp
"$NS_BIN" train seq.npy --ids ids.txt --no-standardize --model gru:6 "${full[@]}" -o plain-gru
"${MPI[@]}" -np 3 "$NS_BIN" train fnc.tsv --model mlp:8,6 "${full[@]}" --dist dad --site-column site -o fb-mlp-dad
"${MPI[@]}" -np 2 "$NS_BIN" train fnc.tsv --model mlp:8,6 "${full[@]}" --dist edad -o fb-mlp-edad
"${MPI[@]}" -np 3 "$NS_BIN" train seq.npy --ids ids.txt --no-standardize --model gru:6 "${full[@]}" \
  --dist edad --site-column site -o fb-gru-edad
echo "full batch, 50 steps: distributed vs plain train"
"$NS_PYTHON" cmp.py plain-mlp/model.npz 1e-5 fb-mlp-dad/model.npz fb-mlp-edad/model.npz \
  || fail "mlp: full-batch dad/edad differ from plain train"
"$NS_PYTHON" cmp.py plain-gru/model.npz 1e-5 fb-gru-edad/model.npz || fail "gru: full-batch edad"

# rank-dAD's error at step 0 (same weights and batch in every run): falls with
# R and with power iterations, toward the best rank-R truncation
for spec in rankdad:1 rankdad:2 rankdad:4 rankdad:2:iters=1 rankdad:2:iters=40; do
  "${MPI[@]}" -np 3 "$NS_BIN" train fnc.tsv --model mlp:16 --labels participants.tsv --target dx \
    --folds 1 --epochs 1 --batch 30 --seed 3 --dist "$spec" --site-column site --dist-spectra 1 \
    -o "err-${spec//[:=]/_}" -q
done
"$NS_PYTHON" - <<'EOF' || fail "rank-dAD error does not fall with R / iterations"
import csv
def err(d):
    rows = [r for r in csv.DictReader(open(d + "/dist_spectra.tsv"), delimiter="\t")
            if r["step"] == "0" and r["layer"] == "fc0"]
    a = [float(r["value"]) for r in rows if r["quantity"] == "approx_error"]
    b = [float(r["value"]) for r in rows if r["quantity"] == "best_error"]
    assert len(a) == 3 and len(b) == 3, rows
    return sum(a) / 3, sum(b) / 3
e = {k: err("err-" + k) for k in ["rankdad_1", "rankdad_2", "rankdad_4", "rankdad_2_iters_1",
                                  "rankdad_2_iters_40"]}
for k, v in e.items():
    print("  %-20s approx %.4f  best %.4f" % (k, v[0], v[1]))
assert e["rankdad_1"][0] > e["rankdad_2"][0] > e["rankdad_4"][0]
assert e["rankdad_1"][1] > e["rankdad_2"][1] > e["rankdad_4"][1]
assert e["rankdad_2_iters_1"][0] > e["rankdad_2_iters_40"][0]
for k, (a, b) in e.items():
    assert a >= b - 1e-6, (k, a, b)
assert e["rankdad_2_iters_40"][0] <= e["rankdad_2_iters_40"][1] * 1.01 + 1e-6
EOF

# bytes: every row of dist_bandwidth.tsv against the formulas of dist.h
for spec in powersgd:2 rankdad:2:twoway; do
  train "mlp-${spec//:/_}-3" 3 "$spec" --model mlp:8,6 fnc.tsv
done
train "gru-dad-2s" 2 dad --model gru:6 seq.npy --ids ids.txt --no-standardize # 3 sites on 2 ranks
"$NS_PYTHON" - <<'EOF' || fail "counted bytes differ from the formulas"
import csv, numpy as np
from collections import defaultdict
def shapes(model):
    z = np.load(model)
    out = {}
    for k in z.files:
        if not k.endswith("weight") and "weight_" not in k:
            continue
        w = z[k].shape
        name = {"rnn.weight_ih_l0": "rnn.ih", "rnn.weight_hh_l0": "rnn.hh"}.get(k, k[:-7])
        bias = k.replace("weight", "bias") in z.files
        out[name] = (int(np.prod(w[1:])), w[0], bias)
    return out
def check(d, method, S, R=0, warm=0):
    sh = shapes(d + "/model.npz")
    last = max((n for n in sh if n.startswith("fc")), key=lambda n: int(n[2:]))
    rows = list(csv.DictReader(open(d + "/dist_bandwidth.tsv"), delimiter="\t"))
    msg = defaultdict(dict)
    for r in rows:
        st, L, rk, n = int(r["step"]), r["layer"], int(r["rank"]), float(r["rows"])
        if L == "meta":
            m, dsgd = 32, 32
        else:
            hi, ho, b = sh[L]
            dsgd = 4 * (hi * ho + (ho if b else 0))
            if method == "dad": m = 4 * n * (hi + ho)
            elif method == "edad": m = 4 * n * (hi + (ho if L == last else 0))
            elif method == "dsgd": m = dsgd
            elif method == "rankdad": m = 4 * (min(R, hi, ho) * (hi + ho) + (ho if b else 0))
            else:
                comp = st >= warm and R * (hi + ho) < hi * ho
                m = 4 * (R * (hi + ho) + (ho if b else 0)) if comp else dsgd
        assert float(r["bytes_sent"]) == (S - 1) * m, (d, r, m)
        assert float(r["dsgd_bytes"]) == (S - 1) * dsgd, (d, r)
        msg[(st, L)][rk] = (m, float(r["bytes_received"]))
    for key, per in msg.items():
        assert len(per) == S, (d, key)
        for rk, (m, recv) in per.items():
            assert recv == sum(v[0] for k, v in per.items() if k != rk), (d, key, rk)
    print("  %-24s %5d rows match the formulas" % (d, len(rows)))
check("mlp-dsgd-3", "dsgd", 3)
check("mlp-dad-3", "dad", 3)
check("mlp-edad-2", "edad", 2)
check("gru-edad-3", "edad", 3)
check("cnn1d-dad-2", "dad", 2)
check("cnn1d-rankdad-3", "rankdad", 3, R=200)
check("mlp-rankdad_2_twoway-3", "rankdad", 3, R=2)
check("mlp-powersgd_2-3", "powersgd", 3, R=2, warm=5)
check("gru-dad-2s", "dad", 2)
for d in ["mlp-dad-3", "gru-edad-3", "mlp-powersgd_2-3"]:
    s = list(csv.DictReader(open(d + "/dist_bandwidth_summary.tsv"), delimiter="\t"))
    assert [r["rank"] for r in s] == ["0", "1", "2", "all"], s
    assert all(float(r["max_param_diff"]) == 0 for r in s), s
    assert [r["sites"] for r in s[:3]] == ["A", "B", "C"], s
EOF
grep -q "	A+C	" gru-dad-2s/dist_bandwidth_summary.tsv || fail "rank 0 holds sites A and C on 2 ranks"
grep -q "	all	sv	" mlp-dad-3/dist_spectra.tsv && grep -q "	fc0	B	sv	" mlp-dad-3/dist_spectra.tsv \
  || fail "dad spectra of the aggregate and of each site"
grep -q "	all	sv	" mlp-rankdad_2_twoway-3/dist_spectra.tsv || fail "rankdad spectra"

# cross-validation folds, outputs on rank 0 only, and bad uses
"${MPI[@]}" -np 2 "$NS_BIN" train fnc.tsv --labels participants.tsv --target dx --model mlp:4 \
  --folds 3 --epochs 3 --dist dad --site-column site -o cv -q
[ -s cv/metrics.tsv ] && [ -s cv/fold-2_model.npz ] || fail "CV outputs"
cut -f1 cv/dist_bandwidth.tsv | sort -u | tr '\n' ' ' | grep -q "^0 1 2 fold $" || fail "fold column"
[ -z "$(ls -A "$TMPDIR")" ] || fail "rank > 0 left its scratch directory: $(ls "$TMPDIR")"
set +e
"$NS_BIN" train fnc.tsv --labels participants.tsv --target dx --model mlp:4 --dist rankdad:0 -o x 2>err.txt
[ $? -eq 2 ] && grep -q "rank >= 1" err.txt || fail "bad method must be a usage error"
"$NS_BIN" train fnc.tsv --labels participants.tsv --target dx --model mlp:4 --site-column site -o x 2>err.txt
[ $? -eq 1 ] && grep -q "needs --dist" err.txt || fail "--site-column without --dist"
"${MPI[@]}" -np 4 "$NS_BIN" train fnc.tsv --labels participants.tsv --target dx --model mlp:4 \
  --dist dad --site-column site -o x 2>err.txt >/dev/null
[ $? -ne 0 ] && grep -q "every rank needs a site" err.txt || fail "4 ranks for 3 sites"
"$NS_BIN" train fnc.tsv --labels participants.tsv --target dx --dist dad -o x 2>err.txt
[ $? -eq 1 ] && grep -q "trains networks" err.txt || fail "--dist with logreg"
set -e
echo "dist: all checks passed"

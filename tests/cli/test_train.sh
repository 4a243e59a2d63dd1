#!/usr/bin/env bash
# neurospectra train: a planted effect is found with nested CV (univariate and
# soft forward selection), shuffled labels stay near chance, outputs are
# complete, and bad input gives exit 1 with one clear line.
# requires: models
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}" "${NS_PYTHON:=/usr/bin/python3}"
rm -rf "$NS_TMP" && mkdir -p "$NS_TMP"
cd "$NS_TMP"
fail() { echo "FAIL: $*" >&2; exit 1; }

grep -q "usage: neurospectra train" <<<"$("$NS_BIN" train --help)" || fail "--help"
set +e
"$NS_BIN" train 2>/dev/null; [ $? -eq 2 ] || fail "no arguments must be a usage error"
"$NS_BIN" train x.tsv --labels p.tsv --target dx -o o --select bogus 2>/dev/null
[ $? -eq 2 ] || fail "bad --select must be a usage error"
set -e

# FNC-like table: 3 blocks (order pairs) of 20 edges, 80 participants; the
# diagnosis shifts 8 edges of the ica10-ica20 block. Also a shuffled copy.
"$NS_PYTHON" - <<'EOF'
import numpy as np
rng = np.random.default_rng(4)
n = 80
cols = ["%sc%02d-%sc%02d" % (a, i, b, j) for a, b in (("ica10", "ica10"), ("ica10", "ica20"),
        ("ica20", "ica20")) for i in range(1, 6) for j in range(1, 5)]
y = np.array([0, 1] * (n // 2))
X = rng.normal(size=(n, len(cols)))
X[:, 20:28] += 0.9 * y[:, None]
with open("fnc.tsv", "w") as f:
    f.write("participant_id\t" + "\t".join(cols) + "\n")
    for i in range(n):
        f.write("sub-%02d\t" % i + "\t".join("%.5f" % v for v in X[i]) + "\n")
def labels(name, yy):
    with open(name, "w") as f:
        f.write("participant_id\tdiagnosis\tsite\n")
        for i in range(n):
            f.write("sub-%02d\t%s\tA\n" % (i, "MDD" if yy[i] else "HC"))
labels("participants.tsv", y)
labels("shuffled.tsv", rng.permutation(y))
EOF

bacc() { awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "balanced_accuracy") c = i }
                     $1 == "pooled" { print $c }' "$1/metrics.tsv"; }

"$NS_BIN" train fnc.tsv --labels participants.tsv --target diagnosis --nested \
  --select univariate:4,8,16 --seed 1 -o uni -q
b=$(bacc uni)
echo "planted effect, nested univariate: balanced accuracy $b"
awk -v b="$b" 'BEGIN { exit !(b >= 0.75) }' || fail "univariate nested CV balanced accuracy $b < 0.75"
[ "$(grep -c . uni/metrics.tsv)" -eq 8 ] || fail "metrics.tsv: header + 5 folds + mean + pooled"
[ "$(tail -n +2 uni/predictions.tsv | wc -l)" -eq 80 ] || fail "predictions.tsv rows"
head -1 uni/predictions.tsv | grep -q "participant_id	fold	true	predicted	probability_HC	probability_MDD" \
  || fail "predictions.tsv header"
for f in 0 1 2 3 4; do [ -s "uni/fold-${f}_model.npz" ] || fail "fold $f checkpoint"; done
"$NS_PYTHON" - <<'EOF' || fail "summary.json / checkpoints"
import json, numpy as np
s = json.load(open("uni/summary.json"))
assert s["settings"]["seed"] == 1 and s["settings"]["nested"] is True, s["settings"]
assert s["classes"] == ["HC", "MDD"] and s["n"] == 80
assert len(s["metrics"]["folds"]) == 5
z = np.load("uni/fold-0_model.npz")
assert z["coef"].shape == (1, len(z["selected_columns"])) and len(z["selected_columns"]) in (4, 8, 16)
EOF

"$NS_BIN" train fnc.tsv --labels participants.tsv --target diagnosis --nested --select ssfs \
  --seed 1 -o ssfs -q
b=$(bacc ssfs)
echo "planted effect, nested ssfs: balanced accuracy $b"
awk -v b="$b" 'BEGIN { exit !(b >= 0.75) }' || fail "ssfs nested CV balanced accuracy $b < 0.75"

"$NS_BIN" train fnc.tsv --labels shuffled.tsv --target diagnosis --nested \
  --select univariate:4,8,16 --permutations 19 --seed 1 -o null -q
b=$(bacc null)
echo "shuffled labels: balanced accuracy $b"
awk -v b="$b" 'BEGIN { exit !(b > 0.3 && b < 0.7) }' || fail "shuffled labels gave $b"
"$NS_PYTHON" -c "
import json; p = json.load(open('null/summary.json'))['permutation_test']['p_value']
assert p > 0.05, p" || fail "permutation p-value on shuffled labels"

# one model on all rows, applied to new rows
"$NS_BIN" train fnc.tsv --labels participants.tsv --target diagnosis --folds 1 \
  --model svm-linear --predict fnc.tsv -o final -q
[ -s final/model.npz ] && [ -s final/predict.tsv ] || fail "--folds 1 outputs"
head -1 final/predict.tsv | grep -q "decision" || fail "predict.tsv decision column"

# a network and sequences from per-subject timeseries files
mkdir -p ts
"$NS_PYTHON" - <<'EOF'
import numpy as np, os
rng = np.random.default_rng(5)
for i in range(24):
    d = "ts/sub-%02d/func" % i
    os.makedirs(d, exist_ok=True)
    x = rng.normal(size=(20, 3))
    np.savetxt("%s/sub-%02d_desc-ica3_timeseries.tsv" % (d, i), x, delimiter="\t",
               header="c1\tc2\tc3", comments="", fmt="%.4f")
EOF
head -25 participants.tsv > p24.tsv
"$NS_BIN" train ts --labels p24.tsv --target diagnosis --model rnn:4 --epochs 3 --folds 3 -o seq -q
[ "$(tail -n +2 seq/predictions.tsv | wc -l)" -eq 24 ] || fail "sequence predictions"
"$NS_BIN" train fnc.tsv --labels participants.tsv --target diagnosis --model mlp:8 --epochs 5 \
  --folds 2 --optimizer adamw --lr 0.01 --select univariate:10 -o mlp -q
"$NS_PYTHON" -c "
import numpy as np; z = np.load('mlp/fold-0_model.npz'); assert z['fc0.weight'].shape == (8, 10)" \
  || fail "network checkpoint (selected columns as inputs)"

# principal-angle kernel: in one class, the second component of every subject
# leans towards a shared direction; ssfs must keep that component
"$NS_PYTHON" - <<'EOF'
import numpy as np
rng = np.random.default_rng(6)
n, K, V = 40, 4, 200
y = np.array([0, 1] * (n // 2))
shared = rng.normal(size=V)
maps = rng.normal(size=(n, K, V))
maps[y == 1, 1] += 1.5 * shared
np.save("maps.npy", maps.astype(np.float32))
open("map_ids.txt", "w").write("".join("sub-%02d\n" % i for i in range(n)))
EOF
"$NS_BIN" train maps.npy --ids map_ids.txt --labels participants.tsv --target diagnosis \
  --model svm-subspace --select ssfs --seed 1 -o subspace -q
b=$(bacc subspace)
echo "principal-angle kernel with component selection: balanced accuracy $b"
awk -v b="$b" 'BEGIN { exit !(b >= 0.8) }' || fail "svm-subspace balanced accuracy $b"
"$NS_PYTHON" -c "
import numpy as np; z = np.load('subspace/fold-0_model.npz')
assert 1 in z['selected_components'], z['selected_components']" || fail "component 1 not selected"

# bad input: exit 1 and exactly one line naming the problem
one_error() { # expected-substring, command...
  local want=$1; shift
  set +e; "$@" > /dev/null 2> err.txt; local rc=$?; set -e
  [ $rc -eq 1 ] || fail "exit $rc (want 1): $*"
  [ "$(wc -l < err.txt)" -eq 1 ] || { cat err.txt; fail "more than one line: $*"; }
  grep -q "^neurospectra: error: .*$want" err.txt || { cat err.txt; fail "message: $*"; }
}
one_error "no column 'response'" "$NS_BIN" train fnc.tsv --labels participants.tsv --target response -o e1
sed 's/^sub-/subj-/' participants.tsv > badids.tsv
one_error "no participant" "$NS_BIN" train fnc.tsv --labels badids.tsv --target diagnosis -o e2
awk -F'\t' 'BEGIN { OFS = "\t" } NR == 4 { $5 = "n/a" } { print }' fnc.tsv > nafeat.tsv
one_error "n/a feature .* for sub-02" "$NS_BIN" train nafeat.tsv --labels participants.tsv --target diagnosis -o e3
one_error "single class" "$NS_BIN" train fnc.tsv --labels participants.tsv --target site -o e4
one_error "fnc_missing.tsv" "$NS_BIN" train fnc_missing.tsv --labels participants.tsv --target diagnosis -o e5

# n/a features imputed on request; n/a target: the participant is dropped, named in a warning
"$NS_BIN" train nafeat.tsv --labels participants.tsv --target diagnosis --impute mean --folds 2 -o imp -q
awk -F'\t' 'BEGIN { OFS = "\t" } NR == 6 { $2 = "n/a" } { print }' participants.tsv > natarget.tsv
"$NS_BIN" train fnc.tsv --labels natarget.tsv --target diagnosis --folds 2 -o nat 2> warn.txt
grep -q "warn.*target n/a.*sub-04" warn.txt || { cat warn.txt; fail "n/a target warning"; }
! grep -q "^sub-04" nat/predictions.tsv || fail "sub-04 must be dropped"
[ "$(tail -n +2 nat/predictions.tsv | wc -l)" -eq 79 ] || fail "79 participants expected"
grep -q "least populated" warn.txt && fail "balanced classes must not warn"

# A class with fewer participants than folds (a numeric column taken as
# classes, as sklearn's StratifiedKFold warns): named in a warning, the run goes on.
awk -F'\t' 'BEGIN { OFS = "\t" } NR > 1 && NR <= 4 { $2 = "BD" } { print }' participants.tsv > rare.tsv
"$NS_BIN" train fnc.tsv --labels rare.tsv --target diagnosis --folds 5 -o rare 2> warn.txt
grep -q "warning: the least populated class of 'diagnosis' ('BD') has 3 participants, fewer than the 5 folds" \
  warn.txt || { cat warn.txt; fail "small class warning"; }
[ -s rare/metrics.tsv ] || fail "the run with a small class must finish"

echo "test_train: ok"

#!/usr/bin/env bash
# requires: sim nifti_io ica fnc models
# Numerical robustness: each case either fails with exit 1 and one clear line
# "neurospectra: error: <what limits it> (<file or subject>)", or succeeds as
# documented (docs/reliability.md) with every value of every output file
# finite (TSV cells, JSON numbers, NPY/NPZ, NIfTI voxels, numbers in SVG/HTML).
#   1. constant voxels (a 10x10 block of sub-03 constant over time) under the
#      four ICA preprocessings; an all-constant subject and an all-zero one
#      (alone, and through the group level where it is set aside)
#   2. rank-deficient data: duplicate subjects, six identical subjects, a
#      subject made of 3 distinct volumes (exactly, and with 1e-6 noise:
#      near-singular T x T covariance)
#   3. more components than the data allow: order >= T, --pc1 >= T, a mask
#      with fewer voxels than subject PCs, order T-1 (subject PCs capped),
#      more dFNC states than windows, a window as long as the run, more folds
#      than participants
#   4. near-singular FNC: two identical and two opposite timecourses (|r| = 1,
#      clamped), a constant timecourse (an error since 828a2a8); classifiers on
#      constant, duplicated, collinear, tiny and huge features and identical
#      subjects
#   5. a diverging training run (SGD at --lr 1e30, CNN too): a clear error,
#      no file written, an earlier run in the same OUT intact; Adam at 1e8 and
#      a GRU at 1e30 (saturating): success, finite
#   6. gradient spectra of a zero gradient (zero inputs, no bias): rank,
#      effective rank, nuclear norm and sigma_1 share 0 (docs/spectra.md);
#      spectra during training on all-zero features; grad with NaN/Inf
#      weights or inputs: an error naming the file
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}"
PY=${NS_PYTHON:-/usr/bin/python3}
rm -rf "$NS_TMP"
mkdir -p "$NS_TMP"
T=$NS_TMP
fail=0
bad() { echo "FAIL: $*"; fail=1; }
t_start=$SECONDS

cp "$NS_SRC/tests/cli/finite_check.py" "$T/finite.py"
# The checker itself must see a planted NaN (or it proves nothing).
mkdir -p "$T/chk"; printf 'a\tb\n1\tnan\n' >"$T/chk/x.tsv"
"$PY" "$T/finite.py" "$T/chk" >/dev/null && { echo "FAIL: the finite checker misses a nan"; exit 1; }

# run NAME OUT CMD...: status in $rc, stderr in $T/err
run() { local name=$1 out=$2; shift 2; rc=0; "$@" 2>"$T/err" || rc=$?; }
# expect_error NAME PATTERN: exit 1, every stderr line besides warnings an
# error line "(...)", one of them matching PATTERN
expect_error() {
  if [ "$rc" != 1 ]; then
    bad "$1: exit $rc, expected 1 ($(head -c 300 "$T/err"))"
  elif grep -v "warning:" "$T/err" | grep -Evq '^neurospectra: error: .+ \(.+\)$' ||
       ! grep -Eq "^neurospectra: error: .*$2" "$T/err"; then
    bad "$1: expected 'neurospectra: error: ...$2... (...)', got: $(head -3 "$T/err")"
  else
    echo "ok: $1: $(grep -E "^neurospectra: error: .*$2" "$T/err" | head -1)"
  fi
}
# expect_finite NAME DIR...: exit 0 and every output value finite
expect_finite() {
  local name=$1; shift
  if [ "$rc" != 0 ]; then
    bad "$name: exit $rc ($(head -c 300 "$T/err"))"
  elif ! "$PY" "$T/finite.py" "$@"; then
    bad "$name: non-finite values written"
  else
    echo "ok: $name: success, every value finite"
  fi
}
no_files() { # NAME DIR: a failed command wrote no file into DIR
  local left
  left=$( (find "$2" -type f 2>/dev/null || true) | sed "s|$T/||" | head -3)
  [ -z "$left" ] || bad "$1: the failed command left files: $left"
}

# ------------------------------------------------------------ data
"$NS_BIN" simulate "$T/good" --subjects 6 --shape 40,40,1 --timepoints 60 --sources 8 --motion --seed 3 -q
rm -rf "$T/good/derivatives"
for v in const allconst zero dup alldup few fewnoise; do cp -a "$T/good" "$T/$v"; done
"$PY" - "$T" <<'EOF'
import sys, shutil, numpy as np, nibabel as nib
T = sys.argv[1]
bold = lambda d, s: f"{T}/{d}/sub-{s}/func/sub-{s}_task-rest_bold.nii.gz"
def edit(d, f, s="03"):
    img = nib.load(bold(d, s)); x = np.asarray(img.dataobj, dtype=np.float32)
    h = img.header.copy(); h.set_data_dtype(np.float32)
    nib.save(nib.Nifti1Image(np.ascontiguousarray(f(x), dtype=np.float32), img.affine, h), bold(d, s))
def const(x): x[15:25, 15:25, 0, :] = x[15:25, 15:25, 0, :1]; return x
edit("const", const)
edit("allconst", lambda x: np.repeat(x[..., :1], x.shape[3], axis=3))
edit("zero", np.zeros_like)
few = lambda x: x[..., np.arange(x.shape[3]) % 3]
edit("few", few)
rng = np.random.default_rng(0)
edit("fewnoise", lambda x: few(x) + 1e-6 * np.abs(x).mean() * rng.standard_normal(x.shape))
for s in ("04", "05", "06"): shutil.copy(bold("dup", "03"), bold("dup", s))
for s in ("02", "03", "04", "05", "06"): shutil.copy(bold("alldup", "01"), bold("alldup", s))
img = nib.load(bold("good", "01"))
m = np.zeros(img.shape[:3], np.uint8); m[18:21, 18:20, 0] = 1  # 6 voxels
nib.save(nib.Nifti1Image(m, img.affine), f"{T}/mask6.nii.gz")
EOF
echo "data ready ($((SECONDS - t_start)) s)"

# ------------------------------------------------------------ 1. constant voxels, constant data
for pre in timemean voxelmean intensity variance; do
  run x "$T/i_const_$pre" "$NS_BIN" ica -o "$T/i_const_$pre" --bids "$T/const" --orders 5 --preproc $pre -q
  expect_finite "ica --preproc $pre, 100 constant brain voxels" "$T/i_const_$pre"
done
for pre in timemean variance; do
  run x x "$NS_BIN" ica -o "$T/i_allconst_$pre" --bids "$T/allconst" --orders 5 --preproc $pre -q
  expect_error "ica --preproc $pre, a constant subject" "fewer than 8 independent time points.*\(.*sub-03_task-rest_bold"
done
run x x "$NS_BIN" ica -o "$T/i_zero" --bids "$T/zero" --orders 5 --preproc intensity -q
expect_error "ica --preproc intensity, an all-zero subject" "zero mean.*\(.*sub-03_task-rest_bold"
# the group level sets the constant subject aside and fits the others
rc=0
"$NS_BIN" "$T/allconst" "$T/g_allconst" group --orders 5 --folds 2 --epochs 3 --models logreg --select none \
  2>"$T/err" || rc=$?
[ $rc = 1 ] || bad "group level, a constant subject: exit $rc"
if awk -F'\t' '$1 == "sub-03" && $4 == "failed" && $5 ~ /independent time points/ { f = 1 } END { exit !f }' \
     "$T/g_allconst/group/desc-run_summary.tsv" &&
   [ "$(grep -c $'\tbackrecon\tok\t' "$T/g_allconst/group/desc-run_summary.tsv")" = 5 ] &&
   "$PY" "$T/finite.py" "$T/g_allconst"; then
  echo "ok: group level, a constant subject: set aside, 5 runs ok, every value finite"
else
  bad "group level, a constant subject: not set aside with its error, or non-finite outputs"
fi

# ------------------------------------------------------------ 2. rank-deficient data
run x x "$NS_BIN" ica -o "$T/i_dup" --bids "$T/dup" --orders 5 --runs 2 -q
expect_finite "ica, sub-03 copied into sub-04..06" "$T/i_dup"
run x x "$NS_BIN" ica -o "$T/i_alldup" --bids "$T/alldup" --orders 8 --runs 2 -q
expect_finite "ica, six identical subjects, order 8" "$T/i_alldup"
run x x "$NS_BIN" ica -o "$T/i_few" --bids "$T/few" --orders 5 -q
expect_error "ica, a subject of 3 distinct volumes" "fewer than 8 independent time points.*\(.*sub-03_task-rest_bold"
no_files "ica, a subject of 3 distinct volumes" "$T/i_few"
run x x "$NS_BIN" ica -o "$T/i_fewnoise" --bids "$T/fewnoise" --orders 5 -q
expect_finite "ica, 3 distinct volumes + 1e-6 noise (near-singular covariance)" "$T/i_fewnoise"

# ------------------------------------------------------------ 3. more components than the data allow
run x x "$NS_BIN" ica -o "$T/i_k" --bids "$T/good" --orders 60 -q
expect_error "ica --orders 60 on 60 volumes" "number of components 60 must be below the number of time points 60"
no_files "ica --orders 60" "$T/i_k"
run x x "$NS_BIN" ica -o "$T/i_k" --bids "$T/good" --orders 80 -q
expect_error "ica --orders 80 on 60 volumes" "number of components 80 must be below the number of time points 60"
run x x "$NS_BIN" ica -o "$T/i_k" --bids "$T/good" --orders 5 --pc1 60 -q
expect_error "ica --pc1 60 on 60 volumes" "pc1 60 must be below the number of time points 60"
run x x "$NS_BIN" ica -o "$T/i_k" --bids "$T/good" --orders 5 --mask "$T/mask6.nii.gz" -q
expect_error "ica, a 6-voxel mask for 8 subject PCs" "mask has 6 voxels, not more than the 8 subject PCs \(.*mask6"
run x x "$NS_BIN" ica -o "$T/i_59" --bids "$T/good" --orders 59 --runs 2 --quiet
expect_finite "ica --orders 59 on 60 volumes (subject PCs capped at 59)" "$T/i_59"
run x x "$NS_BIN" ica -o "$T/ica" --bids "$T/good" --orders 5 -q
cp -a "$T/ica" "$T/f_states"
run x x "$NS_BIN" fnc "$T/f_states" --dynamic --window 20 --states 500 --quiet
expect_error "fnc --dynamic, 500 states for 240 windows" "only 240 windows for 500 states"
cp -a "$T/ica" "$T/f_win"
run x x "$NS_BIN" fnc "$T/f_win" --dynamic --window 60 --quiet
expect_error "fnc --dynamic --window 60 on 60 volumes" "60 time points are too few for a 60-TR window \(sub-01_task-rest\)"

# ------------------------------------------------------------ 4. near-singular FNC and features
ts=sub-02/func/sub-02_task-rest_desc-ica5_timeseries.tsv
fnc_case() { # NAME AWK-EDIT
  rm -rf "$T/f"; cp -a "$T/ica" "$T/f"
  awk -F'\t' -v OFS='\t' "$2" "$T/ica/$ts" >"$T/f/$ts"
  run x x "$NS_BIN" fnc "$T/f" --dynamic --window 20 --states 2 --quiet
}
fnc_case "identical" 'NR > 1 { $3 = $2 } 1'
expect_finite "fnc, two identical timecourses (r = 1)" "$T/f"
z=$(awk -F'\t' '$1 == "ica5c2" { print $4 }' "$T/f/sub-02/func/sub-02_task-rest_desc-ica5_relmat.tsv")
awk -v z="$z" 'BEGIN { exit !(z > 8.3 && z < 8.5) }' ||
  bad "fnc, identical timecourses: z = $z, documented clamp |r| <= 1 - 1e-7 gives 8.4"
fnc_case "opposite" 'NR > 1 { $3 = -$2 } 1'
expect_finite "fnc, two opposite timecourses (r = -1)" "$T/f"
z=$(awk -F'\t' '$1 == "ica5c2" { print $4 }' "$T/f/sub-02/func/sub-02_task-rest_desc-ica5_relmat.tsv")
awk -v z="$z" 'BEGIN { exit !(z < -8.3 && z > -8.5) }' ||
  bad "fnc, opposite timecourses: z = $z, documented clamp gives -8.4"
fnc_case "constant" 'NR > 1 { $3 = 1.5 } 1'
expect_error "fnc, a constant timecourse" "component 3 .*(constant|no variance).* \(sub-02_task-rest\)"
fnc_case "constant" 'NR > 1 { for (i = 1; i <= NF; i++) $i = 1 } 1'
expect_error "fnc, every timecourse constant" "component 1 .*(constant|no variance).* \(sub-02_task-rest\)"

mkdir -p "$T/tr"
"$PY" - "$T/tr" <<'EOF'
import sys, numpy as np
d = sys.argv[1]; rng = np.random.default_rng(0); n, F = 24, 6
y = np.arange(n) % 2
base = rng.standard_normal((n, F)) + 0.8 * y[:, None]
def write(name, X):
    with open(f"{d}/{name}.tsv", "w") as f:
        f.write("participant_id\t" + "\t".join(f"e{i}" for i in range(F)) + "\n")
        for i in range(n): f.write(f"sub-{i + 1:02d}\t" + "\t".join(repr(float(v)) for v in X[i]) + "\n")
with open(f"{d}/part.tsv", "w") as f:
    f.write("participant_id\tdiagnosis\tsite\n")
    for i in range(n): f.write(f"sub-{i + 1:02d}\t{('HC', 'MDD')[y[i]]}\t{'AB'[i % 3 == 0]}\n")
def col(j, v):
    X = base.copy(); X[:, j] = v(X); return X
write("good", base)
write("constcol", col(2, lambda X: 3.0))
write("dupcol", col(2, lambda X: X[:, 1]))
write("collinear", col(2, lambda X: X[:, 0] + X[:, 1] + 1e-9 * rng.standard_normal(n)))
write("nearconst", col(2, lambda X: 1 + 1e-12 * rng.standard_normal(n)))
write("tiny", col(2, lambda X: X[:, 2] * 1e-30))
write("huge", col(2, lambda X: X[:, 2] * 1e30))
write("allconst", np.ones((n, F)))
write("allzero", np.zeros((n, F)))
write("idsubjects", np.tile(base[:1], (n, 1)))
EOF
train() { "$NS_BIN" train "$T/tr/$1.tsv" --labels "$T/tr/part.tsv" --target diagnosis -o "$2" --folds 3 -q "${@:3}"; }
for f in constcol dupcol collinear nearconst tiny huge allconst allzero idsubjects; do
  for m in logreg svm-rbf mlp:8; do
    out=$T/t_${f}_${m%%:*}
    run x x train $f "$out" --model $m --epochs 5 --select univariate:3
    expect_finite "train $m, features $f" "$out"
  done
done
run x x train good "$T/t_folds" --folds 30
expect_error "train --folds 30 for 24 participants" "30 folds for 24 participants"
awk -F'\t' -v OFS='\t' 'NR == 5 { $3 = "inf" } 1' "$T/tr/good.tsv" >"$T/tr/infcell.tsv"
run x x train infcell "$T/t_inf"
expect_error "train, an inf feature" "'e1' for sub-04.*\(.*infcell.tsv"

# ------------------------------------------------------------ 5. diverging training
train good "$T/t_div" --model mlp:8 --epochs 5 --spectra
cp -a "$T/t_div" "$T/t_div.earlier"
run x x train good "$T/t_div" --model mlp:8 --epochs 5 --spectra --optimizer sgd --lr 1e30
expect_error "train mlp, SGD at --lr 1e30" "loss is not finite.*learning rate \\(fold 1, epoch [0-9]* of 5, batch [0-9]*, training\\)"
diff -r "$T/t_div" "$T/t_div.earlier" >/dev/null && echo "ok: diverged run: the earlier run in OUT is intact" ||
  bad "diverged run: the earlier run in OUT changed"
run x x train good "$T/t_div2" --model mlp:16,8 --epochs 5 --spectra --optimizer sgd --lr 1e30
expect_error "train mlp:16,8 into a new OUT, SGD at --lr 1e30" "loss is not finite"
no_files "train, diverged" "$T/t_div2"
[ -e "$T/t_div2" ] && bad "train, diverged: the output directory it created is left behind"
run x x "$NS_BIN" train "$T/ica" --labels "$T/good/participants.tsv" --target diagnosis -o "$T/t_cnn" --folds 2 \
  --model cnn1d:4k3s1 --optimizer sgd --lr 1e30 --epochs 3 -q
expect_error "train cnn1d on timecourses, SGD at --lr 1e30" "loss is not finite"
no_files "train cnn1d, diverged" "$T/t_cnn"
[ -e "$T/t_cnn" ] && bad "train cnn1d, diverged: the output directory it created is left behind"
run x x train good "$T/t_adam" --model mlp:8 --epochs 20 --spectra --optimizer adam --lr 1e8
expect_finite "train mlp, Adam at --lr 1e8 (steps bounded by lr)" "$T/t_adam"
run x x "$NS_BIN" train "$T/ica" --labels "$T/good/participants.tsv" --target diagnosis -o "$T/t_gru" --folds 2 \
  --model gru:4 --optimizer sgd --lr 1e30 --epochs 3 --spectra -q
expect_finite "train gru on timecourses, SGD at --lr 1e30 (gates saturate)" "$T/t_gru"

# ------------------------------------------------------------ 6. spectra of a zero gradient
mkdir -p "$T/g"
"$PY" - "$T/g" <<'EOF'
import sys, numpy as np
d = sys.argv[1]; rng = np.random.default_rng(1); N = 16
np.save(f"{d}/X.npy", rng.standard_normal((N, 6)).astype(np.float32))
np.save(f"{d}/X0.npy", np.zeros((N, 6), np.float32))
X = rng.standard_normal((N, 6)).astype(np.float32); X[3, 2] = np.nan
np.save(f"{d}/Xnan.npy", X)
np.save(f"{d}/y.npy", (np.arange(N) % 2).astype(np.int64))
np.save(f"{d}/g.npy", (np.arange(N) // 8).astype(np.int64))
W = {"fc0.weight": rng.standard_normal((8, 6)).astype(np.float32), "fc0.bias": np.zeros(8, np.float32),
     "fc1.weight": rng.standard_normal((2, 8)).astype(np.float32), "fc1.bias": np.zeros(2, np.float32)}
W["fc0.weight"][0, 0] = np.nan   # behind a ReLU this NaN would vanish
np.savez(f"{d}/Wnan.npz", **W)
W["fc0.weight"][0, 0] = np.inf
np.savez(f"{d}/Winf.npz", **W)
W["fc0.weight"][0, 0] = 1.0
W["fc1.weight"][:] = 3e38  # finite, but the logits overflow
np.savez(f"{d}/Whuge.npz", **W)
EOF
G=$T/g
run x x "$NS_BIN" grad -o "$T/grad0" --model mlp:8 --no-bias --inputs "$G/X0.npy" --labels "$G/y.npy" --groups "$G/g.npy" -q
expect_finite "grad, zero inputs and no bias (every weight gradient 0)" "$T/grad0"
if [ -f "$T/grad0/spectra.tsv" ]; then
  awk -F'\t' 'NR > 1 && $3 ~ /^grad_(rank|effrank|nuclear|nuclear_persample|sv1_share)$/ { n++; if ($5 + 0 != 0) bad++ }
    END { exit !(n > 0 && bad == 0) }' "$T/grad0/spectra.tsv" &&
    echo "ok: grad, zero gradient: rank, effective rank, nuclear norm, sigma_1 share all 0" ||
    bad "grad, zero gradient: a spectral quantity is not 0"
else
  bad "grad, zero gradient: no spectra.tsv"
fi
run x x train allzero "$T/t_zero" --model mlp:8 --no-bias --epochs 3 --groups site
expect_finite "train --spectra --groups on all-zero features" "$T/t_zero"
for w in Wnan Winf; do
  run x x "$NS_BIN" grad -o "$T/grad_$w" --model mlp:8 --inputs "$G/X.npy" --labels "$G/y.npy" --weights "$G/$w.npz" -q
  expect_error "grad, a ${w#W} weight behind a ReLU" "fc0.weight .*(NaN|Inf).*\(.*$w.npz"
  no_files "grad, a ${w#W} weight" "$T/grad_$w"
done
# One pass with given weights trains nothing: the message must not blame the
# learning rate.
run x x "$NS_BIN" grad -o "$T/grad_huge" --model mlp:8 --inputs "$G/X.npy" --labels "$G/y.npy" --weights "$G/Whuge.npz" -q
expect_error "grad, weights that overflow the logits" "loss is not finite .*these weights.*\(.*Whuge.npz"
grep -q "learning rate" "$T/err" && bad "grad, weights that overflow: the message blames the learning rate"
no_files "grad, weights that overflow" "$T/grad_huge"
run x x "$NS_BIN" grad -o "$T/grad_xnan" --model mlp:8 --inputs "$G/Xnan.npy" --labels "$G/y.npy" -q
expect_error "grad, a NaN input" "NaN or Inf.*\(.*Xnan.npy"

echo "time: $((SECONDS - t_start)) s"
[ $fail = 0 ] || exit 1
echo "robust numeric test passed"

#!/usr/bin/env bash
# neurospectra ica on the 2-D SimTB default (20 subjects, CNR 1): group maps
# and subject timecourses against the simulator's ground truth (Hungarian
# matching with scipy), GICA3 and dual regression against the same truth,
# back-reconstruction from the saved model (a fitted
# subject reproduces its in-fit outputs; a held-out subject recovers its
# truth), determinism, the output layout, and error cases (exit 1, one line).
# requires: ica sim nifti_io
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}"
PY=${NS_PYTHON:-/usr/bin/python3}
rm -rf "$NS_TMP" && mkdir -p "$NS_TMP"
fail() { echo "FAIL: $*" >&2; exit 1; }
T=$NS_TMP

grep -q "usage: neurospectra ica" <<<"$("$NS_BIN" ica --help)" || fail "--help"
set +e
"$NS_BIN" ica --orders 20 x.nii.gz 2>/dev/null; rc=$?
set -e
[ $rc -eq 2 ] || fail "missing -o must be a usage error (exit $rc)"

# 21 subjects: 20 fitted, sub-21 held out for the saved-model path.
"$NS_BIN" simulate "$T/sim" --subjects 21 --cnr 1 --no-subject-maps --quiet
labels=$(seq -f "%02g" 1 20 | tr '\n' ' ')
# shellcheck disable=SC2086
"$NS_BIN" ica -o "$T/out" --bids "$T/sim" --participant_label $labels \
  --orders 20,32 --seed 3 --nprocs 2 --quiet

# A participant label that is not there stops the run (exit 1, naming it),
# even when the others are found; nothing is written.
set +e
"$NS_BIN" ica -o "$T/nolabel" --bids "$T/sim" --participant_label 01 02 99 --orders 5 \
  2> "$T/nolabel.log"; rc=$?
set -e
[ $rc -eq 1 ] || fail "a missing participant label must fail (exit $rc)"
grep -q "participant label 99 not found" "$T/nolabel.log" || fail "missing label not named"
[ ! -e "$T/nolabel/group" ] || fail "a missing label left outputs"
# fMRIPrep outputs win; subjects with raw BOLD files only are named in a warning.
for s in 01 02 03; do
  mkdir -p "$T/mix/sub-$s/func"
  name=sub-${s}_task-rest_desc-preproc_bold.nii.gz; [ $s = 03 ] && name=sub-03_task-rest_bold.nii.gz
  cp "$T/sim/sub-$s/func/sub-${s}_task-rest_bold.nii.gz" "$T/mix/sub-$s/func/$name"
done
"$NS_BIN" ica -o "$T/mixout" --bids "$T/mix" --orders 3 --group-only 2> "$T/mix.log"
grep -q "warning: 1 subject with raw BOLD files but no fMRIPrep outputs .* left out.*: sub-03 " \
  "$T/mix.log" || fail "raw-only subject not named"
"$PY" -c "import json, sys; s = json.load(open(sys.argv[1]))['Sources']; assert len(s) == 2 and \
all('desc-preproc' in p for p in s), s" "$T/mixout/group/desc-ica3_components.json" ||
  fail "the fMRIPrep subjects only"

g=$T/out/group
for f in dataset_description.json group/desc-brain_mask.nii.gz group/desc-icamulti_crossorder.tsv; do
  [ -s "$T/out/$f" ] || fail "missing $f"
done
for k in 20 32; do
  for f in components.nii.gz components.json stability.tsv model.npz eigenvalues.tsv; do
    [ -s "$g/desc-ica${k}_$f" ] || fail "missing desc-ica${k}_$f"
  done
  n=$(ls "$T"/out/sub-*/func/sub-*_task-rest_desc-ica${k}_timeseries.tsv | wc -l)
  [ "$n" -eq 20 ] || fail "order $k: $n subject timeseries, expected 20"
  [ -s "$T/out/sub-07/func/sub-07_task-rest_desc-ica${k}_components.nii.gz" ] || fail "subject maps"
  [ -s "$T/out/sub-07/func/sub-07_task-rest_desc-ica${k}_timeseries.json" ] || fail "subject json"
done
[ ! -e "$T/out/sub-21" ] || fail "held-out subject was fitted"
ls -a "$g" | grep -q "ica-cache" && fail "cache left behind"

# Accuracy against the truth, and the file formats other stages rely on.
"$PY" - "$T/sim" "$T/out" <<'EOF'
import glob, json, os, sys
import nibabel as nib, numpy as np
from scipy.optimize import linear_sum_assignment
sim, out = sys.argv[1:3]
def rows(path, mask):
    d = np.asarray(nib.load(path).dataobj, dtype=np.float64)
    return d.reshape(-1, d.shape[-1], order="F")[mask].T
def corr(a, b):
    a = a - a.mean(1, keepdims=True); b = b - b.mean(1, keepdims=True)
    a = a / np.linalg.norm(a, axis=1, keepdims=True); b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T
mask = np.asarray(nib.load(f"{out}/group/desc-brain_mask.nii.gz").dataobj).ravel(order="F") > 0
truth = rows(f"{sim}/derivatives/simulation/group/desc-true_components.nii.gz", mask)
for k in (20, 32):
    img = nib.load(f"{out}/group/desc-ica{k}_components.nii.gz")
    assert img.shape[-1] == k, img.shape
    est = rows(f"{out}/group/desc-ica{k}_components.nii.gz", mask)
    assert np.allclose(est.mean(1), 0, atol=1e-3) and np.allclose(est.std(1, ddof=1), 1, atol=1e-3), "z-scored maps"
    r = corr(truth, est); ri, ci = linear_sum_assignment(1 - np.abs(r))
    m = np.abs(r[ri, ci])
    tcs = []
    for f in sorted(glob.glob(f"{out}/sub-*/func/*_desc-ica{k}_timeseries.tsv")):
        sub = os.path.basename(f).split("_")[0]
        with open(f) as fh:
            head = fh.readline().rstrip("\n").split("\t")
        w = len(str(k))
        assert head == [f"ica{k}c{i:0{w}d}" for i in range(1, k + 1)], head[:3]
        est_tc = np.loadtxt(f, skiprows=1, delimiter="\t")
        assert est_tc.shape == (150, k), est_tc.shape
        side = json.load(open(f[:-4] + ".json"))
        assert side["RepetitionTime"] == 2.0 and side["Components"] == k and len(side["Sources"]) == 1
        true_tc = np.loadtxt(glob.glob(f"{sim}/derivatives/simulation/{sub}/func/*_desc-true_timeseries.tsv")[0],
                             skiprows=1, delimiter="\t")
        tcs.append(np.abs(corr(true_tc.T, est_tc.T)[ri, ci]).mean())
    print(f"order {k}: maps mean |r| {m.mean():.3f} (min {m.min():.3f}), timecourses mean |r| {np.mean(tcs):.3f}")
    if k == 32:
        assert m.mean() >= 0.9, f"group maps mean matched |r| {m.mean():.3f} < 0.9"
        assert np.mean(tcs) >= 0.8, f"subject timecourses mean matched |r| {np.mean(tcs):.3f} < 0.8"
    stab = open(f"{out}/group/desc-ica{k}_stability.tsv").read().splitlines()
    assert stab[0].split("\t")[:3] == ["component", "stability_index", "cluster_size"] and len(stab) == k + 1
    side = json.load(open(f"{out}/group/desc-ica{k}_components.json"))
    assert side["Seed"] == 3 and side["ModelOrder"] == k and len(side["Sources"]) == 20
    z = np.load(f"{out}/group/desc-ica{k}_model.npz")
    assert z["unmixing"].shape == (k, k) and z["whitened_pca_maps"].shape == (k, mask.sum())
cross = open(f"{out}/group/desc-icamulti_crossorder.tsv").read().splitlines()
assert len(cross) == 53 and cross[0].split("\t")[0] == "component" and len(cross[0].split("\t")) == 53
EOF

# GICA3 and dual regression (--backrecon): the subjects' timecourses follow
# their truth as GICA1's do, and their maps differ from GICA1's (GICA3
# keeps GICA1's timecourses, as in Erhardt et al. 2011). Dual regression
# reads the data themselves in pass 2 while the power iterations use the
# cache of reduced data.
for br in gica3 dr; do
  # shellcheck disable=SC2086
  "$NS_BIN" ica -o "$T/br_$br" --bids "$T/sim" --participant_label $labels --orders 32 --seed 3 \
    --nprocs 2 --backrecon $br --quiet
done

# Saved model: a fitted subject reproduces its in-fit outputs ...
m32=$g/desc-ica32_model.npz
"$NS_BIN" ica --model "$m32" -o "$T/again" "$T/sim/sub-03/func/sub-03_task-rest_bold.nii.gz" \
  "$T/sim/sub-21/func/sub-21_task-rest_bold.nii.gz" --quiet
"$PY" - "$T" <<'EOF'
import sys, glob, json, numpy as np, nibabel as nib
from scipy.optimize import linear_sum_assignment
T = sys.argv[1]
base = "sub-03/func/sub-03_task-rest_desc-ica32"
a = np.loadtxt(f"{T}/again/{base}_timeseries.tsv", skiprows=1)
b = np.loadtxt(f"{T}/out/{base}_timeseries.tsv", skiprows=1)
assert np.abs(a - b).max() < 1e-4, np.abs(a - b).max()
a = np.asarray(nib.load(f"{T}/again/{base}_components.nii.gz").dataobj)
b = np.asarray(nib.load(f"{T}/out/{base}_components.nii.gz").dataobj)
assert np.abs(a - b).max() < 1e-3, np.abs(a - b).max()
# ... and the held-out subject's timecourses follow its truth (matching from the group maps)
def corr(a, b):
    a = a - a.mean(1, keepdims=True); b = b - b.mean(1, keepdims=True)
    a = a / np.linalg.norm(a, axis=1, keepdims=True); b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T
mask = np.asarray(nib.load(f"{T}/out/group/desc-brain_mask.nii.gz").dataobj).ravel(order="F") > 0
rows = lambda p: np.asarray(nib.load(p).dataobj, dtype=float).reshape(-1, nib.load(p).shape[-1], order="F")[mask].T
r = corr(rows(f"{T}/sim/derivatives/simulation/group/desc-true_components.nii.gz"),
         rows(f"{T}/out/group/desc-ica32_components.nii.gz"))
ri, ci = linear_sum_assignment(1 - np.abs(r))
est = np.loadtxt(f"{T}/again/sub-21/func/sub-21_task-rest_desc-ica32_timeseries.tsv", skiprows=1)
tru = np.loadtxt(glob.glob(f"{T}/sim/derivatives/simulation/sub-21/func/*_desc-true_timeseries.tsv")[0], skiprows=1)
held = np.abs(corr(tru.T, est.T)[ri, ci]).mean()
print(f"held-out subject: timecourses mean |r| {held:.3f}")
assert held >= 0.75, held
# GICA3 and dual regression, each against the truth with its own matching
truth = rows(f"{T}/sim/derivatives/simulation/group/desc-true_components.nii.gz")
for br in ("gica3", "dr"):
    o = f"{T}/br_{br}"
    assert json.load(open(f"{o}/group/desc-ica32_components.json"))["BackReconstruction"] == br
    r = corr(truth, rows(f"{o}/group/desc-ica32_components.nii.gz"))
    ri, ci = linear_sum_assignment(1 - np.abs(r))
    tcs, diff, mdiff = [], 0.0, 0.0
    for s in range(1, 21):
        base = f"sub-{s:02d}/func/sub-{s:02d}_task-rest_desc-ica32"
        side = json.load(open(f"{o}/{base}_timeseries.json"))
        assert side["BackReconstruction"] == br, side
        est = np.loadtxt(f"{o}/{base}_timeseries.tsv", skiprows=1)
        assert est.shape == (150, 32) and np.isfinite(est).all()
        maps = rows(f"{o}/{base}_components.nii.gz")
        assert maps.shape == (32, mask.sum()) and np.isfinite(maps).all()
        mdiff = max(mdiff, np.abs(maps - rows(f"{T}/out/{base}_components.nii.gz")).max())
        tru = np.loadtxt(glob.glob(f"{T}/sim/derivatives/simulation/sub-{s:02d}/func/*_desc-true_timeseries.tsv")[0],
                         skiprows=1)
        tcs.append(np.abs(corr(tru.T, est.T)[ri, ci]).mean())
        diff = max(diff, np.abs(est - np.loadtxt(f"{T}/out/{base}_timeseries.tsv", skiprows=1)).max())
    print(f"{br}: timecourses mean |r| {np.mean(tcs):.3f}; largest difference from GICA1's: "
          f"timecourses {diff:.3f}, maps {mdiff:.3f}")
    assert np.mean(tcs) >= 0.8, (br, np.mean(tcs))
    assert mdiff > 1e-2, f"{br} gave GICA1's maps"
    assert (diff > 1e-2) == (br == "dr"), f"{br}: timecourses differ from GICA1's by {diff}"
EOF

# Same seed, same output (small run twice).
few=()
for s in 01 02 03 04 05; do few+=("$T/sim/sub-$s/func/sub-${s}_task-rest_bold.nii.gz"); done
for d in d1 d2; do
  "$NS_BIN" ica -o "$T/$d" --orders 8 --runs 3 --seed 11 --nprocs 2 --quiet "${few[@]}"
done
cmp "$T/d1/group/desc-ica8_stability.tsv" "$T/d2/group/desc-ica8_stability.tsv" || fail "stability differs"
cmp "$T/d1/sub-02/func/sub-02_task-rest_desc-ica8_timeseries.tsv" \
    "$T/d2/sub-02/func/sub-02_task-rest_desc-ica8_timeseries.tsv" || fail "timeseries differ"
"$PY" -c "
import sys, numpy as np, nibabel as nib
a, b = (np.asarray(nib.load(f'$T/{d}/group/desc-ica8_components.nii.gz').dataobj) for d in ('d1', 'd2'))
assert np.array_equal(a, b), 'group maps differ'
"

# --group-only: the same group outputs without the back-reconstruction
# pass; the subjects come later from the saved model, as in the full run.
"$NS_BIN" ica -o "$T/gonly" --orders 8 --runs 3 --seed 11 --nprocs 2 --group-only --quiet "${few[@]}"
cmp "$T/d1/group/desc-ica8_stability.tsv" "$T/gonly/group/desc-ica8_stability.tsv" || fail "group-only stability"
ls -d "$T"/gonly/sub-* 2>/dev/null && fail "--group-only wrote subject outputs"
ls -a "$T/gonly/group" | grep -q "ica-cache" && fail "--group-only left a cache"
"$NS_BIN" ica --model "$T/gonly/group/desc-ica8_model.npz" -o "$T/gonly" --quiet "${few[1]}"
"$PY" - "$T/gonly" "$T/d1" <<'EOF'
import sys, json, numpy as np, nibabel as nib
g, d = sys.argv[1:3]
a, b = (np.asarray(nib.load(f"{x}/group/desc-ica8_components.nii.gz").dataobj) for x in (g, d))
assert np.array_equal(a, b), "--group-only changed the group maps"
assert json.load(open(f"{g}/group/desc-ica8_components.json"))["SubjectOutputs"] is False
assert json.load(open(f"{d}/group/desc-ica8_components.json"))["SubjectOutputs"] is True
ts = "sub-02/func/sub-02_task-rest_desc-ica8_timeseries.tsv"
a, b = (np.loadtxt(f"{x}/{ts}", skiprows=1) for x in (g, d))
assert a.shape == b.shape == (150, 8) and np.abs(a - b).max() < 1e-4, np.abs(a - b).max()
EOF
set +e
"$NS_BIN" ica -o "$T/gx" --group-only --model "$T/gonly/group/desc-ica8_model.npz" "${few[0]}" 2>/dev/null; rc=$?
set -e
[ $rc -eq 2 ] || fail "--group-only with --model must be a usage error (exit $rc)"

# The number of threads does not change the result: FastICA sums fixed
# column blocks in a fixed order, Infomax and the passes are ordered (with
# 3 threads and 5 subjects, pass 1 parks subjects that wait for the MIGP).
for alg in fastica infomax; do
  for n in 1 2 3; do
    "$NS_BIN" ica -o "$T/$alg$n" --orders 8 --algorithm $alg --seed 5 --nprocs $n --quiet "${few[@]}"
  done
  for f in group/desc-ica8_components.nii.gz sub-03/func/sub-03_task-rest_desc-ica8_timeseries.tsv; do
    for n in 2 3; do
      cmp "$T/${alg}1/$f" "$T/${alg}$n/$f" || fail "$alg: $f differs between --nprocs 1 and $n"
    done
  done
done

# With p1 close to T, MIGP and the power iterations take the subject's
# centred data and whitener instead of forming its reduced data (the
# factored form), and so does the cache: with a cache or without one
# (--cache-gb 0, each pass re-reads the inputs) every output is the same
# byte for byte, subject outputs included (the unit tests compare the
# factored form with the formed reduced data).
for d in pf_full pf_nocache pf_gonly; do
  case $d in
    pf_full) extra=(-v) ;;
    pf_nocache) extra=(--quiet --cache-gb 0) ;;
    pf_gonly) extra=(--group-only --cache-gb 0 -v) ;;
  esac
  "$NS_BIN" ica -o "$T/$d" --orders 8 --pc1 149 --algorithm fastica --seed 3 \
    "${extra[@]}" "${few[@]}" 2> "$T/$d.log"
done
grep -q "reduced data are not formed (the cache holds the centred data and whitener)" \
  "$T/pf_full.log" || fail "factored form not cached"
grep -q "1 power iteration and the Rayleigh-Ritz pass .* (from the cache)" "$T/pf_full.log" ||
  fail "power iterations not from the cache"
grep -q "reduced data are not formed$" "$T/pf_gonly.log" || fail "factored MIGP not used"
grep -q "1 power iteration and the Rayleigh-Ritz pass .* (re-reading the inputs)" "$T/pf_gonly.log" ||
  fail "power iterations did not re-read"
n=0
while read -r f; do
  cmp -s "$T/pf_full/$f" "$T/pf_nocache/$f" || fail "$f differs with and without the cache"
  n=$((n + 1))
done < <(cd "$T/pf_full" && find . -name '*.nii.gz' -o -name '*.tsv')
[ $n -ge 15 ] || fail "only $n outputs compared" # 5 subjects x 2, and the group
"$PY" - "$T/pf_full/group" "$T/pf_nocache/group" "$T/pf_gonly/group" <<'EOF'
import sys, numpy as np
a, b, c = (np.load(f"{d}/desc-ica8_model.npz") for d in sys.argv[1:4])
for k in a.files:
    if k != "settings_json":
        assert np.array_equal(a[k], b[k]) and np.array_equal(a[k], c[k]), k
print(f"factored form (p1 149 of 150): the same outputs with and without the cache")
EOF

# Group PCA: MIGP to K + 10 rows, one power iteration and Rayleigh-Ritz on
# span [Q; Z] (the default) comes closer to the exact stacked EVD than MIGP
# alone (--power-iters 0, max(2K, pc1) rows), as do two power iterations
# ended the same way; all recorded in the sidecar. --group-only caches the
# reduced data for the passes, and removes the cache.
for d in gp_pow gp_pow2 gp_migp gp_exact; do
  case $d in
    gp_pow) extra=(-v) ;;
    gp_pow2) extra=(-v --power-iters 2) ;;
    gp_migp) extra=(--power-iters 0) ;;
    gp_exact) extra=(--stacked-pca) ;;
  esac
  "$NS_BIN" ica -o "$T/$d" --orders 8 --algorithm fastica --seed 3 --group-only "${extra[@]}" \
    "${few[@]}" 2> "$T/$d.log"
done
grep -q "1 power iteration and the Rayleigh-Ritz pass .* (from the cache)" "$T/gp_pow.log" ||
  fail "power iteration not from the cache"
grep -q "2 power iterations and the Rayleigh-Ritz pass" "$T/gp_pow2.log" || fail "--power-iters 2 not run"
ls -a "$T/gp_pow/group" | grep -q "ica-cache" && fail "power iterations left a cache"
"$PY" - "$T" <<'EOF'
import sys, json, numpy as np
T = sys.argv[1]
def load(d):
    return (np.load(f"{T}/{d}/group/desc-ica8_model.npz"),
            json.load(open(f"{T}/{d}/group/desc-ica8_components.json")))
(e, je), (p, jp), (p2, jp2), (m, jm) = (load(d) for d in ("gp_exact", "gp_pow", "gp_pow2", "gp_migp"))
def sidecar(j):
    keys = ("GroupPCA", "MIGPRows", "GroupPCAPowerIterations", "GroupPCARayleighRitz")
    return tuple(j.get(k) for k in keys)
assert sidecar(jp) == ("MIGP", 18, 1, True), jp
assert sidecar(jp2) == ("MIGP", 18, 2, True), jp2
assert sidecar(jm) == ("MIGP", 16, 0, False), jm
assert sidecar(je) == ("stacked EVD", None, 0, False), je
ze = e["whitened_pca_maps"].astype(np.float64)
def missed(z):  # dimensions of the exact top-8 subspace not spanned
    sv = np.linalg.svd(ze @ z["whitened_pca_maps"].astype(np.float64).T / (ze.shape[1] - 1),
                       compute_uv=False)
    return 8 - np.sum(sv ** 2)
mp, mp2, mm = missed(p), missed(p2), missed(m)
ev = e["pca_eigenvalues"]
dp, dp2, dm = (np.abs(z["pca_eigenvalues"][:8] - ev[:8]).max() / ev[0] for z in (p, p2, m))
print(f"group PCA vs stacked EVD: subspace missed by MIGP {mm:.2e}, with 1 power iteration and "
      f"Rayleigh-Ritz {mp:.2e}, with 2 {mp2:.2e}; eigenvalues within {dm:.1e}, {dp:.1e}, {dp2:.1e}")
assert mm > 1e-4, f"MIGP alone already exact ({mm}): the check cannot tell"
assert mp < 0.25 * mm and dp < dm, (mp, mm, dp, dm)
assert mp2 < 0.25 * mm and dp2 < dm, (mp2, mm, dp2, dm)
EOF
set +e
"$NS_BIN" ica -o "$T/gpx" --stacked-pca --power-iters 1 "${few[0]}" 2>/dev/null; rc=$?
set -e
[ $rc -eq 2 ] || fail "--stacked-pca with --power-iters must be a usage error (exit $rc)"

# Identical subjects: MIGP's rows already hold the group PCA (Z = Q S lies
# within Q), so the Rayleigh-Ritz basis is empty and its pass is skipped;
# the sidecar and the timing line say so, and the eigenvalues match the
# stacked EVD's.
mkdir -p "$T/same"
for s in a b c; do cp "${few[0]}" "$T/same/sub-${s}_task-rest_bold.nii.gz"; done
for d in same_pow same_exact; do
  extra=(-v); [ $d = same_exact ] && extra=(--stacked-pca)
  "$NS_BIN" ica -o "$T/$d" --orders 8 --algorithm fastica --seed 3 --group-only "${extra[@]}" \
    "$T"/same/sub-*_bold.nii.gz 2> "$T/$d.log"
done
grep -q "1 power iteration (no Rayleigh-Ritz pass" "$T/same_pow.log" ||
  fail "identical subjects: the timing line should say the Rayleigh-Ritz pass was skipped"
grep -q "Rayleigh-Ritz: " "$T/same_pow.log" && fail "identical subjects: a Rayleigh-Ritz pass ran"
"$PY" - "$T" <<'EOF'
import sys, json, numpy as np
T = sys.argv[1]
j = json.load(open(f"{T}/same_pow/group/desc-ica8_components.json"))
assert (j["GroupPCAPowerIterations"], j["GroupPCARayleighRitz"]) == (1, False), j
p = np.load(f"{T}/same_pow/group/desc-ica8_model.npz")["pca_eigenvalues"][:8]
e = np.load(f"{T}/same_exact/group/desc-ica8_model.npz")["pca_eigenvalues"][:8]
assert np.abs(p - e).max() <= 1e-4 * e[0], (p, e)
print(f"identical subjects: no Rayleigh-Ritz pass, eigenvalues within "
      f"{np.abs(p - e).max() / e[0]:.1e} of the stacked EVD")
EOF

# FastICA's warm start on every 4th voxel is recorded and reaches the same
# sources as FastICA on all voxels from the start (--fastica-subsample 1).
"$NS_BIN" ica -o "$T/fica_all" --orders 8 --algorithm fastica --seed 5 --fastica-subsample 1 \
  --group-only --quiet "${few[@]}"
"$PY" - "$T/fastica1/group" "$T/fica_all/group" <<'EOF'
import sys, json, numpy as np, nibabel as nib
from scipy.optimize import linear_sum_assignment
w, a = sys.argv[1:3]
jw, ja = (json.load(open(f"{d}/desc-ica8_components.json")) for d in (w, a))
assert jw["FastICAWarmStartStride"] == 4 and jw["WarmStartIterations"] > 0, jw
assert ja["FastICAWarmStartStride"] == 1 and ja["WarmStartIterations"] == 0, ja
assert jw["Converged"] and ja["Converged"], (jw["Iterations"], ja["Iterations"])
mw, ma = (np.asarray(nib.load(f"{d}/desc-ica8_components.nii.gz").dataobj).reshape(-1, 8).T
          for d in (w, a))
r = np.abs(np.corrcoef(mw, ma)[:8, 8:])
ri, ci = linear_sum_assignment(-r)
assert r[ri, ci].min() > 0.99, r[ri, ci]
print(f"warm start: {jw['WarmStartIterations']} + {jw['Iterations']} iterations vs "
      f"{ja['Iterations']} on all voxels; maps matched |r| min {r[ri, ci].min():.4f}")
EOF
set +e
"$NS_BIN" ica -o "$T/ficax" --algorithm fastica --fastica-subsample 0 "${few[0]}" 2>/dev/null; rc=$?
set -e
[ $rc -eq 2 ] || fail "--fastica-subsample 0 must be a usage error (exit $rc)"

# ICASSO with bootstrap resampling: recorded in the sidecar, every component
# with a stability index, a different chosen unmixing than randinit's.
"$NS_BIN" ica -o "$T/boot" --orders 8 --runs 3 --icasso bootstrap --seed 11 --nprocs 2 --quiet "${few[@]}"
"$PY" - "$T/boot/group" "$T/d1/group" <<'EOF'
import sys, json, csv, numpy as np, nibabel as nib
b, r = sys.argv[1:3]
j = json.load(open(f"{b}/desc-ica8_components.json"))
assert j["ICASSOMode"] == "bootstrap" and j["ICASSORuns"] == 3, j
assert json.load(open(f"{r}/desc-ica8_components.json"))["ICASSOMode"] == "randinit"
iq = [float(row["stability_index"]) for row in csv.DictReader(open(f"{b}/desc-ica8_stability.tsv"), delimiter="\t")]
assert len(iq) == 8 and all(0 < q <= 1 for q in iq), iq
mb, mr = (np.asarray(nib.load(f"{d}/desc-ica8_components.nii.gz").dataobj) for d in (b, r))
assert not np.array_equal(mb, mr), "bootstrap gave the randinit maps"
print(f"bootstrap ICASSO: Iq mean {np.mean(iq):.3f} (min {min(iq):.3f})")
EOF
if "$NS_BIN" ica -o "$T/bootx" --orders 8 --icasso resample "${few[@]}" 2> "$T/bootx.err"; then
  fail "--icasso resample accepted"
fi
grep -q "icasso" "$T/bootx.err" || fail "bad --icasso value not named"

# Error cases: exit 1, exactly one line naming the file.
"$PY" - "$T/err" "$T/sim/sub-01/func/sub-01_task-rest_bold.nii.gz" <<'EOF'
import os, sys, json, shutil, numpy as np, nibabel as nib
d, src = sys.argv[1:3]
os.makedirs(d)
img = nib.load(src)
data = np.asarray(img.dataobj, dtype=np.float32)
def save(name, arr, tr=2.0, shape_src=img):
    h = shape_src.header.copy(); h.set_data_dtype(np.float32)
    h.set_zooms(h.get_zooms()[:3] + (tr,))
    nib.save(nib.Nifti1Image(arr, img.affine, h), f"{d}/{name}")
save("sub-a_bold.nii.gz", data)
nan = data.copy(); nan[50, 50, 0, 5] = np.nan
save("sub-nan_bold.nii.gz", nan)
save("sub-tr_bold.nii.gz", data, tr=1.0)
save("sub-grid_bold.nii.gz", data[:60, :60])
save("sub-short_bold.nii.gz", data[..., :25])
nib.save(nib.Nifti1Image(np.zeros(data.shape[:3], np.uint8), img.affine), f"{d}/zero_mask.nii.gz")
open(f"{d}/sub-bad_bold.nii.gz", "w").write("not a nifti file\n")
EOF
E=$T/err
expect_error() { # expect_error PATTERN ARGS...
  local pat=$1; shift
  set +e
  "$NS_BIN" ica -o "$T/eout" --quiet "$@" 2> "$T/stderr"; local rc=$?
  set -e
  [ $rc -eq 1 ] || fail "exit $rc (expected 1) for: $* ($(cat "$T/stderr"))"
  [ "$(wc -l < "$T/stderr")" -eq 1 ] || fail "more than one line for: $*: $(cat "$T/stderr")"
  grep -q "^neurospectra: error: .*$pat" "$T/stderr" || fail "message for $*: $(cat "$T/stderr")"
}
a=$E/sub-a_bold.nii.gz
expect_error "below the number of time points 150 (.*sub-a_bold" --orders 150 "$a"
expect_error "pc1 150 must be below the number of time points 150 (.*sub-a_bold" --orders 10 --pc1 150 "$a"
expect_error "below the number of time points 25 (.*sub-short_bold" --orders 30 "$a" "$E/sub-short_bold.nii.gz"
expect_error "differs from the group grid.*(.*sub-grid_bold" --orders 5 "$a" "$E/sub-grid_bold.nii.gz"
expect_error "repetition time 1 s differs.*(.*sub-tr_bold" --orders 5 "$a" "$E/sub-tr_bold.nii.gz"
expect_error "NaN or Inf.*(.*sub-nan_bold" --orders 5 "$a" "$E/sub-nan_bold.nii.gz"
expect_error "empty mask.*zero_mask" --orders 5 --mask "$E/zero_mask.nii.gz" "$a"
expect_error "sub-bad_bold" --orders 5 "$a" "$E/sub-bad_bold.nii.gz"
expect_error "missing_bold" --orders 5 "$a" "$E/missing_bold.nii.gz"
expect_error "zero_mask" --model "$E/zero_mask.nii.gz" "$a"
echo "test_ica: ok"

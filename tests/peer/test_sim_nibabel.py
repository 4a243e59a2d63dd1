"""neurospectra simulate read back by nibabel (and checked with numpy/scipy):
every NIfTI written loads; shapes, zooms, units and TR match the parameters;
the noiseless data equals the truth recomposed from the written maps,
timecourses and signal changes; the noise matches the CNR; the planted
diagnosis coupling is visible in the written true timecourses (scipy t-test).
"""
# requires: sim nifti_io
import glob
import json
import os
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
from scipy import stats

BIN = os.environ["NS_BIN"]
TMP = os.environ["NS_TMP"]


def simulate(out, *args):
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([BIN, "simulate", out, "--quiet", *args], check=True)
    with open(os.path.join(out, "derivatives/simulation/truth.json")) as f:
        return json.load(f)


def read_tsv(path):
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
    return header, np.loadtxt(path, delimiter="\t", skiprows=1, ndmin=2)


def check_all_nifti(out, shape, tr, zooms, nsrc, ntime):
    """Every NIfTI in the tree loads with nibabel and has the right geometry."""
    files = sorted(glob.glob(os.path.join(out, "**/*.nii.gz"), recursive=True))
    assert files, "no NIfTI written"
    for path in files:
        img = nib.load(path)
        data = np.asanyarray(img.dataobj)
        assert np.all(np.isfinite(data)), path
        assert img.shape[:3] == tuple(shape), (path, img.shape)
        assert np.allclose(img.header.get_zooms()[:3], zooms), (path, img.header.get_zooms())
        assert img.header.get_xyzt_units()[0] == "mm", path
        assert np.allclose(img.affine[:3, :3], np.diag(zooms)), (path, img.affine)
        name = os.path.basename(path)
        if name.endswith("_bold.nii.gz"):
            assert img.shape[3] == ntime, (path, img.shape)
            assert abs(img.header.get_zooms()[3] - tr) < 1e-6, (path, img.header.get_zooms())
            assert img.header.get_xyzt_units()[1] == "sec", path
            with open(path.replace(".nii.gz", ".json")) as f:
                assert abs(json.load(f)["RepetitionTime"] - tr) < 1e-9, path
        elif "components" in name:
            assert img.shape[3] == nsrc, (path, img.shape)
        elif "mask" in name or "dseg" in name:
            assert img.get_data_dtype() == np.uint8, path
            assert set(np.unique(data)) <= ({0, 1} if "mask" in name else {0, 1, 2, 3, 4}), path
    return files


def recompose(out, truth, label, site_scale):
    """baseline * site scale * (1 + sum_c tc[t, c] psc[c] / 100 map_c)."""
    sim = os.path.join(out, "derivatives/simulation")
    base = nib.load(os.path.join(sim, "group/desc-baseline_map.nii.gz")).get_fdata()
    maps = nib.load(os.path.join(sim, f"{label}/func/{label}_task-rest_desc-true_components.nii.gz")).get_fdata()
    names, tc = read_tsv(os.path.join(sim, f"{label}/func/{label}_task-rest_desc-true_timeseries.tsv"))
    assert names == [s["name"] for s in truth["sources"]], names
    subj = next(s for s in truth["subjects"] if s["participant_id"] == label)
    psc = np.array(subj["psc"])
    signal = np.tensordot(maps, (tc * psc / 100.0).T, axes=([3], [0]))
    return base[..., None] * site_scale * (1.0 + signal), subj


def test_noiseless_2d():
    out = os.path.join(TMP, "noiseless")
    truth = simulate(out, "--subjects", "3", "--shape", "48,52", "--timepoints", "30", "--tr", "2.5",
                     "--noiseless", "--sites", "2", "--seed", "11")
    p = truth["parameters"]
    assert p["shape"] == [48, 52, 1] and p["n_timepoints"] == 30 and p["repetition_time"] == 2.5
    check_all_nifti(out, (48, 52, 1), 2.5, (2, 2, 2), 30, 30)
    sites = {s["site"]: s["baseline_scale"] for s in truth["sites"]}
    mask = nib.load(os.path.join(out, "derivatives/simulation/group/desc-head_mask.nii.gz")).get_fdata() > 0
    group = nib.load(os.path.join(out, "derivatives/simulation/group/desc-true_components.nii.gz")).get_fdata()
    assert np.allclose(np.abs(group).reshape(-1, 30).max(0), 1.0, atol=1e-6)
    assert np.all(group[~mask] == 0)
    for subj in truth["subjects"]:
        label = subj["participant_id"]
        want, _ = recompose(out, truth, label, sites[subj["site"]])
        got = nib.load(os.path.join(out, f"{label}/func/{label}_task-rest_bold.nii.gz")).get_fdata()
        err = np.abs(got - want).max()
        assert np.allclose(got, want, rtol=1e-5, atol=1e-3), (label, err)
    print("noiseless 2-D: data == truth recomposed by numpy for", len(truth["subjects"]), "subjects")


def test_noise_3d():
    out = os.path.join(TMP, "noisy3d")
    truth = simulate(out, "--subjects", "2", "--shape", "20,24,16", "--timepoints", "40", "--cnr", "1.3",
                     "--seed", "5", "--tr", "1")
    check_all_nifti(out, (20, 24, 16), 1.0, (3, 3, 3), 30, 40)
    mask = nib.load(os.path.join(out, "derivatives/simulation/group/desc-head_mask.nii.gz")).get_fdata() > 0
    for subj in truth["subjects"]:
        label = subj["participant_id"]
        clean, _ = recompose(out, truth, label, 1.0)
        got = nib.load(os.path.join(out, f"{label}/func/{label}_task-rest_bold.nii.gz")).get_fdata()
        noise = (got - clean)[mask].std()
        signal = np.sqrt(clean[mask].var(axis=1, ddof=1).mean())
        assert abs(noise - subj["noise_sd"]) < 0.1 * subj["noise_sd"], (noise, subj["noise_sd"])
        assert abs(signal / noise - 1.3) < 0.13, signal / noise
        print(f"3-D {label}: measured CNR {signal / noise:.3f} (asked 1.3)")


def test_planted_coupling_scipy():
    out = os.path.join(TMP, "coupling")
    truth = simulate(out, "--subjects", "24", "--shape", "32,32", "--no-subject-maps", "--seed", "3")
    eff = next(e for e in truth["effects"] if e["name"] == "diagnosis")
    assert eff["coupling"]["HC"] < eff["coupling"]["MDD"]
    z = {"HC": [], "patient": []}
    for subj in truth["subjects"]:
        label = subj["participant_id"]
        _, tc = read_tsv(os.path.join(out, f"derivatives/simulation/{label}/func/{label}_task-rest_desc-true_timeseries.tsv"))
        r = np.corrcoef(tc.T)
        zs = np.mean([np.arctanh(r[a, b]) for a, b in eff["pairs"]])
        z["HC" if subj["diagnosis"] == "HC" else "patient"].append(zs)
    t, pval = stats.ttest_ind(z["patient"], z["HC"], equal_var=False)
    assert t > 0 and pval < 1e-3, (t, pval)
    print(f"diagnosis coupling from the written truth: t = {t:.2f}, p = {pval:.2g}")


if __name__ == "__main__":
    os.makedirs(TMP, exist_ok=True)
    test_noiseless_2d()
    test_noise_3d()
    test_planted_coupling_scipy()
    print("test_sim_nibabel: ok")
    sys.exit(0)

"""neurospectra ica vs scikit-learn's FastICA on the same whitened matrix.

Planted data (numpy + nibabel, no simulator): sparse blob sources mixed
with random timecourses in 6 subjects. `neurospectra ica` saves the
whitened group PCA matrix Z and its unmixing W in desc-ica<K>_model.npz;
sklearn's FastICA (logcosh, parallel, whiten=False) runs on the same Z.
Both unmixings must find the same sources (Hungarian-matched |r| >= 0.95),
for our FastICA and for our Infomax, and both must recover the planted
sources.
# requires: ica nifti_io
"""
import os
import subprocess
import sys

import nibabel as nib
import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.decomposition import FastICA

NS_BIN = os.environ["NS_BIN"]
TMP = os.environ.get("NS_TMP", "/tmp/ns_test_ica_sklearn")
K, NX, T, M = 8, 48, 80, 6


def corr(a, b):
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def matched(a, b):
    r = np.abs(corr(a, b))
    ri, ci = linear_sum_assignment(1 - r)
    return r[ri, ci]


def planted(rng):
    yy, xx = np.mgrid[0:NX, 0:NX] / (NX - 1) * 2 - 1
    head = xx ** 2 + yy ** 2 < 0.95
    maps = np.zeros((K, NX, NX))
    centres = [(cx, cy) for cy in (-0.5, 0, 0.5) for cx in (-0.5, 0, 0.5)]
    for k in range(K):  # one blob per cell of a 3 x 3 grid (little overlap), jittered
        cx, cy = np.array(centres[k]) + rng.uniform(-0.08, 0.08, 2)
        w = rng.uniform(0.08, 0.13)
        maps[k] = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * w ** 2))
    return head, maps * head


def write_subjects(rng, head, maps):
    paths = []
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    for s in range(M):
        tc = rng.standard_normal((T, K))
        data = 1000 * head[None] * (1 + 0.02 * np.einsum("tk,kxy->txy", tc, maps))
        data += 5 * rng.standard_normal(data.shape) * head[None]
        vol = np.transpose(data, (2, 1, 0))[:, :, None, :].astype(np.float32)  # x, y, z, t
        img = nib.Nifti1Image(vol, affine)
        img.header.set_zooms((3.0, 3.0, 3.0, 2.0))
        img.header.set_xyzt_units("mm", "sec")
        p = f"{TMP}/sub-{s + 1:02d}_task-rest_bold.nii.gz"
        nib.save(img, p)
        paths.append(p)
    return paths


def run_ica(paths, algorithm, out):
    cmd = [NS_BIN, "ica", "-o", out, "--orders", str(K), "--algorithm", algorithm,
           "--seed", "4", "--quiet"] + paths
    subprocess.run(cmd, check=True)
    z = np.load(f"{out}/group/desc-ica{K}_model.npz")
    return z["whitened_pca_maps"].astype(np.float64), z["unmixing"], z["mask_indices"]


def main():
    os.makedirs(TMP, exist_ok=True)
    rng = np.random.default_rng(7)
    head, maps = planted(rng)
    paths = write_subjects(rng, head, maps)
    ok = True
    for algorithm in ("fastica", "infomax"):
        Z, W, idx = run_ica(paths, algorithm, f"{TMP}/out_{algorithm}")
        # whitened: Z Z^T / (V - 1) = I
        V = Z.shape[1]
        white = np.abs(Z @ Z.T / (V - 1) - np.eye(K)).max()
        sk = FastICA(whiten=False, fun="logcosh", algorithm="parallel",
                     max_iter=2000, tol=1e-8, random_state=0)
        s_sk = sk.fit_transform(Z.T).T          # K x V
        s_ns = W @ Z                            # K x V
        m_src = matched(s_ns, s_sk)
        # unmixing rows (same whitened input: rows agree up to sign/order/scale)
        m_w = matched(W, sk.components_)
        # maps are [y, x]; NIfTI order runs x fastest
        truth = np.stack([m.T.ravel(order="F") for m in maps])[:, idx]
        m_truth_ns = matched(truth, s_ns)
        m_truth_sk = matched(truth, s_sk)
        print(f"{algorithm}: whiteness {white:.2e}; sources vs sklearn mean {m_src.mean():.4f} "
              f"min {m_src.min():.4f}; unmixing rows min {m_w.min():.4f}; vs truth: ours "
              f"{m_truth_ns.mean():.4f}, sklearn {m_truth_sk.mean():.4f}")
        ok &= white < 1e-3
        ok &= m_src.min() >= 0.95
        ok &= m_truth_ns.mean() >= 0.95 and m_truth_ns.mean() >= m_truth_sk.mean() - 0.01
        if algorithm == "fastica":
            ok &= m_w.min() >= 0.95
    if not ok:
        print("FAIL", file=sys.stderr)
        return 1
    print("test_ica_sklearn: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

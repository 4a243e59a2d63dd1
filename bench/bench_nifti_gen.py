#!/usr/bin/python3
"""Writes N synthetic 4-D fMRI runs as .nii.gz with nibabel (as fMRIPrep
does): a brain-shaped ellipsoid with a smooth tissue pattern, slow drift and
thermal noise, Rayleigh-like background noise outside. Compresses about as
well as real BOLD data (2-3x).

usage: bench_nifti_gen.py OUTDIR N [--dims 64,64,33,150] [--dtype int16|float32] [--seed S]
"""
import argparse
import os

import nibabel as nib
import numpy as np


def make_run(dims, dtype, rng):
    nx, ny, nz, nt = dims
    x, y, z = np.meshgrid(np.linspace(-1, 1, nx), np.linspace(-1, 1, ny),
                          np.linspace(-1, 1, nz), indexing="ij")
    r2 = (x / 0.8) ** 2 + (y / 0.9) ** 2 + (z / 0.85) ** 2
    brain = r2 < 1
    tissue = 800 + 300 * np.cos(3 * x) * np.sin(2 * y + 1) + 200 * z + 150 * (r2 > 0.8)
    base = np.where(brain, tissue, 0).astype(np.float32)
    drift = 1 + 0.01 * np.sin(np.linspace(0, 3 * np.pi, nt, dtype=np.float32))
    data = np.empty((nx, ny, nz, nt), np.float32)
    for t in range(nt):
        noise = rng.standard_normal((nx, ny, nz), dtype=np.float32)
        vol = base * drift[t] + np.where(brain, 15 * noise, np.abs(4 * noise))
        data[..., t] = vol
    if dtype == "int16":
        data = np.rint(data).astype(np.int16)
    return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("n", type=int)
    ap.add_argument("--dims", default="64,64,33,150")
    ap.add_argument("--dtype", default="int16", choices=["int16", "float32"])
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    dims = [int(d) for d in a.dims.split(",")]
    os.makedirs(a.outdir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    affine = np.diag([3.0, 3.0, 3.3, 1.0])
    for i in range(a.n):
        path = os.path.join(a.outdir, f"sub-{i + 1:02d}_task-rest_bold.nii.gz")
        if os.path.exists(path):
            continue
        img = nib.Nifti1Image(make_run(dims, a.dtype, rng), affine)
        img.header.set_xyzt_units("mm", "sec")
        img.header["pixdim"][4] = 2.0
        img.to_filename(path)


if __name__ == "__main__":
    main()

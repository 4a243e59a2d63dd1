#!/usr/bin/python3
# requires: nifti_io
"""Conformance of `neurospectra info --json` with nibabel.

1. Every NIfTI/Analyze file bundled with python3-nibabel (nibabel/tests/data
   and the other data folders of the package) that nibabel loads as
   Nifti1/Nifti2/Analyze with a supported datatype: dims, pixdim, datatype,
   affine (when a qform/sform code is set) and min/max/mean/NaN count of the
   scaled data must match nibabel's get_fdata().
   Bundled header-only pairs (.hdr without its .img) must be refused with one
   line naming the file; they are then completed with a generated .img in
   NS_TMP and compared like the others.
2. Variants written by nibabel itself from a bundled image: every datatype,
   both byte orders, NIfTI-1/NIfTI-2/Analyze, .nii/.nii.gz/.hdr+.img/.img.gz,
   scl_slope/scl_inter, ms time units. Complex and RGB files must be refused
   (exit 1, one clear line naming the file).
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

import nibabel as nib
import numpy as np

NS_BIN = os.environ.get("NS_BIN", "neurospectra")
TMP = os.environ.get("NS_TMP") or tempfile.mkdtemp()
os.makedirs(TMP, exist_ok=True)
PKG = os.path.dirname(nib.__file__)
SUPPORTED = {"uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
             "float32", "float64"}
EXTS = (".nii", ".nii.gz", ".hdr", ".hdr.gz", ".img", ".img.gz")
FAILURES = []


def fail(path, what):
    FAILURES.append(f"{os.path.basename(path)}: {what}")


def run_info(path):
    r = subprocess.run([NS_BIN, "info", "--json", "--no-sidecar", path],
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def strip_ones(shape):
    s = list(shape)
    while len(s) > 3 and s[-1] == 1:
        s.pop()
    while len(s) < 3:
        s.append(1)
    return s


def format_of(img):
    if isinstance(img, (nib.Nifti2Image, nib.Nifti2Pair)):
        return "nifti2"
    if isinstance(img, (nib.Nifti1Image, nib.Nifti1Pair)):
        return "nifti1"
    return "analyze"


def close(a, b, tol):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol


def compare(path, img):
    """Runs info on path and compares with the nibabel image; True if it ran."""
    rc, out, err = run_info(path)
    if rc != 0:
        fail(path, f"info failed (exit {rc}): {err.strip()}")
        return False
    o = json.loads(out)
    hdr = img.header
    if o["format"] != format_of(img):
        fail(path, f"format {o['format']} != {format_of(img)}")
    dt = np.dtype(hdr.get_data_dtype()).newbyteorder("=").name
    if o["datatype"] != dt:
        fail(path, f"datatype {o['datatype']} != {dt}")
    shape = strip_ones(img.shape)
    if strip_ones(o["dims"]) != shape:
        fail(path, f"dims {o['dims']} != nibabel {list(img.shape)}")
    pix = [float(p) for p in hdr["pixdim"][1:1 + len(o["dims"])]]
    if not np.allclose(o["pixdim"], pix, rtol=1e-6, atol=1e-7):
        fail(path, f"pixdim {o['pixdim']} != {pix}")
    if format_of(img) != "analyze":
        qc, sc = int(hdr["qform_code"]), int(hdr["sform_code"])
        mine = o["sform"] if sc > 0 else o["qform"] if qc > 0 else None
        if mine is not None and not np.allclose(mine, img.affine, rtol=1e-5, atol=1e-4):
            fail(path, f"affine {mine} != nibabel {img.affine.tolist()}")
    data = np.asarray(img.get_fdata(dtype=np.float64))
    finite = np.isfinite(data)
    nonfinite = int(data.size - finite.sum())
    if o["nonfinite"] != nonfinite:
        fail(path, f"nonfinite {o['nonfinite']} != {nonfinite}")
    if finite.any():
        v = data[finite]
        lo, hi, mean = float(v.min()), float(v.max()), float(v.mean())
        # float32 rounding of each value: relative 2^-24 of the largest magnitude
        tol = 4 * np.finfo(np.float32).eps * max(abs(lo), abs(hi), 1e-30)
        for key, ref in (("min", lo), ("max", hi), ("mean", mean)):
            if not close(o[key], ref, tol):
                fail(path, f"{key} {o[key]!r} != nibabel {ref!r} (tol {tol:.3g})")
    elif o["min"] is not None:
        fail(path, "min should be null without finite values")
    return True


def expect_refusal(path, words):
    rc, out, err = run_info(path)
    lines = [l for l in err.splitlines() if l.strip()]
    ok = (rc == 1 and len(lines) == 1 and path in lines[0]
          and lines[0].startswith("neurospectra: error: ")
          and any(w in lines[0] for w in words))
    if not ok:
        fail(path, f"expected a one-line refusal mentioning {words}, got exit {rc}: {err!r}")
    return ok


def nibabel_load(path):
    """nibabel's image for a file, as a NIfTI/Analyze class, or None."""
    try:
        img = nib.load(path)
    except Exception:
        return None
    if type(img).__name__ == "Cifti2Image":  # a NIfTI-2 file with a CIFTI intent
        img = nib.Nifti2Image.from_filename(path)
    if not isinstance(img, nib.analyze.AnalyzeImage):
        return None
    return img


def has_data(img):
    try:
        np.asarray(img.dataobj[(0,) * len(img.shape)])
        return True
    except Exception:
        return False


def complete_pair(path, img):
    """Copies a header-only .hdr into TMP with a generated .img beside it."""
    base = os.path.join(TMP, "completed_" + os.path.basename(path)[:-4])
    with open(path, "rb") as f:
        raw = f.read()
    with open(base + ".hdr", "wb") as f:
        f.write(raw)
    dt = np.dtype(img.header.get_data_dtype())
    rng = np.random.default_rng(len(raw))
    n = int(np.prod(img.shape))
    if dt.kind == "f":
        vals = rng.normal(100, 30, n)
    else:
        info = np.iinfo(dt)
        vals = rng.integers(max(info.min, -3000), min(info.max, 3000), n, endpoint=True)
    # the offset as stored (img.header is a copy whose offset nibabel resets)
    with open(path, "rb") as f:
        offset = type(img).header_class.from_fileobj(f).get_data_offset()
    with open(base + ".img", "wb") as f:
        f.write(b"\0" * int(offset))
        f.write(vals.astype(dt).tobytes())
    return base + ".hdr"


def bundled_files():
    files = []
    for p in sorted(glob.glob(os.path.join(PKG, "**", "*"), recursive=True)):
        if not p.lower().endswith(EXTS) or not os.path.isfile(p):
            continue
        low = p.lower()
        if low.endswith((".img", ".img.gz")):  # counted through its header
            hdr = p[: p.lower().rfind(".img")] + ".hdr"
            if os.path.exists(hdr) or os.path.exists(hdr + ".gz"):
                continue
        files.append(p)
    return files


def check_bundled():
    compared = completed = skipped = 0
    for p in bundled_files():
        img = nibabel_load(p)
        dt = None if img is None else np.dtype(img.header.get_data_dtype()).name
        if img is None:
            print(f"  skip (nibabel does not load it as NIfTI/Analyze): {os.path.basename(p)}")
            skipped += 1
            continue
        if dt not in SUPPORTED:
            expect_refusal(p, ["unsupported datatype"])
            continue
        if has_data(img):
            compared += compare(p, img)
            continue
        # header without image: nibabel cannot read the data either
        expect_refusal(p, ["cannot open image file"])
        q = complete_pair(p, img)
        qimg = nibabel_load(q)
        if qimg is None:
            fail(p, "nibabel cannot load the completed pair")
            continue
        completed += compare(q, qimg)
    return compared, completed, skipped


def write_variant(img_class, data, affine, path, dtype, endian="<", slope=None, units=None):
    hdr = img_class.header_class(endianness=endian)
    img = img_class(data, affine, header=hdr)
    img.set_data_dtype(np.dtype(dtype).newbyteorder(endian))
    if slope is not None:
        img.header.set_slope_inter(*slope)
    if units is not None:
        img.header.set_xyzt_units(*units)
    img.to_filename(path)
    return path


def check_variants():
    src = nib.load(os.path.join(PKG, "tests", "data", "functional.nii"))
    data = np.asarray(src.get_fdata())
    affine = src.affine
    rng = np.random.default_rng(7)
    compared = 0
    classes = [(nib.Nifti1Image, ".nii.gz"), (nib.Nifti2Image, ".nii"),
               (nib.Nifti1Pair, ".img"), (nib.Nifti2Pair, ".hdr.gz"),
               (nib.AnalyzeImage, ".img")]
    for dtype in sorted(SUPPORTED):
        info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
        lo = 0 if info is None or info.min == 0 else -120
        vals = data / data.max() * (120 - lo) + lo + rng.normal(0, 1, data.shape)
        vals = np.rint(vals) if info is not None else vals
        for k, (cls, ext) in enumerate(classes):
            if cls is nib.AnalyzeImage and dtype not in ("uint8", "int16", "int32", "float32",
                                                          "float64"):
                continue
            endian = ">" if k % 2 else "<"
            path = os.path.join(TMP, f"var_{dtype}_{cls.__name__}_{endian == '>'}{ext}")
            write_variant(cls, vals.astype(dtype), affine, path, dtype, endian)
            compared += compare(path, nibabel_load(path))
    # scaling, a NaN, millisecond units
    path = os.path.join(TMP, "var_scaled.nii.gz")
    write_variant(nib.Nifti1Image, np.rint(data), affine, path, "int16", ">",
                  slope=(0.25, -7.5), units=("mm", "msec"))
    compared += compare(path, nibabel_load(path))
    path = os.path.join(TMP, "var_nan.nii")
    nan = data.astype(np.float32)
    nan[0, 0, 0, 0] = np.nan
    nan[1, 0, 0, 0] = np.inf
    write_variant(nib.Nifti1Image, nan, affine, path, "float32")
    compared += compare(path, nibabel_load(path))
    return compared


def check_refusals():
    refused = 0
    shape = (4, 5, 6)
    for name, arr in (("complex64", np.ones(shape, np.complex64)),
                      ("complex128", np.ones(shape, np.complex128))):
        path = os.path.join(TMP, f"refuse_{name}.nii.gz")
        nib.Nifti1Image(arr, np.eye(4)).to_filename(path)
        refused += expect_refusal(path, ["unsupported datatype " + name])
    rgb = np.zeros(shape, dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    path = os.path.join(TMP, "refuse_rgb24.nii")
    nib.Nifti1Image(rgb, np.eye(4)).to_filename(path)
    refused += expect_refusal(path, ["unsupported datatype rgb24"])
    return refused


def main():
    compared, completed, skipped = check_bundled()
    variants = check_variants()
    refused = check_refusals()
    print(f"bundled nibabel files compared: {compared}; bundled headers completed with "
          f"generated data and compared: {completed}; skipped: {skipped}")
    print(f"nibabel-written variants compared: {variants}; complex/RGB files refused: {refused}")
    if compared + completed < 10:
        fail("(all)", f"only {compared + completed} bundled files compared, expected >= 10")
    if variants < 40 or refused < 3:
        fail("(all)", f"too few variants ({variants}) or refusals ({refused})")
    for f in FAILURES:
        print("FAIL", f)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())

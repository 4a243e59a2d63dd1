"""Used by the robustness tests (not a test itself):
finite_check.py DIR...: exit 0 when every TSV cell, JSON number, NPY/NPZ
float, NIfTI voxel and number in an SVG/HTML file under the DIRs is finite
(and there is at least one file); otherwise print the first offenders, exit 1."""
import sys, os, re, json, numpy as np, nibabel as nib
bad, n = [], 0
word = re.compile(r'^[+-]?(nan|inf|infinity)$', re.I)
def js(x, w):
    if isinstance(x, float) and not np.isfinite(x): bad.append(w)
    elif isinstance(x, dict): [js(v, f"{w}.{k}") for k, v in x.items()]
    elif isinstance(x, list): [js(v, f"{w}[{i}]") for i, v in enumerate(x)]
def arr(a, w):
    if a.dtype.kind in "fc" and not np.isfinite(a).all(): bad.append(f"{w}: {int((~np.isfinite(a)).sum())} values")
for root in sys.argv[1:]:
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f); n += 1
            try:
                if f.endswith(".tsv"):
                    for i, line in enumerate(open(p)):
                        if any(word.match(c.strip()) for c in line.rstrip("\n").split("\t")):
                            bad.append(f"{p}:{i + 1}"); break
                elif f.endswith(".json"): js(json.load(open(p)), p)
                elif f.endswith(".npy"): arr(np.load(p), p)
                elif f.endswith(".npz"):
                    with np.load(p) as z: [arr(z[k], f"{p}[{k}]") for k in z.files]
                elif f.endswith((".nii", ".nii.gz")): arr(np.asarray(nib.load(p).dataobj), p)
                elif f.endswith((".svg", ".html")):
                    m = re.search(r'[=" ,(:>](-?nan|-?inf)\b', open(p, errors="replace").read(), re.I)
                    if m: bad.append(f"{p}: '{m.group(0)}'")
            except Exception as e:
                bad.append(f"{p}: unreadable ({e})")
for b in bad[:10]: print("    non-finite:", b)
sys.exit(1 if bad or n == 0 else 0)

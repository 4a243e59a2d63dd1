# requires: spectra models
"""Spectra against numpy: `neurospectra grad --groups g.npy` writes
DIR/spectra.tsv; its singular values must agree with numpy's SVD of the
gradients the same command dumps (grad.npz for the whole batch; D_g^T A_g
from tap.npz for each group, whose sum must be the dumped gradient), its
grad_rank with numpy.linalg.matrix_rank, and `neurospectra rank-bounds`
must bound every measured rank (and equal it for a linear bottleneck)."""
import csv
import os
import subprocess
import sys
import zlib

import numpy as np

BIN = os.environ["NS_BIN"]
TMP = os.environ.get("NS_TMP", "/tmp/ns_peer_spectra")
os.makedirs(TMP, exist_ok=True)
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def run(*args):
    r = subprocess.run([BIN, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r.stdout


def read_spectra(path):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            key = (r["layer"], r["group"], r["quantity"])
            rows.setdefault(key, []).append((int(r["index"]), float(r["value"])))
    return {k: np.array([v for _, v in sorted(x)]) for k, x in rows.items()}


def bounds(model, inp, n, classes, extra):
    out = run("rank-bounds", "--model", model, "--input", inp, "--batch", str(n),
              "--classes", str(classes), "--tsv", *extra)
    lines = out.strip().split("\n")
    head = lines[0].split("\t")
    return {r[0]: int(r[head.index("bound")]) for r in (l.split("\t") for l in lines[1:])}


def case(name, model, shape, classes, extra, attained=False):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    n = shape[0]
    x = rng.normal(size=shape).astype(np.float32)
    y = (np.arange(n) % classes).astype(np.int64)
    g = rng.choice([2, 5], size=n).astype(np.int32)
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "y.npy"), y)
    np.save(os.path.join(d, "g.npy"), g)
    run("grad", "--model", model, "--inputs", os.path.join(d, "x.npy"), "--labels",
        os.path.join(d, "y.npy"), "--groups", os.path.join(d, "g.npy"), "--classes",
        str(classes), "-o", os.path.join(d, "out"), *extra)
    path = os.path.join(d, "out", "spectra.tsv")
    check(os.path.exists(path), f"{name}: grad --groups did not write spectra.tsv")
    if not os.path.exists(path):
        return
    sp = read_spectra(path)
    grad = np.load(os.path.join(d, "out", "grad.npz"))
    tap = np.load(os.path.join(d, "out", "tap.npz"))
    layers = sorted({k[:-2] for k in tap.files})
    inp = ",".join(str(s) for s in shape[1:])
    bd = bounds(model, inp, n, classes, extra)  # rank-bounds takes grad's model options
    for layer in layers:
        A, D = tap[layer + ".A"].astype(np.float64), tap[layer + ".D"].astype(np.float64)
        R = A.shape[0] // n  # rows per sample
        rg = np.repeat(g, R)
        wname = {"rnn.ih": "rnn.weight_ih_l0", "rnn.hh": "rnn.weight_hh_l0"}.get(layer, layer + ".weight")
        G = grad[wname].reshape(grad[wname].shape[0], -1).astype(np.float64)
        parts = {v: D[rg == v].T @ A[rg == v] for v in (2, 5)}
        check(np.allclose(parts[2] + parts[5], G, rtol=1e-4, atol=1e-6 * np.abs(G).max()),
              f"{name} {layer}: group gradients do not sum to grad.npz")
        for grp, M in (("all", G), ("2", parts[2]), ("5", parts[5])):
            s_np = np.linalg.svd(M, compute_uv=False)
            s_ns = sp.get((layer, grp, "grad_sv"))
            check(s_ns is not None, f"{name} {layer} {grp}: no grad_sv rows")
            if s_ns is None:
                continue
            k = len(s_ns)
            err = np.abs(s_ns - s_np[:k]).max() / max(s_np[0], 1e-30)
            check(err <= 1e-4, f"{name} {layer} {grp}: singular values differ by {err:.2e} of sigma_1")
            rk_np = np.linalg.matrix_rank(M.astype(np.float32))
            rk_ns = int(sp[(layer, grp, "grad_rank")][0])
            check(rk_ns == rk_np, f"{name} {layer} {grp}: grad_rank {rk_ns}, numpy matrix_rank {rk_np}")
            if grp == "all":
                check(rk_ns <= bd[layer], f"{name} {layer}: rank {rk_ns} > bound {bd[layer]}")
                if attained:
                    check(rk_ns == bd[layer], f"{name} {layer}: rank {rk_ns}, bound {bd[layer]} not attained")
                check(int(sp[(layer, "all", "bound")][0]) == bd[layer],
                      f"{name} {layer}: bound in spectra.tsv differs from rank-bounds")
    print(f"{name}: {len(layers)} layers checked")


case("mlp_relu", "mlp:40,12", (24, 30), 3, [])
case("mlp_bottleneck", "mlp:64,4,64", (32, 64), 10, ["--activation", "linear", "--no-bias"], attained=True)
case("cnn", "cnn1d:8k3s2,6k3", (6, 20, 3), 2, ["--activation", "tanh"])
case("gru", "gru:16", (5, 7, 4), 3, [])
case("rnn_bptt", "rnn:32", (3, 9, 5), 2, ["--bptt", "4"], attained=True)
if failures:
    sys.exit(f"{len(failures)} failures")
print("all spectra peer checks passed")

"""Benchmark helper for bench_fnc.sh.

  bench_fnc.py gen OUT NSUB T ORDERS   writes an ICA tree (timecourse TSVs + sidecars)
  bench_fnc.py peer OUT ORDERS         the same chain as `neurospectra fnc OUT` in
                                       numpy/scipy: read, 6-regressor detrend, despike,
                                       Butterworth filtfilt, Pearson + Fisher z, relmats
                                       per order and multi-scale, feature table
  bench_fnc.py compare A B             max |difference| between the two feature tables
Prints the peer's timings (total and compute-only) on stdout as key=value."""
import io
import json
import os
import sys
import time

import numpy as np
from scipy import signal


def ids_of(K):
    return ["ica%dc%0*d" % (K, len(str(K)), i + 1) for i in range(K)]


def gen(out, nsub, T, orders):
    rng = np.random.default_rng(0)
    for s in range(nsub):
        sub = "sub-%03d" % (s + 1)
        d = os.path.join(out, sub, "func")
        os.makedirs(d, exist_ok=True)
        shared = rng.standard_normal((T, 8))
        for K in orders:
            x = rng.standard_normal((T, K)) + shared @ rng.standard_normal((8, K)) * 0.5
            stem = os.path.join(d, sub + "_task-rest_desc-ica%d_timeseries" % K)
            np.savetxt(stem + ".tsv", x, fmt="%.6g", delimiter="\t", header="\t".join(ids_of(K)),
                       comments="")
            json.dump({"RepetitionTime": 2.0, "Components": K,
                       "Sources": ["/data/%s_task-rest_bold.nii.gz" % sub]}, open(stem + ".json", "w"))


def design(T):
    t = np.arange(T)
    X = [np.ones(T), t - t.mean()]
    for c in (1, 2):
        for fn in (np.sin, np.cos):
            v = fn(2 * np.pi * c * t / T)
            X.append(v - v.mean())
    return np.array(X).T


def postproc(x, tr, cache):
    T = x.shape[0]
    if T not in cache:
        X = design(T)
        cache[T] = (X, np.linalg.pinv(X))
    X, P = cache[T]
    y = x - X @ (P @ x)
    s = y.copy()
    s[1:-1] = (y[:-2] + y[1:-1] + y[2:]) / 3
    r = np.abs(y - s)
    y = np.where(r > 2.5 * r.std(0, ddof=1), s, y)
    b, a = signal.butter(5, 0.15 / (0.5 / tr))
    return signal.filtfilt(b, a, y, axis=0)


def fisher(x):
    R = np.corrcoef(x.T)
    np.fill_diagonal(R, 0)
    return np.arctanh(np.clip(R, -1 + 1e-7, 1 - 1e-7))


def write_labelled(path, label, cols, names, M):
    """The fastest plain-numpy way found: savetxt into memory, then prefix labels."""
    buf = io.StringIO()
    np.savetxt(buf, M, fmt="%.6f", delimiter="\t")
    with open(path, "w") as f:
        f.write(label + "\t" + "\t".join(cols) + "\n")
        f.write("".join(n + "\t" + line + "\n" for n, line in zip(names, buf.getvalue().splitlines())))


def peer(out, orders):
    t0 = time.process_time()
    compute = 0.0
    subs = sorted(d for d in os.listdir(out) if d.startswith("sub-"))
    names = [i for K in orders for i in ids_of(K)]
    off = np.cumsum([0] + list(orders))
    iu = np.triu_indices(len(names), 1)
    rows, cache = [], {}
    for sub in subs:
        stem = os.path.join(out, sub, "func", sub + "_task-rest")
        x = np.hstack([np.loadtxt(stem + "_desc-ica%d_timeseries.tsv" % K, skiprows=1, ndmin=2)
                       for K in orders])
        tr = json.load(open(stem + "_desc-ica%d_timeseries.json" % orders[0]))["RepetitionTime"]
        c0 = time.process_time()
        Z = fisher(postproc(x, tr, cache))
        rows.append(Z[iu])
        compute += time.process_time() - c0
        for j, K in enumerate(orders):
            a, b = off[j], off[j + 1]
            write_labelled(stem + "_desc-ica%d_peer_relmat.tsv" % K, "component", names[a:b],
                           names[a:b], Z[a:b, a:b])
        write_labelled(stem + "_desc-icamulti_peer_relmat.tsv", "component", names, names, Z)
    cols = ["%s-%s" % (names[i], names[j]) for i, j in zip(*iu)]
    write_labelled(os.path.join(out, "group", "desc-fnc_peer_features.tsv"), "participant_id",
                   cols, subs, np.array(rows))
    print("peer_total=%.3f" % (time.process_time() - t0))
    print("peer_compute=%.3f" % compute)


def compare(a, b):
    A = np.loadtxt(a, skiprows=1, usecols=None, dtype=str, delimiter="\t")[:, 1:].astype(float)
    B = np.loadtxt(b, skiprows=1, dtype=str, delimiter="\t")[:, 1:].astype(float)
    print("max_abs_diff=%.2e" % np.abs(A - B).max())


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), [int(k) for k in sys.argv[5].split(",")])
    elif cmd == "peer":
        os.makedirs(os.path.join(sys.argv[2], "group"), exist_ok=True)
        peer(sys.argv[2], [int(k) for k in sys.argv[3].split(",")])
    else:
        compare(sys.argv[2], sys.argv[3])

#!/usr/bin/python3
"""Training steps per second of neurospectra's networks against PyTorch, in
one run with the same number of threads, and peak memory of each process.

  MLP 1378 -> 256 -> 64 -> 2, batch 32, Adam       goal >= 2x PyTorch
  GRU 53 -> 128 over 150 steps, batch 32, Adam     goal >= 1.5x PyTorch

Both sides run the same loop: consecutive batches of one in-memory array,
forward, mean cross-entropy, backward, optimiser step; the first 3 steps are
not timed. The machine may be shared: each side runs --repeat times,
interleaved, and the best rate of each is compared. Peak memory is the maximum resident set size from /usr/bin/time -v
(the whole process: for PyTorch that includes the Python interpreter and the
torch libraries, for us the command with its data).

usage: bench_nn.py [--threads T] [--quick]
env: NS_BIN (neurospectra), NS_BENCH_TMP (scratch directory)
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

CASES = [
    # name, spec, sample shape, samples, steps (ours), steps (torch), goal
    ("MLP 1378-256-64-2", "mlp:256,64", (1378,), 640, 600, 300, 2.0),
    ("GRU 53->128, T=150", "gru:128", (150, 53), 128, 40, 20, 1.5),
]


def torch_worker(spec, xpath, ypath, steps, batch, threads):
    """Runs in a child process: PyTorch's training loop; prints steps/s."""
    import torch
    import torch.nn as tnn
    torch.set_num_threads(threads)
    X = torch.from_numpy(np.load(xpath))
    y = torch.from_numpy(np.load(ypath).astype(np.int64))
    kind, _, rest = spec.partition(":")
    widths = [int(w) for w in rest.split(",")]
    if kind == "mlp":
        layers, d = [], X.shape[1]
        for w in widths:
            layers += [tnn.Linear(d, w), tnn.ReLU()]
            d = w
        net = tnn.Sequential(*layers, tnn.Linear(d, 2))
        forward = net
    else:
        rnn, fc = tnn.GRU(X.shape[2], widths[0], batch_first=True), tnn.Linear(widths[0], 2)
        net = tnn.ModuleList([rnn, fc])

        def forward(x):
            out, _ = rnn(x)
            return fc(out[:, -1])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = tnn.CrossEntropyLoss()
    nb = X.shape[0] // batch
    t0 = None
    for s in range(steps):
        if s == 3:
            t0 = time.perf_counter()
        r0 = (s % nb) * batch
        opt.zero_grad()
        loss = lossf(forward(X[r0:r0 + batch]), y[r0:r0 + batch])
        loss.backward()
        opt.step()
    print(json.dumps({"steps_per_second": (steps - 3) / (time.perf_counter() - t0)}))


def timed(cmd, env):
    """Runs cmd under /usr/bin/time -v; returns (stdout, peak RSS in MB)."""
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit("failed: " + " ".join(cmd) + "\n" + r.stderr[-2000:])
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    return r.stdout, int(m.group(1)) / 1024.0 if m else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    ap.add_argument("--quick", action="store_true", help="fewer steps")
    ap.add_argument("--repeat", type=int, default=3, help="runs per side (best counts)")
    ap.add_argument("--torch-worker", nargs=5, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_worker:
        spec, xp, yp, steps, threads = a.torch_worker
        torch_worker(spec, xp, yp, int(steps), 32, int(threads))
        return
    nsbin = os.environ.get("NS_BIN", "build/cli/neurospectra")
    tmp = os.path.join(os.environ.get("NS_BENCH_TMP", "/tmp/ns_bench"), "nn")
    os.makedirs(tmp, exist_ok=True)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    rng = np.random.default_rng(0)
    rows = []
    for name, spec, shape, n, s_ours, s_torch, goal in CASES:
        if a.quick:
            s_ours, s_torch = max(12, s_ours // 5), max(8, s_torch // 5)
        X = rng.standard_normal((n,) + shape).astype(np.float32)
        y = rng.integers(0, 2, n).astype(np.int64)
        xp, yp = os.path.join(tmp, "X_%s.npy" % spec[:3]), os.path.join(tmp, "y_%s.npy" % spec[:3])
        np.save(xp, X)
        np.save(yp, y)
        out = os.path.join(tmp, "out_" + spec[:3])
        ours = theirs = 0.0
        mem_ours = mem_torch = 0.0
        for _ in range(a.repeat):
            _, mem = timed([nsbin, "grad", "-q", "--model", spec, "--inputs", xp, "--labels", yp,
                            "-o", out, "--train-only", "--train-steps", str(s_ours),
                            "--batch", "32", "--optimizer", "adam", "--lr", "1e-3"], env)
            with open(os.path.join(out, "summary.json")) as f:
                ours = max(ours, json.load(f)["steps_per_second"])
            mem_ours = max(mem_ours, mem)
            stdout, mem = timed([sys.executable, os.path.abspath(__file__), "--torch-worker", spec,
                                 xp, yp, str(s_torch), str(a.threads)], env)
            theirs = max(theirs, json.loads(stdout.strip().splitlines()[-1])["steps_per_second"])
            mem_torch = max(mem_torch, mem)
        rows.append((name, ours, theirs, ours / theirs, goal, mem_ours, mem_torch))
    print(f"threads: {a.threads} (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, torch.set_num_threads); "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(auto)')}; best of {a.repeat}")
    print(f"{'case':22s} {'ours steps/s':>12s} {'torch steps/s':>13s} {'ratio':>6s} {'goal':>5s} "
          f"{'peak MB ours':>12s} {'peak MB torch':>13s}")
    for name, o, t, r, g, mo, mt in rows:
        flag = "" if r >= g else "  (below goal)"
        print(f"{name:22s} {o:12.1f} {t:13.1f} {r:6.2f} {g:5.1f} {mo:12.1f} {mt:13.1f}{flag}")


if __name__ == "__main__":
    main()

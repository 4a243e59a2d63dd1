#!/usr/bin/python3
"""Benchmark of `neurospectra ica` against the numpy/scikit-learn CanICA recipe.

The recipe (the peer): nibabel reading, GIFT mask, subject PCA through the
T x T covariance, concatenation, randomized SVD (sklearn), FastICA (sklearn,
logcosh, on the whitened components). neurospectra runs twice per order
and algorithm: with --group-only, which does the recipe's work (mask, subject
PCA, group PCA, ICA, and the group outputs: z-scored maps, model, stability)
and is the like-for-like comparison; and as its whole pipeline, which adds the
back-reconstruction and every subject's maps and timecourses, work the recipe
does not do.

Measured in one run on the same simulated 3-D data (neurospectra simulate
--shape 3d): wall and CPU time per stage, end-to-end ratio, peak memory
(peak RSS of each child process, from /usr/bin/time), peak memory when the subjects double,
accuracy (Hungarian-matched |r| of group maps vs the true maps), and how
close a pass over the data comes to the bare inflate time (libdeflate-gunzip
of every input with the same number of threads). The machines this runs on
are shared and their speed drifts by 20% within minutes, so each pipeline
runs --repeat times (default 3), interleaved with the others, and the run
with the least wall time is kept (peak memory: the largest of the runs).

OpenBLAS 0.3.21 does not recognise some recent CPUs and falls back to its
generic Prescott kernels (measured here: dgemm 5.9 GFLOP/s instead of 31
with SkylakeX kernels). numpy uses the same OpenBLAS, so --coretype (default
auto: SkylakeX with AVX-512, Haswell with AVX2) sets OPENBLAS_CORETYPE for
both sides alike; --coretype default leaves the library's choice.

The doubled-subject run reuses the inputs through symlinks under new subject
names (memory and time do not depend on the values).

usage: bench_ica.py --bin NEUROSPECTRA [--work DIR] [--subjects 20] [--orders 20,100]
                    [--shape 3d] [--nprocs 2] [--coretype auto|default|NAME] [--no-double]
                    [--repeat 3]
       bench_ica.py recipe BOLD... --k K --out OUT.npz   (the peer alone)
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np


# --------------------------------------------------------------- the peer
def recipe(args):
    import nibabel as nib
    from sklearn.decomposition import FastICA
    from sklearn.utils.extmath import randomized_svd
    t = {}
    t0 = time.perf_counter()
    mask = None
    for p in args.bold:  # GIFT mask: first volume >= its mean, AND
        v = np.asarray(nib.load(p).dataobj[..., 0], dtype=np.float32)
        m = v >= v.mean()
        mask = m if mask is None else mask & m
    flat = mask.ravel(order="F")
    t["mask"] = time.perf_counter() - t0
    k = args.k
    p1 = int(np.ceil(1.5 * k))
    t_read = t_pca = 0.0
    reduced = []
    for p in args.bold:
        a = time.perf_counter()
        img = nib.load(p)
        data = np.asarray(img.dataobj, dtype=np.float32)
        x = data.reshape(-1, data.shape[-1], order="F")[flat].T  # T x V
        del data
        b = time.perf_counter()
        x = x - x.mean(1, keepdims=True)
        tt = x.shape[0]
        q = min(p1, tt - 1)
        c = (x.astype(np.float64) @ x.T.astype(np.float64)) / (x.shape[1] - 1)
        ev, f = np.linalg.eigh(c)
        ev, f = ev[::-1][:q], f[:, ::-1][:, :q]
        reduced.append(((f / np.sqrt(ev)).T @ x).astype(np.float32))
        t_read += b - a
        t_pca += time.perf_counter() - b
    t["read"], t["subject_pca"] = t_read, t_pca
    a = time.perf_counter()
    y = np.concatenate(reduced, axis=0)
    del reduced
    t["concatenate"] = time.perf_counter() - a
    a = time.perf_counter()
    _, s, vt = randomized_svd(y, k, random_state=0)
    z = vt.astype(np.float64) * np.sqrt(y.shape[1] - 1)
    t["group_pca"] = time.perf_counter() - a
    a = time.perf_counter()
    for seed in args.seeds:  # the timed run has one seed; more only score the accuracy
        ica = FastICA(whiten=False, fun="logcosh", random_state=seed)  # 200 its, tol 1e-4
        src = ica.fit_transform(z.T).T
        out = args.out if len(args.seeds) == 1 else args.out.replace(".npz", f"_seed{seed}.npz")
        np.savez(out, maps=src.astype(np.float32), mask_indices=np.flatnonzero(flat))
    t["ica"] = time.perf_counter() - a
    print(json.dumps(t))


# ----------------------------------------------------------- measurement
def run(cmd, env=None):
    """Runs cmd; returns (wall s, cpu s, peak RSS MB, stdout, stderr).

    Peak memory comes from /usr/bin/time, which forks the command from its own
    small image: the ru_maxrss that wait4 gives for a child of this Python
    process would include this process's own RSS (numpy, nibabel, the maps
    scored so far), which a child inherits at fork and carries through exec.
    """
    with tempfile.TemporaryDirectory() as d:
        rss_path = os.path.join(d, "rss")
        with open(os.path.join(d, "out"), "w+") as fo, open(os.path.join(d, "err"), "w+") as fe:
            t0 = time.perf_counter()
            p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss_path] + cmd,
                                 stdout=fo, stderr=fe, env=env)
            _, status, ru = os.wait4(p.pid, 0)
            wall = time.perf_counter() - t0
            fo.seek(0), fe.seek(0)
            out, err = fo.read(), fe.read()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            sys.exit(f"failed ({code}): {' '.join(cmd)}\n{err[-2000:]}")
        rss_kb = float(open(rss_path).read().split()[-1])
    return wall, ru.ru_utime + ru.ru_stime, rss_kb / 1024.0, out, err


def simulate(ns, work, n, shape):
    d = f"{work}/sim_{shape}_{n}"
    if not os.path.exists(f"{d}/derivatives/simulation/truth.json"):
        print(f"simulating {n} subjects ({shape}) into {d} ...", file=sys.stderr)
        subprocess.run([ns, "simulate", d, "--subjects", str(n), "--shape", shape,
                        "--no-subject-maps", "--quiet"], check=True)
    return d


def bold_files(sim, n):
    files = sorted(glob.glob(f"{sim}/sub-*/func/sub-*_task-rest_bold.nii.gz"))
    return files[:n]


def inflate_floor(files, nprocs):
    """libdeflate-gunzip of every input, nprocs at a time: the floor of a pass."""
    cmd = ["sh", "-c", f"printf '%s\\n' \"$@\" | xargs -P {nprocs} -n 1 sh -c "
           "'libdeflate-gunzip -c \"$0\" > /dev/null'", "sh"] + files
    wall, cpu, _, _, _ = run(cmd)
    return wall, cpu


def matched_r(truth_path, maps, idx):
    """Hungarian-matched |r| of each true map with maps (K x V on idx); NaN
    for the true maps left unmatched when K is below their number."""
    import nibabel as nib
    from scipy.optimize import linear_sum_assignment
    tr = np.asarray(nib.load(truth_path).dataobj, dtype=np.float64)
    tr = tr.reshape(-1, tr.shape[-1], order="F")[idx].T

    def norm(a):
        a = a - a.mean(1, keepdims=True)
        return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-30)
    r = np.abs(norm(tr) @ norm(maps.astype(np.float64)).T)
    ri, ci = linear_sum_assignment(1 - r)
    out = np.full(tr.shape[0], np.nan)
    out[ri] = r[ri, ci]
    return out


def score(truth_path, maps, idx):
    """Mean and min Hungarian-matched |r| of maps (K x V on idx) vs truth over
    the matched pairs, the number matched with |r| >= 0.5, and each true
    map's |r| (NaN: unmatched)."""
    r = matched_r(truth_path, maps, idx)
    m = r[~np.isnan(r)]
    return m.mean(), m.min(), int((m >= 0.5).sum()), r


def ours_maps(out, k):
    import nibabel as nib
    m = np.asarray(nib.load(f"{out}/group/desc-brain_mask.nii.gz").dataobj).ravel(order="F") > 0
    idx = np.flatnonzero(m)
    d = np.asarray(nib.load(f"{out}/group/desc-ica{k}_components.nii.gz").dataobj)
    return d.reshape(-1, d.shape[-1], order="F")[idx].T, idx


def stage_times(log):
    """[mask, pass1, group, pass2] wall and cpu seconds from the timing line."""
    m = re.search(r"ica timing: mask ([\d.]+) s, pass1 ([\d.]+) s, group PCA\+ICA\+outputs "
                  r"([\d.]+) s, pass2 ([\d.]+) s, total [\d.]+ s; cpu ([\d.]+) / ([\d.]+) / "
                  r"([\d.]+) / ([\d.]+) s", log)
    v = [float(x) for x in m.groups()] if m else [float("nan")] * 8
    return {"wall": v[:4], "cpu": v[4:]}


def coretype(choice):
    if choice != "auto":
        return None if choice == "default" else choice
    flags = open("/proc/cpuinfo").read()
    return "SkylakeX" if " avx512f" in flags else "Haswell" if " avx2" in flags else None


def doubled(work, files):
    """2N subjects: the N inputs again under new names (symlinks)."""
    d = f"{work}/double_{2 * len(files)}"
    out = []
    for i in range(2 * len(files)):
        src = files[i % len(files)]
        sub = f"sub-{i + 1:02d}"
        p = f"{d}/{sub}/func/{sub}_task-rest_bold.nii.gz"
        os.makedirs(os.path.dirname(p), exist_ok=True)
        for a, b in ((src, p), (src[:-7] + ".json", p[:-7] + ".json")):
            if not os.path.lexists(b):
                os.symlink(os.path.abspath(a), b)
        out.append(p)
    return out


def ours(ns, files, out, orders, alg, nprocs, env, group_only=False, seed=0):
    cmd = [ns, "ica", "-o", out, "--orders", orders, "--algorithm", alg, "--seed", str(seed),
           "--nprocs", str(nprocs)] + (["--group-only"] if group_only else []) + files
    wall, cpu, rss, _, err = run(cmd, env)
    return wall, cpu, rss, stage_times(err)


def peer(files, k, out, env, seeds="0"):
    w, c, r, txt, _ = run([sys.executable, __file__, "recipe"] + files +
                          ["--k", str(k), "--out", out, "--seeds", seeds], env=env)
    return w, c, r, json.loads(txt.strip().splitlines()[-1])


def seed_accuracy(a, files, truth, k, env):
    """Group-map accuracy of FastICA over seeds 0..n-1, ours (--group-only) and
    the recipe's (one process: its PCA once, FastICA per seed). At high orders
    whether a diffuse source is found depends on the initialisation, for both,
    so one seed cannot rank the two."""
    seeds = list(range(a.seeds))
    acc = {"ours": [], "recipe": []}
    for s in seeds:
        out = f"{a.work}/acc_{k}_seed{s}"
        ours(a.bin, files, out, str(k), "fastica", a.nprocs, env, True, s)
        acc["ours"].append(score(truth, *ours_maps(out, k)))
    base = f"{a.work}/recipe_acc_{k}.npz"
    peer(files, k, base, env, ",".join(map(str, seeds)))
    for s in seeds:
        z = np.load(base if len(seeds) == 1 else base.replace(".npz", f"_seed{s}.npz"))
        acc["recipe"].append(score(truth, z["maps"], z["mask_indices"]))
    return acc


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "recipe":
        ap = argparse.ArgumentParser()
        ap.add_argument("cmd")
        ap.add_argument("bold", nargs="+")
        ap.add_argument("--k", type=int, required=True)
        ap.add_argument("--out", required=True)
        ap.add_argument("--seeds", type=lambda v: [int(x) for x in v.split(",")], default=[0])
        return recipe(ap.parse_args())
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", default="/tmp/ns_bench_ica")
    ap.add_argument("--subjects", type=int, default=20)
    ap.add_argument("--orders", default="20,100")
    ap.add_argument("--shape", default="3d")
    ap.add_argument("--nprocs", type=int, default=2)
    ap.add_argument("--coretype", default="auto")
    ap.add_argument("--no-double", action="store_true")
    ap.add_argument("--seeds", type=int, default=20,
                    help="FastICA seeds whose group-map accuracy is compared (0 = skip)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each pipeline per order, interleaved; the best wall time is kept")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    sim = simulate(a.bin, a.work, a.subjects, a.shape)
    files = bold_files(sim, a.subjects)
    truth = f"{sim}/derivatives/simulation/group/desc-true_components.nii.gz"
    orders = [int(k) for k in a.orders.split(",")]
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(a.nprocs), OMP_NUM_THREADS=str(a.nprocs))
    a.core = coretype(a.coretype)
    if a.core:
        env["OPENBLAS_CORETYPE"] = a.core

    fl_wall, fl_cpu = min(inflate_floor(files, a.nprocs) for _ in range(a.repeat))
    rows = []
    for k in orders:
        res = {"K": k}
        for _ in range(a.repeat):  # interleaved, the best (least wall) of each kept
            for alg in OURS:
                out = f"{a.work}/out_{alg}_{k}"
                w, c, r, st = ours(a.bin, files, out, str(k), alg.split("-")[0], a.nprocs, env,
                                   alg.endswith("-group"))
                mm, mn = score(truth, *ours_maps(out, k))[:2]
                keep_best(res, alg, dict(wall=w, cpu=c, rss=r, stages=st, acc=mm, accmin=mn))
            w, c, r, st = peer(files, k, f"{a.work}/recipe_{k}.npz", env)
            z = np.load(f"{a.work}/recipe_{k}.npz")
            mm, mn = score(truth, z["maps"], z["mask_indices"])[:2]
            keep_best(res, "recipe", dict(wall=w, cpu=c, rss=r, stages=st, acc=mm, accmin=mn))
        if a.seeds > 0:
            res["seeds"] = seed_accuracy(a, files, truth, k, env)
        rows.append(res)
    multi = ours(a.bin, files, f"{a.work}/out_multi", a.orders, "fastica", a.nprocs, env)
    double = None
    if not a.no_double:
        f2 = doubled(a.work, files)
        double = (ours(a.bin, f2, f"{a.work}/out_double", str(orders[0]), "fastica", a.nprocs, env),
                  peer(f2, orders[0], f"{a.work}/recipe_double.npz", env))
    report(a, files, fl_wall, fl_cpu, rows, multi, double)


# Our runs: the recipe's work (group maps only: --group-only), and the whole
# pipeline with back-reconstruction and every subject output (FastICA and
# Infomax).
OURS = ("fastica-group", "fastica", "infomax")
NAMES = {"fastica-group": "neurospectra fastica --group-only", "fastica": "neurospectra fastica",
         "infomax": "neurospectra infomax", "recipe": "recipe (sklearn)"}


def keep_best(res, name, run):
    """Keeps the run with the least wall time; peak memory is the largest seen."""
    old = res.get(name)
    if old is not None:
        run_best = run if run["wall"] < old["wall"] else dict(old)
        run_best["rss"] = max(old["rss"], run["rss"])
        run = run_best
    res[name] = run


def report(a, files, fl_wall, fl_cpu, rows, multi, double):
    import nibabel as nib
    m = nib.load(f"{a.work}/out_fastica_{rows[0]['K']}/group/desc-brain_mask.nii.gz")
    nvox = int(np.asarray(m.dataobj).sum())
    t = nib.load(files[0]).shape[-1]
    print(f"\nneurospectra ica vs numpy/sklearn CanICA recipe: {len(files)} subjects, "
          f"{a.shape} grid, {nvox} in-mask voxels, {t} TRs, {a.nprocs} threads, "
          f"OPENBLAS_CORETYPE={a.core or '(library default)'}; wall and cpu in s, "
          f"memory = peak RSS in MB; --group-only stops at the group maps as the recipe "
          f"does, the other neurospectra rows add back-reconstruction and every subject "
          f"output\n")
    print("| K | pipeline | wall | cpu | peak MB | maps mean r (min) | speed-up (wall) | (cpu) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        rec = r["recipe"]
        for key in OURS + ("recipe",):
            x, name = r[key], NAMES[key]
            print(f"| {r['K']} | {name} | {x['wall']:.1f} | {x['cpu']:.1f} | {x['rss']:.0f} | "
                  f"{x['acc']:.3f} ({x['accmin']:.3f}) | {rec['wall'] / x['wall']:.2f}x | "
                  f"{rec['cpu'] / x['cpu']:.2f}x |")
    if all("seeds" in r for r in rows):
        print(f"\ngroup-map accuracy over FastICA seeds 0-{a.seeds - 1} (matched |r| with the true "
              "maps; ours --group-only): the mean over the seeds, each seed's mean r, and the "
              "true maps found (r >= 0.5) per seed\n")
        print("| K | pipeline | mean r | mean r per seed | maps found per seed |")
        print("|---|---|---|---|---|")
        for r in rows:
            for key in ("ours", "recipe"):
                v = r["seeds"][key]
                name = NAMES["fastica-group" if key == "ours" else "recipe"]
                print(f"| {r['K']} | {name} | {np.mean([x[0] for x in v]):.4f} | "
                      + " ".join(f"{x[0]:.3f}" for x in v) + " | "
                      + " ".join(str(x[2]) for x in v) + " |")
        print("\nthe true maps that every seed of both finds (r >= 0.5), and the others "
              "(found by some seeds only: the seed decides):")
        for r in rows:
            ours, rec = (np.array([x[3] for x in r["seeds"][k]]) for k in ("ours", "recipe"))
            every = (np.nan_to_num(ours) >= 0.5).all(0) & (np.nan_to_num(rec) >= 0.5).all(0)
            line = (f"  K={r['K']}: {every.sum()} maps found by every seed, mean r ours "
                    f"{ours[:, every].mean():.4f}, recipe {rec[:, every].mean():.4f}")
            fo, fr = ((np.nan_to_num(x) >= 0.5).sum(0) for x in (ours, rec))
            for j in np.flatnonzero(~every & ((fo > 0) | (fr > 0))):
                line += f"; true map {j + 1} found by {fo[j]} / {fr[j]} of {len(ours)} seeds"
            none = int(((fo == 0) & (fr == 0)).sum())
            print(line + (f"; {none} found by no seed of either" if none else ""))
    print("\nstages, wall (cpu) s: neurospectra = mask / pass 1 (read, subject PCA, MIGP, power iteration, Rayleigh-Ritz pass) / "
          "group PCA + ICA + group outputs / pass 2 (back-reconstruction, subject outputs)")
    for r in rows:
        for key in OURS:
            s = r[key]["stages"]
            print(f"  K={r['K']} {key}: " + " / ".join(
                f"{w:.2f} ({c:.2f})" for w, c in zip(s["wall"], s["cpu"])))
        s = r["recipe"]["stages"]
        print(f"  K={r['K']} recipe: " + ", ".join(f"{k} {v:.2f}" for k, v in s.items()))
    print(f"\nbare inflate of the {len(files)} inputs ({a.nprocs} parallel libdeflate-gunzip): "
          f"{fl_wall:.2f} s wall, {fl_cpu:.2f} s cpu; recipe / floor: "
          + ", ".join(f"{r['recipe']['wall'] / fl_wall:.2f}x (K={r['K']})" for r in rows))
    for r in rows:
        g = r["fastica-group"]
        p1 = g["stages"]
        print(f"  K={r['K']} --group-only: pass 1 {p1['wall'][1]:.2f} s wall "
              f"({p1['wall'][1] / fl_wall:.2f}x the floor), {p1['cpu'][1]:.2f} s cpu "
              f"({p1['cpu'][1] / fl_cpu:.2f}x); whole run {g['wall'] / fl_wall:.2f}x the floor")
    w, c, rss, st = multi
    sep = sum(r["fastica"]["wall"] for r in rows)
    sepc = sum(r["fastica"]["cpu"] for r in rows)
    print(f"orders {a.orders} in one invocation (fastica): {w:.1f} s wall / {c:.1f} s cpu vs "
          f"{sep:.1f} / {sepc:.1f} s for separate runs, peak {rss:.0f} MB")
    if double:
        (w2, c2, rss2, _), (pw, pc, prss, _) = double
        base, rec = rows[0]["fastica"], rows[0]["recipe"]
        print(f"subjects doubled ({len(files)} -> {2 * len(files)}, K={rows[0]['K']}): "
              f"neurospectra peak {base['rss']:.0f} -> {rss2:.0f} MB ({rss2 / base['rss']:.2f}x), "
              f"cpu {base['cpu']:.1f} -> {c2:.1f} s; recipe peak {rec['rss']:.0f} -> {prss:.0f} MB "
              f"({prss / rec['rss']:.2f}x), cpu {rec['cpu']:.1f} -> {pc:.1f} s")


if __name__ == "__main__":
    sys.exit(main())

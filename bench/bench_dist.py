#!/usr/bin/env python3
"""Distributed training, accuracy against bytes per step (bench_dist.sh).

Data: the simulator (150 subjects, HC/MDD/BD in thirds, 3 sites), group ICA
at order 30, FNC. Two tasks, 3 sites = 3 MPI ranks, 5-fold CV of diagnosis:
  fnc       an MLP on the 435 FNC edges
  gru       a GRU over every subject's 30 ICA timecourses (150 steps): at chance
            (the planted effect is a coupling between sources, which a small GRU
            does not find in 150 noisy steps from 120 training subjects)
  gru-dfnc  a GRU over a timecourse summary: sliding-window FNC (windows of 30
            TRs every 15 TRs -> 9 steps x 435 Fisher-z correlations per subject),
            the dynamic-FNC view of the same timecourses: learns above chance
Every method and rank trains the same model from the same seed; the table
gives the pooled out-of-fold accuracy, the bytes a rank sends per step
(bytes_sent / steps, full-mesh count, dist_bandwidth_summary.tsv) and the
reduction against dsgd measured in the same run. Writes dist_bench.tsv and
dist_bench.svg into the bench directory."""
import argparse, csv, math, os, subprocess, sys, time

METHODS = ["dsgd", "dad", "edad", "rankdad:1", "rankdad:2", "rankdad:4", "rankdad:8",
           "rankdad:2:twoway", "powersgd:1", "powersgd:2", "powersgd:4"]
TASKS = {
    "fnc": {"features": ["ica/group/desc-fnc_features.tsv"],
            "train": ["--model", "mlp:256", "--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9",
                      "--weight-decay", "0.01", "--epochs", "50", "--batch", "32"]},
    "gru": {"features": ["ica", "--match", "desc-ica30"],
            "train": ["--model", "gru:32", "--optimizer", "adam", "--lr", "0.01", "--epochs", "20",
                      "--batch", "32"]},
    "gru-dfnc": {"features": ["dfnc_seq.npy", "--ids", "dfnc_ids.txt"],
                 "train": ["--model", "gru:32", "--optimizer", "adam", "--lr", "0.005",
                           "--weight-decay", "0.01", "--epochs", "30", "--batch", "32"]},
}
WINDOW, STEP = 30, 15


def window_fnc(d):
    """Every subject's 30 ICA timecourses -> a sequence of windowed FNC
    (upper triangle, Fisher z) into dfnc_seq.npy (N x windows x 435) and
    dfnc_ids.txt; kept between runs."""
    import glob
    import numpy as np
    if os.path.exists(os.path.join(d, "dfnc_ids.txt")):
        return
    seqs, ids = [], []
    for f in sorted(glob.glob(d + "/ica/sub-*/func/*desc-ica30_timeseries.tsv")):
        x = np.loadtxt(f, skiprows=1)
        iu = np.triu_indices(x.shape[1], 1)
        w = [np.arctanh(np.clip(np.corrcoef(x[s:s + WINDOW].T)[iu], -0.999, 0.999))
             for s in range(0, x.shape[0] - WINDOW + 1, STEP)]
        seqs.append(np.array(w, dtype=np.float32))
        ids.append(os.path.basename(f).split("_")[0])
    np.save(os.path.join(d, "dfnc_seq.npy"), np.stack(seqs))
    open(os.path.join(d, "dfnc_ids.txt"), "w").write("\n".join(ids) + "\n")


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode:
        sys.exit("failed (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stderr[-2000:]))
    return r


def prepare(ns_bin, d):
    """Simulated BIDS data -> group ICA (order 30) -> FNC; kept between runs."""
    if os.path.exists(os.path.join(d, "ica/group/desc-fnc_features.tsv")):
        return
    t = time.time()
    run([ns_bin, "simulate", d + "/bids", "--subjects", "150", "--sites", "3", "--seed", "1",
         "--uncompressed", "--no-subject-maps", "-q"])
    run([ns_bin, "ica", "-o", d + "/ica", "--bids", d + "/bids", "--orders", "30", "--seed", "1",
         "--nprocs", "2", "-q"])
    run([ns_bin, "fnc", d + "/ica"])
    print("data: simulate + ica + fnc in %.0f s" % (time.time() - t))


def pooled(out, name):
    for r in csv.DictReader(open(out + "/metrics.tsv"), delimiter="\t"):
        if list(r.values())[0] == "pooled":
            return float(r[name])
    sys.exit("no pooled row in %s/metrics.tsv" % out)


def bytes_per_step(out):
    rows = {r["rank"]: r for r in csv.DictReader(open(out + "/dist_bandwidth_summary.tsv"),
                                                  delimiter="\t")}
    ranks = [k for k in rows if k != "all"]
    sent = sum(float(rows[k]["bytes_sent_per_step"]) for k in ranks) / len(ranks)
    return sent, float(rows["all"]["mpi_seconds"]) / len(ranks), int(rows["all"]["steps"])


def bench_task(ns_bin, d, task, mpirun, np_):
    res = []
    for m in METHODS:
        out = os.path.join(d, "out", task + "-" + m.replace(":", "_"))
        cmd = mpirun + ["-np", str(np_), ns_bin, "train"] + TASKS[task]["features"] + [
            "--labels", d + "/bids/participants.tsv", "--target", "diagnosis", "--folds", "5",
            "--seed", "1", "--dist", m, "--site-column", "site", "--dist-spectra", "0",
            "-o", out, "-q"] + TASKS[task]["train"]
        t = time.time()
        run(cmd, cwd=d)
        wall = time.time() - t
        b, mpi, steps = bytes_per_step(out)
        res.append({"task": task, "method": m, "accuracy": pooled(out, "accuracy"),
                    "balanced_accuracy": pooled(out, "balanced_accuracy"), "bytes_per_step": b,
                    "steps": steps, "mpi_seconds": mpi, "wall_seconds": wall})
        print("  %s %-18s acc %.3f  %10.0f B/step  %5.1f s" % (task, m, res[-1]["accuracy"], b, wall),
              file=sys.stderr)
    base = [r for r in res if r["method"] == "dsgd"][0]
    for r in res:
        r["fewer_than_dsgd"] = base["bytes_per_step"] / r["bytes_per_step"]
        r["acc_minus_dsgd"] = r["accuracy"] - base["accuracy"]
    return res


def svg(results, path):
    """Accuracy against bytes per step (log x), one panel per task."""
    W, H, pad = 460, 340, 55
    colors = {"dsgd": "#000", "dad": "#d62728", "edad": "#ff7f0e", "rankdad": "#1f77b4",
              "powersgd": "#2ca02c"}
    tasks = sorted({r["task"] for r in results})
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif"'
             ' font-size="11">' % (W * len(tasks), H + 30)]
    for p, task in enumerate(tasks):
        rs = [r for r in results if r["task"] == task]
        lx = [math.log10(r["bytes_per_step"]) for r in rs]
        ys = [r["accuracy"] for r in rs]
        x0, x1 = math.floor(min(lx)), math.ceil(max(lx))
        y0, y1 = max(0, min(ys) - 0.05), min(1, max(ys) + 0.05)
        X = lambda v: p * W + pad + (v - x0) / (x1 - x0 or 1) * (W - 2 * pad)
        Y = lambda v: H - pad + 20 - (v - y0) / (y1 - y0 or 1) * (H - 2 * pad)
        parts.append('<text x="%d" y="16" font-size="13">%s: accuracy vs bytes sent per step per '
                     'rank</text>' % (p * W + pad, task))
        parts.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#888"/>' % (X(x0), Y(y0), X(x1), Y(y0)))
        parts.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#888"/>' % (X(x0), Y(y0), X(x0), Y(y1)))
        for e in range(x0, x1 + 1):
            parts.append('<text x="%g" y="%g" text-anchor="middle">1e%d</text>' % (X(e), Y(y0) + 15, e))
        for k in range(5):
            v = y0 + k * (y1 - y0) / 4
            parts.append('<text x="%g" y="%g" text-anchor="end">%.2f</text>' % (X(x0) - 4, Y(v) + 4, v))
        parts.append('<text x="%g" y="%g" text-anchor="middle">bytes per step (log)</text>'
                     % ((X(x0) + X(x1)) / 2, Y(y0) + 30))
        for r, x, y in zip(rs, lx, ys):
            c = colors[r["method"].split(":")[0]]
            parts.append('<circle cx="%g" cy="%g" r="4" fill="%s"/>' % (X(x), Y(y), c))
            parts.append('<text x="%g" y="%g" fill="%s">%s</text>' % (X(x) + 6, Y(y) - 4, c, r["method"]))
    parts.append("</svg>")
    open(path, "w").write("\n".join(parts) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("NS_BIN", "build/cli/neurospectra"))
    ap.add_argument("--dir", default=os.path.join(os.environ.get("NS_BENCH_TMP", "/tmp"), "dist"))
    ap.add_argument("--tasks", default="fnc,gru,gru-dfnc")
    a = ap.parse_args()
    ns_bin = os.path.abspath(a.bin)
    os.makedirs(a.dir, exist_ok=True)
    prepare(ns_bin, a.dir)
    window_fnc(a.dir)
    mpirun = ["mpirun", "--allow-run-as-root", "--oversubscribe"]
    results = []
    for task in a.tasks.split(","):
        results += bench_task(ns_bin, a.dir, task, mpirun, 3)
    keys = ["task", "method", "accuracy", "balanced_accuracy", "bytes_per_step", "fewer_than_dsgd",
            "acc_minus_dsgd", "steps", "mpi_seconds", "wall_seconds"]
    with open(os.path.join(a.dir, "dist_bench.tsv"), "w") as f:
        f.write("\t".join(keys) + "\n")
        for r in results:
            f.write("\t".join(("%.6g" % r[k]) if isinstance(r[k], float) else str(r[k]) for k in keys) + "\n")
    svg(results, os.path.join(a.dir, "dist_bench.svg"))
    print("| task | method | accuracy | bal. acc. | bytes/step/rank | x fewer than dsgd | acc - dsgd | MPI s/rank |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print("| %s | %s | %.3f | %.3f | %.0f | %.1f | %+.3f | %.2f |" % (
            r["task"], r["method"], r["accuracy"], r["balanced_accuracy"], r["bytes_per_step"],
            r["fewer_than_dsgd"], r["acc_minus_dsgd"], r["mpi_seconds"]))
    for task in sorted({r["task"] for r in results}):
        ok = [r["method"] for r in results if r["task"] == task and r["method"].startswith("rankdad")
              and r["fewer_than_dsgd"] >= 50 and r["acc_minus_dsgd"] >= -0.01]
        print("goal (%s): rank-dAD >= 50x fewer bytes than dsgd within 1 point: %s"
              % (task, ", ".join(ok) if ok else "not met"))
    print("table: %s/dist_bench.tsv, plot: %s/dist_bench.svg" % (a.dir, a.dir))


if __name__ == "__main__":
    main()

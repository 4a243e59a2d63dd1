# requires: fnc
"""The fnc filter against scipy.signal: butter coefficients and filtfilt (default
odd padding, lfilter_zi) on random signals within 1e-6, through the hidden
`neurospectra fnc --filter-only IN OUT --tr S --coefficients`; and the whole
post-processing chain (`--postproc-only`) against numpy/scipy."""
import json
import os
import subprocess
import sys

import numpy as np
from scipy import signal

NS_BIN = os.environ["NS_BIN"]
TMP = os.environ.get("NS_TMP", "/tmp/ns_test_fnc_scipy")
os.makedirs(TMP, exist_ok=True)
rng = np.random.default_rng(2024)
failures = 0


def write(path, x):
    hdr = "\t".join("c%d" % i for i in range(x.shape[1]))
    np.savetxt(path, x, delimiter="\t", header=hdr, comments="", fmt="%.17g")


def run(mode, x, tr, extra=()):
    inp, out = os.path.join(TMP, "in.tsv"), os.path.join(TMP, "out.tsv")
    write(inp, x)
    p = subprocess.run([NS_BIN, "fnc", mode, inp, out, "--tr", repr(tr), "--coefficients", *extra],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("neurospectra failed: %s" % p.stderr)
    return json.loads(p.stdout), np.loadtxt(out, skiprows=1, ndmin=2)


def check(name, ok, detail):
    global failures
    print("%-52s %s  %s" % (name, "ok  " if ok else "FAIL", detail))
    failures += not ok


# butter + filtfilt on random signals: TRs, orders, lengths (incl. T = padlen + 1)
cases = [(2.0, 5, 150, 4), (0.72, 5, 1200, 3), (1.0, 5, 19, 2), (3.0, 5, 200, 2),
         (0.5, 3, 300, 2), (1.5, 8, 400, 2), (0.1, 5, 2000, 1)]
for tr, order, T, K in cases:
    x = np.cumsum(rng.standard_normal((T, K)), axis=0) + rng.standard_normal((T, K)) * 3
    wn = 0.15 / (0.5 / tr)
    coef, y = run("--filter-only", x, tr, ["--filter-order", str(order)])
    b, a = signal.butter(order, wn)
    eb = np.max(np.abs(np.array(coef["b"]) - b) / np.abs(b).max())
    ea = np.max(np.abs(np.array(coef["a"]) - a))
    check("butter(%d, %.4f) coefficients" % (order, wn), eb < 1e-10 and ea < 1e-10,
          "rel |db| %.1e, |da| %.1e" % (eb, ea))
    ref = signal.filtfilt(b, a, x, axis=0)
    err = np.max(np.abs(y - ref)) / max(1.0, np.abs(ref).max())
    check("filtfilt TR %.2f order %d T %d" % (tr, order, T), err < 1e-6, "max rel err %.1e" % err)

# the whole chain: 6-regressor detrend, despike (3-point rule), low-pass
def chain(x, tr, span=3, lp=0.15):
    T = x.shape[0]
    t = np.arange(T)
    X = [np.ones(T), t - t.mean()]
    for c in (1, 2):
        for fn in (np.sin, np.cos):
            v = fn(2 * np.pi * c * t / T)
            X.append(v - v.mean())
    X = np.array(X).T
    y = x - X @ np.linalg.lstsq(X, x, rcond=None)[0]
    s = y.copy()
    h = span // 2
    for i in range(T):
        hh = min(h, i, T - 1 - i)
        s[i] = y[i - hh:i + hh + 1].mean(0)
    r = np.abs(y - s)
    y = np.where(r > 2.5 * r.std(0, ddof=1), s, y)
    if lp / (0.5 / tr) < 1:
        b, a = signal.butter(5, lp / (0.5 / tr))
        y = signal.filtfilt(b, a, y, axis=0)
    return y


for tr, T, span in [(2.0, 150, 3), (0.8, 400, 3), (2.0, 120, 5), (4.0, 100, 3)]:
    x = rng.standard_normal((T, 5)).cumsum(0) * 0.3 + rng.standard_normal((T, 5))
    x[T // 3, 1] += 15  # a spike
    extra = ["--despike-span", str(span)]
    _, y = run("--postproc-only", x, tr, extra)
    ref = chain(x, tr, span)
    err = np.max(np.abs(y - ref)) / max(1.0, np.abs(ref).max())
    check("chain TR %.1f T %d span %d%s" % (tr, T, span, " (no low-pass: > Nyquist)" if tr >= 10 / 3 else ""),
          err < 1e-6, "max rel err %.1e" % err)

# T <= padlen is refused with a message
short = os.path.join(TMP, "short.tsv")
write(short, rng.standard_normal((18, 2)))
p = subprocess.run([NS_BIN, "fnc", "--filter-only", short, os.path.join(TMP, "o.tsv"), "--tr", "2"],
                   capture_output=True, text=True)
check("T = 18 refused (padlen 18)", p.returncode == 1 and "too few" in p.stderr, p.stderr.strip())

sys.exit(1 if failures else 0)

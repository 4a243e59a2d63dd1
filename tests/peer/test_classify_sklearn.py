# Conformance of the classical classifiers with scikit-learn on the same data:
# logistic regression coefficients (L2 binary and multinomial, L1) and SVM
# decision values (linear, RBF, precomputed; binary and one-vs-one multiclass)
# within 1e-3 relative, and the CV metrics recomputed by sklearn from our
# out-of-fold predictions.
# requires: models
import csv
import os
import subprocess
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, f1_score,
                             roc_auc_score)
from sklearn.svm import SVC

BIN = os.environ["NS_BIN"]
TMP = os.environ.get("NS_TMP", "/tmp/ns_peer_classify")
os.makedirs(TMP, exist_ok=True)
failures = []


def check(name, ok, detail):
    print(("ok   " if ok else "FAIL ") + name + ": " + detail)
    if not ok:
        failures.append(name)


def write_data(tag, X, y, names):
    feat = os.path.join(TMP, tag + "_features.tsv")
    lab = os.path.join(TMP, tag + "_participants.tsv")
    with open(feat, "w") as f:
        f.write("participant_id\t" + "\t".join("f%d" % j for j in range(X.shape[1])) + "\n")
        for i, row in enumerate(X):
            f.write("sub-%03d\t" % i + "\t".join(repr(float(v)) for v in row) + "\n")
    with open(lab, "w") as f:
        f.write("participant_id\tgroup\n")
        for i, c in enumerate(y):
            f.write("sub-%03d\t%s\n" % (i, names[c]))
    return feat, lab


def train(tag, feat, lab, model, extra=()):
    out = os.path.join(TMP, "%s_%s" % (tag, model))
    cmd = [BIN, "train", feat, "--labels", lab, "--target", "group", "--model", model,
           "-o", out, "-q"] + list(extra)
    subprocess.run(cmd, check=True)
    return out


def read_tsv(path):
    with open(path) as f:
        rows = list(csv.reader(f, delimiter="\t"))
    return rows[0], rows[1:]


def decisions(out):
    hdr, rows = read_tsv(os.path.join(out, "predict.tsv"))
    cols = [j for j, h in enumerate(hdr) if h.startswith("decision")]
    return np.array([[float(r[j]) for j in cols] for r in rows]).squeeze()


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(b)), 1e-12))


def make(seed, n, p, k):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    if k == 2:
        w = rng.normal(size=p)
        y = (X @ w + 0.8 * rng.normal(size=n) > 0).astype(int)
    else:
        y = np.argmax(X[:, :k] + 0.7 * rng.normal(size=(n, k)), axis=1)
    return X, y


FIT1 = ["--folds", "1", "--no-standardize"]

# --- logistic regression --------------------------------------------------
for k in (2, 3):
    X, y = make(10 + k, 120, 6, k)
    names = ["c%d" % c for c in range(k)]
    feat, lab = write_data("lr%d" % k, X, y, names)
    for C in (0.1, 1.0, 10.0):
        out = train("lr%d_C%g" % (k, C), feat, lab, "logreg", FIT1 + ["--C", str(C), "--predict", feat])
        z = np.load(os.path.join(out, "model.npz"))
        sk = LogisticRegression(C=C, tol=1e-10, max_iter=100000).fit(X, y)
        check("logreg-l2 k=%d C=%g coef" % (k, C), rel(z["coef"], sk.coef_) < 1e-3,
              "rel %.2e" % rel(z["coef"], sk.coef_))
        check("logreg-l2 k=%d C=%g intercept" % (k, C),
              rel(z["intercept"], sk.intercept_) < 1e-3, "rel %.2e" % rel(z["intercept"], sk.intercept_))
        d = decisions(out)
        check("logreg-l2 k=%d C=%g decision" % (k, C), rel(d, sk.decision_function(X)) < 1e-3,
              "rel %.2e" % rel(d, sk.decision_function(X)))

X, y = make(20, 150, 8, 2)
feat, lab = write_data("l1", X, y, ["a", "b"])
for C in (0.05, 0.5, 5.0):
    out = train("l1_C%g" % C, feat, lab, "logreg-l1", FIT1 + ["--C", str(C)])
    z = np.load(os.path.join(out, "model.npz"))
    sk = LogisticRegression(C=C, penalty="l1", solver="saga", tol=1e-12, max_iter=200000).fit(X, y)
    full = np.concatenate([z["coef"].ravel(), z["intercept"]])
    ref = np.concatenate([sk.coef_.ravel(), sk.intercept_])
    check("logreg-l1 C=%g coef+intercept" % C, rel(full, ref) < 1e-3, "rel %.2e" % rel(full, ref))
    check("logreg-l1 C=%g zero pattern" % C,
          np.array_equal(np.abs(z["coef"]) > 1e-8, np.abs(sk.coef_) > 1e-6),
          "%d zeros" % int(np.sum(np.abs(z["coef"]) <= 1e-8)))

# --- SVM -------------------------------------------------------------------
for k in (2, 3):
    X, y = make(30 + k, 100, 5, k)
    feat, lab = write_data("svm%d" % k, X, y, ["g%d" % c for c in range(k)])
    for kern in ("linear", "rbf"):
        for C in (0.1, 1.0, 10.0):
            out = train("svm%d_%s_C%g" % (k, kern, C), feat, lab, "svm-" + kern,
                        FIT1 + ["--C", str(C), "--tol", "1e-6", "--predict", feat])
            sk = SVC(kernel=kern, C=C, tol=1e-8).fit(X, y)
            d, ref = decisions(out), sk.decision_function(X)
            check("svm-%s k=%d C=%g decision" % (kern, k, C), rel(d, ref) < 1e-3, "rel %.2e" % rel(d, ref))
            if k == 2:
                z = np.load(os.path.join(out, "model.npz"))
                check("svm-%s C=%g support" % (kern, C),
                      np.array_equal(np.sort(z["support"]), np.sort(sk.support_)),
                      "%d vs %d support vectors" % (len(z["support"]), len(sk.support_)))

# precomputed kernel: a polynomial kernel written as a participant x participant table
X, y = make(40, 60, 4, 2)
K = (1 + X @ X.T / 4) ** 2
kfile = os.path.join(TMP, "kernel.tsv")
with open(kfile, "w") as f:
    f.write("participant_id\t" + "\t".join("sub-%03d" % j for j in range(len(X))) + "\n")
    for i in range(len(X)):
        f.write("sub-%03d\t" % i + "\t".join(repr(float(v)) for v in K[i]) + "\n")
_, lab = write_data("pre", X, y, ["a", "b"])
out = train("pre", kfile, lab, "svm-precomputed", ["--folds", "1", "--tol", "1e-6", "--predict", kfile])
sk = SVC(kernel="precomputed", C=1.0, tol=1e-8).fit(K, y)
d, ref = decisions(out), sk.decision_function(K)
check("svm-precomputed decision", rel(d, ref) < 1e-3, "rel %.2e" % rel(d, ref))

# --- metrics of a CV run, recomputed by sklearn ----------------------------
for k in (2, 3):
    X, y = make(50 + k, 90, 6, k)
    names = ["m%d" % c for c in range(k)]
    feat, lab = write_data("cv%d" % k, X, y, names)
    out = train("cv%d" % k, feat, lab, "logreg", ["--folds", "5", "--seed", "3"])
    hdr, rows = read_tsv(os.path.join(out, "predictions.tsv"))
    yt = np.array([names.index(r[2]) for r in rows])
    yp = np.array([names.index(r[3]) for r in rows])
    pr = np.array([[float(v) for v in r[4:4 + k]] for r in rows])
    mh, mrows = read_tsv(os.path.join(out, "metrics.tsv"))
    pooled = dict(zip(mh, [r for r in mrows if r[0] == "pooled"][0]))
    auc = roc_auc_score(yt, pr[:, 1]) if k == 2 else roc_auc_score(yt, pr, multi_class="ovr")
    f1 = f1_score(yt, yp) if k == 2 else f1_score(yt, yp, average="macro")
    for name, ref in (("accuracy", accuracy_score(yt, yp)),
                      ("balanced_accuracy", balanced_accuracy_score(yt, yp)),
                      ("auc", auc), ("f1", f1)):
        check("cv k=%d %s" % (k, name), abs(float(pooled[name]) - ref) < 1e-5,
              "%s vs sklearn %.6f" % (pooled[name], ref))
    folds = [r[1] for r in rows]
    check("cv k=%d folds" % k, sorted(set(folds)) == [str(f) for f in range(5)], "fold labels")

if failures:
    print("%d failures" % len(failures))
    sys.exit(1)
print("all agree")

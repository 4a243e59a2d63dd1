"""Neural networks against PyTorch (python3-torch): gradients of every layer
type and spec, with and without bias, for every activation, through
`neurospectra grad`; the layer tap (D^T A = grad W, D and A of dense/conv
layers equal torch's); losses (class-weighted CE, BCE, MSE); truncated BPTT;
checkpoints in both directions; loss curves of SGD/Adam/AdamW training.

The relative error of a tensor is max|ours - torch| / max|torch|.
requires: models
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as tnn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)
BIN = os.environ["NS_BIN"]
TMP = os.environ.get("NS_TMP", "/tmp/ns_test_nn_torch")
os.makedirs(TMP, exist_ok=True)
GRAD_TOL = 1e-4
LOSS_TOL = 1e-3
failures = []
worst = {"grad": 0.0, "tap": 0.0, "loss_curve": 0.0}


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what, flush=True)


def parse_spec(spec):
    kind, _, rest = spec.partition(":")
    items = [s for s in rest.split(",") if s]
    conv, dense = [], []
    for it in items:
        if any(c.isalpha() for c in it):
            num, vals, key = "", {"k": 0, "s": 1, "p": 0, "d": 1}, None
            ch = None
            for c in it + "$":
                if c.isdigit():
                    num += c
                    continue
                if key is None:
                    ch = int(num)
                else:
                    vals[key] = int(num)
                key, num = c, ""
            conv.append((ch, vals["k"], vals["s"], vals["p"], vals["d"]))
        else:
            dense.append(int(it))
    hidden = None
    if kind in ("rnn", "gru", "lstm"):
        hidden, dense = dense[0], dense[1:]
    return kind, conv, hidden, dense


def act_fn(name):
    if name == "linear":
        return lambda x: x
    if name == "relu":
        return F.relu
    if name.startswith("leaky"):
        slope = float(name.split(":")[1]) if ":" in name else 0.01
        return lambda x: F.leaky_relu(x, slope)
    return {"tanh": torch.tanh, "sigmoid": torch.sigmoid}[name]


class Net(tnn.Module):
    """The PyTorch module equivalent to a neurospectra spec (docs/models.md)."""

    def __init__(self, spec, in_shape, nout, act="relu", bias=True, bptt=0):
        super().__init__()
        self.kind, conv, hidden, dense = parse_spec(spec)
        self.act, self.bptt = act_fn(act), bptt
        T, C = (1, in_shape[0]) if len(in_shape) == 1 else in_shape
        if len(in_shape) == 1 and self.kind != "mlp":
            T, C = in_shape[0], 1
        feat = T * C
        self.nconv = len(conv)
        for i, (ch, k, s, p, d) in enumerate(conv):
            setattr(self, f"conv{i}", tnn.Conv1d(C, ch, k, stride=s, padding=p, dilation=d, bias=bias))
            C = feat = ch
        if hidden:
            cls = {"rnn": tnn.RNN, "gru": tnn.GRU, "lstm": tnn.LSTM}[self.kind]
            self.rnn = cls(C, hidden, batch_first=True, bias=bias)
            feat = hidden
        widths = dense + [nout]
        self.nfc = len(widths)
        for i, w in enumerate(widths):
            setattr(self, f"fc{i}", tnn.Linear(feat, w, bias=bias))
            feat = w

    def forward(self, x):
        if self.kind == "mlp":
            h = x.flatten(1)
        elif self.kind == "cnn1d":
            h = x.reshape(x.shape[0], x.shape[1], -1).transpose(1, 2)
            for i in range(self.nconv):
                h = self.act(getattr(self, f"conv{i}")(h))
            h = h.mean(2)
        else:
            x = x.reshape(x.shape[0], x.shape[1], -1)
            T = x.shape[1]
            if self.bptt and self.bptt < T:
                with torch.no_grad():
                    _, state = self.rnn(x[:, : T - self.bptt])
                state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
                out, _ = self.rnn(x[:, T - self.bptt:], state)
            else:
                out, _ = self.rnn(x)
            h = out[:, -1]
        for i in range(self.nfc):
            h = getattr(self, f"fc{i}")(h)
            if i < self.nfc - 1:
                h = self.act(h)
        return h


def save_state(net, path):
    np.savez(path, **{k: v.detach().numpy() for k, v in net.state_dict().items()})


def run_ours(args, out):
    cmd = [BIN, "grad", "-q", "-o", out] + args
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(" ".join(cmd) + "\n" + r.stderr)
    with open(os.path.join(out, "summary.json")) as f:
        return json.load(f)


def relerr(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return np.inf
    scale = np.max(np.abs(b)) if b.size else 0.0
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else float(np.max(np.abs(a - b)))


def make_data(case, in_shape, n, nclass, seed):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n,) + tuple(in_shape)).astype(np.float32)
    y = g.integers(0, nclass, n).astype(np.int64 if seed % 2 else np.int32)
    y[:nclass] = np.arange(nclass)  # every class present
    d = os.path.join(TMP, case)
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "X.npy"), X)
    np.save(os.path.join(d, "y.npy"), y)
    return X, y, d


def torch_loss(net, X, y, loss="ce", class_weights=None):
    z = net(torch.from_numpy(X))
    yt = torch.from_numpy(y.astype(np.int64))
    if loss == "ce":
        w = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        return tnn.CrossEntropyLoss(weight=w)(z, yt)
    if loss == "bce":
        return tnn.BCEWithLogitsLoss()(z[:, 0], yt.float())
    return tnn.MSELoss()(z, F.one_hot(yt, z.shape[1]).float())


def capture_dense_conv(net):
    """Forward/backward hooks recording each Linear/Conv1d input and output grad."""
    seen = {}

    def fwd(name):
        def hook(mod, inp, out):
            seen[name + ".A"] = inp[0].detach().clone()
            out.register_hook(lambda g: seen.__setitem__(name + ".D", g.detach().clone()))
        return hook

    for name, mod in net.named_children():
        if isinstance(mod, (tnn.Linear, tnn.Conv1d)):
            mod.register_forward_hook(fwd(name))
    return seen


def unfold_conv_input(conv, x):
    """im2col of a Conv1d input (N, C, L): rows n*P + p, columns c*k + j."""
    u = F.unfold(x.unsqueeze(2), (1, conv.kernel_size[0]), dilation=(1, conv.dilation[0]),
                 padding=(0, conv.padding[0]), stride=(1, conv.stride[0]))
    return u.transpose(1, 2).reshape(-1, u.shape[1])


def grad_case(spec, in_shape, act="relu", bias=True, loss="ce", nclass=3, n=6, bptt=0,
              class_weights=None, seed=0):
    case = "grad_%s_%s_%s_%s_%d" % (spec.replace(":", "_").replace(",", "-"), act.replace(":", ""),
                                    "b" if bias else "nb", loss, bptt)
    torch.manual_seed(seed)
    nout = 1 if loss == "bce" else nclass
    net = Net(spec, in_shape, nout, act, bias, bptt)
    X, y, d = make_data(case, in_shape, n, nclass, seed)
    save_state(net, os.path.join(d, "W.npz"))
    args = ["--model", spec, "--activation", act, "--weights", os.path.join(d, "W.npz"),
            "--inputs", os.path.join(d, "X.npy"), "--labels", os.path.join(d, "y.npy"),
            "--loss", loss, "--classes", str(nclass)]
    if not bias:
        args.append("--no-bias")
    if bptt:
        args += ["--bptt", str(bptt)]
    if class_weights:
        args += ["--class-weights", ",".join(str(w) for w in class_weights)]
    summ = run_ours(args, os.path.join(d, "out"))
    seen = capture_dense_conv(net)
    L = torch_loss(net, X, y, loss, class_weights)
    L.backward()
    check(abs(summ["loss"] - L.item()) <= 1e-5 * max(1.0, abs(L.item())),
          f"{case}: loss {summ['loss']} vs torch {L.item()}")
    g = np.load(os.path.join(d, "out", "grad.npz"))
    names = [k for k, _ in net.named_parameters()]
    check(sorted(g.files) == sorted(names), f"{case}: gradient names {g.files} vs {names}")
    case_worst = 0.0
    for k, p in net.named_parameters():
        e = relerr(g[k], p.grad.numpy()) if k in g.files else np.inf
        case_worst = max(case_worst, e)
        check(e <= GRAD_TOL, f"{case}: grad {k} relative error {e:.2e}")
    worst["grad"] = max(worst["grad"], case_worst)
    check_tap(case, net, summ, g, seen, os.path.join(d, "out"), bias)
    return case_worst


def check_tap(case, net, summ, g, seen, out, bias):
    tap = np.load(os.path.join(out, "tap.npz"))
    for layer in summ["layers"]:
        name, wname = layer["name"], layer["weight"]
        A, D = tap[name + ".A"].astype(np.float64), tap[name + ".D"].astype(np.float64)
        check(A.shape == (layer["rows"], layer["h_in"]) and D.shape == (layer["rows"], layer["h_out"]),
              f"{case}: tap {name} shapes {A.shape} {D.shape}")
        gw = g[wname].reshape(g[wname].shape[0], -1)
        e = relerr(D.T @ A, gw)
        worst["tap"] = max(worst["tap"], e)
        check(e <= GRAD_TOL, f"{case}: tap {name}: D^T A vs grad W {e:.2e}")
        bname = wname.replace("weight", "bias")
        if bias:
            check(relerr(D.sum(0), g[bname]) <= GRAD_TOL, f"{case}: tap {name}: D^T 1 vs grad b")
        if name + ".D" in seen:  # dense and conv: D and A against torch's hooks
            Dt, At = seen[name + ".D"], seen[name + ".A"]
            if Dt.dim() == 3:
                Dt = Dt.transpose(1, 2).reshape(-1, Dt.shape[1])
                At = unfold_conv_input(getattr(net, name), At)
            eD, eA = relerr(D, Dt.numpy()), relerr(A, At.numpy())
            worst["tap"] = max(worst["tap"], eD, eA)
            check(eD <= GRAD_TOL and eA <= GRAD_TOL, f"{case}: tap {name} D {eD:.2e} A {eA:.2e} vs torch")
        if name == "rnn.hh":
            T = layer["rows_per_sample"]
            check(np.all(A[::T] == 0), f"{case}: rnn.hh A rows of t = 0 must be h_(-1) = 0")


def train_case(spec, in_shape, opt="sgd", lr=0.1, momentum=0.0, nesterov=False, wd=0.0, clip=0.0,
               act="relu", bias=True, epochs=4, n=24, batch=8, nclass=3, seed=1):
    """Training steps in order from the same weights: the loss curves must agree."""
    case = "train_%s_%s_m%g_n%d_wd%g_c%g" % (spec.replace(":", "_").replace(",", "-"), opt, momentum,
                                             nesterov, wd, clip)
    torch.manual_seed(seed)
    net = Net(spec, in_shape, nclass, act, bias)
    X, y, d = make_data(case, in_shape, n, nclass, seed)
    save_state(net, os.path.join(d, "W.npz"))
    steps = epochs * ((n + batch - 1) // batch)
    args = ["--model", spec, "--activation", act, "--weights", os.path.join(d, "W.npz"),
            "--inputs", os.path.join(d, "X.npy"), "--labels", os.path.join(d, "y.npy"),
            "--classes", str(nclass), "--train-steps", str(steps), "--batch", str(batch),
            "--optimizer", opt, "--lr", str(lr), "--momentum", str(momentum),
            "--weight-decay", str(wd), "--clip", str(clip)]
    if nesterov:
        args.append("--nesterov")
    if not bias:
        args.append("--no-bias")
    summ = run_ours(args, os.path.join(d, "out"))
    if opt == "sgd":
        o = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=wd)
    elif opt == "adam":
        o = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=wd)
    else:
        o = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=wd)
    losses = []
    for s in range(steps):
        r0 = (s % ((n + batch - 1) // batch)) * batch
        o.zero_grad()
        L = torch_loss(net, X[r0:r0 + batch], y[r0:r0 + batch])
        L.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        o.step()
        losses.append(L.item())
    diff = float(np.max(np.abs(np.array(summ["train_losses"]) - np.array(losses))))
    worst["loss_curve"] = max(worst["loss_curve"], diff)
    check(len(summ["train_losses"]) == steps and diff <= LOSS_TOL,
          f"{case}: loss curve differs by {diff:.2e} (ours {summ['train_losses'][-1]:.6f}, torch {losses[-1]:.6f})")
    # our final weights load into torch (strict) and match torch's own
    w = np.load(os.path.join(d, "out", "weights.npz"))
    net2 = Net(spec, in_shape, nclass, act, bias)
    net2.load_state_dict({k: torch.from_numpy(w[k]) for k in w.files}, strict=True)
    e = max(relerr(w[k], v.detach().numpy()) for k, v in net.state_dict().items())
    check(e <= 1e-3, f"{case}: trained weights differ from torch's by {e:.2e}")
    print(f"{case}: {steps} steps, max loss difference {diff:.2e}, weights {e:.2e}", flush=True)


SPECS = [
    ("mlp:", (7,)),
    ("mlp:9,5", (7,)),
    ("mlp:6", (4, 3)),
    ("cnn1d:4k3s1", (10, 2)),
    ("cnn1d:4k3s2p1,5k2s1d2", (12, 3)),
    ("cnn1d:3k5s2p2d1,4k3s1,6", (16, 2)),
    ("cnn1d:3k3", (9,)),
    ("rnn:5", (6, 3)),
    ("gru:5", (6, 3)),
    ("lstm:5", (6, 3)),
    ("gru:4,6", (5, 2)),
    ("lstm:4", (7,)),
]
ACTS = ["linear", "relu", "leaky:0.2", "tanh", "sigmoid"]


def main():
    n_cases = 0
    for spec, shape in SPECS:
        for act in ACTS:
            for bias in (True, False):
                grad_case(spec, shape, act, bias, seed=n_cases)
                n_cases += 1
    # losses, class weights, truncated BPTT
    grad_case("mlp:8", (5,), "tanh", True, "ce", nclass=3, class_weights=[0.5, 2.0, 1.0])
    grad_case("mlp:8", (5,), "relu", True, "bce", nclass=2)
    grad_case("mlp:8", (5,), "relu", False, "mse", nclass=3)
    for kind in ("rnn", "gru", "lstm"):
        grad_case(kind + ":6", (8, 2), "relu", True, bptt=3)
        grad_case(kind + ":6,4", (8, 2), "tanh", False, bptt=5, n=4)
    n_cases += 9
    print(f"gradient cases: {n_cases}, worst relative error {worst['grad']:.2e}, tap {worst['tap']:.2e}")

    train_case("mlp:16,8", (10,), "sgd", lr=0.1)
    train_case("mlp:16,8", (10,), "sgd", lr=0.05, momentum=0.9, wd=1e-3)
    train_case("mlp:16,8", (10,), "sgd", lr=0.05, momentum=0.9, nesterov=True, clip=0.5)
    train_case("mlp:16", (10,), "adam", lr=0.01, wd=1e-2)
    train_case("mlp:16", (10,), "adamw", lr=0.01, wd=0.1)
    train_case("cnn1d:4k3s1,5k3s2", (12, 2), "sgd", lr=0.1, momentum=0.5, act="tanh")
    train_case("gru:8", (6, 3), "sgd", lr=0.2)
    train_case("lstm:8", (6, 3), "adam", lr=0.01, bias=False)
    train_case("rnn:8,5", (6, 3), "sgd", lr=0.1, act="leaky:0.1")
    print(f"loss curves: max difference {worst['loss_curve']:.2e}")

    if failures:
        print(f"{len(failures)} failures", file=sys.stderr)
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()

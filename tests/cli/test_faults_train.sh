#!/usr/bin/env bash
# requires: models
# Bad labels and a write fault on `neurospectra train` (features TSV +
# participants.tsv, made here: 24 subjects, 5 features, two classes).
#   - participants.tsv with n/a labels and a subject missing: documented
#     handling (rows dropped with a warning naming them); the predictions
#     hold exactly the remaining subjects
#   - every label n/a, a single class left, a target column that does not
#     exist: exit 1, one line "neurospectra: error: ... (labels file)", no
#     output directory created
#   - a 1 KiB file-size limit (SIGXFSZ ignored) over an earlier run: exit 1,
#     one error line, no temporaries, every file the earlier version or the
#     reference run's, byte for byte
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}" "${NS_SRC:?}"
rm -rf "$NS_TMP"
mkdir -p "$NS_TMP"
T=$NS_TMP
FAULTS_ALLOW_WARNINGS=1
. "$NS_SRC/tests/cli/faults_lib.sh"

/usr/bin/python3 - "$T" <<'EOF'
import sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(0)
n = 24
with open(f"{d}/feat.tsv", "w") as f:
    f.write("participant_id\t" + "\t".join(f"e{i}" for i in range(5)) + "\n")
    for i in range(n):
        f.write(f"sub-{i + 1:02d}\t" + "\t".join(f"{rng.standard_normal() + i % 2:.4f}" for _ in range(5)) + "\n")
def labels(name, lab):
    with open(f"{d}/{name}", "w") as f:
        f.write("participant_id\tdiagnosis\n")
        for i in range(n):
            if lab(i) is not None:
                f.write(f"sub-{i + 1:02d}\t{lab(i)}\n")
labels("part.tsv", lambda i: None if i == 10 else "n/a" if i in (3, 7) else ("HC", "MDD")[i % 2])
labels("allna.tsv", lambda i: "n/a")
labels("oneclass.tsv", lambda i: "n/a" if i % 2 else "HC")
EOF
train() { "$NS_BIN" train "$T/feat.tsv" --labels "$1" --target "${3:-diagnosis}" -o "$2" --folds 3 -q "${@:4}"; }

# n/a labels and a missing subject: dropped with a warning naming them.
train "$T/part.tsv" "$T/out" diagnosis 2>"$T/err" || bad "n/a labels: train failed: $(cat "$T/err")"
for s in sub-04 sub-08 sub-11; do grep -q "$s" "$T/err" || bad "n/a labels: no warning names $s"; done
rows=$(tail -n +2 "$T/out/predictions.tsv" | cut -f1 | sort -u | wc -l)
[ "$rows" = 21 ] || bad "n/a labels: predictions for $rows subjects, expected 21"
tail -n +2 "$T/out/predictions.tsv" | grep -Eq "^(sub-)?(04|08|11)\b" && bad "n/a labels: a dropped subject was predicted"
echo "ok: n/a labels and a missing subject: dropped with a warning, 21 subjects predicted"

for c in "allna.tsv:every label n/a" "oneclass.tsv:a single class left"; do
  f=${c%%:*}
  rc=0; train "$T/$f" "$T/out-$f" 2>"$T/err" || rc=$?
  expect_fail "${c#*:}"
  [ -e "$T/out-$f" ] && bad "${c#*:}: an output directory was created"
done
rc=0; train "$T/part.tsv" "$T/out-nocol" nosuch 2>"$T/err" || rc=$?
expect_fail "target column that does not exist"

# A file-size limit over an earlier run (seed 1); the reference (seed 2) is
# made at the same path.
train "$T/part.tsv" "$T/o" diagnosis --seed 2 2>/dev/null && mv "$T/o" "$T/ref"
train "$T/part.tsv" "$T/o" diagnosis --seed 1 2>/dev/null && mv "$T/o" "$T/old"
cp -a "$T/old" "$T/o"
rc=0
(ulimit -f 1; trap '' XFSZ; exec "$NS_BIN" train "$T/feat.tsv" --labels "$T/part.tsv" --target diagnosis \
  -o "$T/o" --folds 3 -q --seed 2) 2>"$T/err" || rc=$?
expect_fail "ulimit -f 1 KiB over an earlier run"
no_partial "ulimit -f" "$T/o" "$T/old" "$T/ref"

[ $fail = 0 ] || exit 1
echo "train fault test passed"

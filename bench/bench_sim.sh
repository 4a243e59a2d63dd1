#!/usr/bin/env bash
# Benchmark of `neurospectra simulate`: N subjects of the 3-D default
# (53x63x46, 150 volumes, 30 sources) on the cores given (default 2), with
# .nii.gz and with --uncompressed; the peer is nibabel writing the same
# volumes (numpy random float32, one subject at a time) measured in the same
# run, so the ratio says how far we are from the cost of the files alone.
#   bench/bench_sim.sh [N_SUBJECTS=100] [THREADS=2] [PEER_SUBJECTS=4]
# requires: sim nifti_io
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${NS_BIN:-$here/build/cli/neurospectra}
py=${NS_PYTHON:-/usr/bin/python3}
n=${1:-100}
threads=${2:-2}
npeer=${3:-4}
tmp=${NS_TMP:-$(mktemp -d /tmp/bench_sim.XXXXXX)}
mkdir -p "$tmp"
trap 'rm -rf "$tmp/gz" "$tmp/nii" "$tmp/peer"' EXIT

secs() { # secs CMD...: wall time in seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=1
echo "simulate $n subjects, 3-D 53x63x46 x 150, 30 sources, $threads threads ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))" >&2
t_gz=$(secs "$bin" simulate "$tmp/gz" --subjects "$n" --shape 3d --quiet)
size_gz=$(du -sm "$tmp/gz" | cut -f1)
rm -rf "$tmp/gz"
t_nii=$(secs "$bin" simulate "$tmp/nii" --subjects "$n" --shape 3d --uncompressed --quiet)
size_nii=$(du -sm "$tmp/nii" | cut -f1)
rm -rf "$tmp/nii"

# Peer: nibabel writes npeer subjects' bold (random data of the same shape),
# .nii.gz and .nii, one process (nibabel compresses on one core).
read -r p_gz p_nii < <("$py" - "$tmp/peer" "$npeer" <<'PY'
import os, sys, time
import numpy as np, nibabel as nib
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
aff = np.diag([3.0, 3.0, 3.0, 1.0])
res = []
for ext in (".nii.gz", ".nii"):
    t = 0.0
    for i in range(n):
        x = (800 + 3 * rng.standard_normal((53, 63, 46, 150))).astype(np.float32)
        img = nib.Nifti1Image(x, aff)
        img.header.set_zooms((3, 3, 3, 2.0))
        t0 = time.perf_counter()
        nib.save(img, os.path.join(out, f"sub-{i}_bold{ext}"))
        t += time.perf_counter() - t0
        os.remove(os.path.join(out, f"sub-{i}_bold{ext}"))
    res.append(t / n)
print(*res)
PY
)

per_gz=$(echo "$t_gz / $n" | bc -l)
per_nii=$(echo "$t_nii / $n" | bc -l)
printf "\n| %-48s | %9s | %10s | %9s | %17s |\n" "task ($n subjects, $threads threads)" "wall (s)" "s/subject" "size (MB)" "ratio vs nibabel"
printf "|%s|%s|%s|%s|%s|\n" "--------------------------------------------------" "-----------" "------------" "-----------" "-------------------"
printf "| %-48s | %9.1f | %10.2f | %9d | %17.2f |\n" "neurospectra simulate (.nii.gz)" "$t_gz" "$per_gz" "$size_gz" "$(echo "$per_gz / $p_gz" | bc -l)"
printf "| %-48s | %9.1f | %10.2f | %9d | %17.2f |\n" "neurospectra simulate --uncompressed (.nii)" "$t_nii" "$per_nii" "$size_nii" "$(echo "$per_nii / $p_nii" | bc -l)"
printf "| %-48s | %9s | %10.2f | %9s | %17s |\n" "peer: nibabel save bold only (.nii.gz, 1 core)" "-" "$p_gz" "-" "1.00"
printf "| %-48s | %9s | %10.2f | %9s | %17s |\n" "peer: nibabel save bold only (.nii, 1 core)" "-" "$p_nii" "-" "1.00"
echo "(ratio = our wall time per subject, everything included, / nibabel's time to save one bold file)"

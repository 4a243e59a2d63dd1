#!/usr/bin/env bash
# Distributed training over MPI, 3 sites (ranks): accuracy against bytes per
# step for dsgd, dad, edad, rank-dAD and PowerSGD at several ranks, on FNC
# features (MLP) and ICA timecourses (GRU) from the simulator; the reduction
# against dsgd is measured in the same run. Goal: rank-dAD >= 50x fewer bytes
# than dsgd within 1 point of its accuracy.
# requires: sim ica fnc models spectra dist
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v mpirun >/dev/null || { echo "bench_dist: mpirun not found" >&2; exit 1; }
"${NS_PYTHON:-/usr/bin/python3}" "$here/bench_dist.py" "$@"

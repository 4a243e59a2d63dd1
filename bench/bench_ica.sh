#!/usr/bin/env bash
# Group ICA benchmark: neurospectra ica vs the numpy/scikit-learn CanICA recipe
# on simulated 3-D data (bench_ica.py does the work and prints the table).
#   bench/bench_ica.sh [--subjects 20] [--orders 20,100] [--shape 3d|X,Y,Z] [--repeat 3]
#                      [--work DIR] [--no-double] [--seeds 20]
# NS_BIN selects the binary (default build/cli/neurospectra).
# requires: ica sim nifti_io
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${NS_BIN:-$here/../build/cli/neurospectra}
[ -x "$bin" ] || { echo "bench_ica: no neurospectra binary at $bin (set NS_BIN)" >&2; exit 1; }
command -v libdeflate-gunzip >/dev/null || { echo "bench_ica: needs libdeflate-gunzip (libdeflate-tools)" >&2; exit 1; }
exec /usr/bin/python3 "$here/bench_ica.py" --bin "$bin" "$@"

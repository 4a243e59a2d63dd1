#!/usr/bin/env bash
# Networks vs PyTorch: training steps/s (MLP goal >= 2x, GRU goal >= 1.5x) and
# peak memory, same threads on both sides (default 1; BENCH_NN_THREADS=2).
# requires: models
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
threads=${BENCH_NN_THREADS:-1}
"${NS_PYTHON:-/usr/bin/python3}" "$here/bench_nn.py" --threads "$threads" "$@"

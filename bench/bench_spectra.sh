#!/usr/bin/env bash
# Spectra overhead, ratios measured in one run (bench_spectra.c):
#   training the MLP 1378 -> 256 -> 64 -> 2 (batch 32, Adam) with the spectra
#   tracker at every step vs without (goal <= 1.3x), and the thin-QR route vs
#   forming G + full SVD for the fc0 gradient (goal >= 10x).
# Settings: NS_BENCH_EPOCHS (epochs of 10 steps per run, default 3),
# NS_BENCH_REPEAT (pairs of runs without / with spectra, default 21; the
# ratio is the median of the pairs' ratios), BENCH_SPECTRA_THREADS (OpenBLAS
# threads, default 1, same for both sides).
# requires: spectra models
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${NS_SRC:-$(dirname "$here")}
bin=${NS_BIN:-$src/build/cli/neurospectra}
build=$(cd "$(dirname "$bin")/.." && pwd)
work=${NS_BENCH_TMP:-$build/bench_tmp}/spectra
mkdir -p "$work"
exe=$work/bench_spectra
cc -O2 -std=c17 -D_GNU_SOURCE -DNS_HAVE_MODELS=1 -DNS_HAVE_SPECTRA=1 -I"$src" \
    "$here/bench_spectra.c" -o "$exe" -L"$build" -lneurospectra -Wl,-rpath,"$build" -lm
export OPENBLAS_NUM_THREADS=${BENCH_SPECTRA_THREADS:-1} OMP_NUM_THREADS=${BENCH_SPECTRA_THREADS:-1}
echo "OpenBLAS threads: $OPENBLAS_NUM_THREADS; output of the spectra run in $work/out"
"$exe" "$work/out" "${NS_BENCH_EPOCHS:-3}" "${NS_BENCH_REPEAT:-21}"

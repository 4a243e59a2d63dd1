#!/usr/bin/env bash
# requires: ica fnc models spectra report sim nifti_io
# The pipeline's stages on a tiny simulated study, each under valgrind
# memcheck (--leak-check=full; definite, indirect and possible leaks are
# errors): ica (Infomax, 2 ICASSO runs), fnc with confound regression and
# dynamic FNC, train (logistic regression; a GRU on the timecourses with
# per-group gradient spectra), report. The same data are first simulated
# natively. Skips the ASan build (valgrind cannot run ASan binaries); a
# missing valgrind is a failure. The whole demo under valgrind takes far too
# long for the suite; these are its stages on smaller data.
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}"
rm -rf "$NS_TMP"
mkdir -p "$NS_TMP"
T=$NS_TMP
. "$NS_SRC/tests/cli/valgrind_lib.sh"

"$NS_BIN" simulate "$T/bids" --subjects 6 --shape 16,16 --timepoints 40 --sources 4 --motion -q
vg ica 0 "$NS_BIN" ica -o "$T/out" --bids "$T/bids" --orders 4 --runs 2 -q
vg fnc 0 "$NS_BIN" fnc "$T/out" --confounds motion --dynamic --window 10 --states 2 --quiet
[ -f "$T/out/group/desc-fnc_features.tsv" ] || { echo "FAIL: fnc wrote no feature table"; fail=1; }
vg train-logreg 0 "$NS_BIN" train "$T/out/group/desc-fnc_features.tsv" --labels "$T/bids/participants.tsv" \
  --target diagnosis -o "$T/train" --folds 2 -q
vg train-gru-spectra 0 "$NS_BIN" train "$T/out" --match desc-ica4_timeseries --labels "$T/bids/participants.tsv" \
  --target diagnosis -o "$T/train-gru" --folds 2 --model gru:8 --epochs 3 --groups diagnosis -q
[ -d "$T/train-gru/spectra" ] || { echo "FAIL: no spectra written"; fail=1; }
vg report 0 "$NS_BIN" report "$T/out" --participants "$T/bids/participants.tsv" --quiet
[ -s "$T/out/report.html" ] || { echo "FAIL: no report written"; fail=1; }

[ $fail = 0 ] || exit 1
echo "valgrind pipeline test passed"

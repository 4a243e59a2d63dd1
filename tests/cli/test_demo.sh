#!/usr/bin/env bash
# neurospectra demo: runs the whole pipeline end to end on the embedded
# default dataset, writes the simulated dataset with its truth, prints the
# planted effects, the ICA accuracy against the truth, the classification and
# where things are. (Its time is printed, not asserted: the goal of under 2
# minutes on 2 cores is checked by hand, the machines are noisy.)
# requires: sim nifti_io ica fnc models spectra report
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}"
rm -rf "$NS_TMP" && mkdir -p "$NS_TMP"
fail() { echo "FAIL: $*" >&2; exit 1; }

grep -q "usage: neurospectra demo" <<<"$("$NS_BIN" demo --help)" || fail "--help"
set +e
"$NS_BIN" demo a b 2>/dev/null; rc=$?
set -e
[ $rc -eq 2 ] || fail "two directories must be a usage error (exit $rc)"

start=$(date +%s)
"$NS_BIN" demo "$NS_TMP/demo" --quiet > "$NS_TMP/out.txt"
secs=$(( $(date +%s) - start ))
cat "$NS_TMP/out.txt"

b=$NS_TMP/demo/bids
[ "$(ls "$b"/sub-*/func/sub-*_task-rest_bold.nii.gz | wc -l)" -eq 24 ] || fail "24 bold files expected"
[ "$(wc -l < "$b/participants.tsv")" -eq 25 ] || fail "participants.tsv rows"
[ -s "$b/derivatives/simulation/truth.json" ] || fail "truth.json"
grep -q "HC 8, MDD 8, BD 8" "$NS_TMP/out.txt" || fail "summary of groups"
grep -q "where things are" "$NS_TMP/out.txt" || fail "where things are"
# the summary shows the planted diagnosis coupling: patients above controls
awk '$1 == "diagnosis" { hc = $3; mdd = $6; exit !(mdd > hc + 0.2) }' "$NS_TMP/out.txt" \
  || fail "diagnosis coupling not visible in the summary"

# the pipeline ran: report, run summary, both classifiers, spectra by group
d=$NS_TMP/demo/neurospectra
[ -s "$d/report.html" ] || fail "no report"
[ "$(ls "$d"/sub-*.html | wc -l)" -eq 24 ] || fail "24 subject pages expected"
[ "$(grep -c $'\tok\t' "$d/group/desc-run_summary.tsv")" -eq 24 ] || fail "24 runs ok in the run summary"
[ -s "$d/group/train-diagnosis-mlp_32/spectra/spectra.tsv" ] || fail "no gradient spectra"
# ICA recovers the sources: mean matched |r| against the true maps
awk '/group maps vs the/ { for (i = 1; i <= NF; i++) if ($i == "mean") r = $(i + 2) } END { exit !(r + 0 >= 0.8) }' \
  "$NS_TMP/out.txt" || fail "group maps do not match the truth (mean |r| < 0.8)"
# diagnosis (3 classes) above chance by the nested-CV logistic regression
awk '/by logreg/ { for (i = 1; i <= NF; i++) if ($i == "accuracy") a = $(i + 1) } END { exit !(a + 0 > 0.45) }' \
  "$NS_TMP/out.txt" || fail "diagnosis not above chance"

echo "test_demo: ok ($secs s)"

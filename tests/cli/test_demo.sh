#!/usr/bin/env bash
# neurospectra demo: runs end to end in under 2 minutes, writes the simulated
# dataset with its truth, and prints the planted effects and where things are.
# requires: sim nifti_io
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}"
rm -rf "$NS_TMP" && mkdir -p "$NS_TMP"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$NS_BIN" demo --help | grep -q "usage: neurospectra demo" || fail "--help"
set +e
"$NS_BIN" demo a b 2>/dev/null; rc=$?
set -e
[ $rc -eq 2 ] || fail "two directories must be a usage error (exit $rc)"

start=$(date +%s)
"$NS_BIN" demo "$NS_TMP/demo" --quiet > "$NS_TMP/out.txt"
secs=$(( $(date +%s) - start ))
cat "$NS_TMP/out.txt"
[ "$secs" -lt 120 ] || fail "demo took $secs s (limit 120 s on 2 cores)"

b=$NS_TMP/demo/bids
[ "$(ls "$b"/sub-*/func/sub-*_task-rest_bold.nii.gz | wc -l)" -eq 24 ] || fail "24 bold files expected"
[ "$(ls "$b"/sub-*/func/sub-*_desc-confounds_timeseries.tsv | wc -l)" -eq 24 ] || fail "confounds (motion) expected"
[ "$(wc -l < "$b/participants.tsv")" -eq 25 ] || fail "participants.tsv rows"
[ -s "$b/derivatives/simulation/truth.json" ] || fail "truth.json"
grep -q "HC 8, MDD 8, BD 8" "$NS_TMP/out.txt" || fail "summary of groups"
grep -q "where things are" "$NS_TMP/out.txt" || fail "where things are"
# the summary shows the planted diagnosis coupling: patients above controls
awk '$1 == "diagnosis" { hc = $3; mdd = $6; exit !(mdd > hc + 0.2) }' "$NS_TMP/out.txt" \
  || fail "diagnosis coupling not visible in the summary"

echo "test_demo: ok ($secs s)"

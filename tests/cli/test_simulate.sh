#!/usr/bin/env bash
# neurospectra simulate: files, header and sidecar match the parameters,
# participants.tsv columns, same seed -> same bytes, bad options exit 2.
# requires: sim nifti_io
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}"
rm -rf "$NS_TMP" && mkdir -p "$NS_TMP"
fail() { echo "FAIL: $*" >&2; exit 1; }

# NIfTI-1 header fields read with od from the decompressed file (independent
# of our reader): dim[0..4] (int16 at 40) and pixdim[1..4] (float32 at 80).
hdr_dims() { gzip -dc "$1" | head -c 348 | od -An -t d2 -j 40 -N 10 | xargs; }
hdr_pixdim() { gzip -dc "$1" | head -c 348 | od -An -t f4 -j 80 -N 16 | xargs; }
close() { awk -v a="$1" -v b="$2" 'BEGIN { exit !((a - b) < 1e-5 && (b - a) < 1e-5) }'; }

# --help
grep -q "usage: neurospectra simulate OUT_DIR" <<<"$("$NS_BIN" simulate --help)" || fail "--help"

# 2-D with motion, dynamic, 2 sites, TR 1.5, 40 volumes, 20 sources
out=$NS_TMP/a
"$NS_BIN" simulate "$out" --subjects 5 --seed 7 --timepoints 40 --tr 1.5 --sources 20 \
  --motion --dynamic --sites 2 --cnr 1.5 --quiet
for l in 1 2 3 4 5; do
  s=sub-0$l
  bold=$out/$s/func/${s}_task-rest_bold.nii.gz
  [ -s "$bold" ] || fail "missing $bold"
  [ "$(hdr_dims "$bold")" = "4 100 100 1 40" ] || fail "dims of $bold: $(hdr_dims "$bold")"
  read -r px py pz pt <<<"$(hdr_pixdim "$bold")"
  close "$pt" 1.5 || fail "TR in header of $bold: $pt"
  close "$px" 2 || fail "voxel size of $bold: $px"
  side=$out/$s/func/${s}_task-rest_bold.json
  grep -q '"RepetitionTime": 1.5' "$side" || fail "sidecar TR ($side)"
  grep -q '"TaskName": "rest"' "$side" || fail "sidecar TaskName ($side)"
  conf=$out/$s/func/${s}_task-rest_desc-confounds_timeseries.tsv
  head -1 "$conf" | tr '\t' '\n' > "$NS_TMP/conf_cols"
  for c in trans_x trans_y trans_z rot_x rot_y rot_z framewise_displacement; do
    grep -qx "$c" "$NS_TMP/conf_cols" || fail "confounds column $c missing ($conf)"
  done
  [ "$(wc -l < "$conf")" -eq 41 ] || fail "confounds rows ($conf)"
  [ "$(sed -n 2p "$conf" | awk -F'\t' '{print $NF}')" = "n/a" ] || fail "FD of the first row must be n/a ($conf)"
  truth=$out/derivatives/simulation/$s/func
  [ "$(wc -l < "$truth/${s}_task-rest_desc-true_timeseries.tsv")" -eq 41 ] || fail "truth rows"
  [ "$(head -1 "$truth/${s}_task-rest_desc-true_timeseries.tsv" | awk -F'\t' '{print NF}')" -eq 20 ] || fail "truth columns"
  [ "$(head -1 "$truth/${s}_task-rest_desc-true_timeseries.tsv" | cut -f1)" = "thalamus" ] || fail "truth header"
  [ "$(hdr_dims "$truth/${s}_task-rest_desc-true_components.nii.gz")" = "4 100 100 1 20" ] || fail "subject maps dims"
  [ "$(head -1 "$truth/${s}_task-rest_desc-states_timeseries.tsv")" = "state" ] || fail "states header"
done
[ ! -e "$out/sub-06" ] || fail "too many subjects"

# participants.tsv: columns, labels, n/a for controls
[ "$(head -1 "$out/participants.tsv")" = "$(printf 'participant_id\tdiagnosis\tmedication_class\tresponder\tsite\tage\tsex')" ] \
  || fail "participants.tsv header"
[ "$(wc -l < "$out/participants.tsv")" -eq 6 ] || fail "participants.tsv rows"
awk -F'\t' 'NR > 1 {
  if ($2 !~ /^(HC|MDD|BD)$/) exit 1
  if ($2 == "HC" && ($3 != "n/a" || $4 != "n/a")) exit 1
  if ($2 != "HC" && ($3 !~ /^(antidepressant|mood_stabilizer)$/ || $4 !~ /^(yes|no)$/)) exit 1
  if ($5 !~ /^S[12]$/ || $6 < 16 || $6 > 27 || $7 !~ /^[FM]$/) exit 1
}' "$out/participants.tsv" || fail "participants.tsv values"
grep -q '"DatasetType": "raw"' "$out/dataset_description.json" || fail "dataset_description"
grep -q '"DatasetType": "derivative"' "$out/derivatives/simulation/dataset_description.json" || fail "derivative description"

# truth: group maps 4-D with one volume per source, mask and tissue 3-D
g=$out/derivatives/simulation/group
[ "$(hdr_dims "$g/desc-true_components.nii.gz")" = "4 100 100 1 20" ] || fail "true maps dims"
[ "$(hdr_dims "$g/desc-head_mask.nii.gz" | cut -d' ' -f1-4)" = "3 100 100 1" ] || fail "mask dims"
grep -q '"dynamic"' "$out/derivatives/simulation/truth.json" || fail "truth.json effects"
grep -q '"repetition_time": 1.5' "$out/derivatives/simulation/truth.json" || fail "truth.json parameters"

# same seed -> same bytes; another seed -> different data
"$NS_BIN" simulate "$NS_TMP/b" --subjects 5 --seed 7 --timepoints 40 --tr 1.5 --sources 20 \
  --motion --dynamic --sites 2 --cnr 1.5 --quiet
diff -r "$out" "$NS_TMP/b" >/dev/null || fail "same seed gave different files"
OMP_NUM_THREADS=1 "$NS_BIN" simulate "$NS_TMP/c" --subjects 5 --seed 7 --timepoints 40 --tr 1.5 --sources 20 \
  --motion --dynamic --sites 2 --cnr 1.5 --quiet
diff -r "$out" "$NS_TMP/c" >/dev/null || fail "one thread gave different files"
"$NS_BIN" simulate "$NS_TMP/d" --subjects 5 --seed 8 --timepoints 40 --tr 1.5 --sources 20 --quiet
! cmp -s "$out/sub-01/func/sub-01_task-rest_bold.nii.gz" "$NS_TMP/d/sub-01/func/sub-01_task-rest_bold.nii.gz" \
  || fail "another seed gave the same data"

# 3-D grid
"$NS_BIN" simulate "$NS_TMP/e" --subjects 1 --shape 20,24,16 --timepoints 12 --tr 0.8 --quiet
bold=$NS_TMP/e/sub-01/func/sub-01_task-rest_bold.nii.gz
[ "$(hdr_dims "$bold")" = "4 20 24 16 12" ] || fail "3-D dims: $(hdr_dims "$bold")"
read -r px py pz pt <<<"$(hdr_pixdim "$bold")"
close "$pz" 3 && close "$pt" 0.8 || fail "3-D pixdim: $px $py $pz $pt"
[ ! -e "$NS_TMP/e/sub-01/func/sub-01_task-rest_desc-confounds_timeseries.tsv" ] || fail "confounds without --motion"

# usage errors exit 2 and name the problem; no output is written
expect2() {
  set +e
  "$NS_BIN" simulate "$@" 2> "$NS_TMP/err"
  rc=$?
  set -e
  [ $rc -eq 2 ] || fail "exit $rc instead of 2 for: $*"
  grep -q "neurospectra simulate:" "$NS_TMP/err" || fail "no message for: $*"
}
expect2
expect2 "$NS_TMP/x" --subjects 0
expect2 "$NS_TMP/x" --subjects abc
expect2 "$NS_TMP/x" --shape foo
expect2 "$NS_TMP/x" --shape 10,10,10,10
expect2 "$NS_TMP/x" --tr -1
expect2 "$NS_TMP/x" --cnr 0
expect2 "$NS_TMP/x" --sources 31
expect2 "$NS_TMP/x" --timepoints 5
expect2 "$NS_TMP/x" --sites 3 --subjects 2
expect2 "$NS_TMP/x" --bogus
expect2 "$NS_TMP/x" "$NS_TMP/y"
[ ! -e "$NS_TMP/x" ] || fail "a usage error wrote files"

# an unwritable output is a failure (exit 1) naming the path
touch "$NS_TMP/file"
set +e
"$NS_BIN" simulate "$NS_TMP/file/sub" --subjects 1 --quiet 2> "$NS_TMP/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "exit $rc for an unwritable output"
grep -q "neurospectra: error: .*$NS_TMP/file" "$NS_TMP/err" || fail "error message: $(cat "$NS_TMP/err")"
echo "test_simulate: ok"

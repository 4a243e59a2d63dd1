#!/usr/bin/env bash
# requires: sim nifti_io ica fnc models report
# The BIDS-Apps form on an fMRIPrep-like tree (sessions, runs, brain masks,
# confounds with n/a), with a corrupt subject among good ones; a participant
# run killed mid-way and rerun; the group level after participants; the
# report opened in headless Chromium (every image decodes, no console errors).
set -euo pipefail
rm -rf "$NS_TMP" && mkdir -p "$NS_TMP" && cd "$NS_TMP"
fail() { echo "FAIL: $*" >&2; exit 1; }
space=MNI152NLin2009cAsym

"$NS_BIN" simulate raw1 --subjects 10 --seed 5 --timepoints 100 --quiet
"$NS_BIN" simulate raw2 --subjects 10 --seed 6 --timepoints 100 --quiet

# fMRIPrep-like derivatives: two sessions per subject, two runs in ses-1 of sub-01.
"$NS_PYTHON" - "$space" <<'EOF'
import json, os, shutil, sys
import numpy as np, nibabel as nib
space = sys.argv[1]
rng = np.random.default_rng(0)
os.makedirs("fmriprep", exist_ok=True)
shutil.copy("raw1/participants.tsv", "fmriprep/participants.tsv")
json.dump({"Name": "fmriprep-like", "BIDSVersion": "1.8.0", "DatasetType": "derivative",
           "GeneratedBy": [{"Name": "fMRIPrep", "Version": "23.0.0"}]},
          open("fmriprep/dataset_description.json", "w"))
def place(src, sub, ses, run):
    d = f"fmriprep/sub-{sub}/ses-{ses}/func"
    os.makedirs(d, exist_ok=True)
    stem = f"{d}/sub-{sub}_ses-{ses}_task-rest_run-{run}_space-{space}"
    shutil.copy(src, stem + "_desc-preproc_bold.nii.gz")
    json.dump({"RepetitionTime": 2.0, "TaskName": "rest"}, open(stem + "_desc-preproc_bold.json", "w"))
    img = nib.load(src)
    first = np.asarray(img.dataobj[..., 0], dtype=np.float32)
    mask = (first >= first.mean()).astype(np.uint8)
    nib.save(nib.Nifti1Image(mask, img.affine), stem + "_desc-brain_mask.nii.gz")
    T = img.shape[-1]
    cols = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z", "framewise_displacement"]
    x = np.cumsum(rng.normal(0, 0.02, (T, 7)), axis=0)
    with open(f"{d}/sub-{sub}_ses-{ses}_task-rest_run-{run}_desc-confounds_timeseries.tsv", "w") as f:
        f.write("\t".join(cols) + "\n")
        for t in range(T):
            f.write("\t".join("n/a" if (j == 6 and t == 0) or (j == 0 and t == 5) else f"{x[t, j]:.6f}"
                              for j in range(7)) + "\n")
for i in range(1, 11):
    sub = f"{i:02d}"
    place(f"raw1/sub-{sub}/func/sub-{sub}_task-rest_bold.nii.gz", sub, "1", "1")
    place(f"raw2/sub-{sub}/func/sub-{sub}_task-rest_bold.nii.gz", sub, "2", "1")
place("raw2/sub-01/func/sub-01_task-rest_bold.nii.gz", "01", "1", "2")
# a corrupt subject: its BOLD file cut in half
place("raw1/sub-02/func/sub-02_task-rest_bold.nii.gz", "99", "1", "1")
p = "fmriprep/sub-99/ses-1/func/sub-99_ses-1_task-rest_run-1_space-" + space + "_desc-preproc_bold.nii.gz"
data = open(p, "rb").read()
open(p, "wb").write(data[: len(data) // 2])
with open("fmriprep/participants.tsv", "a") as f:
    f.write("sub-99\tHC\tn/a\tn/a\tS1\t20\tF\n")
EOF

# 1. group level: fits the models without the corrupt subject, then FNC, training, report.
set +e
"$NS_BIN" fmriprep out group --space "$space" --orders 8,12 --models logreg,mlp:16 --epochs 5 \
  --folds 3 --seed 2 >group1.log 2>&1
rc=$?
set -e
cat group1.log | tail -5
[ $rc -eq 1 ] || fail "group level with a corrupt subject: exit $rc, expected 1"
grep -q "neurospectra: error: .*sub-99" group1.log || fail "the corrupt subject is not named on stderr"
summary=out/group/desc-run_summary.tsv
[ -f "$summary" ] || fail "no run summary"
head -1 "$summary" | grep -q $'^participant_id\trun\tstage\tstatus\terror' || fail "summary header"
grep -P "^sub-99\t.*\tfailed\t" "$summary" | grep -q "sub-99" || fail "sub-99 not failed in the summary"
nok=$(grep -cP "\tok\t" "$summary")
[ "$nok" -eq 21 ] || fail "expected 21 runs ok, got $nok"
for k in 8 12; do
  [ -f out/group/desc-ica${k}_model.npz ] || fail "no model of order $k"
done
[ -f out/group/desc-fnc_features.tsv ] || fail "no feature table"
rows=$(($(wc -l < out/group/desc-fnc_features.tsv) - 1))
[ "$rows" -eq 10 ] || fail "feature table has $rows participants, expected 10 (sessions averaged)"
ls out/sub-01/ses-1/func/*run-2*_desc-ica8_timeseries.tsv >/dev/null || fail "run-2 of sub-01 missing"
"$NS_PYTHON" - <<'EOF' || fail "derivative dataset description / sidecars"
import json, glob
d = json.load(open("out/dataset_description.json"))
assert d["DatasetType"] == "derivative" and d["GeneratedBy"][0]["Name"] == "neurospectra", d
side = sorted(glob.glob("out/sub-*/ses-*/func/*_desc-ica8_timeseries.json"))
assert len(side) == 21, len(side)
for s in side:
    j = json.load(open(s))
    assert j.get("Sources"), s
    assert abs(j["RepetitionTime"] - 2.0) < 1e-9, s
EOF
[ -f out/group/train-diagnosis-logreg/metrics.tsv ] || fail "no classification metrics"
[ -f out/report.html ] || fail "no report"

# 2. participant level: everything already done is skipped, the corrupt subject fails again.
tc=sub-03_ses-1_task-rest_run-1_space-${space}_desc-ica12_timeseries.tsv
cp out/sub-03/ses-1/func/$tc ref_tc.tsv
set +e
"$NS_BIN" fmriprep out participant --space "$space" >part1.log 2>&1
rc=$?
set -e
[ $rc -eq 1 ] || fail "participant level with a corrupt subject: exit $rc"
grep -q "20 done before\|21 done before" part1.log || { cat part1.log; fail "finished runs were redone"; }

# 3. kill a participant run mid-way, rerun: same result as uninterrupted.
rm -f out/work/status/sub-03_ses-1_task-rest_run-1*.tsv
rm -f out/sub-03/ses-1/func/sub-03_ses-1_task-rest_run-1_*desc-ica*
"$NS_BIN" fmriprep out participant --space "$space" --participant_label 03 >part2.log 2>&1 &
pid=$!
sleep 0.3
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
ls out/sub-03/ses-1/func/.ns-* 2>/dev/null && echo "(temporaries left by the kill are ignored)"
"$NS_BIN" fmriprep out participant --space "$space" --participant-label sub-03 >part3.log 2>&1 \
  || { cat part3.log; fail "rerun after kill failed"; }
cmp ref_tc.tsv out/sub-03/ses-1/func/$tc \
  || fail "rerun after a kill differs from the uninterrupted run"

# 3b. two participant jobs at once into one OUTPUT_DIR (as Slurm array jobs would).
for l in 04 05; do
  cp out/sub-$l/ses-2/func/sub-${l}_ses-2_task-rest_run-1_space-${space}_desc-ica8_timeseries.tsv ref_$l.tsv
  rm -f out/work/status/sub-${l}_*.tsv out/sub-$l/ses-*/func/*desc-ica*
done
"$NS_BIN" fmriprep out participant --space "$space" --participant_label 04 >par04.log 2>&1 & p1=$!
"$NS_BIN" fmriprep out participant --space "$space" --participant_label 05 >par05.log 2>&1 & p2=$!
wait $p1 || { cat par04.log; fail "concurrent participant job 04 failed"; }
wait $p2 || { cat par05.log; fail "concurrent participant job 05 failed"; }
for l in 04 05; do
  cmp ref_$l.tsv out/sub-$l/ses-2/func/sub-${l}_ses-2_task-rest_run-1_space-${space}_desc-ica8_timeseries.tsv \
    || fail "concurrent job for sub-$l differs from the sequential result"
  [ "$(ls out/work/status/sub-${l}_*.backrecon.tsv | wc -l)" -eq 2 ] || fail "status files of sub-$l"
done

# 4. group level again: models reused, FNC/classifiers/report redone.
set +e
"$NS_BIN" fmriprep out group --space "$space" --orders 8,12 --models logreg --folds 3 --seed 2 >group2.log 2>&1
rc=$?
set -e
grep -q "reused" group2.log || fail "models were not reused"
[ $rc -eq 1 ] || fail "group level again: exit $rc (the corrupt subject still counts as failed)"

# 5. the report in headless Chromium: every image decodes, no console errors.
command -v chromium >/dev/null || fail "chromium is not installed (./run installs it)"
check_page() {
  local page=$1 name=$2
  cat > "harness_$name.html" <<EOF
<!DOCTYPE html><html><head><title>pending</title></head><body>
<iframe id="f" src="file://$NS_TMP/$page" style="width:1200px;height:900px"></iframe>
<script>
document.getElementById('f').addEventListener('load', function () {
  var d = this.contentDocument, imgs = d.images, bad = 0;
  for (var i = 0; i < imgs.length; i++) if (!imgs[i].complete || imgs[i].naturalWidth === 0) bad++;
  document.title = 'RESULT images=' + imgs.length + ' broken=' + bad + ' svgs=' + d.querySelectorAll('svg').length;
});
</script></body></html>
EOF
  local flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --user-data-dir="$NS_TMP/chromium" --allow-file-access-from-files --enable-logging=stderr --v=0
    --virtual-time-budget=20000)
  timeout 120 chromium "${flags[@]}" --dump-dom "file://$NS_TMP/harness_$name.html" \
    >"dom_$name.html" 2>"console_$name.txt" || true
  local res
  res=$(grep -o "RESULT[^<]*" "dom_$name.html" || true)
  echo "$page: $res"
  [[ "$res" =~ images=([0-9]+)\ broken=([0-9]+)\ svgs=([0-9]+) ]] || fail "$page did not load"
  [ "${BASH_REMATCH[1]}" -ge 1 ] || fail "$page has no images"
  [ "${BASH_REMATCH[2]}" -eq 0 ] || fail "$page has ${BASH_REMATCH[2]} broken images"
  [ "${BASH_REMATCH[3]}" -ge "$3" ] || fail "$page has ${BASH_REMATCH[3]} SVG figures, expected >= $3"
  if grep "CONSOLE" "console_$name.txt"; then fail "$page: console messages"; fi
  timeout 120 chromium "${flags[@]}" --window-size=1200,2000 --screenshot="$NS_TMP/shot_$name.png" \
    "file://$NS_TMP/$page" >/dev/null 2>&1 || true
  "$NS_PYTHON" -c "
import sys, zlib, struct
b = open('$NS_TMP/shot_$name.png', 'rb').read()
assert b[:8] == b'\x89PNG\r\n\x1a\n' and len(b) > 10000, len(b)" || fail "no screenshot of $page"
}
check_page out/report.html study 4
check_page out/sub-01.html subject 1
echo "bids pipeline test passed"

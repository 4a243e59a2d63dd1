#!/usr/bin/env bash
# requires: nifti_io
# The NIfTI fuzz seeds and every NIfTI input that once crashed a harness
# (tests/corpus/regress/{fuzz_nifti,fuzz_nifti_gz,fuzz_nifti_gzip,fuzz_analyze}/)
# through the real command, `neurospectra info`, built by the project's own
# compiler (and under ASan+UBSan in the sanitizer build). Each file must
# give exit 0 with a description, or exit 1 with exactly one line
# "neurospectra: error: ... (<file>)" and nothing on stdout; never a signal.
# Seeds named bad_* (and complex64, an unsupported datatype) must fail,
# the other seeds must load.
set -euo pipefail
: "${NS_BIN:?}" "${NS_SRC:?}" "${NS_TMP:?}"
rm -rf "$NS_TMP"
mkdir -p "$NS_TMP/in"
corpus="$NS_SRC/tests/corpus"
fail=0
n=0

# check FILE EXPECT (ok | fail | any)
check() {
  local f=$1 expect=$2 rc=0
  "$NS_BIN" info "$f" >"$NS_TMP/out" 2>"$NS_TMP/err" || rc=$?
  n=$((n + 1))
  local lines
  lines=$(wc -l <"$NS_TMP/err")
  if [ $rc -gt 1 ]; then
    echo "FAIL: exit $rc on $f"; head -5 "$NS_TMP/err"; fail=1; return
  fi
  if [ $rc = 1 ]; then
    if [ "$lines" != 1 ] || ! grep -q "^neurospectra: error: .*($f)\$" "$NS_TMP/err" || [ -s "$NS_TMP/out" ]; then
      echo "FAIL: $f: exit 1 without exactly one error line naming the file:"; head -5 "$NS_TMP/err"; fail=1; return
    fi
  elif [ ! -s "$NS_TMP/out" ]; then
    echo "FAIL: $f: exit 0 and no description"; fail=1; return
  fi
  if [ "$expect" = ok ] && [ $rc != 0 ]; then
    echo "FAIL: valid seed $f refused: $(cat "$NS_TMP/err")"; fail=1
  elif [ "$expect" = fail ] && [ $rc != 1 ]; then
    echo "FAIL: broken seed $f accepted"; fail=1
  fi
}

expect_for() { case $(basename "$1") in bad_* | complex64*) echo fail ;; *) echo ok ;; esac; }

# A .hdr+img corpus file is the 348-byte header followed by the image bytes.
split_pair() {
  local src=$1 dst=$2
  head -c 348 "$src" >"$dst.hdr"
  tail -c +349 "$src" >"$dst.img"
}

for f in "$corpus"/nifti/*.nii; do check "$f" "$(expect_for "$f")"; done
for f in "$corpus"/nifti_gz/*.nii.gz; do check "$f" "$(expect_for "$f")"; done
i=0
for f in "$corpus"/analyze/*; do
  i=$((i + 1)); b="$NS_TMP/in/pair$i"
  split_pair "$f" "$b"; check "$b.hdr" "$(expect_for "$f")"
done

# Regression inputs: any clean outcome, no crash.
shopt -s nullglob
for f in "$corpus"/regress/fuzz_nifti/*; do
  i=$((i + 1)); cp "$f" "$NS_TMP/in/r$i.nii"; check "$NS_TMP/in/r$i.nii" any
done
for f in "$corpus"/regress/fuzz_nifti_gz/*; do
  i=$((i + 1)); cp "$f" "$NS_TMP/in/r$i.nii.gz"; check "$NS_TMP/in/r$i.nii.gz" any
done
for f in "$corpus"/regress/fuzz_nifti_gzip/*; do
  i=$((i + 1)); gzip -c "$f" >"$NS_TMP/in/r$i.nii.gz"; check "$NS_TMP/in/r$i.nii.gz" any
done
for f in "$corpus"/regress/fuzz_analyze/*; do
  i=$((i + 1)); split_pair "$f" "$NS_TMP/in/r$i"; check "$NS_TMP/in/r$i.hdr" any
done

# A short file whose header claims more memory than any machine has (140 TB):
# the file is truncated, whatever the memory (checked before the memory).
"${NS_PYTHON:-/usr/bin/python3}" - "$NS_TMP/in/huge.nii" <<'EOF'
import sys, numpy as np, nibabel as nib
h = nib.Nifti1Header(); h.set_data_dtype(np.float32); h.set_data_shape((32767, 32767, 32767))
open(sys.argv[1], "wb").write(h.binaryblock + b"\0" * 4 + b"\1" * 100)
EOF
check "$NS_TMP/in/huge.nii" fail
grep -q "truncated file" "$NS_TMP/err" || { echo "FAIL: huge claim: $(cat "$NS_TMP/err")"; fail=1; }

[ $n -ge 30 ] || { echo "FAIL: only $n files checked (corpus missing?)"; exit 1; }
[ $fail = 0 ] || exit 1
echo "fuzz regression test passed: $n files"

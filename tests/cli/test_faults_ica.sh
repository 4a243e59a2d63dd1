#!/usr/bin/env bash
# requires: ica sim nifti_io
# Fault injection on `neurospectra ica` (NIfTI maps, TSV, JSON, the NPZ model
# written through libzip, its pass-2 cache): a file-size limit swept from
# 1 KiB to 16 KiB (SIGXFSZ ignored, so that each write fails with EFBIG at a
# different file), and a full 96 KiB tmpfs (skipped, saying why, if mount is
# refused). Over an earlier complete run with another seed, each run must
# either succeed (the limit is above every file) with exactly the reference
# outputs, or fail with exit 1 and one line "neurospectra: error: ... (file)";
# either way no temporary (.name) is left and every file under its final
# name is byte-identical to the earlier run's or to the reference run's.
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}" "${NS_SRC:?}"
rm -rf "$NS_TMP"
mkdir -p "$NS_TMP"
T=$NS_TMP
. "$NS_SRC/tests/cli/faults_lib.sh"

"$NS_BIN" simulate "$T/bids" --subjects 3 --shape 16,16 --timepoints 40 --sources 4 -q
ica() { "$NS_BIN" ica -o "$1" --bids "$T/bids" --orders 4 -q --seed "$2"; }
# References written at the path the faulty runs use (the command line is
# recorded in the outputs).
ica "$T/o" 0 && mv "$T/o" "$T/ref0"
ica "$T/o" 1 && mv "$T/o" "$T/ref1"
largest=$(find "$T/ref1" -type f -printf '%s\n' | sort -n | tail -1)
nfail=0
for kib in 1 2 3 4 6 8 12 16 24; do
  cp -a "$T/ref0" "$T/o"
  rc=0
  (ulimit -f "$kib"; trap '' XFSZ; exec "$NS_BIN" ica -o "$T/o" --bids "$T/bids" --orders 4 -q --seed 1) \
    2>"$T/err" || rc=$?
  if [ $((kib * 1024)) -ge "$largest" ]; then
    [ $rc = 0 ] || bad "ulimit -f $kib KiB: every file fits ($largest bytes), yet exit $rc: $(cat "$T/err")"
    diff -r "$T/o" "$T/ref1" >/dev/null || bad "ulimit -f $kib KiB: outputs differ from the reference"
    echo "ok: ulimit -f $kib KiB: complete, identical to the reference"
  else
    nfail=$((nfail + 1))
    expect_fail "ulimit -f $kib KiB"
    no_partial "ulimit -f $kib KiB" "$T/o" "$T/ref0" "$T/ref1"
  fi
  rm -rf "$T/o"
done
[ $nfail -ge 3 ] || bad "only $nfail limits below the largest output ($largest bytes): the sweep tests too little"

# A full disk. The outputs record the output path, so the references are
# made at the mount point too, on a roomy tmpfs first.
mnt="$T/tmpfs"
mkdir -p "$mnt"
if mount -t tmpfs -o size=16m tmpfs "$mnt" 2>"$T/mount.err"; then
  trap 'umount "$mnt" 2>/dev/null || true' EXIT
  "$NS_BIN" ica -o "$mnt/o" --bids "$T/bids" --orders 4,6 -q --seed 1
  mv "$mnt/o" "$T/ref-big"
  ica "$mnt/o" 0
  mv "$mnt/o" "$T/old-small"
  umount "$mnt"
  mount -t tmpfs -o size=96k tmpfs "$mnt"
  cp -a "$T/old-small" "$mnt/o" || bad "the earlier ica run does not fit a 96 KiB tmpfs"
  rc=0
  "$NS_BIN" ica -o "$mnt/o" --bids "$T/bids" --orders 4,6 -q --seed 1 2>"$T/err" || rc=$?
  expect_fail "96 KiB tmpfs full"
  no_partial "96 KiB tmpfs full" "$mnt/o" "$T/old-small" "$T/ref-big"
  umount "$mnt"
  trap - EXIT
else
  echo "skip: tmpfs variant: mount -t tmpfs refused here: $(cat "$T/mount.err")"
fi

[ $fail = 0 ] || exit 1
echo "ica fault injection test passed"

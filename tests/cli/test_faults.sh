#!/usr/bin/env bash
# requires: nifti_io sim
# Fault injection on the commands that exist (info reads, simulate writes a
# whole BIDS dataset through the atomic writers of core/ and nifti_io/):
#   1. a file-size limit (ulimit -f) with SIGXFSZ ignored: writes fail (EFBIG)
#   2. the same limit with SIGXFSZ at its default, as a user's shell has it
#   3. a full disk: a 64 KiB tmpfs (skipped, saying why, if mount is refused)
#   4. unwritable output: a directory the user cannot write (as nobody), a
#      path under a regular file
#   5. unreadable input: a directory, /dev/null, a missing file, chmod 000
#      (as nobody: root reads anything), a .hdr whose .img is missing or
#      unreadable
#   6. a memory limit (ulimit -v) below what a volume needs (skipped in the
#      ASan build: ASan reserves terabytes of address space up front)
# Every failure must be exit status 1 with exactly one line on stderr,
# "neurospectra: error: <what> (<file>)"; no temporary file (.name) left;
# every file under its final name is complete: either the earlier run's
# version (byte-identical) or the new run's (byte-identical to a reference
# run without the fault).
set -euo pipefail
: "${NS_BIN:?}" "${NS_TMP:?}" "${NS_SRC:?}"
rm -rf "$NS_TMP"
mkdir -p "$NS_TMP"
T=$NS_TMP
. "$NS_SRC/tests/cli/faults_lib.sh"

sanitized=0
grep -q "NS_SANITIZE:BOOL=ON" "${NS_BUILD:-/nonexistent}/CMakeCache.txt" 2>/dev/null && sanitized=1

small=(--subjects 2 --shape 8,8,4 --timepoints 20 --sources 4 --motion -q)

# ------------------------------------------------ 1-2: file-size limit
"$NS_BIN" simulate "$T/ref1" "${small[@]}" --seed 1
"$NS_BIN" simulate "$T/ref2" "${small[@]}" --seed 2
[ -f "$T/ref2/sub-02/func/sub-02_task-rest_bold.nii.gz" ] || bad "reference run incomplete"
for mode in ignored default; do
  out="$T/fsize-$mode"
  cp -a "$T/ref1" "$out"          # the earlier run's outputs
  rc=0
  if [ $mode = ignored ]; then
    (ulimit -f 8; trap '' XFSZ; exec "$NS_BIN" simulate "$out" "${small[@]}" --seed 2) 2>"$T/err" || rc=$?
  else
    (ulimit -f 8; exec "$NS_BIN" simulate "$out" "${small[@]}" --seed 2) 2>"$T/err" || rc=$?
  fi
  expect_fail "ulimit -f 8 KiB, SIGXFSZ $mode"
  no_partial "ulimit -f 8 KiB, SIGXFSZ $mode" "$out" "$T/ref1" "$T/ref2"
done

# ------------------------------------------------ 3: a full (tiny) disk
mnt="$T/tmpfs"
mkdir -p "$mnt"
if mount -t tmpfs -o size=64k tmpfs "$mnt" 2>"$T/mount.err"; then
  trap 'umount "$mnt" 2>/dev/null || true' EXIT
  tiny=(--subjects 1 --shape 8,8 --timepoints 10 --sources 2 --no-subject-maps -q)
  "$NS_BIN" simulate "$T/ref-tiny" "${tiny[@]}" --seed 1
  "$NS_BIN" simulate "$mnt/ds" "${tiny[@]}" --seed 1 || bad "tiny dataset does not fit 64 KiB"
  cp -a "$mnt/ds" "$T/old-tiny"
  "$NS_BIN" simulate "$T/ref-big" --subjects 3 --shape 16,16,8 --timepoints 40 --sources 4 --seed 2 -q
  rc=0
  "$NS_BIN" simulate "$mnt/ds" --subjects 3 --shape 16,16,8 --timepoints 40 --sources 4 --seed 2 -q \
    2>"$T/err" || rc=$?
  expect_fail "64 KiB tmpfs full"
  no_partial "64 KiB tmpfs full" "$mnt/ds" "$T/old-tiny" "$T/ref-big"
  umount "$mnt"
  trap - EXIT
else
  echo "skip: tmpfs variant: mount -t tmpfs refused here: $(cat "$T/mount.err")"
fi

# ------------------------------------------------ 4: unwritable output
: >"$T/plainfile"
rc=0
"$NS_BIN" simulate "$T/plainfile/ds" "${small[@]}" 2>"$T/err" || rc=$?
expect_fail "output under a regular file"
have_nobody=0
if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
  have_nobody=1
fi
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
chmod 755 "$T"
if [ $have_nobody = 1 ]; then
  mkdir -p "$T/rootonly"
  rc=0
  as_nobody "$NS_BIN" simulate "$T/rootonly/ds" "${small[@]}" 2>"$T/err" || rc=$?
  expect_fail "output directory not writable (as nobody)"
  cp -a "$T/ref1" "$T/ro-ds" && chmod -R a-w "$T/ro-ds" && chmod a+rx "$T/ro-ds"
  rc=0
  as_nobody "$NS_BIN" simulate "$T/ro-ds" "${small[@]}" --seed 2 2>"$T/err" || rc=$?
  expect_fail "existing dataset read-only (as nobody)"
  no_partial "existing dataset read-only (as nobody)" "$T/ro-ds" "$T/ref1" "$T/ref2"
else
  echo "skip: setpriv cannot switch to uid 65534 here: unwritable-directory cases not run"
fi

# ------------------------------------------------ 5: unreadable input
vol="$T/ref1/sub-01/func/sub-01_task-rest_bold.nii.gz"
"$NS_BIN" info "$vol" >/dev/null || bad "info cannot read a valid volume"
for f in "$T" /dev/null "$T/missing.nii.gz"; do
  rc=0; "$NS_BIN" info "$f" >/dev/null 2>"$T/err" || rc=$?
  expect_fail "info $f"
done
mkdir -p "$T/dir.nii.gz"
rc=0; "$NS_BIN" info "$T/dir.nii.gz" >/dev/null 2>"$T/err" || rc=$?
expect_fail "info on a directory named .nii.gz"
/usr/bin/python3 - "$T/pair" <<'EOF'
import sys, numpy as np, nibabel as nib
nib.save(nib.Nifti1Pair(np.ones((4, 4, 4), np.float32), np.eye(4)), sys.argv[1] + ".hdr")
EOF
"$NS_BIN" info "$T/pair.hdr" >/dev/null || bad "info cannot read a valid .hdr/.img pair"
mv "$T/pair.img" "$T/pair.img.away"
rc=0; "$NS_BIN" info "$T/pair.hdr" >/dev/null 2>"$T/err" || rc=$?
expect_fail "info on a .hdr whose .img is missing"
mv "$T/pair.img.away" "$T/pair.img"
if [ $have_nobody = 1 ]; then
  cp "$vol" "$T/locked.nii.gz" && chmod 000 "$T/locked.nii.gz"
  rc=0; as_nobody "$NS_BIN" info "$T/locked.nii.gz" >/dev/null 2>"$T/err" || rc=$?
  expect_fail "info on a chmod 000 file (as nobody)"
  chmod 000 "$T/pair.img"
  rc=0; as_nobody "$NS_BIN" info "$T/pair.hdr" >/dev/null 2>"$T/err" || rc=$?
  expect_fail "info on a .hdr whose .img is chmod 000 (as nobody)"
  chmod 644 "$T/pair.img"
fi

# ------------------------------------------------ 6: memory limit
if [ $sanitized = 1 ]; then
  echo "skip: ulimit -v in the ASan build (ASan maps its shadow memory first)"
else
  # A 512 MiB float32 volume of zeros: about 0.5 MB gzip-compressed.
  /usr/bin/python3 - "$T/big.nii.gz" <<'EOF'
import struct, sys, zlib
dims = (128, 128, 64, 128)   # 512 MiB as float32
h = bytearray(352)
struct.pack_into("<i", h, 0, 348)
struct.pack_into("<8h", h, 40, 4, *dims, 1, 1, 1)
struct.pack_into("<hh", h, 70, 16, 32)              # float32
struct.pack_into("<8f", h, 76, 1, 2, 2, 2, 2, 1, 1, 1)
struct.pack_into("<f", h, 108, 352)                  # vox_offset
h[123] = 2 | 8                                       # mm, s
h[344:348] = b"n+1\0"
z = zlib.compressobj(1, zlib.DEFLATED, 31)
with open(sys.argv[1], "wb") as f:
    f.write(z.compress(bytes(h)))
    chunk = bytes(1 << 24)
    for _ in range(128 * 128 * 64 * 128 * 4 // len(chunk)):
        f.write(z.compress(chunk))
    f.write(z.flush())
EOF
  # The smallest limit (in 16 MiB steps) under which info loads a small
  # volume, plus 96 MiB: enough for the program, not for 512 MiB of data.
  # OpenBLAS with one thread here (ctest sets it too); its default is below.
  export OPENBLAS_NUM_THREADS=1
  base=""
  for kb in $(seq 65536 16384 1048576); do
    if (ulimit -v $kb; exec timeout 20 "$NS_BIN" info "$vol" >/dev/null 2>&1); then base=$kb; break; fi
  done
  if [ -z "$base" ]; then
    bad "info does not run under any ulimit -v up to 1 GiB"
  else
    lim=$((base + 98304))
    (ulimit -v $lim; exec timeout 20 "$NS_BIN" info "$vol" >/dev/null) || bad "small volume fails under ulimit -v $lim"
    rc=0
    (ulimit -v $lim; exec timeout 20 "$NS_BIN" info "$T/big.nii.gz") >/dev/null 2>"$T/err" || rc=$?
    expect_fail "ulimit -v $((lim / 1024)) MiB, 512 MiB volume"
    rc=0
    (ulimit -v $lim; exec timeout 60 "$NS_BIN" simulate "$T/mem-ds" --subjects 2 --shape 3d --timepoints 400 -q) \
      2>"$T/err" || rc=$?
    expect_fail "ulimit -v $((lim / 1024)) MiB, simulate 3-D x 400 volumes"
    [ -z "$(find "$T/mem-ds" -name '.*' -print -quit 2>/dev/null)" ] || bad "simulate left temporaries under ulimit -v"
    # The same limit in a user's environment: OpenBLAS's default thread count
    # (one server thread per core, each allocating its buffer at start-up).
    # A hang (timeout: status 124) or a crash is a failure.
    rc=0
    (ulimit -v $lim; exec env -u OPENBLAS_NUM_THREADS timeout 30 "$NS_BIN" info "$T/big.nii.gz") \
      >/dev/null 2>"$T/err" || rc=$?
    [ $rc = 124 ] && echo "program hung (killed after 30 s): OpenBLAS server threads cannot allocate their buffers" >>"$T/err"
    expect_fail "ulimit -v $((lim / 1024)) MiB, OPENBLAS_NUM_THREADS unset"
  fi
  unset OPENBLAS_NUM_THREADS
fi

[ $fail = 0 ] || exit 1
echo "fault injection test passed"

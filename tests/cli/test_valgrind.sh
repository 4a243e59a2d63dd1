#!/usr/bin/env bash
# requires: sim nifti_io
# The commands that exist under valgrind memcheck (--leak-check=full): no
# invalid read/write, no use of uninitialised values, no leak, on success
# and on failure paths:
#   info on valid files (.nii, .nii.gz fast path, NIfTI-2, big-endian, an
#   Analyze .hdr/.img pair), info on broken files (error paths), simulate
#   with a tiny configuration (2 OpenMP threads), simulate failing on an
#   unwritable output path.
# valgrind is installed by ./run; its absence is a failure. The ASan build
# does not register this test (valgrind cannot run ASan binaries).
# One suppression: libgomp keeps its worker threads alive until exit, so
# their thread-local blocks show as "possibly lost" from pthread_create in
# libgomp; nothing of ours.
set -euo pipefail
: "${NS_BIN:?}" "${NS_SRC:?}" "${NS_TMP:?}"
rm -rf "$NS_TMP"
mkdir -p "$NS_TMP"
T=$NS_TMP
. "$NS_SRC/tests/cli/valgrind_lib.sh"

c="$NS_SRC/tests/corpus"
head -c 348 "$c/analyze/analyze_i16.hdr+img" >"$T/pair.hdr"
tail -c +349 "$c/analyze/analyze_i16.hdr+img" >"$T/pair.img"
vg info-valid 0 "$NS_BIN" info "$c/nifti/i16_4d_scaled_ms.nii" "$c/nifti/nifti2_i32.nii" \
  "$c/nifti_gz/f32_be.nii.gz" "$c/nifti_gz/nibabel_standard.nii.gz" "$c/nifti/f64_nan_inf.nii" "$T/pair.hdr"
vg info-json 0 "$NS_BIN" info --json "$c/nifti_gz/i16_4d_scaled_ms.nii.gz" "$c/nifti/u16_5d_singleton.nii"
vg info-broken 1 "$NS_BIN" info "$c/nifti/bad_truncated.nii" "$c/nifti/bad_huge_dims.nii" \
  "$c/nifti/bad_dim0_8.nii" "$c/nifti/complex64.nii" "$c/nifti/bad_vox_offset.nii" \
  "$c/nifti_gz/bad_crc.nii.gz" "$c/nifti_gz/bad_truncated.nii.gz" "$c/nifti_gz/bad_isize_lies.nii.gz" \
  "$T/missing.nii" "$T"
vg simulate 0 "$NS_BIN" simulate "$T/sim" --subjects 2 --shape 8,8,4 --timepoints 12 --sources 3 --motion -q
[ -f "$T/sim/sub-02/func/sub-02_task-rest_bold.nii.gz" ] || { echo "FAIL: simulate wrote no data"; fail=1; }
vg info-simulated 0 "$NS_BIN" info "$T/sim/sub-01/func/sub-01_task-rest_bold.nii.gz"
: >"$T/plainfile"
vg simulate-fails 1 "$NS_BIN" simulate "$T/plainfile/sim" --subjects 2 --shape 8,8,4 --timepoints 12 -q

[ $fail = 0 ] || exit 1
echo "valgrind test passed"

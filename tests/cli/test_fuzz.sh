#!/usr/bin/env bash
# requires: nifti_io
# Fuzzes every reader for a bounded time with libFuzzer (clang +
# libclang-rt-14-dev, installed by ./run): TSV, JSON, BIDS sidecars, NPY, NPZ, NIfTI as
# .nii, as raw .nii.gz bytes, gzip-compressed .nii, and .hdr/.img pairs.
# Fails when the harnesses cannot be built, when any seed or regression input
# (tests/corpus/<reader>/, tests/corpus/regress/<harness>/) crashes, and on
# any crash, sanitizer report, leak, timeout (10 s per input) or memory use
# above 2 GiB while fuzzing.
#
# NS_FUZZ_SECONDS=<n> sets the time of every harness (default: 10-25 s each,
# 2 min in all, so that the suite stays short on 2 cores; NS_FUZZ_SECONDS=60
# for the minute per harness of issue 10). 4 s each in the ASan+UBSan build,
# whose run of the suite repeats the Release one: the harnesses are the
# same clang ASan binaries either way.
# A crash leaves its input in $NS_TMP/artifacts/: fix the bug, then copy the
# input to tests/corpus/regress/<harness>/<what_it_was>.<ext>.
set -euo pipefail
: "${NS_SRC:?}" "${NS_TMP:?}" "${NS_BUILD:?}"
rm -rf "$NS_TMP"
mkdir -p "$NS_TMP/artifacts"
out="$NS_BUILD/fuzz"
corpus="$NS_SRC/tests/corpus"

if ! NS_FUZZ_MODULES="core nifti_io" bash "$NS_SRC/fuzz/build.sh" "$out" >"$NS_TMP/build.log" 2>&1; then
  cat "$NS_TMP/build.log"
  echo "FAIL: the fuzz harnesses do not build (clang and libclang-rt-14-dev are required)"
  exit 1
fi

# Allocations above 1 GiB fail (return NULL) as they would under a memory
# limit (ulimit -v): a reader must then report "out of memory" cleanly. A
# header may legitimately ask for more than the file holds before the data
# are read, so a refused large allocation is not itself a finding; memory
# actually used above 2 GiB (-rss_limit_mb) is.
export ASAN_OPTIONS="allocator_may_return_null=1:max_allocation_size_mb=1024:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

sanitized=0
grep -q "NS_SANITIZE:BOOL=ON" "$NS_BUILD/CMakeCache.txt" 2>/dev/null && sanitized=1

# harness  seed-dir  seconds
table="fuzz_tsv tsv 10
fuzz_json json 8
fuzz_sidecar json 8
fuzz_npy npy 10
fuzz_npz npz 15
fuzz_nifti nifti 25
fuzz_nifti_gz nifti_gz 15
fuzz_nifti_gzip nifti 20
fuzz_analyze analyze 15"

fail=0
# 1. Every seed and every regression input once (also catches a harness that
#    crashes at once, before any mutation).
while read -r h seeds _; do
  files=("$corpus/$seeds"/*)
  [ -d "$corpus/regress/$h" ] && files+=("$corpus/regress/$h"/*)
  if ! "$out/$h" -rss_limit_mb=2048 -timeout=10 "${files[@]}" >"$NS_TMP/$h.replay.log" 2>&1; then
    grep -E "ERROR|SUMMARY|Running:|fuzz:" "$NS_TMP/$h.replay.log" | tail -8
    echo "FAIL: $h crashes on a seed or regression input (log: $NS_TMP/$h.replay.log)"
    fail=1
  else
    echo "ok: $h replays ${#files[@]} seed/regression inputs"
  fi
done <<<"$table"

# 2. Time-bounded fuzzing from the seeds (the working corpus lives in NS_TMP:
#    the committed seeds are never modified).
while read -r h seeds secs; do
  [ -n "${NS_FUZZ_SECONDS:-}" ] && secs=$NS_FUZZ_SECONDS
  [ -z "${NS_FUZZ_SECONDS:-}" ] && [ $sanitized = 1 ] && secs=4
  mkdir -p "$NS_TMP/work/$h"
  log="$NS_TMP/$h.log"
  if "$out/$h" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=4096 \
       -print_final_stats=1 -artifact_prefix="$NS_TMP/artifacts/$h-" \
       "$NS_TMP/work/$h" "$corpus/$seeds" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "ok: $h ran ${runs:-?} inputs in ${secs}s without a crash"
    [ "${runs:-0}" -gt 0 ] || { echo "FAIL: $h executed no inputs"; fail=1; }
  else
    grep -E "ERROR|SUMMARY|runtime error|fuzz:|#[0-9]+ 0x.* in ns_" "$log" | head -15
    ls "$NS_TMP/artifacts/$h-"* 2>/dev/null | sed 's/^/crashing input: /'
    echo "FAIL: $h crashed (log: $log)"
    fail=1
  fi
done <<<"$table"

[ $fail = 0 ] || exit 1
echo "fuzz test passed"

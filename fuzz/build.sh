#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang, independently of the project's
# (gcc) build: every library source they need (core/*.c, nifti_io/*.c) is
# compiled here with -fsanitize=fuzzer-no-link,address,undefined and linked
# against the same dependencies as cmake/Dependencies.cmake.
#
#   fuzz/build.sh OUTDIR [HARNESS...]     (default: every fuzz/fuzz_*.c)
#
# Environment: CC (default clang), NS_FUZZ_MODULES (default "core nifti_io":
# harnesses with a "requires:" line naming another module are skipped),
# NS_FUZZ_JOBS (default 2). Incremental: a source is recompiled only when it,
# or a header, is newer than its object. Exits non-zero when the toolchain is
# missing or anything fails to build: the caller (tests/cli/test_fuzz.sh)
# treats that as a test failure.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
out=${1:?usage: fuzz/build.sh OUTDIR [HARNESS...]}
shift
mkdir -p "$out/obj"
out=$(cd "$out" && pwd)
CC=${CC:-clang}
modules=${NS_FUZZ_MODULES:-core nifti_io}
jobs=${NS_FUZZ_JOBS:-2}

die() { echo "fuzz/build.sh: $*" >&2; exit 1; }
command -v "$CC" >/dev/null || die "$CC not found (apt-get install clang libclang-rt-14-dev)"

san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cflags="-std=c17 -g -O1 $san -D_GNU_SOURCE -DNS_VERSION=\"fuzz\" -I$src -I/usr/include/nifti"
for d in /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas; do
  [ -f "$d/cblas.h" ] && cflags+=" -I$d" && break
done
cflags+=" $(pkg-config --cflags jansson libzip libdeflate libisal libpng)"
for m in $modules; do cflags+=" -DNS_HAVE_${m^^}=1"; done
libs="-lopenblas -llapacke -lgsl -lnifti2 -lznz -lz $(pkg-config --libs jansson libzip libdeflate libisal libpng) -lpthread -lm"

# libFuzzer itself (libclang-rt-14-dev) and OpenMP (clang's libomp) probes.
probe="$out/obj/probe"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}\n' >"$probe.c"
"$CC" -fsanitize=fuzzer,address,undefined "$probe.c" -o "$probe" 2>"$probe.log" ||
  die "$CC cannot link -fsanitize=fuzzer (libclang-rt-14-dev missing?): $(head -3 "$probe.log")"
printf '#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n' >"$probe-omp.c"
if "$CC" -fopenmp "$probe-omp.c" -o "$probe-omp" 2>/dev/null; then
  cflags+=" -fopenmp"; libs+=" -fopenmp"
else
  cflags+=" -Wno-unknown-pragmas"   # pragmas ignored: single-threaded, still correct
fi

headers=$(ls "$src"/core/*.h "$here"/*.h 2>/dev/null; for m in $modules; do ls "$src/$m"/*.h 2>/dev/null || true; done)
newest_header=$(ls -t $headers | head -1)

# Library sources of the requested modules.
sources=()
for m in $modules; do
  [ -d "$src/$m" ] || die "module $m not found under $src"
  for f in "$src/$m"/*.c; do [ -e "$f" ] && sources+=("$f"); done
done
stale=()
objs=()
for f in "${sources[@]}"; do
  rel=${f#"$src"/}
  o="$out/obj/${rel//\//_}.o"
  objs+=("$o")
  if [ ! -e "$o" ] || [ "$f" -nt "$o" ] || [ "$newest_header" -nt "$o" ] || [ "$0" -nt "$o" ]; then
    stale+=("$f")
  fi
done
if [ ${#stale[@]} -gt 0 ]; then
  echo "fuzz/build.sh: compiling ${#stale[@]} library sources with $CC" >&2
  export CC cflags src out
  printf '%s\n' "${stale[@]}" | xargs -P "$jobs" -I{} sh -c '
    f={}; rel=${f#"$src"/}; o="$out/obj/$(echo "$rel" | tr / _).o"
    $CC $cflags -fsanitize=fuzzer-no-link -c "$f" -o "$o.tmp" && mv "$o.tmp" "$o"' ||
    die "compiling the library sources failed"
fi

# Harnesses: all fuzz/fuzz_*.c, or the names given.
if [ $# -gt 0 ]; then
  harnesses=(); for h in "$@"; do harnesses+=("$here/$h.c"); done
else
  harnesses=("$here"/fuzz_*.c)
fi
built=()
for h in "${harnesses[@]}"; do
  [ -f "$h" ] || die "no harness $h"
  name=$(basename "$h" .c)
  req=$(sed -n 's/.*requires:[ ]*\([a-z_ ]*\).*/\1/p' "$h" | head -1)
  skip=""
  for r in $req; do [[ " $modules " == *" $r "* ]] || skip=$r; done
  if [ -n "$skip" ]; then echo "fuzz/build.sh: skipping $name (needs $skip)" >&2; continue; fi
  bin="$out/$name"
  newest_obj=$(ls -t "${objs[@]}" | head -1)
  if [ ! -e "$bin" ] || [ "$h" -nt "$bin" ] || [ "$newest_obj" -nt "$bin" ] || [ "$newest_header" -nt "$bin" ]; then
    # shellcheck disable=SC2086
    "$CC" $cflags -Wall -Wextra -Wno-unused-parameter -fsanitize=fuzzer "$h" "${objs[@]}" $libs -o "$bin.tmp" || die "linking $name failed"
    mv "$bin.tmp" "$bin"
  fi
  built+=("$name")
done
echo "fuzz/build.sh: built ${built[*]} in $out" >&2

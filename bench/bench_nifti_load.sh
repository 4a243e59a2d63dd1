#!/usr/bin/env bash
# Loading 4-D .nii.gz runs of fMRI size (default 20 runs of 64x64x33x150
# int16, as fMRIPrep writes them) to float32, all measured in this run:
#   ours, libdeflate  ns_volume_load (whole-member libdeflate inflate)
#   ours, zlib        ns_volume_load with zlib_only (streaming zlib)
#   info              `neurospectra info` on all files (load + statistics)
#   nibabel           nib.load(f).get_fdata(dtype=float32) in one process
#   libdeflate-gunzip `libdeflate-gunzip -c f > /dev/null` (inflate alone)
#   zcat              `zcat f > /dev/null` (zlib inflate alone)
# Goals: >= 2x faster than nibabel, within 1.3x of bare libdeflate-gunzip.
# Each method runs NS_BENCH_REPEAT times (interleaved); the median is shown.
# Settings: NS_BENCH_RUNS (20), NS_BENCH_DIMS (64,64,33,150),
# NS_BENCH_DTYPE (int16|float32), NS_BENCH_REPEAT (3).
# requires: nifti_io
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${NS_SRC:-$(dirname "$here")}
bin=${NS_BIN:-$src/build/cli/neurospectra}
build=$(cd "$(dirname "$bin")/.." && pwd)
py=${NS_PYTHON:-/usr/bin/python3}
runs=${NS_BENCH_RUNS:-20}
dims=${NS_BENCH_DIMS:-64,64,33,150}
dtype=${NS_BENCH_DTYPE:-int16}
repeat=${NS_BENCH_REPEAT:-3}
work=${NS_BENCH_TMP:-$build/bench_tmp}/nifti_load
data=$work/${dtype}_${dims//,/x}
mkdir -p "$data"

command -v libdeflate-gunzip > /dev/null || { echo "libdeflate-gunzip not found (libdeflate-tools)" >&2; exit 1; }
echo "generating $runs runs of $dims $dtype in $data (kept for the next run)" >&2
"$py" "$here/bench_nifti_gen.py" "$data" "$runs" --dims "$dims" --dtype "$dtype"
mapfile -t files < <(ls "$data"/*.nii.gz | head -n "$runs")
[ "${#files[@]}" -ge "$runs" ] || { echo "missing generated files" >&2; exit 1; }

loader=$work/bench_nifti_load
cc -O2 -std=c17 -D_GNU_SOURCE -I"$src" "$here/bench_nifti_load.c" -o "$loader" \
    -L"$build" -lneurospectra -Wl,-rpath,"$build"

cat > "$work/nib_load.py" <<'EOF'
import sys, time
import numpy as np
import nibabel as nib
t0 = time.perf_counter()
s = 0.0
for f in sys.argv[1:]:
    a = nib.load(f).get_fdata(dtype=np.float32)
    s += float(a.flat[a.size // 2])
print(f"{time.perf_counter() - t0:.6f} {s}")
EOF

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }

# Each function prints the seconds spent on all files.
m_fast() { "$loader" "${files[@]}" | cut -d' ' -f1; }
m_zlib() { "$loader" --zlib "${files[@]}" | cut -d' ' -f1; }
m_info() { local t=$(now); "$bin" info --no-sidecar "${files[@]}" > /dev/null; elapsed "$t" "$(now)"; }
m_nibabel() { "$py" "$work/nib_load.py" "${files[@]}" | cut -d' ' -f1; }
m_gunzip() { local t=$(now) f; for f in "${files[@]}"; do libdeflate-gunzip -c "$f" > /dev/null; done; elapsed "$t" "$(now)"; }
m_zcat() { local t=$(now) f; for f in "${files[@]}"; do zcat "$f" > /dev/null; done; elapsed "$t" "$(now)"; }

methods=(fast zlib info nibabel gunzip zcat)
declare -A label=(
    [fast]="ours, libdeflate (ns_volume_load)"
    [zlib]="ours, zlib streaming (zlib_only)"
    [info]="neurospectra info (load + stats)"
    [nibabel]="nibabel get_fdata(float32)"
    [gunzip]="libdeflate-gunzip -c > /dev/null"
    [zcat]="zcat > /dev/null")
declare -A times
for ((r = 0; r < repeat; r++)); do
    for ((k = 0; k < ${#methods[@]}; k++)); do # rotate the order every round
        m=${methods[$(((k + r) % ${#methods[@]}))]}
        times[$m]="${times[$m]:-} $(m_$m)"
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A med
for m in "${methods[@]}"; do med[$m]=$(echo "${times[$m]}" | median); done

mb=$(du -m -c "${files[@]}" | tail -n 1 | cut -f1)
echo
echo "${#files[@]} runs of $dims $dtype, $mb MB compressed; median of $repeat rounds; $(nproc) cores"
printf '| %-36s | %9s | %10s | %14s |\n' "method" "total s" "ms per run" "time vs ours"
printf '|%s|%s|%s|%s|\n' "--------------------------------------" "-----------" "------------" "----------------"
for m in "${methods[@]}"; do
    awk -v l="${label[$m]}" -v t="${med[$m]}" -v f="${med[fast]}" -v n="${#files[@]}" \
        'BEGIN { printf "| %-36s | %9.3f | %10.1f | %13.2fx |\n", l, t, 1000 * t / n, t / f }'
done
echo
awk -v f="${med[fast]}" -v nb="${med[nibabel]}" -v g="${med[gunzip]}" -v z="${med[zlib]}" 'BEGIN {
    a = nb / f; b = f / g
    printf "nibabel / ours           = %.2fx (goal >= 2)   %s\n", a, ((a >= 2) ? "met" : "MISSED")
    printf "ours / libdeflate-gunzip = %.2fx (goal <= 1.3) %s\n", b, ((b <= 1.3) ? "met" : "MISSED")
    printf "zlib path / libdeflate path = %.2fx\n", z / f }'

#!/usr/bin/env bash
# requires: fnc
# Post-processing + static / multi-scale FNC for NSUB subjects x T TRs x
# orders 50,100,150 (300 components, 44,850 edges): `neurospectra fnc` against
# the same chain in numpy/scipy (bench/bench_fnc.py peer), in one run.
#   bash bench/bench_fnc.sh            (100 subjects x 150 TRs; NS_BENCH_FNC_NSUB / _T override)
# Prints wall and CPU times and their ratios (peer / neurospectra), and checks
# that both wrote the same feature table.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NS_SRC=${NS_SRC:-$(dirname "$here")}
NS_BIN=${NS_BIN:-$NS_SRC/build/cli/neurospectra}
NS_PYTHON=${NS_PYTHON:-/usr/bin/python3}
tmp=${NS_BENCH_TMP:-$NS_SRC/build/bench_tmp}/fnc
nsub=${NS_BENCH_FNC_NSUB:-100}
T=${NS_BENCH_FNC_T:-150}
orders=50,100,150
tree=$tmp/tree_${nsub}x${T}
if [ ! -f "$tree/.complete" ]; then
  rm -rf "$tree" && mkdir -p "$tree"
  echo "generating $nsub subjects x $T TRs x orders $orders ..."
  "$NS_PYTHON" "$here/bench_fnc.py" gen "$tree" "$nsub" "$T" "$orders"
  touch "$tree/.complete"
fi

# One BLAS thread everywhere (small matrices; no oversubscription on a shared
# machine); neurospectra runs with its OpenMP threads (default) and with one.
export OPENBLAS_NUM_THREADS=1
measure() {  # LOG CMD...: wall, user+sys and the compute CPU seconds
  local log=$1; shift
  /usr/bin/time -f "__time %e %U %S" "$@" > "$log" 2>&1 || { cat "$log" >&2; exit 1; }
  awk '/__time/ {w=$2; cpu=$3+$4}
       /fnc timing/ {for (i=1;i<=NF;i++) if ($i=="FNC") comp=$(i+1)}
       /peer_compute=/ {split($0,a,"="); comp=a[2]}
       END {print w, cpu, comp}' "$log"
}
min3() { awk '{for (i=1;i<=NF;i++) if (NR==1 || $i<m[i]) m[i]=$i} END {print m[1], m[2], m[3]}'; }
cn= c1= pp=
for rep in 1 2 3; do  # best of three: the machine is shared
  cn+="$(measure "$tmp/c.log" "$NS_BIN" fnc "$tree" --verbose)"$'\n'
  c1+="$(OMP_NUM_THREADS=1 measure "$tmp/c1.log" "$NS_BIN" fnc "$tree" --verbose)"$'\n'
  pp+="$(measure "$tmp/p.log" "$NS_PYTHON" "$here/bench_fnc.py" peer "$tree" "$orders")"$'\n'
done
read -r cn_w cn_cpu cn_comp <<< "$(printf '%s' "$cn" | min3)"
read -r c1_w c1_cpu c1_comp <<< "$(printf '%s' "$c1" | min3)"
read -r p_w p_cpu p_comp <<< "$(printf '%s' "$pp" | min3)"
nth=$(grep -o 'over [0-9]* threads' "$tmp/c.log" | awk '{print $2}')
diff=$("$NS_PYTHON" "$here/bench_fnc.py" compare "$tree/group/desc-fnc_features.tsv" \
       "$tree/group/desc-fnc_peer_features.tsv")
echo
echo "fnc: $nsub subjects x $T TRs x 300 components (orders $orders), best of 3"
echo "feature tables neurospectra vs numpy/scipy: $diff"
row() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN {printf "%-46s %11.2fs %11.2fs %7.1fx\n", n, a, b, b/a}'; }
printf "%-46s %12s %12s %8s\n" "measure" "neurospectra" "numpy/scipy" "ratio"
row "end to end, wall ($nth threads)" "$cn_w" "$p_w"
row "end to end, wall (1 thread)" "$c1_w" "$p_w"
row "end to end, CPU user+sys (1 thread)" "$c1_cpu" "$p_cpu"
row "post-processing + FNC only, CPU (1 thread)" "$c1_comp" "$p_comp"

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

# time: wall, user+sys (seconds) of a command, its stdout+stderr kept in $2
measure() {
  local out=$1; shift
  /usr/bin/time -f "__time %e %U %S" "$@" > "$out" 2>&1
}
best_c= best_p=
for rep in 1 2 3; do  # best of three: the machine is shared
  measure "$tmp/c.log" "$NS_BIN" fnc "$tree" --verbose
  measure "$tmp/p.log" "$NS_PYTHON" "$here/bench_fnc.py" peer "$tree" "$orders"
  c=$(awk '/__time/ {w=$2; cpu=$3+$4} /fnc timing/ {for(i=1;i<=NF;i++) if ($i=="FNC") comp=$(i+1)} END {print w, cpu, comp}' "$tmp/c.log")
  p=$(awk '/__time/ {w=$2; cpu=$3+$4} /peer_compute=/ {split($0,a,"="); comp=a[2]} END {print w, cpu, comp}' "$tmp/p.log")
  best_c=$(echo "$best_c|$c" | awk -F'|' '{ if ($1=="") print $2; else { split($1,a," "); split($2,b," "); print (a[1]<b[1]?a[1]:b[1]), (a[2]<b[2]?a[2]:b[2]), (a[3]<b[3]?a[3]:b[3]) } }')
  best_p=$(echo "$best_p|$p" | awk -F'|' '{ if ($1=="") print $2; else { split($1,a," "); split($2,b," "); print (a[1]<b[1]?a[1]:b[1]), (a[2]<b[2]?a[2]:b[2]), (a[3]<b[3]?a[3]:b[3]) } }')
done
diff=$("$NS_PYTHON" "$here/bench_fnc.py" compare "$tree/group/desc-fnc_features.tsv" \
       "$tree/group/desc-fnc_peer_features.tsv")
echo
echo "fnc: $nsub subjects x $T TRs x 300 components (orders $orders), best of 3"
echo "feature tables neurospectra vs numpy/scipy: $diff"
printf "%-44s %12s %12s %8s\n" "measure" "neurospectra" "numpy/scipy" "ratio"
echo "$best_c $best_p" | awk '{
  printf "%-44s %11.2fs %11.2fs %7.1fx\n", "end to end, wall (read, compute, write)", $1, $4, $4/$1;
  printf "%-44s %11.2fs %11.2fs %7.1fx\n", "end to end, CPU user+sys", $2, $5, $5/$2;
  printf "%-44s %11.2fs %11.2fs %7.1fx\n", "post-processing + FNC only, wall", $3, $6, $6/$3 }'

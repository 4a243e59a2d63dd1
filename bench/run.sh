#!/usr/bin/env bash
# Runs the benchmarks (bench/bench_<name>.sh), all or those named:
#   bash bench/run.sh [NAME...]      e.g. bash bench/run.sh nifti_load
# Each prints a table of ratios against its peer measured in the same run.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export NS_SRC=$(dirname "$here")
export NS_BIN=${NS_BIN:-$NS_SRC/build/cli/neurospectra}
export NS_PYTHON=${NS_PYTHON:-/usr/bin/python3}
export NS_BENCH_TMP=${NS_BENCH_TMP:-$NS_SRC/build/bench_tmp}
mkdir -p "$NS_BENCH_TMP"
if [ $# -eq 0 ]; then
  set -- $(ls "$here"/bench_*.sh 2>/dev/null | sed 's|.*/bench_||; s|\.sh$||')
fi
status=0
for name in "$@"; do
  script="$here/bench_$name.sh"
  [ -f "$script" ] || { echo "no benchmark '$name' (bench/bench_$name.sh)" >&2; exit 2; }
  echo "== bench $name"
  bash "$script" || { echo "bench $name failed" >&2; status=1; }
done
exit $status

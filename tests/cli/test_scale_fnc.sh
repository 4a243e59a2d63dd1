#!/usr/bin/env bash
# mpirun -np N neurospectra fnc (docs/scaling.md): with 2 and 3 ranks every
# output (relmats, feature table and sidecar, dFNC states, centroids and
# summary) is byte-for-byte the single-process run's, with the low-frequency
# selection (sums across ranks), a participant with two runs and a broken run
# that each process reports once while the others go on (exit 1 everywhere);
# each rank reports its runs and bytes; more ranks than participants work.
# requires: dist fnc
set -euo pipefail
. "${NS_SRC:?}/tests/cli/scratch_lib.sh"
. "$NS_SRC/tests/cli/mpi_lib.sh"

# An ICA derivatives tree: 7 participants (sub-03 with two runs), orders 6
# and 10, 80 TRs at 2 s, coupled components so that FNC has structure.
"$NS_PYTHON" - tree <<'EOF'
import sys, os, json
import numpy as np
rng = np.random.default_rng(3)
out = sys.argv[1]
for s in range(1, 8):
    for run in ([1, 2] if s == 3 else [None]):
        sub = "sub-%02d" % s
        d = os.path.join(out, sub, "func"); os.makedirs(d, exist_ok=True)
        ent = sub + "_task-rest" + ("_run-%d" % run if run else "")
        shared = rng.standard_normal((80, 3))
        for K in (6, 10):
            x = rng.standard_normal((80, K)) + shared @ rng.standard_normal((3, K))
            stem = os.path.join(d, ent + "_desc-ica%d_timeseries" % K)
            ids = ["ica%dc%0*d" % (K, len(str(K)), i + 1) for i in range(K)]
            np.savetxt(stem + ".tsv", x, fmt="%.6g", delimiter="\t", header="\t".join(ids), comments="")
            json.dump({"RepetitionTime": 2.0}, open(stem + ".json", "w"))
EOF
# a run that cannot be read: one line cut short
f=tree/sub-05/func/sub-05_task-rest_desc-ica10_timeseries.tsv
head -c 300 "$f" > cut && mv cut "$f"
for n in 1 2 3; do cp -r tree t$n; done

FNC=(fnc --select lowfreq:0.4 --dynamic --window 20 --states 3)
run() {  # OUT LOG [mpirun -np N]: exit status must be 1 (the broken run)
  local out=$1 log=$2; shift 2
  set +e; "$@" "$NS_BIN" "${FNC[@]}" "$out" -q 2> "$log"; local rc=$?; set -e
  [ $rc -eq 1 ] || { cat "$log"; fail "$out: exit $rc, expected 1 (one broken run)"; }
}
run t1 e1.txt
run t2 e2.txt "${MPI[@]}" -np 2
run t3 e3.txt "${MPI[@]}" -np 3
for n in 1 2 3; do
  [ "$(grep -c 'sub-05_task-rest' e$n.txt)" = 1 ] || { cat e$n.txt; fail "-np $n: the broken run not reported exactly once"; }
done
[ -s t1/group/desc-fnc_features.tsv ] && [ -s t1/group/desc-dfnc_centroids.tsv ] || fail "single-process outputs missing"
for n in 2 3; do
  diff -r -x 'desc-fncmpi_ranks.tsv' t1 t$n > d$n.txt || { head -20 d$n.txt; fail "-np $n differs from one process"; }
  "$NS_PYTHON" - t$n/group/desc-fncmpi_ranks.tsv $n <<'EOF' || fail "rank report of -np $n"
import sys, csv
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
n = int(sys.argv[2])
assert [int(r["rank"]) for r in rows] == list(range(n)), rows
runs = [int(r["runs"]) for r in rows]
# 7 participants dealt in contiguous blocks, sub-03 holding two runs
parts = [7 * (q + 1) // n - 7 * q // n for q in range(n)]
assert sum(runs) == 8 and all(r >= p for r, p in zip(runs, parts)), (runs, parts)
assert all(float(r["bytes_sent"]) > 0 and float(r["bytes_received"]) > 0 for r in rows), rows
print(f"-np {n}: runs per rank {runs}, bytes sent {sum(float(r['bytes_sent']) for r in rows):.0f}")
EOF
done
# the features cover every participant but the broken one, once, in order
cut -f1 t1/group/desc-fnc_features.tsv | tail -n +2 | tr '\n' ' ' | grep -qx 'sub-01 sub-02 sub-03 sub-04 sub-06 sub-07 ' \
  || fail "feature rows: $(cut -f1 t1/group/desc-fnc_features.tsv | tr '\n' ' ')"
grep -q '"Kept"' t1/group/desc-fnc_features.json || fail "selection not recorded"

# More ranks than participants: ranks without runs only take part.
mkdir -p few && cp -r tree/sub-01 tree/sub-02 few/ && cp -r few few3
"$NS_BIN" "${FNC[@]}" few -q
"${MPI[@]}" -np 3 "$NS_BIN" "${FNC[@]}" few3 -q
diff -r -x 'desc-fncmpi_ranks.tsv' few few3 > /dev/null || fail "-np 3 with 2 participants differs"
[ "$(cut -f2 few3/group/desc-fncmpi_ranks.tsv | tail -n +2 | tr '\n' ' ')" = "0 1 1 " ] || fail "rank shares with 2 participants"
echo "ok"

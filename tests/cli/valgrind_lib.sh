# Shared by the memcheck tests (sourced; not a test itself). Needs $T.
# vg NAME EXPECTED_STATUS CMD...: CMD under memcheck must exit with that
# status and leave an empty valgrind log (valgrind's own errors exit 99).
# The ASan build does not register these tests (tests/CMakeLists.txt):
# valgrind cannot run ASan binaries.
command -v valgrind >/dev/null || { echo "FAIL: valgrind is not installed (./run installs it)"; exit 1; }
# libgomp's pool threads are alive at exit: their thread-local blocks show as
# "possibly lost" from pthread_create inside libgomp.
cat >"$T/gomp.supp" <<'SUPP'
{
   libgomp-pool-threads-tls
   Memcheck:Leak
   match-leak-kinds: possible
   ...
   fun:_dl_allocate_tls
   ...
   fun:pthread_create*
   obj:*libgomp.so*
}
SUPP
fail=0
vg() {
  local name=$1 want=$2 rc=0
  shift 2
  OMP_NUM_THREADS=2 valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect,possible --show-leak-kinds=definite,indirect,possible \
    --suppressions="$T/gomp.supp" --num-callers=30 --log-file="$T/$name.vg" "$@" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
  if [ -s "$T/$name.vg" ] || [ $rc = 99 ]; then
    echo "FAIL: $name: valgrind reports errors:"; head -40 "$T/$name.vg"; fail=1
  elif [ $rc != "$want" ]; then
    echo "FAIL: $name: exit $rc, expected $want"; grep -v "info:" "$T/$name.err" | head -5; fail=1
  else
    echo "ok: $name: exit $rc, clean under memcheck"
  fi
}

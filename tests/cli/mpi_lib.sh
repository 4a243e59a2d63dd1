# Shared by the tests that run neurospectra under mpirun (sourced; not a
# test itself; run from the test's scratch directory). Exits 0 with a note
# when the build or the machine has no MPI; defines MPI=(timeout mpirun ...)
# for one machine (--allow-run-as-root --oversubscribe; NS_MPI_TIMEOUT,
# default 120 s, turns a hang into a failure); under ASan, Open MPI's own
# allocations (its plugins are dlclosed: "unknown module" frames) are not
# ours, so LeakSanitizer gets suppressions and full stacks to match them.
if [ "${NS_HAVE_MPI:-ON}" != "ON" ] || ! command -v mpirun >/dev/null; then
  echo "no MPI: nothing to test"; exit 0
fi
MPI=(timeout "${NS_MPI_TIMEOUT:-120}" mpirun --allow-run-as-root --oversubscribe)
printf 'leak:%s\n' ns_dist_mpi_begin MPI_Init ompi_mpi_finalize orte_finalize event_base_loop \
  libopen-pal libopen-rte libmpi '<unknown module>' > "$PWD/lsan.supp"
export LSAN_OPTIONS="suppressions=$PWD/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

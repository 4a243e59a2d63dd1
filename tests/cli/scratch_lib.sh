# Shared preamble of CLI tests (sourced; not a test itself): the variables
# ctest passes, a fresh scratch directory as the working directory, fail().
: "${NS_BIN:?}" "${NS_TMP:?}" "${NS_SRC:?}" "${NS_PYTHON:=/usr/bin/python3}"
rm -rf "$NS_TMP" && mkdir -p "$NS_TMP"
cd "$NS_TMP"
fail() { echo "FAIL: $*" >&2; exit 1; }

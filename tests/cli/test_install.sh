#!/usr/bin/env bash
# `cmake --install` puts the library, headers and neurospectra.pc under a
# prefix; a program outside the tree builds against it with pkg-config.
set -euo pipefail
rm -rf "$NS_TMP" && mkdir -p "$NS_TMP"
prefix="$NS_TMP/prefix"
cmake --install "$NS_BUILD" --prefix "$prefix" >/dev/null
libdir=$(find "$prefix" -name neurospectra.pc -printf '%h\n' | head -1)
test -n "$libdir" || { echo "neurospectra.pc not installed"; exit 1; }
test -f "$prefix/include/neurospectra/core/core.h" || { echo "core.h not installed"; exit 1; }
test -x "$prefix/bin/neurospectra" || { echo "neurospectra not installed"; exit 1; }
extra=""
grep -q "NS_SANITIZE:BOOL=ON" "$NS_BUILD/CMakeCache.txt" && extra="-fsanitize=address,undefined"
export PKG_CONFIG_PATH="$libdir"
# shellcheck disable=SC2046
cc -std=c17 -Wall -Werror $extra -o "$NS_TMP/consumer" "$NS_SRC/tests/install/consumer.c" \
   $(pkg-config --cflags --libs neurospectra)
out=$(LD_LIBRARY_PATH="${libdir%/pkgconfig}" "$NS_TMP/consumer" "$NS_TMP")
echo "consumer: $out"
[ "$out" = "ok openblas" ] || { echo "consumer failed: $out"; exit 1; }
grep -q "^neurospectra " <<<"$("$prefix/bin/neurospectra" --version)" || { echo "installed binary broken"; exit 1; }
echo "install test passed"

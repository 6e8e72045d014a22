#!/usr/bin/env bash
# Runs every test: the C++ unit tests (ctest, plus an AddressSanitizer/UBSan build of them) and the
# Python suite (pytest, against the installed package). Called by README's test command and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${ADVREC_BUILD_JOBS:-2}"

# GoogleTest is the one test dependency PyPI does not carry; Debian's package provides it.
if [ ! -f /usr/include/gtest/gtest.h ] && [ ! -f /usr/local/include/gtest/gtest.h ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "== installing GoogleTest (libgtest-dev)"
    (apt-get install -y -qq libgtest-dev >/dev/null 2>&1) || (apt-get update -qq && apt-get install -y -qq libgtest-dev)
  else
    echo "GoogleTest is missing: install libgtest-dev (Debian/Ubuntu) or set GTest_DIR" >&2
    exit 1
  fi
fi

echo "== C++ unit tests (ctest)"
cmake -S . -B build/ctest -G Ninja -DADVREC_BUILD_TESTS=ON -DADVREC_BUILD_PYTHON=OFF -DADVREC_ISA_DISPATCH=OFF >/dev/null
cmake --build build/ctest -j "$JOBS"
ctest --test-dir build/ctest --output-on-failure -j "$JOBS"

# The wheel also carries AVX2/AVX-512 builds chosen at import time; some kernels differ by ISA
# (register blocking, vector widths), so the C++ tests run once more built for this machine.
echo "== C++ unit tests, built for this machine's instruction set (-march=native)"
cmake -S . -B build/ctest-native -G Ninja -DADVREC_BUILD_TESTS=ON -DADVREC_BUILD_PYTHON=OFF -DADVREC_NATIVE=ON >/dev/null
cmake --build build/ctest-native -j "$JOBS"
ctest --test-dir build/ctest-native --output-on-failure -j "$JOBS"

echo "== C++ unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (ctest)"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DADVREC_BUILD_TESTS=ON -DADVREC_BUILD_PYTHON=OFF \
      -DADVREC_ISA_DISPATCH=OFF -DADVREC_SANITIZE=ON >/dev/null
cmake --build build/asan -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j "$JOBS"

echo "== API reference (Sphinx, warnings are errors)"
python -m sphinx -E -W --keep-going -q -b html docs/api build/docs-api
echo "   built build/docs-api/index.html"

echo "== Python tests (pytest, installed package)"
python -m pytest python/tests -q "$@"

#!/usr/bin/env bash
# Development loop without reinstalling: builds the engine (portable variant only, plus the C++
# tests) into build/dev and links the extension next to the sources, so that
#   PYTHONPATH=src python -m pytest python/tests
# runs against this checkout. `pip install .` remains the way users and CI build.
set -euo pipefail
cd "$(dirname "$0")/.."
# A compiler cache, when installed, makes rebuilds across checkouts and build dirs near-free.
if command -v ccache >/dev/null && [ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ]; then export CMAKE_CXX_COMPILER_LAUNCHER=ccache; fi
# ADVREC_DEV_NATIVE=1: a -march=native build in build/dev-native instead (for timing kernels on
# this machine's full instruction set; the portable build is what correctness work should use).
build=build/dev
native=OFF
if [ "${ADVREC_DEV_NATIVE:-0}" = 1 ]; then build=build/dev-native; native=ON; fi
cmake -S . -B "$build" -G Ninja -DADVREC_BUILD_TESTS=${ADVREC_DEV_TESTS:-ON} -DADVREC_ISA_DISPATCH=OFF \
  -DADVREC_NATIVE=$native >/dev/null
cmake --build "$build" -j "${ADVREC_BUILD_JOBS:-2}"
for so in "$build"/_core*.so; do ln -sf "$(pwd)/$so" src/advrec/; done
echo "built: $(ls src/advrec/_core*.so)"

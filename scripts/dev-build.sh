#!/usr/bin/env bash
# Development loop without reinstalling: builds the engine (portable variant only, plus the C++
# tests) into build/dev and links the extension next to the sources, so that
#   PYTHONPATH=src python -m pytest python/tests
# runs against this checkout. `pip install .` remains the way users and CI build.
set -euo pipefail
cd "$(dirname "$0")/.."
# A compiler cache, when installed, makes rebuilds across checkouts and build dirs near-free.
if command -v ccache >/dev/null && [ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ]; then export CMAKE_CXX_COMPILER_LAUNCHER=ccache; fi
cmake -S . -B build/dev -G Ninja -DADVREC_BUILD_TESTS=${ADVREC_DEV_TESTS:-ON} -DADVREC_ISA_DISPATCH=OFF >/dev/null
cmake --build build/dev -j "${ADVREC_BUILD_JOBS:-2}"
for so in build/dev/_core*.so; do ln -sf "$(pwd)/$so" src/advrec/; done
echo "built: $(ls src/advrec/_core*.so)"

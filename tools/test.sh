#!/usr/bin/env bash
# The test command: installs what is missing, builds (Release, all cores), runs every test.
#   tools/test.sh              # everything
#   BUILD_DIR=build-x tools/test.sh -R orchestrator   # extra args go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" -j"$(nproc)"
cd "$build_dir"
ctest --output-on-failure -j"$(nproc)" "$@"

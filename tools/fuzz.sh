#!/usr/bin/env bash
# Fuzzes the readers of untrusted input under AddressSanitizer + UBSan (issue 7). Not in CI.
#   tools/fuzz.sh                 # every target, 1,000,000 executions each
#   tools/fuzz.sh 20000           # a quick pass
#   TARGETS="config journal" tools/fuzz.sh
# Installs clang and libFuzzer when missing, builds the targets of fuzz/ in build-fuzz/ with
# clang, seeds each corpus from fuzz/corpus/<target>/, runs the targets one after another
# (nice: they are CPU-bound) and prints executions, exec/s and crashes per target. A crash
# input is kept in build-fuzz/crashes/<target>/; replay it with build-fuzz/bin/fuzz_<target> FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-1000000}
targets=${TARGETS:-label_parser list_file config journal}
build_dir=build-fuzz

missing=()
command -v clang++-14 >/dev/null || missing+=(clang-14)
dpkg -s libfuzzer-14-dev >/dev/null 2>&1 || missing+=(libfuzzer-14-dev)
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${missing[@]}"
fi
tools/setup.sh  # the libraries the project itself needs (yaml-cpp, fmt, Boost, ...)

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# -O1 without NDEBUG: assertions stay on, and sanitizer reports stay readable.
cmake -S . -B "$build_dir" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DLV_BUILD_FUZZERS=ON -DLV_BUILD_WORKERS=OFF -DLV_BUILD_TESTS=OFF \
  "${launcher[@]}" >/dev/null
for t in $targets; do
  nice cmake --build "$build_dir" -j"$(nproc)" --target "fuzz_$t" >/dev/null
done

status=0
summary=()
for t in $targets; do
  corpus="$build_dir/corpus/$t"
  crashes="$build_dir/crashes/$t"
  log="$build_dir/logs/$t.log"
  mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
  cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  echo "== fuzz_$t: $runs executions (log: $log)"
  rc=0
  nice "$build_dir/bin/fuzz_$t" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" >"$log" 2>&1 || rc=$?
  execs=$(awk '/stat::number_of_executed_units:/ {print $2}' "$log")
  speed=$(awk '/stat::average_exec_per_sec:/ {print $2}' "$log")
  found=$(find "$crashes" -type f | wc -l)
  if [ "$rc" != 0 ] || [ "$found" != 0 ]; then
    status=1
    tail -n 30 "$log"
  fi
  summary+=("$(printf '%-14s executions %10s   exec/s %8s   crashes %s   (exit %s)' "$t" "${execs:-?}" "${speed:-?}" "$found" "$rc")")
done

echo
printf '%s\n' "${summary[@]}"
exit "$status"

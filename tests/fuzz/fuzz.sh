#!/usr/bin/env bash
# Fuzzes one of tests/fuzz's targets with libFuzzer, ASan and UBSan.
#
#   tests/fuzz/fuzz.sh TARGET [SECONDS] [-- LIBFUZZER_FLAGS...]
#   tests/fuzz/fuzz.sh api_fuzz 600
#   tests/fuzz/fuzz.sh --merge TARGET
#
# TARGET: expression_fuzz, partiql_fuzz or api_fuzz. SECONDS: how long
# (default 300). Builds in build-fuzz/ with clang (installing clang-14 and
# its fuzzer runtime when missing), starts from the committed corpus
# (tests/fuzz/corpus/TARGET, read only) and keeps what it finds in
# build-fuzz/corpus/TARGET, crashes in build-fuzz/crashes/TARGET/. Exits
# non-zero when libFuzzer found a failing input; fix it, then add the input
# to the committed corpus so that every build's TARGET_corpus test replays it.
#
# --merge adds to the committed corpus the inputs of build-fuzz/corpus/TARGET
# that reach code it does not (libFuzzer's -merge=1 over edges only, without
# hit counts, which keeps the committed corpus to hundreds of small files), so
# that the replay tests keep what fuzzing found.
set -euo pipefail
cd "$(dirname "$0")/../.."

merge=0
if [ "${1:-}" = "--merge" ]; then merge=1; shift; fi
target="${1:?usage: $0 [--merge] TARGET [SECONDS] [-- LIBFUZZER_FLAGS...]}"
shift
seconds=300
if [ $# -gt 0 ] && [ "$1" != "--" ]; then seconds="$1"; shift; fi
if [ $# -gt 0 ] && [ "$1" = "--" ]; then shift; fi
if [ ! -d "tests/fuzz/corpus/$target" ]; then
  echo "fuzz.sh: no target $target (tests/fuzz/corpus/$target is missing)" >&2
  exit 2
fi

bash deploy/install-deps.sh
if ! command -v clang++-14 >/dev/null || ! dpkg-query -W libclang-rt-14-dev >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends clang-14 libclang-rt-14-dev >/dev/null
fi

CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKEYSTONE_FUZZ=ON -DKEYSTONE_BUILD_BENCH=OFF >/dev/null
ninja -C build-fuzz "$target"

corpus="build-fuzz/corpus/$target"
crashes="build-fuzz/crashes/$target"
mkdir -p "$corpus" "$crashes"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$PWD/tests/fuzz/ubsan.supp}"
if [ "$merge" = 1 ]; then
  exec "build-fuzz/tests/fuzz/$target" -merge=1 -use_counters=0 "tests/fuzz/corpus/$target" "$corpus"
fi
dict=()
if [ -f "tests/fuzz/$target.dict" ]; then dict=("-dict=tests/fuzz/$target.dict"); fi
# timeout: when an input loops inside a library without coverage hooks
# (yaml-cpp's LoadAll did), libFuzzer reports the out-of-memory but its main
# thread spins on; the fuzzer must not outlive its time.
timeout --kill-after=30 "$((seconds + 120))" \
  "build-fuzz/tests/fuzz/$target" "$corpus" "tests/fuzz/corpus/$target" \
  -max_total_time="$seconds" -artifact_prefix="$crashes/" -print_final_stats=1 \
  "${dict[@]}" "$@"

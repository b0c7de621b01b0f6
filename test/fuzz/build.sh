#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz/ with clang (ASan + UBSan + libFuzzer).
# Usage: test/fuzz/build.sh [OUT_DIR]   (default: $MMSG_FUZZ_OUT or /tmp/mmsg-fuzz)
# Needs clang++-14 (or $CXX) and libclang-rt-14-dev (the libFuzzer runtime).
# Prints the path of each built target.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-${MMSG_FUZZ_OUT:-/tmp/mmsg-fuzz}}"
cxx="${FUZZ_CXX:-clang++-14}"
mkdir -p "$out"
# The targets: every .cpp here that defines LLVMFuzzerTestOneInput (replay_main.cpp is the
# libFuzzer-free driver used by b2).
targets=$(grep -l 'LLVMFuzzerTestOneInput(const' "$here"/*.cpp | grep -v replay_main || true)
for src in $targets; do
    name="$(basename "$src" .cpp)"
    # A target may add flags with a line `// fuzz-flags: ...` (e.g. dropping trace-cmp,
    # which costs a third of the time where inputs are taken modulo anyway).
    extra=$(sed -n 's|^// fuzz-flags: ||p' "$src")
    # shellcheck disable=SC2086
    "$cxx" -std=c++20 -g -O2 -Wall -Wextra -Werror $extra \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$root/include" -DBOOST_ASIO_NO_DEPRECATED \
        "$src" -o "$out/$name"
    echo "$out/$name"
done

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

# build SRC: one target; its compiler output goes to $out/<name>.build.log and its exit
# status to $out/<name>.build.rc.
build() {
    local src=$1 name extra rc=0
    name="$(basename "$src" .cpp)"
    rm -f "$out/$name" "$out/$name.build.rc"
    # A target may add flags with a line `// fuzz-flags: ...` (e.g. dropping trace-cmp,
    # which costs a third of the time where inputs are taken modulo anyway).
    extra=$(sed -n 's|^// fuzz-flags: ||p' "$src")
    # shellcheck disable=SC2086
    "$cxx" -std=c++20 -g -O2 -Wall -Wextra -Werror $extra \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$root/include" -DBOOST_ASIO_NO_DEPRECATED \
        "$src" -o "$out/$name" >"$out/$name.build.log" 2>&1 || rc=$?
    echo "$rc" >"$out/$name.build.rc"
}

# Two compilers at a time ($FUZZ_JOBS, else $MMSG_JOBS, else 2: the machine's two
# cores); then every target's path in source order, or the logs of the ones that failed
# on stderr and exit 1.
jobs="${FUZZ_JOBS:-${MMSG_JOBS:-2}}"
running=0
for src in $targets; do
    build "$src" &
    running=$((running + 1))
    if ((running == jobs)); then
        wait -n
        running=$((running - 1))
    fi
done
wait
failed=0
for src in $targets; do
    name="$(basename "$src" .cpp)"
    if [[ $(cat "$out/$name.build.rc" 2>/dev/null) == 0 ]]; then
        echo "$out/$name"
    else
        echo "building $name failed:" >&2
        cat "$out/$name.build.log" >&2
        failed=1
    fi
done
exit "$failed"

#!/usr/bin/env bash
# CI step: builds the libFuzzer targets (test/fuzz/build.sh) and runs each for a bounded
# time, two at a time, starting from its seed corpus (test/fuzz/corpus/<target>/, never
# written to).
# Env: FUZZ_SECONDS (default 30) per target; builds into $MMSG_BUILD_DIR/20-fuzz (the hook
# convention of build/ci.d/README.md), or $MMSG_FUZZ_OUT, or /tmp/mmsg-fuzz.
# Prints each target's executions and, last, "N passed, N failed". Exit status 1 on failure.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${FUZZ_SECONDS:-30}"
if [ -n "${MMSG_BUILD_DIR:-}" ]; then out="$MMSG_BUILD_DIR/20-fuzz"; else out="${MMSG_FUZZ_OUT:-/tmp/mmsg-fuzz}"; fi
mkdir -p "$out"
passed=0
failed=0

if ! targets=$("$root/test/fuzz/build.sh" "$out" 2>"$out.build.log"); then
    echo "fuzz: building the targets failed (needs clang++-14 and libclang-rt-14-dev):"
    tail -20 "$out.build.log"
    echo "0 passed, 1 failed"
    exit 1
fi

# run_one BIN: one target for $seconds; writes its log and a verdict file next to it.
run_one() {
    local bin=$1 name work seeds log
    name="$(basename "$bin")"
    work="$(mktemp -d)"
    seeds="$root/test/fuzz/corpus/$name"
    log="$out/$name.log"
    # New inputs go to $work; the seed directory is only read. Crash files go to $out.
    if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/$name-" "$work" "$seeds" >"$log" 2>&1; then
        echo ok >"$log.verdict"
    else
        echo failed >"$log.verdict"
    fi
    rm -rf "$work"
}

# Two targets at a time (the machine's two cores; libFuzzer runs one thread each).
running=0
for bin in $targets; do
    run_one "$bin" &
    running=$((running + 1))
    if ((running == 2)); then
        wait -n
        running=$((running - 1))
    fi
done
wait

for bin in $targets; do
    name="$(basename "$bin")"
    log="$out/$name.log"
    if [ "$(cat "$log.verdict" 2>/dev/null)" = ok ]; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
        echo "fuzz $name: ${runs:-?} executions in ${seconds}s, no finding"
        passed=$((passed + 1))
    else
        echo "fuzz $name: FAILED (log: $log)"
        grep -E 'ERROR|check failed|SUMMARY|Test unit written' "$log" | head -10
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

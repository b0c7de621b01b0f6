#!/usr/bin/env bash
# The whole test suite, as CI runs it (`.ci/run` execs this from the repository root):
#   0. build/setup.sh (installs missing Debian packages)
#   1. sanitize: b2 toolset=clang variant=sanitize test example bench: every test and
#                example in a debug build with ASan+UBSan, the compile-only checks (hygiene,
#                compile_fail), and mmsg-perf (always release). clang, because it generates
#                this code about twice as fast as g++ (doc/testing.adoc). g++ compiles every
#                source through its front end (hook build/ci.d/10-gcc-frontend.sh) and the
#                race-checked tests in full (step 2).
#   2. tsan:     every test/<dir>/Jamfile that declares `alias race_checked` (g++)
#   3. hooks:    every executable build/ci.d/*.sh, in name order (see build/ci.d/README.md)
# and ends with one line `N passed, N failed` counting test cases (a Boost.Test binary
# counts its test cases; a target without a Boost.Test report counts as one case; a test
# target that failed to build counts as one failed case). Exits non-zero on any failure,
# including a step that ran fewer test targets than there are test sources.
#
# Usage: bash build/test.sh [--keep] [b2 arguments...]
#   --keep   reuse the build dir instead of starting fresh (faster local re-runs)
# Environment: MMSG_BUILD_DIR (default <repo>/build/out), MMSG_JOBS (default 2),
#   MMSG_ACTION_LIMIT (seconds any one compile, link or test run may take; default 300).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

keep=0
b2_args=()
for a in "$@"; do
    case $a in
        --keep) keep=1 ;;
        -h | --help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) b2_args+=("$a") ;;
    esac
done

out=${MMSG_BUILD_DIR:-$root/build/out}
jobs=${MMSG_JOBS:-2}
action_limit=${MMSG_ACTION_LIMIT:-300}
logs=$out/logs
if ((keep == 0)); then rm -rf "$out"; fi
mkdir -p "$logs"

export BOOST_TEST_REPORT_LEVEL=short
export BOOST_TEST_COLOR_OUTPUT=no
export MMSG_ROOT=$root MMSG_BUILD_DIR=$out MMSG_JOBS=$jobs

total_pass=0
total_fail=0
summary=()
start_all=$SECONDS

say() { printf '\n=== %s\n' "$*"; }

# record STEP PASSED FAILED SECONDS [NOTE]
record() {
    local status=ok
    (($3 > 0)) && status=FAILED
    summary+=("$(printf '%-28s %6d passed %5d failed %6ss  %s %s' "$1" "$2" "$3" "$4" "$status" "${5:-}")")
    total_pass=$((total_pass + $2))
    total_fail=$((total_fail + $3))
    printf -- '--- %s: %d passed, %d failed (%ss) %s\n' "$1" "$2" "$3" "$4" "${5:-}"
}

# count_cases DIR: prints "passed failed targets" for every test target (a `*.test`
# directory) under DIR, and lists the failed targets on stderr.
count_cases() {
    local dir=$1 p=0 f=0 n=0 t name ok output tp tf
    while IFS= read -r -d '' t; do
        n=$((n + 1))
        name=$(basename "$t" .test)
        ok=0
        [[ -n $(find "$t" -type f -name "$name.test" -print -quit) ]] && ok=1
        output=$(find "$t" -type f -name '*.output' -print -quit)
        tp=-1 tf=0
        if [[ -n $output ]]; then
            read -r tp tf < <(awk '
                /^[[:space:]]*[0-9]+ test cases? out of [0-9]+ passed/ { p = $1; seen = 1 }
                /^[[:space:]]*[0-9]+ test cases? out of [0-9]+ failed/ { f = $1; seen = 1 }
                END { if (seen) print p + 0, f + 0; else print -1, 0 }' "$output")
        fi
        if ((tp >= 0)); then
            # A binary whose cases all passed but which still failed (a leak report at
            # exit, a crash in a destructor) counts one more failed case.
            ((ok == 0 && tf == 0)) && tf=1
            p=$((p + tp)) f=$((f + tf))
        elif ((ok)); then
            p=$((p + 1))
        else
            f=$((f + 1))
        fi
        if ((ok == 0 || tf > 0)); then echo "    FAILED: $name" >&2; fi
    done < <(find "$dir" -type d -name '*.test' -prune -print0 2>/dev/null)
    echo "$p $f $n"
}

# Test sources that must each give at least one target: files with a test main (or a
# compile-fail case) directly in test/<dir>/, except test/support and test/fuzz.
expected_tests() {
    local n=0 f d
    for f in test/*/*.cpp; do
        [[ -e $f ]] || continue
        d=$(basename "$(dirname "$f")")
        [[ $d == support || $d == fuzz ]] && continue
        if [[ $d == compile_fail ]] || grep -qE 'BOOST_TEST_MODULE|BOOST_AUTO_TEST_CASE|[[:space:]]main[[:space:]]*\(' "$f"; then
            n=$((n + 1))
        fi
    done
    echo "$n"
}
expected_examples() {
    local n=0 f
    for f in example/*.cpp; do
        [[ -e $f ]] && grep -qE 'BOOST_TEST_MODULE|[[:space:]]main[[:space:]]*\(' "$f" && n=$((n + 1))
    done
    echo "$n"
}

# failed_actions LOG: for each action b2 reports as failed, its action line, what it printed
# (compiler diagnostics, the test's output) and the ...failed line; not the command text.
failed_actions() {
    awk '
        /^[a-z0-9_+-]+\.[a-zA-Z0-9_.+-]+ \// { block = $0 "\n"; incmd = 0; next }
        /^\.\.\.failed updating / { next }
        /^\.\.\.failed / { printf "%s%s\n\n", block, $0; block = ""; incmd = 0; next }
        /^\*\*passed\*\*/ || /^\.\.\./ { next }
        {
            if (!incmd && $0 ~ /^    [^0-9 |]/) incmd = 1
            if (!incmd) block = block $0 "\n"
        }' "$1"
}

# b2_step NAME BUILD_SUBDIR EXPECT_TESTS EXPECT_EXAMPLES b2-args...
b2_step() {
    local name=$1 sub=$2 want_t=$3 want_e=$4
    shift 4
    local dir=$out/$sub log=$logs/$name.log t0=$SECONDS rc p f n note=""
    say "$name: b2 -j$jobs --build-dir=$dir $*"
    # -l: no action (compile, link, test run) may take longer than $action_limit s, so a
    # hanging test fails instead of stalling CI.
    b2 -j"$jobs" -l"$action_limit" --build-dir="$dir" "$@" "${b2_args[@]}" >"$log" 2>&1
    rc=$?
    grep -E '^\.\.\.(failed|skipped) |^\(failed-as-expected\)|^\.\.\.(updated|found) ' "$log" |
        grep -v 'failed-as-expected' | tail -n 40
    read -r p f n < <(count_cases "$dir")
    local got_t got_e
    got_t=$(find "$dir" -path '*/bin.v2/test/*' -type d -name '*.test' -prune -print 2>/dev/null | wc -l)
    got_e=$(find "$dir" -path '*/bin.v2/example/*' -type d -name '*.test' -prune -print 2>/dev/null | wc -l)
    if ((got_t < want_t || got_e < want_e)); then
        note="only $got_t test targets for $want_t test sources, $got_e example targets for $want_e examples: a Jamfile builds too little"
        echo "ERROR: $note" >&2
        f=$((f + 1))
    fi
    if ((rc != 0 && f == 0)); then
        note="b2 exited $rc without a failed test: see $log"
        echo "ERROR: $note" >&2
        f=1
    fi
    if ((f > 0)); then
        echo "    (full log: $log; what failed follows)"
        failed_actions "$log" | head -n 200
    fi
    record "$name" "$p" "$f" $((SECONDS - t0)) "$note"
}

say "setup: build/setup.sh"
t0=$SECONDS
if bash build/setup.sh; then
    echo "--- setup: ok ($((SECONDS - t0))s)"
else
    record setup 0 1 $((SECONDS - t0)) "build/setup.sh failed"
fi

want_t=$(expected_tests)
want_e=$(expected_examples)
echo "test sources: $want_t, examples: $want_e"

b2_step sanitize sanitize "$want_t" "$want_e" toolset=clang variant=sanitize test example bench

# ThreadSanitizer: only what each component lists in its `alias race_checked`. (The alias
# cannot be called `tsan`: B2 4.9 reads `dir//tsan` as the variant property.)
for jf in test/*/Jamfile; do
    grep -qE '^[[:space:]]*alias[[:space:]]+race_checked[[:space:]]' "$jf" || continue
    d=$(dirname "$jf")
    b2_step "tsan-$(basename "$d")" "tsan-$(basename "$d")" 1 0 toolset=gcc variant=tsan "$d//race_checked"
done

# Hooks registered by components: each prints a last line `N passed, N failed`.
for hook in build/ci.d/*.sh; do
    [[ -x $hook ]] || continue
    name=hook-$(basename "$hook" .sh)
    log=$logs/$name.log
    say "$name: $hook"
    t0=$SECONDS
    "$hook" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [[ -z $line ]]; then
        record "$name" 0 1 $((SECONDS - t0)) "no 'N passed, N failed' line (exit $rc)"
        continue
    fi
    p=${line%% passed*}
    f=${line#*, }
    f=${f%% failed}
    note=""
    if ((rc != 0 && f == 0)); then
        f=1
        note="exited $rc"
    fi
    record "$name" "$p" "$f" $((SECONDS - t0)) "$note"
done

say "summary (build dir $out, $((SECONDS - start_all))s)"
printf '%s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed"
((total_fail == 0))

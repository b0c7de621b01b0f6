#!/usr/bin/env bash
# CI step: every test, example and benchmark source through g++'s front end. The sanitized
# build runs under clang (it generates code about twice as fast), so this is where g++ 12,
# the project's default compiler, sees each program: parsing, every template instantiated,
# and its front-end warnings with -Werror, but no code generated (`-fsyntax-only`, a fifth
# of a sanitized compile).
# The commands are b2's own, from a dry run of the debug build (`b2 -n -a`), so each file
# gets exactly the flags, defines and include paths its Jamfile gives it; only `-c -o FILE`
# becomes `-fsyntax-only`. test/hygiene (already -fsyntax-only, per header) and
# test/compile_fail (meant to fail) are left out.
# Prints one line per failed file with g++'s diagnostics and, last, "N passed, N failed"
# (one case per source file). Exit status 1 on failure.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root" || exit 1
out="${MMSG_BUILD_DIR:-/tmp/mmsg-ci}/10-gcc-frontend"
jobs="${MMSG_JOBS:-2}"
rm -rf "$out"
mkdir -p "$out/cmd"

# One command per compiled source, as b2 would run it in the debug build.
if ! b2 -n -a --build-dir="$out/dry" toolset=gcc variant=debug test example bench >"$out/dry.log" 2>&1; then
    echo "gcc-frontend: b2's dry run failed:"
    tail -20 "$out/dry.log"
    echo "0 passed, 1 failed"
    exit 1
fi
awk -v dir="$out/cmd" '
    /^gcc\.compile\.c\+\+ / { want = 1; next }
    want && /^[[:space:]]*$/ { next }
    want && /^    "g\+\+" / {
        want = 0
        src = $NF; gsub(/"/, "", src)
        if (src ~ /^test\/(hygiene|compile_fail)\//) next
        if (src ~ /^\//) next    # generated sources in the build dir
        cmd = $0
        sub(/ -c -o "[^"]*" /, " -fsyntax-only ", cmd)
        if (seen[cmd]++) next    # the same file with the same flags for two targets
        n++
        f = sprintf("%s/%04d.sh", dir, n)
        print src > (f ".src")
        print cmd > f
        close(f); close(f ".src")
        next
    }
    { want = 0 }' "$out/dry.log"

cmds=("$out"/cmd/*.sh)
if [[ ! -e ${cmds[0]} ]]; then
    echo "gcc-frontend: no compile command found in b2's dry run ($out/dry.log)"
    echo "0 passed, 1 failed"
    exit 1
fi
# A command that did not become -fsyntax-only would write into the dry build dir: refuse.
if bad=$(grep -L -- '-fsyntax-only' "${cmds[@]}") && [[ -n $bad ]]; then
    echo "gcc-frontend: commands not in the expected form: $bad"
    echo "0 passed, 1 failed"
    exit 1
fi

printf '%s\0' "${cmds[@]}" |
    xargs -0 -P "$jobs" -I{} sh -c 'sh "$1" >"$1.log" 2>&1; echo $? >"$1.rc"' _ {}

passed=0
failed=0
for c in "${cmds[@]}"; do
    src=$(cat "$c.src")
    if [[ $(cat "$c.rc" 2>/dev/null) == 0 ]]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "  FAILED: g++ -fsyntax-only $src"
        head -n 40 "$c.log" | sed 's/^/    /'
    fi
done
echo "g++ front end: $passed of $((passed + failed)) sources clean"
echo "$passed passed, $failed failed"
((failed == 0))

#!/usr/bin/env bash
# The demo (README's first command): installs what is missing, builds mmsg-perf
# optimised, and runs it over loopback. Arguments go to mmsg-perf (try --help).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash build/setup.sh

out=${MMSG_BUILD_DIR:-$root/build/out}/demo
mkdir -p "$out"
echo "building mmsg-perf (release) ..." >&2
if ! b2 -j"${MMSG_JOBS:-2}" --build-dir="$out" bench//mmsg-perf >"$out.log" 2>&1; then
    tail -n 40 "$out.log" >&2
    echo "demo.sh: the build failed (full log: $out.log)" >&2
    exit 1
fi
exe=$(find "$out" -type f -name mmsg-perf -perm -u+x -print -quit)
[[ -n $exe ]] || { echo "demo.sh: mmsg-perf not found under $out" >&2; exit 1; }
exec "$exe" "$@"

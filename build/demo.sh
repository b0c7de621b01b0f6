#!/usr/bin/env bash
# The demo (README's first command): installs what is missing, builds mmsg-perf
# optimised, and runs it over loopback. Arguments go to mmsg-perf (try --help).
#
#   bash build/demo.sh --peers [args]   first runs build/setup-peers.sh (libuv and
#       quinn-udp, Debian's Rust), then shows the groups with peer rows beside the mmsg
#       rows: --size 64,1232 --rows "send,receive,gso send,gso receive" unless [args]
#       choose other sizes or rows.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
peers=0
if [[ ${1:-} == --peers ]]; then
    peers=1
    shift
fi
bash build/setup.sh
if ((peers)); then bash build/setup-peers.sh; fi

out=${MMSG_BUILD_DIR:-$root/build/out}/demo
mkdir -p "$out"
echo "building mmsg-perf (release) ..." >&2
if ! b2 -j"${MMSG_JOBS:-2}" --build-dir="$out" bench//mmsg-perf >"$out.log" 2>&1; then
    tail -n 40 "$out.log" >&2
    echo "demo.sh: the build failed (full log: $out.log)" >&2
    exit 1
fi
# The newest: where peers were installed since the last build, the build with them is in
# another directory (bench/Jamfile names the peers found in the target path).
exe=$(find "$out" -type f -name mmsg-perf -perm -u+x -printf '%T@ %p\n' | sort -n |
    tail -n 1 | cut -d' ' -f2-)
[[ -n $exe ]] || { echo "demo.sh: mmsg-perf not found under $out" >&2; exit 1; }
if ((peers)); then
    defaults=(--size 64,1232)
    rows=0
    for a in "$@"; do [[ $a == --rows || $a == --rows=* ]] && rows=1; done
    ((rows)) || defaults+=(--rows "send,receive,gso send,gso receive")
    exec "$exe" "${defaults[@]}" "$@"
fi
exec "$exe" "$@"

#!/usr/bin/env bash
# Installs every Debian package the project needs (listed in build/packages.txt) when it
# is missing. Idempotent and silent when everything is already there. Debian 12, as root
# (or with sudo available).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]\+//g' -e '/^$/d' "$here/packages.txt")

missing=()
for p in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if ((EUID == 0)); then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "setup.sh: missing packages (${missing[*]}) and not root: run as root" >&2
    exit 1
fi

echo "setup.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
echo "setup.sh: done" >&2

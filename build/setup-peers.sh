#!/usr/bin/env bash
# Optional: the peer libraries of mmsg-perf's peer rows (bench/rows_peers.hpp). Installs
# libuv and quinn-udp with Debian's own Rust toolchain (Debian 12 packages only), then
# builds bench/peers/quinn (a C ABI over quinn-udp) offline into
#   ${MMSG_BUILD_DIR:-<repo>/build/out}/peers/libmmsg_quinn_peer.a
# where bench/Jamfile looks for it. Idempotent: installs only what is missing, and cargo
# rebuilds only what changed. As root (or with sudo available).
#
# Then `bash build/demo.sh --peers` (which runs this first) shows the peer rows beside the
# mmsg rows; any later build of mmsg-perf (b2 bench, build/demo.sh) has them too.
# build/demo.sh and build/test.sh never need this: without it the peer rows are not built.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${MMSG_BUILD_DIR:-$root/build/out}/peers

# Debian's Rust (cargo 0.66, rustc 1.63), not whatever rustup put first in PATH.
cargo=/usr/bin/cargo
rustc=/usr/bin/rustc

wanted=(
    libuv1-dev             # the libuv rows (uv_udp_try_send, UV_UDP_RECVMMSG)
    librust-quinn-udp-dev  # quinn-udp 0.3.2 sources (and their dependencies' sources)
    cargo                  # Debian's cargo, builds the peer crate offline
    rustc                  # Debian's rustc
)
missing=()
for p in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
    if ((EUID == 0)); then
        sudo=()
    elif command -v sudo >/dev/null; then
        sudo=(sudo)
    else
        echo "setup-peers.sh: missing packages (${missing[*]}) and not root: run as root" >&2
        exit 1
    fi
    echo "setup-peers.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq >/dev/null
    "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The crate is built from a copy, so that cargo writes nothing (Cargo.lock, target/) into
# the source tree. Its own CARGO_HOME holds the only configuration cargo reads besides the
# crate's: crates.io replaced by the sources Debian installed, and no network.
mkdir -p "$out/cargo-home" "$out/src"
cat >"$out/cargo-home/config.toml" <<TOML
[source.crates-io]
replace-with = "debian"

[source.debian]
directory = "/usr/share/cargo/registry"

[net]
offline = true
TOML
cp -rp "$root/bench/peers/quinn/." "$out/src/" # -p: unchanged sources stay unchanged for cargo

echo "setup-peers.sh: building the quinn-udp peer with $("$rustc" --version) ..." >&2
(
    cd "$out/src"
    CARGO_HOME=$out/cargo-home RUSTC=$rustc \
        "$cargo" build --offline --release --quiet --target-dir "$out/target"
)
# Replaced only when cargo made a different one, so that mmsg-perf is not relinked for nothing.
lib=$out/libmmsg_quinn_peer.a
if ! cmp -s "$out/target/release/libmmsg_quinn_peer.a" "$lib"; then
    cp "$out/target/release/libmmsg_quinn_peer.a" "$lib.tmp"
    mv "$lib.tmp" "$lib"
fi
echo "setup-peers.sh: $lib" >&2

#!/usr/bin/env bash
# Installs mmsg with `b2 install --prefix=...` into a temporary prefix and builds and runs
# a consumer program against it, with CMake (find_package(mmsg CONFIG)) and with
# pkg-config. Its last line is `N passed, N failed`; exits non-zero on a failure.
# Usage: test/install/check.sh   (from anywhere; needs b2, cmake, make, pkg-config, g++)
# Works in $MMSG_BUILD_DIR/install when MMSG_BUILD_DIR is set (CI keeps it for the logs),
# else in a temporary directory that is removed at exit.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$root/test/install
if [[ -n ${MMSG_BUILD_DIR:-} ]]; then
    work=$MMSG_BUILD_DIR/install
    rm -rf "$work" && mkdir -p "$work"
else
    work=$(mktemp -d /tmp/mmsg-install.XXXXXX)
    trap 'rm -rf "$work"' EXIT
fi
prefix=$work/prefix

check() { # check NAME COMMAND...: runs the command; prints pass, or FAIL and its log's tail
    local name=$1 log; shift
    log=$(mktemp "$work/log.XXXXXX")
    if "$@" >"$log" 2>&1; then
        echo "  pass: $name"
    else
        echo "  FAIL: $name"; sed 's/^/    | /' "$log" | tail -40
    fi
}
both() { # both F G: runs the two functions at once (two cores), then prints F's output, G's
    "$1" >"$work/lane-$1" 2>&1 &
    local pid=$!
    "$2" >"$work/lane-$2" 2>&1
    wait "$pid"
    cat "$work/lane-$1" "$work/lane-$2"
}

b2_install() {
    cd "$root" && b2 -d0 --build-dir="$work/b2" install --prefix="$1"
}
headers_installed() { # every public header of the source tree is in the prefix
    cd "$root/include" && local h missing=0
    for h in $(find . -name '*.hpp'); do
        [[ -f $1/include/$h ]] || { echo "missing: $h"; missing=1; }
    done
    return $missing
}
cmake_consumer() { # cmake_consumer PREFIX BUILD
    cmake -S "$here" -B "$2" -DCMAKE_PREFIX_PATH="$1" -DCMAKE_BUILD_TYPE=Release &&
        cmake --build "$2" && "$2/consumer"
}
cmake_rejects_newer_version() { # find_package(mmsg 0.2) must not accept 0.1.x
    mkdir -p "$work/v" && cat >"$work/v/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(v LANGUAGES CXX)
find_package(mmsg 0.2 CONFIG REQUIRED)
CMAKE
    ! cmake -S "$work/v" -B "$work/v/build" -DCMAKE_PREFIX_PATH="$prefix" >"$work/v/out" 2>&1 &&
        cat "$work/v/out" && grep -q '0\.1\.0' "$work/v/out" # refused for its version
}
pkgconfig_consumer() ( # pkgconfig_consumer PREFIX (a subshell: the export stays here)
    export PKG_CONFIG_PATH=$1/share/pkgconfig
    rm -f "$work/consumer-pc" # never run a binary of an earlier step
    echo "pkg-config --cflags --libs mmsg: $(pkg-config --cflags --libs mmsg)"
    # tag::pkgconfig[]
    g++ -Wall -Wextra -Werror -o "$work/consumer-pc" "$here/consumer.cpp" \
        $(pkg-config --cflags --libs mmsg)
    # end::pkgconfig[]
    (($? == 0)) && "$work/consumer-pc"
)
cmake_io_uring_consumer() {
    cmake -S "$here" -B "$work/cmake-uring" -DCMAKE_PREFIX_PATH="$prefix" -DMMSG_CONSUMER_IO_URING=ON &&
        cmake --build "$work/cmake-uring" && "$work/cmake-uring/consumer_io_uring"
}
pkgconfig_io_uring_consumer() (
    export PKG_CONFIG_PATH=$prefix/share/pkgconfig
    rm -f "$work/consumer-uring-pc"
    echo "pkg-config --cflags --libs mmsg-io-uring: $(pkg-config --cflags --libs mmsg-io-uring)"
    g++ -Wall -Wextra -Werror -o "$work/consumer-uring-pc" "$here/consumer_io_uring.cpp" \
        $(pkg-config --cflags --libs mmsg-io-uring) && "$work/consumer-uring-pc"
)
cmake_xdp_consumer() {
    cmake -S "$here" -B "$work/cmake-xdp" -DCMAKE_PREFIX_PATH="$prefix" -DMMSG_CONSUMER_XDP=ON &&
        cmake --build "$work/cmake-xdp" && "$work/cmake-xdp/consumer_xdp"
}
pkgconfig_xdp_consumer() (
    export PKG_CONFIG_PATH=$prefix/share/pkgconfig
    rm -f "$work/consumer-xdp-pc"
    echo "pkg-config --cflags --libs mmsg-xdp: $(pkg-config --cflags --libs mmsg-xdp)"
    g++ -Wall -Wextra -Werror -o "$work/consumer-xdp-pc" "$here/consumer_xdp.cpp" \
        $(pkg-config --cflags --libs mmsg-xdp) && "$work/consumer-xdp-pc"
)
versions_agree() {
    local pc cm
    pc=$(PKG_CONFIG_PATH=$prefix/share/pkgconfig pkg-config --modversion mmsg) &&
        cm=$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")/\1/p' "$prefix/share/cmake/mmsg/mmsgConfigVersion.cmake") &&
        echo "pkg-config $pc, cmake $cm" && [[ -n $pc && $pc == "$cm" ]]
}

have_liburing() { [[ -f /usr/include/liburing.h ]] && pkg-config --exists liburing; }
have_libxdp() { [[ -f /usr/include/xdp/xsk.h ]] && pkg-config --exists libxdp libbpf; }

# The consumers: CMake ones in one lane, pkg-config ones in the other, run side by side.
cmake_lane() {
    check "CMake consumer builds and runs" cmake_consumer "$prefix" "$work/cmake"
    check "CMake rejects a newer version request" cmake_rejects_newer_version
    if have_liburing; then
        check "CMake io_uring component consumer builds and runs" cmake_io_uring_consumer
    else
        echo "  skip: CMake io_uring consumer (liburing-dev is not installed)"
    fi
    if have_libxdp; then
        check "CMake xdp component consumer builds and runs" cmake_xdp_consumer
    else
        echo "  skip: CMake xdp consumer (libxdp-dev and libbpf-dev are not installed)"
    fi
}
pkgconfig_lane() {
    check "pkg-config consumer builds and runs" pkgconfig_consumer "$prefix"
    check "pkg-config and CMake versions agree" versions_agree
    if have_liburing; then
        check "pkg-config mmsg-io-uring consumer builds and runs" pkgconfig_io_uring_consumer
    else
        echo "  skip: pkg-config io_uring consumer (liburing-dev is not installed)"
    fi
    if have_libxdp; then
        check "pkg-config mmsg-xdp consumer builds and runs" pkgconfig_xdp_consumer
    else
        echo "  skip: pkg-config xdp consumer (libxdp-dev and libbpf-dev are not installed)"
    fi
}
# The installed tree is relocatable: both consumers work after the prefix moves.
cmake_moved() { check "CMake consumer works after the prefix moves" cmake_consumer "$work/moved" "$work/cmake-moved"; }
pkgconfig_moved() { check "pkg-config consumer works after the prefix moves" pkgconfig_consumer "$work/moved"; }

run_all() {
    echo "install: prefix $prefix"
    check "b2 install --prefix" b2_install "$prefix"
    check "every public header is installed" headers_installed "$prefix"
    both cmake_lane pkgconfig_lane
    mv "$prefix" "$work/moved"
    both cmake_moved pkgconfig_moved
}
run_all | tee "$work/results"
passed=$(grep -c '^  pass: ' "$work/results")
failed=$(grep -c '^  FAIL: ' "$work/results")
echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))

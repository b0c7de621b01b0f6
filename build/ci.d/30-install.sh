#!/usr/bin/env bash
# CI step: `b2 install` into a temporary prefix, then CMake and pkg-config consumer builds
# (the CMake ones and the pkg-config ones side by side, one lane each).
# Last line: `N passed, N failed` (see test/install/check.sh).
exec "$(dirname "${BASH_SOURCE[0]}")/../../test/install/check.sh"

#!/usr/bin/env bash
# Exits 0 when the last setup (scripts/setup.sh) finished after every change to what it builds from:
# its stamp .setup-stamps/ready names this Node and libtorch choice, the built files exist, and no
# source, lockfile, build script or page file is newer than the stamp. Otherwise exits 1: run setup.
# Costs a few milliseconds, so the launcher can skip setup (issue 21: commands start in under a second).
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.setup-stamps/ready
[ -f "$stamp" ] || exit 1
[ -f dist/src/cli/main.js ] && [ -f native/build/Release/moediff_native.node ] && [ -f dist/viewer/index.html ] || exit 1
[ "$(cat "$stamp")" = "$(node --version) ${LIBTORCH:-system}" ] || exit 1
newer=$(find src test bench web native/src native/binding.gyp native/libtorch-config.mjs scripts \
  tsconfig.json package.json package-lock.json -path web/node_modules -prune -o -newer "$stamp" -print -quit 2>/dev/null)
[ -z "$newer" ]

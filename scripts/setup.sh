#!/usr/bin/env bash
# Installs everything moediff-sr needs, idempotently, and builds it:
#   1. system packages (libtorch-dev with OpenBLAS, a C++ toolchain, Node headers, the Colin27
#      template from mricron-data, the DejaVu font for figures) when missing
#   2. npm ci when package-lock.json changed
#   3. the native addon when its sources, libtorch or Node changed
#   4. the TypeScript build (incremental)
#   5. the viewer's page (Vite) when its sources or the packages changed
# Usage: bash scripts/setup.sh [--quiet]
# Set LIBTORCH=/path/to/libtorch to build against an official distribution
# (CPU or CUDA) instead of Debian/Ubuntu's libtorch-dev.
set -euo pipefail
cd "$(dirname "$0")/.."

quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "setup: $*"; }
stamps=.setup-stamps
mkdir -p "$stamps"
# The launcher's fast path (scripts/setup-current.sh) compares sources with the stamp "ready", dated
# from when this run started: a file changed while it runs makes the next command run setup again.
ready_next="$stamps/ready.$$"
echo "$(node --version) ${LIBTORCH:-system}" > "$ready_next"
trap 'rm -f "$ready_next"' EXIT

# ---- 1. system packages ----
missing=()
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v python3 >/dev/null 2>&1 || missing+=(python3)   # node-gyp runs on python3
if [ -z "${LIBTORCH:-}" ]; then
  [ -f /usr/include/torch/csrc/api/include/torch/torch.h ] || missing+=(libtorch-dev)
  # Debian's libtorch runs matmul, linear and transposed convolutions through libblas.so.3. The
  # reference BLAS it pulls in by default multiplies at ~5 GFLOP/s on 2 cores; OpenBLAS (the OpenMP
  # build, which shares libtorch's OpenMP threads) at ~200 (docs/benchmarks.md). Installed, it becomes
  # libblas.so.3 through Debian's alternatives (priority 100 against the reference BLAS's 10).
  compgen -G "/usr/lib/*/openblas-openmp/libblas.so.3" >/dev/null || missing+=(libopenblas0-openmp)
fi
node scripts/node-headers.mjs >/dev/null 2>&1 || missing+=(libnode-dev)
# The default data source: the Colin27 T1 template (ch2bet.nii.gz, ch2.nii.gz).
[ -f /usr/share/mricron/templates/ch2bet.nii.gz ] || missing+=(mricron-data)
# The font for labels in figures (moediff-sr figures).
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
# Headless Chromium for the viewer's end-to-end tests (test/e2e, driven by playwright-core).
[ -x /usr/bin/chromium ] || missing+=(chromium)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing system packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing system packages: ${missing[*]}" >&2
    echo "setup: install them as root (apt-get install --no-install-recommends ${missing[*]}), or set LIBTORCH to a libtorch distribution" >&2
    exit 1
  fi
fi

# ---- 2. npm packages ----
lock_hash=$(sha256sum package-lock.json | cut -c1-64)
if [ ! -d node_modules ] || [ "$(cat "$stamps/npm" 2>/dev/null)" != "$lock_hash" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamps/npm"
fi

# ---- 3. native addon ----
native_hash=$( (cat native/binding.gyp native/libtorch-config.mjs native/src/*; node --version; echo "${LIBTORCH:-system}"; node native/libtorch-config.mjs describe) | sha256sum | cut -c1-64)
if [ ! -f native/build/Release/moediff_native.node ] || [ "$(cat "$stamps/native" 2>/dev/null)" != "$native_hash" ]; then
  say "building the native addon (about 30 s)"
  if ! npm run -s build:native > "$stamps/native-build.log" 2>&1; then
    tail -40 "$stamps/native-build.log" >&2
    echo "setup: the native build failed; the full log is $stamps/native-build.log" >&2
    exit 1
  fi
  echo "$native_hash" > "$stamps/native"
fi

# ---- 4. TypeScript ----
say "compiling TypeScript"
node node_modules/typescript/bin/tsc -p tsconfig.json
# A compiled file whose source was moved or deleted would still be imported or run as a test: remove it.
find dist/src dist/test dist/bench -name '*.js' 2>/dev/null | while read -r f; do
  src="${f#dist/}"
  [ -f "${src%.js}.ts" ] || rm -f "$f" "${f%.js}.d.ts" "$f.map" "${f%.js}.d.ts.map"
done
find dist/src dist/test dist/bench -type d -empty -delete 2>/dev/null || true

# ---- 5. the viewer's page ----
viewer_hash=$( (find web -type f ! -path '*/node_modules/*' | LC_ALL=C sort | xargs cat; cat package-lock.json src/viewer/api.ts) | sha256sum | cut -c1-64)
if [ ! -f dist/viewer/index.html ] || [ "$(cat "$stamps/viewer" 2>/dev/null)" != "$viewer_hash" ]; then
  say "building the viewer's page"
  if ! npm run -s build:viewer > "$stamps/viewer-build.log" 2>&1; then
    tail -40 "$stamps/viewer-build.log" >&2
    echo "setup: the viewer's build failed; the full log is $stamps/viewer-build.log" >&2
    exit 1
  fi
  echo "$viewer_hash" > "$stamps/viewer"
fi
mv -f "$ready_next" "$stamps/ready"
say "ready"

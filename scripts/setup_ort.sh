#!/usr/bin/env bash
# Install the ONNX Runtime shared library that `ort` (load-dynamic) loads at run time, from the PyPI wheel,
# into .svalbard/onnxruntime/ and print where it is. Idempotent.
#   bash scripts/setup_ort.sh [--gpu]
# The engine finds the library through, in order: --ort-lib / onnx.library in the config, $ORT_DYLIB_PATH,
# then .svalbard/onnxruntime/lib/libonnxruntime.so beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_VERSION="${ORT_VERSION:-1.31.1}"
package=onnxruntime
dest=.svalbard/onnxruntime
if [ "${1:-}" = "--gpu" ]; then
  package=onnxruntime-gpu
  dest=.svalbard/onnxruntime-gpu
fi
lib="$dest/lib/libonnxruntime.so"
if [ -e "$lib" ]; then
  echo "svalbard: ONNX Runtime already installed: $lib"
  exit 0
fi
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null; then
  echo "svalbard: setup needs python3 with pip to fetch the $package wheel from PyPI" >&2
  exit 1
fi
wheels=.svalbard/wheels
mkdir -p "$wheels" "$dest/lib"
"$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$wheels" "$package==$ORT_VERSION"
wheel=$(ls "$wheels"/${package//-/_}-"$ORT_VERSION"-*.whl | head -n 1)
tmp=$(mktemp -d)
"$python" - "$wheel" "$tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if "/capi/" in n and (".so" in n.split("/")[-1]):
            z.extract(n, sys.argv[2])
PY
find "$tmp" -name 'libonnxruntime*.so*' -exec cp {} "$dest/lib/" \;
real=$(ls "$dest"/lib/libonnxruntime.so.* 2>/dev/null | head -n 1 || true)
if [ -n "$real" ] && [ ! -e "$lib" ]; then ln -sf "$(basename "$real")" "$lib"; fi
rm -rf "$tmp"
if [ ! -e "$lib" ]; then
  echo "svalbard: the $package wheel held no libonnxruntime.so" >&2
  exit 1
fi
echo "svalbard: ONNX Runtime $ORT_VERSION installed: $lib"

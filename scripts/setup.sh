#!/usr/bin/env bash
# Installs every system package vitnas needs on Debian 12 (run as root, or with sudo available),
# and checks that LibTorch will use OpenBLAS: without it matmuls fall back to the reference BLAS
# and run ~15x slower.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  cmake g++ ninja-build                      # build
  libtorch-dev libopenblas0-openmp libblas-dev  # LibTorch 1.13 (CPU) and a fast BLAS
  libdnnl-dev                                # oneDNN headers: the fused network calls its convs directly
  nlohmann-json3-dev libspdlog-dev libcli11-dev libeigen3-dev # JSON, logging, command line, least squares
  catch2 libbenchmark-dev                    # tests (Catch2 v2), micro-benchmarks
  zlib1g-dev libpng-dev libturbojpeg0-dev pkg-config  # dataset readers (IDX gz, PNG, JPEG)
  libgloo-dev                                # Gloo headers: multi-process (data-parallel) training
  dataset-fashion-mnist                      # /usr/share/datasets/fashion-mnist, the default data
  python3                                    # experiments/supernet/*.py (the supernet experiment's analysis)
  python3-numpy                              # tests: safetensors files from an independent writer
  libonnx-dev libprotobuf-dev                # export onnx: ONNX's protobuf messages and checker
  python3-onnx                               # tests: Python's onnx.checker on exported models
  python3-torch                              # tests: python/vitnas_torch.py against vitnas
  clang libclang-rt-14-dev                   # tests: libFuzzer targets, ASan+UBSan (scripts/fuzz.sh)
  time                                       # benchmarks/memory_bound*.sh: peak RSS (/usr/bin/time)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# libblas.so.3 is chosen through Debian's alternatives: make sure it is OpenBLAS.
alt=libblas.so.3-x86_64-linux-gnu
openblas=/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3
if [ "$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)" != "$(readlink -f "$openblas")" ]; then
  $SUDO update-alternatives --set "$alt" "$openblas"
fi
echo "setup: BLAS is $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"

# ONNX Runtime for the export tests and the speed comparison: the npm package ships the Linux CPU
# library (its install script only fetches optional GPU parts, hence --ignore-scripts).
# Node.js and npm: the machine's own (a NodeSource build here), else Debian's.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm
fi
ORT_VERSION=1.30.0
ORT_DIR="$(cd "$(dirname "$0")/.." && pwd)/.deps/onnxruntime"
if ! grep -qs "\"version\": \"$ORT_VERSION\"" "$ORT_DIR/node_modules/onnxruntime-node/package.json"; then
  echo "setup: installing onnxruntime-node $ORT_VERSION into $ORT_DIR"
  mkdir -p "$ORT_DIR"
  npm install --ignore-scripts --no-audit --no-fund --loglevel=error --prefix "$ORT_DIR" \
      "onnxruntime-node@$ORT_VERSION" >/dev/null
fi

#!/usr/bin/env bash
# Reproduces the README's MPC figures: the analytic 2-party model (CrypTen costs, WAN) of
# vit_7_4_32, calibration on MPCViT's three single-kind CIFAR-10 networks, and the predicted
# seconds of the mu = 0.1/0.3/0.5/0.7 networks (MPCViT measured 48.03/52.88/58.66/63.56 s).
# Run from the repository root after scripts/build.sh.
set -euo pipefail
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
./build/vitnas profile --device mpc --network wan --arch vit_7_4_32 --out "$T/mpc_wan.json"
./build/vitnas latency predict --table "$T/mpc_wan.json" --arch vit_7_4_32 | tail -1
./build/vitnas latency calibrate --table "$T/mpc_wan.json" --measured experiments/mpc/mpcvit_cifar10.json \
  --out "$T/mpc_wan_calibrated.json"
for mu in 0.1 0.3 0.5 0.7; do
  printf 'mu=%s: ' "$mu"
  ./build/vitnas latency predict --table "$T/mpc_wan_calibrated.json" \
    --arch "experiments/mpc/vit_7_4_32_mu$mu.json" | tail -1
done

#!/usr/bin/env bash
# Reproduces the README's MPC figures: the analytic 2-party model (CrypTen costs, WAN link) of
# vit_7_4_32, calibration on MPCViT's three single-kind CIFAR-10 networks, then
#   - the mu = 0.1/0.3/0.5/0.7 networks (MPCViT measured 48.03/52.88/58.66/63.56 s): an
#     interpolation between the calibration points (every head is RSAttn or ScaleAttn, and the
#     model is linear in the head counts), a check of that linearity, not a prediction;
#   - held out: MPCViT's three Tiny-ImageNet networks (vit_9_12_64, 1370.61/1128.39/121.57 s),
#     another shape (256 + 1 tokens, 12 heads of 16, 9 layers) predicted from the CIFAR-10 fit.
# Run from the repository root after scripts/build.sh; the output of the last run is
# experiments/results/latency_mpc.txt.
set -euo pipefail
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
./build/vitnas profile --device mpc --link wan --arch vit_7_4_32 --out "$T/mpc_wan.json"
./build/vitnas latency predict --table "$T/mpc_wan.json" --arch vit_7_4_32 | tail -1
./build/vitnas latency calibrate --form kinds --table "$T/mpc_wan.json" --measured experiments/mpc/mpcvit_cifar10.json \
  --out "$T/mpc_wan_calibrated.json"
echo "interpolation (mu networks, between the calibration points):"
for mu in 0.1 0.3 0.5 0.7; do
  printf 'mu=%s: ' "$mu"
  ./build/vitnas latency predict --table "$T/mpc_wan_calibrated.json" \
    --arch "experiments/mpc/vit_7_4_32_mu$mu.json" | tail -1
done
echo "held out (vit_9_12_64 on Tiny-ImageNet, not used by the calibration):"
./build/vitnas latency validate --table "$T/mpc_wan_calibrated.json" \
  --measured experiments/mpc/mpcvit_tiny_imagenet.json
echo "for comparison, uncalibrated:"
./build/vitnas latency validate --table "$T/mpc_wan.json" \
  --measured experiments/mpc/mpcvit_tiny_imagenet.json

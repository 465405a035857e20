#!/usr/bin/env bash
# Reproduces the README's "MPC cost model vs CrypTen" figures: every single op and whole network
# that ../shared/reference/mpc/crypten_measured.json measured on CrypTen (2 parties, 64-bit ring,
# 16-bit fixed point, trusted-dealer triples, online phase), predicted by the analytic model
# from its cost table. Run from the repository root after scripts/build.sh; the output of the
# last run is experiments/results/mpc_crypten_check.{txt,csv}.
set -euo pipefail
REF=${VITNAS_REFERENCE_DIR:-../shared/reference}/mpc/crypten_measured.json
./build/vitnas latency check-costs --reference "$REF" \
  --csv experiments/results/mpc_crypten_check.csv | tee experiments/results/mpc_crypten_check.txt

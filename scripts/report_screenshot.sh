#!/usr/bin/env bash
# Renders `vitnas report` of the committed results in headless Chromium: a screenshot to look at,
# and a check that the page logs no console errors. Not part of CI (Chromium is large):
#   apt-get install chromium; bash scripts/report_screenshot.sh [OUT_DIR]   # default /tmp/vitnas_report
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/vitnas_report}
mkdir -p "$OUT/train"
cp experiments/results/prune_fmnist/trained_deit_metrics.jsonl "$OUT/train/metrics.jsonl"
build/vitnas report --out "$OUT/report.html" --title "vitnas report (committed results)" \
    --search experiments/results/search_fmnist_front \
    --table experiments/tables/fmnist_cpu_1t_b16.json --arch experiments/train/efficientvit_fmnist.json \
    --validation experiments/tables/cpu_1t_b16_validation.csv \
    --prune experiments/results/prune_fmnist/r0.4_taylor --train "$OUT/train"
# The flags keep Chromium off this machine's closed network; console messages go to stderr.
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d)" --enable-logging=stderr --v=0 \
    --window-size=820,4200 --screenshot="$OUT/report.png" "file://$(realpath "$OUT/report.html")" \
    2> "$OUT/chromium.log" || { cat "$OUT/chromium.log"; exit 1; }
if grep -E "CONSOLE|Uncaught|Failed to load" "$OUT/chromium.log"; then
  echo "report_screenshot: the page logged console errors (above)"; exit 1
fi
echo "report_screenshot: $OUT/report.png, no console errors"

"""Summary of experiments/prune_m0_latency.sh: each pruned m0's measured latency against its target.

Rows of OUT/final.csv are m0, then the targets 0.50 ... 0.95 in order (one round-robin
measurement of all). Two checks: the measured ratio to m0 measured in the same run, and the
measured latency against the absolute target (ratio x m0's first measurement, what was pruned to).
Usage: summarize_latency.py OUT BASE_MS
"""
import csv
import json
import os
import sys


def closed_loop(r):
    """(cuts timed, in-loop error % of the kept cut) of --closed-loop, or None without it."""
    path = f"{out}/r{r:.2f}/prune_log.jsonl"
    if not os.path.exists(path):
        return None
    last = [json.loads(l) for l in open(path) if l.strip()][-1]
    trace = last.get("closed_loop")
    if not trace:
        return None
    kept = min(trace, key=lambda e: abs(e["error"]))
    return len(trace), 100 * kept["error"]


out, base = sys.argv[1], float(sys.argv[2])
rows = list(csv.DictReader(open(f"{out}/final.csv")))
ratios = [0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90, 0.95]
m0 = rows[0]
m0_ms, m0_pred = float(m0["measured_ms"]), float(m0["predicted_ms"])
print(f"m0: measured {m0_ms:.2f} ms (first measurement {base:.2f} ms), predicted {m0_pred:.2f} ms per batch of 16")
print(f"{'target':>7} {'target ms':>9} {'predicted':>9} {'measured':>9} {'spread':>7} {'ratio':>7} {'vs ratio':>9} {'vs ms':>7} {'loop':>13}")
hit_ratio = hit_ms = 0
for r, row in zip(ratios, rows[1:]):
    pred, meas, spread = float(row["predicted_ms"]), float(row["measured_ms"]), float(row["measured_spread_pct"])
    ratio = meas / m0_ms
    err_ratio = 100 * (ratio / r - 1)
    err_ms = 100 * (meas / (r * base) - 1)
    hit_ratio += abs(err_ratio) <= 3
    hit_ms += abs(err_ms) <= 3
    loop = closed_loop(r)
    loop_text = f"{loop[0]} cuts {loop[1]:+5.1f}%" if loop else "-"
    print(f"{r:7.2f} {r * base:9.2f} {pred:9.2f} {meas:9.2f} {spread:6.1f}% {ratio:7.3f} {err_ratio:+8.1f}% {err_ms:+6.1f}% {loop_text:>13}")
print(f"within +-3% of the target ratio (same-run m0): {hit_ratio}/10; of the absolute target: {hit_ms}/10")

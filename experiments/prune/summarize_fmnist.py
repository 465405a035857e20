"""Summary of experiments/prune_fmnist.sh: per target ratio and importance, the pruned network's
predicted and measured latency (ms per batch of 16) and its val top-1 after the schedule; then
the analyses (kept fraction per group type and stage at half the MACs; Spearman vs the oracle).
Usage: summarize_fmnist.py OUT
"""
import glob
import json
import os
import sys

out = sys.argv[1]
runs = sorted(glob.glob(f"{out}/r*_*/prune_log.jsonl"))
if runs:
    print(f"{'run':>18} {'steps':>5} {'predicted':>9} {'measured':>9} {'MACs':>10} {'params':>8} {'val top-1':>9}")
for path in runs:
    lines = [json.loads(l) for l in open(path)]
    first, last = lines[0], lines[-1]
    name = os.path.basename(os.path.dirname(path))
    if name.endswith("taylor"):
        m = first["measured"]
        print(f"{'unpruned':>18} {0:5d} {first['predicted']:9.2f} {m if m is None else round(m, 2)!s:>9} "
              f"{first['macs']:10d} {first['params']:8d} {first['val_top1']:9.2f}")
    m = last["measured"]
    print(f"{name:>18} {last['step']:5d} {last['predicted']:9.2f} {m if m is None else round(m, 2)!s:>9} "
          f"{last['macs']:10d} {last['params']:8d} {last['val_top1']:9.2f}")
for a in sorted(glob.glob(f"{out}/analyse_*/analysis.json")):
    s = json.load(open(a))
    how = "normalised per type" if s["normalised_per_type"] else "raw Taylor"
    if s.get("embed"):
        how += ", embedding too"
    print(f"\n{s['arch']} ({how}): kept at {s['budget_macs'] / s['macs']:.0%} of the MACs ({s['pruned_macs'] / 1e6:.2f} of {s['macs'] / 1e6:.2f} M)")
    for t, v in sorted(s["kept_by_type"].items()):
        stages = " ".join(f"{k}:{x:.2f}" for k, x in sorted(s["kept_by_stage"][t].items()))
        print(f"  {t:>13} {v:.2f}   by stage (vit: first/second half) {stages}")
    if "oracle" in s:
        o = s["oracle"]
        print(f"  oracle: {o['groups']} groups on {o['images']} val images, base loss {o['base_loss']:.4f}: "
              f"Spearman taylor {o['spearman_taylor']:.3f}, magnitude {o['spearman_magnitude']:.3f}, "
              f"first-order on the same images {o['spearman_first_order']:.3f}; against |increase| "
              f"({o['negative_increases']} of the increases are negative): taylor {o['abs_spearman_taylor']:.3f}, "
              f"magnitude {o['abs_spearman_magnitude']:.3f}, |first-order| {o['abs_spearman_first_order']:.3f}")

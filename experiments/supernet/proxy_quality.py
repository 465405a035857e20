"""The figures of experiments/supernet_fmnist.sh from its output folder: per subnet the inherited
(supernet, BN recalibrated) and standalone validation top-1 of the final epoch, Kendall's tau-b
between them, the largest and smallest subnets' gaps, a supernet epoch's time against the
largest subnet's standalone epoch, and `supernet eval`'s seconds per subnet. Usage: proxy_quality.py OUT_DIR"""
import json
import os
import statistics
import sys

out = sys.argv[1]


def last_metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def kendall_tau_b(x, y):
    """Kendall's tau-b (ties in either list counted as neither concordant nor discordant)."""
    n = len(x)
    concordant = discordant = ties_x = ties_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif dx * dy > 0:
                concordant += 1
            else:
                discordant += 1
    denom = ((concordant + discordant + ties_x) * (concordant + discordant + ties_y)) ** 0.5
    return (concordant - discordant) / denom if denom else float("nan")


inherited = {s["name"]: s for s in json.load(open(os.path.join(out, "inherited.json")))["subnets"]}
rows = []
for name, s in sorted(inherited.items(), key=lambda kv: kv[1]["macs"]):
    m = last_metrics(os.path.join(out, "standalone", name))
    rows.append((name, s["macs"], s["params"], s["top1"], m[-1]["val_top1"],
                 statistics.median(e["epoch_seconds"] for e in m)))

print(f"{'subnet':<16} {'MMACs':>7} {'params':>8} {'inherited':>10} {'standalone':>10} {'gap':>6} {'s/epoch':>8}")
for name, macs, params, inh, alone, sec in rows:
    print(f"{name:<16} {macs / 1e6:7.2f} {params:8d} {inh:10.2f} {alone:10.2f} {inh - alone:+6.2f} {sec:8.1f}")
tau = kendall_tau_b([r[3] for r in rows], [r[4] for r in rows])
print(f"Kendall tau-b (inherited vs standalone val top-1, {len(rows)} subnets): {tau:.3f}")
for name in ("largest", "smallest"):
    r = next(r for r in rows if r[0] == name)
    print(f"{name}: inherited {r[3]:.2f}%, standalone {r[4]:.2f}%, gap {r[3] - r[4]:+.2f} points")
sup = last_metrics(os.path.join(out, "supernet"))
sup_epoch = statistics.median(e["train_seconds"] for e in sup)
big = last_metrics(os.path.join(out, "standalone", "largest"))
big_epoch = statistics.median(e["train_seconds"] for e in big)
print(f"training seconds per epoch (median): supernet {sup_epoch:.1f}, largest standalone {big_epoch:.1f}, "
      f"ratio {sup_epoch / big_epoch:.2f}")
samples = json.load(open(os.path.join(out, "samples.json")))["subnets"]
secs = sorted(s["seconds"] for s in samples)
print(f"supernet eval per subnet ({samples[0]['images']} val images, 10 recalibration batches): "
      f"median {statistics.median(secs):.3f} s, max {secs[-1]:.3f} s over {len(secs)} subnets")

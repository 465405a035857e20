#!/usr/bin/env python3
"""The tables of experiments/mpc_search_fmnist.sh from its run directory (standard library only).

  1. MPCViT's table: every network's RSAttn heads, MPC seconds (WAN, calibrated) and test top-1
     without and with KD (seed 0);
  2. the search against chance: searched vs random placement per mu, median of seeds 0 and 1,
     after retraining and (2b) with the search's weights (inherited, no retraining);
  3. MPCViT+: the linearised mu networks' seconds and top-1 against the plain ones (seed 0);
and the issue's three checks, each printed as met or not met.
With --inherited, only table 2b, from the inherited-only runs (INHERITED_ONLY=1 of the script):
`mpc_search_summary.py --inherited RUN_DIR [NAME]`, NAME inherited (default) or inherited_softmax
(SOFTMAX_CANDIDATES=1: also the searched networks' softmax heads).
"""
import json
import math
import statistics
import sys
from pathlib import Path


def last_top1(run: Path) -> float:
    """The run's last test top-1; NaN when the run was not made (NO_KD=0)."""
    if not (run / "metrics.jsonl").exists():
        return float("nan")
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return json.loads(lines[-1])["test_top1"]


def run_seconds(run: Path) -> float:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return json.loads(lines[-1])["seconds"]


def row(front, placement, mu):
    return next(n for n in front["networks"] if n["placement"] == placement and n["mu"] == mu)


def print_inherited(fronts, mus) -> None:
    """Table 2b: searched vs random placement with the search's weights, no retraining."""
    print("2b. searched vs random placement, inherited: the search's weights in each network, "
          "no retraining (median of seeds 0 and 1)")
    print(f"{'mu':>4} {'searched s0':>11} {'s1':>7} {'median':>7} {'random s0':>10} {'s1':>7} "
          f"{'median':>7} {'gain':>6}")
    for mu in mus:
        s = [row(fronts[i], "searched", mu)["inherited_top1"] for i in (0, 1)]
        r = [row(fronts[i], "random", mu)["inherited_top1"] for i in (0, 1)]
        softmax = [row(fronts[i], "searched", mu).get("softmax_heads", 0) for i in (0, 1)]
        print(f"{mu:>4g} {s[0]:>10.2f}% {s[1]:>6.2f}% {statistics.median(s):>6.2f}% "
              f"{r[0]:>9.2f}% {r[1]:>6.2f}% {statistics.median(r):>6.2f}% "
              f"{statistics.median(s) - statistics.median(r):>+6.2f}"
              + (f"   softmax heads s0 {softmax[0]}, s1 {softmax[1]}" if any(softmax) else ""))
    for b0, b1 in zip(fronts[0]["baselines"], fronts[1]["baselines"]):
        print(f"  {b0['name']:<18} s0 {b0['inherited_top1']:>6.2f}%  s1 {b1['inherited_top1']:>6.2f}%")


def print_linearised(f0, lin, mus) -> int:
    """Table 3 (MPCViT+); returns at how many mu it saves >= 10% for <= 0.3 point."""
    print(f"\n3. MPCViT+: {lin['linearise']} layers' GeLU linearised (seed 0, with KD)")
    print(f"{'mu':>4} {'MPC s':>8} {'linearised':>10} {'saved':>6} {'top-1':>7} "
          f"{'linearised':>10} {'change':>7}")
    lin_ok = 0
    for mu in mus:
        plain, linear = row(f0, "searched", mu), row(lin, "searched", mu)
        saved = 1 - linear["mpc_seconds"] / plain["mpc_seconds"]
        change = linear["test_top1"] - plain["test_top1"]
        lin_ok += saved >= 0.10 and change >= -0.3
        print(f"{mu:>4g} {plain['mpc_seconds']:>8.2f} {linear['mpc_seconds']:>10.2f} "
              f"{100 * saved:>5.1f}% {plain['test_top1']:>6.2f}% {linear['test_top1']:>9.2f}% "
              f"{change:>+7.2f}")
    return lin_ok


def main() -> int:
    if len(sys.argv) in (3, 4) and sys.argv[1] == "--inherited":
        out = Path(sys.argv[2])
        name = sys.argv[3] if len(sys.argv) == 4 else "inherited"
        fronts = {s: json.loads((out / f"{name}_s{s}.json").read_text()) for s in (0, 1)}
        print_inherited(fronts, sorted({n["mu"] for n in fronts[0]["networks"]}))
        return 0
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/mpc_search_fmnist")
    fronts = {s: json.loads((out / f"search_s{s}.json").read_text()) for s in (0, 1)}
    lin_file = out / "linearise_s0.json"  # absent with LIN=0
    lin = json.loads(lin_file.read_text()) if lin_file.exists() else None
    f0 = fronts[0]
    mus = sorted({n["mu"] for n in f0["networks"]})

    # 1. MPCViT's table.
    print(f"1. {f0['arch']} on Fashion-MNIST ({f0['heads']} heads), MPC seconds on "
          f"{f0['link']} (calibrated: {f0['calibrated']}), test top-1 of seed 0")
    print(f"{'network':<22} {'RSAttn':>7} {'MPC s':>8} {'top-1 w/o KD':>13} {'top-1 KD':>9}")
    table = []
    for b in f0["baselines"]:
        name = b["name"]
        no_kd = last_top1(out / "no_kd" / name)
        table.append((name, b["relu_softmax_heads"], b["mpc_seconds"], no_kd, b["test_top1"]))
    for mu in mus:
        n = row(f0, "searched", mu)
        table.append((f"mu = {mu:g}", n["relu_softmax_heads"], n["mpc_seconds"],
                      last_top1(out / "no_kd" / f"mu{mu:g}"), n["test_top1"]))
    for name, rs, s, no_kd, kd in table:
        no_kd_text = "-" if math.isnan(no_kd) else f"{no_kd:.2f}%"  # NO_KD=0: not trained
        print(f"{name:<22} {rs:>3} / {f0['heads']:<2} {s:>8.2f} {no_kd_text:>13} {kd:>8.2f}%")
    print(f"(the teacher, all-softmax trained for TEACHER_EPOCHS: {last_top1(out / 'teacher'):.2f}%)")

    # 2. Searched against random placement.
    print("\n2. searched vs random placement of the same number of RSAttn heads "
          "(top-1 with KD; median of seeds 0 and 1)")
    print(f"{'mu':>4} {'searched s0':>11} {'s1':>7} {'median':>7} {'random s0':>10} {'s1':>7} "
          f"{'median':>7} {'gain':>6}")
    wins = 0
    for mu in mus:
        s = [row(fronts[i], "searched", mu)["test_top1"] for i in (0, 1)]
        r = [row(fronts[i], "random", mu)["test_top1"] for i in (0, 1)]
        gain = statistics.median(s) - statistics.median(r)
        wins += gain > 0
        print(f"{mu:>4g} {s[0]:>10.2f}% {s[1]:>6.2f}% {statistics.median(s):>6.2f}% "
              f"{r[0]:>9.2f}% {r[1]:>6.2f}% {statistics.median(r):>6.2f}% {gain:>+6.2f}")

    # 2b. The same with the search's weights, before retraining (the placement's effect alone).
    if all("inherited_top1" in n for f in fronts.values() for n in f["networks"]):
        print()
        print_inherited(fronts, mus)

    # 3. MPCViT+.
    lin_ok = 0
    if lin is not None:
        lin_ok = print_linearised(f0, lin, mus)

    # Time: the search and its 4 retrainings (training + evaluation seconds of each run, as
    # metrics.jsonl records them; two runs shared the 2 cores, one thread each).
    print("\n4. time of one search (search phase + the mu networks' retraining, random ones not "
          "counted)")
    for i in (0, 1):
        run = out / f"search_s{i}"
        parts = [run_seconds(run / "search")] + [run_seconds(run / f"mu{mu:g}") for mu in mus]
        print(f"  seed {i}: search {parts[0] / 60:.1f} min + retraining "
              f"{sum(parts[1:]) / 60:.1f} min = {sum(parts) / 60:.1f} min")

    # The checks.
    by_name = {t[0]: t for t in table}
    soft, rs, scale = by_name["all-softmax"], by_name["all-relu_softmax"], by_name["all-scaling"]
    mu_rows = [by_name[f"mu = {mu:g}"] for mu in mus]
    acc_order = all(scale[4] < m[4] < rs[4] for m in mu_rows) and rs[4] <= soft[4]
    sec_order = all(scale[2] < m[2] < rs[2] for m in mu_rows) and rs[2] <= soft[2]
    print("\nchecks:")
    print(f"  searched beats random (median) at {wins} of {len(mus)} mu: "
          f"{'met' if wins == len(mus) else 'NOT met'}")
    print(f"  accuracy all-ScaleAttn < mu networks < all-RSAttn <= all-softmax (KD): "
          f"{'met' if acc_order else 'NOT met'}")
    print(f"  seconds in the same order (MPCViT's: the cheaper network is the less accurate): "
          f"{'met' if sec_order else 'NOT met'}")
    if lin is not None:
        print(f"  MPCViT+ >= 10% fewer seconds for <= 0.3 pt at {lin_ok} of {len(mus)} mu: "
              f"{'met' if lin_ok == len(mus) else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

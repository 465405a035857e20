"""Training-step speed of EfficientViT-M0 at 224x224, batch 32: `vitnas bench-train` against the
official PyTorch loop itself (official_train_step.py), in the same run. Each round starts one
process of each for each thread count, alternating which goes first, each timing `--warmup`
untimed then `--steps` timed steps; the figure is the median over the rounds. Timing waits for a
quiet machine: the 1-minute load average at most --max-load before the first round, and before
every process, a one-second look at /proc/stat finding the other processes using at most
--max-busy cores. Prints a table and writes --out (JSON).
Run through benchmarks/train_step.sh, which installs Debian's python3-torch when missing.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_times():
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(seconds=1.0):
    """Cores the rest of the machine keeps busy while this script sleeps."""
    busy0, total0 = cpu_times()
    time.sleep(seconds)
    busy1, total1 = cpu_times()
    return os.cpu_count() * (busy1 - busy0) / max(1, total1 - total0)


def wait_until(quiet, what, timeout):
    start = time.time()
    while True:
        ok, value = quiet()
        if ok:
            return value
        if time.time() - start > timeout:
            sys.exit(f"train_step: the machine is not quiet ({what} {value:.2f}) after "
                     f"{timeout:.0f} s; retry later or raise the limit")
        print(f"  waiting for a quiet machine ({what} {value:.2f})", file=sys.stderr)
        time.sleep(20)


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)["img_per_s"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--vitnas", default="./build/vitnas")
    p.add_argument("--python", default=sys.executable, help="the python with torch")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--max-load", type=float, default=1.2)
    p.add_argument("--max-busy", type=float, default=0.3)
    p.add_argument("--wait", type=float, default=3600, help="give up after this many seconds")
    p.add_argument("--glibc-default", action="store_true",
                   help="also time vitnas with glibc's default malloc "
                        "(VITNAS_GLIBC_MALLOC=default)")
    p.add_argument("--out", default="experiments/results/train_step.json")
    a = p.parse_args()

    common = ["--batch", str(a.batch), "--warmup", str(a.warmup), "--steps", str(a.steps)]
    sides = {
        "vitnas": lambda t: run_json([a.vitnas, "bench-train", "--arch", "m0", "--threads", str(t),
                                      "--rounds", "1", "--json"] + common),
        "official": lambda t: run_json([a.python, os.path.join(HERE, "official_train_step.py"),
                                        "--threads", str(t)] + common),
    }
    if a.glibc_default:
        env = dict(os.environ, VITNAS_GLIBC_MALLOC="default")
        sides["vitnas_glibc_default"] = lambda t: run_json(
            [a.vitnas, "bench-train", "--arch", "m0", "--threads", str(t), "--rounds", "1",
             "--json"] + common, env)

    start_load = wait_until(lambda: (os.getloadavg()[0] <= a.max_load, os.getloadavg()[0]),
                            "1-minute load", a.wait)
    print(f"1-minute load average at the start: {start_load:.2f}", file=sys.stderr)
    speeds = {t: {name: [] for name in sides} for t in a.threads}
    busy_seen = []
    for r in range(a.rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for t in a.threads:
            for name in order:
                busy = wait_until(lambda: (lambda b: (b <= a.max_busy, b))(busy_cores()),
                                  "other processes' busy cores", a.wait)
                busy_seen.append(busy)
                speeds[t][name].append(sides[name](t))
        print(f"  round {r + 1}/{a.rounds}: " + ", ".join(
            f"{t} thread(s) " + " / ".join(f"{speeds[t][n][-1]:.1f}" for n in sides)
            for t in a.threads), file=sys.stderr)

    rows = []
    for t in a.threads:
        med = {n: statistics.median(v) for n, v in speeds[t].items()}
        row = {"threads": t, "vitnas_img_per_s": round(med["vitnas"], 1),
               "official_img_per_s": round(med["official"], 1),
               "ratio": round(med["vitnas"] / med["official"], 3),
               "rounds": {n: [round(x, 1) for x in v] for n, v in speeds[t].items()}}
        if a.glibc_default:
            row["vitnas_glibc_default_img_per_s"] = round(med["vitnas_glibc_default"], 1)
        rows.append(row)

    header = "| threads | vitnas img/s | official PyTorch img/s | ratio |"
    if a.glibc_default:
        header += " vitnas, glibc default malloc |"
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for row in rows:
        line = (f"| {row['threads']} | {row['vitnas_img_per_s']:.1f} | "
                f"{row['official_img_per_s']:.1f} | {row['ratio']:.2f}x |")
        if a.glibc_default:
            line += f" {row['vitnas_glibc_default_img_per_s']:.1f} |"
        print(line)
    end_load = os.getloadavg()[0]
    print(f"load: 1-minute average {start_load:.2f} at the start, {end_load:.2f} at the end "
          f"(this benchmark's own processes included); other processes' busy cores before each "
          f"timing: max {max(busy_seen):.2f}, median {statistics.median(busy_seen):.2f}")

    result = {
        **result_header("EfficientViT-M0 training step, 224x224, fp32 CPU",
                        "bash benchmarks/train_step.sh " + " ".join(sys.argv[1:])),
        "official": f"official_train_step.py, {torch_version(a.python)}",
        "batch": a.batch, "warmup": a.warmup, "steps": a.steps, "rounds": a.rounds,
        "load": {"start_1min": round(start_load, 2), "end_1min": round(end_load, 2),
                 "other_busy_cores_max": round(max(busy_seen), 2),
                 "other_busy_cores_median": round(statistics.median(busy_seen), 2)},
        "results": rows,
    }
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"wrote {a.out}")


def torch_version(python):
    """Debian's package version (torch.__version__ there reads 1.13.0a0 for 1.13.1)."""
    torch = subprocess.run([python, "-c", "import torch; print(torch.__version__)"],
                           capture_output=True, text=True).stdout.strip()
    deb = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "python3-torch"],
                         capture_output=True, text=True).stdout.strip()
    return f"python3-torch {deb} (torch {torch})" if deb else f"torch {torch}"


def result_header(benchmark, command):
    """The first fields of a benchmark's result file: what, the command, when, on what machine."""
    return {"benchmark": benchmark,
            "command": command,
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "avx512": has_avx512(),
                        "kernel": platform.release()}}


def has_avx512():
    with open("/proc/cpuinfo") as f:
        return "avx512f" in f.read().split()


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


if __name__ == "__main__":
    main()

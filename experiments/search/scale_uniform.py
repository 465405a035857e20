#!/usr/bin/env python3
"""The hand-designed network scaled uniformly in width and depth: issue 11's baseline.

Every width of the network (stem convs, each stage's embed_dim, FFN hidden widths, the
PatchMerging hidden width) is multiplied by the same factor w; embed_dim is rounded to a multiple
of 8 x heads (so every head's chunk is a multiple of 8) and the other widths to multiples of 8.
With the cascade, each head's v_dim is its chunk (embed_dim / heads); key_dim, kernels, windows,
kinds and head counts stay as designed. Depth d repeats each stage's blocks d times (d = 1: as
designed). The last stem width follows the first stage's embed_dim, as in the original.

Usage: scale_uniform.py HAND.json OUT_DIR --widths 0.5,0.75,1.25 --depths 1,2
Writes OUT_DIR/<name>_w<w>_d<d>.json and prints the written paths, one per line.
"""
import argparse
import copy
import json
import os
import sys


def round_to(x, m):
    return max(m, int(round(x / m)) * m)


def scale(arch, w, d):
    a = copy.deepcopy(arch)
    a["name"] = "%s_w%g_d%d" % (arch["name"], w, d)
    for st in a["stages"]:
        heads = max((len(b["attention"]["heads"]) for b in st["blocks"] if b.get("attention")), default=1)
        st["embed_dim"] = round_to(st["embed_dim"] * w, 8 * heads)
        if st.get("downsample"):
            ds = st["downsample"]
            ds["ffn_before"] = [round_to(h * w, 8) for h in ds["ffn_before"]]
            ds["hidden"] = round_to(ds["hidden"] * w, 8)
            ds["ffn_after"] = [round_to(h * w, 8) for h in ds["ffn_after"]]
        for b in st["blocks"]:
            b["ffn_before"] = [round_to(h * w, 8) for h in b["ffn_before"]]
            b["ffn_after"] = [round_to(h * w, 8) for h in b["ffn_after"]]
            att = b.get("attention")
            if att:
                chunk = st["embed_dim"] // len(att["heads"])
                for h in att["heads"]:
                    if att.get("cascade", True):
                        h["v_dim"] = chunk
                    else:
                        h["v_dim"] = round_to(h["v_dim"] * w, 8)
        st["blocks"] = [copy.deepcopy(b) for _ in range(d) for b in st["blocks"]]
    stem = [round_to(c * w, 8) for c in arch["stem"]]
    stem[-1] = a["stages"][0]["embed_dim"]
    a["stem"] = stem
    return a


def fail(msg):
    print("error: " + msg, file=sys.stderr)
    sys.exit(2)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("hand")
    p.add_argument("out_dir")
    p.add_argument("--widths", required=True, help="width factors, comma-separated")
    p.add_argument("--depths", default="1", help="block repeats per stage, comma-separated")
    o = p.parse_args()
    try:
        arch = json.load(open(o.hand))
        widths = [float(x) for x in o.widths.split(",")]
        depths = [int(x) for x in o.depths.split(",")]
    except (OSError, ValueError) as e:
        fail(str(e))
    if arch.get("family") != "efficientvit" or any(w <= 0 for w in widths) or any(d < 1 for d in depths):
        fail("an efficientvit ArchSpec, widths > 0 and depths >= 1 are needed")
    os.makedirs(o.out_dir, exist_ok=True)
    for d in depths:
        for w in widths:
            a = scale(arch, w, d)
            path = os.path.join(o.out_dir, a["name"] + ".json")
            with open(path + ".tmp", "w") as f:
                json.dump(a, f, indent=2)
            os.replace(path + ".tmp", path)
            print(path)


if __name__ == "__main__":
    main()

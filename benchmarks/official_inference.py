"""The official EfficientViT model for the inference benchmark (benchmarks/inference_speed.py).

    official_inference.py prepare --net m0 --dir D [--batches 16,1] [--seed 0]
        random weights and BN statistics in the official model (benchmarks/efficientvit_official.py)
        -> D/m0.safetensors (official keys, which vitnas loads) and, per batch B,
        D/m0_bB_torch.onnx: torch.onnx.export at opset 13, the graph ONNX Runtime users run.
    official_inference.py time --net m0 --weights D/m0.safetensors --threads 1 --batch 16 \\
            --seconds 3 --warmup 1
        the official speed_test.py protocol: replace_batchnorm, eval, torch.jit.trace, no grad,
        warm-up, then batch / mean iteration time -> {"img_per_s": ...} on stdout.

For benchmarks only: vitnas never runs Python.
"""
import argparse
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "python")]
import efficientvit_official  # noqa: E402
import vitnas_torch  # noqa: E402


def prepare(a):
    torch.manual_seed(a.seed)
    model = efficientvit_official.efficientvit(a.net).eval()
    with torch.no_grad():  # non-trivial BN statistics, so folding them is real work
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    vitnas_torch.save_file(model.state_dict(), os.path.join(a.dir, f"{a.net}.safetensors"))
    for b in a.batches:
        torch.onnx.export(model, torch.randn(b, 3, 224, 224),
                          os.path.join(a.dir, f"{a.net}_b{b}_torch.onnx"), opset_version=13,
                          input_names=["images"], output_names=["logits"],
                          do_constant_folding=True)


def time_traced(a):
    torch.set_num_threads(a.threads)
    torch.autograd.set_grad_enabled(False)
    model = efficientvit_official.efficientvit(a.net)
    state, _ = vitnas_torch.load_file(a.weights)
    model.load_state_dict(state)
    efficientvit_official.replace_batchnorm(model)
    model.eval()
    inputs = torch.randn(a.batch, 3, 224, 224)
    model = torch.jit.trace(model, inputs)
    start = time.time()
    while time.time() - start < a.warmup:
        model(inputs)
    timing = []
    while sum(timing) < a.seconds or len(timing) < 3:
        start = time.perf_counter()
        model(inputs)
        timing.append(time.perf_counter() - start)
    print(json.dumps({"img_per_s": a.batch / (sum(timing) / len(timing)),
                      "iterations": len(timing)}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    pp = sub.add_parser("prepare")
    pp.add_argument("--net", required=True, choices=sorted(efficientvit_official.CONFIGS))
    pp.add_argument("--dir", required=True)
    pp.add_argument("--batches", type=lambda s: [int(b) for b in s.split(",")], default=[16, 1])
    pp.add_argument("--seed", type=int, default=0)
    pt = sub.add_parser("time")
    pt.add_argument("--net", required=True, choices=sorted(efficientvit_official.CONFIGS))
    pt.add_argument("--weights", required=True)
    pt.add_argument("--threads", type=int, default=1)
    pt.add_argument("--batch", type=int, default=16)
    pt.add_argument("--seconds", type=float, default=60.0)
    pt.add_argument("--warmup", type=float, default=10.0)
    a = p.parse_args()
    prepare(a) if a.command == "prepare" else time_traced(a)


if __name__ == "__main__":
    main()

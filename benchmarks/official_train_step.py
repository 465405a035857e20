"""The official EfficientViT training step, timed: Microsoft's model (efficientvit_official.py),
timm's LabelSmoothingCrossEntropy(0.1), torch.optim.AdamW over timm's weight-decay groups (none
on 1-D parameters, biases and attention_biases), clip_grad_norm_(5.0), as the official
train_one_epoch runs it in fp32 on a CPU:

    optimizer.zero_grad(); loss = criterion(model(x), y); loss.backward()
    clip_grad_norm_(model.parameters(), 5.0); optimizer.step()

One round per process, as `vitnas bench-train --rounds 1` does:
    official_train_step.py --threads 1 --batch 32 --warmup 2 --steps 4   -> {"img_per_s": ...}
Faithfulness of the port:
    official_train_step.py --check vec_m0.safetensors   (parameter count, reference logits)
"""
import argparse
import json
import os
import struct
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from efficientvit_official import efficientvit_m0  # noqa: E402

M0_PARAMETERS = 2_349_436  # REFERENCE.md


class LabelSmoothingCrossEntropy(torch.nn.Module):
    """timm.loss.LabelSmoothingCrossEntropy."""

    def __init__(self, smoothing=0.1):
        super().__init__()
        self.smoothing = smoothing
        self.confidence = 1. - smoothing

    def forward(self, x, target):
        logprobs = torch.nn.functional.log_softmax(x, dim=-1)
        nll_loss = -logprobs.gather(dim=-1, index=target.unsqueeze(1)).squeeze(1)
        smooth_loss = -logprobs.mean(dim=-1)
        return (self.confidence * nll_loss + self.smoothing * smooth_loss).mean()


def param_groups_weight_decay(model, weight_decay, no_weight_decay_list=()):
    """timm.optim.optim_factory.param_groups_weight_decay: the groups create_optimizer builds."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if param.ndim <= 1 or name.endswith(".bias") or name in no_weight_decay_list:
            no_decay.append(param)
        else:
            decay.append(param)
    return [{'params': no_decay, 'weight_decay': 0.},
            {'params': decay, 'weight_decay': weight_decay}]


def time_round(threads, batch, warmup, steps):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = efficientvit_m0()
    model.train()
    criterion = LabelSmoothingCrossEntropy(0.1)
    # bench-train's recipe: lr 1e-3, weight decay 0.025 (the values do not change the cost).
    optimizer = torch.optim.AdamW(
        param_groups_weight_decay(model, 0.025, model.no_weight_decay()), lr=1e-3)
    torch.manual_seed(1)
    x = torch.randn(batch, 3, 224, 224)
    y = torch.randint(1000, (batch,))

    def step():
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        return loss.item()

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - start)


def load_safetensors(path):
    """The safetensors format by hand: u64 little-endian header length, JSON header, raw data."""
    dtypes = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64,
              "I32": torch.int32, "F16": torch.float16}
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    tensors = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=dtypes[info["dtype"]])
        tensors[key] = t.reshape(info["shape"]).clone()
    return tensors


def check(path):
    model = efficientvit_m0()
    count = sum(p.numel() for p in model.parameters())
    print(f"parameters: {count:,} (REFERENCE.md: {M0_PARAMETERS:,})")
    ok = count == M0_PARAMETERS
    if path:
        tensors = load_safetensors(path)
        x, expected = tensors.pop("__input__"), tensors.pop("__logits__")
        model.load_state_dict(tensors, strict=True)  # official keys, every one of them
        model.eval()
        with torch.no_grad():
            logits = model(x)
        diff = (logits - expected).abs().max().item()
        print(f"logits vs {os.path.basename(path)}: max |difference| {diff:.2e} (tolerance 1e-4)")
        ok = ok and diff <= 1e-4
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--check", metavar="SAFETENSORS", nargs="?", const="",
                   help="check the port (parameter count; logits of a reference file) and exit")
    a = p.parse_args()
    if a.check is not None:
        sys.exit(0 if check(a.check) else 1)
    print(json.dumps({"img_per_s": time_round(a.threads, a.batch, a.warmup, a.steps),
                      "threads": a.threads, "batch": a.batch}))


if __name__ == "__main__":
    main()

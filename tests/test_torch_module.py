#!/usr/bin/env python3
"""python/vitnas_torch.py against the vitnas binary (and timm's and the official layouts).

    python3 tests/test_torch_module.py VITNAS_BINARY REFERENCE_DIR

REFERENCE_DIR is ../shared/reference (or its efficientvit/ folder). For each architecture
(m0..m5, a heterogeneous EfficientViT, vit_7_4_32, deit_tiny, a heterogeneous ViT) it builds the
PyTorch model with random weights and random BatchNorm statistics, saves them with
vitnas_torch.save, runs `vitnas forward` (unfused and --fused) on a random input and compares the
logits with the PyTorch model's eval output. It also checks, for m0..m5, that the saved keys are
exactly the official ones (keys_mN.tsv), that the official implementation's reference logits
(vec_m0/vec_m1) are reproduced, and that to_timm_keys gives timm's efficientvit_msra layout.
Plain asserts; exit code 0 on success, 1 on a failure (torch missing included).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

try:
    import torch
except ImportError:
    print("FAIL: this python3 has no torch (Debian: python3-torch, run with /usr/bin/python3)")
    sys.exit(1)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import vitnas_torch as vt  # noqa: E402

TOLERANCE = 1e-4  # max abs difference of logits
PRESETS = ["m0", "m1", "m2", "m3", "m4", "m5"]


# ---- architectures ---------------------------------------------------------------------------

def head(key_dim, v_dim, kernel, kind):
    return {"key_dim": key_dim, "v_dim": v_dim, "kernel": kernel, "kind": kind}


def vit_head(qk_dim, v_dim, kind):
    return {"qk_dim": qk_dim, "v_dim": v_dim, "kind": kind}


# Every generalisation the ArchSpec allows, small enough to run in a blink. Map sides: 80 ->
# stem 40, 20, 10; stage 1: 10x10 with window 7 (padded to 14: four windows); stage 2: 5x5 with
# window 3 (padded to 6); stage 3: 3x3 with window 7 (capped at 3: one window); stage 4: 2x2.
HETERO_EFFICIENTVIT = {
    "family": "efficientvit", "name": "hetero", "img_size": 80, "in_chans": 2,
    "num_classes": 10, "distillation": True, "stem": [8, 16, 32],
    "stages": [
        {"embed_dim": 32, "window": 7, "downsample": None, "blocks": [
            {"ffn_before": [48],
             "attention": {"cascade": True, "heads": [head(8, 16, 3, "softmax"),
                                                      head(12, 16, 5, "relu_softmax")]},
             "ffn_after": [64, 32]},
            {"ffn_before": [],
             "attention": {"cascade": False, "heads": [head(4, 12, 1, "scaling"),
                                                       head(8, 4, 3, "softmax"),
                                                       head(6, 8, 7, "relu_softmax"),
                                                       head(16, 20, 5, "softmax")]},
             "ffn_after": []}]},
        {"embed_dim": 48, "window": 3,
         "downsample": {"ffn_before": [], "hidden": 112, "ffn_after": [72, 40]},
         "blocks": [
             {"ffn_before": [64], "attention": None, "ffn_after": [96]},
             {"ffn_before": [],
              "attention": {"cascade": True, "heads": [head(4, 16, 3, "relu_softmax"),
                                                       head(16, 16, 5, "scaling"),
                                                       head(8, 16, 1, "softmax")]},
              "ffn_after": [32]}]},
        {"embed_dim": 64, "window": 7,
         "downsample": {"ffn_before": [40], "hidden": 128, "ffn_after": []},
         "blocks": [
             {"ffn_before": [96],
              "attention": {"cascade": False, "heads": [head(16, 24, 3, "softmax"),
                                                        head(8, 40, 3, "scaling")]},
              "ffn_after": []}]},
        {"embed_dim": 40, "window": 2,
         "downsample": {"ffn_before": [], "hidden": 80, "ffn_after": []},
         "blocks": []}]}

# Per-head widths and kinds, every activation, no class token (mean pooling), CCT layers.
HETERO_VIT = {
    "family": "vit", "name": "vit_hetero", "img_size": 24, "patch_size": 4, "in_chans": 3,
    "num_classes": 7, "embed_dim": 48, "cls_token": False, "qkv_bias": True, "style": "cct",
    "distillation": True,
    "layers": [
        {"heads": [vit_head(16, 8, "softmax"), vit_head(8, 24, "relu_softmax"),
                   vit_head(4, 4, "scaling")], "mlp_hidden": 64, "act": "relu"},
        {"heads": [vit_head(12, 12, "scaling")] * 4, "mlp_hidden": 32, "act": "identity"},
        {"heads": [vit_head(24, 16, "softmax")], "mlp_hidden": 96, "act": "gelu"}]}


def preset_archs(binary, names):
    """{name: ArchSpec} of presets, from `vitnas info --arch NAME --json` (run side by side)."""
    runs = {n: subprocess.Popen([binary, "info", "--arch", n, "--json"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for n in names}
    archs = {}
    for n, process in runs.items():
        out, err = process.communicate()
        assert process.returncode == 0, f"vitnas info --arch {n} failed:\n{err}"
        archs[n] = json.loads(out)["arch"]
    return archs


# ---- random weights --------------------------------------------------------------------------

@torch.no_grad()
def randomize(model, seed):
    """Random weights, with BN and LayerNorm parameters and BN running statistics away from their
    defaults, so every normalisation matters.

    The running statistics are the batch statistics of a random input, then perturbed: with
    arbitrary ones the activations of a deep residual network grow to logits of 1e3-1e4, where
    float32 rounding alone exceeds the 1e-4 tolerance.
    """
    g = torch.Generator().manual_seed(seed)

    def rand(shape, lo, hi):
        return torch.rand(shape, generator=g) * (hi - lo) + lo

    bns = []
    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            # The last BN of a residual branch (the official code starts it at 0) small, so the
            # network stays near the identity and does not amplify float32 rounding.
            last = re.search(r"(pw2|proj\.1|\.m)\.bn$", name) is not None
            module.weight.copy_(rand(module.num_features, 0.1, 0.4) if last else
                                rand(module.num_features, 0.5, 1.5))
            module.bias.copy_(rand(module.num_features, -0.2, 0.2))
            bns.append(module)
        elif isinstance(module, torch.nn.LayerNorm):
            module.weight.copy_(rand(module.weight.shape, 0.5, 1.5))
            module.bias.copy_(rand(module.bias.shape, -0.2, 0.2))
        elif isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            fan_in = module.weight[0].numel()
            module.weight.copy_(torch.randn(module.weight.shape, generator=g) / fan_in ** 0.5)
            if module.bias is not None:
                module.bias.copy_(rand(module.bias.shape, -0.1, 0.1))
    for name, p in model.named_parameters():
        if name.endswith("attention_biases") or name in ("cls_token", "pos_embed"):
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        if model.arch["family"] == "vit" and name.startswith(("patch_embed.", "cls_token",
                                                              "pos_embed")):
            p.mul_(0.003)  # a quiet first layer: LayerNorm's eps (1e-6 or 1e-5) matters there
    if not bns:
        return
    # Running statistics := one random batch's (momentum 1), every head included.
    for bn in bns:
        bn.momentum = 1.0
    arch = model.arch
    x = torch.randn(4, arch["in_chans"], arch["img_size"], arch["img_size"], generator=g)
    model.train()
    features = model.forward_features(x)
    model.forward_heads(features)
    # The classifier's BN1d sees pooled features that differ little between images: its
    # per-channel batch variance would blow up the logits of other inputs. It takes the spread
    # over images and channels instead.
    spread = features.mean((2, 3)).var()
    for bn in bns:
        bn.momentum = 0.1
        n = bn.num_features
        if isinstance(bn, torch.nn.BatchNorm1d):
            bn.running_var.fill_(spread)
        # A channel that barely varies (a dead ReLU, a tiny SE gate) would divide rounding
        # noise by ~0: floor the variances at half the layer's mean.
        bn.running_var.clamp_(min=0.5 * bn.running_var.mean().item())
        bn.running_mean.add_(rand(n, -0.1, 0.1) * bn.running_var.sqrt())
        bn.running_var.mul_(rand(n, 0.7, 1.4))
        bn.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=g)))
    model.eval()


# ---- the checks ------------------------------------------------------------------------------

def start_vitnas(binary, arch_path, weights, x_path, y_path, fused):
    """Starts `vitnas forward`; finish_vitnas waits for it (the two runs of an architecture
    overlap with each other and with the Python checks: the machine may have only 2 cores)."""
    cmd = [binary, "forward", "--arch", arch_path, "--weights", weights, "--input", x_path,
           "--output", y_path, "--log-level", "warn"] + (["--fused"] if fused else [])
    return cmd, y_path, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True)


def finish_vitnas(run):
    cmd, y_path, process = run
    _, stderr = process.communicate()
    assert process.returncode == 0, f"{' '.join(cmd)} failed:\n{stderr}"
    return vt.load_file(y_path)[0]["logits"]


def read_tsv(path):
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0].split("\t") == ["key", "shape", "dtype"], f"{path}: unexpected header"
    rows = []
    for line in lines[1:]:
        key, shape, dtype = line.split("\t")
        dims = [] if shape == "scalar" else [int(d) for d in shape.split("x")]
        rows.append((key, dims, dtype))
    return rows


def check_against_vitnas(binary, tmp, arch, seed, batch, ref_dir, report):
    """Random weights -> save -> vitnas forward (unfused, fused) == PyTorch eval output."""
    name = arch["name"]
    model = vt.build(arch)
    randomize(model, seed)
    model.eval()
    arch_path = os.path.join(tmp, f"{name}.json")
    with open(arch_path, "w") as f:
        json.dump(arch, f)
    weights = os.path.join(tmp, f"{name}.safetensors")
    vt.save(model, weights)

    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(batch, arch["in_chans"], arch["img_size"], arch["img_size"], generator=g)
    x_path = os.path.join(tmp, f"{name}_x.safetensors")
    vt.save_file({"input": x}, x_path)
    with torch.no_grad():
        expected = model(x)

    runs = {kind: start_vitnas(binary, arch_path, weights, x_path,
                               os.path.join(tmp, f"{name}_{kind}.safetensors"), kind == "fused")
            for kind in ("unfused", "fused")}

    # While vitnas runs: the file round-trips (strict load into a fresh model, same tensors).
    loaded = vt.load(vt.build(arch), weights).state_dict()
    for k, v in model.state_dict().items():
        assert torch.equal(loaded[k], v), f"{name}: '{k}' changed in the round trip"
    if name in PRESETS:  # exactly the official keys, shapes, dtypes and order
        saved, _ = vt.load_file(weights)
        got_rows = [(k, list(t.shape), str(t.dtype).replace("torch.", ""))
                    for k, t in saved.items()]
        want = read_tsv(os.path.join(ref_dir, f"keys_{name}.tsv"))
        assert got_rows == want, f"{name}: saved keys differ from keys_{name}.tsv: " + str(
            [r for r in got_rows if r not in want][:3] + [r for r in want if r not in got_rows][:3])
        check_timm_layout(name, model.state_dict())

    diffs = {}
    for kind, run in runs.items():
        got = finish_vitnas(run)
        assert got.shape == expected.shape, \
            f"{name}: logits {list(got.shape)}, expected {list(expected.shape)}"
        diffs[kind] = (got - expected).abs().max().item()
    report.append((name, diffs["unfused"], diffs["fused"], expected.abs().max().item()))
    for kind, d in diffs.items():
        assert d <= TOLERANCE, f"{name} ({kind}): max |vitnas - torch| = {d:.3g} > {TOLERANCE}"


def check_official_logits(ref_dir, archs, report):
    """The official implementation's logits for random weights (vec_mN.safetensors)."""
    for name in ("m0", "m1"):
        path = os.path.join(ref_dir, f"vec_{name}.safetensors")
        if not os.path.exists(path):
            continue
        model = vt.build(archs[name])
        data, _ = vt.load_file(path)
        # The relative-position bias index is a buffer, so files carry it: check that the one
        # built here is the official one (a wrong index would otherwise travel with the file).
        for k, v in model.state_dict().items():
            if k.endswith("attention_bias_idxs"):
                assert torch.equal(v, data[k]), f"{name}: {k} differs from the official index"
        vt.load(model, path)  # skips the "__" data keys
        with torch.no_grad():
            got = model.eval()(data["__input__"])
        d = (got - data["__logits__"]).abs().max().item()
        scale = data["__logits__"].abs().max().item()
        report.append((f"{name} vs official logits", d, None, scale))
        assert d <= TOLERANCE, f"vec_{name}: max |torch - official| = {d:.3g}"


# ---- timm's layout, derived from timm's model definition -------------------------------------
#
# Independent of vitnas_torch: the expected keys come from a transcription of timm's module tree
# (timm/models/efficientvit_msra.py: EfficientVitMsra, PatchEmbedding, EfficientVitStage,
# EfficientVitBlock, CascadedGroupAttention, PatchMerging, ConvNorm, NormLinear; SqueezeExcite
# from timm.layers) with timm's own preset arguments, not from vitnas's ArchSpec.

TIMM_PRESETS = {  # timm's @register_model efficientvit_m0..m5: embed_dim, depth, num_heads, kernels
    "m0": ([64, 128, 192], [1, 2, 3], [4, 4, 4], [5, 5, 5, 5]),
    "m1": ([128, 144, 192], [1, 2, 3], [2, 3, 3], [7, 5, 3, 3]),
    "m2": ([128, 192, 224], [1, 2, 3], [4, 3, 2], [7, 5, 3, 3]),
    "m3": ([128, 240, 320], [1, 2, 3], [4, 3, 4], [5, 5, 5, 5]),
    "m4": ([128, 256, 384], [1, 2, 3], [4, 4, 4], [7, 5, 3, 3]),
    "m5": ([192, 288, 384], [1, 3, 4], [3, 3, 4], [7, 5, 3, 3]),
}


def timm_make_divisible(v, divisor=8, min_value=None, round_limit=0.0):  # timm.layers.helpers
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


def timm_keys(embed_dim, depth, num_heads, kernels, img_size=224, key_dim=16, window_size=7,
              num_classes=1000):
    """[(key, shape)] of EfficientVitMsra(...).state_dict(), in order."""
    keys = []

    def conv_norm(p, a, b, ks=1, groups=1):  # ConvNorm: conv (no bias), bn
        keys.append((f"{p}.conv.weight", [b, a // groups, ks, ks]))
        keys.extend((f"{p}.bn.{n}", [b]) for n in ("weight", "bias", "running_mean", "running_var"))
        keys.append((f"{p}.bn.num_batches_tracked", []))

    def conv_mlp(p, ed, h):  # ConvMlp: pw1, act, pw2
        conv_norm(f"{p}.pw1", ed, h)
        conv_norm(f"{p}.pw2", h, ed)

    def res_pair(p, ed):  # Sequential(ResidualDrop(ConvNorm dw), ResidualDrop(ConvMlp(ed, 2ed)))
        conv_norm(f"{p}.0.m", ed, ed, 3, ed)
        conv_mlp(f"{p}.1.m", ed, int(ed * 2))

    d0 = embed_dim[0]
    stem = [(3, d0 // 8), (d0 // 8, d0 // 4), (d0 // 4, d0 // 2), (d0 // 2, d0)]
    for i, (a, b) in enumerate(stem):  # PatchEmbedding: conv1, relu1, ..., conv4
        conv_norm(f"patch_embed.conv{i + 1}", a, b, 3)
    resolution = img_size // 16
    pre = embed_dim[0]
    for i, (ed, dpth, nh) in enumerate(zip(embed_dim, depth, num_heads)):
        s = f"stages.{i}"
        if i > 0:  # down_ops ('subsample', 2) for stages 1 and 2
            resolution = (resolution - 1) // 2 + 1
            res_pair(f"{s}.downsample.res1", pre)
            hid = int(pre * 4)  # PatchMerging: conv1, act, conv2, se, conv3
            conv_norm(f"{s}.downsample.patchmerge.conv1", pre, hid)
            conv_norm(f"{s}.downsample.patchmerge.conv2", hid, hid, 3, hid)
            rd = timm_make_divisible(hid * 0.25, 8, round_limit=0.0)
            keys += [(f"{s}.downsample.patchmerge.se.fc1.weight", [rd, hid, 1, 1]),
                     (f"{s}.downsample.patchmerge.se.fc1.bias", [rd]),
                     (f"{s}.downsample.patchmerge.se.fc2.weight", [hid, rd, 1, 1]),
                     (f"{s}.downsample.patchmerge.se.fc2.bias", [hid])]
            conv_norm(f"{s}.downsample.patchmerge.conv3", hid, ed)
            res_pair(f"{s}.downsample.res2", ed)
        val_dim = int(ed / (key_dim * nh) * key_dim)  # attn_ratio * key_dim
        r = min(window_size, resolution)
        for j in range(dpth):
            b = f"{s}.blocks.{j}"
            conv_norm(f"{b}.dw0.m", ed, ed, 3, ed)
            conv_mlp(f"{b}.ffn0.m", ed, int(ed * 2))
            a = f"{b}.mixer.m.attn"  # own parameter first; attention_bias_idxs is not persistent
            keys.append((f"{a}.attention_biases", [nh, r * r]))
            for h in range(nh):
                conv_norm(f"{a}.qkvs.{h}", ed // nh, key_dim * 2 + val_dim)
            for h in range(nh):
                conv_norm(f"{a}.dws.{h}", key_dim, key_dim, kernels[h], key_dim)
            conv_norm(f"{a}.proj.1", val_dim * nh, ed)
            conv_norm(f"{b}.dw1.m", ed, ed, 3, ed)
            conv_mlp(f"{b}.ffn1.m", ed, int(ed * 2))
        pre = ed
    keys += [(f"head.bn.{n}", [embed_dim[-1]]) for n in ("weight", "bias", "running_mean",
                                                          "running_var")]
    keys += [("head.bn.num_batches_tracked", []),  # NormLinear: bn, drop, linear
             ("head.linear.weight", [num_classes, embed_dim[-1]]),
             ("head.linear.bias", [num_classes])]
    return keys


def timm_checkpoint_filter_fn(state_dict, target_keys):
    """timm's own official -> timm conversion (efficientvit_msra.checkpoint_filter_fn, as kept
    commented out in the file since the hub weights are stored converted), transcribed."""
    tmp_dict, out_dict = {}, {}
    target_keys = [k for k in target_keys if k.startswith("stages.")]
    for k, v in state_dict.items():
        if "attention_bias_idxs" in k:
            continue
        k = k.split(".")
        if k[-2] == "c":
            k[-2] = "conv"
        if k[-2] == "l":
            k[-2] = "linear"
        tmp_dict[".".join(k)] = v
    for k, v in tmp_dict.items():
        if k.startswith("patch_embed"):
            k = k.split(".")
            k[1] = "conv" + str(int(k[1]) // 2 + 1)
            k = ".".join(k)
        elif k.startswith("blocks"):
            kw = ".".join(k.split(".")[2:])
            find_kw = [a for a in list(sorted(tmp_dict.keys())) if kw in a]
            idx = find_kw.index(k)
            k = [a for a in target_keys if kw in a][idx]
        out_dict[k] = v
    return out_dict


# Hand-written official -> timm pairs, read off timm's module names.
TIMM_PAIRS = {
    "m0": [
        ("patch_embed.0.c.weight", "patch_embed.conv1.conv.weight"),
        ("patch_embed.6.bn.running_var", "patch_embed.conv4.bn.running_var"),
        ("blocks1.0.mixer.m.attn.qkvs.3.c.weight",
         "stages.0.blocks.0.mixer.m.attn.qkvs.3.conv.weight"),
        ("blocks1.0.mixer.m.attn.attention_biases",
         "stages.0.blocks.0.mixer.m.attn.attention_biases"),
        ("blocks2.0.1.m.pw1.c.weight", "stages.1.downsample.res1.1.m.pw1.conv.weight"),
        ("blocks2.1.se.fc1.bias", "stages.1.downsample.patchmerge.se.fc1.bias"),
        ("blocks2.1.conv3.bn.weight", "stages.1.downsample.patchmerge.conv3.bn.weight"),
        ("blocks2.2.0.m.c.weight", "stages.1.downsample.res2.0.m.conv.weight"),
        ("blocks2.4.dw1.m.bn.bias", "stages.1.blocks.1.dw1.m.bn.bias"),
        ("blocks3.5.ffn1.m.pw2.bn.num_batches_tracked",
         "stages.2.blocks.2.ffn1.m.pw2.bn.num_batches_tracked"),
        ("head.l.weight", "head.linear.weight"),
        ("head.bn.running_mean", "head.bn.running_mean")],
    "m5": [
        ("blocks2.5.mixer.m.attn.proj.1.c.weight",
         "stages.1.blocks.2.mixer.m.attn.proj.1.conv.weight"),
        ("blocks3.6.ffn0.m.pw1.bn.weight", "stages.2.blocks.3.ffn0.m.pw1.bn.weight")],
}


def check_timm_layout(name, state_dict):
    converted = vt.to_timm_keys(state_dict)
    want = timm_keys(*TIMM_PRESETS[name])
    got = [(k, list(v.shape)) for k, v in converted.items()]
    assert got == want, f"{name}: to_timm_keys differs from timm's layout: " + str(
        [r for r in got if r not in want][:3] + [r for r in want if r not in got][:3])
    n_attn = sum(TIMM_PRESETS[name][1])  # one attention_bias_idxs per block
    assert len(converted) == len(state_dict) - n_attn, f"{name}: only attention_bias_idxs may go"
    for official, timm in TIMM_PAIRS.get(name, []):
        assert timm in converted and converted[timm] is state_dict[official], \
            f"{name}: {official} should become {timm}"
    # timm's own conversion, run on the official keys against timm's model keys, agrees.
    by_filter = timm_checkpoint_filter_fn(state_dict, [k for k, _ in want])
    assert list(by_filter) == [k for k, _ in want]
    for k, v in by_filter.items():
        assert converted[k] is v, f"{name}: timm's checkpoint_filter_fn puts another tensor at {k}"
    # And back: exactly the official state dict, bias indices recomputed.
    back = vt.from_timm_keys(converted)
    assert list(back) == list(state_dict), f"{name}: from_timm_keys does not invert to_timm_keys"
    for k, v in back.items():
        assert torch.equal(v, state_dict[k]), f"{name}: '{k}' differs after the timm round trip"


# ---- main ------------------------------------------------------------------------------------

def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    binary, ref_dir = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    if os.path.isdir(os.path.join(ref_dir, "efficientvit")):
        ref_dir = os.path.join(ref_dir, "efficientvit")
    torch.set_num_threads(1)
    start = time.time()
    report = []
    with tempfile.TemporaryDirectory(prefix="vitnas_torch_") as tmp:
        archs = preset_archs(binary, PRESETS + ["vit_7_4_32", "deit_tiny"])
        cases = [(archs[n], 1) for n in PRESETS]
        cases += [(HETERO_EFFICIENTVIT, 2), (archs["vit_7_4_32"], 2), (archs["deit_tiny"], 2),
                  (HETERO_VIT, 2)]
        for seed, (arch, batch) in enumerate(cases):
            check_against_vitnas(binary, tmp, arch, 100 + 10 * seed, batch, ref_dir, report)
        check_official_logits(ref_dir, archs, report)
        # timm naming through the file: save as timm, load as timm, same tensors.
        model = vt.build(HETERO_EFFICIENTVIT)
        randomize(model, 7)
        path = os.path.join(tmp, "timm.safetensors")
        vt.save(model, path, naming="timm")
        assert not any(k.startswith("blocks") for k in vt.load_file(path)[0])
        loaded = vt.load(vt.build(HETERO_EFFICIENTVIT), path, naming="timm").state_dict()
        for k, v in model.state_dict().items():
            assert torch.equal(loaded[k], v), f"timm file round trip: '{k}'"

    print(f"{'architecture':<28} {'unfused':>10} {'fused':>10} {'max |logit|':>12}")
    for name, unfused, fused, scale in report:
        f = "" if fused is None else f"{fused:10.2e}"
        print(f"{name:<28} {unfused:10.2e} {f:>10} {scale:12.3f}")
    print(f"OK: all within {TOLERANCE} ({time.time() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

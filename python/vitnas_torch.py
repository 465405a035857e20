"""vitnas_torch: any vitnas ArchSpec as a PyTorch module, with vitnas's weights.

One file, needing only torch and numpy. It mirrors vitnas's C++ models (src/models/) module for
module, so the state-dict keys are vitnas's (for the EfficientViT presets m0..m5: the official
EfficientViT keys) and a `weights.safetensors` written by vitnas loads strictly, and the other
way round.

    import vitnas_torch as vt
    model = vt.build("runs/fmnist/arch.json")        # or an ArchSpec dict
    vt.load(model, "runs/fmnist/weights.safetensors")
    logits = model.eval()(images)                     # (B, num_classes)
    vt.save(model, "w.safetensors")                   # vitnas forward --weights w.safetensors

Families (DESIGN.md, "ArchSpec"):
  efficientvit  EfficientViT (Liu et al., "EfficientViT: Memory Efficient Vision Transformer with
                Cascaded Group Attention", CVPR 2023), generalised per block and per head: FFNs
                before/after the mixer, per-head key_dim, v_dim, q kernel and attention kind
                (MPCViT, Zeng et al. ICCV 2023), the cascade on or off.
  vit           DeiT (Touvron et al. 2021) or Compact Transformers' ViT-Lite layers, with timm's
                VisionTransformer names and per-head widths and kinds.

timm: `to_timm_keys` / `from_timm_keys` rename an EfficientViT state dict to and from timm's
`efficientvit_msra` (EfficientVitMsra) layout; `save(..., naming="timm")` writes that file.

safetensors is read and written here by hand (8-byte little-endian header length, JSON header,
raw little-endian data), so no `safetensors` package is needed.
"""

import json
import math
import re
import struct
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "build", "load_arch", "load", "save", "load_file", "save_file", "to_timm_keys",
    "from_timm_keys", "EfficientViT", "VisionTransformer",
]


# ---- ArchSpec --------------------------------------------------------------------------------

def load_arch(arch):
    """An ArchSpec dict from a dict, a JSON file path, or `vitnas info --json` output ("arch").

    Fills the optional keys with vitnas's defaults (arch_spec.cpp): distillation false; vit
    qkv_bias true and style "deit". Presets (m0, deit_tiny, ...) live in the C++ binary: write
    one with `vitnas info --arch m0 --json` and pass its "arch" (or the whole output).
    """
    if isinstance(arch, (str, bytes)) or hasattr(arch, "__fspath__"):
        with open(arch) as f:
            arch = json.load(f)
    if isinstance(arch.get("arch"), dict):  # the whole `vitnas info --json` output
        arch = arch["arch"]
    spec = json.loads(json.dumps(arch))  # a deep copy: never change the caller's dict
    family = spec.get("family")
    if family not in ("efficientvit", "vit"):
        raise ValueError(f"family: expected 'efficientvit' or 'vit', got {family!r}")
    spec.setdefault("distillation", False)
    if family == "vit":
        spec.setdefault("qkv_bias", True)
        spec.setdefault("style", "deit")
        _check(spec["img_size"] % spec["patch_size"] == 0, "img_size",
               f"{spec['img_size']} is not divisible by patch_size {spec['patch_size']}")
    else:
        _check_efficientvit(spec)
    return spec


def _check(ok, path, message):
    if not ok:
        raise ValueError(f"{path}: {message}")


def _check_efficientvit(spec):
    """The structural rules a network needs to be built (vitnas's validate() checks all)."""
    stages = spec["stages"]
    _check(spec["stem"] and stages, "stem", "needs at least one stem conv and one stage")
    _check(spec["stem"][-1] == stages[0]["embed_dim"], "stem",
           f"the last width must equal stages[0].embed_dim = {stages[0]['embed_dim']}")
    for i, stage in enumerate(stages):
        _check((stage["downsample"] is None) == (i == 0), f"stages[{i}].downsample",
               "must be null for the first stage and only there")
        for j, block in enumerate(stage["blocks"]):
            attention = block["attention"]
            if attention is None:
                continue
            path, heads = f"stages[{i}].blocks[{j}].attention.heads", attention["heads"]
            _check(heads and stage["embed_dim"] % len(heads) == 0, path,
                   f"{len(heads)} heads do not divide embed_dim {stage['embed_dim']}")
            chunk = stage["embed_dim"] // len(heads)
            for h, head in enumerate(heads):
                _check(not attention["cascade"] or head["v_dim"] == chunk, f"{path}[{h}].v_dim",
                       f"cascade needs v_dim == embed_dim / heads = {chunk}")
                _check(head["kernel"] % 2 == 1, f"{path}[{h}].kernel", "must be odd")


def downsampled_side(side):
    """Side of a map after a 3x3 stride-2 pad-1 conv (stem, PatchMerging)."""
    return (side - 1) // 2 + 1


def se_width(hidden):
    """Squeeze-excite width in PatchMerging: timm's make_divisible(hidden / 4, 8), round_limit 0."""
    return max(8, int(hidden * 0.25 + 4) // 8 * 8)


def window_geometry(side, window):
    """The window rule: the window is capped at the map, the map padded to whole windows.

    Returns (R, per_side): the window side and the number of windows along each side.
    """
    r = min(window, side)
    return r, (side + r - 1) // r


# ---- attention math (vitnas's attention_ops.cpp) ---------------------------------------------

RSATTN_EPS = 1e-5  # MPCViT's ReLU-softmax normaliser epsilon


def attention_map(scores, kind):
    """MPCViT's three attention kinds on the scores (..., N, N), along the last dimension."""
    if kind == "softmax":
        return scores.softmax(-1)
    if kind == "relu_softmax":  # "RSAttn": ReLU(S) / (sum_j ReLU(S) + eps)
        r = F.relu(scores)
        return r / (r.sum(-1, keepdim=True) + RSATTN_EPS)
    if kind == "scaling":  # "ScaleAttn": S / N
        return scores / scores.shape[-1]
    raise ValueError(f"attention kind: expected softmax, relu_softmax or scaling, got {kind!r}")


def attention_bias_index(window):
    """(R*R, R*R) index of the relative-position bias: the pair (p, q) reads |dr| * R + |dc|.

    The official code numbers the offsets in first-seen order, which gives exactly this.
    """
    r = torch.arange(window)
    rows, cols = r.repeat_interleave(window), r.repeat(window)  # each token's (row, col)
    dr = (rows[:, None] - rows[None, :]).abs()
    dc = (cols[:, None] - cols[None, :]).abs()
    return dr * window + dc


def drop_path(x, rate, training):
    """Stochastic depth: drops the branch for a fraction `rate` of the samples."""
    if not training or rate <= 0.0:
        return x
    keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1.0 - rate)
    return x * keep / (1.0 - rate)


# ---- EfficientViT building blocks ------------------------------------------------------------

class Conv2dBN(nn.Sequential):
    """Bias-free Conv2d + BatchNorm2d ("c", "bn"): every convolution of EfficientViT."""

    def __init__(self, in_chs, out_chs, kernel=1, stride=1, groups=1, bn_weight_init=1.0):
        super().__init__()
        self.c = nn.Conv2d(in_chs, out_chs, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_chs)
        nn.init.constant_(self.bn.weight, bn_weight_init)
        nn.init.zeros_(self.bn.bias)


class BNLinear(nn.Sequential):
    """BatchNorm1d + Linear ("bn", "l"): EfficientViT's classifier."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.bn = nn.BatchNorm1d(in_features)
        self.l = nn.Linear(in_features, out_features)
        nn.init.normal_(self.l.weight, std=0.02)  # timm's trunc_normal_(.02) truncates at 100 sigma
        nn.init.zeros_(self.l.bias)


class Residual(nn.Module):
    """x + m(x), with stochastic depth while training; "m" as in the official state dict."""

    def __init__(self, m, drop=0.0):
        super().__init__()
        self.m = m
        self.drop = drop

    def forward(self, x):
        return x + drop_path(self.m(x), self.drop, self.training)


def depthwise(dim, bn_weight_init=1.0):
    """The 3x3 depthwise Conv2dBN ("DW") that precedes every FFN."""
    return Conv2dBN(dim, dim, 3, 1, groups=dim, bn_weight_init=bn_weight_init)


class FFN(nn.Module):
    """1x1 Conv2dBN dim -> hidden, ReLU, 1x1 Conv2dBN hidden -> dim (BN weight init 0)."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.pw1 = Conv2dBN(dim, hidden)
        self.act = nn.ReLU()
        self.pw2 = Conv2dBN(hidden, dim, bn_weight_init=0.0)

    def forward(self, x):
        return self.pw2(self.act(self.pw1(x)))


class SqueezeExcite(nn.Module):
    """timm's SqueezeExcite(channels, 0.25): mean, 1x1 conv, ReLU, 1x1 conv, sigmoid gate."""

    def __init__(self, channels):
        super().__init__()
        rd = se_width(channels)
        self.fc1 = nn.Conv2d(channels, rd, 1)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(rd, channels, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)  # (B, C, 1, 1)
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(s))))


class PatchMerging(nn.Module):
    """The subsample (not residual): 1x1 in -> hidden, 3x3 stride-2 DW, SE, 1x1 hidden -> out."""

    def __init__(self, dim, hidden, out_dim):
        super().__init__()
        self.conv1 = Conv2dBN(dim, hidden)
        self.act = nn.ReLU()
        self.conv2 = Conv2dBN(hidden, hidden, 3, 2, groups=hidden)
        self.se = SqueezeExcite(hidden)
        self.conv3 = Conv2dBN(hidden, out_dim)

    def forward(self, x):  # (B, C, H, W) -> (B, C', (H-1)//2+1, (W-1)//2+1)
        return self.conv3(self.se(self.act(self.conv2(self.act(self.conv1(x))))))


class CascadedGroupAttention(nn.Module):
    """Cascaded group attention (the paper's section 3.2) on R x R maps.

    The input's C channels split into equal chunks, one per head. Head i reads chunk i, plus head
    i-1's output when `cascade` (then its v_dim must equal the chunk). Each head has its own 1x1
    Conv2dBN to q|k|v (key_dim, key_dim, v_dim), a kxk depthwise Conv2dBN on q, a relative-position
    bias and an attention kind. The heads' outputs are concatenated, then ReLU, 1x1 Conv2dBN -> C.
    """

    def __init__(self, dim, attention, window):
        super().__init__()
        self.heads = attention["heads"]
        self.cascade = attention["cascade"]
        self.chunk = dim // len(self.heads)
        self.window = window
        self.qkvs = nn.ModuleList(
            Conv2dBN(self.chunk, 2 * h["key_dim"] + h["v_dim"]) for h in self.heads)
        self.dws = nn.ModuleList(
            Conv2dBN(h["key_dim"], h["key_dim"], h["kernel"], 1, groups=h["key_dim"])
            for h in self.heads)
        v_total = sum(h["v_dim"] for h in self.heads)
        self.proj = nn.Sequential(nn.ReLU(), Conv2dBN(v_total, dim, bn_weight_init=0.0))
        self.attention_biases = nn.Parameter(torch.zeros(len(self.heads), window * window))
        self.register_buffer("attention_bias_idxs", attention_bias_index(window))

    def forward(self, x):  # (B, C, R, R) -> (B, C, R, R)
        B, _, H, W = x.shape
        biases = self.attention_biases[:, self.attention_bias_idxs]  # (heads, N, N), N = R*R
        outs, feat = [], None
        for i, h in enumerate(self.heads):
            chunk = x[:, i * self.chunk:(i + 1) * self.chunk]  # (B, C/heads, R, R)
            feat = chunk + feat if self.cascade and i > 0 else chunk
            kd, vd = h["key_dim"], h["v_dim"]
            q, k, v = self.qkvs[i](feat).split([kd, kd, vd], dim=1)
            q = self.dws[i](q)
            q, k, v = q.flatten(2), k.flatten(2), v.flatten(2)  # (B, kd|kd|v, N)
            scores = (q.transpose(-2, -1) @ k) * kd ** -0.5 + biases[i]  # (B, N, N)
            attn = attention_map(scores, h["kind"])
            feat = (v @ attn.transpose(-2, -1)).view(B, vd, H, W)  # (B, v, R, R)
            outs.append(feat)
        return self.proj(torch.cat(outs, 1))


class LocalWindowAttention(nn.Module):
    """CGA on non-overlapping windows: the window is capped at the map side, and a map that is
    not a whole number of windows is zero-padded bottom/right, then cropped after attention."""

    def __init__(self, dim, attention, resolution, window):
        super().__init__()
        self.resolution = resolution
        self.window, self.per_side = window_geometry(resolution, window)
        self.attn = CascadedGroupAttention(dim, attention, self.window)

    def forward(self, x):  # (B, C, H, W) -> (B, C, H, W)
        B, C, H, W = x.shape
        if (H, W) != (self.resolution, self.resolution):
            raise ValueError(f"LocalWindowAttention: expected {self.resolution}x"
                             f"{self.resolution} maps, got {H}x{W}")
        if self.per_side == 1:  # the map is one window
            return self.attn(x)
        R, n = self.window, self.per_side
        t = F.pad(x.permute(0, 2, 3, 1), (0, 0, 0, n * R - W, 0, n * R - H))  # (B, nR, nR, C)
        t = t.view(B, n, R, n, R, C).transpose(2, 3).reshape(B * n * n, R, R, C)
        t = self.attn(t.permute(0, 3, 1, 2))  # (B*n*n, C, R, R)
        t = t.permute(0, 2, 3, 1).view(B, n, n, R, R, C).transpose(2, 3).reshape(B, n * R, n * R, C)
        return t[:, :H, :W].permute(0, 3, 1, 2).contiguous()  # cropped, (B, C, H, W)


class EfficientViTBlock(nn.Module):
    """Residual parts in forward order under the official names: per FFN a 3x3 DW "dwI" then the
    FFN "ffnI"; the mixer (local window attention) between the FFNs before and after it."""

    def __init__(self, dim, block, resolution, window, drop=0.0):
        super().__init__()
        before = block["ffn_before"]
        for i, hidden in enumerate(before):
            self._add_pair(i, dim, hidden, drop)
        if block["attention"] is not None:
            self.mixer = Residual(
                LocalWindowAttention(dim, block["attention"], resolution, window), drop)
        for i, hidden in enumerate(block["ffn_after"], start=len(before)):
            self._add_pair(i, dim, hidden, drop)

    def _add_pair(self, i, dim, hidden, drop):
        # The DW's BN starts at 0 inside blocks, so each branch starts as the identity.
        self.add_module(f"dw{i}", Residual(depthwise(dim, bn_weight_init=0.0), drop))
        self.add_module(f"ffn{i}", Residual(FFN(dim, hidden), drop))

    def forward(self, x):
        for part in self.children():
            x = part(x)
        return x


def dw_ffn_pairs(dim, hiddens):
    """A subsample side: residual DW + FFN per hidden width (Identity when there are none, so
    PatchMerging keeps the official child index 1)."""
    if not hiddens:
        return nn.Identity()
    parts = []
    for hidden in hiddens:
        parts += [Residual(depthwise(dim)), Residual(FFN(dim, hidden))]
    return nn.Sequential(*parts)


class Classifier(nn.Module):
    """What both families share (vitnas's ClassifierImpl): forward_features, then the class head
    and the optional distillation head, averaged in eval mode."""

    def forward_head(self, features):
        cls, dist = self.forward_heads(features)
        return cls if dist is None or self.training else (cls + dist) / 2

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


class EfficientViT(Classifier):
    """EfficientViT from an "efficientvit" ArchSpec.

        patch_embed  stride-2 3x3 Conv2dBN stem, ReLU between   (B, 3, H, W) -> (B, C1, H/2^s, .)
        blocksK      [subsample: DW+FFN, PatchMerging, DW+FFN] + EfficientViTBlocks
        head         global average pool, BN1d, Linear           -> (B, num_classes)

    With a distillation head, eval mode returns the mean of the two heads' logits and training
    mode the class head's alone (forward_heads gives both), as vitnas does.
    """

    def __init__(self, arch, drop_path_rate=0.0):
        super().__init__()
        self.arch = arch = load_arch(arch)
        stem, stages = arch["stem"], arch["stages"]

        layers, in_chs = [], arch["in_chans"]
        for i, width in enumerate(stem):
            if i > 0:
                layers.append(nn.ReLU())
            layers.append(Conv2dBN(in_chs, width, 3, 2))
            in_chs = width
        self.patch_embed = nn.Sequential(*layers)

        side = arch["img_size"]
        for _ in stem:
            side = downsampled_side(side)
        total = sum(len(s["blocks"]) for s in stages)
        n_block, prev = 0, stem[-1]
        for k, stage in enumerate(stages, start=1):
            dim, parts = stage["embed_dim"], []
            if stage["downsample"] is not None:
                d = stage["downsample"]
                parts.append(dw_ffn_pairs(prev, d["ffn_before"]))
                parts.append(PatchMerging(prev, d["hidden"], dim))
                side = downsampled_side(side)
                parts.append(dw_ffn_pairs(dim, d["ffn_after"]))
            for block in stage["blocks"]:
                # Stochastic depth grows linearly over the blocks of the whole network.
                rate = drop_path_rate * n_block / (total - 1) if total > 1 else drop_path_rate
                parts.append(EfficientViTBlock(dim, block, side, stage["window"], rate))
                n_block += 1
            self.add_module(f"blocks{k}", nn.Sequential(*parts) if parts else nn.Identity())
            prev = dim

        self.head = BNLinear(prev, arch["num_classes"])
        self.head_dist = BNLinear(prev, arch["num_classes"]) if arch["distillation"] else None

    def forward_features(self, x):  # (B, C, H, W) -> (B, C_last, h, w)
        x = self.patch_embed(x)
        for k in range(1, len(self.arch["stages"]) + 1):
            x = getattr(self, f"blocks{k}")(x)
        return x

    def forward_heads(self, features):
        pooled = features.mean((2, 3))  # (B, C_last)
        return self.head(pooled), self.head_dist(pooled) if self.head_dist is not None else None



# ---- ViT -------------------------------------------------------------------------------------

def layer_norm_eps(style):
    """DeiT: timm's 1e-6; CCT: nn.LayerNorm's default 1e-5."""
    return {"deit": 1e-6, "cct": 1e-5}[style]


class Attention(nn.Module):
    """Multi-head self-attention with per-head q/k and v widths and attention kinds.

    qkv's output is [q of every head | k of every head | v of every head], as timm's.
    """

    def __init__(self, dim, heads, qkv_bias=True):
        super().__init__()
        self.heads = heads
        self.qk = sum(h["qk_dim"] for h in heads)
        self.v = sum(h["v_dim"] for h in heads)
        self.uniform = all((h["qk_dim"], h["v_dim"], h["kind"]) ==
                           (heads[0]["qk_dim"], heads[0]["v_dim"], heads[0]["kind"]) for h in heads)
        self.qkv = nn.Linear(dim, 2 * self.qk + self.v, bias=qkv_bias)
        self.proj = nn.Linear(self.v, dim)

    def forward(self, x):  # (B, T, D) -> (B, T, D)
        B, T, _ = x.shape
        q, k, v = self.qkv(x).split([self.qk, self.qk, self.v], dim=-1)  # (B, T, qk|qk|v)
        if self.uniform:  # all heads alike: one batched matmul over the heads
            H, dq, dv = len(self.heads), self.heads[0]["qk_dim"], self.heads[0]["v_dim"]
            q = q.view(B, T, H, dq).transpose(1, 2)  # (B, H, T, dq)
            k = k.view(B, T, H, dq).transpose(1, 2)
            v = v.view(B, T, H, dv).transpose(1, 2)  # (B, H, T, dv)
            attn = attention_map((q @ k.transpose(-2, -1)) * dq ** -0.5, self.heads[0]["kind"])
            return self.proj((attn @ v).transpose(1, 2).reshape(B, T, H * dv))
        outs, oq, ov = [], 0, 0
        for h in self.heads:  # heterogeneous heads: one at a time
            dq, dv = h["qk_dim"], h["v_dim"]
            scores = (q[..., oq:oq + dq] @ k[..., oq:oq + dq].transpose(-2, -1)) * dq ** -0.5
            outs.append(attention_map(scores, h["kind"]) @ v[..., ov:ov + dv])  # (B, T, dv)
            oq, ov = oq + dq, ov + dv
        return self.proj(torch.cat(outs, -1))


class Mlp(nn.Module):
    """fc1, activation (gelu | relu | identity: MPCViT+'s linearised GeLU), fc2."""

    def __init__(self, dim, hidden, act):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = {"gelu": nn.GELU, "relu": nn.ReLU, "identity": nn.Identity}[act]()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """A transformer layer.

    deit: x = x + Attn(LN1(x)); x = x + MLP(LN2(x))
    cct:  x = x + Attn(LN1(x)); x = LN2(x); x = x + MLP(x)   (Compact Transformers)
    """

    def __init__(self, dim, layer, qkv_bias, style, drop=0.0):
        super().__init__()
        eps = layer_norm_eps(style)
        self.style, self.drop = style, drop
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, layer["heads"], qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, layer["mlp_hidden"], layer["act"])

    def forward(self, x):
        x = x + drop_path(self.attn(self.norm1(x)), self.drop, self.training)
        if self.style == "cct":
            x = self.norm2(x)  # CCT normalises the residual stream itself
            return x + drop_path(self.mlp(x), self.drop, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop, self.training)


class PatchEmbed(nn.Module):
    """k = s = patch conv: (B, C, H, W) -> (B, N, D), N = (H / patch)^2."""

    def __init__(self, in_chans, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(Classifier):
    """Plain ViT from a "vit" ArchSpec, with timm's VisionTransformer names.

        patch_embed.proj         (B, C, H, W) -> (B, N, D)
        cls_token, pos_embed     -> (B, T, D), T = N (+1 with the class token)
        blocks.i                 attention + MLP in the layer style's order
        norm, head (head_dist)   final LayerNorm, Linear on the class token (or the token mean)
    """

    def __init__(self, arch, drop_path_rate=0.0):
        super().__init__()
        self.arch = arch = load_arch(arch)
        dim, grid = arch["embed_dim"], arch["img_size"] // arch["patch_size"]
        tokens = grid * grid + (1 if arch["cls_token"] else 0)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if arch["cls_token"] else None
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.patch_embed = PatchEmbed(arch["in_chans"], dim, arch["patch_size"])
        L = len(arch["layers"])
        self.blocks = nn.ModuleList(
            Block(dim, layer, arch["qkv_bias"], arch["style"],
                  drop_path_rate * i / (L - 1) if L > 1 else drop_path_rate)
            for i, layer in enumerate(arch["layers"]))
        self.norm = nn.LayerNorm(dim, eps=layer_norm_eps(arch["style"]))
        self.head = nn.Linear(dim, arch["num_classes"])
        self.head_dist = nn.Linear(dim, arch["num_classes"]) if arch["distillation"] else None

    def forward_features(self, x):  # (B, C, H, W) -> (B, T, D), after the final norm
        x = self.patch_embed(x)  # (B, N, D)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1)
        x = x + self.pos_embed  # (B, T, D)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward_heads(self, features):
        pooled = features[:, 0] if self.cls_token is not None else features.mean(1)  # (B, D)
        return self.head(pooled), self.head_dist(pooled) if self.head_dist is not None else None



def build(arch, drop_path_rate=0.0):
    """The network of an ArchSpec (a dict or a JSON file path), in train mode as nn.Modules start.

    The state-dict keys are vitnas's, so `load(model, "weights.safetensors")` is strict.
    """
    arch = load_arch(arch)
    if arch["family"] == "efficientvit":
        return EfficientViT(arch, drop_path_rate)
    return VisionTransformer(arch, drop_path_rate)


# ---- safetensors -----------------------------------------------------------------------------

_DTYPES = {  # safetensors name -> (torch dtype, numpy dtype of the same bytes, little-endian)
    "F64": (torch.float64, "<f8"), "F32": (torch.float32, "<f4"), "F16": (torch.float16, "<f2"),
    "BF16": (torch.bfloat16, "<i2"), "I64": (torch.int64, "<i8"), "I32": (torch.int32, "<i4"),
    "I16": (torch.int16, "<i2"), "I8": (torch.int8, "i1"), "U8": (torch.uint8, "u1"),
    "BOOL": (torch.bool, "?"),
}
_NAMES = {t: name for name, (t, _) in _DTYPES.items()}


def save_file(tensors, path, metadata=None):
    """Writes {name: tensor} as safetensors, in the given order."""
    header, blobs, offset = OrderedDict(), [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype not in _NAMES:
            raise ValueError(f"{name}: dtype {t.dtype} has no safetensors name")
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy()
        blob = raw.astype(_DTYPES[_NAMES[t.dtype]][1], copy=False).tobytes()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format allows padding; aligns the data to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def load_file(path):
    """Reads a safetensors file: ({name: tensor} in the header's order, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: not a safetensors file (shorter than 8 bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(data[8:8 + n].decode("utf-8"), object_pairs_hook=OrderedDict)
    metadata = header.pop("__metadata__", {}) or {}
    body, tensors = memoryview(data)[8 + n:], OrderedDict()
    for name, entry in header.items():
        dtype, np_dtype = _DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        array = np.frombuffer(body[begin:end], dtype=np_dtype).reshape(entry["shape"])
        t = torch.from_numpy(array.copy())  # copy: the buffer is read-only
        tensors[name] = t.view(torch.bfloat16) if dtype == torch.bfloat16 else t
    return tensors, metadata


def load(model, path, naming="vitnas"):
    """Loads a weights file into `model` strictly: every key, no other, same shapes.

    naming "vitnas": vitnas's keys (the official ones for EfficientViT); "timm": timm's
    efficientvit_msra keys (see to_timm_keys). Keys starting with "__" are data stored beside
    the weights (e.g. a reference input) and are skipped.
    """
    tensors, _ = load_file(path)
    tensors = OrderedDict((k, v) for k, v in tensors.items() if not k.startswith("__"))
    if naming == "timm":
        tensors = from_timm_keys(tensors)
    elif naming != "vitnas":
        raise ValueError(f"naming: expected 'vitnas' or 'timm', got {naming!r}")
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    if missing or unexpected:
        raise KeyError(f"{path}: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                       f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''} "
                       f"(is the file for another architecture?)")
    for k, target in expected.items():
        if tuple(tensors[k].shape) != tuple(target.shape):
            raise ValueError(f"{path}: weight '{k}' has shape {list(tensors[k].shape)}, "
                             f"the model needs {list(target.shape)}")
        if target.is_floating_point() != tensors[k].is_floating_point():
            raise ValueError(f"{path}: weight '{k}' has dtype {tensors[k].dtype}, "
                             f"the model needs {target.dtype}")
    model.load_state_dict(tensors, strict=True)
    return model


def save(model, path, naming="vitnas", metadata=None):
    """Writes the model's state dict: naming "vitnas" is what `vitnas forward --weights` loads;
    "timm" is timm's layout (efficientvit_msra; a ViT's names are timm's already)."""
    sd = OrderedDict((k, v) for k, v in model.state_dict().items())
    if naming == "timm":
        sd = to_timm_keys(sd)
    elif naming != "vitnas":
        raise ValueError(f"naming: expected 'vitnas' or 'timm', got {naming!r}")
    meta = {"format": "pt"}  # what the safetensors PyTorch loader expects
    meta.update(metadata or {})
    save_file(sd, path, meta)


# ---- timm naming -----------------------------------------------------------------------------
#
# timm's efficientvit_msra (timm/models/efficientvit_msra.py, class EfficientVitMsra) holds the
# same tensors as the official EfficientViT under other module names:
#
#   official / vitnas                         timm
#   patch_embed.{0,2,4,6}.c|bn                patch_embed.conv{1,2,3,4}.conv|bn   (i -> i//2 + 1)
#   blocks1.j.R                               stages.0.blocks.j.R
#   blocksK.0.R  (K >= 2, subsample DW+FFN)   stages.{K-1}.downsample.res1.R
#   blocksK.1.R  (PatchMerging)               stages.{K-1}.downsample.patchmerge.R
#   blocksK.2.R  (subsample DW+FFN)           stages.{K-1}.downsample.res2.R
#   blocksK.p.R  (p >= 3, the blocks)         stages.{K-1}.blocks.{p-3}.R
#   *.c.weight   (Conv2d_BN's conv)           *.conv.weight                       (ConvNorm)
#   head.l.*     (BN_Linear's linear)         head.linear.*                       (NormLinear)
#   *.attention_bias_idxs                     (none: a non-persistent buffer in timm)
#
# Everything else (bn.*, se.fc1/fc2, ".m." of the residuals, dw0/ffn0/mixer/dw1/ffn1, qkvs.i,
# dws.i, proj.1, attention_biases) keeps its name. The first stage has no subsample (timm:
# downsample = Identity); every later one has, as vitnas requires. timm's old
# checkpoint_filter_fn did the same by matching key suffixes against the model; these rules are
# the structural form of it. timm's model has no distillation head: head_dist.l is renamed
# head_dist.linear like the head, and must be dropped before loading into timm. An ArchSpec that
# is not timm-expressible (other FFN counts, attention-free blocks, per-head widths) renames by
# the same rules, but timm cannot build a model for it.
#
# A "vit" state dict already has timm's VisionTransformer names (patch_embed.proj, cls_token,
# pos_embed, blocks.i.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}, norm, head) and passes
# through unchanged.

_BLOCKS = re.compile(r"^blocks(\d+)\.(\d+)\.(.*)$")
_STAGES = re.compile(r"^stages\.(\d+)\.(?:downsample\.(res1|patchmerge|res2)|blocks\.(\d+))\.(.*)$")
_SUBSAMPLE = ["res1", "patchmerge", "res2"]


def _rename_leaf(key, table):
    parts = key.split(".")
    if len(parts) >= 2 and parts[-2] in table:
        parts[-2] = table[parts[-2]]
    return ".".join(parts)


def to_timm_keys(state_dict):
    """An EfficientViT state dict in vitnas's (official) keys -> timm's efficientvit_msra keys.

    Same tensors, same order; attention_bias_idxs is dropped (timm recomputes it). A ViT state
    dict is returned as it is (its names are timm's already).
    """
    if "pos_embed" in state_dict:
        return OrderedDict(state_dict)
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.endswith("attention_bias_idxs"):
            continue
        k = _rename_leaf(key, {"c": "conv", "l": "linear"})
        if k.startswith("patch_embed."):
            parts = k.split(".")
            parts[1] = f"conv{int(parts[1]) // 2 + 1}"
            k = ".".join(parts)
        elif (m := _BLOCKS.match(k)) is not None:
            stage, pos, rest = int(m.group(1)), int(m.group(2)), m.group(3)
            if stage == 1:
                k = f"stages.0.blocks.{pos}.{rest}"
            elif pos < 3:
                k = f"stages.{stage - 1}.downsample.{_SUBSAMPLE[pos]}.{rest}"
            else:
                k = f"stages.{stage - 1}.blocks.{pos - 3}.{rest}"
        elif not k.startswith(("head.", "head_dist.")):
            raise KeyError(f"to_timm_keys: '{key}' is not an EfficientViT key")
        out[k] = value
    return out


def from_timm_keys(state_dict):
    """timm's efficientvit_msra keys -> vitnas's (official) keys, the inverse of to_timm_keys.

    attention_bias_idxs, which timm does not store, is recomputed from each attention_biases
    (heads, R*R) and placed after it, as in the official state dict. A ViT state dict is
    returned as it is.
    """
    if "pos_embed" in state_dict:
        return OrderedDict(state_dict)
    out = OrderedDict()
    for key, value in state_dict.items():
        k = _rename_leaf(key, {"conv": "c", "linear": "l"})
        if k.startswith("patch_embed."):
            parts = k.split(".")
            parts[1] = str(2 * (int(parts[1][len("conv"):]) - 1))
            k = ".".join(parts)
        elif (m := _STAGES.match(k)) is not None:
            stage = int(m.group(1)) + 1
            if m.group(2) is not None:
                pos = _SUBSAMPLE.index(m.group(2))
            else:
                pos = int(m.group(3)) + (0 if stage == 1 else 3)
            k = f"blocks{stage}.{pos}.{m.group(4)}"
        elif not k.startswith(("head.", "head_dist.")):
            raise KeyError(f"from_timm_keys: '{key}' is not an efficientvit_msra key")
        out[k] = value
        if k.endswith("attention_biases"):
            window = math.isqrt(value.shape[1])
            out[k[:-len("attention_biases")] + "attention_bias_idxs"] = attention_bias_index(window)
    return out

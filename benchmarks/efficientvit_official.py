"""EfficientViT (Liu et al., CVPR 2023, "Memory Efficient Vision Transformer with Cascaded Group
Attention"), ported module for module from Microsoft's official
`EfficientViT/classification/model/efficientvit.py` and the m0 entry of its `build.py`, so the
training-step and inference benchmarks can time the official PyTorch model without timm installed. Same module
names, so the state-dict keys are the official ones; timm's SqueezeExcite and trunc_normal_ are
written out below. For benchmarks and tests only: vitnas itself never runs Python.
"""
import itertools

import torch


def make_divisible(v, divisor=8):
    """timm's make_divisible with round_limit=0, as its SqueezeExcite calls it."""
    return max(divisor, int(v + divisor / 2) // divisor * divisor)


class SqueezeExcite(torch.nn.Module):
    """timm.models.layers.SqueezeExcite (SEModule): mean over HxW, 1x1 conv, ReLU, 1x1 conv,
    sigmoid gate."""

    def __init__(self, channels, rd_ratio=1. / 16):
        super().__init__()
        rd_channels = make_divisible(channels * rd_ratio)
        self.fc1 = torch.nn.Conv2d(channels, rd_channels, kernel_size=1, bias=True)
        self.bn = torch.nn.Identity()
        self.act = torch.nn.ReLU(inplace=True)
        self.fc2 = torch.nn.Conv2d(rd_channels, channels, kernel_size=1, bias=True)
        self.gate = torch.nn.Sigmoid()

    def forward(self, x):
        x_se = x.mean((2, 3), keepdim=True)
        x_se = self.fc1(x_se)
        x_se = self.act(self.bn(x_se))
        x_se = self.fc2(x_se)
        return x * self.gate(x_se)


class Conv2d_BN(torch.nn.Sequential):
    def __init__(self, a, b, ks=1, stride=1, pad=0, dilation=1,
                 groups=1, bn_weight_init=1, resolution=-10000):
        super().__init__()
        self.add_module('c', torch.nn.Conv2d(
            a, b, ks, stride, pad, dilation, groups, bias=False))
        self.add_module('bn', torch.nn.BatchNorm2d(b))
        torch.nn.init.constant_(self.bn.weight, bn_weight_init)
        torch.nn.init.constant_(self.bn.bias, 0)

    @torch.no_grad()
    def fuse(self):
        c, bn = self._modules.values()
        w = bn.weight / (bn.running_var + bn.eps) ** 0.5
        w = c.weight * w[:, None, None, None]
        b = bn.bias - bn.running_mean * bn.weight / (bn.running_var + bn.eps) ** 0.5
        m = torch.nn.Conv2d(w.size(1) * self.c.groups, w.size(0), w.shape[2:],
                            stride=self.c.stride, padding=self.c.padding,
                            dilation=self.c.dilation, groups=self.c.groups)
        m.weight.data.copy_(w)
        m.bias.data.copy_(b)
        return m


class BN_Linear(torch.nn.Sequential):
    def __init__(self, a, b, bias=True, std=0.02):
        super().__init__()
        self.add_module('bn', torch.nn.BatchNorm1d(a))
        self.add_module('l', torch.nn.Linear(a, b, bias=bias))
        torch.nn.init.trunc_normal_(self.l.weight, std=std)
        if bias:
            torch.nn.init.constant_(self.l.bias, 0)

    @torch.no_grad()
    def fuse(self):
        bn, l = self._modules.values()
        w = bn.weight / (bn.running_var + bn.eps) ** 0.5
        b = bn.bias - self.bn.running_mean * self.bn.weight / (bn.running_var + bn.eps) ** 0.5
        w = l.weight * w[None, :]
        if l.bias is None:
            b = b @ self.l.weight.T
        else:
            b = (l.weight @ b[:, None]).view(-1) + self.l.bias
        m = torch.nn.Linear(w.size(1), w.size(0))
        m.weight.data.copy_(w)
        m.bias.data.copy_(b)
        return m


def replace_batchnorm(net):
    """The official utils.replace_batchnorm, which speed_test.py runs before tracing: every
    Conv2d_BN and BN_Linear becomes its folded conv or linear."""
    for child_name, child in net.named_children():
        if hasattr(child, 'fuse'):
            fused = child.fuse()
            setattr(net, child_name, fused)
            replace_batchnorm(fused)
        elif isinstance(child, torch.nn.BatchNorm2d):
            setattr(net, child_name, torch.nn.Identity())
        else:
            replace_batchnorm(child)


class PatchMerging(torch.nn.Module):
    def __init__(self, dim, out_dim, input_resolution):
        super().__init__()
        hid_dim = int(dim * 4)
        self.conv1 = Conv2d_BN(dim, hid_dim, 1, 1, 0, resolution=input_resolution)
        self.act = torch.nn.ReLU()
        self.conv2 = Conv2d_BN(hid_dim, hid_dim, 3, 2, 1, groups=hid_dim,
                               resolution=input_resolution)
        self.se = SqueezeExcite(hid_dim, .25)
        self.conv3 = Conv2d_BN(hid_dim, out_dim, 1, 1, 0, resolution=input_resolution // 2)

    def forward(self, x):
        return self.conv3(self.se(self.act(self.conv2(self.act(self.conv1(x))))))


class Residual(torch.nn.Module):
    def __init__(self, m, drop=0.):
        super().__init__()
        self.m = m
        self.drop = drop

    def forward(self, x):
        if self.training and self.drop > 0:
            return x + self.m(x) * torch.rand(x.size(0), 1, 1, 1, device=x.device).ge_(
                self.drop).div(1 - self.drop).detach()
        return x + self.m(x)


class FFN(torch.nn.Module):
    def __init__(self, ed, h, resolution):
        super().__init__()
        self.pw1 = Conv2d_BN(ed, h, resolution=resolution)
        self.act = torch.nn.ReLU()
        self.pw2 = Conv2d_BN(h, ed, bn_weight_init=0, resolution=resolution)

    def forward(self, x):
        return self.pw2(self.act(self.pw1(x)))


class CascadedGroupAttention(torch.nn.Module):
    """Head i takes chunk i of the channels plus head i-1's output; q through a depthwise conv;
    softmax(q^T k * scale + relative-position bias); the heads' outputs concatenated, ReLU, 1x1
    Conv2d_BN back to dim."""

    def __init__(self, dim, key_dim, num_heads=8, attn_ratio=4, resolution=14,
                 kernels=(5, 5, 5, 5)):
        super().__init__()
        self.num_heads = num_heads
        self.scale = key_dim ** -0.5
        self.key_dim = key_dim
        self.d = int(attn_ratio * key_dim)
        self.attn_ratio = attn_ratio

        qkvs = []
        dws = []
        for i in range(num_heads):
            qkvs.append(Conv2d_BN(dim // num_heads, self.key_dim * 2 + self.d,
                                  resolution=resolution))
            dws.append(Conv2d_BN(self.key_dim, self.key_dim, kernels[i], 1, kernels[i] // 2,
                                 groups=self.key_dim, resolution=resolution))
        self.qkvs = torch.nn.ModuleList(qkvs)
        self.dws = torch.nn.ModuleList(dws)
        self.proj = torch.nn.Sequential(torch.nn.ReLU(), Conv2d_BN(
            self.d * num_heads, dim, bn_weight_init=0, resolution=resolution))

        points = list(itertools.product(range(resolution), range(resolution)))
        N = len(points)
        attention_offsets = {}
        idxs = []
        for p1 in points:
            for p2 in points:
                offset = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
                if offset not in attention_offsets:
                    attention_offsets[offset] = len(attention_offsets)
                idxs.append(attention_offsets[offset])
        self.attention_biases = torch.nn.Parameter(torch.zeros(num_heads, len(attention_offsets)))
        self.register_buffer('attention_bias_idxs', torch.LongTensor(idxs).view(N, N))

    @torch.no_grad()
    def train(self, mode=True):
        # The official caches the gathered bias table in eval mode.
        super().train(mode)
        if mode and hasattr(self, 'ab'):
            del self.ab
        else:
            self.ab = self.attention_biases[:, self.attention_bias_idxs]
        return self

    def forward(self, x):  # x (B,C,H,W)
        B, C, H, W = x.shape
        trainingab = self.attention_biases[:, self.attention_bias_idxs]
        feats_in = x.chunk(len(self.qkvs), dim=1)
        feats_out = []
        feat = feats_in[0]
        for i, qkv in enumerate(self.qkvs):
            if i > 0:  # add the previous output to the input
                feat = feat + feats_in[i]
            feat = qkv(feat)
            q, k, v = feat.view(B, -1, H, W).split([self.key_dim, self.key_dim, self.d], dim=1)
            q = self.dws[i](q)
            q, k, v = q.flatten(2), k.flatten(2), v.flatten(2)  # B, C/h, N
            attn = (
                (q.transpose(-2, -1) @ k) * self.scale
                + (trainingab[i] if self.training else self.ab[i])
            )
            attn = attn.softmax(dim=-1)  # BNN
            feat = (v @ attn.transpose(-2, -1)).view(B, self.d, H, W)  # BCHW
            feats_out.append(feat)
        return self.proj(torch.cat(feats_out, 1))


class LocalWindowAttention(torch.nn.Module):
    """CascadedGroupAttention in windows of window_resolution (capped at the map), the map padded
    bottom/right to whole windows."""

    def __init__(self, dim, key_dim, num_heads=8, attn_ratio=4, resolution=14,
                 window_resolution=7, kernels=(5, 5, 5, 5)):
        super().__init__()
        self.dim = dim
        self.num_heads = num_heads
        self.resolution = resolution
        assert window_resolution > 0, 'window_size must be greater than 0'
        self.window_resolution = window_resolution
        window_resolution = min(window_resolution, resolution)
        self.attn = CascadedGroupAttention(dim, key_dim, num_heads, attn_ratio=attn_ratio,
                                           resolution=window_resolution, kernels=kernels)

    def forward(self, x):
        H = W = self.resolution
        B, C, H_, W_ = x.shape
        assert H == H_ and W == W_, f'input feature has wrong size, expect {(H, W)}, got {(H_, W_)}'
        if H <= self.window_resolution and W <= self.window_resolution:
            return self.attn(x)
        x = x.permute(0, 2, 3, 1)
        pad_b = (self.window_resolution - H % self.window_resolution) % self.window_resolution
        pad_r = (self.window_resolution - W % self.window_resolution) % self.window_resolution
        padding = pad_b > 0 or pad_r > 0
        if padding:
            x = torch.nn.functional.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        pH, pW = H + pad_b, W + pad_r
        nH = pH // self.window_resolution
        nW = pW // self.window_resolution
        # window partition, BHWC -> B(nHh)(nWw)C -> BnHnWhwC -> (BnHnW)hwC -> (BnHnW)Chw
        x = x.view(B, nH, self.window_resolution, nW, self.window_resolution, C).transpose(
            2, 3).reshape(B * nH * nW, self.window_resolution, self.window_resolution,
                          C).permute(0, 3, 1, 2)
        x = self.attn(x)
        # window reverse, (BnHnW)Chw -> (BnHnW)hwC -> BnHnWhwC -> B(nHh)(nWw)C -> BHWC
        x = x.permute(0, 2, 3, 1).view(B, nH, nW, self.window_resolution,
                                       self.window_resolution, C).transpose(2, 3).reshape(
            B, pH, pW, C)
        if padding:
            x = x[:, :H, :W].contiguous()
        return x.permute(0, 3, 1, 2)


class EfficientViTBlock(torch.nn.Module):
    """DW0 -> FFN0 -> attention -> DW1 -> FFN1, each residual."""

    def __init__(self, type, ed, kd, nh=8, ar=4, resolution=14, window_resolution=7,
                 kernels=(5, 5, 5, 5)):
        super().__init__()
        self.dw0 = Residual(Conv2d_BN(ed, ed, 3, 1, 1, groups=ed, bn_weight_init=0.,
                                      resolution=resolution))
        self.ffn0 = Residual(FFN(ed, int(ed * 2), resolution))
        if type == 's':
            self.mixer = Residual(LocalWindowAttention(
                ed, kd, nh, attn_ratio=ar, resolution=resolution,
                window_resolution=window_resolution, kernels=kernels))
        self.dw1 = Residual(Conv2d_BN(ed, ed, 3, 1, 1, groups=ed, bn_weight_init=0.,
                                      resolution=resolution))
        self.ffn1 = Residual(FFN(ed, int(ed * 2), resolution))

    def forward(self, x):
        return self.ffn1(self.dw1(self.mixer(self.ffn0(self.dw0(x)))))


class EfficientViT(torch.nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, num_classes=1000,
                 stages=('s', 's', 's'), embed_dim=(64, 128, 192), key_dim=(16, 16, 16),
                 depth=(1, 2, 3), num_heads=(4, 4, 4), window_size=(7, 7, 7),
                 kernels=(5, 5, 5, 5),
                 down_ops=(('subsample', 2), ('subsample', 2), ('',)), distillation=False):
        super().__init__()
        resolution = img_size
        self.patch_embed = torch.nn.Sequential(
            Conv2d_BN(in_chans, embed_dim[0] // 8, 3, 2, 1, resolution=resolution),
            torch.nn.ReLU(),
            Conv2d_BN(embed_dim[0] // 8, embed_dim[0] // 4, 3, 2, 1, resolution=resolution // 2),
            torch.nn.ReLU(),
            Conv2d_BN(embed_dim[0] // 4, embed_dim[0] // 2, 3, 2, 1, resolution=resolution // 4),
            torch.nn.ReLU(),
            Conv2d_BN(embed_dim[0] // 2, embed_dim[0], 3, 2, 1, resolution=resolution // 8))

        resolution = img_size // patch_size
        attn_ratio = [embed_dim[i] / (key_dim[i] * num_heads[i]) for i in range(len(embed_dim))]
        blocks = [[], [], []]
        for i, (stg, ed, kd, dpth, nh, ar, wd, do) in enumerate(
                zip(stages, embed_dim, key_dim, depth, num_heads, attn_ratio, window_size,
                    down_ops)):
            for _ in range(dpth):
                blocks[i].append(EfficientViTBlock(stg, ed, kd, nh, ar, resolution, wd, kernels))
            if do[0] == 'subsample':
                # The downsample block opens the next stage: DW + FFN, PatchMerging, DW + FFN.
                blk = blocks[i + 1]
                resolution_ = (resolution - 1) // do[1] + 1
                blk.append(torch.nn.Sequential(
                    Residual(Conv2d_BN(embed_dim[i], embed_dim[i], 3, 1, 1, groups=embed_dim[i],
                                       resolution=resolution)),
                    Residual(FFN(embed_dim[i], int(embed_dim[i] * 2), resolution))))
                blk.append(PatchMerging(*embed_dim[i:i + 2], resolution))
                resolution = resolution_
                blk.append(torch.nn.Sequential(
                    Residual(Conv2d_BN(embed_dim[i + 1], embed_dim[i + 1], 3, 1, 1,
                                       groups=embed_dim[i + 1], resolution=resolution)),
                    Residual(FFN(embed_dim[i + 1], int(embed_dim[i + 1] * 2), resolution))))
        self.blocks1 = torch.nn.Sequential(*blocks[0])
        self.blocks2 = torch.nn.Sequential(*blocks[1])
        self.blocks3 = torch.nn.Sequential(*blocks[2])

        self.head = (BN_Linear(embed_dim[-1], num_classes) if num_classes > 0
                     else torch.nn.Identity())
        self.distillation = distillation
        if distillation:
            self.head_dist = (BN_Linear(embed_dim[-1], num_classes) if num_classes > 0
                              else torch.nn.Identity())

    def no_weight_decay(self):
        return {x for x in self.state_dict().keys() if 'attention_biases' in x}

    def forward(self, x):
        x = self.patch_embed(x)
        x = self.blocks1(x)
        x = self.blocks2(x)
        x = self.blocks3(x)
        x = torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        if self.distillation:
            x = self.head(x), self.head_dist(x)
            if not self.training:
                x = (x[0] + x[1]) / 2
        else:
            x = self.head(x)
        return x


# build.py's EfficientViT_m0..m5.
M0 = dict(img_size=224, patch_size=16, embed_dim=[64, 128, 192], depth=[1, 2, 3],
          num_heads=[4, 4, 4], window_size=[7, 7, 7], kernels=[5, 5, 5, 5])
CONFIGS = {
    "m0": M0,
    "m1": dict(M0, embed_dim=[128, 144, 192], num_heads=[2, 3, 3], kernels=[7, 5, 3, 3]),
    "m2": dict(M0, embed_dim=[128, 192, 224], num_heads=[4, 3, 2], kernels=[7, 5, 3, 3]),
    "m3": dict(M0, embed_dim=[128, 240, 320], num_heads=[4, 3, 4], kernels=[5, 5, 5, 5]),
    "m4": dict(M0, embed_dim=[128, 256, 384], num_heads=[4, 4, 4], kernels=[7, 5, 3, 3]),
    "m5": dict(M0, embed_dim=[192, 288, 384], depth=[1, 3, 4], num_heads=[3, 3, 4],
               kernels=[7, 5, 3, 3]),
}


def efficientvit(name, num_classes=1000, distillation=False):
    return EfficientViT(num_classes=num_classes, distillation=distillation, **CONFIGS[name])


def efficientvit_m0(num_classes=1000, distillation=False):
    return efficientvit("m0", num_classes, distillation)

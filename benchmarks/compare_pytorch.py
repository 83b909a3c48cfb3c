#!/usr/bin/python3
"""Times the same work in PyTorch and in vrestore, on identical shapes, in one run.

Cases: conv2d 3x3 64->64 and deform_conv2d 3x3 64->64 (8 deformable groups) at 1x64x180x320, an
EDVR-M forward pass at 1x5x3x64x64; flow_warp of a 64-channel state at 1x64x180x320, one SpyNet flow
at 180x320, and BasicVSR / RealBasicVSR forward passes over a 1x10x3x64x64 clip, reported per frame;
--sizes 180x320,360x640 adds the models at real frame sizes (EDVR-M 1x5x3xHxW, the recurrent models
over a 1x5x3xHxW clip; --full-size = --sizes 180x320); with --cases convshapes, F.conv2d on the convolution
shapes the models use (CONV_SHAPES). PyTorch runs in this process with torch.set_num_threads(N);
vrestore runs as the built `vrestore_bench` binary with OMP_NUM_THREADS=N. Both sides are warmed up
and report the median of several repetitions (each repetition averages as many calls as fit in
--min-time seconds, like Google Benchmark does); torch and ours repetitions alternate, so load from
other work on a shared machine hits both sides alike.

The PyTorch EDVR-M is a re-implementation of BasicSR's EDVR forward written from the project spec
(shared/docs/spec_edvr_basicvsr.md section 2) with the same layers and torch ops, so it does the same
FLOPs as the upstream module (loaded with the golden fixtures' weights it reproduces their expected
outputs to 2e-7). Its random weights are saved as a vrestore weights file and handed to the binary
(VRESTORE_BENCH_WEIGHTS), so both sides run identical weights, hence DCN offsets of the same size.

The PyTorch SpyNet, BasicVSR and RealBasicVSR are re-implementations of the upstream forwards (BasicSR
BasicVSR, mmedit SPyNet and RealBasicVSRNet; spec sections 3-5) with the same torch ops, batching and
key names. Before timing, the script loads the golden fixtures' weights into them and prints their
max-abs difference from the fixtures' expected outputs, and checks that vrestore (the built CLI, if
present) and the PyTorch twin give the same output on the random official-config weights.

Run with /usr/bin/python3 (torch 1.13 + torchvision 0.14):
    /usr/bin/python3 benchmarks/compare_pytorch.py [--bench build-bench/benchmarks/vrestore_bench]
"""
import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

REPO = Path(__file__).resolve().parent.parent
C, H, W, G = 64, 180, 320, 8  # op cases: EDVR-M's full-resolution layers on a REDS frame
EDVR_INPUT = (1, 5, 3, 64, 64)
RECURRENT_INPUT = (1, 10, 3, 64, 64)  # the spec's 10-frame clip, small frames
FULL_SIZES = ("180x320", "360x640")  # --sizes: a REDS frame and its 2x (vrestore_bench registers both)
FULL_FRAMES = 5  # clip length of the recurrent models at those sizes
FIXTURES = Path("/work/shared/fixtures")


def lrelu(x):
    return F.leaky_relu(x, 0.1)


def up2(x):
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def max_avg_pool(x):
    return torch.cat([F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1)], 1)


# ---- EDVR (spec section 2), attribute names = BasicSR state_dict keys -------------------------------

def conv(cin, cout, k, stride=1):
    # PyTorch's default init (weight and bias uniform in +-1/sqrt(fan_in)) keeps activations sane.
    return nn.Conv2d(cin, cout, k, stride, (k - 1) // 2)


class ResidualBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.conv2 = conv(c, c, 3), conv(c, c, 3)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(x)))


def residual_blocks(c, n):
    return nn.Sequential(*[ResidualBlock(c) for _ in range(n)])


class DCNv2Pack(nn.Module):
    OFFSET_BIAS_PX, OFFSET_WEIGHT_GAIN = 3.0, 100.0  # same scheme (and reasons) as bench_support.cpp

    def __init__(self, c, groups):
        super().__init__()
        bound = 1 / (c * 9) ** 0.5
        self.weight = nn.Parameter(torch.empty(c, c, 3, 3).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(c).uniform_(-bound, bound))
        self.conv_offset = conv(c, 3 * groups * 9, 3)
        # Upstream zero-initialises conv_offset (every DCN would be a plain conv); trained models
        # have fractional offsets of a few pixels, so give the offset rows a shift and a gain.
        n_off = 2 * groups * 9
        with torch.no_grad():
            self.conv_offset.weight[:n_off] *= self.OFFSET_WEIGHT_GAIN
            self.conv_offset.bias[:n_off].uniform_(-self.OFFSET_BIAS_PX, self.OFFSET_BIAS_PX)
        self.mean_abs_offset = []  # filled during forward, reported once

    def forward(self, x, feat):
        o = self.conv_offset(feat)
        n_off = o.shape[1] * 2 // 3
        offset, mask = o[:, :n_off], torch.sigmoid(o[:, n_off:])
        self.mean_abs_offset.append(offset.abs().mean().item())
        return torchvision.ops.deform_conv2d(x, offset, self.weight, self.bias, padding=1, mask=mask)


class PCDAlignment(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.offset_conv1, self.offset_conv2, self.offset_conv3 = nn.ModuleDict(), nn.ModuleDict(), nn.ModuleDict()
        self.dcn_pack, self.feat_conv = nn.ModuleDict(), nn.ModuleDict()
        for level in (3, 2, 1):
            lv = f"l{level}"
            self.offset_conv1[lv] = conv(2 * c, c, 3)
            self.offset_conv2[lv] = conv(c if level == 3 else 2 * c, c, 3)
            if level < 3:
                self.offset_conv3[lv] = conv(c, c, 3)
                self.feat_conv[lv] = conv(2 * c, c, 3)
            self.dcn_pack[lv] = DCNv2Pack(c, groups)
        self.cas_offset_conv1, self.cas_offset_conv2 = conv(2 * c, c, 3), conv(c, c, 3)
        self.cas_dcnpack = DCNv2Pack(c, groups)

    def forward(self, nbr, ref):  # lists [l1, l2, l3] of (N, C, h, w)
        up_offset = up_feat = None  # from the coarser level
        for level in (3, 2, 1):
            lv, i = f"l{level}", level - 1
            offset = lrelu(self.offset_conv1[lv](torch.cat([nbr[i], ref[i]], 1)))
            if level == 3:
                offset = lrelu(self.offset_conv2[lv](offset))
            else:
                offset = lrelu(self.offset_conv2[lv](torch.cat([offset, up_offset], 1)))
                offset = lrelu(self.offset_conv3[lv](offset))
            feat = self.dcn_pack[lv](nbr[i], offset)
            if level == 3:
                feat = lrelu(feat)
            else:
                feat = self.feat_conv[lv](torch.cat([feat, up_feat], 1))
                feat = lrelu(feat) if level == 2 else feat
            if level > 1:
                up_offset, up_feat = up2(offset) * 2, up2(feat)  # the offset *features*, doubled
        offset = lrelu(self.cas_offset_conv2(lrelu(self.cas_offset_conv1(torch.cat([feat, ref[0]], 1)))))
        return lrelu(self.cas_dcnpack(feat, offset))


class TSAFusion(nn.Module):
    def __init__(self, c, t, center):
        super().__init__()
        self.center = center
        self.temporal_attn1, self.temporal_attn2 = conv(c, c, 3), conv(c, c, 3)
        self.feat_fusion, self.spatial_attn1 = conv(t * c, c, 1), conv(t * c, c, 1)
        self.spatial_attn2, self.spatial_attn3 = conv(2 * c, c, 1), conv(c, c, 3)
        self.spatial_attn4, self.spatial_attn5 = conv(c, c, 1), conv(c, c, 3)
        self.spatial_attn_l1, self.spatial_attn_l2 = conv(c, c, 1), conv(2 * c, c, 3)
        self.spatial_attn_l3 = conv(c, c, 3)
        self.spatial_attn_add1, self.spatial_attn_add2 = conv(c, c, 1), conv(c, c, 1)

    def forward(self, aligned):  # (N, T, C, h, w)
        n, t, c, h, w = aligned.shape
        emb_ref = self.temporal_attn1(aligned[:, self.center])
        emb = self.temporal_attn2(aligned.reshape(-1, c, h, w)).view(n, t, c, h, w)
        corr = torch.sigmoid((emb * emb_ref.unsqueeze(1)).sum(2, keepdim=True))  # (N, T, 1, h, w)
        weighted = (aligned * corr).view(n, t * c, h, w)
        feat = lrelu(self.feat_fusion(weighted))
        attn = lrelu(self.spatial_attn1(weighted))
        attn = lrelu(self.spatial_attn2(max_avg_pool(attn)))
        level = lrelu(self.spatial_attn_l1(attn))
        level = lrelu(self.spatial_attn_l2(max_avg_pool(level)))
        level = up2(lrelu(self.spatial_attn_l3(level)))
        attn = lrelu(self.spatial_attn3(attn)) + level
        attn = up2(lrelu(self.spatial_attn4(attn)))
        attn = self.spatial_attn5(attn)
        add = self.spatial_attn_add2(lrelu(self.spatial_attn_add1(attn)))
        return feat * torch.sigmoid(attn) * 2 + add


class EDVR(nn.Module):
    """BasicSR EDVR without predeblur/hr_in (the SR models), from the spec."""

    def __init__(self, num_feat=64, num_frame=5, deformable_groups=8, num_extract_block=5,
                 num_reconstruct_block=10, with_tsa=True):
        super().__init__()
        c = num_feat
        self.center = num_frame // 2
        self.config = dict(num_in_ch=3, num_out_ch=3, num_feat=c, num_frame=num_frame,
                           deformable_groups=deformable_groups, num_extract_block=num_extract_block,
                           num_reconstruct_block=num_reconstruct_block, center_frame_idx=None,
                           hr_in=False, with_predeblur=False, with_tsa=with_tsa)
        self.conv_first = conv(3, c, 3)
        self.feature_extraction = residual_blocks(c, num_extract_block)
        self.conv_l2_1, self.conv_l2_2 = conv(c, c, 3, stride=2), conv(c, c, 3)
        self.conv_l3_1, self.conv_l3_2 = conv(c, c, 3, stride=2), conv(c, c, 3)
        self.pcd_align = PCDAlignment(c, deformable_groups)
        self.fusion = TSAFusion(c, num_frame, self.center) if with_tsa else conv(num_frame * c, c, 1)
        self.reconstruction = residual_blocks(c, num_reconstruct_block)
        self.upconv1, self.upconv2 = conv(c, 4 * c, 3), conv(c, 64 * 4, 3)
        self.conv_hr, self.conv_last = conv(64, 64, 3), conv(64, 3, 3)

    def forward(self, x):  # (N, T, 3, H, W) -> (N, 3, 4H, 4W)
        n, t, _, h, w = x.shape
        f1 = self.feature_extraction(lrelu(self.conv_first(x.view(-1, 3, h, w))))
        f2 = lrelu(self.conv_l2_2(lrelu(self.conv_l2_1(f1))))
        f3 = lrelu(self.conv_l3_2(lrelu(self.conv_l3_1(f2))))
        pyramid = [f.view(n, t, *f.shape[1:]) for f in (f1, f2, f3)]
        ref = [f[:, self.center] for f in pyramid]
        # Upstream aligns frame by frame (batch N), the centre frame to itself too.
        aligned = torch.stack([self.pcd_align([f[:, i] for f in pyramid], ref) for i in range(t)], 1)
        fused = self.fusion(aligned) if isinstance(self.fusion, TSAFusion) else self.fusion(aligned.flatten(1, 2))
        out = self.reconstruction(fused)
        out = lrelu(F.pixel_shuffle(self.upconv1(out), 2))
        out = lrelu(F.pixel_shuffle(self.upconv2(out), 2))
        out = self.conv_last(lrelu(self.conv_hr(out)))
        return out + F.interpolate(x[:, self.center], scale_factor=4, mode="bilinear", align_corners=False)


# ---- SpyNet, BasicVSR, RealBasicVSR (spec sections 3-5), attribute names = BasicSR keys -------------

def flow_warp(x, flow, padding_mode="zeros"):
    """BasicSR/mmedit flow_warp: flow (N, H, W, 2) in pixels, grid_sample bilinear, align_corners=True."""
    _, _, h, w = x.shape
    grid_y, grid_x = torch.meshgrid(torch.arange(0, h).type_as(x), torch.arange(0, w).type_as(x), indexing="ij")
    grid = torch.stack((grid_x, grid_y), 2).float()
    vgrid = grid + flow
    vgrid_x = 2.0 * vgrid[:, :, :, 0] / max(w - 1, 1) - 1.0
    vgrid_y = 2.0 * vgrid[:, :, :, 1] / max(h - 1, 1) - 1.0
    return F.grid_sample(x, torch.stack((vgrid_x, vgrid_y), dim=3), mode="bilinear", padding_mode=padding_mode,
                         align_corners=True)


class SpyNetBasicModule(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        for i, (cin, cout) in enumerate(zip((8, 32, 64, 32, 16), (32, 64, 32, 16, 2))):
            layers += [nn.Conv2d(cin, cout, 7, 1, 3)] + ([nn.ReLU()] if i < 4 else [])
        self.basic_module = nn.Sequential(*layers)  # keys basic_module.<0|2|4|6|8>

    def forward(self, x):
        return self.basic_module(x)


class SpyNet(nn.Module):
    """mmedit SPyNet's math (any size; equal to BasicSR's wherever that one runs), BasicSR key names."""

    def __init__(self):
        super().__init__()
        self.basic_module = nn.ModuleList([SpyNetBasicModule() for _ in range(6)])
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        self.flow_abs_mean = []  # of each call's output, reported once

    def compute_flow(self, ref, supp):
        n, _, h, w = ref.shape
        ref, supp = [(ref - self.mean) / self.std], [(supp - self.mean) / self.std]
        for _ in range(5):
            ref.insert(0, F.avg_pool2d(ref[0], 2, 2, count_include_pad=False))
            supp.insert(0, F.avg_pool2d(supp[0], 2, 2, count_include_pad=False))
        flow = ref[0].new_zeros(n, 2, h // 32, w // 32)
        for level in range(6):
            up = flow if level == 0 else F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2.0
            warped = flow_warp(supp[level], up.permute(0, 2, 3, 1), padding_mode="border")
            flow = up + self.basic_module[level](torch.cat([ref[level], warped, up], 1))
        return flow

    def forward(self, ref, supp):
        h, w = ref.shape[2:]
        hr, wr = (h + 31) // 32 * 32, (w + 31) // 32 * 32
        ref = F.interpolate(ref, size=(hr, wr), mode="bilinear", align_corners=False)
        supp = F.interpolate(supp, size=(hr, wr), mode="bilinear", align_corners=False)
        flow = F.interpolate(self.compute_flow(ref, supp), size=(h, w), mode="bilinear", align_corners=False)
        flow[:, 0] *= w / wr
        flow[:, 1] *= h / hr
        self.flow_abs_mean.append(flow.abs().mean().item())
        return flow


class ConvResidualBlocks(nn.Module):
    def __init__(self, cin, c, n):
        super().__init__()
        self.main = nn.Sequential(conv(cin, c, 3), nn.LeakyReLU(0.1), residual_blocks(c, n))

    def forward(self, x):
        return self.main(x)


class BasicVSR(nn.Module):
    """BasicSR BasicVSR (= mmedit BasicVSRNet), from the spec."""

    def __init__(self, num_feat=64, num_block=30):
        super().__init__()
        c = self.num_feat = num_feat
        self.config = dict(num_feat=num_feat, num_block=num_block)
        self.spynet = SpyNet()
        self.backward_trunk = ConvResidualBlocks(c + 3, c, num_block)
        self.forward_trunk = ConvResidualBlocks(c + 3, c, num_block)
        self.fusion = conv(2 * c, c, 1)
        self.upconv1, self.upconv2 = conv(c, 4 * c, 3), conv(c, 64 * 4, 3)
        self.conv_hr, self.conv_last = conv(64, 64, 3), conv(64, 3, 3)

    def get_flow(self, x):  # all pairs in one batch, like upstream
        b, n, c, h, w = x.shape
        x_1, x_2 = x[:, :-1].reshape(-1, c, h, w), x[:, 1:].reshape(-1, c, h, w)
        flows_backward = self.spynet(x_1, x_2).view(b, n - 1, 2, h, w)
        flows_forward = self.spynet(x_2, x_1).view(b, n - 1, 2, h, w)
        return flows_forward, flows_backward

    def forward(self, x):  # (N, T, 3, H, W) -> (N, T, 3, 4H, 4W)
        flows_forward, flows_backward = self.get_flow(x)
        b, n, _, h, w = x.shape
        out_l = []
        feat_prop = x.new_zeros(b, self.num_feat, h, w)
        for i in range(n - 1, -1, -1):
            if i < n - 1:
                feat_prop = flow_warp(feat_prop, flows_backward[:, i].permute(0, 2, 3, 1))
            feat_prop = self.backward_trunk(torch.cat([x[:, i], feat_prop], 1))
            out_l.insert(0, feat_prop)
        feat_prop = torch.zeros_like(feat_prop)
        for i in range(n):
            x_i = x[:, i]
            if i > 0:
                feat_prop = flow_warp(feat_prop, flows_forward[:, i - 1].permute(0, 2, 3, 1))
            feat_prop = self.forward_trunk(torch.cat([x_i, feat_prop], 1))
            out = lrelu(self.fusion(torch.cat([out_l[i], feat_prop], 1)))
            out = lrelu(F.pixel_shuffle(self.upconv1(out), 2))
            out = lrelu(F.pixel_shuffle(self.upconv2(out), 2))
            out = self.conv_last(lrelu(self.conv_hr(out)))
            out_l[i] = out + F.interpolate(x_i, scale_factor=4, mode="bilinear", align_corners=False)
        return torch.stack(out_l, 1)


class RealBasicVSR(nn.Module):
    """mmedit RealBasicVSRNet (batched cleaning, is_sequential_cleaning=False: same numbers)."""

    def __init__(self, mid_channels=64, num_propagation_blocks=20, num_cleaning_blocks=20, dynamic_refine_thres=255):
        super().__init__()
        self.config = dict(mid_channels=mid_channels, num_propagation_blocks=num_propagation_blocks,
                           num_cleaning_blocks=num_cleaning_blocks, dynamic_refine_thres=dynamic_refine_thres,
                           is_fix_cleaning=False, is_sequential_cleaning=False)
        self.image_cleaning = nn.Sequential(ConvResidualBlocks(3, mid_channels, num_cleaning_blocks),
                                            conv(mid_channels, 3, 3))
        self.basicvsr = BasicVSR(mid_channels, num_propagation_blocks)
        self.threshold = dynamic_refine_thres / 255.0
        self.passes = []  # cleaning passes of each call

    def forward(self, lqs):
        n, t, c, h, w = lqs.shape
        for p in range(3):
            lqs = lqs.reshape(-1, c, h, w)
            residues = self.image_cleaning(lqs)
            lqs = (lqs + residues).view(n, t, c, h, w)
            if torch.mean(torch.abs(residues)) < self.threshold:
                break
        self.passes.append(p + 1)
        return self.basicvsr(lqs)


# BasicSR -> mmedit key spelling inside BasicVSR (RealBasicVSR files use mmedit's).
MMEDIT_RENAMES = [("backward_trunk.", "backward_resblocks."), ("forward_trunk.", "forward_resblocks."),
                  ("upconv1.", "upsample1.upsample_conv."), ("upconv2.", "upsample2.upsample_conv.")]


def to_mmedit_key(key):
    parts = key.split(".")
    if "spynet" in parts:  # spynet.basic_module.L.basic_module.<2i>.X -> ...basic_module.<i>.conv.X
        i = len(parts) - 2
        parts[i:i + 1] = [str(int(parts[i]) // 2), "conv"]
        return ".".join(parts)
    for old, new in MMEDIT_RENAMES:
        key = key.replace(old, new)
    return key


def from_mmedit_key(key):
    parts = key.split(".")
    if "spynet" in parts and parts[-2] == "conv":
        parts[-3:-1] = [str(2 * int(parts[-3]))]
        return ".".join(parts)
    for old, new in MMEDIT_RENAMES:
        key = key.replace(new, old)
    return key


def read_safetensors(path):
    raw = Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    return {k: torch.frombuffer(bytearray(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]),
                                dtype=torch.float32).reshape(v["shape"]) for k, v in header.items()}


def validate_against_fixtures():
    """Loads the golden fixtures' weights into the PyTorch twins; returns [(case, max-abs vs expected, note)]."""
    rows = []
    if not FIXTURES.exists():
        return rows
    with torch.inference_mode():
        params = torch.load(FIXTURES / "basicvsr_x4/weights.pth", map_location="cpu")["params"]
        params = {k: v for k, v in params.items() if k not in ("spynet.mean", "spynet.std")}

        io = read_safetensors(FIXTURES / "spynet/io.safetensors")
        spynet = SpyNet()
        spynet.load_state_dict({k[len("spynet."):]: v for k, v in params.items() if k.startswith("spynet.")})
        flow = spynet(io["input"][:, 0], io["input"][:, 1])
        rows.append(("spynet (2 pairs 40x56)", (flow - io["expected"]).abs().max().item(), "flows, px"))

        io = read_safetensors(FIXTURES / "basicvsr_x4/io.safetensors")
        model = BasicVSR(16, 2)
        model.load_state_dict(params)
        out = model(io["input"])
        rows.append(("basicvsr_x4 (2x4x3x36x40)", (out - io["expected"]).abs().max().item(), "images"))

        io = read_safetensors(FIXTURES / "realbasicvsr_x4/io.safetensors")
        cfg = json.loads((FIXTURES / "realbasicvsr_x4/config.json").read_text())["args"]
        state = torch.load(FIXTURES / "realbasicvsr_x4/weights.pth", map_location="cpu")["state_dict"]
        prefix = "generator_ema."
        state = {from_mmedit_key(k[len(prefix):]): v for k, v in state.items() if k.startswith(prefix)}
        state = {k: v for k, v in state.items() if not k.endswith(("spynet.mean", "spynet.std"))}
        model = RealBasicVSR(cfg["mid_channels"], cfg["num_propagation_blocks"], cfg["num_cleaning_blocks"],
                             cfg["dynamic_refine_thres"])
        model.load_state_dict(state)
        out = model(io["input"].clone())
        rows.append(("realbasicvsr_x4 (1x3x3x64x72)", (out - io["expected"]).abs().max().item(),
                     f"images; {model.passes[-1]} cleaning passes (fixture: 2)"))
    return rows


def twin_check(cli, weights, model, shape):
    """max-abs between vrestore's forward (the CLI) and the PyTorch twin on the same weights and input."""
    x = torch.rand(*shape)
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "in.safetensors", Path(tmp) / "out.safetensors"
        save_safetensors(inp, {"input": x})
        subprocess.run([str(cli), "run", "--weights", str(weights), "--input", str(inp), "--output", str(out)],
                       check=True, capture_output=True)
        ours = read_safetensors(out)["output"]
    with torch.inference_mode():
        ref = model(x)
    return (ours - ref).abs().max().item()


def save_vrestore_weights(path, model, arch="basicsr.EDVR", rename=None):
    """A vrestore weights file: safetensors, float32, with the metadata the converter writes."""
    tensors = {(rename(k) if rename else k): v for k, v in model.state_dict().items()}
    save_safetensors(path, tensors, {"vrestore.format_version": "1", "vrestore.arch": arch,
                                     "vrestore.config": json.dumps(model.config), "vrestore.scale": "4"})


def save_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().float().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for b in blobs:
            f.write(b)


# ---- timing -----------------------------------------------------------------------------------------

def torch_warm_up(fn, min_time):
    """Two untimed calls; returns how many calls make one repetition of at least min_time."""
    start = time.perf_counter()
    fn()
    fn()
    return max(1, int(min_time / ((time.perf_counter() - start) / 2)))


def torch_repetition_ms(fn, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e3


def ours_repetition(bench, name_regex, threads, min_time, env_extra):
    """One repetition of one vrestore_bench case (after its own warm-up): (ms, FLOPs per call or None)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), **env_extra)
    cmd = [str(bench), "--benchmark_format=json", f"--benchmark_filter={name_regex}",
           f"--benchmark_min_time={min_time}", "--benchmark_min_warmup_time=0.2"]
    runs = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)["benchmarks"]
    if len(runs) != 1:
        sys.exit(f"vrestore_bench: {len(runs)} benchmarks matched {name_regex!r}, expected 1")
    run = runs[0]
    if run.get("error_occurred"):
        sys.exit(f"vrestore_bench {run['name']}: {run.get('error_message')}")
    ms = run["real_time"] * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[run["time_unit"]]
    return ms, (run["FLOPs"] * ms / 1e3 if "FLOPs" in run else None)  # the counter is a rate


class ResultRows(list):
    """The table's rows; each is also printed to stderr as it is measured, since a run with --sizes
    takes the better part of an hour before the table appears."""

    def append(self, row):
        super().append(row)
        case, t_ms, o_ms, _, ratio, _, _ = row
        torch_part = f"torch {t_ms:.1f} ms, " if t_ms is not None else ""
        print(f"[{time.strftime('%H:%M:%S')}] {case.strip()}: {torch_part}ours {o_ms:.1f} ms, ratio {ratio:.2f}",
              file=sys.stderr, flush=True)


def compare(torch_fn, bench, name_regex, args, env_extra=None):
    """Median ms of both sides, plus FLOPs per call. Repetitions alternate torch / ours so that
    load from other work on the machine hits both sides alike."""
    torch_ms, ours_ms = [], []
    with torch.inference_mode():
        calls = torch_warm_up(torch_fn, args.min_time)
        for _ in range(args.repetitions):
            torch_ms.append(torch_repetition_ms(torch_fn, calls))
            ms, flops = ours_repetition(bench, name_regex, args.threads, args.min_time, env_extra or {})
            ours_ms.append(ms)
    return statistics.median(torch_ms), statistics.median(ours_ms), flops


# ---- cases ------------------------------------------------------------------------------------------

def conv_case():
    x = torch.rand(1, C, H, W) * 2 - 1
    weight, bias = torch.rand(C, C, 3, 3) / 12 - 1 / 24, torch.zeros(C)
    return lambda: F.conv2d(x, weight, bias, padding=1)


def dcn_case():
    # Same distributions as bench_ops.cpp: per (group, tap) shift in [-3, 3] px + per-pixel jitter.
    x = torch.rand(1, C, H, W) * 2 - 1
    weight, bias = torch.rand(C, C, 3, 3) / 12 - 1 / 24, torch.zeros(C)
    offset = torch.rand(1, 2 * G * 9, H, W) - 0.5 + (torch.rand(1, 2 * G * 9, 1, 1) * 6 - 3)
    mask = torch.rand(1, G * 9, H, W)
    return lambda: torchvision.ops.deform_conv2d(x, offset, weight, bias, padding=1, mask=mask)


def warp_case():
    # The flow of bench_ops.cpp's smooth_flow: dx = 2.5 sin(0.021 x + 0.013 y) + 0.5,
    # dy = 1.5 cos(0.017 x - 0.029 y) - 0.25 (computed in double, stored as float).
    x = torch.rand(1, C, H, W) * 2 - 1
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij")
    flow = torch.stack([2.5 * torch.sin(0.021 * xx + 0.013 * yy) + 0.5,
                        1.5 * torch.cos(0.017 * xx - 0.029 * yy) - 0.25]).float()[None]  # (1, 2, H, W)
    upstream = lambda: flow_warp(x, flow.permute(0, 2, 3, 1))  # grid built on every call, as upstream
    # grid_sample alone, with upstream's grid for this flow built once.
    gy, gx = torch.meshgrid(torch.arange(H).float(), torch.arange(W).float(), indexing="ij")
    grid = torch.stack([2 * (gx + flow[0, 0]) / (W - 1) - 1, 2 * (gy + flow[0, 1]) / (H - 1) - 1], 2)[None]
    sample_only = lambda: F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    traffic = (2 * x.numel() + flow.numel()) * 4  # bytes: input, flow, output once
    return upstream, sample_only, traffic


# Convolution shapes the models use (Cin, Cout, k, stride, dilation, H, W; "same" padding), as the
# vrestore_bench conv2d_shape cases: issue 10's dilated 3x3, EDVR's stride-2 3x3 (pyramid) and TSA
# 1x1 (5 x 64 -> 64), a 1x1 576 -> 64, SpyNet's five 7x7 convs at its finest level, and the
# recurrent trunks' 3x3 64 -> 64 at 360x640.
CONV_SHAPES = ((64, 64, 3, 1, 2, 180, 320), (64, 64, 3, 2, 1, 180, 320), (320, 64, 1, 1, 1, 180, 320),
               (576, 64, 1, 1, 1, 180, 320), (8, 32, 7, 1, 1, 192, 320), (32, 64, 7, 1, 1, 192, 320),
               (64, 32, 7, 1, 1, 192, 320), (32, 16, 7, 1, 1, 192, 320), (16, 2, 7, 1, 1, 192, 320),
               (64, 64, 3, 1, 1, 360, 640))
CONV_SHAPE_TARGET = 1.25  # issue 10: every conv shape the models use >= 1.25x oneDNN's speed
MODEL_TARGET = 3  # issue 10: every model >= 3x the strongest PyTorch (torch 2.x from PyPI), 2 threads


def conv_shape_case(cin, cout, k, stride, dilation, h, w):
    x = torch.rand(1, cin, h, w) * 2 - 1
    bound = 1 / (cin * k * k) ** 0.5
    weight, bias = (torch.rand(cout, cin, k, k) * 2 - 1) * bound, (torch.rand(cout) * 2 - 1) * bound
    pad = dilation * (k - 1) // 2
    return lambda: F.conv2d(x, weight, bias, stride=stride, padding=pad, dilation=dilation)


def conv_shape_regex(cin, cout, k, stride, dilation, h, w):
    return f"^conv2d_shape/cin:{cin}/cout:{cout}/k:{k}/s:{stride}/d:{dilation}/h:{h}/w:{w}/"


CASES = ("conv", "convshapes", "dcn", "edvr", "warp", "spynet", "basicvsr", "realbasicvsr")


def find_binary(explicit, relative):
    if explicit:
        return explicit if explicit.exists() else None
    return next((p for p in (REPO / "build-bench" / relative, REPO / "build" / relative) if p.exists()), None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", type=Path, help="vrestore_bench binary (default: build-bench/ or build/)")
    ap.add_argument("--cli", type=Path, help="vrestore CLI for the twin checks (default: build-bench/ or build/)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per repetition (at least one call)")
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    ap.add_argument("--sizes", default="",
                    help=f"comma-separated frame sizes from {','.join(FULL_SIZES)} at which to also time the models "
                         "(180x320: ~1 min per call and side; 360x640: ~4x that)")
    ap.add_argument("--full-size", action="store_true", help="same as --sizes 180x320")
    ap.add_argument("--matmul-precision", choices=["highest", "high"], default="highest",
                    help="vrestore's float32 matmul precision (VRESTORE_FLOAT32_MATMUL_PRECISION): high lets it use "
                         "AMX-BF16 bf16x3 products where the CPU has them; PyTorch stays at its fp32 default")
    args = ap.parse_args()
    os.environ["VRESTORE_FLOAT32_MATMUL_PRECISION"] = args.matmul_precision  # for the bench and the CLI
    sizes = [size for size in args.sizes.split(",") if size] or (["180x320"] if args.full_size else [])
    if not set(sizes) <= set(FULL_SIZES):
        sys.exit(f"unknown size(s) {sorted(set(sizes) - set(FULL_SIZES))}; choose from {FULL_SIZES}")
    frame_sizes = [tuple(int(v) for v in size.split("x")) for size in sizes]
    cases = set(args.cases.split(","))
    if not cases <= set(CASES):
        sys.exit(f"unknown case(s) {sorted(cases - set(CASES))}; choose from {CASES}")
    bench = find_binary(args.bench, "benchmarks/vrestore_bench")
    if bench is None:
        sys.exit("vrestore_bench not found; build it (see benchmarks/README.md) or pass --bench")
    cli = find_binary(args.cli, "examples/vrestore")
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.1f} before starting; other work may distort the timings")

    rows = ResultRows()  # (case, torch ms, ours ms, flops, ratio, target text, met); met None = no target
    notes = []
    tmp = tempfile.TemporaryDirectory()

    if "conv" in cases or "dcn" in cases:
        t_conv, o_conv, flops = compare(conv_case(), bench, "^conv2d_3x3_c64/", args)
        rows.append(("conv2d 3x3 64->64, 1x64x180x320", t_conv, o_conv, flops, t_conv / o_conv,
                     "torch/ours >= 0.8", t_conv / o_conv >= 0.8))
    if "convshapes" in cases:
        for shape in CONV_SHAPES:
            cin, cout, k, stride, dilation, h, w = shape
            t_ms, o_ms, flops = compare(conv_shape_case(*shape), bench, conv_shape_regex(*shape), args)
            name = f"conv {k}x{k} {cin}->{cout} s{stride} d{dilation}, {h}x{w}"
            rows.append((name, t_ms, o_ms, flops, t_ms / o_ms, f"torch/ours >= {CONV_SHAPE_TARGET}",
                         t_ms / o_ms >= CONV_SHAPE_TARGET))
    if "dcn" in cases:
        t_dcn, o_dcn, flops = compare(dcn_case(), bench, "^deform_conv2d_3x3_c64/", args)
        rows.append(("deform_conv2d g8, 1x64x180x320", t_dcn, o_dcn, flops, t_dcn / o_dcn, "torch/ours >= 20",
                     t_dcn / o_dcn >= 20))
        rows.append(("  ours: deform_conv2d / conv2d", None, o_dcn, None, o_dcn / o_conv, "ours dcn/conv <= 2",
                     o_dcn / o_conv <= 2))

    if "edvr" in cases:
        model = EDVR().eval()
        weights = Path(tmp.name) / "edvr_m_random.safetensors"
        save_vrestore_weights(weights, model)
        for shape in [EDVR_INPUT] + [EDVR_INPUT[:3] + size for size in frame_sizes]:
            x = torch.rand(*shape)
            regex = f"^edvr_forward/{'x'.join(map(str, shape[:3]))}/h:{shape[3]}/w:{shape[4]}/"
            t_edvr, o_edvr, flops = compare(lambda: model(x), bench, regex, args,
                                            {"VRESTORE_BENCH_WEIGHTS": str(weights)})
            rows.append((f"EDVR-M forward, {'x'.join(map(str, shape))}", t_edvr, o_edvr, flops, t_edvr / o_edvr,
                         f"torch/ours >= {MODEL_TARGET}", t_edvr / o_edvr >= MODEL_TARGET))
        offsets = [v for m in model.modules() if isinstance(m, DCNv2Pack) for v in m.mean_abs_offset]
        notes.append(f"mean |DCN offset| in the EDVR-M run: {statistics.mean(offsets):.2f} px "
                     "(random weights, offset branch biased to a few pixels)")

    if "warp" in cases:
        upstream, sample_only, traffic = warp_case()
        t_up, o_warp, _ = compare(upstream, bench, "^flow_warp_zeros_c64/", args)
        t_gs, o_warp2, _ = compare(sample_only, bench, "^flow_warp_zeros_c64/", args)
        rows.append(("flow_warp c64 vs upstream flow_warp", t_up, o_warp, None, t_up / o_warp, "(no target)", None))
        rows.append(("flow_warp c64 vs grid_sample only", t_gs, o_warp2, None, t_gs / o_warp2, "torch/ours >= 5",
                     t_gs / o_warp2 >= 5))
        notes.append(f"flow_warp 1x64x180x320 (zeros): ours {traffic / o_warp2 / 1e6:.2f} GB/s, grid_sample "
                     f"{traffic / t_gs / 1e6:.2f} GB/s, upstream flow_warp (grid built per call) "
                     f"{traffic / t_up / 1e6:.2f} GB/s (input + flow + output bytes)")

    need_basicvsr = cases & {"spynet", "basicvsr"}
    if need_basicvsr or "realbasicvsr" in cases:
        for case, err, what in validate_against_fixtures():
            notes.append(f"PyTorch twin vs fixture {case}: max-abs {err:.2e} ({what})")
    if need_basicvsr:
        basicvsr = BasicVSR().eval()  # official config, random weights
        bv_weights = Path(tmp.name) / "basicvsr_random.safetensors"
        save_vrestore_weights(bv_weights, basicvsr, "basicsr.BasicVSR")
        bv_env = {"VRESTORE_BENCH_BASICVSR_WEIGHTS": str(bv_weights)}
        if cli:
            err = twin_check(cli, bv_weights, basicvsr, (1, 3, 3, 64, 64))
            notes.append(f"vrestore vs PyTorch twin, BasicVSR c64b30 random weights, 1x3x3x64x64: max-abs {err:.2e}")
    if "spynet" in cases:
        ref, supp = torch.rand(1, 3, H, W), torch.rand(1, 3, H, W)
        t_sp, o_sp, flops = compare(lambda: basicvsr.spynet(ref, supp), bench, "^spynet_flow/", args, bv_env)
        rows.append(("SpyNet one flow, 180x320", t_sp, o_sp, flops, t_sp / o_sp, "(no target)", None))
        notes.append(f"mean |flow| of the random SpyNet on the noise frames: "
                     f"{statistics.mean(basicvsr.spynet.flow_abs_mean):.2f} px")

    recurrent_inputs = [RECURRENT_INPUT] + [(1, FULL_FRAMES, 3) + size for size in frame_sizes]
    if "basicvsr" in cases:
        for shape in recurrent_inputs:
            x = torch.rand(*shape)
            t = shape[1]
            regex = f"^basicvsr_forward/1xTx3/t:{t}/h:{shape[3]}/w:{shape[4]}/"
            t_ms, o_ms, flops = compare(lambda: basicvsr(x), bench, regex, args, bv_env)
            rows.append((f"BasicVSR per frame, {'x'.join(map(str, shape))}", t_ms / t, o_ms / t, flops / t,
                         t_ms / o_ms, f"torch/ours >= {MODEL_TARGET}", t_ms / o_ms >= MODEL_TARGET))
        notes.append(f"mean |flow| in the BasicVSR runs (random weights, noise frames): "
                     f"{statistics.mean(basicvsr.spynet.flow_abs_mean):.2f} px")
    if "realbasicvsr" in cases:
        real = RealBasicVSR().eval()
        rb_weights = Path(tmp.name) / "realbasicvsr_random.safetensors"
        save_vrestore_weights(rb_weights, real, "mmedit.RealBasicVSRNet", to_mmedit_key)
        rb_env = {"VRESTORE_BENCH_REALBASICVSR_WEIGHTS": str(rb_weights)}
        if cli:
            err = twin_check(cli, rb_weights, real, (1, 3, 3, 64, 64))
            notes.append(f"vrestore vs PyTorch twin, RealBasicVSR c64 random weights, 1x3x3x64x64: max-abs {err:.2e}")
        for shape in recurrent_inputs:
            x = torch.rand(*shape)
            t = shape[1]
            regex = f"^realbasicvsr_forward/1xTx3/t:{t}/h:{shape[3]}/w:{shape[4]}/"
            t_ms, o_ms, flops = compare(lambda: real(x), bench, regex, args, rb_env)
            rows.append((f"RealBasicVSR per frame, {'x'.join(map(str, shape))}", t_ms / t, o_ms / t, flops / t,
                         t_ms / o_ms, f"torch/ours >= {MODEL_TARGET}", t_ms / o_ms >= MODEL_TARGET))
        notes.append(f"RealBasicVSR cleaning passes in the PyTorch runs: {sorted(set(real.passes))} (threshold 255)")
    tmp.cleanup()

    load_after = os.getloadavg()[0]  # includes our own ~`threads` busy threads
    if load_after > args.threads + 1:
        print(f"warning: load average {load_after:.1f} after the run; other work probably overlapped it")

    print(f"\nthreads: {args.threads} (torch.set_num_threads / OMP_NUM_THREADS); median of {args.repetitions} "
          f"alternating repetitions of >= {args.min_time} s after warm-up; torch {torch.__version__}, "
          f"torchvision {torchvision.__version__}; vrestore float32 matmul precision {args.matmul_precision}")
    header = f"{'case':40} {'torch ms':>10} {'ours ms':>10} {'torch GF/s':>10} {'ours GF/s':>10} {'ratio':>7}  " \
             f"{'target':20} result"
    print(header + "\n" + "-" * len(header))
    for case, t_ms, o_ms, flops, ratio, target, met in rows:
        t_cell = f"{t_ms:10.1f}" if t_ms is not None else f"{'-':>10}"
        tg = f"{flops / t_ms / 1e6:10.1f}" if flops and t_ms else f"{'-':>10}"
        og = f"{flops / o_ms / 1e6:10.1f}" if flops else f"{'-':>10}"
        result = "-" if met is None else "met" if met else "NOT MET"
        print(f"{case:40} {t_cell} {o_ms:10.1f} {tg} {og} {ratio:7.2f}  {target:20} {result}")
    print("\nnotes:")
    if cases & {"edvr", "spynet", "basicvsr", "realbasicvsr"}:
        print("  * The PyTorch models are spec-faithful re-implementations of the upstream forwards (same layers, "
              "torch ops\n    and batching), not the upstream modules; both sides ran the same random weights.")
    if cases & {"basicvsr", "realbasicvsr"}:
        print("  * BasicVSR/RealBasicVSR rows: ms per output frame of one forward over the clip; GF/s include the "
              "clip's\n    2(T-1) SpyNet flows.")
    for note in notes:
        print(f"  * {note}")
    print("  * GF/s counts conv/DCN multiply-adds as 2 FLOPs (DCN bilinear sampling, pools, resizes excluded).")
    if "dcn" in cases and "BLAS_INFO=generic" in torch.__config__.show():
        print("  * this PyTorch build uses a generic (reference) BLAS: F.conv2d goes through oneDNN, but "
              "torchvision's\n    CPU deform_conv2d does its GEMM with that BLAS, which slows the PyTorch DCN down.")


if __name__ == "__main__":
    main()

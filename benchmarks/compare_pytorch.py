#!/usr/bin/python3
"""Times the same work in PyTorch and in vrestore, on identical shapes, in one run.

Cases: conv2d 3x3 64->64 and deform_conv2d 3x3 64->64 (8 deformable groups) at 1x64x180x320, and an
EDVR-M forward pass at 1x5x3x64x64. PyTorch runs in this process with torch.set_num_threads(N);
vrestore runs as the built `vrestore_bench` binary with OMP_NUM_THREADS=N. Both sides are warmed up
and report the median of several repetitions (each repetition averages as many calls as fit in
--min-time seconds, like Google Benchmark does); torch and ours repetitions alternate, so load from
other work on a shared machine hits both sides alike.

The PyTorch EDVR-M is a re-implementation of BasicSR's EDVR forward written from the project spec
(shared/docs/spec_edvr_basicvsr.md section 2) with the same layers and torch ops, so it does the same
FLOPs as the upstream module (loaded with the golden fixtures' weights it reproduces their expected
outputs to 2e-7). Its random weights are saved as a vrestore weights file and handed to the binary
(VRESTORE_BENCH_WEIGHTS), so both sides run identical weights, hence DCN offsets of the same size.

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


def save_vrestore_weights(path, model):
    """A vrestore weights file: safetensors, float32, with the metadata the converter writes."""
    header, blobs, offset = {}, [], 0
    for name, t in model.state_dict().items():
        data = t.detach().contiguous().float().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"vrestore.format_version": "1", "vrestore.arch": "basicsr.EDVR",
                              "vrestore.config": json.dumps(model.config)}
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", type=Path, help="vrestore_bench binary (default: build-bench/ or build/)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per repetition (at least one call)")
    args = ap.parse_args()
    bench = args.bench or next((p for p in (REPO / "build-bench/benchmarks/vrestore_bench",
                                            REPO / "build/benchmarks/vrestore_bench") if p.exists()), None)
    if bench is None or not bench.exists():
        sys.exit("vrestore_bench not found; build it (see benchmarks/README.md) or pass --bench")
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.1f} before starting; other work may distort the timings")

    rows = []  # (case, torch ms, ours ms, flops, ratio, target text, met)

    t_conv, o_conv, flops = compare(conv_case(), bench, "^conv2d_3x3_c64/", args)
    rows.append(("conv2d 3x3 64->64, 1x64x180x320", t_conv, o_conv, flops, t_conv / o_conv, "torch/ours >= 0.8",
                 t_conv / o_conv >= 0.8))

    t_dcn, o_dcn, flops = compare(dcn_case(), bench, "^deform_conv2d_3x3_c64/", args)
    rows.append(("deform_conv2d g8, 1x64x180x320", t_dcn, o_dcn, flops, t_dcn / o_dcn, "torch/ours >= 20",
                 t_dcn / o_dcn >= 20))
    rows.append(("  ours: deform_conv2d / conv2d", None, o_dcn, None, o_dcn / o_conv, "ours dcn/conv <= 2",
                 o_dcn / o_conv <= 2))

    model = EDVR().eval()
    x = torch.rand(*EDVR_INPUT)
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "edvr_m_random.safetensors"
        save_vrestore_weights(weights, model)
        t_edvr, o_edvr, flops = compare(lambda: model(x), bench, "^edvr_forward/", args,
                                        {"VRESTORE_BENCH_WEIGHTS": str(weights)})
    rows.append(("EDVR-M forward, 1x5x3x64x64", t_edvr, o_edvr, flops, t_edvr / o_edvr, "torch/ours >= 3",
                 t_edvr / o_edvr >= 3))
    offsets = [v for m in model.modules() if isinstance(m, DCNv2Pack) for v in m.mean_abs_offset]
    load_after = os.getloadavg()[0]  # includes our own ~`threads` busy threads
    if load_after > args.threads + 1:
        print(f"warning: load average {load_after:.1f} after the run; other work probably overlapped it")

    print(f"\nthreads: {args.threads} (torch.set_num_threads / OMP_NUM_THREADS); median of {args.repetitions} "
          f"alternating repetitions of >= {args.min_time} s after warm-up; torch {torch.__version__}, "
          f"torchvision {torchvision.__version__}")
    header = f"{'case':34} {'torch ms':>10} {'ours ms':>10} {'torch GF/s':>10} {'ours GF/s':>10} {'ratio':>7}  " \
             f"{'target':20} result"
    print(header + "\n" + "-" * len(header))
    for case, t_ms, o_ms, flops, ratio, target, met in rows:
        t_cell = f"{t_ms:10.1f}" if t_ms is not None else f"{'-':>10}"
        tg = f"{flops / t_ms / 1e6:10.1f}" if flops and t_ms else f"{'-':>10}"
        og = f"{flops / o_ms / 1e6:10.1f}" if flops else f"{'-':>10}"
        print(f"{case:34} {t_cell} {o_ms:10.1f} {tg} {og} {ratio:7.2f}  {target:20} {'met' if met else 'NOT MET'}")
    print("\nnotes:")
    print("  * PyTorch EDVR-M is a spec-faithful re-implementation of BasicSR's EDVR forward (same layers and "
          "torch ops),\n    not the upstream module; both sides ran the same random weights.")
    print(f"  * mean |DCN offset| in the EDVR-M run: {statistics.mean(offsets):.2f} px "
          "(random weights, offset branch biased to a few pixels)")
    print("  * GF/s counts conv/DCN multiply-adds as 2 FLOPs (DCN bilinear sampling, pools, resizes excluded).")
    if "BLAS_INFO=generic" in torch.__config__.show():
        print("  * this PyTorch build uses a generic (reference) BLAS: F.conv2d goes through oneDNN, but "
              "torchvision's\n    CPU deform_conv2d does its GEMM with that BLAS, which slows the PyTorch DCN down.")


if __name__ == "__main__":
    main()

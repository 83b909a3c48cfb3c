#!/usr/bin/env python3
"""PyTorch on the same GPU, shapes and inputs as vrestore_gpu_bench / vrestore_gpu_model_bench.

Every case has the C++ case's name ("<kernel>/<variant>/<HxW>/<dtype>", "model/<name>/<HxW>/<dtype>")
so that compare_gpu.py can join them. Kernels: the plain PyTorch op that does the same work
(torchvision.ops.deform_conv2d, F.conv2d + leaky_relu, torch.mm, F.pixel_shuffle, BasicSR's flow_warp
written out from the spec with its grid built on every call, F.interpolate, pools, in-place
element-wise ops), with the same closed-form flows, DCN offsets and masks as gpu_fill.h and an L2
flush before every timed call. Models: the PyTorch twins of benchmarks/compare_pytorch.py (BasicSR
EDVR and BasicVSR, mmedit RealBasicVSR re-implemented from the spec with the same torch ops and
FLOPs), loaded with the same weights files the C++ side runs (--weights-dir, written by
`vrestore_gpu_model_bench --write-weights DIR`). fp32 runs with TF32 off; fp16 is the best plain
PyTorch of gpu_anchors.md: pure fp16 weights and activations with channels_last and
cudnn.benchmark, or fp16 autocast where the model does not run in pure fp16 (BasicSR's flow_warp
builds an fp32 grid). Timing: torch.cuda.Event around each call, median after two warm-up calls.
Peak memory: torch.cuda.max_memory_allocated() over the timed calls (weights and input included).

Without a CUDA device it prints "skipped: no CUDA device" and exits 0. --device cpu runs every case
on the CPU with wall-clock timing (a self-test of the case code on tiny --sizes; no timing value).
Needs only torch + torchvision; no internet.
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import compare_pytorch as twins  # noqa: E402  (the PyTorch twins of the three families)

C, G, TAPS = 64, 8, 9


def _spynet_forward_without_sync(self, ref, supp):
    """compare_pytorch.SpyNet.forward minus its flow statistic (a host sync upstream does not have)."""
    h, w = ref.shape[2:]
    hr, wr = (h + 31) // 32 * 32, (w + 31) // 32 * 32
    ref = F.interpolate(ref, size=(hr, wr), mode="bilinear", align_corners=False)
    supp = F.interpolate(supp, size=(hr, wr), mode="bilinear", align_corners=False)
    flow = F.interpolate(self.compute_flow(ref, supp), size=(h, w), mode="bilinear", align_corners=False)
    flow[:, 0] *= w / wr
    flow[:, 1] *= h / hr
    return flow


twins.SpyNet.forward = _spynet_forward_without_sync


# ---- inputs: the closed forms of gpu_fill.h --------------------------------------------------------

def grid_xy(h, w, device):
    y, x = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32),
                          torch.arange(w, device=device, dtype=torch.float32), indexing="ij")
    return x, y


def smooth_flow(h, w, device):
    """(1, H, W, 2) interleaved, as upstream passes it."""
    x, y = grid_xy(h, w, device)
    dx = 2.5 * torch.sin(0.021 * x + 0.013 * y) + 0.5
    dy = 1.5 * torch.cos(0.017 * x - 0.029 * y) - 0.25
    return torch.stack([dx, dy], 2)[None]


def dcn_offsets(h, w, device):
    """offset (1, 2*G*9, H, W): channel 2j = dy, 2j+1 = dx; mask (1, G*9, H, W)."""
    x, y = grid_xy(h, w, device)
    j = torch.arange(G * TAPS, device=device, dtype=torch.float32).view(-1, 1, 1)
    dy = 3 * torch.sin(0.7 * j + 0.3) + 0.5 * torch.sin(0.05 * x + 0.03 * y)
    dx = 3 * torch.cos(0.9 * j + 0.1) + 0.5 * torch.cos(0.04 * x - 0.02 * y)
    mask = 0.5 + 0.5 * torch.sin(0.01 * x + 0.02 * y + j)
    return torch.stack([dy, dx], 1).reshape(1, 2 * G * TAPS, h, w), mask[None]


def uniform(shape, lo, hi, dtype, device):
    return (torch.rand(*shape, device=device) * (hi - lo) + lo).to(dtype)


def flow_warp(x, flow):
    """BasicSR's flow_warp (spec): grid built on every call, grid_sample bilinear, zeros, align_corners.
    Upstream's fp32 grid is cast to the features' dtype, else grid_sample refuses fp16 features."""
    _, _, h, w = x.shape
    grid_y, grid_x = torch.meshgrid(torch.arange(0, h, device=x.device).type_as(x),
                                    torch.arange(0, w, device=x.device).type_as(x), indexing="ij")
    vgrid = torch.stack((grid_x, grid_y), 2).float() + flow
    vgrid_x = 2.0 * vgrid[:, :, :, 0] / max(w - 1, 1) - 1.0
    vgrid_y = 2.0 * vgrid[:, :, :, 1] / max(h - 1, 1) - 1.0
    grid = torch.stack((vgrid_x, vgrid_y), dim=3).to(x.dtype)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


# ---- kernel cases ---------------------------------------------------------------------------------

def kernel_cases(h, w, dtype, device):
    """[(name, fn)] for one size and dtype; tensors are made when the case runs (lazily)."""
    tag = f"{h}x{w}/{'f16' if dtype == torch.float16 else 'f32'}"
    u = lambda shape, lo=-1.0, hi=1.0: uniform(shape, lo, hi, dtype, device)  # noqa: E731
    cases = []

    def case(name):
        def register(make):
            cases.append((f"{name}/{tag}", make))
            return make
        return register

    @case("deform_conv2d/c64_g8_k3")
    def _():
        x, wt, b = u((1, C, h, w)), u((C, C, 3, 3), -0.04, 0.04), u((C,), -0.04, 0.04)
        offset, mask = dcn_offsets(h, w, device)
        offset, mask = offset.to(dtype), mask.to(dtype)  # torchvision wants one dtype for all
        return lambda: torchvision.ops.deform_conv2d(x, offset, wt, b, padding=1, mask=mask)

    @case("conv2d/c64_k3_lrelu")
    def _():
        x, wt, b = u((1, C, h, w)), u((C, C, 3, 3), -0.04, 0.04), u((C,), -0.04, 0.04)
        return lambda: F.leaky_relu(F.conv2d(x, wt, b, padding=1), 0.1, inplace=True)

    @case("gemm/m64_k576")
    def _():
        a, b = u((C, C * TAPS), -0.04, 0.04), u((C * TAPS, h * w))
        return lambda: torch.mm(a, b)

    @case("bias_activation/c64_lrelu")
    def _():
        x, b = u((1, C, h, w)), u((1, C, 1, 1), -0.001, 0.001)
        return lambda: F.leaky_relu_(x.add_(b), 0.1)

    @case("pixel_shuffle/c256_r2")
    def _():
        x = u((1, 256, h, w))
        return lambda: F.pixel_shuffle(x, 2)

    @case("flow_warp/c64_zeros")
    def _():
        x, flow = u((1, C, h, w)), smooth_flow(h, w, device)
        return lambda: flow_warp(x, flow)

    @case("resize_bilinear/c64_x2")
    def _():
        x = u((1, C, h, w), 0, 1)
        return lambda: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    @case("max_pool2d/c64_k3s2p1")
    def _():
        x = u((1, C, h, w))
        return lambda: F.max_pool2d(x, 3, 2, 1)

    @case("avg_pool2d/c64_k3s2p1")
    def _():
        x = u((1, C, h, w))
        return lambda: F.avg_pool2d(x, 3, 2, 1)

    @case("activate/c64_sigmoid")
    def _():
        x = u((1, C, h, w), -4, 4)
        return lambda: x.sigmoid_()

    @case("add/c64_lrelu")
    def _():
        a, b = u((1, C, h, w)), u((1, C, h, w), -0.001, 0.001)
        return lambda: F.leaky_relu_(a.add_(b), 0.1)

    @case("scale/c64")
    def _():
        x = u((1, C, h, w))
        return lambda: x.mul_(-1.0)

    @case("concat/c64+c64")
    def _():
        a, b = u((1, C, h, w)), u((1, C, h, w))
        return lambda: torch.cat([a, b], 1)

    @case("channel_dot/t5_c64")
    def _():
        a, b = u((5, C, h, w)), u((5, C, h, w))
        return lambda: (a * b).sum(1, keepdim=True)  # TSA's embedding correlation

    @case("mul_broadcast_channels/t5_c64")
    def _():
        x, wt = u((5, C, h, w)), u((5, 1, h, w), 0, 1)
        return lambda: x.mul_(wt)

    @case("mul_add/c64")
    def _():
        x, m, a = u((1, C, h, w)), u((1, C, h, w), 0, 1), u((1, C, h, w), -0.001, 0.001)
        return lambda: x.mul_(m).mul_(2.0).add_(a)  # TSA's feat * attn * 2 + attn_add, in place

    @case("affine_channels/n15_c3")
    def _():
        x = u((15, 3, h, w), 0, 1)
        mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1).to(dtype)
        std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1).to(dtype)
        return lambda: (x - mean) / std

    @case("pad_crop/c3_to32")
    def _():
        x = u((1, 3, h, w), 0, 1)
        ph, pw = -h % 32, -w % 32
        return lambda: F.pad(x, (0, pw, 0, ph), mode="replicate")

    @case("sum_abs/c64")
    def _():
        x = u((1, C, h, w))
        return lambda: x.abs().sum(dtype=torch.float64)

    return cases


def extra_kernel_cases(sizes, dtype, device):
    """The single-size cases of bench_kernels.cpp: r=4 pixel shuffle at 720p, x4 resize of a frame."""
    tag = "f16" if dtype == torch.float16 else "f32"
    cases = []
    if (720, 1280) in sizes:
        def make_shuffle():
            x = uniform((1, 48, 720, 1280), -1, 1, dtype, device)
            return lambda: F.pixel_shuffle(x, 4)
        cases.append((f"pixel_shuffle/c48_r4/720x1280/{tag}", make_shuffle))
    if (180, 320) in sizes:
        def make_resize():
            x = uniform((1, 3, 180, 320), 0, 1, dtype, device)
            return lambda: F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
        cases.append((f"resize_bilinear/c3_x4/180x320/{tag}", make_resize))
    return cases


# ---- models -----------------------------------------------------------------------------------------

def build_model(name, weights_dir):
    if name == "edvr_m":
        model = twins.EDVR()
    elif name == "edvr_l":
        model = twins.EDVR(num_feat=128, num_reconstruct_block=40)
    elif name == "basicvsr":
        model = twins.BasicVSR()
    else:
        model = twins.RealBasicVSR()
    source = "random init (PyTorch defaults)"
    path = Path(weights_dir) / f"{name}.safetensors" if weights_dir else None
    if path and path.exists():
        state = twins.read_safetensors(path)
        if name == "realbasicvsr":
            state = {twins.from_mmedit_key(k): v for k, v in state.items()}
        model.load_state_dict(state, strict=True)
        source = str(path)
    return model.eval(), source


def model_cases(sizes, dtypes, device, weights_dir):
    cases = []
    for h, w in sizes:
        for name in ("edvr_m", "edvr_l", "basicvsr", "realbasicvsr"):
            for dtype in dtypes:
                recurrent = name in ("basicvsr", "realbasicvsr")
                t = (15 if h <= 180 else 5) if recurrent else 5
                cases.append((f"model/{name}/{h}x{w}/{'f16' if dtype == torch.float16 else 'f32'}",
                              dict(name=name, t=t, h=h, w=w, dtype=dtype, frames=t if recurrent else 1)))
    return cases


def prepare_model(spec, device, weights_dir):
    """(callable, mode) in the fastest plain-PyTorch form that runs: pure fp16 + channels_last, else autocast."""
    model, source = build_model(spec["name"], weights_dir)
    model = model.to(device)
    x32 = torch.rand(1, spec["t"], 3, spec["h"], spec["w"], device=device)
    if spec["dtype"] == torch.float32:
        return (lambda: model(x32)), "fp32 (TF32 off)", source
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    half = model.half()
    x16 = x32.half()
    try:
        with torch.inference_mode():
            half(x16)
        return (lambda: half(x16)), "pure fp16, channels_last", source
    except RuntimeError as e:  # BasicVSR's fp32 grid meets fp16 features in grid_sample
        first_error = str(e).splitlines()[0]
    model = build_model(spec["name"], weights_dir)[0].to(device)  # fresh fp32 weights, not fp16-rounded ones
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)

    def autocast():
        with torch.autocast(device_type=device.type, dtype=torch.float16 if device.type == "cuda" else torch.bfloat16):
            return model(x32)
    kind = "fp16 autocast, channels_last" if device.type == "cuda" else "bf16 autocast (CPU self-test)"
    return autocast, f"{kind} (pure fp16 failed: {first_error[:80]})", source


# ---- VRT: the upstream modules (models/network_vrt.py of a VRT checkout, --vrt-repo) ----------------

VRT_FRAMES, VRT_HEADS = 6, 6
VRT_SIZES = [(64, 64), (184, 320)]  # bench_vrt.cpp's sizes: 001's training clip, a REDS frame padded to 8 px
VRT_ATTENTION = [("self_c120_h6_w6x8x8_t6", 120, (6, 8, 8), False), ("mutual_c120_h6_w2x8x8_t6", 120, (2, 8, 8), True),
                 ("self_c180_h6_w6x8x8_t6", 180, (6, 8, 8), False)]
VRT_DCN = [("pa2_dg12_c120", 2, 12), ("pa6_dg24_c120", 6, 24)]


def vrt_cases(repo, dtypes, device):
    """[(name, make, frames)] named like benchmarks/gpu/bench_vrt.cpp's cases: upstream's attention
    core (WindowAttention.attention on qkv split into heads), DCNv2PackFlowGuided and VRT-001 (fp16:
    autocast, gpu_anchors.md's plain-PyTorch fp16)."""
    import compare_vrt  # noqa: E402  (imports the upstream file at run time; einops shim)
    upstream = compare_vrt.import_upstream(repo)
    cases = []
    for dtype in dtypes:
        tag = "f16" if dtype == torch.float16 else "f32"
        for h, w in VRT_SIZES:
            for variant, dim, window, mutual in VRT_ATTENTION:
                def make_attention(dim=dim, window=window, mutual=mutual, h=h, w=w, dtype=dtype):
                    module = upstream.WindowAttention(dim, window, VRT_HEADS, qkv_bias=True, mut_attn=mutual)
                    module = module.to(device=device, dtype=dtype).eval()
                    n = window[0] * window[1] * window[2]
                    windows = (VRT_FRAMES // window[0]) * (h // window[1]) * (w // window[2])
                    qkv = uniform((windows, n, 3, VRT_HEADS, dim // VRT_HEADS), -1, 1, dtype, device).permute(2, 0, 3, 1, 4)
                    q, k, v = qkv[0], qkv[1], qkv[2]
                    if not mutual:
                        return lambda: module.attention(q, k, v, None, (windows, n, dim), relative_position_encoding=True)
                    half = n // 2
                    return lambda: torch.cat([
                        module.attention(q[:, :, half:], k[:, :, :half], v[:, :, :half], None, (windows, half, dim), False),
                        module.attention(q[:, :, :half], k[:, :, half:], v[:, :, half:], None, (windows, half, dim), False)], 1)
                cases.append((f"vrt_window_attention/{variant}/{h}x{w}/{tag}", make_attention, 1))
            for variant, pa, groups in VRT_DCN:
                def make_dcn(pa=pa, groups=groups, h=h, w=w, dtype=dtype):
                    c, k = 120, pa // 2
                    module = upstream.DCNv2PackFlowGuided(c, c, 3, padding=1, deformable_groups=groups,
                                                          max_residue_magnitude=10, pa_frames=pa)
                    compare_vrt.default_init_offset_heads(module, upstream)
                    module = module.to(device=device, dtype=dtype).eval()
                    neighbours = [uniform((1, c, h, w), -1, 1, dtype, device) for _ in range(k)]
                    flows = [uniform((1, 2, h, w), -3, 3, dtype, device) for _ in range(k)]
                    warped = [upstream.flow_warp(n, f.permute(0, 2, 3, 1), "bilinear") for n, f in zip(neighbours, flows)]
                    current, x = uniform((1, c, h, w), -1, 1, dtype, device), torch.cat(neighbours, 1)
                    return lambda: module(x, warped, current, flows)
                cases.append((f"vrt_dcn_flow_guided/{variant}/{h}x{w}/{tag}", make_dcn, 1))
            def make_model(h=h, w=w, dtype=dtype):
                torch.manual_seed(2029)
                model = upstream.VRT(**compare_vrt.VRT_001).to(device).eval()
                x = torch.rand(1, VRT_FRAMES, 3, h, w, device=device)
                if dtype == torch.float32:
                    return (lambda: model(x)), "fp32 (TF32 off)", "upstream VRT, random init"

                def autocast():
                    with torch.autocast(device_type=device.type,
                                        dtype=torch.float16 if device.type == "cuda" else torch.bfloat16):
                        return model(x)
                return autocast, "fp16 autocast", "upstream VRT, random init"
            cases.append((f"model/vrt_001/{h}x{w}/{tag}", make_model, VRT_FRAMES))
    return cases


# ---- timing -----------------------------------------------------------------------------------------

class Timer:
    def __init__(self, device, flush_l2):
        self.device = device
        self.flush = None
        if device.type == "cuda" and flush_l2:
            l2 = getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 64 << 20)
            self.flush = torch.empty(max(2 * l2, 128 << 20), dtype=torch.uint8, device=device)

    def run(self, fn, min_time, min_reps, max_reps):
        """Median ms of one call after two warm-up calls."""
        with torch.inference_mode():
            fn()
            fn()
            self.sync()
            times, total = [], 0.0
            while len(times) < min_reps or (total < min_time and len(times) < max_reps):
                if self.flush is not None:
                    self.flush.zero_()
                ms = self.time_one(fn)
                times.append(ms)
                total += ms / 1e3
        return statistics.median(times), len(times)

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def time_one(self, fn):
        if self.device.type != "cuda":
            start = time.perf_counter()
            fn()
            return (time.perf_counter() - start) * 1e3
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        return start.elapsed_time(stop)


def parse_sizes(text):
    return [tuple(int(v) for v in s.split("x")) for s in text.split(",") if s]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="kernels,models", help="kernels, models or both")
    ap.add_argument("--filter", default="", help="only case names containing this text")
    ap.add_argument("--dtypes", default="f32,f16")
    ap.add_argument("--sizes", default="180x320,720x1280")
    ap.add_argument("--weights-dir", help="the model weights files vrestore_gpu_model_bench --write-weights wrote")
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds of timed calls per case (at least --min-reps)")
    ap.add_argument("--min-reps", type=int, default=3)
    ap.add_argument("--max-reps", type=int, default=200)
    ap.add_argument("--no-flush-l2", action="store_true", help="keep inputs in L2 between kernel calls")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (self-test of the case code)")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--vrt-repo", default=os.environ.get("VRESTORE_VRT_REPO"),
                    help="VRT checkout (models/network_vrt.py) for the VRT cases (default: $VRESTORE_VRT_REPO; none: skipped)")
    args = ap.parse_args()

    if args.device == "cuda" and not torch.cuda.is_available():
        print("skipped: no CUDA device (torch.cuda.is_available() is False)")
        return 0
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    dtypes = [{"f32": torch.float32, "f16": torch.float16}[d] for d in args.dtypes.split(",") if d]
    sizes = parse_sizes(args.sizes)
    wanted = set(args.cases.split(","))
    results, failures = [], 0
    context = {"torch": torch.__version__, "torchvision": torchvision.__version__,
               "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
               "l2_flushed_before_kernel_calls": not args.no_flush_l2}
    print(json.dumps(context))

    def record(name, make, frames=1, mode="", source="", flush=True):
        nonlocal failures
        if args.filter and args.filter not in name:
            return
        try:
            timer = Timer(device, flush and not args.no_flush_l2)
            prepared = make()
            fn, mode, source = prepared if isinstance(prepared, tuple) else (prepared, mode, source)
            if device.type == "cuda":
                torch.cuda.synchronize()
                fn()  # a first call before the peak is reset (cudnn.benchmark's search allocates)
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats(device)
            ms, reps = timer.run(fn, args.min_time, args.min_reps, args.max_reps)
            peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
            row = dict(name=name, ms=ms, ms_per_frame=ms / frames, reps=reps, peak_bytes=peak, mode=mode, source=source)
        except Exception as e:  # one failing case must not end the run
            failures += 1
            row = dict(name=name, error=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
        results.append(row)
        print(json.dumps(row), flush=True)

    if "kernels" in wanted:
        for dtype in dtypes:
            for h, w in sizes:
                for name, make in kernel_cases(h, w, dtype, device):
                    record(name, make)
            for name, make in extra_kernel_cases(sizes, dtype, device):
                record(name, make)
    if "models" in wanted:
        for name, spec in model_cases(sizes, dtypes, device, args.weights_dir):
            record(name, lambda spec=spec: prepare_model(spec, device, args.weights_dir), frames=spec["frames"],
                   flush=False)
    if args.vrt_repo:
        for name, make, frames in vrt_cases(args.vrt_repo, dtypes, device):
            is_model = name.startswith("model/")
            if ("models" if is_model else "kernels") in wanted:
                record(name, make, frames=frames, flush=not is_model)
    if args.json:
        args.json.write_text(json.dumps({"context": context, "results": results}, indent=1))
    print(f"torch_gpu_bench: {len(results) - failures} cases timed, {failures} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""VRT in PyTorch (the upstream modules) and in vrestore, on the same weights and inputs, in one run.

The PyTorch side is upstream's own code: models/network_vrt.py of a JingyunLiang/VRT checkout given
with --vrt-repo, imported at run time (nothing of it is copied here). Cases (checkpoint 001's shapes
on a 6x64x64 clip; spec_vrt.md):

  attn_self     WindowAttention(120, (6,8,8), 6 heads), 64 windows of 384 tokens (stages 1-7, TMSAG2)
  attn_mutual   WindowAttention(120, (2,8,8), 6 heads, mut_attn=True), 192 windows of 128 tokens (TMSAG1)
  attn_self180  WindowAttention(180, (6,8,8), 6 heads) (stage 8, head dim 30)
  dcn_pa2       DCNv2PackFlowGuided(120, 120, 3, deformable_groups=12, pa_frames=2) at 64x64 (001)
  dcn_pa6       the same with pa_frames=6, deformable_groups=24 (three neighbours: 002)
  vrt           VRT with 001's constructor arguments, forward of 1x6x3x64x64 (--full-size: also
                1x6x3x184x320, a 180x320 REDS frame padded to the 8-px window), per output frame, and
                the peak RSS of one forward in a separate process per side.

Weights: upstream's own init (seeded), except that the last conv of each DCN offset branch gets
PyTorch's default init instead of zeros, so that the offsets differ from the flows (as in trained
models). The module weights and inputs go to vrestore as safetensors files: the op cases through
$VRESTORE_BENCH_VRT_OPS_DIR (vrestore_bench reads <case>.safetensors and writes <case>.out.safetensors),
the whole model as `torch.save({'params': state_dict})` converted by weights_converter/convert.py,
like an official checkpoint. Each case prints the max-abs difference of the outputs (vrestore's own
op output, and the CLI's `vrestore run` for the whole model), then times both sides: torch in this
process with torch.set_num_threads(N), vrestore as `vrestore_bench` with OMP_NUM_THREADS=N, repetitions
alternating between the sides (so that load from elsewhere hits both alike), medians.

--torch-blas DIR runs the PyTorch side with the libblas.so.3 found in DIR (LD_LIBRARY_PATH; e.g. an
OpenBLAS unpacked from Debian's libopenblas0-pthread with dpkg -x): Debian's torch 1.13 calls the
system BLAS for nn.Linear, and the default one is the reference BLAS (~3 GFLOP/s here against
~50 with OpenBLAS on 2 threads; OPENBLAS_NUM_THREADS is set to --threads).

    /usr/bin/python3 benchmarks/compare_vrt.py --vrt-repo /tmp/vrt [--cases attn_self,...,vrt] [--threads 2]
        [--repetitions 3] [--model-repetitions 1] [--min-time 0.5] [--full-size] [--skip-memory]
        [--bench PATH] [--cli PATH] [--torch-blas DIR]
"""
import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import compare_pytorch as cp  # noqa: E402  (safetensors I/O, timing helpers, binary lookup)

CASES = ("attn_self", "attn_mutual", "attn_self180", "dcn_pa2", "dcn_pa6", "vrt")
# (case, file stem vrestore_bench reads, its benchmark name, dim, window, mutual)
ATTENTION = {
    "attn_self": ("wa_self_c120", "vrt_window_attention/self/c120_h6_w6x8x8/1x6x64x64", 120, (6, 8, 8), False),
    "attn_mutual": ("wa_mutual_c120", "vrt_window_attention/mutual/c120_h6_w2x8x8/1x6x64x64", 120, (2, 8, 8), True),
    "attn_self180": ("wa_self_c180", "vrt_window_attention/self/c180_h6_w6x8x8/1x6x64x64", 180, (6, 8, 8), False),
}
DCN = {  # case: (file stem, benchmark name, pa_frames, deformable groups)
    "dcn_pa2": ("dcn_pa2_dg12", "vrt_dcn_flow_guided/pa2_dg12/c120/1x120x64x64", 2, 12),
    "dcn_pa6": ("dcn_pa6_dg24", "vrt_dcn_flow_guided/pa6_dg24/c120/1x120x64x64", 6, 24),
}
FRAMES, SIDE, HEADS, DCN_CHANNELS = 6, 64, 6, 120
VRT_001 = dict(upscale=4, img_size=[6, 64, 64], window_size=[6, 8, 8], depths=[8] * 7 + [4] * 6,
               indep_reconsts=[11, 12], embed_dims=[120] * 7 + [180] * 6, num_heads=[6] * 13,
               pa_frames=2, deformable_groups=12)
VRT_SIZES = [(64, 64)]
VRT_SIZES_FULL = [(184, 320)]


# ---- upstream import -------------------------------------------------------------------------------

def rearrange(x, pattern, **sizes):
    """einops.rearrange for what network_vrt.py uses: named axes, parenthesised groups, sizes given
    by keyword. Only used when einops is not installed (Debian has no package for it)."""
    def parse(side):
        groups, current = [], None
        for token in side.replace("(", " ( ").replace(")", " ) ").split():
            if token == "(":
                current = []
            elif token == ")":
                groups.append(current)
                current = None
            elif current is not None:
                current.append(token)
            else:
                groups.append([token])
        return groups
    left, right = (parse(s) for s in pattern.split("->"))
    if len(left) != x.dim():
        raise ValueError(f"rearrange '{pattern}': tensor has {x.dim()} dimensions")
    known = dict(sizes)
    for group, dim in zip(left, x.shape):
        unknown = [a for a in group if a not in known]
        product = 1
        for a in group:
            product *= known.get(a, 1)
        if len(unknown) == 1:
            known[unknown[0]] = dim // product
    names = [a for g in left for a in g]
    x = x.reshape([known[a] for a in names]).permute([names.index(a) for g in right for a in g])
    shape = []
    for group in right:
        size = 1
        for a in group:
            size *= known[a]
        shape.append(size)
    return x.reshape(shape)


class Rearrange(torch.nn.Module):
    def __init__(self, pattern, **sizes):
        super().__init__()
        self.pattern, self.sizes = pattern, sizes

    def forward(self, x):
        return rearrange(x, self.pattern, **self.sizes)


def import_upstream(repo):
    """models/network_vrt.py of the checkout, as a module."""
    path = Path(repo) / "models" / "network_vrt.py"
    if not path.exists():
        sys.exit(f"--vrt-repo {repo}: no models/network_vrt.py (a checkout of github.com/JingyunLiang/VRT)")
    try:
        import einops  # noqa: F401  (upstream imports it)
    except ImportError:
        shim = types.ModuleType("einops")
        shim.rearrange = rearrange
        layers = types.ModuleType("einops.layers")
        layers_torch = types.ModuleType("einops.layers.torch")
        layers_torch.Rearrange = Rearrange
        shim.layers, layers.torch = layers, layers_torch
        sys.modules.update({"einops": shim, "einops.layers": layers, "einops.layers.torch": layers_torch})
    spec = importlib.util.spec_from_file_location("network_vrt", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def default_init_offset_heads(model, upstream):
    """Upstream zero-initialises each DCN's last offset conv (offsets = flows exactly); trained
    models have residues of a fraction of a pixel, so give those convs PyTorch's default init."""
    for m in model.modules():
        if isinstance(m, upstream.DCNv2PackFlowGuided):
            m.conv_offset[-1].reset_parameters()


def float_state(module):
    """The module's float tensors (vrestore computes the int64 relative_position_index itself)."""
    return {k: v for k, v in module.state_dict().items() if v.is_floating_point()}


def smooth_flow(h, w, phase):
    """bench_vrt.cpp's flow (N, 2, H, W): dx = 2.5 sin(0.021x + 0.013y + p) + 0.5, dy = 1.5 cos(0.017x - 0.029y + p) - 0.25."""
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    return torch.stack([2.5 * torch.sin(0.021 * xx + 0.013 * yy + phase) + 0.5,
                        1.5 * torch.cos(0.017 * xx - 0.029 * yy + phase) - 0.25]).float()[None]


# ---- cases -------------------------------------------------------------------------------------------

def attention_case(upstream, case, ops_dir):
    stem, _, dim, window, mutual = ATTENTION[case]
    module = upstream.WindowAttention(dim, window, HEADS, qkv_bias=True, qk_scale=None, mut_attn=mutual).eval()
    tokens = window[0] * window[1] * window[2]
    windows = (FRAMES // window[0]) * (SIDE // window[1]) * (SIDE // window[2])
    x = torch.rand(windows, tokens, dim) * 2 - 1
    cp.save_safetensors(ops_dir / f"{stem}.safetensors", {**float_state(module), "input": x})
    return lambda: module(x)


def dcn_case(upstream, case, ops_dir):
    stem, _, pa, groups = DCN[case]
    c, k = DCN_CHANNELS, pa // 2
    module = upstream.DCNv2PackFlowGuided(c, c, 3, padding=1, deformable_groups=groups, max_residue_magnitude=10,
                                          pa_frames=pa).eval()
    default_init_offset_heads(module, upstream)
    neighbours = [torch.rand(1, c, SIDE, SIDE) * 2 - 1 for _ in range(k)]
    flows = [smooth_flow(SIDE, SIDE, 0.7 * j) for j in range(k)]
    warped = [upstream.flow_warp(n, f.permute(0, 2, 3, 1), "bilinear") for n, f in zip(neighbours, flows)]
    current = torch.rand(1, c, SIDE, SIDE) * 2 - 1
    tensors = {**float_state(module), "current": current}
    for j in range(k):
        tensors.update({f"neighbour_{j}": neighbours[j], f"flow_{j}": flows[j], f"warped_{j}": warped[j]})
    cp.save_safetensors(ops_dir / f"{stem}.safetensors", tensors)
    x = torch.cat(neighbours, 1)
    return lambda: module(x, warped, current, flows)


def make_vrt(upstream, seed):
    torch.manual_seed(seed)
    model = upstream.VRT(**VRT_001).eval()
    default_init_offset_heads(model, upstream)
    return model


def convert(pth, out):
    """weights_converter/convert.py, as a user converts an official checkpoint."""
    r = subprocess.run([sys.executable, str(REPO / "weights_converter" / "convert.py"), str(pth), str(out)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"convert.py failed:\n{r.stderr[-2000:]}")


def ours_output_diff(ops_dir, stem, torch_out):
    path = ops_dir / f"{stem}.out.safetensors"
    if not path.exists():
        return None
    return (cp.read_safetensors(path)["output"] - torch_out).abs().max().item()


# ---- separate processes for peak memory ----------------------------------------------------------------

def measure_peak(cmd, env):
    """(peak RSS MiB, wall s, error) of `cmd` in its own process, from GNU time's %M. Not os.wait4 on a
    child of this process: Linux carries the RSS high-water mark of the forked copy of this (large)
    Python process over exec, so every child would report at least this process's size."""
    start = time.perf_counter()
    with tempfile.NamedTemporaryFile(mode="r") as peak:
        r = subprocess.run(["/usr/bin/time", "-o", peak.name, "-f", "%M", *map(str, cmd)], env=env,
                           capture_output=True, text=True)
        text = peak.read().strip().splitlines()
    wall = time.perf_counter() - start
    if r.returncode != 0:
        return None, wall, f"exit {r.returncode}: {(r.stdout + r.stderr).strip()[-400:]}"
    return int(text[-1]) / 1024, wall, None


def memory_child(args):
    """--memory-child: one upstream VRT forward with the saved weights, nothing else kept."""
    torch.set_num_threads(args.threads)
    upstream = import_upstream(args.vrt_repo)
    model = upstream.VRT(**VRT_001).eval()
    model.load_state_dict(torch.load(args.memory_child, map_location="cpu")["params"], strict=True)
    x = cp.read_safetensors(args.memory_input)["input"]
    with torch.inference_mode():
        out = model(x)
    print(f"output {tuple(out.shape)}")


# ---- main ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vrt-repo", type=Path, help="checkout of github.com/JingyunLiang/VRT (required)")
    ap.add_argument("--bench", type=Path, help="vrestore_bench (default: build-bench/ or build/)")
    ap.add_argument("--cli", type=Path, help="vrestore CLI for the whole-model check and memory")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repetitions", type=int, default=3, help="alternating repetitions of the op cases")
    ap.add_argument("--model-repetitions", type=int, default=1, help="alternating repetitions of the whole model")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per op repetition (at least one call)")
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    ap.add_argument("--full-size", action="store_true", help="also the whole model at 6x184x320 (minutes per call)")
    ap.add_argument("--skip-memory", action="store_true", help="no peak-RSS processes for the whole model")
    ap.add_argument("--torch-blas", type=Path, help="folder with the libblas.so.3 the PyTorch side should use")
    ap.add_argument("--gpu-report", nargs=3, metavar=("OURS_JSON", "TORCH_JSON", "OUT_MD"),
                    help="only join vrestore_gpu_vrt_bench's and torch_gpu_bench.py's VRT results into a "
                         "markdown table with the issue's GPU targets (scripts/gpu_check.sh)")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    ap.add_argument("--memory-input", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.gpu_report:
        return gpu_report(*map(Path, args.gpu_report))
    if not args.vrt_repo:
        ap.error("--vrt-repo is required")
    if args.memory_child:
        return memory_child(args)
    if args.torch_blas and os.environ.get("VRESTORE_COMPARE_TORCH_BLAS") != str(args.torch_blas):
        # The BLAS is picked when the process starts: start again with it (ours runs without it).
        env = dict(os.environ, LD_LIBRARY_PATH=f"{args.torch_blas}:{os.environ.get('LD_LIBRARY_PATH', '')}",
                   VRESTORE_COMPARE_TORCH_BLAS=str(args.torch_blas), OPENBLAS_NUM_THREADS=str(args.threads),
                   VRESTORE_COMPARE_OLD_LD_LIBRARY_PATH=os.environ.get("LD_LIBRARY_PATH", ""))
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    ours_env = dict(os.environ)
    if "VRESTORE_COMPARE_TORCH_BLAS" in os.environ:
        ours_env["LD_LIBRARY_PATH"] = os.environ["VRESTORE_COMPARE_OLD_LD_LIBRARY_PATH"]

    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        sys.exit(f"unknown case(s) {sorted(unknown)}; choose from {CASES}")
    bench = cp.find_binary(args.bench, "benchmarks/vrestore_bench")
    if bench is None:
        sys.exit("vrestore_bench not found; build it (benchmarks/README.md) or pass --bench")
    cli = cp.find_binary(args.cli, "examples/vrestore")
    upstream = import_upstream(args.vrt_repo)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.1f} before starting; other work may distort the timings")

    def compare(torch_fn, name, env_extra, repetitions, whole_model=False):
        """Medians (torch ms, ours ms) of alternating repetitions; ours None when its case failed.
        A whole-model call takes seconds: one call per repetition on both sides, one warm-up."""
        env = dict(ours_env, **env_extra)
        t_ms, o_ms = [], []
        with torch.inference_mode():
            calls = 1 if whole_model else cp.torch_warm_up(torch_fn, args.min_time)
            if whole_model:
                torch_fn()  # one warm-up call
            for _ in range(repetitions):
                t_ms.append(cp.torch_repetition_ms(torch_fn, calls))
                # vrt_forward warms up by itself (one forward before timing).
                ms, error = ours_repetition(bench, name, args.threads, 0 if whole_model else args.min_time, env,
                                            warmup=0 if whole_model else 0.2)
                if error:
                    return statistics.median(t_ms), None, error
                o_ms.append(ms)
        return statistics.median(t_ms), statistics.median(o_ms), None

    rows, notes = [], []  # rows: (case, torch ms, ours ms, max-abs, note)
    tmp = tempfile.TemporaryDirectory(prefix="vrestore_compare_vrt_")
    ops_dir = Path(tmp.name)
    env_ops = {"VRESTORE_BENCH_VRT_OPS_DIR": str(ops_dir)}
    for case in cases:
        if case in ATTENTION or case in DCN:
            stem, name = (ATTENTION.get(case) or DCN.get(case))[:2]
            fn = attention_case(upstream, case, ops_dir) if case in ATTENTION else dcn_case(upstream, case, ops_dir)
            t_ms, o_ms, error = compare(fn, f"^{name}/", env_ops, args.repetitions)
            with torch.inference_mode():
                diff = ours_output_diff(ops_dir, stem, fn())
            rows.append((case, t_ms, o_ms, diff, error or ""))

    if "vrt" in cases:
        model = make_vrt(upstream, seed=2029)
        pth, weights = ops_dir / "vrt_001_random.pth", ops_dir / "vrt_001_random.safetensors"
        torch.save({"params": model.state_dict()}, pth)
        convert(pth, weights)
        env_model = {"VRESTORE_BENCH_VRT_WEIGHTS": str(weights)}
        for h, w in VRT_SIZES + (VRT_SIZES_FULL if args.full_size else []):
            x = torch.rand(1, FRAMES, 3, h, w)
            label = f"vrt_{h}x{w}"
            diff, note = None, ""
            if cli:
                inp, out = ops_dir / f"{label}_in.safetensors", ops_dir / f"{label}_out.safetensors"
                cp.save_safetensors(inp, {"input": x})
                r = subprocess.run([str(cli), "run", "--weights", str(weights), "--input", str(inp), "--output", str(out)],
                                   capture_output=True, text=True, env=dict(ours_env, OMP_NUM_THREADS=str(args.threads)))
                if r.returncode == 0:
                    with torch.inference_mode():
                        diff = (cp.read_safetensors(out)["output"] - model(x)).abs().max().item()
                else:
                    note = f"vrestore run failed: {(r.stderr or r.stdout).strip().splitlines()[-1][:160]}"
            t_ms, o_ms, error = compare(lambda: model(x), f"^vrt_forward/1x6x3/h:{h}/w:{w}/", env_model,
                                        args.model_repetitions, whole_model=True)
            rows.append((f"VRT-001 per frame, 1x{FRAMES}x3x{h}x{w}", t_ms / FRAMES, o_ms and o_ms / FRAMES, diff,
                         error or note))
            if not args.skip_memory:
                inp = ops_dir / f"{label}_in.safetensors"
                cp.save_safetensors(inp, {"input": x})
                threads_env = dict(OMP_NUM_THREADS=str(args.threads))
                t_peak, t_wall, t_err = measure_peak(
                    [sys.executable, __file__, "--vrt-repo", args.vrt_repo, "--memory-child", pth, "--memory-input", inp,
                     "--threads", args.threads], dict(os.environ, **threads_env))
                o_peak, o_wall, o_err = (None, 0, "no CLI") if not cli else measure_peak(
                    [cli, "run", "--weights", weights, "--input", inp, "--output", ops_dir / f"{label}_mem.safetensors"],
                    dict(ours_env, **threads_env))
                notes.append(f"peak RSS of one forward at 1x{FRAMES}x3x{h}x{w} (whole process, load included): "
                             f"torch {fmt(t_peak, '.0f')} MiB ({t_wall:.0f} s){' ' + t_err if t_err else ''}, "
                             f"vrestore {fmt(o_peak, '.0f')} MiB ({o_wall:.0f} s){' ' + o_err if o_err else ''}"
                             + (f", ours/torch {o_peak / t_peak:.2f}" if t_peak and o_peak else ""))
    tmp.cleanup()

    load_after = os.getloadavg()[0]
    if load_after > args.threads + 1:
        print(f"warning: load average {load_after:.1f} after the run; other work probably overlapped it")
    blas = os.environ.get("VRESTORE_COMPARE_TORCH_BLAS", "the system libblas.so.3")
    print(f"\nthreads: {args.threads}; medians of {args.repetitions} (ops) / {args.model_repetitions} (model) "
          f"alternating repetitions; torch {torch.__version__} with {blas}; upstream {args.vrt_repo}")
    header = f"{'case':36} {'torch ms':>10} {'ours ms':>10} {'torch/ours':>10} {'max-abs':>9}  note"
    print(header + "\n" + "-" * len(header))
    for case, t_ms, o_ms, diff, note in rows:
        ratio = t_ms / o_ms if o_ms else None
        target = "  (target >= 2)" if case.startswith("VRT-001") and "64x64" in case else ""
        print(f"{case:36} {fmt(t_ms, '10.1f')} {fmt(o_ms, '10.1f')} {fmt(ratio, '10.2f')} {fmt(diff, '9.2e')}  "
              f"{note}{target}")
    if notes:
        print("\nnotes:")
        for n in notes:
            print(f"  * {n}")
    print("  * max-abs: vrestore's output against the upstream module's on the same weights and inputs "
          "(ops: vrestore_bench's own output; model: `vrestore run`).")
    return 0


# Issue 8's GPU targets for VRT-001 in f16 at 6x184x320 against gpu_anchors.md's plain PyTorch.
GPU_TIME_TARGET, GPU_MEMORY_TARGET = 3.0, 0.25


def gpu_report(ours_json, torch_json, out_md):
    """Markdown: per case ours / torch ms (per frame for the model), ratio, peak memory, targets."""
    sys.path.insert(0, str(HERE / "gpu"))
    import compare_gpu  # noqa: E402  (reads Google Benchmark JSON, also when cut short)
    ours = compare_gpu.read_gbench(ours_json)
    theirs = {}
    if torch_json.exists():
        theirs = {r["name"]: r for r in json.loads(torch_json.read_text()).get("results", [])}
    lines = ["| case | ours ms | torch ms | torch/ours | ours peak MiB | torch peak MiB | target |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name in dict.fromkeys(list(ours) + list(theirs)):
        o, t = ours.get(name, {}), theirs.get(name, {})
        model = name.startswith("model/")
        om = o.get("ms_per_frame") if model else o.get("ms")
        tm = t.get("ms_per_frame") if model else t.get("ms")
        ratio = tm / om if om and tm else None
        opk, tpk = o.get("peak_device_MiB"), (t["peak_bytes"] / 2**20 if t.get("peak_bytes") else None)
        target = ""
        if name == "model/vrt_001/184x320/f16":
            mem = opk / tpk if opk and tpk else None
            met = ratio is not None and mem is not None and ratio >= GPU_TIME_TARGET and mem <= GPU_MEMORY_TARGET
            target = (f"time >= {GPU_TIME_TARGET:g}x, memory <= {GPU_MEMORY_TARGET:g}: "
                      + ("not measured" if ratio is None or mem is None else "met" if met else "**missed**"))
        note = o.get("error") or t.get("error") or ""
        lines.append(f"| `{name}`{' (per frame)' if model else ''} | {fmt(om, '.3f')} | {fmt(tm, '.3f')} | "
                     f"{fmt(ratio, '.2f')} | {fmt(opk, '.0f')} | {fmt(tpk, '.0f')} | {target}"
                     f"{' ' + note[:120] if note else ''} |")
    text = ("PyTorch: the upstream modules (torch_gpu_bench.py --vrt-repo; f16 = autocast). "
            "gpu_anchors.md: upstream VRT-001 fp16 115 ms/frame, 9.2 GB at 6x184x320.\n\n" + "\n".join(lines) + "\n")
    out_md.write_text(text)
    print(text)
    return 0


def fmt(v, spec):
    """v formatted with spec, or a dash as wide as the spec says."""
    if v is not None:
        return format(v, spec)
    width = spec.split(".")[0]
    return "-".rjust(int(width) if width.isdigit() else 1)


def ours_repetition(bench, name_regex, threads, min_time, env, warmup=0.2):
    """One repetition of one vrestore_bench case: (ms, None), or (None, error text)."""
    cmd = [str(bench), "--benchmark_format=json", f"--benchmark_filter={name_regex}",
           f"--benchmark_min_time={min_time}", f"--benchmark_min_warmup_time={warmup}"]
    r = subprocess.run(cmd, env=dict(env, OMP_NUM_THREADS=str(threads)), capture_output=True, text=True)
    if r.returncode != 0:
        return None, f"vrestore_bench exit {r.returncode}: {r.stderr.strip()[-200:]}"
    runs = json.loads(r.stdout)["benchmarks"]
    if len(runs) != 1:
        return None, f"{len(runs)} benchmarks matched {name_regex!r}, expected 1"
    run = runs[0]
    if run.get("error_occurred"):
        return None, run.get("error_message", "error")[:200]
    return run["real_time"] * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[run["time_unit"]], None


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""vrestore against PyTorch on one GPU, in one go: kernels at the official shapes and whole models.

Runs, in this order: `vrestore_gpu_model_bench --write-weights DIR` (random official-config weights,
shared by both sides), `vrestore_gpu_bench` (every kernel, f32 and f16), `vrestore_gpu_model_bench`
(EDVR-M, EDVR-L, BasicVSR, RealBasicVSR per frame at 180x320 and 720x1280), and
torch_gpu_bench.py on the same shapes, inputs and weights; then joins the cases by name and prints
a markdown table: time per call (per frame for models), torch/ours (> 1: ours is faster), our
bandwidth and share of the roofline, peak device memory of both sides, and the issue's targets.
Everything is local: no internet, only the built binaries, torch and torchvision.

Without a CUDA device every step says "skipped: no CUDA device" and this exits 0.

    python3 benchmarks/gpu/compare_gpu.py [--build build-gpu] [--markdown out.md] [--json-dir DIR]
        [--min-time 0.05] [--model-min-time 0.3] [--filter TEXT] [--skip-models] [--skip-kernels] [--budget 420]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

# The issue's targets (issue 7, items 3 and 7): torch/ours at least this much.
KERNEL_TARGETS = {
    "deform_conv2d/c64_g8_k3/720x1280/f16": 3.0,
    "deform_conv2d/c64_g8_k3/720x1280/f32": 2.0,
    "flow_warp/c64_zeros/720x1280/f32": 2.0,
    "flow_warp/c64_zeros/720x1280/f16": 2.0,
}
MODEL_TARGET = {"f16": 2.0, "f32": 1.5}
MEMORY_TARGET = 0.5  # ours peak <= half of PyTorch's


def target_for(name):
    if name in KERNEL_TARGETS:
        return KERNEL_TARGETS[name]
    if name.startswith("pixel_shuffle/"):
        return 1.0
    if name.startswith("model/"):
        return MODEL_TARGET[name.rsplit("/", 1)[1]]
    return None


def find_build(explicit):
    candidates = [Path(explicit)] if explicit else [REPO / d for d in ("build-gpu", "build-bench", "build")]
    for d in candidates:
        if (d / "benchmarks/gpu/vrestore_gpu_bench").exists() or (d / "benchmarks/gpu/vrestore_gpu_model_bench").exists():
            return d
    return candidates[0]


def run(cmd, log, env=None, timeout=None):
    """Runs cmd, echoing its output into `log`; returns (returncode, stdout)."""
    print("$ " + " ".join(str(c) for c in cmd), flush=True)
    try:
        p = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        log.append(f"$ {cmd}\n{out}\nTIMEOUT after {timeout} s")
        return 124, out
    log.append(f"$ {' '.join(str(c) for c in cmd)}\n{p.stdout}\n{p.stderr}")
    if p.stderr.strip():
        print(p.stderr.strip()[-2000:], file=sys.stderr)
    return p.returncode, p.stdout


def gpu_present(python):
    """nvidia-smi lists a GPU, or (without nvidia-smi) torch sees one."""
    if shutil.which("nvidia-smi"):
        p = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
        return p.returncode == 0 and "GPU" in p.stdout
    p = subprocess.run([python, "-c", "import torch; print(torch.cuda.is_available())"], capture_output=True, text=True)
    return p.stdout.strip() == "True"


def read_gbench(path):
    """{name: row} of a Google Benchmark JSON file; ms = the manual (CUDA event) time per iteration."""
    if not path.exists() or path.stat().st_size == 0:
        return {}
    text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:  # cut short: Google Benchmark writes each case as it finishes
        data = json.loads(text.rstrip().rstrip(",") + "]}") if '"benchmarks"' in text else {}
    rows = {}
    for b in data.get("benchmarks", []):
        name = b["name"].removesuffix("/manual_time")
        if b.get("error_occurred"):
            rows[name] = {"error": b.get("error_message", "error")}
            continue
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
        row = {"ms": b["real_time"] * scale, "bytes_per_second": b.get("bytes_per_second"),
               "roofline_ms": b.get("roofline_ms"), "peak_device_MiB": b.get("peak_device_MiB"),
               "clip_frames": b.get("clip_frames"), "workspace_MiB": b.get("workspace_MiB")}
        if "sec_per_frame" in b:
            row["ms_per_frame"] = b["sec_per_frame"] * 1e3
        rows[name] = row
    return rows


def fmt(v, spec=".3f"):
    return "–" if v is None else format(v, spec)


def table(ours, torch_rows):
    names = list(dict.fromkeys(list(ours) + list(torch_rows)))
    kernels = [n for n in names if not n.startswith("model/")]
    models = [n for n in names if n.startswith("model/")]
    lines, misses, unmeasured = [], 0, 0
    if kernels:
        lines += ["| kernel case | ours ms | torch ms | torch/ours | ours GB/s | of roofline | target |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for n in kernels:
            o, t = ours.get(n, {}), torch_rows.get(n, {})
            ratio = t["ms"] / o["ms"] if "ms" in o and "ms" in t and o["ms"] > 0 else None
            gbs = o["bytes_per_second"] / 1e9 if o.get("bytes_per_second") else None
            roof = o["roofline_ms"] / o["ms"] if o.get("roofline_ms") and o.get("ms") else None
            goal = target_for(n)
            verdict = "" if goal is None else f"≥ {goal:g}: " + (
                "not measured" if ratio is None else "met" if ratio >= goal else "**missed**")
            misses += bool(goal is not None and ratio is not None and ratio < goal)
            unmeasured += bool(goal is not None and ratio is None)
            note = o.get("error") or t.get("error")
            lines.append(f"| `{n}` | {fmt(o.get('ms'), '.4f')} | {fmt(t.get('ms'), '.4f')} | {fmt(ratio, '.2f')} | "
                         f"{fmt(gbs, '.0f')} | {fmt(roof and 100 * roof, '.0f')}{'%' if roof else ''} | "
                         f"{verdict}{' ' + note[:120] if note else ''} |")
    if models:
        lines += ["", "| model case (per frame) | ours ms | torch ms | torch/ours | ours peak MiB | torch peak MiB |"
                  " ours/torch memory | target | torch mode |",
                  "|---|---:|---:|---:|---:|---:|---:|---|---|"]
        for n in models:
            o, t = ours.get(n, {}), torch_rows.get(n, {})
            om, tm = o.get("ms_per_frame"), t.get("ms_per_frame")
            ratio = tm / om if om and tm else None
            opk = o.get("peak_device_MiB")
            tpk = t["peak_bytes"] / 2**20 if t.get("peak_bytes") else None
            mem = opk / tpk if opk and tpk else None
            goal = target_for(n)
            measured = ratio is not None and mem is not None
            ok = measured and ratio >= goal and mem <= MEMORY_TARGET
            misses += measured and not ok
            unmeasured += not measured
            verdict = f"time ≥ {goal:g}×, memory ≤ {MEMORY_TARGET:g}: " + (
                "not measured" if not measured else "met" if ok else "**missed**")
            note = o.get("error") or t.get("error") or ""
            lines.append(f"| `{n}` | {fmt(om, '.2f')} | {fmt(tm, '.2f')} | {fmt(ratio, '.2f')} | {fmt(opk, '.0f')} | "
                         f"{fmt(tpk, '.0f')} | {fmt(mem, '.2f')} | {verdict}{' ' + note[:120] if note else ''} | "
                         f"{t.get('mode', '')} |")
    return "\n".join(lines), misses, unmeasured


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", help="build folder with benchmarks/gpu/ (default: build-gpu, build-bench, build)")
    ap.add_argument("--markdown", type=Path, help="also write the tables here")
    ap.add_argument("--json-dir", type=Path, help="keep the raw JSON of both sides here")
    ap.add_argument("--min-time", type=float, default=0.05, help="seconds of device time per kernel case")
    ap.add_argument("--model-min-time", type=float, default=0.3, help="seconds of device time per model case")
    ap.add_argument("--filter", default="", help="only cases whose name contains this text")
    ap.add_argument("--skip-kernels", action="store_true")
    ap.add_argument("--skip-models", action="store_true")
    ap.add_argument("--budget", type=float, default=420,
                    help="seconds for everything: each side's kernels and models get a share, PyTorch the rest")
    ap.add_argument("--python", default=sys.executable, help="the Python with torch + torchvision")
    args = ap.parse_args()

    if not gpu_present(args.python):
        print("compare_gpu: skipped: no CUDA device")
        if args.markdown:
            args.markdown.write_text("skipped: no CUDA device\n")
        return 0
    build = find_build(args.build)
    kernel_bench = build / "benchmarks/gpu/vrestore_gpu_bench"
    model_bench = build / "benchmarks/gpu/vrestore_gpu_model_bench"
    out = args.json_dir or Path(tempfile.mkdtemp(prefix="vrestore_compare_gpu_"))
    out.mkdir(parents=True, exist_ok=True)
    weights = Path(tempfile.mkdtemp(prefix="vrestore_gpu_weights_"))
    log, notes = [], []
    deadline = time.monotonic() + args.budget

    def left(share):
        """A share of the seconds left (at least 10), keeping 5 for the report."""
        return max(10.0, share * (deadline - time.monotonic() - 5))
    gfilter = [f"--benchmark_filter={args.filter.replace('+', '[+]')}"] if args.filter else []
    try:
        if model_bench.exists() and not args.skip_models:
            rc, _ = run([model_bench, "--write-weights", weights], log, timeout=left(0.1))
            if rc != 0:
                notes.append(f"writing the shared weights failed (rc {rc}); PyTorch uses its own random init")
        if not args.skip_kernels:
            if kernel_bench.exists():
                rc, text = run([kernel_bench, f"--benchmark_min_time={args.min_time}", "--benchmark_format=console",
                                f"--benchmark_out={out / 'ours_kernels.json'}", "--benchmark_out_format=json"] + gfilter,
                               log, timeout=left(0.3))
                if "skipped: no CUDA device" in text:
                    print(text.strip())
                    print("compare_gpu: skipped: no CUDA device")
                    return 0
                if rc != 0:
                    notes.append(f"vrestore_gpu_bench ended with rc {rc}")
            else:
                notes.append(f"{kernel_bench} is not built")
        if not args.skip_models:
            if model_bench.exists():
                env = dict(os.environ, VRESTORE_GPU_BENCH_WEIGHTS_DIR=str(weights))
                rc, text = run([model_bench, f"--benchmark_min_time={args.model_min_time}",
                                f"--benchmark_out={out / 'ours_models.json'}", "--benchmark_out_format=json"] + gfilter,
                               log, env=env, timeout=left(0.35))
                if "skipped: no CUDA device" in text:
                    print("compare_gpu: skipped: no CUDA device")
                    return 0
                if rc != 0:
                    notes.append(f"vrestore_gpu_model_bench ended with rc {rc}")
            else:
                notes.append(f"{model_bench} is not built (it needs the models-on-CUDA API)")
        parts = [p for p, skip in (("kernels", args.skip_kernels), ("models", args.skip_models)) if not skip]
        rc, torch_text = run([args.python, HERE / "torch_gpu_bench.py", "--cases", ",".join(parts), "--weights-dir", weights,
                        "--json", out / "torch.json"] + (["--filter", args.filter] if args.filter else []),
                       log, timeout=left(1.0))
        if "skipped: no CUDA device" in torch_text:
            print("compare_gpu: skipped: no CUDA device")
            return 0
        if rc != 0:
            notes.append(f"torch_gpu_bench.py ended with rc {rc}")
    finally:
        shutil.rmtree(weights, ignore_errors=True)

    ours = {**read_gbench(out / "ours_kernels.json"), **read_gbench(out / "ours_models.json")}
    torch_json = out / "torch.json"
    torch_data = json.loads(torch_json.read_text()) if torch_json.exists() else {"context": {}, "results": []}
    if not torch_json.exists():  # cut short: take the cases it printed
        for line in torch_text.splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                if "name" in row:
                    torch_data["results"].append(row)
                else:
                    torch_data["context"] = row
    torch_rows = {r["name"]: r for r in torch_data["results"]}
    text, misses, unmeasured = table(ours, torch_rows)
    header = (f"PyTorch: {json.dumps(torch_data.get('context', {}))}\n\n"
              "Times are CUDA-event medians (ours: Google Benchmark's mean of manual times); kernels start with a "
              "cold L2 on both sides; models per output frame (BasicVSR/RealBasicVSR: 15-frame clips at 180x320, "
              "5 at 720x1280). torch/ours > 1 means vrestore is faster.\n")
    report = header + "\n" + text + ("\n\nNotes: " + "; ".join(notes) if notes else "") + \
        f"\n\nTargets missed: {misses}; not measured (a side failed or was cut short): {unmeasured}\n"
    print(report)
    if args.markdown:
        args.markdown.write_text(report)
    (out / "compare_gpu.log").write_text("\n\n".join(log))
    return 0


if __name__ == "__main__":
    sys.exit(main())

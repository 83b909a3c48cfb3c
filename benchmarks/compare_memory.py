#!/usr/bin/python3
"""Peak resident memory and page faults of vrestore and PyTorch on the same work, one process each.

For EDVR-M, BasicVSR and RealBasicVSR (official configurations, random weights made with one seed,
the PyTorch twins of compare_pytorch.py) at 180x320: PyTorch's forward over a 1xTx3xHxW clip (T =
--frames) under torch.inference_mode() with torch.set_num_threads(N), and vrestore's forward of the
same input and weights through the CLI (`vrestore run`, --threads N): peak RSS (ru_maxrss of the
process, as /usr/bin/time -v prints it), minor page faults and wall time of the whole process
(model load and file I/O included on both sides). --before-cli times a second vrestore binary the
same way (e.g. a copy built before a change). Then, for the flat-in-clip-length check, vrestore's
chunked Model::restore (vrestore_long_clip: frames rendered on demand, outputs discarded) over
--frames and --long-frames frames.

Run with /usr/bin/python3 (torch 1.13 + torchvision 0.14):
    /usr/bin/python3 benchmarks/compare_memory.py [--cli build-mem/examples/vrestore]
        [--long-clip build-mem/benchmarks/vrestore_long_clip] [--before-cli PATH] [--models edvr,basicvsr]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_pytorch as cp  # noqa: E402  (the PyTorch twins and the weights writer)
import torch  # noqa: E402

MODELS = ("edvr", "basicvsr", "realbasicvsr")
SEED = 2026


def make_model(name):
    """The twin with its seeded random weights, and (arch, key renaming) for the weights file."""
    torch.manual_seed(SEED)
    if name == "edvr":
        return cp.EDVR().eval(), ("basicsr.EDVR", None)
    if name == "basicvsr":
        return cp.BasicVSR().eval(), ("basicsr.BasicVSR", None)
    return cp.RealBasicVSR().eval(), ("mmedit.RealBasicVSRNet", cp.to_mmedit_key)


def make_input(frames, h, w):
    torch.manual_seed(SEED + 1)
    return torch.rand(1, frames, 3, h, w)


def torch_child(args):
    """Runs in its own process (under /usr/bin/time): one forward, nothing else kept."""
    torch.set_num_threads(args.threads)
    model, _ = make_model(args.torch_child)
    x = make_input(args.frames, *args.hw)
    with torch.inference_mode():
        out = model(x)
    print(f"output {tuple(out.shape)}")


def measure(cmd, env=None):
    """(peak RSS MiB, minor faults, wall s) of one process, from GNU time -v; its stdout in .output."""
    print("running:", " ".join(map(str, cmd)), flush=True)
    r = subprocess.run(["/usr/bin/time", "-v", *map(str, cmd)], capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})))
    if r.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout}\n{r.stderr[-3000:]}")

    def field(label):
        return re.search(rf"{label}: (\S+)", r.stderr).group(1)

    wall = field(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\)").split(":")
    seconds = sum(float(v) * 60 ** i for i, v in enumerate(reversed(wall)))
    result = (int(field(r"Maximum resident set size \(kbytes\)")) / 1024,
              int(field(r"Minor \(reclaiming a frame\) page faults")), seconds)
    print(f"  peak RSS {result[0]:.0f} MiB, {result[1]} minor faults, {result[2]:.1f} s", flush=True)
    measure.output = r.stdout
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", type=Path, help="vrestore CLI (default: build-mem/, build-bench/ or build/)")
    ap.add_argument("--before-cli", type=Path, help="a second vrestore CLI to measure the same way")
    ap.add_argument("--long-clip", type=Path, help="vrestore_long_clip (default: next to the CLI's build)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--size", default="180x320")
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--long-frames", type=int, default=30, help="0: skip the clip-length check")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--torch-child", choices=MODELS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.hw = tuple(int(v) for v in args.size.split("x"))
    if args.torch_child:
        return torch_child(args)

    models = args.models.split(",")
    if not set(models) <= set(MODELS):
        sys.exit(f"unknown model(s) {sorted(set(models) - set(MODELS))}; choose from {MODELS}")
    cli = args.cli or next((p for d in ("build-mem", "build-bench", "build")
                            if (p := cp.REPO / d / "examples/vrestore").exists()), None)
    if cli is None:
        sys.exit("vrestore CLI not found; pass --cli")
    long_clip = args.long_clip or Path(cli).resolve().parent.parent / "benchmarks/vrestore_long_clip"
    if args.long_frames and not long_clip.exists():
        sys.exit(f"{long_clip} not found (build with -DVRESTORE_BUILD_BENCHMARKS=ON) or pass --long-frames 0")

    rows, flat = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            frames = 5 if name == "edvr" else args.frames  # EDVR-M's forward takes num_frame = 5 frames
            model, (arch, rename) = make_model(name)
            weights = Path(tmp) / f"{name}.safetensors"
            cp.save_vrestore_weights(weights, model, arch, rename)
            del model
            inp, out = Path(tmp) / "in.safetensors", Path(tmp) / "out.safetensors"
            cp.save_safetensors(inp, {"input": make_input(frames, *args.hw)})
            shape = f"1x{frames}x3x{args.size}"
            if not args.skip_torch:
                rows.append((name, shape, f"torch {torch.__version__}",
                             *measure([sys.executable, __file__, "--torch-child", name, "--frames", frames,
                                       "--size", args.size, "--threads", args.threads])))
            for label, binary in (("vrestore before", args.before_cli), ("vrestore", cli)):
                if binary:
                    rows.append((name, shape, label, *measure([binary, "run", "--weights", weights, "--input", inp,
                                                               "--output", out, "--threads", args.threads])))
            for t in (args.frames, args.long_frames) if args.long_frames else ():
                rss, faults, wall = measure([long_clip, "--frames", t, "--weights", weights, "--size", args.size,
                                             "--threads", args.threads])
                pool = re.search(r"peak tensors ([\d.]+) MiB, peak with kept blocks ([\d.]+) MiB", measure.output)
                peaks = tuple(float(v) for v in pool.groups()) if pool else (0.0, 0.0)
                flat.append((name, t, rss, faults, wall, *peaks))

    print(f"\npeak RSS of the whole process (ru_maxrss), minor page faults and wall time, {args.threads} threads")
    header = f"{'model':13} {'input':16} {'side':20} {'peak RSS MiB':>12} {'minor faults':>13} {'wall s':>8}"
    print(header + "\n" + "-" * len(header))
    for name, shape, side, rss, faults, wall in rows:
        print(f"{name:13} {shape:16} {side:20} {rss:12.0f} {faults:13d} {wall:8.1f}")
    if flat:
        print("\nvrestore Model::restore (chunked, defaults), frames rendered on demand, outputs discarded")
        print("(pool: Model::host_memory() peak_bytes / peak_reserved_bytes)")
        header = f"{'model':13} {'frames':>6} {'peak RSS MiB':>12} {'minor faults':>13} {'wall s':>8} " \
                 f"{'pool peak MiB':>13} {'with kept MiB':>13}"
        print(header + "\n" + "-" * len(header))
        for name, t, rss, faults, wall, peak, reserved in flat:
            print(f"{name:13} {t:6d} {rss:12.0f} {faults:13d} {wall:8.1f} {peak:13.0f} {reserved:13.0f}")


if __name__ == "__main__":
    main()

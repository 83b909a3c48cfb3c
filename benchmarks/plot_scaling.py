#!/usr/bin/python3
"""Time and peak memory per frame against frame size and clip length, vrestore and PyTorch; PNG plots.

Two sweeps on the CPU (official configurations, random weights from compare_memory.py's seed, the
PyTorch twins of compare_pytorch.py; --threads N on both sides):

  size:   EDVR-M and BasicVSR (RealBasicVSR with --models) on 1xTx3xHxW clips, H x W in --sizes
          (default 64x64, 180x320, 360x640, 720x1280; input frames, x4 outputs). T = 5 (EDVR-M: 5
          frames in, the centre frame out; BasicVSR: a 5-frame clip, all frames out). Above
          --large-pixels per frame the recurrent models get --large-frames frames instead (the 720p
          PyTorch forward takes minutes per frame); the JSON records T for every point.
  length: BasicVSR at --length-size (default 180x320) over --lengths frames (5, 10, 20, 40): vrestore's
          forward over the whole clip (`vrestore run`, upstream's behaviour: memory grows with T),
          vrestore's chunked Model::restore (`vrestore_long_clip --chunk-frames K --lookahead-frames L`:
          frames rendered on demand, outputs discarded, so memory must stay flat), and PyTorch's
          forward up to --torch-max-frames frames (beyond that it only takes long).

Every point is one fresh process under GNU `time -v` (compare_memory.measure): peak RSS is that
process's ru_maxrss (model load, input and output included, on both sides); seconds per frame are
the forward (or restore) alone, model loading excluded: `vrestore run --stats`' wall time, the
PyTorch child's perf_counter around model(x) under torch.inference_mode(), vrestore_long_clip's
s/frame. vrestore does one forward per process (its first call: pool filling and page faults
included). PyTorch gets an untimed warm-up call first on points up to --repeat-work (oneDNN builds
its primitives on the first call, which at 64x64 costs more than the forward itself; the first
call's time stays in the JSON); larger points are one call on both sides. Sides alternate within
a point and their order flips from point to point, so load from elsewhere hits all alike; the load
average (os.getloadavg, as `uptime` shows it) is recorded before and after every process.

PyTorch series: the first --torch python is the main series (default /work/venv-torch2/bin/python,
PyPI torch 2.x with MKL + oneDNN); further ones (default /usr/bin/python3, Debian's torch 1.13 with
the reference BLAS) are a second series measured only where cheap: size points up to 180x320.

Output (--out, default docs/plots/): scaling_size_<model>.png, scaling_length_basicvsr.png,
scaling.json (every process: side, model, sweep, size, frames, repetition, s/frame, peak RSS, minor
faults, process wall, load before/after, errors; plus the machine and the medians) and scaling.csv
(the medians). --gpu-json FILE adds GPU series: {"device": "...", "points": [{"sweep": "size"|"length",
"model": "basicvsr", "side": "vrestore cuda f32", "size": "180x320", "frames": 5, "sec_per_frame": s,
"peak_mib": m}]}; without it the plots say "CPU only (no GPU measured)". --replot re-draws from an
existing scaling.json without measuring.

Needs, beyond compare_memory.py's torch + torchvision: matplotlib (Debian `python3-matplotlib`, for
this script only: not in scripts/install_deps.sh) and GNU time at /usr/bin/time (Debian `time`).
Binaries: the CLI and vrestore_long_clip of a Release build with -DVRESTORE_BUILD_BENCHMARKS=ON.

    /usr/bin/python3 benchmarks/plot_scaling.py --quick --out /tmp/plots      # 64x64, 180x320: ~15 min
    /usr/bin/python3 benchmarks/plot_scaling.py --cli build-plots/examples/vrestore   # the full run
"""
import argparse
import csv
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_memory as cm  # noqa: E402  (measure, make_model, make_input; and the twins through cp)

cp = cm.cp
torch = cm.torch

SIZES = ("64x64", "180x320", "360x640", "720x1280")
QUICK_SIZES = ("64x64", "180x320")
LENGTHS = (5, 10, 20, 40)
LABELS = {"edvr": "EDVR-M", "basicvsr": "BasicVSR", "realbasicvsr": "RealBasicVSR"}
CHEAP_PIXELS = 180 * 320  # second PyTorch series only up to here


def pixels(size):
    h, w = (int(v) for v in size.split("x"))
    return h * w


# ---- the PyTorch child: one timed forward in its own process ----------------------------------------

def torch_child(args):
    torch.set_num_threads(args.threads)
    model, _ = cm.make_model(args.torch_child)
    x = cm.make_input(args.frames, *(int(v) for v in args.size.split("x")))
    calls = []
    with torch.inference_mode():
        for _ in range(2 if args.warm_up else 1):
            start = time.perf_counter()
            model(x)  # the output is dropped at once, so a second call peaks no higher than the first
            calls.append(time.perf_counter() - start)
    out_frames = 1 if args.torch_child == "edvr" else args.frames  # EDVR: the centre frame; recurrent: all
    print(f"RESULT seconds={calls[-1]:.4f} frames={out_frames} first_call={calls[0]:.4f} torch={torch.__version__}")


# ---- measuring ----------------------------------------------------------------------------------------

def available_mib():
    text = Path("/proc/meminfo").read_text()
    return int(re.search(r"MemAvailable:\s+(\d+) kB", text).group(1)) / 1024


class Runner:
    """Runs one process per point and keeps every record; skips a point whose memory, extrapolated
    from the same side's last point, would not fit in what the machine has free (shared machine:
    an out-of-memory kill could hit someone else's process)."""

    def __init__(self, args, tmp, earlier, meta):
        self.args, self.tmp, self.meta = args, Path(tmp), meta
        self.records = list(earlier)
        self.last_peak = {}  # (sweep, model, side) -> (pixels * frames, peak MiB) of the largest point so far
        for p in earlier:
            if p["peak_mib"]:
                self.remember(p, pixels(p["size"]) * p["frames"], p["peak_mib"])
        self.weights = {}

    def remember(self, record, work, peak):
        key = (record["sweep"], record["model"], record["side"])
        if work >= self.last_peak.get(key, (0, 0))[0]:
            self.last_peak[key] = (work, peak)

    def save(self):
        """After every process, so an interrupted run keeps what it measured."""
        write_tables(dict(meta=self.meta, points=self.records), self.args.out)

    def weights_for(self, model):
        if model not in self.weights:
            net, (arch, rename) = cm.make_model(model)
            path = self.tmp / f"{model}.safetensors"
            cp.save_vrestore_weights(path, net, arch, rename)
            self.weights[model] = path
        return self.weights[model]

    def input_for(self, frames, size):
        path = self.tmp / f"in_{frames}x{size}.safetensors"
        if not path.exists():
            for old in self.tmp.glob("in_*.safetensors"):
                old.unlink()
            cp.save_safetensors(path, {"input": cm.make_input(frames, *(int(v) for v in size.split("x")))})
        return path

    def command(self, side, model, size, frames):
        a = self.args
        if side["kind"] == "torch":
            warm = ["--warm-up"] if pixels(size) * frames <= a.repeat_work else []
            return [side["python"], __file__, "--torch-child", model, "--frames", frames, "--size", size,
                    "--threads", a.threads, *warm]
        weights = self.weights_for(model)
        if side["kind"] == "chunked":
            return [a.long_clip, "--frames", frames, "--weights", weights, "--size", size, "--threads", a.threads,
                    "--chunk-frames", a.chunk_frames, "--lookahead-frames", a.lookahead_frames]
        return [a.cli, "run", "--weights", weights, "--input", self.input_for(frames, size),
                "--output", self.tmp / "out.safetensors", "--threads", a.threads, "--stats"]

    def run(self, sweep, model, side, size, frames, rep):
        record = dict(sweep=sweep, model=model, side=side["label"], size=size, frames=frames, repetition=rep,
                      sec_per_frame=None, peak_mib=None, minor_faults=None, process_wall_s=None, error=None)
        key, work = (sweep, model, side["label"]), pixels(size) * frames
        if key in self.last_peak:
            done_work, done_peak = self.last_peak[key]
            need = done_peak * work / done_work
            if need > 0.85 * available_mib():
                record["error"] = f"skipped: needs ~{need:.0f} MiB, {available_mib():.0f} MiB available"
                print(f"  {record['error']}", flush=True)
                self.records.append(record)
                self.save()
                return
        record["load_before"] = os.getloadavg()[0]
        cmd = self.command(side, model, size, frames)
        try:
            rss, faults, wall = cm.measure(cmd, {"OMP_NUM_THREADS": str(self.args.threads)})
        except SystemExit as failure:  # measure() exits on a failed process; keep going, record it
            record["error"] = str(failure)[-400:]
            self.records.append(record)
            self.save()
            return
        finally:
            record["load_after"] = os.getloadavg()[0]
        out = cm.measure.output
        if side["kind"] == "torch":
            m = re.search(r"RESULT seconds=([\d.]+) frames=(\d+) first_call=([\d.]+)", out)
            seconds, out_frames = float(m.group(1)), int(m.group(2))
            record["first_call_sec_per_frame"] = float(m.group(3)) / out_frames
        elif side["kind"] == "chunked":
            m = re.search(r"RESULT frames=(\d+) .*sec_per_frame=([\d.]+)", out)
            seconds, out_frames = float(m.group(2)) * int(m.group(1)), int(m.group(1))
        else:
            m = re.search(r"stats: frames (\d+), wall ([\d.]+) s", out)
            seconds, out_frames = float(m.group(2)), int(m.group(1))
        record.update(sec_per_frame=seconds / out_frames, out_frames=out_frames, peak_mib=rss, minor_faults=faults,
                      process_wall_s=wall)
        self.remember(record, work, rss)
        self.records.append(record)
        self.save()

    def point(self, sweep, model, sides, size, frames, index):
        """All sides of one point, `repetitions` times; the side order flips with index + repetition."""
        reps = self.args.repetitions if pixels(size) * frames <= self.args.repeat_work else 1
        for rep in range(reps):
            order = sides if (index + rep) % 2 == 0 else sides[::-1]
            for side in order:
                self.run(sweep, model, side, size, frames, rep)


def torch_sides(args):
    sides = []
    for i, python in enumerate(args.torch):
        version = subprocess.run([python, "-c", "import torch; print(torch.__version__.split('+')[0])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        sides.append(dict(kind="torch", python=python, label=f"PyTorch {version}", main=i == 0))
    return sides


def measure_all(args, earlier):
    vrestore = dict(kind="run", label="vrestore")
    torches = torch_sides(args)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = dict(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), threads=args.threads,
                cpu=cpu_name(), host=platform.node(), uptime_start=uptime(), cli=str(args.cli),
                argv=sys.argv[1:], chunk_frames=args.chunk_frames, lookahead_frames=args.lookahead_frames)
    if earlier:
        meta["merged"] = earlier["meta"]  # the run whose points this one extends
    with tempfile.TemporaryDirectory() as tmp:
        runner = Runner(args, tmp, earlier["points"] if earlier else [], meta)
        index = 0
        for model in args.models:
            for size in args.sizes:
                recurrent_large = model != "edvr" and pixels(size) > args.large_pixels
                frames = args.large_frames if recurrent_large else 5
                sides = [vrestore] + [s for s in torches if s["main"] or pixels(size) <= CHEAP_PIXELS]
                print(f"\n== size sweep: {model} {frames}x{size}", flush=True)
                runner.point("size", model, sides, size, frames, index)
                index += 1
        if args.lengths:
            chunked = dict(kind="chunked", label=f"vrestore restore, chunk {args.chunk_frames}"
                                                 f" + look-ahead {args.lookahead_frames}")
            vrestore_whole = dict(kind="run", label="vrestore forward (whole clip)")
            for frames in args.lengths:
                sides = [chunked] + ([vrestore_whole] if frames <= args.whole_max_frames else []) + \
                        ([torches[0]] if torches and frames <= args.torch_max_frames else [])
                print(f"\n== length sweep: basicvsr {frames}x{args.length_size}", flush=True)
                runner.point("length", "basicvsr", sides, args.length_size, frames, index)
                index += 1
    meta["uptime_end"] = uptime()
    return dict(meta=meta, points=runner.records)


def cpu_name():
    text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    m = re.search(r"Model name:\s*(.+)", text)
    return f"{m.group(1).strip() if m else platform.processor()}, {os.cpu_count()} CPUs"


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


# ---- summarising and plotting ---------------------------------------------------------------------------

def summarise(points):
    """Medians over repetitions: {(sweep, model, side, size, frames): (s/frame, peak MiB, reps)}."""
    groups = {}
    for p in points:
        if p["sec_per_frame"] is not None:
            groups.setdefault((p["sweep"], p["model"], p["side"], p["size"], p["frames"]), []).append(p)
    return {k: (statistics.median(p["sec_per_frame"] for p in v), statistics.median(p["peak_mib"] for p in v),
                len(v)) for k, v in groups.items()}


def write_tables(data, out):
    (out / "scaling.json").write_text(json.dumps(data, indent=1) + "\n")
    with open(out / "scaling.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sweep", "model", "side", "size", "frames", "sec_per_frame", "peak_rss_mib", "repetitions"])
        for (sweep, model, side, size, frames), (sec, peak, n) in sorted(summarise(data["points"]).items()):
            w.writerow([sweep, model, side, size, frames, f"{sec:.4f}", f"{peak:.0f}", n])
        for p in data["points"]:
            if p["error"]:
                w.writerow([p["sweep"], p["model"], p["side"], p["size"], p["frames"], "", "", p["error"][:80]])


def load_range(points):
    loads = [p[k] for p in points for k in ("load_before", "load_after") if p.get(k) is not None]
    return f"load avg {min(loads):.1f}-{max(loads):.1f}" if loads else ""


def plot(data, gpu, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullLocator, ScalarFormatter

    summary = summarise(data["points"])
    for p in (gpu or {}).get("points", []):
        summary[(p["sweep"], p["model"], p["side"], p["size"], p["frames"])] = (p["sec_per_frame"], p["peak_mib"], 1)
    meta = data["meta"]
    note = f"GPU: {gpu.get('device', 'measured')}" if gpu else "CPU only (no GPU measured)"
    written = []
    for sweep, model in sorted({(k[0], k[1]) for k in summary}):
        series = {}
        for (sw, m, side, size, frames), (sec, peak, _) in summary.items():
            if (sw, m) == (sweep, model):
                x = pixels(size) if sweep == "size" else frames
                series.setdefault(side, []).append((x, sec, peak, size, frames))
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.0), dpi=90)
        for side, pts in sorted(series.items()):
            pts.sort()
            style = "--" if "cuda" in side.lower() or "gpu" in side.lower() else "-"
            marker = "o" if side.startswith("vrestore") else "s"
            for ax, col in zip(axes, (1, 2)):
                ax.plot([p[0] for p in pts], [p[col] for p in pts], style, marker=marker, label=side,
                        color=side_colour(side))
        xs = sorted({p[0] for pts in series.values() for p in pts})
        for ax, ylabel in zip(axes, ("seconds per output frame", "peak RSS of the process, MiB")):
            ax.set_xscale("log", base=10 if sweep == "size" else 2)
            if sweep == "size":  # sizes span decades: log-log, ticks at 1-2-5 with plain numbers
                ax.set_yscale("log")
                ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                ax.yaxis.set_minor_locator(NullLocator())
            else:  # lengths: flat or not is the question, so a linear axis from 0
                ax.set_ylim(bottom=0, top=1.1 * max(p[1 if ylabel.startswith("seconds") else 2]
                                                    for pts in series.values() for p in pts))
            ax.xaxis.set_major_locator(FixedLocator(xs))
            ax.xaxis.set_minor_locator(NullLocator())
            if sweep == "size":
                names = {p[0]: p[3] for pts in series.values() for p in pts}
                ax.set_xticklabels([names[x].replace("x", "×") for x in xs])
                ax.set_xlabel("input frame size (H×W; outputs ×4)")
            else:
                ax.xaxis.set_major_formatter(ScalarFormatter())
                ax.set_xlabel(f"clip length, frames ({series_size(series)})")
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
        axes[1].legend(fontsize=8, loc="lower right" if sweep == "length" else "best")
        what = "frame size" if sweep == "size" else "clip length"
        fig.suptitle(f"{LABELS.get(model, model)}: time and peak memory per frame vs {what}\n"
                     f"{meta['threads']} threads on {meta['cpu']} ({load_range(data['points'])}, shared); {note}",
                     fontsize=9)
        footer = "one process per point (peak RSS: the whole process); vrestore: one cold forward; PyTorch: " \
                 "timed after a warm-up call on the smaller points;\n" \
                 "times follow the shared machine's load (load average per process in scaling.json)"
        if sweep == "size":
            frames = sorted({(pixels(p[3]), p[3], p[4]) for pts in series.values() for p in pts})
            footer = "clip frames: " + ", ".join(f"{s.replace('x', '×')}: {t}" for _, s, t in frames) + "\n" + footer
        fig.text(0.5, 0.005, footer, ha="center", fontsize=7)
        fig.tight_layout(rect=(0, 0.07, 1, 0.95))
        path = out / f"scaling_{sweep}_{model}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def side_colour(side):
    """The same colour for a side in every plot."""
    for prefix, colour in (("vrestore restore", "tab:olive"), ("vrestore forward", "tab:green"),
                           ("vrestore", "tab:green"), ("PyTorch 2", "tab:orange"), ("PyTorch 1", "tab:blue")):
        if side.startswith(prefix):
            return colour
    return None


def series_size(series):
    sizes = {p[3] for pts in series.values() for p in pts}
    return ", ".join(s.replace("x", "×") for s in sorted(sizes))


# ---- main ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=cp.REPO / "docs/plots")
    ap.add_argument("--cli", type=Path, help="vrestore CLI (default: build-plots/, build-bench/ or build/)")
    ap.add_argument("--long-clip", type=Path, help="vrestore_long_clip (default: next to the CLI's build)")
    ap.add_argument("--torch", default="/work/venv-torch2/bin/python,/usr/bin/python3",
                    help="comma-separated pythons with torch + torchvision; the first is the main series")
    ap.add_argument("--models", default="edvr,basicvsr", help=f"size sweep, from {','.join(cm.MODELS)}")
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--lengths", default=",".join(map(str, LENGTHS)), help="'' skips the length sweep")
    ap.add_argument("--length-size", default="180x320")
    ap.add_argument("--torch-max-frames", type=int, default=20, help="length sweep: PyTorch up to this T")
    ap.add_argument("--whole-max-frames", type=int, default=40,
                    help="length sweep: vrestore's whole-clip forward up to this T")
    ap.add_argument("--large-pixels", type=int, default=360 * 640,
                    help="recurrent models above this many pixels per frame get --large-frames frames")
    ap.add_argument("--large-frames", type=int, default=2)
    ap.add_argument("--chunk-frames", type=int, default=8)
    ap.add_argument("--lookahead-frames", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repetitions", type=int, default=2)
    ap.add_argument("--repeat-work", type=int, default=5 * 360 * 640,
                    help="points with more frames x pixels than this run once")
    ap.add_argument("--quick", action="store_true",
                    help=f"sizes {','.join(QUICK_SIZES)}, length sweep at 64x64, 1 repetition")
    ap.add_argument("--gpu-json", type=Path, help="GPU series to add (format in the docstring)")
    ap.add_argument("--replot", action="store_true", help="re-draw from --out/scaling.json, measure nothing")
    ap.add_argument("--merge", type=Path,
                    help="a scaling.json of an earlier run (e.g. other sizes) whose points this run extends")
    ap.add_argument("--torch-child", choices=cm.MODELS, help=argparse.SUPPRESS)
    ap.add_argument("--frames", type=int, default=5, help=argparse.SUPPRESS)
    ap.add_argument("--size", default="180x320", help=argparse.SUPPRESS)
    ap.add_argument("--warm-up", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_child:
        return torch_child(args)

    args.out.mkdir(parents=True, exist_ok=True)
    gpu = json.loads(args.gpu_json.read_text()) if args.gpu_json else None
    if args.replot:
        data = json.loads((args.out / "scaling.json").read_text())
    else:
        if args.quick:
            args.sizes, args.length_size, args.repetitions = ",".join(QUICK_SIZES), "64x64", 1
        args.models = args.models.split(",")
        if not set(args.models) <= set(cm.MODELS):
            sys.exit(f"unknown model(s) {sorted(set(args.models) - set(cm.MODELS))}; choose from {cm.MODELS}")
        args.sizes = [s for s in args.sizes.split(",") if s]
        args.lengths = [int(v) for v in args.lengths.split(",") if v]
        args.torch = [p for p in args.torch.split(",") if p]
        args.cli = args.cli or next((p for d in ("build-plots", "build-bench", "build")
                                     if (p := cp.REPO / d / "examples/vrestore").exists()), None)
        if args.cli is None:
            sys.exit("vrestore CLI not found; pass --cli")
        args.long_clip = args.long_clip or args.cli.resolve().parent.parent / "benchmarks/vrestore_long_clip"
        if args.lengths and not args.long_clip.exists():
            sys.exit(f"{args.long_clip} not found (build with -DVRESTORE_BUILD_BENCHMARKS=ON) or pass --lengths ''")
        if not Path("/usr/bin/time").exists():
            sys.exit("/usr/bin/time not found: install Debian's `time` package")
        data = measure_all(args, json.loads(args.merge.read_text()) if args.merge else None)
        write_tables(data, args.out)
    for path in plot(data, gpu, args.out):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    summary = summarise(data["points"])
    print(f"\n{'sweep':7} {'model':13} {'side':42} {'size':>9} {'T':>3} {'s/frame':>9} {'peak MiB':>9}")
    for (sweep, model, side, size, frames), (sec, peak, _) in sorted(summary.items()):
        print(f"{sweep:7} {model:13} {side:42} {size:>9} {frames:3d} {sec:9.3f} {peak:9.0f}")
    for p in data["points"]:
        if p["error"]:
            print(f"not measured: {p['sweep']} {p['model']} {p['side']} {p['frames']}x{p['size']}: {p['error'][:200]}")


if __name__ == "__main__":
    main()

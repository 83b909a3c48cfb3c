#!/usr/bin/python3
"""How much chunked restoration (docs/long_videos.md) changes BasicVSR's output on real footage.

Decodes OpenCV's sample video (vtest.avi, 795 frames of 576x768, a pedestrian scene; Debian package
opencv-doc), converts the first --frames frames to RGB floats in [0, 1], downscales them with
cv2.INTER_AREA to --size, writes them as a clip and restores it with the built CLI
(`vrestore restore`) once as a whole (chunk_frames >= T: upstream's forward) and once per setting:
the defaults (chunk 32, look-ahead 16), look-ahead 0/4/8/16/32 at chunk 32, and independent chunks
(upstream's max_seq_len). Each output is compared with the whole-clip output: max-abs, mean-abs and
PSNR (peak 1, outputs not clamped) over all frames and over the frames next to chunk borders (the
two frames on each side of every border), plus the worst frame's PSNR and the run time.

Weights: the converted basicvsr_x4 fixture by default (tiny, synthetic random weights), or
--random-official for BasicVSR's official configuration (64 channels, 30 blocks) with random weights
(needs torch; made by compare_pytorch.py's twin). Neither is a trained model: trained weights carry
information along the recurrence differently and may show larger or smaller border errors.

    /usr/bin/python3 benchmarks/chunking_error.py [--frames 300] [--size 72x96] [--weights W | --random-official]
        [--chunk 32] [--lookaheads 0,4,8,16,32] [--cli build-bench/examples/vrestore] [--threads 2]
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
FIXTURE_WEIGHTS = REPO / "build/test_scratch/weights/basicvsr_x4.safetensors"


def load_clip(frames, h, w):
    cap = cv2.VideoCapture(str(VIDEO))
    out = []
    while len(out) < frames:
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        out.append(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA).transpose(2, 0, 1))
    cap.release()
    if len(out) < frames:
        sys.exit(f"{VIDEO}: only {len(out)} frames decoded, {frames} requested")
    return np.ascontiguousarray(np.stack(out))  # (T, 3, H, W)


def write_safetensors(path, name, array):
    data = array.astype("<f4").tobytes()
    header = json.dumps({name: {"dtype": "F32", "shape": list(array.shape), "data_offsets": [0, len(data)]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)


def read_safetensors(path, name):
    """The tensor `name`, memory-mapped."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        info = json.loads(f.read(n))[name]
    begin, end = info["data_offsets"]
    return np.memmap(path, dtype="<f4", mode="r", offset=8 + n + begin, shape=tuple(info["shape"]))


def random_official_weights(path, seed):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import torch
    from compare_pytorch import BasicVSR, save_vrestore_weights
    torch.manual_seed(seed)
    save_vrestore_weights(path, BasicVSR(64, 30), "basicsr.BasicVSR")


def restore(cli, weights, clip_path, out_path, threads, chunk, lookahead, independent):
    cmd = [str(cli), "restore", "--weights", str(weights), "--input", str(clip_path), "--output", str(out_path),
           "--threads", str(threads), "--chunk-frames", str(chunk), "--lookahead-frames", str(lookahead),
           "--independent-chunks", "1" if independent else "0"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: {proc.stderr.strip()}")
    # The CLI's last progress line: "restored T/T frames (X s/frame)".
    per_frame = float(re.findall(r"\(([0-9.]+) s/frame\)", proc.stderr)[-1])
    return wall, per_frame


def metrics(diff_sq_sum, abs_sum, max_abs, count):
    mse = diff_sq_sum / count
    return max_abs, abs_sum / count, (10 * np.log10(1 / mse) if mse > 0 else float("inf"))


def compare(out, ref, border_frames):
    """Overall and border-frame (max-abs, mean-abs, PSNR), and the worst frame's PSNR and index."""
    per_frame = []  # (sum sq, sum abs, max abs, count)
    for i in range(ref.shape[0]):
        d = out[i].astype(np.float64) - ref[i]
        per_frame.append(((d * d).sum(), np.abs(d).sum(), np.abs(d).max(), d.size))
    pf = np.array(per_frame)

    def agg(rows):
        return metrics(rows[:, 0].sum(), rows[:, 1].sum(), rows[:, 2].max(), rows[:, 3].sum())

    frame_psnr = [metrics(*r)[2] for r in pf]
    worst = int(np.argmin(frame_psnr))
    return agg(pf), agg(pf[sorted(border_frames)]) if border_frames else None, frame_psnr[worst], worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="72x96", help="HxW after INTER_AREA downscaling (576x768 source)")
    ap.add_argument("--weights", type=Path, help=f"BasicVSR weights (default {FIXTURE_WEIGHTS.relative_to(REPO)})")
    ap.add_argument("--random-official", action="store_true", help="BasicVSR c64 b30 with random weights (torch)")
    ap.add_argument("--seed", type=int, default=0, help="for --random-official")
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("--lookaheads", default="0,4,8,16,32")
    ap.add_argument("--no-independent", action="store_true", help="skip the independent-chunks run")
    ap.add_argument("--cli", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    cli = args.cli or next((p for p in (REPO / "build-bench/examples/vrestore", REPO / "build/examples/vrestore")
                            if p.exists()), None)
    if cli is None or not cli.exists():
        sys.exit("vrestore CLI not found; build it or pass --cli")
    h, w = map(int, args.size.split("x"))
    t = args.frames
    lookaheads = [int(v) for v in args.lookaheads.split(",") if v]

    load = os.getloadavg()[0]
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, load average {load:.1f} before starting, {args.threads} threads")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.random_official:
            weights = tmp / "basicvsr_official_random.safetensors"
            random_official_weights(weights, args.seed)
            weights_text = f"BasicVSR official config (c64, 30 blocks), random weights (torch seed {args.seed})"
        else:
            weights = args.weights or FIXTURE_WEIGHTS
            weights_text = str(weights)
        clip = load_clip(t, h, w)
        clip_path = tmp / "clip.safetensors"
        write_safetensors(clip_path, "input", clip)
        print(f"clip: {VIDEO.name} frames 0-{t - 1}, RGB, INTER_AREA to {h}x{w}; weights: {weights_text}")

        ref_path = tmp / "whole.safetensors"
        wall, spf = restore(cli, weights, clip_path, ref_path, args.threads, t, 0, False)
        ref = np.array(read_safetensors(ref_path, "output"), dtype=np.float64)
        print(f"whole clip (chunk_frames {t}): {wall:.1f} s wall, {spf:.2f} s/frame restore; output {ref.shape}")

        k = args.chunk
        borders = range(k, t, k)
        border_frames = {i for b in borders for i in (b - 2, b - 1, b, b + 1) if 0 <= i < t}
        settings = [(f"chunk {k}, look-ahead {la}" + (" (defaults)" if (k, la) == (32, 16) else ""), la, False)
                    for la in lookaheads]
        if not args.no_independent:
            settings.append((f"independent chunks of {k} (max_seq_len)", 0, True))
        rows = []
        for label, la, independent in settings:
            out_path = tmp / "out.safetensors"
            wall_s, spf_s = restore(cli, weights, clip_path, out_path, args.threads, k, la, independent)
            overall, border, worst_psnr, worst = compare(read_safetensors(out_path, "output"), ref, border_frames)
            out_path.unlink()
            rows.append((label, overall, border, worst_psnr, worst, wall_s, spf_s))
            print(f"  done: {label} ({wall_s:.1f} s)", flush=True)

    print(f"\n{t} frames, {len(border_frames)} border frames (2 each side of the {len(borders)} borders at "
          f"{k}, {2 * k}, ...); reference = whole-clip restore ({spf:.2f} s/frame)")
    header = (f"{'setting':42} {'max-abs':>9} {'mean-abs':>9} {'PSNR dB':>8} | {'border max':>10} {'border mean':>11} "
              f"{'border PSNR':>11} | {'worst frame':>16} | {'s/frame':>7} {'cost':>6} {'wall s':>7}")
    print(header + "\n" + "-" * len(header))
    for label, (mx, mean, psnr), border, worst_psnr, worst, wall_s, spf_s in rows:
        b = f"{border[0]:10.2e} {border[1]:11.2e} {border[2]:11.1f}" if border else f"{'-':>10} {'-':>11} {'-':>11}"
        print(f"{label:42} {mx:9.2e} {mean:9.2e} {psnr:8.1f} | {b} | {worst_psnr:7.1f} dB @{worst:<5} | "
              f"{spf_s:7.2f} {spf_s / spf:5.2f}x {wall_s:7.1f}")
    print(f"\ns/frame: the CLI's own restore time per frame (printed with 2 decimals, so the cost ratio is coarse;\n"
          f"benchmarks/vrestore_long_clip times chunking precisely); cost = s/frame relative to the whole-clip run;\n"
          f"wall s: the whole CLI process including loading and writing (whole clip: {wall:.1f} s).")


if __name__ == "__main__":
    main()

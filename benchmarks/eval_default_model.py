#!/usr/bin/env python3
"""Held-out quality of the default x4 model against bicubic upscaling (Y-channel PSNR / SSIM).

    python3 benchmarks/eval_default_model.py [--cli build/examples/vrestore]
        [--model models/vrestore_default_x4.safetensors] [--frames 20] [--threads N]
        [--video-out restored.mp4]

Takes the first --frames frames of Debian opencv-doc's tree.avi (320x240 RGB; never used in
training), makes the x4 low-resolution clip with `downsample_x4`, restores it through the C++
library (`vrestore restore`), upscales the same LR clip with bicubic, and prints one table.
With --video-out, the clip goes through the video path a user takes instead of a tensor file:
the LR frames are written as a (lossless) PNG folder next to the output, `vrestore restore -i
lowres/ -o restored.mp4` writes the video (default codec and quality), and the model is scored on
that video as decoded: the encoder's loss counts against the model, never for it.
Needs numpy and the ffmpeg binary only (no torch). The training script imports `downsample_x4`
and `decode_video` from here, so training and evaluation degrade frames by the same rule.

Metrics follow BasicSR (`calculate_psnr` / `calculate_ssim`, test_y_channel=True): outputs are
clamped to [0,1] and rounded to uint8 first; Y = 16 + (65.481 R + 128.553 G + 24.966 B) on [0,1]
RGB (BT.601, values in 0..255); `crop_border` pixels dropped on each side; SSIM with an 11x11
Gaussian window (sigma 1.5), 'valid' filtering, C1 = (0.01*255)^2, C2 = (0.03*255)^2.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREE = '/usr/share/doc/opencv-doc/examples/data/tree.avi'


def decode_video(path, max_frames=None):
    """All (or the first max_frames) frames of a video as uint8 (T,H,W,3) RGB, via the ffmpeg binary."""
    probe = subprocess.run(['ffprobe', '-v', 'error', '-select_streams', 'v:0', '-show_entries',
                            'stream=width,height', '-of', 'csv=p=0', path],
                           check=True, capture_output=True, text=True).stdout
    w, h = (int(v) for v in probe.strip().split(',')[:2])
    cmd = ['ffmpeg', '-v', 'error', '-i', path] + (['-frames:v', str(max_frames)] if max_frames else [])
    raw = subprocess.run(cmd + ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def _cubic(x, a):
    x = np.abs(x)
    return np.where(x <= 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                    np.where(x < 2, ((a * x - 5 * a) * x + 8 * a) * x - 4 * a, 0.0))


def _downscale_matrix(n_in, factor):
    """PyTorch F.interpolate(mode='bicubic', antialias=True, align_corners=False) along one axis:
    the cubic kernel (a = -0.5, as PIL) stretched by the factor, normalised per output pixel."""
    m = np.zeros((n_in // factor, n_in))
    for i in range(n_in // factor):
        center = factor * (i + 0.5)
        lo, hi = max(int(center - 2 * factor + 0.5), 0), min(int(center + 2 * factor + 0.5), n_in)
        w = _cubic((np.arange(lo, hi) - center + 0.5) / factor, -0.5)
        m[i, lo:hi] = w / w.sum()
    return m


def _upscale_matrix(n_in, factor):
    """PyTorch F.interpolate(mode='bicubic', align_corners=False) along one axis: a = -0.75,
    source index (i + 0.5) / factor - 0.5, taps clamped to the border."""
    m = np.zeros((n_in * factor, n_in))
    for i in range(n_in * factor):
        src = (i + 0.5) / factor - 0.5
        x0 = int(np.floor(src))
        for k in range(-1, 3):
            m[i, min(max(x0 + k, 0), n_in - 1)] += _cubic(src - x0 - k, -0.75)
    return m


def _apply_along(frames, m, axis):
    """frames (T,H,W,3) float32 times the banded matrix m along `axis` (1 rows, 2 columns), done as
    a sum of a few gathered, weighted copies (numpy may be linked to the slow reference BLAS)."""
    nz = [np.flatnonzero(row) for row in m]
    shape = (-1, 1, 1) if axis == 1 else (-1, 1)
    out = 0
    for k in range(max(len(j) for j in nz)):
        idx = np.array([j[min(k, len(j) - 1)] for j in nz])
        w = np.array([m[i, j[k]] if k < len(j) else 0.0 for i, j in enumerate(nz)], np.float32)
        out = out + np.take(frames, idx, axis=axis) * w.reshape(shape)
    return out


def _separable(frames, mh, mw):
    """Applies row matrix mh and column matrix mw to float (T,H,W,3) frames."""
    return _apply_along(_apply_along(frames, mh, 1), mw, 2)


def to_uint8(x):
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def downsample(hr, factor):
    """uint8 (T,H,W,3), H and W multiples of factor -> uint8 (T,H/factor,W/factor,3): antialiased
    bicubic (as PyTorch antialias=True) on [0,1], clamped, rounded."""
    t, h, w, _ = hr.shape
    mh, mw = _downscale_matrix(h, factor), _downscale_matrix(w, factor)
    return to_uint8(_separable(hr.astype(np.float32) / 255.0, mh, mw))


def downsample_x4(hr):
    """The degradation of training and evaluation: downsample(hr, 4)."""
    return downsample(hr, 4)


def bicubic_x4(lr):
    """uint8 (T,h,w,3) -> float (T,4h,4w,3) in [0,1]-ish (not clamped): PyTorch bicubic x4."""
    t, h, w, _ = lr.shape
    return _separable(lr.astype(np.float32) / 255.0, _upscale_matrix(h, 4), _upscale_matrix(w, 4))


def y_channel(img_u8):
    return (img_u8.astype(np.float64) / 255.0) @ np.array([65.481, 128.553, 24.966]) + 16.0


def psnr(a, b):
    return 10.0 * np.log10(255.0 ** 2 / np.mean((a - b) ** 2))


def ssim(a, b):
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5 ** 2))
    g /= g.sum()

    def blur(x):  # separable 11x11 Gaussian, 'valid' region
        x = np.apply_along_axis(lambda r: np.convolve(r, g, 'valid'), 0, x)
        return np.apply_along_axis(lambda r: np.convolve(r, g, 'valid'), 1, x)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2, blur(a * b) - mu_a * mu_b
    return np.mean((2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)))


def scores(out_u8, gt_u8, crop=4):
    """Mean over frames of Y-channel (PSNR dB, SSIM) with `crop` pixels dropped on each side."""
    per = [(psnr(y_channel(o)[crop:-crop, crop:-crop], y_channel(g)[crop:-crop, crop:-crop]),
            ssim(y_channel(o)[crop:-crop, crop:-crop], y_channel(g)[crop:-crop, crop:-crop]))
           for o, g in zip(out_u8, gt_u8)]
    return tuple(np.mean(per, axis=0))


def write_clip(path, lr_u8):
    """safetensors with one F32 tensor 'input' (T,3,h,w) in [0,1], as `vrestore restore` reads it."""
    data = np.ascontiguousarray(lr_u8.transpose(0, 3, 1, 2), dtype='<f4') / np.float32(255.0)
    header = json.dumps({'input': {'dtype': 'F32', 'shape': list(data.shape), 'data_offsets': [0, data.nbytes]}})
    header += ' ' * (-len(header) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(header)) + header.encode() + data.astype('<f4').tobytes())


def write_png_folder(folder, frames_u8):
    """uint8 (T,h,w,3) RGB -> folder/000000.png ... (lossless), via the ffmpeg binary."""
    os.makedirs(folder, exist_ok=True)
    t, h, w, _ = frames_u8.shape
    subprocess.run(['ffmpeg', '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', f'{w}x{h}', '-i', '-',
                    os.path.join(folder, '%06d.png')], input=np.ascontiguousarray(frames_u8).tobytes(), check=True)


def restore_via_video(args, lr):
    """Restores through `vrestore restore -i <PNG folder> -o args.video_out` (progress on stderr);
    returns the decoded output video as uint8 (T,H,W,3) and the seconds taken."""
    lowres = os.path.join(os.path.dirname(os.path.abspath(args.video_out)), 'lowres')
    if os.path.isdir(lowres):
        for name in os.listdir(lowres):
            if name.endswith('.png'):
                os.remove(os.path.join(lowres, name))
    write_png_folder(lowres, lr)
    cmd = [args.cli, 'restore', '-i', lowres, '-o', args.video_out, '-m', args.model]
    t0 = time.time()
    subprocess.run(cmd + (['--threads', str(args.threads)] if args.threads else []), check=True)
    return decode_video(args.video_out), time.time() - t0


def read_output(path):
    """Tensor 'output' (T,3,H,W) F32 of a `vrestore restore` result, as (T,H,W,3)."""
    with open(path, 'rb') as f:
        (n,) = struct.unpack('<Q', f.read(8))
        info = json.loads(f.read(n))['output']
        assert info['dtype'] == 'F32', info
        begin, end = info['data_offsets']
        f.seek(8 + n + begin)
        return np.frombuffer(f.read(end - begin), '<f4').reshape(info['shape']).transpose(0, 2, 3, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--cli', default=os.path.join(REPO, 'build/examples/vrestore'))
    ap.add_argument('--model', default=os.path.join(REPO, 'models/vrestore_default_x4.safetensors'))
    ap.add_argument('--video', default=TREE)
    ap.add_argument('--frames', type=int, default=20, help='first N frames of the clip')
    ap.add_argument('--threads', type=int, default=0, help='vrestore --threads (0: library default)')
    ap.add_argument('--video-out', help='restore through the video CLI into this video file (see above)')
    args = ap.parse_args()

    hr = decode_video(args.video, args.frames)
    hr = hr[:, :hr.shape[1] // 4 * 4, :hr.shape[2] // 4 * 4]
    lr = downsample_x4(hr)
    if args.video_out:
        restored, seconds = restore_via_video(args, lr)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            clip, out = os.path.join(tmp, 'clip.safetensors'), os.path.join(tmp, 'out.safetensors')
            write_clip(clip, lr)
            cmd = [args.cli, 'restore', '--weights', args.model, '--input', clip, '--output', out]
            t0 = time.time()
            subprocess.run(cmd + (['--threads', str(args.threads)] if args.threads else []), check=True,
                           stderr=subprocess.DEVNULL)
            seconds = time.time() - t0
            restored = to_uint8(read_output(out))
    if restored.shape != hr.shape:
        sys.exit(f'eval_default_model.py: output shape {restored.shape} != ground truth {hr.shape}')
    rows = [('bicubic (PyTorch, a=-0.75)', scores(to_uint8(bicubic_x4(lr)), hr), ''),
            (os.path.basename(args.model) + (f' via {os.path.basename(args.video_out)}' if args.video_out else ''),
             scores(restored, hr), f'{seconds:.1f} s')]
    print(f'{os.path.basename(args.video)}: frames 0-{len(hr) - 1}, {hr.shape[2]}x{hr.shape[1]} from '
          f'{lr.shape[2]}x{lr.shape[1]} (x4), Y channel, crop 4')
    print(f'{"method":<50} {"PSNR (dB)":>9} {"SSIM":>7} {"restore":>8}')
    for name, (p, s), t in rows:
        print(f'{name:<50} {p:>9.2f} {s:>7.4f} {t:>8}')
    print(f'gain over bicubic: {rows[1][1][0] - rows[0][1][0]:+.2f} dB')


if __name__ == '__main__':
    main()

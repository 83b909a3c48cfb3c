#!/usr/bin/env python3
"""fp32 error of Winograd F(m x m, 3x3) for a choice of interpolation points, against float64.

    /usr/bin/python3 benchmarks/winograd_error.py [--channels 64] [--trials 200]

For each point set below it builds the Toom-Cook matrices exactly (fractions: A^T, G, B^T with the
point at infinity last), checks that they compute the correlation (float64, ~1e-16), then sums the
transformed products over `channels` input channels in the precisions src/cpu/conv_winograd.cpp uses:
weights transformed in float64 and rounded once, input and output transforms and the channel sum in
float32. The transforms here are plain matrix products; the kernel's factored 1-D transforms round
in another order, so its error is of the same size, not the same digits. Inputs are uniform in [-1, 1], weights uniform in +-1/sqrt(9 C) (the scale of the models'
convs). It prints the largest |error| of one output tile over `trials` random tiles.

What it is for: the choice of points in conv_winograd.cpp (0, 1, -1, 1/2, -2 halve F(4x4, 3x3)'s error
against the textbook 0, +-1, +-2), and whether a larger tile would still pass the model fixtures
(1e-4 on the output; BasicVSR's fixture is at 5e-7 with F(4x4, 3x3)). Needs numpy only.
"""
import argparse
from fractions import Fraction

import numpy as np

R = 3  # filter size

# (output tile m, finite points); the point at infinity is always added.
POINT_SETS = (
    (4, (0, 1, -1, Fraction(1, 2), -2)),  # conv_winograd.cpp
    (4, (0, 1, -1, 2, -2)),  # textbook F(4, 3)
    (6, (0, 1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2))),  # the usual F(6, 3)
    (6, (0, 1, -1, 2, -2, Fraction(1, 2), -3)),
)


def poly_times_root(coeffs, root):
    """Coefficients (lowest power first) of coeffs(x) * (x - root)."""
    out = [Fraction(0)] * (len(coeffs) + 1)
    for i, c in enumerate(coeffs):
        out[i] -= c * root
        out[i + 1] += c
    return out


def toom_cook(m, points):
    """A^T (m x a), G (a x R), B^T (a x a) of F(m, R), a = m + R - 1, as exact fractions."""
    pts = [Fraction(p) for p in points]
    a = m + R - 1
    if len(pts) != a - 1:
        raise SystemExit(f"F({m}, {R}) needs {a - 1} finite points, got {len(pts)}")
    at = [[p ** i for p in pts] + [Fraction(int(i == m - 1))] for i in range(m)]
    g = []
    for j, p in enumerate(pts):
        scale = Fraction(1)
        for q in pts[:j] + pts[j + 1:]:
            scale *= p - q
        g.append([p ** k / scale for k in range(R)])
    g.append([Fraction(int(k == R - 1)) for k in range(R)])
    bt = []
    for j in range(a - 1):
        row = [Fraction(1)]
        for q in pts[:j] + pts[j + 1:]:
            row = poly_times_root(row, q)
        bt.append(row + [Fraction(0)] * (a - len(row)))
    row = [Fraction(1)]
    for q in pts:
        row = poly_times_root(row, q)
    bt.append(row)
    return (np.array(m_, dtype=object) for m_ in (at, g, bt))


def exactness(at, g, bt, m):
    """Max |error| of the 1-D transform pipeline against the correlation, in float64."""
    rng = np.random.default_rng(0)
    d, w = rng.standard_normal(m + R - 1), rng.standard_normal(R)
    ref = np.array([d[i:i + R] @ w for i in range(m)])
    got = at.astype(float) @ ((g.astype(float) @ w) * (bt.astype(float) @ d))
    return np.abs(got - ref).max()


def fp32_error(at, g, bt, m, channels, trials):
    a = m + R - 1
    at32, bt32, g64 = at.astype(np.float32), bt.astype(np.float32), g.astype(np.float64)
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(trials):
        d = rng.uniform(-1, 1, (channels, a, a)).astype(np.float32)
        w = rng.uniform(-1, 1, (channels, R, R)) / np.sqrt(channels * R * R)
        ref = np.zeros((m, m))
        for i in range(m):
            for j in range(m):
                ref[i, j] = np.sum(d[:, i:i + R, j:j + R].astype(np.float64) * w)
        u = np.einsum("ak,ckl,bl->cab", g64, w, g64).astype(np.float32)
        acc = np.zeros((a, a), np.float32)
        for c in range(channels):
            v = bt32 @ d[c] @ bt32.T  # float32 operands: float32 products and sums
            acc += u[c] * v
        y = at32 @ acc @ at32.T
        worst = max(worst, float(np.abs(y.astype(np.float64) - ref).max()))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--trials", type=int, default=200)
    args = ap.parse_args()
    print(f"{'tile':>8}  {'points (and infinity)':34} {'exact (f64)':>11}  max |error| fp32, C={args.channels}")
    for m, points in POINT_SETS:
        at, g, bt = toom_cook(m, points)
        names = ", ".join(str(p) for p in points)
        print(f"F({m}x{m})  {names:34} {exactness(at, g, bt, m):11.1e}  "
              f"{fp32_error(at, g, bt, m, args.channels, args.trials):.2e}", flush=True)


if __name__ == "__main__":
    main()

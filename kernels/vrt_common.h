// Formulas of VRT's windowed attention that the op layer, the CPU backend and the CUDA kernels
// share (spec_vrt.md §4.2–4.3): the window geometry of a (possibly padded and cyclically shifted)
// (D, H, W) volume, the token <-> voxel maps, the shifted-window region labels behind the -100
// mask, the relative-position index, and the exact GELU. One definition, so the backends can only
// differ by summation order.
//
// A leaf header like op_common.h: no CUDA or vrestore header; VR_HOST_DEVICE comes from there.
#pragma once

#include <cmath>
#include <cstdint>

#include "op_common.h"

namespace vrestore {

// The mask value between tokens of different shifted-window regions (upstream uses -100, not -inf).
constexpr float kWindowMaskValue = -100.0f;

// Windows of an (N, D, H, W, C) channel-last volume. `window` is the effective window (clipped to
// the volume where the volume is not larger, spec §4.2), `padded` = ceil(size / window) * window
// per axis (zeros appended at the end), `shift` the cyclic shift (rolled by -shift before the
// partition). Windows are numbered (n, d-window, h-window, w-window) row-major, tokens inside a
// window (d, h, w) row-major. All extents fit in int (the op layer checks).
struct WindowGeometry {
  int batch = 1;
  int size[3] = {1, 1, 1};    // D, H, W of the unpadded volume
  int window[3] = {1, 1, 1};  // effective window
  int shift[3] = {0, 0, 0};
  int padded[3] = {1, 1, 1};

  VR_HOST_DEVICE int windows_along(int axis) const { return padded[axis] / window[axis]; }
  VR_HOST_DEVICE int windows_per_image() const { return windows_along(0) * windows_along(1) * windows_along(2); }
  VR_HOST_DEVICE int tokens() const { return window[0] * window[1] * window[2]; }
  VR_HOST_DEVICE bool shifted() const { return shift[0] > 0 || shift[1] > 0 || shift[2] > 0; }
};

// Position (in the padded, rolled volume) of token `token` of window `w` (0 <= w < windows per
// image): p[axis] = window index along the axis * window + coordinate inside the window.
VR_HOST_DEVICE inline void window_token_position(const WindowGeometry& g, int w, int token, int p[3]) {
  const int nw_h = g.windows_along(1), nw_w = g.windows_along(2);
  const int wd = w / (nw_h * nw_w), wh = (w / nw_w) % nw_h, ww = w % nw_w;
  const int td = token / (g.window[1] * g.window[2]), th = (token / g.window[2]) % g.window[1],
            tw = token % g.window[2];
  p[0] = wd * g.window[0] + td;
  p[1] = wh * g.window[1] + th;
  p[2] = ww * g.window[2] + tw;
}

// The voxel of the unpadded volume that position p of the rolled volume holds (rolled by -shift:
// y'[i] = y[(i + shift) mod padded]), or false when it is zero padding.
VR_HOST_DEVICE inline bool window_source_voxel(const WindowGeometry& g, const int p[3], int v[3]) {
  for (int axis = 0; axis < 3; ++axis) {
    int s = p[axis] + g.shift[axis];
    if (s >= g.padded[axis]) s -= g.padded[axis];
    if (s >= g.size[axis]) return false;
    v[axis] = s;
  }
  return true;
}

// Shifted-window region of position p (upstream compute_mask): per axis with shift > 0 the ranges
// [0, P - window), [P - window, P - shift), [P - shift, P) are regions 0, 1, 2; an axis without a
// shift is one region. The mask is 0 between equal labels and kWindowMaskValue otherwise.
VR_HOST_DEVICE inline int window_region_label(const WindowGeometry& g, const int p[3]) {
  int label = 0;
  for (int axis = 0; axis < 3; ++axis) {
    int r = 0;
    if (g.shift[axis] > 0) r = p[axis] < g.padded[axis] - g.window[axis] ? 0 : (p[axis] < g.padded[axis] - g.shift[axis] ? 1 : 2);
    label = label * 3 + r;
  }
  return label;
}

// Region label of token `token` of window `w` of the geometry (0 when unshifted).
VR_HOST_DEVICE inline int window_token_label(const WindowGeometry& g, int w, int token) {
  if (!g.shifted()) return 0;
  int p[3];
  window_token_position(g, w, token, p);
  return window_region_label(g, p);
}

// Relative-position index of tokens i, j numbered in the module's full window (wd, wh, ww)
// (upstream's relative_position_index[i, j]); a clipped window uses the top-left N x N block of it,
// i.e. the same formula with i, j < N. Rows of the bias table: (2wd-1)(2wh-1)(2ww-1).
VR_HOST_DEVICE inline int relative_position_index(const int full_window[3], int i, int j) {
  const int plane = full_window[1] * full_window[2];
  const int di = i / plane, hi = (i / full_window[2]) % full_window[1], wi = i % full_window[2];
  const int dj = j / plane, hj = (j / full_window[2]) % full_window[1], wj = j % full_window[2];
  const int span_h = 2 * full_window[1] - 1, span_w = 2 * full_window[2] - 1;
  return (di - dj + full_window[0] - 1) * span_h * span_w + (hi - hj + full_window[1] - 1) * span_w +
         (wi - wj + full_window[2] - 1);
}

// Exact GELU (PyTorch's default approximate='none'): x * 0.5 * (1 + erf(x / sqrt(2))), in fp32.
VR_HOST_DEVICE inline float gelu_erf(float x) { return x * 0.5f * (1.0f + erff(x * 0.70710678118654752440f)); }

// VRT's "nearest4" input warp (spec §6.2): the source index along an axis of `size` pixels of the
// corner floor(v) (ceil_corner false) or ceil(v), v = pixel + flow summed in fp32, through
// upstream's normalise round trip and grid_sample's nearest rounding (half to even); -1 when it
// falls outside [0, size - 1] (zero padding) or v is not finite.
VR_HOST_DEVICE inline int64_t nearest4_index(float v, bool ceil_corner, int64_t size) {
  const float corner = ceil_corner ? ceilf(v) : floorf(v);
  const float rounded = rintf(flow_warp_round_trip(corner, size));
  if (!(rounded >= 0.0f && rounded <= static_cast<float>(size - 1))) return -1;  // NaN fails both
  return static_cast<int64_t>(rounded);
}

// The flow-guided DCN offset (spec §6.4): channel pair p of `pairs` (dy, dx) pairs belongs to
// neighbour p / (pairs / neighbours), whose flow (fx, fy) is added flipped: Δy gets fy, Δx gets fx.
VR_HOST_DEVICE inline float flow_guided_offset_value(float raw, float flow_component, float max_residue) {
  return max_residue * tanhf(raw) + flow_component;
}

}  // namespace vrestore

// The transformer ops of VRT (spec_vrt.md §4), named after their torch.nn.functional counterparts
// where one exists. Same contract as ops.h: every function checks its operands (vrestore::Error with
// got-vs-expected), allocates the output on the input's device and dtype and runs one backend
// (CPU f32; CUDA f32 or f16 with f32 accumulation and statistics). Tokens are channel-last.
#pragma once

#include <array>

#include "../../kernels/vrt_common.h"  // WindowGeometry, kWindowMaskValue, shared formulas
#include "vrestore/tensor.h"

namespace vrestore::ops {

// nn.Linear: x (..., in) · weight (out, in)ᵀ + bias (out) or nullptr -> (..., out).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor* bias);

// nn.LayerNorm over the last dimension: x (..., C), weight and bias (C) f32 whatever x's dtype
// (f16 would round these amplifying parameters) -> (..., C) in x's dtype;
// (x - mean) / sqrt(biased variance + eps) * weight + bias, statistics in f32.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f);

// F.gelu with approximate='none' (x·Φ(x), erf form), element-wise, any shape.
Tensor gelu(const Tensor& x);
// gelu(x) * gate (same shapes): the product of VRT's GEGLU Mlp_GEGLU, fc2(gelu(fc11(z)) * fc12(z)).
Tensor gelu_mul(const Tensor& x, const Tensor& gate);

// x += y broadcast over x's leading dimensions: y's shape must equal x's trailing dimensions
// (VRT adds its (Wh·Ww, C) sine position encoding to every frame of every window this way).
void add_broadcast_(Tensor& x, const Tensor& y);

// (N, C, S...) -> (N, S..., C): channel-first to channel-last ('n c d h w -> n d h w c').
Tensor channels_last(const Tensor& x);
// (N, S..., C) -> (N, C, S...): channel-last to channel-first ('n d h w c -> n c d h w').
Tensor channels_first(const Tensor& x);

// The effective window geometry of an (N, D, H, W, C) volume for a module window `window` and
// shift `shift` (upstream get_window_size): per axis, size <= window clips the window to the size
// and disables the shift; the volume is padded at the end to a multiple of the window.
WindowGeometry window_geometry(int64_t batch, const std::array<int64_t, 3>& size, const std::array<int, 3>& window,
                               const std::array<int, 3>& shift);

// Window partition with the cyclic shift fused in (spec §4.2 steps 1–3 without the norm):
// x (N, D, H, W, C) rolled by -shift and zero-padded -> (N·nW, T, C), T = window tokens in (d, h, w)
// order, windows in (n, d, h, w) order. g must be window_geometry's result for x's shape.
Tensor window_partition(const Tensor& x, const WindowGeometry& g);
// Its inverse (step 5): windows (N·nW, T, C) -> (N, D, H, W, C), rolled back by +shift, padding dropped.
Tensor window_reverse(const Tensor& windows, const WindowGeometry& g);

struct WindowAttentionParams {
  int64_t heads = 1;
  std::array<int, 3> full_window{1, 1, 1};  // the module's window (sizes the bias table and its index)
  WindowGeometry geometry;                   // effective window, padding and shift of the partition
  bool mutual = false;
  float scale = 0;  // 0: head_dim^-0.5 (qk_scale=None)
};

// VRT's WindowAttention core on the projections qkv (N·nW, T, 3C) = [q | k | v] (a qkv_self or
// qkv_mut linear's output) -> (N·nW, T, C), heads concatenated head-major (spec §4.3):
// * self: softmax(scale·q·kᵀ + B + M)·v with B[h][i][j] = bias_table[relative_position_index(
//   full_window, i, j), h] (the top-left T×T block of the full window's index), bias_table
//   ((2Wd-1)(2Wh-1)(2Ww-1), heads);
// * mutual (bias_table nullptr, window 2 frames): slot t < T/2 = second-frame query t attending the
//   first frame, slot t >= T/2 = first-frame query attending the second frame; M = the first-frame
//   block of the mask.
// M is 0 / -100 by shifted-window region (upstream compute_mask) when the geometry is shifted, else 0.
// One window's scores per head at a time; softmax statistics in f32.
Tensor window_attention(const Tensor& qkv, const Tensor* bias_table, const WindowAttentionParams& p);

// ---- VRT's warps and flow-guided alignment (spec §6) ---------------------------------------------
// VRT's bilinear flow warp (zeros or border) is ops::flow_warp: upstream's network_vrt.flow_warp
// normalises and samples exactly as BasicSR's (op_common.h), with the flow planar (N, 2, H, W).

// VRT's "nearest4" input warp (flow_warp(..., 'nearest4')): x (N, C, H, W), flow (N, 2, H, W) f32
// (channel 0 = dx, 1 = dy, pixels) -> (N, 4C, H, W) = the nearest samples at the corners
// [⌊x⌋⌊y⌋, ⌊x⌋⌈y⌉, ⌈x⌉⌊y⌋, ⌈x⌉⌈y⌉] of (x + dx, y + dy) summed in fp32, each C channels, 0 outside
// the image. Discontinuous in the flow (spec §10.8).
Tensor nearest4_warp(const Tensor& x, const Tensor& flow);

struct FlowGuidedOffset {
  Tensor offset;  // (N, 18·G, H, W) f32, (Δy, Δx) per group and tap as deform_conv2d reads it
  Tensor mask;    // (N, 9·G, H, W) f32
};
// DCNv2PackFlowGuided's offsets and mask (spec §6.4) from the raw offset-branch output
// raw (N, 27·G, H, W) (any dtype of the device) and the k neighbours' flows, concatenated
// (N, 2k, H, W) f32 = [flow_0 (dx, dy), flow_1, ...]: offset = max_residue·tanh(raw[:, :18G]) +
// flow, neighbour j's flow added as (dy, dx) to its 9G/k consecutive pairs; mask =
// sigmoid(raw[:, 18G:]). 9·G must be a multiple of k.
FlowGuidedOffset flow_guided_offset(const Tensor& raw, const Tensor& flows, float max_residue);

}  // namespace vrestore::ops

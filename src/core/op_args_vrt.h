// Argument structs of the transformer ops VRT is built from (ops_vrt.h), in the same contract as
// op_args.h: checked, resolved and allocated by the op layer, trusted by the backends.
#pragma once

#include <cstdint>

#include "../../kernels/vrt_common.h"
#include "vrestore/tensor.h"

namespace vrestore::ops {

// out (rows, out_features) = x (rows, in_features) · weight (out_features, in_features)ᵀ + bias.
struct LinearArgs {
  Tensor x, weight, bias;  // bias (out_features) or undefined
  int64_t rows = 0, in_features = 0, out_features = 0;
  Tensor out;
};

// out[r, :] = (x[r, :] - mean) / sqrt(var + eps) * weight + bias over the last dimension (biased
// variance, statistics in f32 or better).
struct LayerNormArgs {
  Tensor x, weight, bias;  // x (rows, channels); weight, bias (channels)
  int64_t rows = 0, channels = 0;
  float eps = 1e-5f;
  Tensor out;
};

// out = gelu_erf(x) * gate (gate defined: the GEGLU product) or gelu_erf(x), element-wise.
struct GeluArgs {
  Tensor x, gate;
  Tensor out;
};

// x += y repeated: x has y's shape as its trailing dimensions (element i of x adds y[i % numel(y)]).
struct AddBroadcastArgs {
  Tensor x, y;
};

// out (batch, cols, rows) = x (batch, rows, cols) transposed per batch: channel-first <-> channel-last.
struct TransposeArgs {
  Tensor x;
  int64_t batch = 0, rows = 0, cols = 0;
  Tensor out;
};

// Partition (reverse = false): out (N·nW, T, C) = windows of x (N, D, H, W, C) rolled by -shift,
// zero where the window covers padding. Reverse: out (N, D, H, W, C) = the windows x (N·nW, T, C)
// put back, rolled by +shift, padding dropped. One gather each way.
struct WindowPartitionArgs {
  Tensor x;
  WindowGeometry g;
  int64_t channels = 0;
  bool reverse = false;
  Tensor out;
};

// Windowed multi-head attention on the packed projections qkv (B_, T, 3C) = [q | k | v], heads
// head-major inside each; out (B_, T, C). Self: softmax(scale·q·kᵀ + bias + mask)·v with bias
// table[relative_position_index(full_window, i, j), head]. Mutual (T = 2·T/2 frames): slot t < T/2
// gets the second frame's query t attending the first frame's keys, slot t >= T/2 the first frame's
// query attending the second frame, mask = the first-frame block, no bias. The mask (kWindowMaskValue
// between different region labels) applies when g.shifted(); window b uses window b % nW's labels.
struct WindowAttentionArgs {
  Tensor qkv, bias_table;  // bias_table ((2Wd-1)(2Wh-1)(2Ww-1), heads) or undefined (mutual)
  WindowGeometry g;
  int full_window[3] = {1, 1, 1};
  int64_t heads = 1, head_dim = 1;
  float scale = 1;
  bool mutual = false;
  Tensor out;
};

// VRT's nearest4 input warp: out (N, 4C, H, W) = the 4 nearest samples of x (N, C, H, W) around
// (x + fx, y + fy), flow (N, 2, H, W) f32 planar (fx, fy), in the blocks [floor x floor y,
// floor x ceil y, ceil x floor y, ceil x ceil y] (nearest4_index, vrt_common.h); 0 outside.
struct Nearest4WarpArgs {
  Tensor x, flow;
  int64_t batch = 0, channels = 0, height = 0, width = 0;
  Tensor out;
};

// The flow-guided DCN's offsets and mask from the raw offset-branch output x (N, 27·G, H, W):
// offset (N, 18·G, H, W) f32 = flow_guided_offset(x[:, :18G], flow of the pair's neighbour, (fy, fx)
// order), mask (N, 9·G, H, W) f32 = sigmoid(x[:, 18G:]). flows (N, 2·neighbours, H, W) f32 =
// [flow_0 (fx, fy), flow_1, ...]; G·9 is a multiple of neighbours.
struct FlowGuidedOffsetArgs {
  Tensor x, flows;
  int64_t batch = 0, groups = 0, neighbours = 0, plane = 0;  // plane = H·W
  float max_residue = 0;
  Tensor offset, mask;
};

}  // namespace vrestore::ops

// VRT for the benchmarks (CPU and GPU): the official 001 configuration, a weights file with random
// values in the converter's key layout (so the network loads it like a converted official file), and
// the analytic cost of the network and of its window attention and flow-guided DCN modules.
// spec_vrt.md: §1 (configurations), §4.3 (stored buffers), §8 (MAC counts).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "vrestore/tensor.h"

namespace vrestore::bench {

// Upstream VRT constructor arguments that change the network (spec §1). Default: checkpoint 001
// (video SR x4, REDS, 6 frames): window 6x8x8, depths 8x7 + 4x6, dims 120x7 + 180x6, 6 heads,
// indep_reconsts [11, 12], pa_frames 2, deformable_groups 12.
struct VrtConfig {
  int64_t upscale = 4, in_chans = 3, out_chans = 3;
  std::array<int, 3> img_size{6, 64, 64};
  std::array<int, 3> window{6, 8, 8};
  std::vector<int64_t> depths{8, 8, 8, 8, 8, 8, 8, 4, 4, 4, 4, 4, 4};
  std::vector<int64_t> embed_dims{120, 120, 120, 120, 120, 120, 120, 180, 180, 180, 180, 180, 180};
  std::vector<int64_t> num_heads = std::vector<int64_t>(13, 6);
  std::vector<int64_t> indep_reconsts{11, 12};
  double mul_attn_ratio = 0.75, mlp_ratio = 2.0;
  int pa_frames = 2;
  int64_t deformable_groups = 12;
  bool nonblind_denoising = false;
};

// upstream WindowAttention.get_position_index: (Wd·Wh·Ww)² entries, row-major (spec §4.3).
std::vector<int64_t> relative_position_index(const std::array<int, 3>& window);
// upstream get_sine_position_encoding(window (Wh, Ww), dim // 2, normalize=True): (1, Wh·Ww, 2·(dim/2)).
Tensor sine_position_encoding(int wh, int ww, int64_t dim);

// Writes a vrt.VRT weights file for `cfg` (restoration path, pa_frames 2/4/6) with the converter's
// keys and shapes (weights_converter/families/vrt.py; spynet.mean/std dropped), random values with
// PyTorch's default init (linears and convs uniform +-1/sqrt(fan_in), LayerNorm 1/0, bias tables
// +-0.035 like trunc_normal(std 0.02)), and the persistent buffers with their real values:
// relative_position_index (I64) and position_bias. Unlike upstream's zero init, the DCN offset
// branch's last conv gets the default init too, so the offsets differ from the flows by a fraction
// of a pixel, as in trained models. Throws vrestore::Error when the file cannot be written.
void write_random_vrt_weights(const std::string& path, const VrtConfig& cfg, uint32_t seed);

// Multiply-adds of one forward over a t x h x w clip (N = 1), counted as spec §8 counts them
// (padded attention tokens included; SpyNet at the size rounded up to 32; the deformable conv as a
// grouped 3x3 conv; LayerNorm, softmax and warps excluded). 562.0 G for 001 at 6x64x64, 1797.0 G
// for 002 at 16x64x64, 2512.3 G for 005 at 6x192x192 (the spec's hook counts).
double vrt_macs(const VrtConfig& cfg, int64_t t, int64_t h, int64_t w);

// One WindowAttention module call on `windows` windows of `tokens` tokens, dim channels: qkv (and
// qkv_mut), the attention products QKᵀ and PV (mutual: two half-size products), proj.
double window_attention_macs(int64_t windows, int64_t tokens, int64_t dim, bool mutual);
// One DCNv2PackFlowGuided call on an h x w frame: the 4 offset convs plus the deformable conv.
double dcn_flow_guided_macs(int64_t channels, int pa_frames, int64_t deformable_groups, int64_t h, int64_t w);

}  // namespace vrestore::bench

// Building blocks shared by the model families. Field and key names mirror the upstream modules
// (BasicSR arch_util.py / mmedit common modules) so a block's weights are found by its prefix.
#pragma once

#include <string>
#include <vector>

#include "core/ops.h"
#include "weights/weights.h"

namespace vrestore {

// nn.Conv2d with its activation fused. Keys: <name>.weight (Cout, Cin, k, k), <name>.bias (Cout).
// Runs in its weights' precision: an input of the other dtype is cast first, which is how an f16
// model's f32-only layers (offset convs, SpyNet) meet its f16 features.
struct Conv2d {
  Tensor weight, bias;
  ops::Conv2dParams params;

  static Conv2d load(Weights& w, const std::string& name, int64_t out_ch, int64_t in_ch, int kernel,
                     ops::Activation act = ops::Activation::None, int stride = 1);
  int64_t out_channels() const { return weight.size(0); }
  // residual: added after the activation (a residual block's skip connection), or nullptr.
  Tensor operator()(const Tensor& x, const Tensor* residual = nullptr) const {
    return ops::conv2d(ops::to_dtype(x, weight.dtype()), weight, &bias, params, residual);
  }
};

// ResidualBlockNoBN: x + conv2(relu(conv1(x))), res_scale 1. Keys <name>.conv1.*, <name>.conv2.*.
struct ResidualBlock {
  Conv2d conv1, conv2;
  static ResidualBlock load(Weights& w, const std::string& name, int64_t channels);
  Tensor operator()(const Tensor& x) const;
};

// A run of residual blocks keyed <name>.<i>.
struct ResidualBlocks {
  std::vector<ResidualBlock> blocks;
  static ResidualBlocks load(Weights& w, const std::string& name, int64_t channels, int64_t count);
  Tensor operator()(Tensor x) const;
};

// BasicSR ConvResidualBlocks / mmedit ResidualBlocksWithInputConv: conv3x3 (Cin -> C) + lrelu,
// then residual blocks. Keys <name>.main.0.* (the conv) and <name>.main.2.<i>.conv{1,2}.*.
struct ConvResidualBlocks {
  Conv2d conv;
  ResidualBlocks blocks;
  static ConvResidualBlocks load(Weights& w, const std::string& name, int64_t in_ch, int64_t channels,
                                 int64_t count);
  Tensor operator()(const Tensor& x) const { return blocks(conv(x)); }
};

// DCNv2Pack (BasicSR) / ModulatedDCNPack (mmedit): offsets and mask come from conv_offset(feat),
// split into thirds [dy/dx pairs of groups 0..G/2 | of groups G/2..G | mask logits]. conv_offset
// keeps f32 weights in an f16 model, so offsets and masks are computed and stay in f32.
// Keys <name>.weight, <name>.bias, <name>.conv_offset.{weight,bias}.
struct DcnPack {
  Tensor weight, bias;
  Conv2d conv_offset;
  int64_t groups = 0;
  static DcnPack load(Weights& w, const std::string& name, int64_t channels, int64_t deformable_groups);
  // x: features to sample (N, C, H, W); feat: offset features (N, C, H, W) -> (N, C, H, W).
  Tensor operator()(const Tensor& x, const Tensor& feat, ops::Activation act = ops::Activation::None) const;
};

// Channels [begin, begin + count) of an (N, C, ...) tensor, copied.
Tensor slice_channels(const Tensor& x, int64_t begin, int64_t count);

}  // namespace vrestore

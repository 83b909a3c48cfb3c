#include "models/blocks.h"

#include <cstring>

#include "core/check.h"

namespace vrestore {

Conv2d Conv2d::load(Weights& w, const std::string& name, int64_t out_ch, int64_t in_ch, int kernel,
                    ops::Activation act, int stride) {
  Conv2d c;
  c.weight = w.take(name + ".weight", {out_ch, in_ch, kernel, kernel});
  c.bias = w.take(name + ".bias", {out_ch});
  c.params.stride = stride;
  c.params.padding = (kernel - 1) / 2;
  c.params.activation = act;
  return c;
}

ResidualBlock ResidualBlock::load(Weights& w, const std::string& name, int64_t channels) {
  return {Conv2d::load(w, name + ".conv1", channels, channels, 3, ops::Activation::ReLU),
          Conv2d::load(w, name + ".conv2", channels, channels, 3)};
}

Tensor ResidualBlock::operator()(const Tensor& x) const {
  return conv2(conv1(x), &x);  // (N, C, H, W): x + conv2(relu(conv1(x)))
}

ResidualBlocks ResidualBlocks::load(Weights& w, const std::string& name, int64_t channels, int64_t count) {
  ResidualBlocks r;
  for (int64_t i = 0; i < count; ++i) r.blocks.push_back(ResidualBlock::load(w, concat(name, '.', i), channels));
  return r;
}

Tensor ResidualBlocks::operator()(Tensor x) const {
  for (const ResidualBlock& b : blocks) x = b(x);
  return x;
}

ConvResidualBlocks ConvResidualBlocks::load(Weights& w, const std::string& name, int64_t in_ch, int64_t channels,
                                             int64_t count) {
  return {Conv2d::load(w, name + ".main.0", channels, in_ch, 3, ops::Activation::LeakyReLU),
          ResidualBlocks::load(w, name + ".main.2", channels, count)};
}

DcnPack DcnPack::load(Weights& w, const std::string& name, int64_t channels, int64_t deformable_groups) {
  DcnPack d;
  d.groups = deformable_groups;
  d.weight = w.take(name + ".weight", {channels, channels, 3, 3});
  d.bias = w.take(name + ".bias", {channels});
  const Weights::KeepF32 f32_offsets(w);
  d.conv_offset = Conv2d::load(w, name + ".conv_offset", 3 * deformable_groups * 9, channels, 3);
  return d;
}

Tensor DcnPack::operator()(const Tensor& x, const Tensor& feat, ops::Activation act) const {
  const int64_t gk = groups * 9;
  Tensor o = conv_offset(feat);               // (N, 3*G*9, H, W)
  Tensor offset = slice_channels(o, 0, 2 * gk);  // (N, 2*G*9, H, W), (dy, dx) per group and tap
  Tensor mask = slice_channels(o, 2 * gk, gk);   // (N, G*9, H, W)
  ops::sigmoid_(mask);
  ops::DeformConv2dParams p;
  p.activation = act;
  return ops::deform_conv2d(x, offset, mask, weight, &bias, p);
}

Tensor slice_channels(const Tensor& x, int64_t begin, int64_t count) { return ops::narrow1(x, begin, count); }

}  // namespace vrestore

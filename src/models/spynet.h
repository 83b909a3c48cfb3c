// SpyNet optical flow (spatial pyramid network), as used inside BasicVSR / RealBasicVSR.
// Upstream: BasicSR basicsr/archs/spynet_arch.py (SpyNet); mmedit basicvsr_net.py (SPyNet).
// Works at any frame size >= 1 pixel (mmedit's math; BasicSR's crashes at H or W <= 32).
#pragma once

#include <array>

#include "models/blocks.h"
#include "models/network.h"

namespace vrestore {

struct SpyNet {
  // One pyramid level: 5 convs 7x7 (8->32->64->32->16->2), ReLU after the first four.
  // Keys: BasicSR <prefix>basic_module.<L>.basic_module.<0|2|4|6|8>.*, mmedit ...<0..4>.conv.*
  using Level = std::array<Conv2d, 5>;
  std::array<Level, 6> levels;

  static SpyNet load(Weights& w, const std::string& prefix, bool mmedit_names);

  // Flow from ref to supp (warping supp with it approximates ref): ref, supp (N, 3, H, W) ->
  // (N, 2, H, W), channel 0 = x. `at_multiple_of_32` receives the pyramid result before the
  // final resize when given.
  Tensor operator()(const Tensor& ref, const Tensor& supp, Tensor* at_multiple_of_32 = nullptr) const;

  // VRT's use (upstream network_vrt.py SpyNet with return_levels [5, 4, 3, 2], spec_vrt.md §5):
  // the pyramid's own estimates at scales 1, 1/2, 1/4, 1/8 of the input, not downscaled copies of
  // the final flow. [s] is (N, 2, H >> s, W >> s) f32: the estimate of level 5 - s resized
  // (bilinear, align_corners=False) and its x / y scaled by (W >> s) / (Wr >> s) and
  // (H >> s) / (Hr >> s), Hr, Wr = H, W rounded up to multiples of 32. Needs H, W >= 8.
  std::array<Tensor, 4> multi_scale(const Tensor& ref, const Tensor& supp) const;

 private:
  // The six pyramid estimates (index 0 = coarsest, Hr / 32) of ref and supp resized to (Hr, Wr).
  std::array<Tensor, 6> pyramid(const Tensor& ref, const Tensor& supp) const;
};

// A standalone SpyNet file (basicsr.SpyNet / mmedit.SPyNet): forward takes (N, 2, 3, H, W) =
// (ref, supp) pairs and returns (N, 2, H, W) flows.
class SpyNetNetwork final : public Network {
 public:
  explicit SpyNetNetwork(Weights& w);
  Tensor forward(const Tensor& pairs) const override;
  void restore(const FrameSource& source, const FrameSink& sink, const RestoreOptions& options) const override;
  ModelInfo info() const override { return info_; }

 private:
  SpyNet spynet_;
  ModelInfo info_;
};

}  // namespace vrestore

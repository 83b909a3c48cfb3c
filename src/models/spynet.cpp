#include "models/spynet.h"

#include "core/check.h"
#include "core/checked_math.h"
#include "models/sequence.h"

namespace vrestore {
namespace {

// ImageNet statistics (the `mean` / `std` buffers upstream, constants dropped on conversion).
constexpr float kMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kStd[3] = {0.229f, 0.224f, 0.225f};

Tensor normalize(const Tensor& x) {
  return ops::affine_channels(x, {kMean[0], kMean[1], kMean[2]}, {kStd[0], kStd[1], kStd[2]}, /*divide=*/true);
}

// Scales flow channel 0 (x) by sx and channel 1 (y) by sy.
Tensor scale_flow(const Tensor& flow, float sx, float sy) {
  return ops::affine_channels(flow, {0.0f, 0.0f}, {sx, sy}, /*divide=*/false);
}

}  // namespace

SpyNet SpyNet::load(Weights& w, const std::string& prefix, bool mmedit_names) {
  static constexpr int64_t kChannels[6] = {8, 32, 64, 32, 16, 2};
  const Weights::KeepF32 f32_flows(w);  // flows are computed and kept in f32 in every model precision
  SpyNet s;
  for (int l = 0; l < 6; ++l)
    for (int i = 0; i < 5; ++i) {
      std::string name = mmedit_names ? concat(prefix, "basic_module.", l, ".basic_module.", i, ".conv")
                                      : concat(prefix, "basic_module.", l, ".basic_module.", 2 * i);
      s.levels[l][i] = Conv2d::load(w, name, kChannels[i + 1], kChannels[i], 7,
                                    i < 4 ? ops::Activation::ReLU : ops::Activation::None);
    }
  return s;
}

std::array<Tensor, 6> SpyNet::pyramid(const Tensor& ref, const Tensor& supp) const {
  check_rank("SpyNet", "ref", ref, 4);
  VR_CHECK(ref.size(1) == 3 && ref.shape() == supp.shape(), "SpyNet: ref ", ref.shape_str(), " and supp ",
           supp.shape_str(), " must both be (N, 3, H, W)");
  VR_CHECK(ref.dtype() == DType::F32 && supp.dtype() == DType::F32, "SpyNet: ref ", ref.describe(), " and supp ",
           supp.describe(), " must be f32 images (flows are computed in f32)");
  const int64_t h = ref.size(2), w = ref.size(3);
  const int64_t hr = round_up(h, 32, "SpyNet"), wr = round_up(w, 32, "SpyNet");
  auto prepare = [&](const Tensor& x) {
    return normalize(hr == h && wr == w ? x : ops::resize_bilinear(x, hr, wr, false));  // (N, 3, Hr, Wr)
  };
  // Image pyramids, index 0 = coarsest (Hr/32).
  std::array<Tensor, 6> refs, supps, flows;
  refs[5] = prepare(ref);
  supps[5] = prepare(supp);
  for (int l = 4; l >= 0; --l) {
    refs[l] = ops::avg_pool2d(refs[l + 1], 2, 2, 0);
    supps[l] = ops::avg_pool2d(supps[l + 1], 2, 2, 0);
  }
  for (int l = 0; l < 6; ++l) {
    Tensor up;  // (N, 2, hl, wl)
    if (l == 0) {
      up = Tensor::zeros({ref.size(0), 2, refs[0].size(2), refs[0].size(3)}, DType::F32, ref.device());
    } else {
      up = ops::upsample_bilinear(flows[static_cast<size_t>(l - 1)], 2, /*align_corners=*/true);
      ops::scale_(up, 2.0f);
    }
    // Level 0 warps with a zero flow too: upstream does, and the grid round trip is not exactly
    // the identity.
    Tensor warped = ops::flow_warp(supps[l], up, ops::WarpPadding::Border);
    Tensor x = ops::cat1({refs[l], warped, up});  // (N, 8, hl, wl)
    const Level& m = levels[static_cast<size_t>(l)];
    Tensor flow = m[4](m[3](m[2](m[1](m[0](x)))));
    ops::add_(flow, up);
    flows[static_cast<size_t>(l)] = flow;
  }
  return flows;
}

namespace {

// A flow estimated at (hr, wr) as the flow of an (h, w) image: resized (bilinear, align_corners
// False; the identity at equal sizes) and its components rescaled to the new pixel size.
Tensor flow_at_size(const Tensor& flow, int64_t h, int64_t w) {
  const int64_t hr = flow.size(2), wr = flow.size(3);
  if (hr == h && wr == w) return flow;
  Tensor out = ops::resize_bilinear(flow, h, w, false);
  return scale_flow(out, static_cast<float>(static_cast<double>(w) / static_cast<double>(wr)),
                    static_cast<float>(static_cast<double>(h) / static_cast<double>(hr)));
}

}  // namespace

Tensor SpyNet::operator()(const Tensor& ref, const Tensor& supp, Tensor* at_multiple_of_32) const {
  const Tensor flow = pyramid(ref, supp)[5];
  if (at_multiple_of_32) *at_multiple_of_32 = flow;
  return flow_at_size(flow, ref.size(2), ref.size(3));
}

std::array<Tensor, 4> SpyNet::multi_scale(const Tensor& ref, const Tensor& supp) const {
  check_rank("SpyNet", "ref", ref, 4);
  VR_CHECK(ref.size(2) >= 8 && ref.size(3) >= 8, "SpyNet: multi-scale flows of ", ref.shape_str(),
           " frames, expected H and W >= 8 (the 1/8-scale flow needs a pixel)");
  const std::array<Tensor, 6> flows = pyramid(ref, supp);
  std::array<Tensor, 4> out;
  for (int s = 0; s < 4; ++s)
    out[static_cast<size_t>(s)] = flow_at_size(flows[static_cast<size_t>(5 - s)], ref.size(2) >> s, ref.size(3) >> s);
  return out;
}

SpyNetNetwork::SpyNetNetwork(Weights& w) {
  spynet_ = SpyNet::load(w, "", w.arch() == "mmedit.SPyNet");
  info_ = {w.arch(), w.config().dump(), 1, 2};
}

Tensor SpyNetNetwork::forward(const Tensor& pairs) const {
  check_rank("SpyNet", "input", pairs, 5);
  VR_CHECK(pairs.size(1) == 2 && pairs.size(2) == 3, "SpyNet: input has shape ", pairs.shape_str(),
           ", expected (N, 2, 3, H, W) = (ref, supp) pairs");
  const int64_t n = pairs.size(0), h = pairs.size(3), w = pairs.size(4);
  std::vector<int64_t> ref_rows, supp_rows;
  for (int64_t i = 0; i < n; ++i) ref_rows.push_back(2 * i), supp_rows.push_back(2 * i + 1);
  Tensor frames = pairs.reshape({2 * n, 3, h, w});
  return spynet_(gather0(frames, ref_rows), gather0(frames, supp_rows));
}

void SpyNetNetwork::restore(const FrameSource&, const FrameSink&, const RestoreOptions&) const {
  fail("SpyNet estimates optical flow and restores no frames; use forward on (N, 2, 3, H, W) pairs");
}

}  // namespace vrestore

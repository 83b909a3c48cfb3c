// VRT, the Video Restoration Transformer (Liang et al. 2022). Upstream: github.com/JingyunLiang/VRT
// models/network_vrt.py, class VRT (commit 94a5f504); semantics in shared/docs/spec_vrt.md.
// One class runs every official configuration: video SR x4 (001-004), deblurring (005-007),
// non-blind denoising with the noise-level channel (008) and frame interpolation (009, pa_frames 0).
#pragma once

#include <array>
#include <vector>

#include "models/clip_tiling.h"
#include "models/network.h"
#include "models/spynet.h"
#include "models/vrt_stage.h"

namespace vrestore {

// Intermediate results kept for tests (names as in the fixtures, layouts frame-major).
struct VrtTrace {
  // [4·(d-1) + s]: flows for frame distance d at scale 1/2^s, (N, T-d, 2, H >> s, W >> s) f32.
  std::vector<Tensor> flows_backward, flows_forward;
  Tensor conv_first_in;                // (N, T, Cin, H, W): [RGB, nearest4 backward, forward, (noise map)]
  std::array<Tensor, 7> stage_out;     // (N, T, C, H / s, W / s) per stage, before the skip sums
  Tensor features_out;                 // (N, T, H, W, C_last) after the final LayerNorm
};

// The upstream constructor arguments this port uses (config of the converted file).
struct VrtConfig {
  int upscale = 4, in_chans = 3, out_chans = 3;
  std::array<int, 3> img_size{6, 64, 64}, window_size{6, 8, 8};
  std::vector<int64_t> depths, embed_dims, num_heads, indep_reconsts;
  double mul_attn_ratio = 0.75, mlp_ratio = 2.0;
  float qk_scale = 0;  // 0: head_dim^-0.5 (qk_scale None)
  int pa_frames = 2;
  int64_t deformable_groups = 16;
  bool nonblind_denoising = false;

  static VrtConfig from(const Weights& w);
  // Channels of each input frame: in_chans, plus the noise-level map for non-blind denoising.
  int64_t input_channels() const { return in_chans + (nonblind_denoising ? 1 : 0); }
};

class Vrt final : public Network {
 public:
  explicit Vrt(Weights& w);

  // x (N, T, Cin, H, W) -> (N, T, out_chans, sH, sW), or (N, 1, out_chans, H, W) for frame
  // interpolation (pa_frames 0: T must be img_size[0]; the frame between inputs T/2 - 1 and T/2).
  // Upstream's constraints apply (spec §2): H, W multiples of 8; with flows H, W > 32 and the 1/8
  // scale at least the spatial window; T >= 2, 3, 4 for pa_frames 2, 4, 6. restore() lifts them.
  Tensor forward(const Tensor& x) const override { return forward(x, nullptr); }
  Tensor forward(const Tensor& x, VrtTrace* trace) const;
  void restore(const FrameSource& source, const FrameSink& sink, const RestoreOptions& options) const override;
  ModelInfo info() const override { return info_; }
  const VrtConfig& config() const { return cfg_; }
  // What one forward call needs (sizes, frames) and gives, for the test-time tiling.
  ClipConstraints clip_constraints() const;
  // Estimated peak bytes of one forward call on a (frames, h, w) clip in the model's precision,
  // weights excluded (a fit of measured peaks; an upper bound in practice, see docs/tiling.md).
  size_t peak_bytes(int64_t frames, int64_t h, int64_t w) const;

 private:
  // forward_features (spec §3.3): x (N, T, C0, H, W) -> tokens (N, T, H, W, C_last) after `norm`.
  Tensor features(const Tensor& x, const std::array<vrt::StageFlows, 4>& flows, VrtTrace* trace) const;
  // The flows of every scale (spec §5) from the RGB frames (N, T, 3, H, W).
  std::array<vrt::StageFlows, 4> flows(const Tensor& rgb, VrtTrace* trace) const;
  // The restoration heads (spec §3.1 step 7): x (N·T, C0, H, W) -> (N·T, out_chans, sH, sW).
  Tensor reconstruct(const Tensor& x) const;
  Tensor forward_restoration(const Tensor& x, VrtTrace* trace) const;
  Tensor forward_interpolation(const Tensor& x, VrtTrace* trace) const;

  VrtConfig cfg_;
  ModelInfo info_;
  DType dtype_;
  SpyNet spynet_;
  Conv2d conv_first_;
  std::vector<vrt::Stage> stages_;  // stage1..stage7
  vrt::LayerNorm stage8_norm_, norm_;
  vrt::Linear stage8_linear_, conv_after_body_;
  std::vector<vrt::Rtmsa> stage8_;
  // Heads: SR (conv_before_upsample, upsample convs, conv_last), x1 (conv_last), VFI (linear_fuse, conv_last).
  Conv2d conv_before_upsample_, conv_last_, linear_fuse_;
  std::vector<Conv2d> upsample_;  // the x2 (or x3) steps, then the 64 -> 64 conv
};

}  // namespace vrestore

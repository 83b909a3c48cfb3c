// VRT's stages (upstream models/network_vrt.py Stage and RTMSA; spec_vrt.md §3.3, §4.1, §4.2):
// the seven multi-scale stages (reshape, mutual + self TMSA group, self TMSA group, parallel
// warping) and the residual layers of stage 8. Between stages, features are frame-major
// (N, D, C, H, W), the layout of a per-frame convolution over N·D frames; inside a stage they are
// channel-last tokens (N, D, H, W, C). Keys are the upstream module names.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "models/vrt_align.h"
#include "models/vrt_blocks.h"

namespace vrestore::vrt {

// The optical flows a stage aligns with, at its scale: [j] = distance j + 1 frames,
// (N, D - 1 - j, 2, H, W) f32, one entry per neighbour (pa_frames / 2); empty without warping.
struct StageFlows {
  std::vector<Tensor> backward, forward;
};

// Per-stage hyper-parameters, from the upstream constructor arguments.
struct StageSpec {
  enum class Reshape { None, Down, Up };
  Reshape reshape = Reshape::None;
  int64_t in_dim = 0, dim = 0, depth = 0, heads = 0;
  std::array<int, 3> window{};  // (Wt, Wh, Ww); the mutual group uses (2, Wh, Ww)
  double mul_attn_ratio = 0.75, mlp_ratio = 2.0;
  int pa_frames = 0;            // 0: no parallel warping (frame interpolation)
  int64_t deformable_groups = 0;
  float max_residue = 10.0f;    // 10 / the stage's scale
};

// Stage k (1..7): reshape ('none': LayerNorm; 'down' / 'up': StageReshape), then
// x += linear1(TMSAG1(x)) (⌊depth·mul_attn_ratio⌋ mutual + self blocks, window (2, Wh, Ww)),
// x += linear2(TMSAG2(x)) (the other blocks, self attention, the full window), then parallel
// warping, whose fused result replaces x. Keys <name>.reshape.{1,2}, <name>.residual_group{1,2},
// <name>.linear{1,2}, <name>.pa_deform, <name>.pa_fuse.
struct Stage {
  StageSpec spec;
  LayerNorm norm;  // 'none' reshape only
  std::optional<StageReshape> reshape;
  Tmsag residual_group1, residual_group2;
  Linear linear1, linear2;
  std::optional<ParallelWarp> warp;

  static Stage load(const TensorSource& source, const std::string& name, const StageSpec& spec);
  // x (N, D, C', H', W') frame-major -> (N, D, C, H, W), H = H' / 2 after 'down', 2 H' after 'up'.
  Tensor operator()(const Tensor& x, const StageFlows& flows) const;
};

// A stage-8 residual layer (RTMSA): y + linear(TMSAG(y)), self attention only. Keys
// <name>.residual_group, <name>.linear.
struct Rtmsa {
  Tmsag residual_group;
  Linear linear;
  static Rtmsa load(const TensorSource& source, const std::string& name, int64_t dim, int64_t depth, int64_t heads,
                    const std::array<int, 3>& window, double mlp_ratio);
  // y (N, D, H, W, C) -> (N, D, H, W, C).
  Tensor operator()(const Tensor& y) const;
};

// Frame-major (N, D, C, H, W) features as channel-last tokens (N, D, H, W, C), and back.
Tensor frames_to_tokens(const Tensor& x);
Tensor tokens_to_frames(const Tensor& y);

}  // namespace vrestore::vrt

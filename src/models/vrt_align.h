// VRT's alignment side (upstream models/network_vrt.py, spec_vrt.md §4.1 step 1, §5, §6): the
// stage reshapes, flow composition for pa_frames 4/6, the flow-guided deformable alignment
// (DCNv2PackFlowGuided) and a stage's parallel-warping step, composed from ops (core/ops.h,
// core/ops_vrt.h). Flows are planar (N, 2, H, W) f32 in pixels, channel 0 = dx, 1 = dy, whatever
// the feature dtype; features channel-first.
#pragma once

#include <string>
#include <vector>

#include "models/vrt_blocks.h"

namespace vrestore::vrt {

// Rows [begin, begin + count) of dimension 1 of x (N, D, ...) as one batch (N·count, ...): frames
// of a sequence, or pairs of a flow list, as a batch for a per-frame op.
Tensor rows_as_batch(const Tensor& x, int64_t begin, int64_t count);

// Stage.reshape for 'down' (stages 2–4) and 'up' (5–7): the (neiw, neih, c) rearrange with dx
// outermost (spec §10.5; not PixelShuffle's order), LayerNorm, Linear. Keys <name>.1 (LayerNorm
// over 4C' for down, C'/4 for up) and <name>.2 (Linear to dim).
struct StageReshape {
  enum class Mode { Down, Up };
  Mode mode = Mode::Down;
  LayerNorm norm;
  Linear linear;
  int64_t in_dim = 0, dim = 0;
  static StageReshape load(const TensorSource& source, const std::string& name, Mode mode, int64_t in_dim,
                           int64_t dim);
  // down: x (N, C', D, 2H, 2W) -> (N, dim, D, H, W); up: x (N, C', D, H, W) -> (N, dim, D, 2H, 2W).
  // Throws vrestore::Error on odd H or W (down) or C' not a multiple of 4 (up).
  Tensor operator()(const Tensor& x) const;
  // The same from and to channel-last tokens: x (N, D, H', W', C') -> (N, D, H, W, dim).
  Tensor tokens(const Tensor& x) const;
};

// Longer-distance flows of VRT.get_flow_4frames / get_flow_6frames at one scale, from the 1-frame
// flows (N, D-1, 2, H, W) f32 (backward: entry i warps frame i+1 onto frame i; forward: frame i
// onto i+1). Returns `count` (1..3) lists: [0] = the input, [j] (N, D-1-j, 2, H, W) = distance j+1,
// composed with flow_warp (bilinear, zeros): backward f2[i] = f1[i] + warp(f1[i+1], f1[i]),
// f3[i] = f2[i] + warp(f1[i+2], f2[i]); forward f2[i] = f1[i+1] + warp(f1[i], f1[i+1]),
// f3[i] = f2[i+1] + warp(f1[i], f2[i+1]). Needs D - 1 >= count.
std::vector<Tensor> compose_flows(const Tensor& flows_1, bool backward, int count);

// DCNv2PackFlowGuided (spec §6.4) for k = pa_frames / 2 neighbours: conv_offset (4 3×3 convs,
// LeakyReLU 0.1 between) on [warped_1..k, current, flow_1..k] -> flow_guided_offset -> modulated
// deform_conv2d on the unwarped neighbours with k weight groups. The offset branch computes in
// the dtype of its weights (requested with Keep::F32: offsets and masks stay f32 in an f16 model). Keys <name>.weight (C, C, 3, 3),
// <name>.bias, <name>.conv_offset.{0,2,4,6}.
struct DcnFlowGuided {
  int64_t channels = 0, neighbours = 0, deformable_groups = 0;
  float max_residue = 0;
  std::vector<Tensor> weight, bias;  // one per weight group: output channels [g·C/k, (g+1)·C/k)
  std::vector<Tensor> offset_weight, offset_bias;  // conv_offset.0/2/4/6
  static DcnFlowGuided load(const TensorSource& source, const std::string& name, int64_t channels, int pa_frames,
                            int64_t deformable_groups, float max_residue);
  // neighbours, warped: k tensors (N, C, H, W); current (N, C, H, W); flows: k (N, 2, H, W) f32
  // -> (N, C, H, W). `offsets`, when given, receives the offset and mask passed to deform_conv2d.
  Tensor operator()(const std::vector<Tensor>& neighbours, const std::vector<Tensor>& warped, const Tensor& current,
                    const std::vector<Tensor>& flows, ops::FlowGuidedOffset* offsets = nullptr) const;
};

// A stage's parallel warping (Stage.get_aligned_feature_{2,4,6}frames + pa_fuse, spec §6.3):
// each position aligns its k next (backward) and k previous (forward) frames, zeros beyond the
// sequence (and all-zero output at the last / first position), then pa_fuse (GEGLU MLP 3C -> C)
// on [x, backward, forward] replaces x. Keys <name>.pa_deform, <name>.pa_fuse.
struct ParallelWarp {
  int pa_frames = 2;
  DcnFlowGuided pa_deform;
  MlpGeglu pa_fuse;
  static ParallelWarp load(const TensorSource& source, const std::string& name, int64_t dim, int pa_frames,
                           int64_t deformable_groups, float max_residue);
  // x (N, D, C, H, W); flows_backward[j], flows_forward[j] (N, D-1-j, 2, H, W) f32 for j < k
  // -> (N, C, D, H, W). x_backward / x_forward, when given, receive the aligned (N, D, C, H, W).
  Tensor operator()(const Tensor& x, const std::vector<Tensor>& flows_backward,
                    const std::vector<Tensor>& flows_forward, Tensor* x_backward = nullptr,
                    Tensor* x_forward = nullptr) const;
  // The same with the result as channel-last tokens (N, D, H, W, C).
  Tensor tokens(const Tensor& x, const std::vector<Tensor>& flows_backward, const std::vector<Tensor>& flows_forward,
                Tensor* x_backward = nullptr, Tensor* x_forward = nullptr) const;
};

}  // namespace vrestore::vrt

// VRT's stages from blocks and ops (vrt_stage.h); no tensor data is touched here.
#include "models/vrt_stage.h"

#include "core/check.h"
#include "core/ops.h"

namespace vrestore::vrt {

Tensor frames_to_tokens(const Tensor& x) {
  VR_CHECK(x.dim() == 5, "VRT: features have shape ", x.shape_str(), ", expected (N, D, C, H, W)");
  const int64_t n = x.size(0), d = x.size(1), c = x.size(2), h = x.size(3), w = x.size(4);
  return ops::channels_last(x.reshape({n * d, c, h * w})).reshape({n, d, h, w, c});
}

Tensor tokens_to_frames(const Tensor& y) {
  VR_CHECK(y.dim() == 5, "VRT: tokens have shape ", y.shape_str(), ", expected (N, D, H, W, C)");
  const int64_t n = y.size(0), d = y.size(1), h = y.size(2), w = y.size(3), c = y.size(4);
  return ops::channels_first(y.reshape({n * d, h * w, c})).reshape({n, d, c, h, w});
}

Stage Stage::load(const TensorSource& source, const std::string& name, const StageSpec& spec) {
  Stage s;
  s.spec = spec;
  if (spec.reshape == StageSpec::Reshape::None) {
    VR_CHECK(spec.in_dim == spec.dim, name, ": a stage without reshape maps ", spec.in_dim, " channels to ", spec.dim,
             ", expected equal widths");
    s.norm = LayerNorm::load(source, name + ".reshape.1", spec.dim);
  } else {
    const auto mode = spec.reshape == StageSpec::Reshape::Down ? StageReshape::Mode::Down : StageReshape::Mode::Up;
    s.reshape = StageReshape::load(source, name + ".reshape", mode, spec.in_dim, spec.dim);
  }
  // int(depth * mul_attn_ratio) blocks of mutual attention, as upstream truncates.
  const auto mutual_depth = static_cast<int64_t>(static_cast<double>(spec.depth) * spec.mul_attn_ratio);
  VR_CHECK(mutual_depth >= 0 && mutual_depth <= spec.depth, name, ": mul_attn_ratio ", spec.mul_attn_ratio,
           " of depth ", spec.depth, " gives ", mutual_depth, " mutual blocks");
  const std::array<int, 3> mutual_window{2, spec.window[1], spec.window[2]};
  s.residual_group1 = Tmsag::load(source, name + ".residual_group1", spec.dim, mutual_depth, spec.heads, mutual_window,
                                  /*mutual=*/true, spec.mlp_ratio);
  s.linear1 = Linear::load(source, name + ".linear1", spec.dim, spec.dim);
  s.residual_group2 = Tmsag::load(source, name + ".residual_group2", spec.dim, spec.depth - mutual_depth, spec.heads,
                                  spec.window, /*mutual=*/false, spec.mlp_ratio);
  s.linear2 = Linear::load(source, name + ".linear2", spec.dim, spec.dim);
  if (spec.pa_frames > 0)
    s.warp = ParallelWarp::load(source, name, spec.dim, spec.pa_frames, spec.deformable_groups, spec.max_residue);
  return s;
}

Tensor Stage::operator()(const Tensor& x, const StageFlows& flows) const {
  const Tensor in = frames_to_tokens(x);  // (N, D, H', W', C')
  Tensor y = reshape ? reshape->tokens(in) : norm(in);
  // x = linear(group(x)) + x, twice; linear acts per token, so channel-last throughout.
  Tensor r = linear1(residual_group1.tokens(y));
  ops::add_(r, y);
  y = linear2(residual_group2.tokens(r));
  ops::add_(y, r);
  if (!warp) return tokens_to_frames(y);
  return tokens_to_frames(warp->tokens(tokens_to_frames(y), flows.backward, flows.forward));
}

Rtmsa Rtmsa::load(const TensorSource& source, const std::string& name, int64_t dim, int64_t depth, int64_t heads,
                  const std::array<int, 3>& window, double mlp_ratio) {
  return {Tmsag::load(source, name + ".residual_group", dim, depth, heads, window, /*mutual=*/false, mlp_ratio),
          Linear::load(source, name + ".linear", dim, dim)};
}

Tensor Rtmsa::operator()(const Tensor& y) const {
  Tensor out = linear(residual_group.tokens(y));
  ops::add_(out, y);
  return out;
}

}  // namespace vrestore::vrt

// VRT's alignment side from ops (vrt_align.h); no tensor data is touched here.
#include "models/vrt_align.h"

#include <algorithm>

#include "core/check.h"
#include "core/ops.h"

namespace vrestore::vrt {

namespace {

// Frame i of a (N, D, ...) sequence as (N, ...).
Tensor frame(const Tensor& seq, int64_t i) { return rows_as_batch(seq, i, 1); }

// Frames (N, ...) stacked into (N, D, ...).
Tensor stack_frames(const std::vector<Tensor>& frames) {
  std::vector<Tensor> parts;
  for (const Tensor& f : frames) {
    Shape shape{f.size(0), 1};
    for (int d = 1; d < f.dim(); ++d) shape.push_back(f.size(d));
    parts.push_back(f.reshape(shape));
  }
  return ops::cat1(parts);
}

}  // namespace

Tensor rows_as_batch(const Tensor& x, int64_t begin, int64_t count) {
  Shape shape{x.size(0) * count};
  for (int d = 2; d < x.dim(); ++d) shape.push_back(x.size(d));
  return ops::narrow1(x, begin, count).reshape(shape);
}

StageReshape StageReshape::load(const TensorSource& source, const std::string& name, Mode mode, int64_t in_dim,
                                int64_t dim) {
  VR_CHECK(mode == Mode::Down || in_dim % 4 == 0, name, ": 'up' reshape of ", in_dim,
           " channels, expected a multiple of 4");
  const int64_t norm_dim = mode == Mode::Down ? 4 * in_dim : in_dim / 4;
  return {mode, LayerNorm::load(source, name + ".1", norm_dim), Linear::load(source, name + ".2", norm_dim, dim),
          in_dim, dim};
}

Tensor StageReshape::operator()(const Tensor& x) const {
  VR_CHECK(x.dim() == 5 && x.size(1) == in_dim, "Stage reshape: x has shape ", x.shape_str(), ", expected (N, ", in_dim,
           ", D, H, W)");
  VR_CHECK(mode == Mode::Up || (x.size(3) % 2 == 0 && x.size(4) % 2 == 0), "Stage reshape 'down': x has shape ",
           x.shape_str(), ", expected even H and W");
  return ops::channels_first(tokens(ops::channels_last(x)));
}

Tensor StageReshape::tokens(const Tensor& x) const {
  VR_CHECK(x.dim() == 5 && x.size(4) == in_dim, "Stage reshape: x has shape ", x.shape_str(), ", expected (N, D, H, W, ",
           in_dim, ")");
  const int64_t n = x.size(0), d = x.size(1);
  // Each channels_last below is one batched transpose (B, R, C) -> (B, C, R) of a reshaped view.
  if (mode == Mode::Down) {
    VR_CHECK(x.size(2) % 2 == 0 && x.size(3) % 2 == 0, "Stage reshape 'down': x has shape ", x.shape_str(),
             ", expected even H and W");
    const int64_t h = x.size(2) / 2, w = x.size(3) / 2, c = in_dim;
    // x is (N·D·H, dy, W, dx, c)
    const Tensor t2 = ops::channels_last(x.reshape({n * d * h * 2, 2 * w, c}));  // (N·D·H, dy, c, W, dx)
    const Tensor t3 = ops::channels_last(t2.reshape({n * d * h, 2 * c, 2 * w}));  // (N·D·H, W, dx, dy, c)
    return linear(norm(t3.reshape({n, d, h, w, 4 * c})));
  }
  const int64_t h = x.size(2), w = x.size(3), c = in_dim / 4;
  // x is (N·D·H, W, dx, dy, c)
  const Tensor t2 = ops::channels_last(x.reshape({n * d * h, 2 * w, 2 * c}));  // (N·D·H, dy, c, W, dx)
  const Tensor t3 = ops::channels_last(t2.reshape({n * d * h * 2, c, 2 * w}));  // (N·D·H, dy, W, dx, c)
  return linear(norm(t3.reshape({n, d, 2 * h, 2 * w, c})));
}

std::vector<Tensor> compose_flows(const Tensor& flows_1, bool backward, int count) {
  VR_CHECK(flows_1.dim() == 5 && flows_1.size(2) == 2, "compose_flows: flows have shape ", flows_1.shape_str(),
           ", expected (N, D-1, 2, H, W)");
  VR_CHECK(count >= 1 && count <= 3 && flows_1.size(1) >= count, "compose_flows: ", count,
           " distances asked of ", flows_1.size(1), " 1-frame flows, expected 1 to 3 and at most the flows");
  std::vector<Tensor> out{flows_1};
  const int64_t n = flows_1.size(0), pairs = flows_1.size(1), h = flows_1.size(3), w = flows_1.size(4);
  for (int j = 1; j < count; ++j) {
    const Tensor& previous = out.back();  // distance j, (N, pairs - j + 1, 2, H, W)
    const int64_t m = pairs - j;
    // backward: f[i] = prev[i] + warp(f1[i + j], prev[i]); forward: f[i] = prev[i+1] + warp(f1[i], prev[i+1]).
    const Tensor base = rows_as_batch(previous, backward ? 0 : 1, m);
    Tensor composed = ops::flow_warp(rows_as_batch(flows_1, backward ? j : 0, m), base, WarpPadding::Zeros);
    ops::add_(composed, base);
    out.push_back(composed.reshape({n, m, 2, h, w}));
  }
  return out;
}

DcnFlowGuided DcnFlowGuided::load(const TensorSource& source, const std::string& name, int64_t channels,
                                  int pa_frames, int64_t deformable_groups, float max_residue) {
  const int64_t k = pa_frames / 2;
  VR_CHECK(pa_frames == 2 || pa_frames == 4 || pa_frames == 6, name, ": pa_frames is ", pa_frames,
           ", expected 2, 4 or 6");
  VR_CHECK(deformable_groups % k == 0 && (k * channels) % deformable_groups == 0 && channels % k == 0, name,
           ": deformable_groups ", deformable_groups, " with ", channels, " channels and ", k,
           " neighbours, expected groups divisible by the neighbours and dividing ", k * channels, " channels");
  DcnFlowGuided d;
  d.channels = channels;
  d.neighbours = k;
  d.deformable_groups = deformable_groups;
  d.max_residue = max_residue;
  const Tensor weight = source(name + ".weight", {channels, channels, 3, 3}, Keep::ModelDType);
  const Tensor bias = source(name + ".bias", {channels}, Keep::ModelDType);
  const int64_t per_group = channels / k;
  for (int64_t g = 0; g < k; ++g) {
    std::vector<int64_t> rows;
    for (int64_t r = g * per_group; r < (g + 1) * per_group; ++r) rows.push_back(r);
    d.weight.push_back(k == 1 ? weight : ops::index_select0(weight, rows));
    d.bias.push_back(k == 1 ? bias : ops::index_select0(bias, rows));
  }
  const int64_t in[4] = {(k + 1) * channels + 2 * k, channels, channels, channels};
  const int64_t out[4] = {channels, channels, channels, 27 * deformable_groups};
  for (int i = 0; i < 4; ++i) {
    const std::string conv = name + ".conv_offset." + std::to_string(2 * i);
    d.offset_weight.push_back(source(conv + ".weight", {out[i], in[i], 3, 3}, Keep::F32));
    d.offset_bias.push_back(source(conv + ".bias", {out[i]}, Keep::F32));
  }
  return d;
}

Tensor DcnFlowGuided::operator()(const std::vector<Tensor>& neighbours, const std::vector<Tensor>& warped,
                                 const Tensor& current, const std::vector<Tensor>& flows,
                                 ops::FlowGuidedOffset* offsets) const {
  const auto k = static_cast<size_t>(this->neighbours);
  VR_CHECK(neighbours.size() == k && warped.size() == k && flows.size() == k, "DCNv2PackFlowGuided: got ",
           neighbours.size(), " neighbours, ", warped.size(), " warped and ", flows.size(), " flows, expected ", k,
           " of each");
  // The offset branch runs in its weights' dtype: f32 in a mixed-precision model (like DcnPack's
  // conv_offset), so the f16 features are widened and the f32 flows enter unrounded.
  const DType branch = offset_weight[0].dtype();
  std::vector<Tensor> branch_in;
  for (const Tensor& t : warped) branch_in.push_back(ops::to_dtype(t, branch));
  branch_in.push_back(ops::to_dtype(current, branch));
  for (const Tensor& f : flows) branch_in.push_back(ops::to_dtype(f, branch));
  Tensor raw = ops::cat1(branch_in);
  for (int i = 0; i < 4; ++i) {
    ops::Conv2dParams p;
    p.activation = i < 3 ? ops::Activation::LeakyReLU : ops::Activation::None;
    raw = ops::conv2d(raw, offset_weight[i], &offset_bias[i], p);
  }
  const ops::FlowGuidedOffset om = ops::flow_guided_offset(raw, ops::cat1(flows), max_residue);
  if (offsets) *offsets = om;
  // Weight group g reads neighbour g's channels with its own dg / k offset groups.
  const int64_t groups_per_neighbour = deformable_groups / this->neighbours;
  std::vector<Tensor> outs;
  for (size_t g = 0; g < k; ++g) {
    const auto gi = static_cast<int64_t>(g);
    const Tensor offset = k == 1 ? om.offset : ops::narrow1(om.offset, gi * 18 * groups_per_neighbour, 18 * groups_per_neighbour);
    const Tensor mask = k == 1 ? om.mask : ops::narrow1(om.mask, gi * 9 * groups_per_neighbour, 9 * groups_per_neighbour);
    outs.push_back(ops::deform_conv2d(neighbours[g], offset, mask, weight[g], &bias[g]));
  }
  return k == 1 ? outs[0] : ops::cat1(outs);
}

ParallelWarp ParallelWarp::load(const TensorSource& source, const std::string& name, int64_t dim, int pa_frames,
                                int64_t deformable_groups, float max_residue) {
  ParallelWarp p;
  p.pa_frames = pa_frames;
  p.pa_deform = DcnFlowGuided::load(source, name + ".pa_deform", dim, pa_frames, deformable_groups, max_residue);
  p.pa_fuse = MlpGeglu::load(source, name + ".pa_fuse", 3 * dim, 3 * dim, dim);
  return p;
}

Tensor ParallelWarp::operator()(const Tensor& x, const std::vector<Tensor>& flows_backward,
                                const std::vector<Tensor>& flows_forward, Tensor* x_backward,
                                Tensor* x_forward) const {
  const Tensor y = tokens(x, flows_backward, flows_forward, x_backward, x_forward);  // (N, D, H, W, C)
  const int64_t n = x.size(0), d = x.size(1), c = x.size(2), h = x.size(3), w = x.size(4);
  return ops::channels_first(y.reshape({n, d * h * w, c})).reshape({n, c, d, h, w});
}

Tensor ParallelWarp::tokens(const Tensor& x, const std::vector<Tensor>& flows_backward,
                            const std::vector<Tensor>& flows_forward, Tensor* x_backward, Tensor* x_forward) const {
  const int64_t k = pa_frames / 2;
  VR_CHECK(x.dim() == 5 && x.size(2) == pa_deform.channels, "parallel warping: x has shape ", x.shape_str(),
           ", expected (N, D, ", pa_deform.channels, ", H, W)");
  const int64_t n = x.size(0), d = x.size(1), c = x.size(2), h = x.size(3), w = x.size(4);
  VR_CHECK(static_cast<int64_t>(flows_backward.size()) == k && static_cast<int64_t>(flows_forward.size()) == k,
           "parallel warping: got ", flows_backward.size(), " backward and ", flows_forward.size(),
           " forward flow lists, expected ", k, " (pa_frames / 2) of each");
  for (int64_t j = 0; j < k; ++j)
    for (const Tensor* f : {&flows_backward[static_cast<size_t>(j)], &flows_forward[static_cast<size_t>(j)]})
      check_shape("parallel warping", "flows", *f, {n, std::max<int64_t>(d - 1 - j, 0), 2, h, w});
  const Tensor zero_frame = Tensor::zeros({n, c, h, w}, x.dtype(), x.device());
  const Tensor zero_flow = Tensor::zeros({n, 2, h, w}, DType::F32, x.device());
  // Position t's neighbour j (1..k): frame t + j (backward) or t - j (forward), zeros beyond the ends.
  auto align = [&](int64_t t, bool backward) {
    std::vector<Tensor> neighbours, warped, flows;
    for (int64_t j = 1; j <= k; ++j) {
      const int64_t source_frame = backward ? t + j : t - j;
      if (source_frame < 0 || source_frame >= d) {
        neighbours.push_back(zero_frame);
        warped.push_back(zero_frame);
        flows.push_back(zero_flow);
        continue;
      }
      const Tensor& list = (backward ? flows_backward : flows_forward)[static_cast<size_t>(j - 1)];
      const Tensor flow = frame(list, backward ? t : source_frame);
      const Tensor neighbour = frame(x, source_frame);
      neighbours.push_back(neighbour);
      warped.push_back(ops::flow_warp(neighbour, flow, WarpPadding::Zeros));
      flows.push_back(flow);
    }
    return pa_deform(neighbours, warped, frame(x, t), flows);
  };
  std::vector<Tensor> backward_frames, forward_frames;
  for (int64_t t = 0; t < d; ++t) {
    backward_frames.push_back(t == d - 1 ? zero_frame : align(t, true));
    forward_frames.push_back(t == 0 ? zero_frame : align(t, false));
  }
  const Tensor xb = stack_frames(backward_frames), xf = stack_frames(forward_frames);
  if (x_backward) *x_backward = xb;
  if (x_forward) *x_forward = xf;
  const Shape per_frame{n * d, c, h, w};
  const Tensor fused_in = ops::channels_last(ops::cat1({x.reshape(per_frame), xb.reshape(per_frame), xf.reshape(per_frame)}));
  return pa_fuse(fused_in).reshape({n, d, h, w, c});
}

}  // namespace vrestore::vrt

// VRT from stages and ops (vrt.h); no tensor data is touched here.
#include "models/vrt.h"

#include <algorithm>
#include <optional>
#include <string>

#include "core/check.h"
#include "core/matmul_precision.h"
#include "core/ops_vrt.h"

namespace vrestore {
namespace {

using vrt::StageFlows;
using vrt::StageSpec;

constexpr int64_t kReconstructionWidth = 64;  // num_feat of the heads, fixed upstream
constexpr float kBeforeUpsampleSlope = 0.01f;  // nn.LeakyReLU() default after conv_before_upsample
constexpr float kFuseSlope = 0.2f;             // F.leaky_relu(linear_fuse(x), 0.2) in the VFI head
constexpr int kFuseReflection = 3;             // ReflectionPad2d(3) before the 7x7 conv_last
// peak_bytes(): a fit of measured peaks (docs/tiling.md), rounded up.
constexpr double kPeakWidths = 40.0;
constexpr double kPeakFixedBytes = 64.0 * 1048576.0;

// Stage k's reshape and scale: stage1 'none' at 1/1, stages 2-4 'down' to 1/8, 5-7 'up' back.
constexpr StageSpec::Reshape kReshapes[7] = {StageSpec::Reshape::None, StageSpec::Reshape::Down,
                                             StageSpec::Reshape::Down, StageSpec::Reshape::Down,
                                             StageSpec::Reshape::Up,   StageSpec::Reshape::Up,
                                             StageSpec::Reshape::Up};
constexpr int kStageScale[7] = {0, 1, 2, 3, 2, 1, 0};  // log2 of the downscale

std::vector<int64_t> int_list(const Weights& w, const char* key, size_t min_size) {
  const nlohmann::json& c = w.config();
  const std::string where = concat("weights '", w.file().path(), "': config '", key, "'");
  VR_CHECK(c.contains(key) && c[key].is_array() && c[key].size() >= min_size, where, " must be a list of at least ",
           min_size, " integers");
  std::vector<int64_t> out;
  for (const nlohmann::json& v : c[key]) {
    VR_CHECK(v.is_number_integer(), where, " holds ", v.dump(), ", expected integers");
    out.push_back(v.get<int64_t>());
  }
  return out;
}

std::array<int, 3> int3(const Weights& w, const char* key) {
  const std::vector<int64_t> v = int_list(w, key, 3);
  VR_CHECK(v.size() == 3 && v[0] >= 1 && v[1] >= 1 && v[2] >= 1 && v[0] <= 4096 && v[1] <= 4096 && v[2] <= 4096,
           "weights '", w.file().path(), "': config '", key, "' must be 3 integers in [1, 4096]");
  return {static_cast<int>(v[0]), static_cast<int>(v[1]), static_cast<int>(v[2])};
}

// A per-frame Conv3d with kernel (1, 3, 3) and padding (0, 1, 1) as the 3x3 conv2d it is.
// Keys <name>.weight (out, in, 1, 3, 3), <name>.bias (out).
Conv2d frame_conv(Weights& w, const std::string& name, int64_t out, int64_t in,
                  ops::Activation act = ops::Activation::None) {
  Conv2d c;
  c.weight = w.take(name + ".weight", {out, in, 1, 3, 3}).reshape({out, in, 3, 3});
  c.bias = w.take(name + ".bias", {out});
  c.params.activation = act;
  return c;
}

// Checks a block's stored relative_position_index against the formula for its window (the
// index is derivable; a file whose index differs was made for another window or is damaged).
void check_relative_position_index(Weights& w, const std::string& block, const std::array<int, 3>& window) {
  const int n = window[0] * window[1] * window[2];
  const std::string key = block + ".attn.relative_position_index";
  const std::vector<int64_t> stored = w.take_indices(key, {n, n});
  const int full[3] = {window[0], window[1], window[2]};
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      const int64_t want = relative_position_index(full, i, j);
      const int64_t got = stored[static_cast<size_t>(i) * static_cast<size_t>(n) + static_cast<size_t>(j)];
      VR_CHECK(got == want, "weights '", w.file().path(), "': ", key, "[", i, "][", j, "] is ", got, ", but window (",
               window[0], ", ", window[1], ", ", window[2], ") gives ", want,
               ": the file does not match its window_size, or is damaged");
    }
}

void check_group_indices(Weights& w, const std::string& group, int64_t depth, const std::array<int, 3>& window) {
  for (int64_t j = 0; j < depth; ++j) check_relative_position_index(w, concat(group, ".blocks.", j), window);
}


// x (N, T, C, H, W) + shift (N, C) broadcast over each sample's frames and pixels, through the
// channel-last layout where add_broadcast_ adds a (C) vector to every token.
Tensor add_per_sample(const Tensor& x, const Tensor& shift) {
  const int64_t n = x.size(0), t = x.size(1), c = x.size(2), h = x.size(3), w = x.size(4);
  Tensor tokens = ops::channels_last(x.reshape({n * t, c, h * w})).reshape({1, n, t * h * w * c});
  std::vector<Tensor> samples;
  for (int64_t i = 0; i < n; ++i) {
    Tensor sample = ops::narrow1(tokens, i, 1).reshape({t * h * w, c});
    ops::add_broadcast_(sample, ops::narrow1(shift.reshape({1, n, c}), i, 1).reshape({c}));
    samples.push_back(sample.reshape({1, 1, t * h * w * c}));
  }
  const Tensor all = n == 1 ? samples[0] : ops::cat1(samples);
  return ops::channels_first(all.reshape({n * t, h * w, c})).reshape({n, t, c, h, w});
}

}  // namespace

VrtConfig VrtConfig::from(const Weights& w) {
  VrtConfig c;
  const std::string file = concat("weights '", w.file().path(), "'");
  c.upscale = static_cast<int>(w.config_int("upscale", 1, 16));
  c.in_chans = static_cast<int>(w.config_int("in_chans", 1, 64));
  c.out_chans = static_cast<int>(w.config_int("out_chans", 1, 64));
  c.img_size = int3(w, "img_size");
  c.window_size = int3(w, "window_size");
  c.depths = int_list(w, "depths", 8);
  c.embed_dims = int_list(w, "embed_dims", 8);
  c.num_heads = int_list(w, "num_heads", 8);
  c.indep_reconsts = int_list(w, "indep_reconsts", 0);
  c.mul_attn_ratio = w.config_number("mul_attn_ratio");
  c.mlp_ratio = w.config_number("mlp_ratio");
  c.pa_frames = static_cast<int>(w.config_int("pa_frames", 0, 6));
  c.deformable_groups = w.config_int("deformable_groups", 1, 1024);
  c.nonblind_denoising = w.config_bool("nonblind_denoising");
  VR_CHECK(w.config_bool("qkv_bias"), file, ": config qkv_bias is false; every VRT release uses true and only that is supported");
  if (w.config().contains("qk_scale") && !w.config()["qk_scale"].is_null())
    c.qk_scale = static_cast<float>(w.config_number("qk_scale"));
  VR_CHECK(c.pa_frames % 2 == 0, file, ": config pa_frames is ", c.pa_frames, ", expected 0, 2, 4 or 6");
  VR_CHECK(c.depths.size() == c.embed_dims.size() && c.depths.size() == c.num_heads.size(), file,
           ": config depths, embed_dims and num_heads have ", c.depths.size(), ", ", c.embed_dims.size(), " and ",
           c.num_heads.size(), " entries, expected one per layer each");
  for (size_t i = 7; i < c.embed_dims.size(); ++i)
    VR_CHECK(c.embed_dims[i] == c.embed_dims[7], file, ": config embed_dims[", i, "] is ", c.embed_dims[i],
             ", expected every stage-8 layer to have embed_dims[7] = ", c.embed_dims[7]);
  VR_CHECK(c.pa_frames == 0 || c.upscale == 1 || c.upscale == 3 || (c.upscale & (c.upscale - 1)) == 0, file,
           ": config upscale ", c.upscale, ", expected 1, 3 or a power of 2");
  VR_CHECK(c.out_chans == c.in_chans, file, ": config out_chans ", c.out_chans, " differs from in_chans ", c.in_chans,
           "; VRT adds its input to the output, so they must match");
  VR_CHECK(!c.nonblind_denoising || c.pa_frames > 0, file,
           ": non-blind denoising needs flows (pa_frames > 0), got pa_frames 0");
  return c;
}

Vrt::Vrt(Weights& w) : cfg_(VrtConfig::from(w)), dtype_(w.dtype()) {
  const VrtConfig& c = cfg_;
  info_ = {w.arch(), w.config().dump(), c.pa_frames ? c.upscale : 1, c.pa_frames ? 0 : c.img_size[0],
           static_cast<int>(c.input_channels())};
  const vrt::TensorSource source = [&w](const std::string& key, const Shape& shape, vrt::Keep keep) {
    std::optional<Weights::KeepF32> in_f32;
    if (keep == vrt::Keep::F32) in_f32.emplace(w);
    return w.take(key, shape);
  };
  const int64_t c0 = c.embed_dims[0];
  const int64_t first_in = c.pa_frames ? c.in_chans * 9 + (c.nonblind_denoising ? 1 : 0) : c.in_chans;
  conv_first_ = frame_conv(w, "conv_first", c0, first_in);
  if (c.pa_frames) spynet_ = SpyNet::load(w, "spynet.", false);

  for (int k = 0; k < 7; ++k) {
    StageSpec s;
    s.reshape = kReshapes[k];
    s.in_dim = c.embed_dims[static_cast<size_t>(std::max(k - 1, 0))];
    s.dim = c.embed_dims[static_cast<size_t>(k)];
    s.depth = c.depths[static_cast<size_t>(k)];
    s.heads = c.num_heads[static_cast<size_t>(k)];
    s.window = c.window_size;
    s.mul_attn_ratio = c.mul_attn_ratio;
    s.mlp_ratio = c.mlp_ratio;
    s.pa_frames = c.pa_frames;
    s.deformable_groups = c.deformable_groups;
    s.max_residue = 10.0f / static_cast<float>(1 << kStageScale[k]);
    const std::string name = concat("stage", k + 1);
    stages_.push_back(vrt::Stage::load(source, name, s));
    const auto mutual_depth = static_cast<int64_t>(static_cast<double>(s.depth) * s.mul_attn_ratio);
    check_group_indices(w, name + ".residual_group1", mutual_depth, {2, c.window_size[1], c.window_size[2]});
    check_group_indices(w, name + ".residual_group2", s.depth - mutual_depth, c.window_size);
  }
  stage8_norm_ = vrt::LayerNorm::load(source, "stage8.0.1", c.embed_dims[6]);
  stage8_linear_ = vrt::Linear::load(source, "stage8.0.2", c.embed_dims[6], c.embed_dims[7]);
  for (size_t i = 7; i < c.depths.size(); ++i) {
    const bool independent = std::count(c.indep_reconsts.begin(), c.indep_reconsts.end(), int64_t(i)) > 0;
    const std::array<int, 3> window =
        independent ? std::array<int, 3>{1, c.window_size[1], c.window_size[2]} : c.window_size;
    const std::string name = concat("stage8.", i - 6);
    stage8_.push_back(
        vrt::Rtmsa::load(source, name, c.embed_dims[i], c.depths[i], c.num_heads[i], window, c.mlp_ratio));
    check_group_indices(w, name + ".residual_group", c.depths[i], window);
  }
  norm_ = vrt::LayerNorm::load(source, "norm", c.embed_dims.back());
  conv_after_body_ = vrt::Linear::load(source, "conv_after_body", c.embed_dims.back(), c0);
  if (c.qk_scale != 0) {
    for (vrt::Stage& s : stages_)
      for (vrt::Tmsag* g : {&s.residual_group1, &s.residual_group2})
        for (vrt::Tmsa& b : g->blocks) b.attn.scale = c.qk_scale;
    for (vrt::Rtmsa& r : stage8_)
      for (vrt::Tmsa& b : r.residual_group.blocks) b.attn.scale = c.qk_scale;
  }

  if (!c.pa_frames) {  // frame interpolation head
    linear_fuse_ = Conv2d::load(w, "linear_fuse", kReconstructionWidth, c0 * c.img_size[0], 1);
    conv_last_ = Conv2d::load(w, "conv_last", c.out_chans, kReconstructionWidth, 7);
    conv_last_.params.padding = 0;  // after the reflection pad
  } else if (c.upscale == 1) {
    conv_last_ = frame_conv(w, "conv_last", c.out_chans, c0);
  } else {
    conv_before_upsample_ = frame_conv(w, "conv_before_upsample.0", kReconstructionWidth, c0);
    // Upsample: per step Conv3d (64 -> r²·64), PixelShuffle(r), LeakyReLU(0.1) (fused into the conv:
    // an element-wise activation commutes with the shuffle), then a 64 -> 64 Conv3d.
    int steps = 0;  // x2 steps: log2(upscale), or one x3 step
    for (int s = c.upscale; s > 1; s = c.upscale == 3 ? 1 : s / 2) ++steps;
    const int64_t factor = c.upscale == 3 ? 9 : 4;
    for (int k = 0; k < steps; ++k)
      upsample_.push_back(frame_conv(w, concat("upsample.", 5 * k), factor * kReconstructionWidth,
                                     kReconstructionWidth, ops::Activation::LeakyReLU));
    upsample_.push_back(frame_conv(w, concat("upsample.", 5 * steps), kReconstructionWidth, kReconstructionWidth));
    conv_last_ = frame_conv(w, "conv_last", c.out_chans, kReconstructionWidth);
  }
}

std::array<StageFlows, 4> Vrt::flows(const Tensor& rgb, VrtTrace* trace) const {
  const int64_t n = rgb.size(0), t = rgb.size(1), h = rgb.size(3), w = rgb.size(4);
  const Tensor earlier = vrt::rows_as_batch(rgb, 0, t - 1), later = vrt::rows_as_batch(rgb, 1, t - 1);  // (N·(T-1), 3, H, W)
  // Backward flows warp frame i+1 onto frame i: SpyNet(ref = i, supp = i+1); forward the reverse.
  const std::array<Tensor, 4> backward = spynet_.multi_scale(earlier, later);
  const std::array<Tensor, 4> forward = spynet_.multi_scale(later, earlier);
  const int distances = cfg_.pa_frames / 2;
  std::array<StageFlows, 4> out;
  for (int s = 0; s < 4; ++s) {
    const Shape shape{n, t - 1, 2, h >> s, w >> s};
    out[s].backward = vrt::compose_flows(backward[s].reshape(shape), /*backward=*/true, distances);
    out[s].forward = vrt::compose_flows(forward[s].reshape(shape), /*backward=*/false, distances);
  }
  if (trace) {
    trace->flows_backward.assign(static_cast<size_t>(4 * distances), Tensor());
    trace->flows_forward.assign(static_cast<size_t>(4 * distances), Tensor());
    for (int d = 0; d < distances; ++d)
      for (int s = 0; s < 4; ++s) {
        trace->flows_backward[static_cast<size_t>(4 * d + s)] = out[s].backward[static_cast<size_t>(d)];
        trace->flows_forward[static_cast<size_t>(4 * d + s)] = out[s].forward[static_cast<size_t>(d)];
      }
  }
  return out;
}

Tensor Vrt::features(const Tensor& x, const std::array<StageFlows, 4>& flows, VrtTrace* trace) const {
  std::array<Tensor, 7> out;
  out[0] = stages_[0](x, flows[0]);
  for (int k = 1; k < 7; ++k) {
    Tensor in = out[static_cast<size_t>(k - 1)];
    if (k >= 5) {  // U-Net skips: stage 6 gets stage5 + stage3, stage 7 gets stage6 + stage2
      in = in.clone();
      ops::add_(in, out[static_cast<size_t>(7 - k)]);
    }
    out[static_cast<size_t>(k)] = stages_[static_cast<size_t>(k)](in, flows[static_cast<size_t>(kStageScale[k])]);
  }
  Tensor y = out[6].clone();
  ops::add_(y, out[0]);
  if (trace) trace->stage_out = out;
  Tensor tokens = stage8_linear_(stage8_norm_(vrt::frames_to_tokens(y)));
  for (const vrt::Rtmsa& layer : stage8_) tokens = layer(tokens);
  tokens = norm_(tokens);
  if (trace) trace->features_out = tokens;
  return tokens;
}

Tensor Vrt::reconstruct(const Tensor& x) const {
  if (cfg_.upscale == 1) return conv_last_(x);
  Tensor y = conv_before_upsample_(x);
  ops::activate_(y, ops::Activation::LeakyReLU, kBeforeUpsampleSlope);
  const int r = cfg_.upscale == 3 ? 3 : 2;
  for (size_t k = 0; k + 1 < upsample_.size(); ++k) y = ops::pixel_shuffle(upsample_[k](y), r);
  return conv_last_(upsample_.back()(y));
}

Tensor Vrt::forward(const Tensor& x, VrtTrace* trace) const {
  VR_CHECK(x.dim() == 5 && x.size(2) == cfg_.input_channels(), "VRT: input has shape ", x.shape_str(),
           ", expected (N, T, ", cfg_.input_channels(), ", H, W)");
  VR_CHECK(x.size(3) % 8 == 0 && x.size(4) % 8 == 0 && x.size(3) > 0 && x.size(4) > 0, "VRT: input has shape ",
           x.shape_str(), ", expected H and W to be positive multiples of 8 (restore pads any size)");
  // At MatmulPrecision::High the bf16x3 convolutions moved the golden cases' small VRT nets 2-3x
  // beyond their tolerance (max |diff| 1.7e-3 to 3.2e-3 against 1e-3, mean 7e-5 against 2e-5), so
  // VRT keeps its products in fp32 at every setting.
  const HighestMatmulPrecision fp32_products;
  return cfg_.pa_frames ? forward_restoration(x, trace) : forward_interpolation(x, trace);
}

Tensor Vrt::forward_restoration(const Tensor& x, VrtTrace* trace) const {
  const int64_t n = x.size(0), t = x.size(1), h = x.size(3), w = x.size(4);
  const int64_t min_frames = cfg_.pa_frames / 2 + 1;
  VR_CHECK(t >= min_frames, "VRT: input has ", t, " frames, expected at least ", min_frames, " for pa_frames ",
           cfg_.pa_frames);
  const int64_t min_side = std::max<int64_t>(33, 8 * std::max(cfg_.window_size[1], cfg_.window_size[2]));
  VR_CHECK(h >= min_side && w >= min_side, "VRT: input has shape ", x.shape_str(), ", expected H and W >= ", min_side,
           " (SpyNet's pyramid and the mutual attention window at 1/8 scale; restore pads smaller frames)");
  const Tensor frames = ops::to_dtype(x, DType::F32).reshape({n * t, x.size(2), h, w});
  const Tensor rgb = cfg_.nonblind_denoising ? ops::narrow1(frames, 0, cfg_.in_chans) : frames;  // (N·T, 3, H, W)
  const Tensor clip = rgb.reshape({n, t, cfg_.in_chans, h, w});
  const std::array<StageFlows, 4> flows = this->flows(clip, trace);

  // Input alignment (spec §6.2): frame t+1 warped to t with the 1-frame backward flow, frame t-1
  // with the forward one, by nearest4; zeros where the neighbour does not exist.
  const Tensor& backward_flow = flows[0].backward[0];  // (N, T-1, 2, H, W)
  const Tensor& forward_flow = flows[0].forward[0];
  const int64_t plane = 4 * cfg_.in_chans * h * w;
  const Tensor zeros = Tensor::zeros({n, 1, plane}, DType::F32, x.device());
  const Tensor from_next = ops::nearest4_warp(vrt::rows_as_batch(clip, 1, t - 1), vrt::rows_as_batch(backward_flow, 0, t - 1));
  const Tensor from_previous =
      ops::nearest4_warp(vrt::rows_as_batch(clip, 0, t - 1), vrt::rows_as_batch(forward_flow, 0, t - 1));
  const Shape per_frame{n * t, 4 * cfg_.in_chans, h, w};
  const Tensor aligned_backward = ops::cat1({from_next.reshape({n, t - 1, plane}), zeros}).reshape(per_frame);
  const Tensor aligned_forward = ops::cat1({zeros, from_previous.reshape({n, t - 1, plane})}).reshape(per_frame);
  std::vector<Tensor> first_in{rgb, aligned_backward, aligned_forward};
  if (cfg_.nonblind_denoising) first_in.push_back(ops::narrow1(frames, cfg_.in_chans, 1));
  const Tensor conv_in = ops::cat1(first_in);  // (N·T, Cin, H, W)
  if (trace) trace->conv_first_in = conv_in.reshape({n, t, conv_in.size(1), h, w});

  Tensor feat = conv_first_(conv_in);  // (N·T, C0, H, W)
  const int64_t c0 = feat.size(1);
  const Tensor tokens = features(feat.reshape({n, t, c0, h, w}), flows, trace);
  ops::add_(feat, vrt::tokens_to_frames(conv_after_body_(tokens)).reshape(feat.shape()));
  Tensor out = reconstruct(feat);  // (N·T, out_chans, sH, sW)
  const Tensor base = cfg_.upscale == 1 ? rgb : ops::upsample_bilinear(rgb, cfg_.upscale, /*align_corners=*/false);
  ops::add_(out, ops::to_dtype(base, out.dtype()));
  return out.reshape({n, t, out.size(1), out.size(2), out.size(3)});
}

Tensor Vrt::forward_interpolation(const Tensor& x, VrtTrace* trace) const {
  const int64_t n = x.size(0), t = x.size(1), c = x.size(2), h = x.size(3), w = x.size(4);
  VR_CHECK(t == cfg_.img_size[0], "VRT frame interpolation: input has ", t, " frames, expected exactly ",
           cfg_.img_size[0], " (img_size[0] of the model)");
  VR_CHECK(h >= 8 * cfg_.window_size[1] && w >= 8 * cfg_.window_size[2], "VRT frame interpolation: input has shape ",
           x.shape_str(), ", expected H >= ", 8 * cfg_.window_size[1], " and W >= ", 8 * cfg_.window_size[2]);
  // Per sample and channel, the mean over (T, H, W) is removed first and added back at the end:
  // sums over each frame's plane, then over the frames, as two matrix products with ones.
  const Tensor frames = ops::to_dtype(x, DType::F32);
  const Tensor ones_plane = Tensor::full({1, h * w}, 1.0f).to(x.device(), DType::F32);
  const Tensor ones_frames = Tensor::full({1, t}, 1.0f).to(x.device(), DType::F32);
  const Tensor plane_sums = ops::linear(frames.reshape({n * t * c, h * w}), ones_plane, nullptr);  // (N·T·C, 1)
  Tensor means = ops::linear(ops::channels_first(plane_sums.reshape({n, t, c})), ones_frames, nullptr);  // (N, C, 1)
  ops::scale_(means, 1.0f / static_cast<float>(t * h * w));
  Tensor negated = means.clone();
  ops::scale_(negated, -1.0f);
  const Tensor centred = add_per_sample(frames.reshape({n, t, c, h, w}), negated.reshape({n, c}));
  const Tensor conv_in = centred.reshape({n * t, c, h, w});
  if (trace) trace->conv_first_in = conv_in.reshape({n, t, c, h, w});
  Tensor feat = conv_first_(conv_in);
  const int64_t c0 = feat.size(1);
  const Tensor tokens = features(feat.reshape({n, t, c0, h, w}), {}, trace);
  ops::add_(feat, vrt::tokens_to_frames(conv_after_body_(tokens)).reshape(feat.shape()));
  // Frames side by side along channels, frame-major: the (N, T, C0, H, W) layout read as (N, T·C0, H, W).
  Tensor fused = linear_fuse_(feat.reshape({n, t * c0, h, w}));
  ops::activate_(fused, ops::Activation::LeakyReLU, kFuseSlope);
  const Tensor out = ops::to_dtype(
      conv_last_(ops::pad2d(fused, kFuseReflection, kFuseReflection, kFuseReflection, kFuseReflection,
                            ops::PadMode::Reflect)),
      DType::F32);  // (N, out_chans, H, W)
  const Tensor restored = add_per_sample(out.reshape({n, 1, out.size(1), h, w}), means.reshape({n, c}));
  return ops::to_dtype(restored, dtype_);
}

ClipConstraints Vrt::clip_constraints() const {
  ClipConstraints c;
  c.scale = cfg_.pa_frames ? cfg_.upscale : 1;
  c.in_channels = cfg_.input_channels();
  c.out_channels = cfg_.out_chans;
  c.spatial_multiple = 8;  // three 2x space-to-depth reshapes
  c.window_height = cfg_.window_size[1];
  c.window_width = cfg_.window_size[2];
  // Mutual attention needs the 1/8-scale map to hold a whole spatial window; SpyNet's pyramid needs > 32.
  c.min_height = std::max<int64_t>(cfg_.pa_frames ? 33 : 8, 8 * cfg_.window_size[1]);
  c.min_width = std::max<int64_t>(cfg_.pa_frames ? 33 : 8, 8 * cfg_.window_size[2]);
  c.frame_multiple = cfg_.window_size[0];
  c.min_frames = cfg_.pa_frames ? cfg_.pa_frames / 2 + 1 : 1;
  c.exact_frames = cfg_.pa_frames ? 0 : cfg_.img_size[0];
  c.output_frames = cfg_.pa_frames ? 0 : 1;
  c.element_bytes = dtype_ == DType::F16 ? 2 : 4;
  return c;
}

size_t Vrt::peak_bytes(int64_t frames, int64_t h, int64_t w) const {
  const int64_t widest = *std::max_element(cfg_.embed_dims.begin(), cfg_.embed_dims.end());
  const double voxels = static_cast<double>(frames) * static_cast<double>(h) * static_cast<double>(w);
  const double element = dtype_ == DType::F16 ? 2.0 : 4.0;
  // Live tensors at the peak, per input voxel: kPeakWidths feature widths of the widest stage
  // (attention's qkv and the MLP's hidden layers of the full-resolution stages dominate) plus the
  // SR head's 64 channels at the output size; flows, images and offsets are f32.
  const double features = kPeakWidths * static_cast<double>(widest) * element;
  const double head = 2.0 * kReconstructionWidth * static_cast<double>(cfg_.upscale * cfg_.upscale) * element;
  return static_cast<size_t>(voxels * (features + head) + kPeakFixedBytes);
}

void Vrt::restore(const FrameSource& source, const FrameSink& sink, const RestoreOptions& options) const {
  const ClipConstraints constraints = clip_constraints();
  const CheckedSource clip(source, constraints.in_channels, "VRT restore");
  TileSpec requested;
  requested.frames = options.tile.frames;
  requested.height = options.tile.height;
  requested.width = options.tile.width;
  requested.overlap_frames = options.tile.overlap_frames;
  requested.overlap_height = options.tile.overlap_height;
  requested.overlap_width = options.tile.overlap_width;
  const size_t budget = options.memory_budget_bytes ? options.memory_budget_bytes : kDefaultMemoryBudgetBytes;
  const TileSpec spec = plan_tiles(clip.num_frames(), clip.height(), clip.width(), constraints, requested, budget,
                                   [this](int64_t t, int64_t h, int64_t w) { return peak_bytes(t, h, w); });
  TilingProgress progress;
  if (options.progress)
    progress.frames = [&](int64_t done, int64_t total) {
      if (!options.progress(done, total)) fail("restore: cancelled");
    };
  const int64_t c = constraints.in_channels, h = clip.height(), w = clip.width();
  restore_video_tiled([&](int64_t i) { return clip.frame(i).reshape({c, h, w}); }, clip.length(),
                      [this](const Tensor& x) { return forward(x); }, constraints, spec, sink, progress);
}

}  // namespace vrestore

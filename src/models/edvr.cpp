#include "models/edvr.h"

#include <algorithm>
#include <map>

#include "core/check.h"
#include "models/sequence.h"

namespace vrestore {
namespace {

using ops::Activation;
constexpr Activation kLrelu = Activation::LeakyReLU;

// Module names are written in BasicSR's spelling below; mmedit's EDVRNet names the same modules
// differently (ConvModule wrappers add ".conv", some modules are renamed).
std::string mmedit_module_name(const std::string& basicsr) {
  static const std::map<std::string, std::string> renamed = {
      {"conv_l2_1", "feat_l2_conv1.conv"}, {"conv_l2_2", "feat_l2_conv2.conv"},
      {"conv_l3_1", "feat_l3_conv1.conv"}, {"conv_l3_2", "feat_l3_conv2.conv"},
      {"upconv1", "upsample1.upsample_conv"}, {"upconv2", "upsample2.upsample_conv"}};
  if (auto it = renamed.find(basicsr); it != renamed.end()) return it->second;
  const std::string pcd = "pcd_align.";
  if (basicsr.rfind(pcd, 0) == 0) {
    std::string rest = basicsr.substr(pcd.size());
    bool is_dcn = rest.rfind("dcn_pack", 0) == 0 || rest.rfind("cas_dcnpack", 0) == 0;
    return "pcd_alignment." + rest + (is_dcn ? "" : ".conv");
  }
  static const char* plain_fusion[] = {"fusion.temporal_attn1", "fusion.temporal_attn2", "fusion.spatial_attn5",
                                       "fusion.spatial_attn_add2"};
  if (basicsr.rfind("fusion.", 0) == 0) {
    for (const char* p : plain_fusion)
      if (basicsr == p) return basicsr;
    return basicsr + ".conv";
  }
  return basicsr;
}

// Bounds on config values: far above any published model, low enough that every size computed
// from them (t * c channels, weight shapes) stays small.
constexpr int64_t kMaxChannels = 4096, kMaxBlocks = 1000, kMaxFrames = 1001;

EdvrConfig read_config(const Weights& w, bool mmedit) {
  EdvrConfig c;
  c.num_feat = w.config_int(mmedit ? "mid_channels" : "num_feat", 1, kMaxChannels);
  c.num_frame = w.config_int(mmedit ? "num_frames" : "num_frame", 1, kMaxFrames);
  c.deformable_groups = w.config_int(mmedit ? "deform_groups" : "deformable_groups", 1, c.num_feat);
  c.num_extract_block = w.config_int(mmedit ? "num_blocks_extraction" : "num_extract_block", 0, kMaxBlocks);
  c.num_reconstruct_block = w.config_int(mmedit ? "num_blocks_reconstruction" : "num_reconstruct_block", 0, kMaxBlocks);
  if (!mmedit) {
    c.hr_in = w.config_bool("hr_in");
    c.with_predeblur = w.config_bool("with_predeblur");
  }
  c.with_tsa = w.config_bool("with_tsa");
  // Absent or null means upstream's default, the middle frame; otherwise it must lie in the window.
  c.center_frame_idx = w.config_optional_int("center_frame_idx", 0, c.num_frame - 1).value_or(c.num_frame / 2);
  const std::string& path = w.file().path();
  VR_CHECK(c.num_feat % c.deformable_groups == 0, "weights '", path, "': EDVR config num_feat ", c.num_feat,
           " is not a multiple of deformable_groups ", c.deformable_groups);
  // Upstream would add a 4x-upscaled residual to a full-size base and crash.
  VR_CHECK(!c.hr_in || c.with_predeblur, "weights '", path, "': EDVR hr_in=true requires with_predeblur=true");
  return c;
}

// Stride-2 3x3 pools used by TSA, concatenated as [max, avg].
Tensor max_avg_pool(const Tensor& x) {
  return ops::cat1({ops::max_pool2d(x, 3, 2, 1), ops::avg_pool2d(x, 3, 2, 1, /*count_include_pad=*/true)});
}

}  // namespace

Edvr::Edvr(Weights& w) : arch_(w.arch()), config_json_(w.config().dump()) {
  const bool mmedit = arch_ == "mmedit.EDVRNet";
  cfg_ = read_config(w, mmedit);
  dtype_ = w.dtype();
  const int64_t c = cfg_.num_feat, t = cfg_.num_frame, g = cfg_.deformable_groups;
  auto name = [&](const std::string& basicsr) { return mmedit ? mmedit_module_name(basicsr) : basicsr; };
  auto conv = [&](const std::string& n, int64_t out, int64_t in, int k, Activation a = Activation::None,
                  int stride = 1) { return Conv2d::load(w, name(n), out, in, k, a, stride); };

  if (cfg_.with_predeblur) {
    Predeblur p;
    p.conv_first = conv("predeblur.conv_first", c, 3, 3, kLrelu);
    if (cfg_.hr_in) {
      p.stride_conv_hr1 = conv("predeblur.stride_conv_hr1", c, c, 3, kLrelu, 2);
      p.stride_conv_hr2 = conv("predeblur.stride_conv_hr2", c, c, 3, kLrelu, 2);
    }
    p.stride_conv_l2 = conv("predeblur.stride_conv_l2", c, c, 3, kLrelu, 2);
    p.stride_conv_l3 = conv("predeblur.stride_conv_l3", c, c, 3, kLrelu, 2);
    p.resblock_l3 = ResidualBlock::load(w, "predeblur.resblock_l3", c);
    p.resblock_l2_1 = ResidualBlock::load(w, "predeblur.resblock_l2_1", c);
    p.resblock_l2_2 = ResidualBlock::load(w, "predeblur.resblock_l2_2", c);
    p.resblock_l1 = ResidualBlocks::load(w, "predeblur.resblock_l1", c, 5);
    predeblur_ = std::move(p);
    conv_1x1 = conv("conv_1x1", c, c, 1);  // no activation (upstream quirk)
  } else {
    conv_first = conv("conv_first", c, 3, 3, kLrelu);
  }
  feature_extraction = ResidualBlocks::load(w, name("feature_extraction"), c, cfg_.num_extract_block);
  conv_l2_1 = conv("conv_l2_1", c, c, 3, kLrelu, 2);
  conv_l2_2 = conv("conv_l2_2", c, c, 3, kLrelu);
  conv_l3_1 = conv("conv_l3_1", c, c, 3, kLrelu, 2);
  conv_l3_2 = conv("conv_l3_2", c, c, 3, kLrelu);

  for (int level = 3; level >= 1; --level) {
    const std::string l = concat(".l", level);
    PcdLevel& p = pcd_[level - 1];
    p.offset_conv1 = conv("pcd_align.offset_conv1" + l, c, 2 * c, 3, kLrelu);
    p.offset_conv2 = conv("pcd_align.offset_conv2" + l, c, level == 3 ? c : 2 * c, 3, kLrelu);
    if (level < 3) {
      p.offset_conv3 = conv("pcd_align.offset_conv3" + l, c, c, 3, kLrelu);
      // Levels 2 gets lrelu after feat_conv, level 1 none.
      p.feat_conv = conv("pcd_align.feat_conv" + l, c, 2 * c, 3, level == 2 ? kLrelu : Activation::None);
    }
    p.dcn = DcnPack::load(w, name("pcd_align.dcn_pack" + l), c, g);
  }
  cas_offset_conv1 = conv("pcd_align.cas_offset_conv1", c, 2 * c, 3, kLrelu);
  cas_offset_conv2 = conv("pcd_align.cas_offset_conv2", c, c, 3, kLrelu);
  cas_dcnpack = DcnPack::load(w, name("pcd_align.cas_dcnpack"), c, g);

  if (cfg_.with_tsa) {
    Tsa f;
    f.temporal_attn1 = conv("fusion.temporal_attn1", c, c, 3);
    f.temporal_attn2 = conv("fusion.temporal_attn2", c, c, 3);
    f.feat_fusion = conv("fusion.feat_fusion", c, t * c, 1, kLrelu);
    f.spatial_attn1 = conv("fusion.spatial_attn1", c, t * c, 1, kLrelu);
    f.spatial_attn2 = conv("fusion.spatial_attn2", c, 2 * c, 1, kLrelu);
    f.spatial_attn3 = conv("fusion.spatial_attn3", c, c, 3, kLrelu);
    f.spatial_attn4 = conv("fusion.spatial_attn4", c, c, 1, kLrelu);
    f.spatial_attn5 = conv("fusion.spatial_attn5", c, c, 3);
    f.spatial_attn_l1 = conv("fusion.spatial_attn_l1", c, c, 1, kLrelu);
    f.spatial_attn_l2 = conv("fusion.spatial_attn_l2", c, 2 * c, 3, kLrelu);
    f.spatial_attn_l3 = conv("fusion.spatial_attn_l3", c, c, 3, kLrelu);
    f.spatial_attn_add1 = conv("fusion.spatial_attn_add1", c, c, 1, kLrelu);
    f.spatial_attn_add2 = conv("fusion.spatial_attn_add2", c, c, 1);
    tsa_ = std::move(f);
  } else {
    fusion = conv("fusion", c, t * c, 1);
  }

  reconstruction = ResidualBlocks::load(w, name("reconstruction"), c, cfg_.num_reconstruct_block);
  // The tail is hard-wired to 64 channels upstream, whatever num_feat is.
  upconv1 = conv("upconv1", 4 * c, c, 3, kLrelu);  // lrelu commutes with the pixel shuffle after it
  upconv2 = conv("upconv2", 64 * 4, c, 3, kLrelu);
  conv_hr = conv("conv_hr", 64, 64, 3, kLrelu);
  conv_last = conv("conv_last", 3, 64, 3);
}

ModelInfo Edvr::info() const {
  return {arch_, config_json_, static_cast<int>(scale()), static_cast<int>(cfg_.num_frame)};
}

Tensor Edvr::predeblur(const Tensor& x) const {
  const Predeblur& p = *predeblur_;
  Tensor l1 = p.conv_first(x);  // (M, C, H, W)
  if (cfg_.hr_in) l1 = p.stride_conv_hr2(p.stride_conv_hr1(l1));  // (M, C, H/4, W/4)
  Tensor l2 = p.stride_conv_l2(l1);                                // (M, C, h/2, w/2)
  Tensor l3 = p.stride_conv_l3(l2);                                // (M, C, h/4, w/4)
  l3 = ops::upsample_bilinear(p.resblock_l3(l3), 2, false);        // (M, C, h/2, w/2)
  Tensor t2 = p.resblock_l2_1(l2);
  ops::add_(t2, l3);
  l2 = ops::upsample_bilinear(p.resblock_l2_2(t2), 2, false);      // (M, C, h, w)
  Tensor t1 = p.resblock_l1.blocks[1](p.resblock_l1.blocks[0](l1));
  ops::add_(t1, l2);
  for (size_t i = 2; i < 5; ++i) t1 = p.resblock_l1.blocks[i](t1);
  return t1;  // (M, C, h, w)
}

Edvr::Pyramid Edvr::extract(const Tensor& frames, Tensor* predeblur_feat) const {
  Tensor l1;
  if (predeblur_) {
    Tensor p = predeblur(frames);  // (M, C, h, w)
    if (predeblur_feat) *predeblur_feat = p;
    l1 = conv_1x1(p);
  } else {
    l1 = conv_first(frames);  // (M, C, H, W)
  }
  Pyramid pyr;
  pyr.l1 = feature_extraction(l1);                 // (M, C, h, w)
  pyr.l2 = conv_l2_2(conv_l2_1(pyr.l1));           // (M, C, h/2, w/2)
  pyr.l3 = conv_l3_2(conv_l3_1(pyr.l2));           // (M, C, h/4, w/4)
  return pyr;
}

Tensor Edvr::align(const Pyramid& nbr, const Pyramid& ref) const {
  const Tensor* nbr_l[3] = {&nbr.l1, &nbr.l2, &nbr.l3};
  const Tensor* ref_l[3] = {&ref.l1, &ref.l2, &ref.l3};
  Tensor up_offset, up_feat, feat;
  for (int level = 3; level >= 1; --level) {
    const PcdLevel& p = pcd_[level - 1];
    const Tensor& n = *nbr_l[level - 1];
    Tensor offset = p.offset_conv1(ops::cat1({n, *ref_l[level - 1]}));  // (M, C, hl, wl)
    if (level == 3) {
      offset = p.offset_conv2(offset);
    } else {
      offset = p.offset_conv3(p.offset_conv2(ops::cat1({offset, up_offset})));
    }
    if (level == 3) {
      feat = p.dcn(n, offset, kLrelu);
    } else {
      feat = p.feat_conv(ops::cat1({p.dcn(n, offset), up_feat}));  // lrelu at l2 only
    }
    if (level > 1) {
      // The offset *features* are upsampled and doubled, not the DCN offsets.
      up_offset = ops::upsample_bilinear(offset, 2, false);  // (M, C, 2hl, 2wl)
      ops::scale_(up_offset, 2.0f);
      up_feat = ops::upsample_bilinear(feat, 2, false);
    }
  }
  Tensor offset = cas_offset_conv2(cas_offset_conv1(ops::cat1({feat, ref.l1})));
  return cas_dcnpack(feat, offset, kLrelu);  // (M, C, h, w)
}

Tensor Edvr::fuse(const Tensor& aligned) const {
  const int64_t n = aligned.size(0), tc = aligned.size(1) * aligned.size(2);
  if (tsa_) return tsa_fuse(aligned);
  // Frame-major concatenation: channel = frame * C + c, which is the (N, T, C) memory order.
  return fusion(aligned.reshape({n, tc, aligned.size(3), aligned.size(4)}));
}

Tensor Edvr::tsa_fuse(const Tensor& aligned) const {
  const Tsa& f = *tsa_;
  const int64_t n = aligned.size(0), t = aligned.size(1), c = aligned.size(2), h = aligned.size(3),
                w = aligned.size(4);
  std::vector<int64_t> center_rows;
  for (int64_t i = 0; i < n; ++i) center_rows.push_back(i * t + cfg_.center_frame_idx);
  Tensor frames = aligned.reshape({n * t, c, h, w});
  Tensor emb_ref = f.temporal_attn1(gather0(frames, center_rows));  // (N, C, h, w)
  Tensor emb = f.temporal_attn2(frames);                            // (N*T, C, h, w)
  std::vector<int64_t> ref_rows;
  for (int64_t i = 0; i < n * t; ++i) ref_rows.push_back(i / t);
  Tensor corr = ops::channel_dot(emb, gather0(emb_ref, ref_rows));  // (N*T, 1, h, w)
  ops::sigmoid_(corr);
  Tensor weighted = aligned.clone();  // (N, T, C, h, w)
  ops::mul_broadcast_channels_(weighted, corr.reshape({n, t, 1, h, w}));  // (N, T, C, h, w) *= (N, T, 1, h, w)
  Tensor flat = weighted.reshape({n, t * c, h, w});

  Tensor feat = f.feat_fusion(flat);                           // (N, C, h, w)
  Tensor attn = f.spatial_attn2(max_avg_pool(f.spatial_attn1(flat)));  // (N, C, h/2, w/2)
  Tensor level = f.spatial_attn_l2(max_avg_pool(f.spatial_attn_l1(attn)));  // (N, C, h/4, w/4)
  level = ops::upsample_bilinear(f.spatial_attn_l3(level), 2, false);     // (N, C, h/2, w/2)
  attn = f.spatial_attn3(attn);
  ops::add_(attn, level);
  attn = ops::upsample_bilinear(f.spatial_attn4(attn), 2, false);  // (N, C, h, w)
  attn = f.spatial_attn5(attn);
  Tensor add = f.spatial_attn_add2(f.spatial_attn_add1(attn));
  ops::sigmoid_(attn);
  ops::mul_add_(feat, attn, add, 2.0f);  // feat * attn * 2 + add, in upstream's order of operations
  return feat;
}

Tensor Edvr::reconstruct(const Tensor& fused, const Tensor& center) const {
  Tensor r = reconstruction(fused);                 // (N, C, h, w)
  r = ops::pixel_shuffle(upconv1(r), 2);            // (N, C, 2h, 2w)
  r = ops::pixel_shuffle(upconv2(r), 2);            // (N, 64, 4h, 4w)
  r = conv_last(conv_hr(r));                        // (N, 3, 4h, 4w)
  ops::add_(r, ops::to_dtype(cfg_.hr_in ? center : ops::upsample_bilinear(center, 4, false), dtype_));
  return r;
}

Tensor Edvr::forward(const Tensor& x, EdvrTrace* trace) const {
  check_rank("EDVR", "input", x, 5);
  const int64_t n = x.size(0), t = x.size(1), h = x.size(3), w = x.size(4);
  VR_CHECK(t == cfg_.num_frame && x.size(2) == 3, "EDVR: input has shape ", x.shape_str(), ", expected (N, ",
           cfg_.num_frame, ", 3, H, W)");
  VR_CHECK(n > 0 && h > 0 && w > 0 && h % size_multiple() == 0 && w % size_multiple() == 0, "EDVR: input H, W (", h,
           ", ", w, ") must be positive multiples of ", size_multiple());
  Tensor frames = x.reshape({n * t, 3, h, w});
  Pyramid nbr = extract(frames, trace ? &trace->predeblur_feat : nullptr);
  std::vector<int64_t> center_rows, ref_rows;
  for (int64_t i = 0; i < n; ++i) center_rows.push_back(i * t + cfg_.center_frame_idx);
  for (int64_t i = 0; i < n * t; ++i) ref_rows.push_back(center_rows[static_cast<size_t>(i / t)]);
  Pyramid ref{gather0(nbr.l1, ref_rows), gather0(nbr.l2, ref_rows), gather0(nbr.l3, ref_rows)};
  Tensor aligned = align(nbr, ref);  // (N*T, C, h, w)
  aligned = aligned.reshape({n, t, aligned.size(1), aligned.size(2), aligned.size(3)});
  Tensor fused = fuse(aligned);      // (N, C, h, w)
  if (trace) {
    trace->aligned = aligned;
    trace->fused = fused;
  }
  return reconstruct(fused, gather0(frames, center_rows));
}

void Edvr::restore(const FrameSource& source, const FrameSink& sink, const RestoreOptions& options) const {
  const CheckedSource clip(source, 3, "EDVR restore");
  const int64_t h = clip.height(), w = clip.width();
  const BorderMode border = cfg_.with_predeblur ? BorderMode::Replicate : BorderMode::ReflectionCircle;
  // The window of centre i reaches frames up to max(i + half, 2 * half) (reflection at the start),
  // so it is the same in any clip longer than that: the clip's length is needed only up to there,
  // which lets a clip still arriving be restored exactly as the same clip of known length.
  const int64_t half = cfg_.num_frame / 2;
  auto window_of = [&](int64_t i) {
    return window_indices(i, clip.count_up_to(std::max(i + half, 2 * half) + 1), cfg_.num_frame, border);
  };

  // A frame's padded image and pyramid are shared by every window that contains it; only PCD
  // and what follows depend on the centre frame. Entries live while a pending window needs them.
  struct Cached {
    Tensor image;  // (1, 3, Hp, Wp)
    Pyramid pyramid;
  };
  std::map<int64_t, Cached> cache;
  auto cached = [&](int64_t i) -> const Cached& {
    auto it = cache.find(i);
    if (it == cache.end()) {
      Tensor image = pad_to_multiple(clip.frame(i), size_multiple());
      Pyramid p = extract(image, nullptr);
      it = cache.emplace(i, Cached{image, std::move(p)}).first;
    }
    return it->second;
  };
  // Stacks the pyramid level `member` of each window frame into (T, C, hl, wl).
  auto stack = [&](const std::vector<int64_t>& idx, Tensor Pyramid::*member) {
    std::vector<Tensor> parts;
    for (int64_t k : idx) parts.push_back(cache.at(k).pyramid.*member);
    return ops::cat0(parts);  // (T, C, hl, wl)
  };

  for (int64_t i = 0; clip.count_up_to(i + 1) > i; ++i) {
    const std::vector<int64_t> idx = window_of(i);
    for (int64_t j : idx) cached(j);
    const std::vector<int64_t> center(idx.size(), i);
    Pyramid nbr{stack(idx, &Pyramid::l1), stack(idx, &Pyramid::l2), stack(idx, &Pyramid::l3)};
    Pyramid ref{stack(center, &Pyramid::l1), stack(center, &Pyramid::l2), stack(center, &Pyramid::l3)};
    Tensor aligned = align(nbr, ref);  // (T, C, h, w)
    Tensor fused = fuse(aligned.reshape({1, cfg_.num_frame, aligned.size(1), aligned.size(2), aligned.size(3)}));
    Tensor out = reconstruct(fused, cache.at(i).image);  // (1, 3, sHp, sWp)
    sink(i, crop_frame(out.select0(0), h * scale(), w * scale()));

    if (clip.count_up_to(i + 2) > i + 1) {
      const std::vector<int64_t> next = window_of(i + 1);
      std::erase_if(cache, [&](const auto& entry) {
        return std::find(next.begin(), next.end(), entry.first) == next.end();
      });
    }
    if (options.progress && !options.progress(i + 1, clip.num_frames())) fail("restore: cancelled");
  }
}

}  // namespace vrestore

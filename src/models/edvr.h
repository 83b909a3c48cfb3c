// EDVR: video restoration with pyramid, cascading and deformable alignment (PCD) and
// temporal-spatial attention (TSA) fusion.
// Upstream: BasicSR basicsr/archs/edvr_arch.py (EDVR, PCDAlignment, TSAFusion, PredeblurModule);
// mmedit mmedit/models/backbones/sr_backbones/edvr_net.py (EDVRNet, same math, other key names).
#pragma once

#include <optional>

#include "models/blocks.h"
#include "models/network.h"

namespace vrestore {

// Constructor arguments in BasicSR's names (mmedit's are translated on load).
struct EdvrConfig {
  int64_t num_feat = 64;
  int64_t num_frame = 5;
  int64_t deformable_groups = 8;
  int64_t num_extract_block = 5;
  int64_t num_reconstruct_block = 10;
  int64_t center_frame_idx = 2;
  bool hr_in = false;
  bool with_predeblur = false;
  bool with_tsa = true;
};

// Stage outputs kept for tests and debugging (names as in the fixtures).
struct EdvrTrace {
  Tensor predeblur_feat;  // (N*T, C, h, w), before conv_1x1; only with predeblur
  Tensor aligned;         // (N, T, C, h, w) PCD output
  Tensor fused;           // (N, C, h, w)
};

class Edvr final : public Network {
 public:
  explicit Edvr(Weights& w);
  const EdvrConfig& config() const { return cfg_; }

  // x (N, T, 3, H, W) -> centre frame (N, 3, 4H, 4W), or (N, 3, H, W) with hr_in.
  Tensor forward(const Tensor& x) const override { return forward(x, nullptr); }
  Tensor forward(const Tensor& x, EdvrTrace* trace) const;
  // Sliding window of num_frame frames around every frame; borders as upstream's test code
  // (reflection_circle for SR models, replicate for the predeblur/deblur models).
  void restore(const FrameSource& source, const FrameSink& sink, const RestoreOptions& options) const override;
  ModelInfo info() const override;

 private:
  struct Pyramid {
    Tensor l1, l2, l3;  // (M, C, h, w), (M, C, h/2, w/2), (M, C, h/4, w/4)
  };
  struct PcdLevel {
    Conv2d offset_conv1, offset_conv2, offset_conv3, feat_conv;  // conv3/feat_conv absent at l3
    DcnPack dcn;
  };
  struct Predeblur {
    Conv2d conv_first, stride_conv_hr1, stride_conv_hr2, stride_conv_l2, stride_conv_l3;
    ResidualBlock resblock_l3, resblock_l2_1, resblock_l2_2;
    ResidualBlocks resblock_l1;
  };
  struct Tsa {
    Conv2d temporal_attn1, temporal_attn2, feat_fusion, spatial_attn1, spatial_attn2, spatial_attn3,
        spatial_attn4, spatial_attn5, spatial_attn_l1, spatial_attn_l2, spatial_attn_l3, spatial_attn_add1,
        spatial_attn_add2;
  };

  int64_t size_multiple() const { return cfg_.hr_in ? 16 : 4; }
  int64_t scale() const { return cfg_.hr_in ? 1 : 4; }
  Pyramid extract(const Tensor& frames, Tensor* predeblur_feat) const;  // (M, 3, H, W)
  Tensor align(const Pyramid& nbr, const Pyramid& ref) const;          // -> (M, C, h, w)
  Tensor fuse(const Tensor& aligned) const;                             // (N, T, C, h, w) -> (N, C, h, w)
  Tensor tsa_fuse(const Tensor& aligned) const;
  Tensor reconstruct(const Tensor& fused, const Tensor& center) const;  // center (N, 3, H, W)
  Tensor predeblur(const Tensor& x) const;

  EdvrConfig cfg_;
  DType dtype_ = DType::F32;  // of the features (the model's precision); input frames stay f32
  std::string arch_, config_json_;
  Conv2d conv_first, conv_1x1;
  std::optional<Predeblur> predeblur_;
  ResidualBlocks feature_extraction, reconstruction;
  Conv2d conv_l2_1, conv_l2_2, conv_l3_1, conv_l3_2;
  PcdLevel pcd_[3];  // index 0 = l1 (finest)
  Conv2d cas_offset_conv1, cas_offset_conv2;
  DcnPack cas_dcnpack;
  Conv2d fusion;  // 1x1 T*C -> C, without TSA
  std::optional<Tsa> tsa_;
  Conv2d upconv1, upconv2, conv_hr, conv_last;
};

}  // namespace vrestore

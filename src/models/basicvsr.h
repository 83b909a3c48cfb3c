// BasicVSR (bidirectional recurrent propagation with SpyNet flow warping) and RealBasicVSR
// (BasicVSR behind an image pre-cleaning module with dynamic refinement).
// Upstream: BasicSR basicsr/archs/basicvsr_arch.py (BasicVSR); mmedit
// mmedit/models/backbones/sr_backbones/basicvsr_net.py (BasicVSRNet) and real_basicvsr_net.py
// (RealBasicVSRNet). Long clips: see docs/long_videos.md.
#pragma once

#include <functional>
#include <vector>

#include "models/blocks.h"
#include "models/network.h"
#include "models/sequence.h"
#include "models/spynet.h"

namespace vrestore {

// Stage outputs kept for tests (names as in the fixtures).
struct BasicVsrTrace {
  std::vector<Tensor> flows_forward;   // [i] = SpyNet(ref = x_{i+1}, supp = x_i), (N, 2, H, W)
  std::vector<Tensor> flows_backward;  // [i] = SpyNet(ref = x_i, supp = x_{i+1})
};

class BasicVsr final : public Network {
 public:
  // `prefix` is "" for a BasicVSR file and "basicvsr." inside RealBasicVSR.
  BasicVsr(Weights& w, const std::string& prefix, bool mmedit_names, int64_t num_feat, int64_t num_block);
  static BasicVsr load(Weights& w);

  // x (N, T, 3, H, W) -> (N, T, 3, 4H, 4W), the whole clip at once like upstream.
  Tensor forward(const Tensor& x) const override { return forward(x, nullptr); }
  Tensor forward(const Tensor& x, BasicVsrTrace* trace) const;
  void restore(const FrameSource& source, const FrameSink& sink, const RestoreOptions& options) const override;
  ModelInfo info() const override { return info_; }

  // Frame i of a clip as (N, 3, H, W); requested for i in [begin - 1, chain_end) during a span.
  using FrameFn = std::function<Tensor(int64_t)>;
  using EmitFn = std::function<void(int64_t, const Tensor&)>;
  // Restores frames [begin, end). The backward branch starts from a zero state at frame
  // chain_end - 1 (>= end - 1); the forward branch continues `forward_state` (state and image of
  // frame begin - 1; undefined = start from zero). Outputs are (N, 3, 4H, 4W).
  struct ForwardState {
    Tensor feature, image;
  };
  void run_span(const FrameFn& frame, int64_t begin, int64_t end, int64_t chain_end, ForwardState& state,
                const EmitFn& emit, BasicVsrTrace* trace) const;

  // Chunked whole-clip restoration over any frame function (RealBasicVSR feeds cleaned frames);
  // each frame is requested once. Emits (1, 3, 4H, 4W) outputs in order.
  void restore_frames(const FrameFn& frame, const ClipLength& length, const EmitFn& emit,
                      const RestoreOptions& options) const;

 private:
  Tensor reconstruct(const Tensor& backward_feat, const Tensor& forward_feat, const Tensor& image) const;

  ModelInfo info_;
  int64_t num_feat_;
  DType dtype_;  // of the features (the model's precision); images and flows stay f32
  SpyNet spynet_;
  ConvResidualBlocks backward_trunk_, forward_trunk_;
  Conv2d fusion_, upconv1_, upconv2_, conv_hr_, conv_last_;
};

struct RealBasicVsrTrace {
  BasicVsrTrace basicvsr;
  Tensor cleaned;                       // (N, T, 3, H, W) frames fed to BasicVSR
  std::vector<double> residue_means;    // mean |residue| of each cleaning pass
};

class RealBasicVsr final : public Network {
 public:
  explicit RealBasicVsr(Weights& w);
  Tensor forward(const Tensor& x) const override { return forward(x, nullptr); }
  Tensor forward(const Tensor& lqs, RealBasicVsrTrace* trace) const;
  void restore(const FrameSource& source, const FrameSink& sink, const RestoreOptions& options) const override;
  ModelInfo info() const override { return info_; }

  static constexpr int kMaxCleaningPasses = 3;

 private:
  Tensor residue(const Tensor& x) const;  // image_cleaning: (M, 3, H, W) -> (M, 3, H, W)
  // The pass count upstream would choose for the frames of `frame` in [begin, end): one
  // statistic (mean |residue|) over all of them per pass; strict `<` against the threshold.
  int count_passes(const BasicVsr::FrameFn& frame, int64_t begin, int64_t end) const;
  Tensor clean(const Tensor& x, int passes) const;
  // Frames [begin, end) cleaned with upstream's dynamic refinement over exactly these frames.
  std::vector<Tensor> clean_all(const BasicVsr::FrameFn& frame, int64_t begin, int64_t end,
                                std::vector<double>* residue_means = nullptr) const;

  BasicVsr basicvsr_;
  ConvResidualBlocks cleaning_trunk_;
  Conv2d cleaning_out_;
  float threshold_;  // dynamic_refine_thres / 255
  ModelInfo info_;
};

}  // namespace vrestore

#include "models/basicvsr.h"

#include <cmath>
#include <map>

#include "core/check.h"
#include "core/checked_math.h"
#include "models/sequence.h"

namespace vrestore {
namespace {

using ops::Activation;

// Bounds on config values: far above any published model, low enough that every size computed
// from them stays small.
constexpr int64_t kMaxMidChannels = 4096, kMaxResidualBlocks = 1000;

// Frames (N, T, C, H, W) -> frame t as (N, C, H, W).
Tensor frame_of(const Tensor& clip, int64_t t) {
  const int64_t n = clip.size(0), frames = clip.size(1);
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < n; ++i) rows.push_back(i * frames + t);
  return gather0(clip.reshape({n * frames, clip.size(2), clip.size(3), clip.size(4)}), rows);
}

// Writes frame t (N, C, H, W) into clip (N, T, C, H, W).
void set_frame(Tensor& clip, int64_t t, const Tensor& frame) {
  const int64_t n = clip.size(0), frames = clip.size(1);
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < n; ++i) rows.push_back(i * frames + t);
  Tensor flat = clip.reshape({n * frames, clip.size(2), clip.size(3), clip.size(4)});  // (N*T, C, H, W), same storage
  ops::copy_rows0_(flat, rows, frame);
}

void check_clip(const char* where, const Tensor& x) {
  check_rank(where, "input", x, 5);
  VR_CHECK(x.size(0) > 0 && x.size(1) > 0 && x.size(2) == 3 && x.size(3) > 0 && x.size(4) > 0, where,
           ": input has shape ", x.shape_str(), ", expected (N, T, 3, H, W)");
}

void check_chunking(const RestoreOptions& o) {
  VR_CHECK(o.chunk_frames > 0 && o.lookahead_frames >= 0, "restore: chunk_frames ", o.chunk_frames,
           " must be > 0 and lookahead_frames ", o.lookahead_frames, " >= 0");
}

// Keeps the frames a chunked run still needs; each frame is produced once by `make`.
class RecurrentFrameCache {
 public:
  explicit RecurrentFrameCache(BasicVsr::FrameFn make) : make_(std::move(make)) {}
  Tensor get(int64_t i) {
    auto it = frames_.find(i);
    if (it == frames_.end()) it = frames_.emplace(i, make_(i)).first;
    return it->second;
  }
  void drop_before(int64_t i) { frames_.erase(frames_.begin(), frames_.lower_bound(i)); }

 private:
  BasicVsr::FrameFn make_;
  std::map<int64_t, Tensor> frames_;
};

}  // namespace

BasicVsr::BasicVsr(Weights& w, const std::string& prefix, bool mmedit, int64_t num_feat, int64_t num_block)
    : num_feat_(num_feat), dtype_(w.dtype()) {
  const int64_t c = num_feat;
  VR_CHECK(c > 0 && num_block >= 0, "weights '", w.file().path(), "': BasicVSR num_feat ", c, " / num_block ",
           num_block, " is invalid");
  spynet_ = SpyNet::load(w, prefix + "spynet.", mmedit);
  backward_trunk_ = ConvResidualBlocks::load(w, prefix + (mmedit ? "backward_resblocks" : "backward_trunk"), c + 3, c,
                                             num_block);
  forward_trunk_ = ConvResidualBlocks::load(w, prefix + (mmedit ? "forward_resblocks" : "forward_trunk"), c + 3, c,
                                            num_block);
  fusion_ = Conv2d::load(w, prefix + "fusion", c, 2 * c, 1, Activation::LeakyReLU);
  // lrelu commutes with the pixel shuffle that follows each upsampling conv.
  upconv1_ = Conv2d::load(w, prefix + (mmedit ? "upsample1.upsample_conv" : "upconv1"), 4 * c, c, 3,
                          Activation::LeakyReLU);
  upconv2_ = Conv2d::load(w, prefix + (mmedit ? "upsample2.upsample_conv" : "upconv2"), 64 * 4, c, 3,
                          Activation::LeakyReLU);
  conv_hr_ = Conv2d::load(w, prefix + "conv_hr", 64, 64, 3, Activation::LeakyReLU);
  conv_last_ = Conv2d::load(w, prefix + "conv_last", 3, 64, 3);
  info_ = {w.arch(), w.config().dump(), 4, 0, 3, true};
}

BasicVsr BasicVsr::load(Weights& w) {
  const bool mmedit = w.arch() == "mmedit.BasicVSRNet";
  return BasicVsr(w, "", mmedit, w.config_int(mmedit ? "mid_channels" : "num_feat", 1, kMaxMidChannels),
                  w.config_int(mmedit ? "num_blocks" : "num_block", 0, kMaxResidualBlocks));
}

Tensor BasicVsr::reconstruct(const Tensor& backward_feat, const Tensor& forward_feat, const Tensor& image) const {
  Tensor r = fusion_(ops::cat1({backward_feat, forward_feat}));  // (N, C, H, W); backward first
  r = ops::pixel_shuffle(upconv1_(r), 2);                          // (N, C, 2H, 2W)
  r = ops::pixel_shuffle(upconv2_(r), 2);                          // (N, 64, 4H, 4W)
  r = conv_last_(conv_hr_(r));                                     // (N, 3, 4H, 4W)
  ops::add_(r, ops::to_dtype(ops::upsample_bilinear(image, 4, false), dtype_));
  return r;
}

void BasicVsr::run_span(const FrameFn& frame, int64_t begin, int64_t end, int64_t chain_end, ForwardState& state,
                        const EmitFn& emit, BasicVsrTrace* trace) const {
  // Backward branch: from chain_end - 1 down to begin; keep the states of [begin, end).
  std::vector<Tensor> backward(static_cast<size_t>(end - begin));
  Tensor h, next_image;
  for (int64_t i = chain_end - 1; i >= begin; --i) {
    Tensor x = frame(i);  // (N, 3, H, W)
    if (h.defined()) {
      Tensor flow = spynet_(x, next_image);  // flows_backward[i]: warps frame i+1's state onto i
      if (trace) trace->flows_backward[static_cast<size_t>(i)] = flow;
      h = ops::flow_warp(h, flow, ops::WarpPadding::Zeros);
    } else {
      h = Tensor::zeros({x.size(0), num_feat_, x.size(2), x.size(3)}, dtype_, x.device());
    }
    h = backward_trunk_(ops::cat1({ops::to_dtype(x, dtype_), h}));  // (N, C, H, W); image channels first
    if (i < end) backward[static_cast<size_t>(i - begin)] = h;
    next_image = x;
  }
  // Forward branch + reconstruction.
  for (int64_t i = begin; i < end; ++i) {
    Tensor x = frame(i);
    Tensor f;
    if (state.feature.defined()) {
      Tensor flow = spynet_(x, state.image);  // flows_forward[i-1]: warps frame i-1's state onto i
      if (trace) trace->flows_forward[static_cast<size_t>(i - 1)] = flow;
      f = ops::flow_warp(state.feature, flow, ops::WarpPadding::Zeros);
    } else {
      f = Tensor::zeros({x.size(0), num_feat_, x.size(2), x.size(3)}, dtype_, x.device());
    }
    f = forward_trunk_(ops::cat1({ops::to_dtype(x, dtype_), f}));
    emit(i, reconstruct(backward[static_cast<size_t>(i - begin)], f, x));
    backward[static_cast<size_t>(i - begin)] = Tensor();
    state = {f, x};
  }
}

Tensor BasicVsr::forward(const Tensor& x, BasicVsrTrace* trace) const {
  check_clip("BasicVSR", x);
  const int64_t n = x.size(0), t = x.size(1), h = x.size(3), w = x.size(4);
  if (trace) {
    trace->flows_forward.assign(static_cast<size_t>(t - 1), Tensor());
    trace->flows_backward.assign(static_cast<size_t>(t - 1), Tensor());
  }
  Tensor out = Tensor::empty({n, t, 3, 4 * h, 4 * w}, dtype_, x.device());
  ForwardState state;
  run_span([&](int64_t i) { return frame_of(x, i); }, 0, t, t, state,
           [&](int64_t i, const Tensor& y) { set_frame(out, i, y); }, trace);
  return out;
}

void BasicVsr::restore_frames(const FrameFn& frame, const ClipLength& length, const EmitFn& emit,
                              const RestoreOptions& options) const {
  check_chunking(options);
  RecurrentFrameCache cache(frame);
  ForwardState state;
  // A chunk ends at min(begin + chunk, length) and its look-ahead at min(end + lookahead, length),
  // asked of `length` so that a clip still arriving is read only as far as the chunk needs.
  // Sums saturate, so a chunk or look-ahead of "everything" (up to INT64_MAX) cannot overflow.
  int64_t end = 0;
  for (int64_t begin = 0; length.up_to(begin + 1) > begin; begin = end) {
    end = length.up_to(saturating_add(begin, options.chunk_frames));
    const int64_t chain_end =
        options.independent_chunks ? end : length.up_to(saturating_add(end, options.lookahead_frames));
    if (options.independent_chunks) state = {};
    run_span([&](int64_t i) { return cache.get(i); }, begin, end, chain_end, state,
             [&](int64_t i, const Tensor& y) {
               emit(i, y);
               if (options.progress && !options.progress(i + 1, length.total)) fail("restore: cancelled");
             },
             nullptr);
    cache.drop_before(end);  // the forward state carries frame end-1's image itself
  }
}

void BasicVsr::restore(const FrameSource& source, const FrameSink& sink, const RestoreOptions& options) const {
  const CheckedSource clip(source, 3, "BasicVSR restore");
  restore_frames([&](int64_t i) { return clip.frame(i); }, clip.length(),
                 [&](int64_t i, const Tensor& y) { sink(i, y.select0(0)); }, options);
}

// ---- RealBasicVSR -----------------------------------------------------------------------------

RealBasicVsr::RealBasicVsr(Weights& w)
    : basicvsr_(w, "basicvsr.", true, w.config_int("mid_channels", 1, kMaxMidChannels),
                w.config_int("num_propagation_blocks", 0, kMaxResidualBlocks)) {
  const int64_t c = w.config_int("mid_channels", 1, kMaxMidChannels);
  cleaning_trunk_ =
      ConvResidualBlocks::load(w, "image_cleaning.0", 3, c, w.config_int("num_cleaning_blocks", 0, kMaxResidualBlocks));
  cleaning_out_ = Conv2d::load(w, "image_cleaning.1", 3, c, 3);
  // Upstream stores thres / 255 and compares a float32 mean against it.
  threshold_ = static_cast<float>(w.config_number("dynamic_refine_thres") / 255.0);
  info_ = {w.arch(), w.config().dump(), 4, 0, 3, true};
}

// In f32, whatever the model's precision: the cleaned images feed SpyNet, which computes in f32.
Tensor RealBasicVsr::residue(const Tensor& x) const {
  return ops::to_dtype(cleaning_out_(cleaning_trunk_(x)), DType::F32);
}

Tensor RealBasicVsr::clean(const Tensor& x, int passes) const {
  Tensor y = x;
  for (int p = 0; p < passes; ++p) {
    Tensor r = residue(y);
    ops::add_(r, y);
    y = r;
  }
  return y;
}

int RealBasicVsr::count_passes(const BasicVsr::FrameFn& frame, int64_t begin, int64_t end) const {
  // Streaming: pass p needs every frame cleaned p-1 times, recomputed from the source so that
  // memory stays bounded (a long clip is read up to 3 times).
  for (int pass = 1; pass < kMaxCleaningPasses; ++pass) {
    double sum = 0;
    int64_t count = 0;
    for (int64_t i = begin; i < end; ++i) {
      Tensor r = residue(clean(frame(i), pass - 1));
      sum = ops::sum_abs(r, sum);
      count += r.numel();
    }
    if (static_cast<float>(sum / static_cast<double>(count)) < threshold_) return pass;
  }
  return kMaxCleaningPasses;
}

std::vector<Tensor> RealBasicVsr::clean_all(const BasicVsr::FrameFn& frame, int64_t begin, int64_t end,
                                            std::vector<double>* residue_means) const {
  std::vector<Tensor> frames;
  for (int64_t i = begin; i < end; ++i) frames.push_back(frame(i).clone());  // never mutate the input
  for (int pass = 1; pass <= kMaxCleaningPasses; ++pass) {
    double sum = 0;
    int64_t count = 0;
    for (Tensor& f : frames) {
      Tensor r = residue(f);  // each frame on its own, as upstream's per-frame cleaning
      sum = ops::sum_abs(r, sum);
      count += r.numel();
      ops::add_(f, r);
    }
    const double mean = sum / static_cast<double>(count);
    if (residue_means) residue_means->push_back(mean);
    if (static_cast<float>(mean) < threshold_) break;  // one statistic for all frames; strict <
  }
  return frames;
}

Tensor RealBasicVsr::forward(const Tensor& lqs, RealBasicVsrTrace* trace) const {
  check_clip("RealBasicVSR", lqs);
  const int64_t n = lqs.size(0), t = lqs.size(1), h = lqs.size(3), w = lqs.size(4);
  const Tensor frames = lqs.reshape({n * t, 3, h, w});
  std::vector<Tensor> cleaned = clean_all([&](int64_t i) { return frames.narrow0(i, 1); }, 0, n * t,
                                          trace ? &trace->residue_means : nullptr);
  Tensor clip = ops::cat0(cleaned).reshape({n, t, 3, h, w});  // (N, T, 3, H, W)
  if (trace) trace->cleaned = clip;
  return basicvsr_.forward(clip, trace ? &trace->basicvsr : nullptr);
}

void RealBasicVsr::restore(const FrameSource& source, const FrameSink& sink, const RestoreOptions& options) const {
  check_chunking(options);
  const CheckedSource clip(source, 3, "RealBasicVSR restore");
  auto read = [&](int64_t i) { return clip.frame(i); };
  auto emit = [&](int64_t i, const Tensor& y) { sink(i, y.select0(0)); };
  if (!options.independent_chunks) {
    // Whether the clip fits one chunk plus its look-ahead, reading no further than that.
    const int64_t fit = saturating_add(options.chunk_frames, options.lookahead_frames);
    const int64_t frames = clip.count_up_to(saturating_add(fit, 1));
    if (frames <= fit) {
      // Short enough to hold: clean once, exactly like forward.
      std::vector<Tensor> cleaned = clean_all(read, 0, frames);
      basicvsr_.restore_frames([&](int64_t i) { return cleaned[static_cast<size_t>(i)]; },
                               ClipLength::known(frames), emit, options);
      return;
    }
    VR_CHECK(clip.num_frames() != FrameSource::kUnknownLength, "RealBasicVSR restore: the clip is longer than ",
             "chunk_frames + lookahead_frames (", fit, ") and its length is not known up front; the cleaning ",
             "statistic spans the whole clip, so restore it with a known length or set ",
             "RestoreOptions::independent_chunks (upstream's max_seq_len: each chunk cleaned on its own)");
    // The statistic spans the whole clip, as when upstream restores it in one call: a streaming
    // pre-scan decides the pass count, then each frame is cleaned again when it is needed.
    const int passes = count_passes(read, 0, clip.num_frames());
    basicvsr_.restore_frames([&](int64_t i) { return clean(read(i), passes); }, clip.length(), emit, options);
    return;
  }
  // Upstream's max_seq_len: every chunk cleaned and restored on its own.
  int64_t end = 0;
  for (int64_t begin = 0; clip.count_up_to(begin + 1) > begin; begin = end) {
    end = clip.count_up_to(saturating_add(begin, options.chunk_frames));
    std::vector<Tensor> cleaned = clean_all(read, begin, end);
    BasicVsr::ForwardState state;
    basicvsr_.run_span([&](int64_t i) { return cleaned[static_cast<size_t>(i - begin)]; }, begin, end, end, state,
                       [&](int64_t i, const Tensor& y) {
                         emit(i, y);
                         if (options.progress && !options.progress(i + 1, clip.num_frames())) fail("restore: cancelled");
                       },
                       nullptr);
  }
}

}  // namespace vrestore

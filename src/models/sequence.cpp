#include "models/sequence.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/check.h"
#include "core/checked_math.h"
#include "core/ops.h"

namespace vrestore {

std::vector<int64_t> window_indices(int64_t center, int64_t clip_length, int64_t window, BorderMode mode) {
  VR_CHECK(window > 0 && window % 2 == 1, "restore: a window of ", window,
           " frames has no centre frame; sliding-window restoration needs an odd num_frame");
  VR_CHECK(clip_length > 0 && center >= 0 && center < clip_length, "window_indices: centre ", center,
           " of a clip of ", clip_length, " frames, window ", window);
  const int64_t half = window / 2, last = clip_length - 1;
  std::vector<int64_t> out;
  for (int64_t j = center - half; j <= center + half; ++j) {
    int64_t k = j;
    if (mode == BorderMode::Replicate) {
      k = std::clamp<int64_t>(j, 0, last);
    } else if (j < 0) {
      k = center + half - j;
    } else if (j > last) {
      k = (center - half) - (j - last);
    }
    // Reflection can leave the clip when it is shorter than the window; clamp like replicate then.
    out.push_back(std::clamp<int64_t>(k, 0, last));
  }
  return out;
}

int64_t chunk_end(int64_t begin, int64_t length, int64_t limit) {
  VR_CHECK(begin >= 0 && begin <= limit && length >= 0, "chunk_end: begin ", begin, ", length ", length,
           ", limit ", limit);
  return begin + std::min(length, limit - begin);
}

Tensor pad_to_multiple(const Tensor& frames, int64_t multiple) {
  check_rank("pad_to_multiple", "frames", frames, 4);
  const int64_t h = frames.size(2), w = frames.size(3);
  VR_CHECK(h > 0 && w > 0, "pad_to_multiple: frames have shape ", frames.shape_str(), ", expected H, W > 0");
  const int64_t ph = round_up(h, multiple, "pad_to_multiple"), pw = round_up(w, multiple, "pad_to_multiple");
  if (ph == h && pw == w) return frames;
  return ops::pad_crop(frames, ph, pw);  // (M, C, ph, pw), last row/column repeated
}

Tensor crop_frame(const Tensor& frame, int64_t h, int64_t w) {
  check_rank("crop_frame", "frame", frame, 3);
  const int64_t fh = frame.size(1), fw = frame.size(2);
  VR_CHECK(h <= fh && w <= fw, "crop_frame: (", h, ", ", w, ") is larger than the frame ", frame.shape_str());
  if (h == fh && w == fw) return frame;
  return ops::pad_crop(frame, h, w);  // (C, h, w), the top-left window
}

Tensor gather0(const Tensor& x, const std::vector<int64_t>& indices) { return ops::index_select0(x, indices); }

}  // namespace vrestore

namespace vrestore {

ClipLength ClipLength::known(int64_t num_frames) {
  return {[num_frames](int64_t n) { return std::min(n, num_frames); }, num_frames};
}

CheckedSource::CheckedSource(const FrameSource& source, int64_t channels, const char* where)
    : source_(source), channels_(channels), where_(where) {
  VR_CHECK(source.num_frames > 0 || (source.num_frames == FrameSource::kUnknownLength && source.count_up_to), where,
           ": the frame source has num_frames ", source.num_frames,
           ", expected >= 1, or FrameSource::kUnknownLength with count_up_to set");
  VR_CHECK(count_up_to(1) == 1, where, ": the frame source is empty (0 frames)");
  first_ = frame(0);
  height_ = first_.size(2);
  width_ = first_.size(3);
}

int64_t CheckedSource::count_up_to(int64_t n) const {
  VR_CHECK(n >= 0, where_, ": count_up_to(", n, ")");
  if (source_.num_frames != FrameSource::kUnknownLength) return std::min(n, source_.num_frames);
  if (n == 0) return 0;
  const int64_t count = source_.count_up_to(n);
  VR_CHECK(count >= 0 && count <= n, where_, ": FrameSource::count_up_to(", n, ") returned ", count,
           ", expected 0 to ", n);
  return count;
}

ClipLength CheckedSource::length() const {
  return {[this](int64_t n) { return count_up_to(n); }, source_.num_frames};
}

Tensor CheckedSource::frame(int64_t i) const {
  VR_CHECK(i >= 0 && count_up_to(i + 1) > i, where_, ": frame ", i, " requested from a clip of ",
           count_up_to(i + 1), " frames");
  if (i == 0 && first_.defined()) return std::exchange(first_, Tensor());  // read once for the shape
  Tensor f = source_.frame(i);
  VR_CHECK(f.defined() && f.dim() == 3 && f.size(0) == channels_ && f.size(1) > 0 && f.size(2) > 0 &&
               (height_ == 0 || (f.size(1) == height_ && f.size(2) == width_)),
           where_, ": frame ", i, " has shape ", f.shape_str(), ", expected (", channels_, ", ",
           height_ ? concat(height_) : "H", ", ", width_ ? concat(width_) : "W", ")");
  return f.reshape({1, channels_, f.size(1), f.size(2)});
}

}  // namespace vrestore

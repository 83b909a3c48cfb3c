// Helpers for running frame-window models over whole clips: which frames form the window at the
// clip borders, and padding frames to the size a network accepts.
#pragma once

#include <functional>
#include <vector>

#include "vrestore/tensor.h"
#include "vrestore/vrestore.h"

namespace vrestore {

// How a window of 2N+1 frames is completed at the clip borders (BasicSR generate_frame_indices).
enum class BorderMode {
  ReflectionCircle,  // j < 0 -> i + N - j; j > M-1 -> (i - N) - (j - (M-1))  (EDVR SR models)
  Replicate,         // clamp to [0, M-1]                                      (EDVR deblur models)
};

// Frame indices of the window of `window` frames centred on `center` in a clip of `clip_length`.
std::vector<int64_t> window_indices(int64_t center, int64_t clip_length, int64_t window, BorderMode mode);

// min(begin + length, limit) for 0 <= begin <= limit and length >= 0, without overflow: the end of
// a chunk (or of its look-ahead) that starts at `begin` in a clip of `limit` frames.
int64_t chunk_end(int64_t begin, int64_t length, int64_t limit);

// Pads (M, C, H, W) at the bottom/right by repeating the last row/column so H and W become
// multiples of `multiple`; returns the input itself when nothing is needed.
Tensor pad_to_multiple(const Tensor& frames, int64_t multiple);

// The top-left (C, h, w) of a (C, H, W) frame; the frame itself when it already has that size.
Tensor crop_frame(const Tensor& frame, int64_t h, int64_t w);

// Copies rows `indices` of dimension 0 into a new tensor (rows may repeat).
Tensor gather0(const Tensor& x, const std::vector<int64_t>& indices);

}  // namespace vrestore

namespace vrestore {

// The length of a clip as far as a driver needs it, for sources whose length is known only when
// they end (FrameSource::kUnknownLength): up_to(n) == min(n, length), waiting until that is known.
// Drivers ask only for what they need next, so an unknown-length clip is restored exactly as the
// same clip of known length.
struct ClipLength {
  std::function<int64_t(int64_t n)> up_to;
  int64_t total = FrameSource::kUnknownLength;  // the length when known up front
  static ClipLength known(int64_t num_frames);
};

// Reads frames from a FrameSource and checks that each is (channels, H, W) with the H, W of
// frame 0 and H, W > 0; errors name the frame index and the shapes.
class CheckedSource {
 public:
  CheckedSource(const FrameSource& source, int64_t channels, const char* where);
  // The length, or FrameSource::kUnknownLength.
  int64_t num_frames() const { return source_.num_frames; }
  // min(n, length) for n >= 0; for an unknown-length source this waits for the source.
  int64_t count_up_to(int64_t n) const;
  ClipLength length() const;
  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  // Frame i as (1, C, H, W).
  Tensor frame(int64_t i) const;

 private:
  const FrameSource& source_;
  int64_t channels_, height_ = 0, width_ = 0;
  mutable Tensor first_;  // frame 0, read by the constructor and handed out by the first frame(0)
  const char* where_;
};

}  // namespace vrestore

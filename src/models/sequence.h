// Helpers for running frame-window models over whole clips: which frames form the window at the
// clip borders, and padding frames to the size a network accepts.
#pragma once

#include <vector>

#include "vrestore/tensor.h"

namespace vrestore {

// How a window of 2N+1 frames is completed at the clip borders (BasicSR generate_frame_indices).
enum class BorderMode {
  ReflectionCircle,  // j < 0 -> i + N - j; j > M-1 -> (i - N) - (j - (M-1))  (EDVR SR models)
  Replicate,         // clamp to [0, M-1]                                      (EDVR deblur models)
};

// Frame indices of the window of `window` frames centred on `center` in a clip of `clip_length`.
std::vector<int64_t> window_indices(int64_t center, int64_t clip_length, int64_t window, BorderMode mode);

// Pads (M, C, H, W) at the bottom/right by repeating the last row/column so H and W become
// multiples of `multiple`; returns the input itself when nothing is needed.
Tensor pad_to_multiple(const Tensor& frames, int64_t multiple);

// The top-left (C, h, w) of a (C, H, W) frame; the frame itself when it already has that size.
Tensor crop_frame(const Tensor& frame, int64_t h, int64_t w);

// Copies rows `indices` of dimension 0 into a new tensor (rows may repeat).
Tensor gather0(const Tensor& x, const std::vector<int64_t>& indices);

}  // namespace vrestore

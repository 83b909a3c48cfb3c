// Definitions that the op layer (src/core), the CPU backend (src/cpu) and the CUDA kernels
// (kernels/) must share: one enum per concept and one function per formula both backends compute,
// so that a CPU result and a GPU result can only differ by summation order, never by definition.
//
// A leaf header: no CUDA header, no vrestore header. Functions are VR_HOST_DEVICE, which is
// `__host__ __device__` under nvcc and nothing for a host compiler (g++ and the CPU emulator).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define VR_HOST_DEVICE __host__ __device__
#else
#define VR_HOST_DEVICE
#endif

namespace vrestore {

// Activation fused into the producing op (conv epilogues, add, activate).
enum class Activation { None, ReLU, LeakyReLU, Sigmoid };

// The LeakyReLU slope of every network in vrestore (BasicSR/mmedit use 0.1 throughout).
constexpr float kLeakySlope = 0.1f;

// How flow_warp treats sample points outside the image.
enum class WarpPadding {
  Zeros,   // each bilinear neighbour outside the image contributes 0
  Border,  // the sample point is clamped into [0, W-1] x [0, H-1] first
};

// How pad2d / pad_crop fill positions outside the image (torch.nn.functional.pad modes, plus the
// flip-based padding of VRT's test script).
enum class PadMode {
  Replicate,  // the edge pixel repeated (F.pad 'replicate')
  Reflect,    // mirrored without repeating the edge: -1 -> 1 (F.pad 'reflect', nn.ReflectionPad2d)
  Symmetric,  // mirrored with the edge: -1 -> 0, n -> n-1 (torch.cat([x, x.flip()]) in main_test_vrt.py)
};

// The source index along an axis of n >= 1 pixels for position i (i may lie outside [0, n)). The op
// layer bounds the padding so that one reflection suffices (Reflect: at most n - 1, Symmetric: n).
VR_HOST_DEVICE inline int64_t pad_source_index(int64_t i, int64_t n, PadMode mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PadMode::Replicate: return i < 0 ? 0 : n - 1;
    case PadMode::Reflect: return i < 0 ? -i : 2 * (n - 1) - i;
    case PadMode::Symmetric: return i < 0 ? -i - 1 : 2 * n - 1 - i;
  }
  return 0;
}

// Output extent of a convolution or pooling window along one axis: floor((in + 2p - d(k-1) - 1) / s) + 1,
// or 0 when the window does not fit (callers turn 0 into an error).
VR_HOST_DEVICE inline int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t padding,
                                               int64_t dilation) {
  const int64_t span = in + 2 * padding - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// Upstream's flow_warp normalises the sample point to [-1, 1] (dividing by max(size - 1, 1)) and
// grid_sample(align_corners=True) maps it back (multiplying by size - 1), both in fp32. The round
// trip is not the identity in fp32, and a size-1 axis always samples 0 (NaN stays NaN).
VR_HOST_DEVICE inline float flow_warp_round_trip(float pixel, int64_t size) {
  const float denominator = static_cast<float>(size - 1 > 1 ? size - 1 : 1);
  const float norm = 2.0f * pixel / denominator - 1.0f;
  return (norm + 1.0f) / 2.0f * static_cast<float>(size - 1);
}

// The sample point (px, py), in input pixels, of output pixel (x, y) warped by flow (dx, dy) in an
// h x w image. Border padding clamps it into the image like std::clamp: NaN stays NaN (and then
// samples nothing, as in grid_sample).
VR_HOST_DEVICE inline void flow_warp_source(float dx, float dy, int64_t x, int64_t y, int64_t h, int64_t w,
                                            WarpPadding padding, float& px, float& py) {
  px = flow_warp_round_trip(static_cast<float>(x) + dx, w);
  py = flow_warp_round_trip(static_cast<float>(y) + dy, h);
  if (padding == WarpPadding::Border) {
    const float hi_x = static_cast<float>(w - 1), hi_y = static_cast<float>(h - 1);
    px = px < 0.0f ? 0.0f : (hi_x < px ? hi_x : px);
    py = py < 0.0f ? 0.0f : (hi_y < py ? hi_y : py);
  }
}

// Bilinear weights of a sample point with fractional parts (fx, fy), in grid_sample's corner order:
// (y0, x0), (y0, x0+1), (y0+1, x0), (y0+1, x0+1).
struct BilinearWeights {
  float w00, w01, w10, w11;
};
VR_HOST_DEVICE inline BilinearWeights bilinear_weights(float fx, float fy) {
  return {(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy};
}

}  // namespace vrestore

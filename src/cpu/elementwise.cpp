// Element-wise ops and channel concatenation (CPU). Memory-bound, so plain loops suffice.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/ops.h"

namespace vrestore::ops {

void activate_(Tensor& x, Activation a) {
  float* p = x.data();
  const int64_t n = x.numel();
  switch (a) {
    case Activation::None: return;
    case Activation::ReLU:
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
      for (int64_t i = 0; i < n; ++i) p[i] = std::max(p[i], 0.0f);
      return;
    case Activation::LeakyReLU:
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] >= 0.0f ? p[i] : p[i] * kLeakySlope;
      return;
  }
}

void sigmoid_(Tensor& x) {
  float* p = x.data();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) p[i] = 1.0f / (1.0f + std::exp(-p[i]));
}

void add_(Tensor& a, const Tensor& b) {
  VR_CHECK(a.shape() == b.shape(), "add: shapes ", a.shape_str(), " and ", b.shape_str(), " differ");
  float* p = a.data();
  const float* q = b.data();
  const int64_t n = a.numel();
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) p[i] += q[i];
}

void scale_(Tensor& a, float s) {
  float* p = a.data();
  const int64_t n = a.numel();
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) p[i] *= s;
}

Tensor cat1(const std::vector<Tensor>& parts) {
  VR_CHECK(!parts.empty(), "cat: no tensors");
  const Tensor& first = parts[0];
  VR_CHECK(first.dim() >= 2, "cat: tensor 0 has shape ", first.shape_str(), ", expected at least 2 dimensions");
  Shape shape = first.shape();
  int64_t channels = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    Shape s = parts[i].shape();
    VR_CHECK(s.size() == shape.size(), "cat: tensor ", i, " has shape ", parts[i].shape_str(), ", expected rank ",
             shape.size());
    channels += s[1];
    s[1] = shape[1];
    VR_CHECK(s == shape, "cat: tensor ", i, " has shape ", parts[i].shape_str(),
             ", which differs from tensor 0 ", first.shape_str(), " outside dimension 1");
  }
  shape[1] = channels;
  Tensor out = Tensor::empty(shape);
  const int64_t outer = shape[0];
  int64_t inner = 1;
  for (size_t d = 2; d < shape.size(); ++d) inner *= shape[d];
  for (int64_t n = 0; n < outer; ++n) {
    float* dst = out.data() + n * channels * inner;
    for (const Tensor& p : parts) {
      const int64_t block = p.size(1) * inner;
      std::memcpy(dst, p.data() + n * block, static_cast<size_t>(block) * sizeof(float));
      dst += block;
    }
  }
  return out;
}

}  // namespace vrestore::ops

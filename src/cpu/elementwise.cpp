// Element-wise ops and channel concatenation, CPU bodies (arguments checked by core/ops.cpp).
// Memory-bound, so plain loops suffice.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/half.h"
#include "core/op_list.h"
#include "core/ops.h"

namespace vrestore::cpu {

using ops::Activation;

void run(const ops::ActivateArgs& a) {
  Tensor x = a.x;
  float* p = x.data();
  const int64_t n = x.numel();
  switch (a.activation) {
    case Activation::None: return;
    case Activation::ReLU:
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
      for (int64_t i = 0; i < n; ++i) p[i] = std::max(p[i], 0.0f);
      return;
    case Activation::LeakyReLU:
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] >= 0.0f ? p[i] : p[i] * a.negative_slope;
      return;
    case Activation::Sigmoid:
#pragma omp parallel for schedule(static) if (n > (1 << 15))
      for (int64_t i = 0; i < n; ++i) p[i] = 1.0f / (1.0f + std::exp(-p[i]));
      return;
  }
}

void run(const ops::AddArgs& a) {
  Tensor sum = a.a;
  float* p = sum.data();
  const float* q = a.b.data();
  const int64_t n = sum.numel();
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) p[i] += q[i];
}

void run(const ops::ScaleArgs& a) {
  Tensor x = a.a;
  float* p = x.data();
  const float s = a.s;
  const int64_t n = x.numel();
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) p[i] *= s;
}

void run(const ops::ConcatArgs& a) {
  Tensor out = a.out;
  const Shape& shape = out.shape();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < a.dim; ++d) outer *= shape[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(a.dim) + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t total = shape[static_cast<size_t>(a.dim)];
  for (int64_t n = 0; n < outer; ++n) {
    float* dst = out.data() + n * total * inner;
    for (const Tensor& p : a.parts) {
      const int64_t block = p.size(a.dim) * inner;
      std::memcpy(dst, p.data() + n * block, static_cast<size_t>(block) * sizeof(float));
      dst += block;
    }
  }
}

void run(const ops::NarrowArgs& a) {
  Tensor out = a.out;
  const int64_t channels = a.x.size(1), count = out.size(1);
  int64_t inner = 1;
  for (int d = 2; d < out.dim(); ++d) inner *= out.size(d);
  for (int64_t n = 0; n < out.size(0); ++n)
    std::memcpy(out.data() + n * count * inner, a.x.data() + (n * channels + a.begin) * inner,
                static_cast<size_t>(count * inner) * sizeof(float));
}

void run(const ops::ChannelDotArgs& a) {
  Tensor out = a.out;
  const int64_t n = a.a.size(0), c = a.a.size(1), hw = a.a.size(2) * a.a.size(3);
  std::fill(out.data(), out.data() + out.numel(), 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    float* o = out.data() + i * hw;
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* pa = a.a.data() + (i * c + ch) * hw;
      const float* pb = a.b.data() + (i * c + ch) * hw;
      for (int64_t p = 0; p < hw; ++p) o[p] += pa[p] * pb[p];
    }
  }
}

void run(const ops::MulBroadcastChannelsArgs& a) {
  Tensor x = a.x;
  const int rank = x.dim();
  const int64_t c = x.size(rank - 3), hw = x.size(rank - 2) * x.size(rank - 1), frames = x.numel() / (c * hw);
  for (int64_t f = 0; f < frames; ++f) {
    const float* w = a.w.data() + f * hw;
    for (int64_t ch = 0; ch < c; ++ch) {
      float* p = x.data() + (f * c + ch) * hw;
      for (int64_t i = 0; i < hw; ++i) p[i] *= w[i];
    }
  }
}

void run(const ops::MulAddArgs& a) {
  Tensor x = a.x;
  float* px = x.data();
  const float* pm = a.m.data();
  const float* pa = a.add.data();
  const float scale = a.scale;
  for (int64_t i = 0; i < x.numel(); ++i) px[i] = px[i] * pm[i] * scale + pa[i];
}

void run(const ops::PadCropArgs& a) {
  Tensor out = a.out;
  const int64_t h = a.x.size(-2), w = a.x.size(-1), oh = out.size(-2), ow = out.size(-1);
  const int64_t planes = a.x.numel() / (h * w);
  // The interior [left, left + inside) of each output row is one copy; the rest maps through the mode.
  const int64_t inside = std::max<int64_t>(0, std::min(w, ow - a.left));
  for (int64_t p = 0; p < planes; ++p) {
    const float* src = a.x.data() + p * h * w;
    float* dst = out.data() + p * oh * ow;
    for (int64_t y = 0; y < oh; ++y) {
      const float* row = src + pad_source_index(y - a.top, h, a.mode) * w;
      float* o = dst + y * ow;
      for (int64_t x = 0; x < a.left && x < ow; ++x) o[x] = row[pad_source_index(x - a.left, w, a.mode)];
      std::memcpy(o + a.left, row, static_cast<size_t>(inside) * sizeof(float));
      for (int64_t x = a.left + inside; x < ow; ++x) o[x] = row[pad_source_index(x - a.left, w, a.mode)];
    }
  }
}

void run(const ops::IndexSelect0Args& a) {
  Tensor out = a.out;
  const int64_t inner = a.x.size(0) ? a.x.numel() / a.x.size(0) : 0;
  for (size_t i = 0; i < a.indices.size(); ++i)
    std::memcpy(out.data() + static_cast<int64_t>(i) * inner, a.x.data() + a.indices[i] * inner,
                static_cast<size_t>(inner) * sizeof(float));
}

void run(const ops::CopyRows0Args& a) {
  Tensor dst = a.dst;
  const int64_t inner = dst.size(0) ? dst.numel() / dst.size(0) : 0;
  for (size_t i = 0; i < a.rows.size(); ++i)
    std::memcpy(dst.data() + a.rows[i] * inner, a.src.data() + static_cast<int64_t>(i) * inner,
                static_cast<size_t>(inner) * sizeof(float));
}

void run(const ops::CastArgs& a) {
  Tensor out = a.out;
  const int64_t n = a.x.numel();
  if (a.x.dtype() == DType::F32) {
    const float* s = a.x.data<float>();
    Half* d = out.data<Half>();
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) d[i].bits = float_to_half_bits(s[i]);
  } else {
    const Half* s = a.x.data<Half>();
    float* d = out.data<float>();
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) d[i] = half_bits_to_float(s[i].bits);
  }
}

void run(const ops::SumAbsArgs& a) {
  const float* p = a.x.data();
  double sum = *a.result;
  for (int64_t k = 0; k < a.x.numel(); ++k) sum += std::fabs(p[k]);
  *a.result = sum;
}

void run(const ops::ChannelAffineArgs& a) {
  Tensor out = a.out;
  const int64_t c = a.x.size(1), hw = a.x.size(2) * a.x.size(3);
  for (int64_t n = 0; n < a.x.size(0); ++n)
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* src = a.x.data() + (n * c + ch) * hw;
      float* dst = out.data() + (n * c + ch) * hw;
      const float shift = a.shift[static_cast<size_t>(ch)], scale = a.scale[static_cast<size_t>(ch)];
      if (a.divide)
        for (int64_t i = 0; i < hw; ++i) dst[i] = (src[i] - shift) / scale;
      else
        for (int64_t i = 0; i < hw; ++i) dst[i] = (src[i] - shift) * scale;
    }
}

}  // namespace vrestore::cpu

// flow_warp on the CPU. The sample point of each output pixel (and so its bilinear weights and
// neighbours) is computed once per output row and reused for every channel.
//
// Fast path (AVX-512): optical flow is smooth, so the 16 sample points of 16 adjacent output pixels
// usually lie within a few adjacent input rows and a span of at most 31 columns. Such a group reads,
// per channel, 32-float windows of the (up to 5) input rows involved with plain vector loads
// (zero outside the image, which is exactly grid_sample's zero padding) and picks each lane's 4
// neighbours out of the windows with two-source permutes: no gathers (slow on this hardware) and no
// scalar loads. Groups whose sample points are spread wider (flow discontinuities, huge or NaN
// flows) take the scalar path for their 16 pixels, as do all pixels on other targets.
//
// Compiled once per ISA level into vrestore::cpu::VRESTORE_ISA_NS (isa.h); ops::flow_warp
// (dispatch.cpp) calls the level in use.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/check.h"
#include "core/ops.h"
#include "cpu/isa.h"  // after every header above
#include "cpu/isa_kernels.h"

#if VRESTORE_ISA_AVX512
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized inside _mm512_roundscale_ps and the
// reductions (their "undefined" passthrough operands), wherever they are inlined.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace vrestore::cpu::VRESTORE_ISA_NS {
namespace {

using ops::WarpPadding;

// One output pixel's sampling recipe: up to 4 neighbours (offset into the plane, weight);
// neighbours outside the image get weight 0 and offset 0.
struct Taps {
  int32_t offset[4];  // flow_warp checks that planes have fewer than 2^31 pixels
  float weight[4];
};

// The sample point and the bilinear weights are op_common.h's, shared with the CUDA kernel: the
// vector path below forms the same products lane by lane.
using vrestore::bilinear_weights;
using vrestore::flow_warp_source;

Taps make_taps(float px, float py, int64_t h, int64_t w) {
  Taps t{};
  if (!std::isfinite(px) || !std::isfinite(py)) return t;  // grid_sample yields 0 for NaN samples
  const float x0f = std::floor(px), y0f = std::floor(py);
  const int64_t x0 = static_cast<int64_t>(x0f), y0 = static_cast<int64_t>(y0f);
  const BilinearWeights wt = bilinear_weights(px - x0f, py - y0f);
  const int64_t xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
  const float ws[4] = {wt.w00, wt.w01, wt.w10, wt.w11};
  for (int k = 0; k < 4; ++k) {
    if (xs[k] >= 0 && xs[k] < w && ys[k] >= 0 && ys[k] < h) {
      t.offset[k] = static_cast<int32_t>(ys[k] * w + xs[k]);
      t.weight[k] = ws[k];
    }
  }
  return t;
}

inline float apply_taps(const Taps& t, const float* src) {
  return t.weight[0] * src[t.offset[0]] + t.weight[1] * src[t.offset[1]] + t.weight[2] * src[t.offset[2]] +
         t.weight[3] * src[t.offset[3]];
}

constexpr int kGroup = 16;  // output pixels per group (one AVX-512 vector)
constexpr int64_t kChannelChunk = 8;

#if VRESTORE_ISA_AVX512

// Most distinct values of floor(sample y) in a fast group; it reads kMaxRowSpan + 1 input rows.
constexpr int kMaxRowSpan = 4;

// A group of 16 output pixels whose sample points need input rows ymin..ymin+rows-1 and columns
// within [xmin, xmin + 32).
struct FastGroup {
  __m512i idx0, idx1;  // x0 - xmin and x0 + 1 - xmin per lane
  __m512 w00, w01, w10, w11;
  __mmask16 top[kMaxRowSpan + 1];     // lanes whose upper neighbours are in row ymin + k (y0 = ymin + k)
  __mmask16 bottom[kMaxRowSpan + 1];  // lanes whose lower neighbours are in row ymin + k (y0 = ymin + k - 1)
  __mmask16 store;                    // lanes that are output pixels (the last group of a row may be partial)
  int32_t xmin, ymin, rows;
};

// Lanes [x, x + 16) of a row of width w, zero outside [0, w) and for rows outside the image.
inline __m512 load_window(const float* plane, int64_t row, int64_t x, int64_t h, int64_t w) {
  if (row < 0 || row >= h) return _mm512_setzero_ps();
  const int64_t lo = std::max<int64_t>(0, -x), hi = std::min<int64_t>(16, w - x);
  if (lo >= hi) return _mm512_setzero_ps();
  const float* base = reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(plane + row * w) + x * sizeof(float));
  if (lo == 0 && hi == 16) return _mm512_loadu_ps(base);
  const __mmask16 mask = static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
  return _mm512_maskz_loadu_ps(mask, base);  // masked-off lanes are not accessed
}

// Tries to describe output pixels [i0, i0 + 16) of a row (sample points px, py, valid lanes
// `lanes`) as a fast group.
bool make_fast_group(const float* px, const float* py, int lanes, int64_t h, int64_t w, FastGroup& g) {
  const __mmask16 valid = static_cast<__mmask16>((1u << lanes) - 1);
  // Padding lanes repeat lane 0 so that they never widen the spans.
  const __m512 x = _mm512_mask_loadu_ps(_mm512_set1_ps(px[0]), valid, px);
  const __m512 y = _mm512_mask_loadu_ps(_mm512_set1_ps(py[0]), valid, py);
  // Also rejects NaN: every comparison with NaN is false. Bounds keep the int32 conversions exact
  // and the windows near the image (further out everything reads as zero, but the scalar path
  // handles that just as well).
  const __mmask16 in_range = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-64.0f), _CMP_GT_OQ) &
                             _mm512_cmp_ps_mask(x, _mm512_set1_ps(static_cast<float>(w) + 64.0f), _CMP_LT_OQ) &
                             _mm512_cmp_ps_mask(y, _mm512_set1_ps(-4.0f), _CMP_GT_OQ) &
                             _mm512_cmp_ps_mask(y, _mm512_set1_ps(static_cast<float>(h) + 4.0f), _CMP_LT_OQ);
  if (in_range != 0xFFFF) return false;
  const __m512 x0f = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512 y0f = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512i x0 = _mm512_cvttps_epi32(x0f), y0 = _mm512_cvttps_epi32(y0f);
  const int32_t xmin = _mm512_reduce_min_epi32(x0), xmax = _mm512_reduce_max_epi32(x0);
  const int32_t ymin = _mm512_reduce_min_epi32(y0), ymax = _mm512_reduce_max_epi32(y0);
  if (xmax - xmin > 30 || ymax - ymin >= kMaxRowSpan) return false;
  g.xmin = xmin;
  g.ymin = ymin;
  g.rows = ymax - ymin + 2;
  g.idx0 = _mm512_sub_epi32(x0, _mm512_set1_epi32(xmin));
  g.idx1 = _mm512_add_epi32(g.idx0, _mm512_set1_epi32(1));
  const __m512i dy = _mm512_sub_epi32(y0, _mm512_set1_epi32(ymin));
  for (int k = 0; k < g.rows; ++k) {
    g.top[k] = _mm512_cmpeq_epi32_mask(dy, _mm512_set1_epi32(k));
    g.bottom[k] = _mm512_cmpeq_epi32_mask(dy, _mm512_set1_epi32(k - 1));
  }
  g.store = valid;
  // The scalar path's weights, lane by lane.
  const __m512 fx = _mm512_sub_ps(x, x0f), fy = _mm512_sub_ps(y, y0f);
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 gx = _mm512_sub_ps(one, fx), gy = _mm512_sub_ps(one, fy);
  g.w00 = _mm512_mul_ps(gx, gy);
  g.w01 = _mm512_mul_ps(fx, gy);
  g.w10 = _mm512_mul_ps(gx, fy);
  g.w11 = _mm512_mul_ps(fx, fy);
  return true;
}

// 16 output values of one channel plane.
inline void warp_fast_group(const FastGroup& g, const float* plane, int64_t h, int64_t w, float* dst) {
  const int64_t x = g.xmin;
  __m512 tl = _mm512_setzero_ps(), tr = tl, bl = tl, br = tl;
  for (int k = 0; k < g.rows; ++k) {
    const int64_t y = g.ymin + k;
    const __m512 a0 = load_window(plane, y, x, h, w), a1 = load_window(plane, y, x + 16, h, w);
    const __m512 left = _mm512_permutex2var_ps(a0, g.idx0, a1), right = _mm512_permutex2var_ps(a0, g.idx1, a1);
    tl = _mm512_mask_mov_ps(tl, g.top[k], left);
    tr = _mm512_mask_mov_ps(tr, g.top[k], right);
    bl = _mm512_mask_mov_ps(bl, g.bottom[k], left);
    br = _mm512_mask_mov_ps(br, g.bottom[k], right);
  }
  // w00*tl + w01*tr + w10*bl + w11*br, left to right like the scalar path.
  __m512 v = _mm512_mul_ps(g.w00, tl);
  v = _mm512_fmadd_ps(g.w01, tr, v);
  v = _mm512_fmadd_ps(g.w10, bl, v);
  v = _mm512_fmadd_ps(g.w11, br, v);
  _mm512_mask_storeu_ps(dst, g.store, v);
}

// FastGroups of one output row, 64-byte aligned and zero-initialised. Not a std::vector: the
// standard library's templates are compiled for baseline x86-64 (isa.h), where GCC takes the __m512
// members as 16-byte aligned and so allocates with plain operator new.
class FastGroups {
 public:
  explicit FastGroups(int64_t count) {
    const size_t bytes = (static_cast<size_t>(count) * sizeof(FastGroup) + 63) / 64 * 64;
    data_.reset(static_cast<FastGroup*>(std::aligned_alloc(64, std::max<size_t>(bytes, 64))));
    if (!data_) fail("flow_warp: out of memory allocating ", bytes, " bytes of scratch");
    std::memset(static_cast<void*>(data_.get()), 0, bytes);
  }
  FastGroup& operator[](size_t i) { return data_.get()[i]; }

 private:
  struct Free {
    void operator()(FastGroup* p) const { std::free(p); }
  };
  std::unique_ptr<FastGroup, Free> data_;
};

#endif  // VRESTORE_ISA_AVX512

// Per-thread scratch for one output row.
struct RowScratch {
  std::vector<float> px, py;
  std::vector<Taps> taps;  // scalar recipes, for pixels of slow groups
#if VRESTORE_ISA_AVX512
  FastGroups groups;
  explicit RowScratch(int64_t group_count) : groups(group_count) {}
#else
  explicit RowScratch(int64_t) {}
#endif
  std::vector<uint8_t> fast;  // per group
};

}  // namespace

void flow_warp(const ops::FlowWarpArgs& a) {
  const Tensor &x = a.x, &flow = a.flow;
  const WarpPadding padding = a.padding;
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Tensor out = a.out;  // (N, C, H, W)
  const int64_t plane = h * w;
  const int64_t groups = (w + kGroup - 1) / kGroup;
  const float* x_data = x.data();
  float* out_data = out.data();
#pragma omp parallel if (n * c * plane > (1 << 15))
  {
    RowScratch s(groups);
    s.px.resize(static_cast<size_t>(groups * kGroup));
    s.py.resize(static_cast<size_t>(groups * kGroup));
    s.taps.resize(static_cast<size_t>(groups * kGroup));
    s.fast.assign(static_cast<size_t>(groups), 0);
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t y = 0; y < h; ++y) {
        const float* dx = flow.data() + (b * 2) * plane + y * w;
        const float* dy = dx + plane;
        for (int64_t i = 0; i < w; ++i)
          flow_warp_source(dx[i], dy[i], i, y, h, w, padding, s.px[static_cast<size_t>(i)], s.py[static_cast<size_t>(i)]);
        for (int64_t g = 0; g < groups; ++g) {
          const int64_t i0 = g * kGroup, lanes = std::min<int64_t>(kGroup, w - i0);
#if VRESTORE_ISA_AVX512
          s.fast[static_cast<size_t>(g)] = make_fast_group(s.px.data() + i0, s.py.data() + i0, static_cast<int>(lanes),
                                                           h, w, s.groups[static_cast<size_t>(g)]);
          if (s.fast[static_cast<size_t>(g)]) continue;
#endif
          for (int64_t i = i0; i < i0 + lanes; ++i)
            s.taps[static_cast<size_t>(i)] = make_taps(s.px[static_cast<size_t>(i)], s.py[static_cast<size_t>(i)], h, w);
        }
        // Channels in chunks, so that a slow pixel's taps are loaded once per chunk.
        for (int64_t ch0 = 0; ch0 < c; ch0 += kChannelChunk) {
          const int64_t chunk = std::min<int64_t>(kChannelChunk, c - ch0);
          const float* src = x_data + (b * c + ch0) * plane;
          float* dst = out_data + (b * c + ch0) * plane + y * w;
          for (int64_t g = 0; g < groups; ++g) {
            const int64_t i0 = g * kGroup;
#if VRESTORE_ISA_AVX512
            if (s.fast[static_cast<size_t>(g)]) {
              for (int64_t k = 0; k < chunk; ++k)
                warp_fast_group(s.groups[static_cast<size_t>(g)], src + k * plane, h, w, dst + k * plane + i0);
              continue;
            }
#endif
            const int64_t i1 = std::min(w, i0 + kGroup);
            if (chunk == kChannelChunk) {
              for (int64_t i = i0; i < i1; ++i) {
                const Taps t = s.taps[static_cast<size_t>(i)];
#pragma GCC unroll 8
                for (int64_t k = 0; k < kChannelChunk; ++k) dst[k * plane + i] = apply_taps(t, src + k * plane);
              }
            } else {
              for (int64_t i = i0; i < i1; ++i)
                for (int64_t k = 0; k < chunk; ++k) dst[k * plane + i] = apply_taps(s.taps[static_cast<size_t>(i)], src + k * plane);
            }
          }
        }
      }
    }
  }
}

}  // namespace vrestore::cpu::VRESTORE_ISA_NS

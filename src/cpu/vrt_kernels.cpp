// The hot CPU bodies of VRT's transformer ops, compiled once per ISA level into
// vrestore::cpu::VRESTORE_ISA_NS (isa.h) like the convolutions; ops::linear and
// ops::window_attention (dispatch.cpp) call the level in use. Arguments are checked by
// core/ops_vrt.cpp.
//
// linear: a register-blocked product, kRowBlock token rows x kLinearVecs vectors of output features
// per tile, over the weight transposed once per call, so every step broadcasts one input value and
// reuses each weight vector for kRowBlock rows. Each output is bias + sum over k in k order.
//
// window_attention: per (window, head) at most kQueryBlock score rows at a time, in upstream's
// order of operations — q·scale rounded to f32, q·kᵀ, + relative position bias, + mask, softmax
// (max, exp, sum, divide), · v — with the head's q, kᵀ and vᵀ gathered into contiguous buffers
// first, so that score and value products are register-blocked over queries and keys, and the
// softmax runs on whole vectors (exp_nonpositive: a polynomial exp of about 1 ulp).
//
// The softmax sum and the value products are reductions over keys, so their result depends on how
// the partial sums associate. On every level they keep kSumLanes = 16 partial sums (one zmm on
// AVX-512, two ymm on AVX2, four xmm on baseline), key j in partial j mod 16, added in partial order
// at the end; so this op gives the same bits on AVX2 and AVX-512 hosts (baseline, without FMA,
// rounds its products apart).
// With 8 partials on AVX2, the golden case vrt_denoise_pa4 — whose tiny network amplifies rounding
// a few thousand times into features_out — left its 1e-3 relative bound by 35 % on an AVX2 host
// while passing on AVX-512.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/op_args.h"
#include "core/op_args_vrt.h"
#include "cpu/gemm.h"  // Vec, kVecLanes, kRowBlock of this level
#include "cpu/isa.h"   // after every header above
#include "cpu/isa_kernels.h"

namespace vrestore::cpu::VRESTORE_ISA_NS {
namespace {

constexpr int kLinearVecs = 2;  // kRowBlock x 2 accumulators: 16 of 32 zmm, 8 of 16 ymm
constexpr int64_t kLinearWidth = int64_t{kLinearVecs} * kVecLanes;

inline Vec load_vec(const float* p) { return *reinterpret_cast<const Vec*>(p); }

constexpr int kSumLanes = 16;                       // partial sums of a reduction over keys (see the top)
constexpr int kSumParts = kSumLanes / kVecLanes;    // vectors holding them
static_assert(kSumLanes % kVecLanes == 0);

// The kSumLanes partial sums held in `parts`, added in partial order.
inline float total_of(const Vec (&parts)[kSumParts]) {
  float total = 0;
  for (int p = 0; p < kSumParts; ++p)
    for (int l = 0; l < kVecLanes; ++l) total += parts[p][l];
  return total;
}

// e^x for x <= 0 (softmax numerators after subtracting the row maximum), kVecLanes at a time:
// x = n·ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact n·ln2_hi), e^r by Cephes expf's
// degree-6 polynomial (about 1 ulp), 2^n from the exponent bits. Below e^-87.3 (the smallest
// normal float) the result is 0, as are -inf and NaN-free underflows; std::exp would give a
// denormal there, less than 1e-37 relative to a softmax sum that is at least 1.
inline Vec exp_nonpositive(Vec x) {
  typedef int32_t IVec __attribute__((vector_size(kVecLanes * sizeof(int32_t))));
  const Vec lowest = Vec{} - 87.33654f;
  const auto underflow = x < lowest;
  x = underflow ? lowest : x;
  const IVec n = __builtin_convertvector(x * 1.44269504088896341f - 0.5f, IVec);  // round to nearest for x <= 0
  const Vec nf = __builtin_convertvector(n, Vec);
  const Vec r = x - nf * 0.693359375f - nf * -2.12194440e-4f;
  Vec p = Vec{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const Vec e = p * (r * r) + r + 1.0f;
  const IVec bits = (n + 127) << 23;
  Vec scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  const Vec out = e * scale;
  return underflow ? Vec{} : out;
}
inline void store_vec(float* p, Vec v) { *reinterpret_cast<Vec*>(p) = v; }

// One tile: rows [r0, r0 + kRowBlock) (rows past `rows` recompute the last row and are not
// stored), output columns [c0, c0 + kLinearWidth) of the padded transposed weight.
void linear_tile(const float* x, const float* wt, const float* bias, int64_t rows, int64_t in, int64_t padded,
                 int64_t out_features, int64_t r0, int64_t c0, float* out) {
  const float* row[kRowBlock];
  for (int r = 0; r < kRowBlock; ++r) row[r] = x + std::min(r0 + r, rows - 1) * in;
  Vec acc[kRowBlock][kLinearVecs];
  for (int v = 0; v < kLinearVecs; ++v) {
    const Vec b = load_vec(bias + c0 + v * kVecLanes);
    for (int r = 0; r < kRowBlock; ++r) acc[r][v] = b;
  }
  for (int64_t k = 0; k < in; ++k) {
    const float* w = wt + k * padded + c0;
    Vec wv[kLinearVecs];
    for (int v = 0; v < kLinearVecs; ++v) wv[v] = load_vec(w + v * kVecLanes);
    for (int r = 0; r < kRowBlock; ++r) {
      const Vec s = Vec{} + row[r][k];
      for (int v = 0; v < kLinearVecs; ++v) acc[r][v] += s * wv[v];
    }
  }
  const int64_t last_row = std::min<int64_t>(kRowBlock, rows - r0);
  for (int r = 0; r < last_row; ++r) {
    float* y = out + (r0 + r) * out_features;
    for (int v = 0; v < kLinearVecs; ++v) {
      const int64_t c = c0 + v * kVecLanes;
      if (c + kVecLanes <= out_features) {
        store_vec(y + c, acc[r][v]);
      } else {
        for (int64_t i = 0; c + i < out_features && i < kVecLanes; ++i) y[c + i] = acc[r][v][i];
      }
    }
  }
}

// The per-head buffers of one window: q (tokens, head_dim) scaled; kᵀ and vᵀ (head_dim, stride)
// with stride >= tokens + kKeyBlock and zeros past the tokens, so key blocks may run over the end.
constexpr int kQueryBlock = 4;                           // queries sharing each kᵀ / vᵀ load
constexpr int kKeyVecs = 4;                              // 4 x 4 accumulators
constexpr int kKeyBlock = kKeyVecs * kVecLanes;          // keys per score block
static_assert(kKeyBlock >= kSumLanes, "softmax rows and value products read up to kSumLanes - 1 past the keys");
struct HeadBuffers {
  int tokens = 0, head_dim = 0, stride = 0;
  std::vector<float> q, kt, vt;
  std::vector<float> scores;  // kQueryBlock rows of `stride` floats
  HeadBuffers(int tokens_, int head_dim_)
      : tokens(tokens_), head_dim(head_dim_), stride((tokens_ + 2 * kKeyBlock - 1) / kKeyBlock * kKeyBlock),
        q(size_t(tokens_) * size_t(head_dim_)), kt(size_t(head_dim_) * size_t(stride), 0.0f), vt(kt.size(), 0.0f),
        scores(size_t(kQueryBlock) * size_t(stride), 0.0f) {}
};

// Attention of `queries` rows of b.q from q0 on against keys [k0, k0 + keys): scores (sum over d
// in order), + bias rows (bias_stride floats apart, or nullptr), + the mask of the label pair,
// softmax, · v. Writes `queries` rows of head_dim values `out_stride` apart.
void attend(HeadBuffers& b, int q0, int k0, int queries, int keys, const float* bias, int64_t bias_stride,
            const int* labels, bool masked, float* out, int64_t out_stride) {
  const int hd = b.head_dim;
  for (int i0 = 0; i0 < queries; i0 += kQueryBlock) {
    const int block = std::min(kQueryBlock, queries - i0);
    const float* qrow[kQueryBlock];
    for (int r = 0; r < kQueryBlock; ++r) qrow[r] = b.q.data() + size_t(q0 + i0 + std::min(r, block - 1)) * hd;
    // Scores: kQueryBlock x kKeyBlock accumulators per step, each kᵀ vector used by every query.
    for (int j0 = 0; j0 < keys; j0 += kKeyBlock) {
      Vec acc[kQueryBlock][kKeyVecs] = {};
      for (int d = 0; d < hd; ++d) {
        const float* kd = b.kt.data() + size_t(d) * b.stride + k0 + j0;
        Vec kv[kKeyVecs];
        for (int v = 0; v < kKeyVecs; ++v) kv[v] = load_vec(kd + v * kVecLanes);
        for (int r = 0; r < kQueryBlock; ++r) {
          const Vec s = Vec{} + qrow[r][d];
          for (int v = 0; v < kKeyVecs; ++v) acc[r][v] += s * kv[v];
        }
      }
      for (int r = 0; r < block; ++r)
        for (int v = 0; v < kKeyVecs; ++v) store_vec(b.scores.data() + size_t(r) * b.stride + j0 + v * kVecLanes, acc[r][v]);
    }
    for (int r = 0; r < block; ++r) {
      float* row = b.scores.data() + size_t(r) * b.stride;
      const int i = i0 + r;
      if (bias) {
        const float* bi = bias + int64_t(i) * bias_stride;
#pragma omp simd
        for (int j = 0; j < keys; ++j) row[j] += bi[j];
      }
      if (masked) {
        const int li = labels[i];
#pragma omp simd
        for (int j = 0; j < keys; ++j) row[j] += li != labels[j] ? kWindowMaskValue : 0.0f;
      }
      // Softmax over whole kSumLanes blocks: the lanes past `keys` are excluded from the maximum
      // and zeroed before the sum, which the value product then runs over too.
      const int whole = (keys + kSumLanes - 1) / kSumLanes * kSumLanes;
      std::fill(row + keys, row + whole, -INFINITY);
      Vec top_lanes = load_vec(row);
      for (int j = kVecLanes; j < whole; j += kVecLanes) {
        const Vec v = load_vec(row + j);
        top_lanes = v > top_lanes ? v : top_lanes;
      }
      float top = top_lanes[0];
      for (int l = 1; l < kVecLanes; ++l) top = std::max(top, top_lanes[l]);
      Vec sum_parts[kSumParts] = {};
      for (int j = 0; j < whole; j += kSumLanes) {
        for (int p = 0; p < kSumParts; ++p) {
          const Vec e = exp_nonpositive(load_vec(row + j + p * kVecLanes) - top);
          store_vec(row + j + p * kVecLanes, e);
          sum_parts[p] += e;
        }
      }
      std::fill(row + keys, row + b.stride, 0.0f);
      const float sum = total_of(sum_parts);  // the padding lanes added exp(-inf) = 0
#pragma omp simd
      for (int j = 0; j < keys; ++j) row[j] /= sum;
    }
    // Values: o[r][d] = sum_j p[r][j] v[j][d], kQueryBlock probability rows per vᵀ row.
    for (int d = 0; d < hd; ++d) {
      const float* vd = b.vt.data() + size_t(d) * b.stride + k0;
      Vec acc[kQueryBlock][kSumParts] = {};
      for (int j = 0; j < keys; j += kSumLanes) {
        for (int p = 0; p < kSumParts; ++p) {
          const Vec v = load_vec(vd + j + p * kVecLanes);
          for (int r = 0; r < kQueryBlock; ++r)
            acc[r][p] += load_vec(b.scores.data() + size_t(r) * b.stride + j + p * kVecLanes) * v;
        }
      }
      for (int r = 0; r < block; ++r) out[int64_t(i0 + r) * out_stride + d] = total_of(acc[r]);
    }
  }
}

}  // namespace

void linear(const ops::LinearArgs& a) {
  const int64_t rows = a.rows, in = a.in_features, out_features = a.out_features;
  const int64_t padded = (out_features + kLinearWidth - 1) / kLinearWidth * kLinearWidth;
  const float* w = a.weight.data();
  // weightᵀ (in, padded) and the bias, zero-padded to whole tiles.
  std::vector<float> wt(static_cast<size_t>(in * padded), 0.0f), bias(static_cast<size_t>(padded), 0.0f);
  for (int64_t o = 0; o < out_features; ++o) {
    for (int64_t k = 0; k < in; ++k) wt[static_cast<size_t>(k * padded + o)] = w[o * in + k];
    if (a.bias.defined()) bias[static_cast<size_t>(o)] = a.bias.data()[o];
  }
  const float* x = a.x.data();
  Tensor out_tensor = a.out;
  float* out = out_tensor.data();
  const int64_t row_tiles = (rows + kRowBlock - 1) / kRowBlock, col_tiles = padded / kLinearWidth;
#pragma omp parallel for collapse(2) schedule(static) if (rows * in * out_features > (1 << 18))
  for (int64_t rt = 0; rt < row_tiles; ++rt)
    for (int64_t ct = 0; ct < col_tiles; ++ct)
      linear_tile(x, wt.data(), bias.data(), rows, in, padded, out_features, rt * kRowBlock, ct * kLinearWidth, out);
}

void window_attention(const ops::WindowAttentionArgs& a) {
  const WindowGeometry& g = a.g;
  const int tokens = g.tokens(), heads = int(a.heads), head_dim = int(a.head_dim);
  const int64_t channels = a.heads * a.head_dim, stride = 3 * channels;
  const int64_t per_image = g.windows_per_image(), windows = a.qkv.size(0);
  const float* qkv = a.qkv.data();
  Tensor out_tensor = a.out;
  float* out = out_tensor.data();
  const bool masked = g.shifted();
  const size_t plane = size_t(tokens) * size_t(tokens);

  // Self attention: each head's relative position bias as a (tokens, tokens) matrix, gathered once
  // from the table through the index of the (top-left block of the) full window.
  std::vector<float> bias;
  if (!a.mutual) {
    const float* table = a.bias_table.data();
    bias.resize(plane * size_t(heads));
    for (int i = 0; i < tokens; ++i)
      for (int j = 0; j < tokens; ++j) {
        const int64_t index = relative_position_index(a.full_window, i, j);
        for (int h = 0; h < heads; ++h) bias[size_t(h) * plane + size_t(i) * tokens + j] = table[index * heads + h];
      }
  }

#pragma omp parallel
  {
    HeadBuffers buffers(tokens, head_dim);
    std::vector<int> label(static_cast<size_t>(tokens));
#pragma omp for schedule(dynamic, 1) collapse(2)
    for (int64_t b = 0; b < windows; ++b) {
      for (int h = 0; h < heads; ++h) {
        const int w = int(b % per_image);
        for (int t = 0; t < tokens; ++t) label[size_t(t)] = window_token_label(g, w, t);
        const float* base = qkv + b * tokens * stride + h * head_dim;
        for (int t = 0; t < tokens; ++t) {
          const float* src = base + t * stride;
          for (int d = 0; d < head_dim; ++d) {
            buffers.q[size_t(t) * head_dim + d] = src[d] * a.scale;  // rounded to f32 like upstream's q * scale
            buffers.kt[size_t(d) * buffers.stride + t] = src[channels + d];
            buffers.vt[size_t(d) * buffers.stride + t] = src[2 * channels + d];
          }
        }
        float* o = out + b * tokens * channels + h * head_dim;
        if (!a.mutual) {
          attend(buffers, 0, 0, tokens, tokens, bias.data() + size_t(h) * plane, tokens, label.data(), masked, o,
                 channels);
        } else {
          // Slots [0, T/2): second-frame queries on the first frame; [T/2, T): the reverse. The mask
          // is the first-frame block for both (labels of tokens i, j < T/2).
          const int half = tokens / 2;
          attend(buffers, half, 0, half, half, nullptr, 0, label.data(), masked, o, channels);
          attend(buffers, 0, half, half, half, nullptr, 0, label.data(), masked, o + int64_t(half) * channels, channels);
        }
      }
    }
  }
}

}  // namespace vrestore::cpu::VRESTORE_ISA_NS

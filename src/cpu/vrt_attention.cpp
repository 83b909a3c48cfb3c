// CPU body of VRT's window attention (arguments checked by core/ops_vrt.cpp). The reference: per
// (window, head) one score matrix at a time, in upstream's order of operations — q·scale rounded
// to f32, q·kᵀ, + relative position bias, + mask, softmax (max, exp, sum, divide), · v.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/op_list.h"

namespace vrestore::cpu {
namespace {

// One attention of `queries` query rows against `keys` key/value rows, all rows `stride` floats
// apart (the packed qkv layout). bias(i, j) and mask(i, j) give the additive terms of row i,
// column j (query and key numbers within this attention). Writes `queries` rows of head_dim
// values `out_stride` apart. `scores` holds queries * keys floats, `scaled` head_dim floats.
template <class Bias, class Mask>
void attend(const float* q, const float* k, const float* v, int64_t stride, int queries, int keys, int head_dim,
            float scale, Bias bias, Mask mask, float* out, int64_t out_stride, std::vector<float>& scores,
            std::vector<float>& scaled) {
  for (int i = 0; i < queries; ++i) {
    const float* qi = q + i * stride;
    for (int d = 0; d < head_dim; ++d) scaled[size_t(d)] = qi[d] * scale;
    float* row = scores.data() + size_t(i) * size_t(keys);
    for (int j = 0; j < keys; ++j) {
      const float* kj = k + j * stride;
      float dot = 0;
      for (int d = 0; d < head_dim; ++d) dot += scaled[size_t(d)] * kj[d];
      row[j] = dot + bias(i, j) + mask(i, j);
    }
    float top = row[0];
    for (int j = 1; j < keys; ++j) top = std::max(top, row[j]);
    float sum = 0;
    for (int j = 0; j < keys; ++j) {
      row[j] = std::exp(row[j] - top);
      sum += row[j];
    }
    float* o = out + i * out_stride;
    for (int d = 0; d < head_dim; ++d) o[d] = 0;
    for (int j = 0; j < keys; ++j) {
      const float p = row[j] / sum;
      const float* vj = v + j * stride;
      for (int d = 0; d < head_dim; ++d) o[d] += p * vj[d];
    }
  }
}

}  // namespace

void run(const ops::WindowAttentionArgs& a) {
  const WindowGeometry& g = a.g;
  const int tokens = g.tokens(), heads = int(a.heads), head_dim = int(a.head_dim);
  const int64_t channels = a.heads * a.head_dim, stride = 3 * channels;
  const int64_t per_image = g.windows_per_image(), windows = a.qkv.size(0);
  const float* qkv = a.qkv.data();
  const float* table = a.bias_table.defined() ? a.bias_table.data() : nullptr;
  Tensor out_tensor = a.out;
  float* out = out_tensor.data();
  const bool masked = g.shifted();

  // The relative-position index of the (top-left block of the) full window, shared by all windows.
  std::vector<int> index;
  if (!a.mutual) {
    index.resize(size_t(tokens) * size_t(tokens));
    for (int i = 0; i < tokens; ++i)
      for (int j = 0; j < tokens; ++j) index[size_t(i) * tokens + j] = relative_position_index(a.full_window, i, j);
  }

#pragma omp parallel
  {
    std::vector<float> scores(static_cast<size_t>(tokens) * static_cast<size_t>(tokens));
    std::vector<float> scaled(static_cast<size_t>(head_dim));
    std::vector<int> label(static_cast<size_t>(tokens));
#pragma omp for schedule(dynamic, 1) collapse(2)
    for (int64_t b = 0; b < windows; ++b) {
      for (int h = 0; h < heads; ++h) {
        const int w = int(b % per_image);
        for (int t = 0; t < tokens; ++t) label[size_t(t)] = window_token_label(g, w, t);
        const float* base = qkv + b * tokens * stride + h * head_dim;
        const float *q = base, *k = base + channels, *v = base + 2 * channels;
        float* o = out + b * tokens * channels + h * head_dim;
        auto mask = [&](int i, int j) {
          return masked && label[size_t(i)] != label[size_t(j)] ? kWindowMaskValue : 0.0f;
        };
        if (!a.mutual) {
          auto bias = [&](int i, int j) { return table[int64_t(index[size_t(i) * tokens + j]) * heads + h]; };
          attend(q, k, v, stride, tokens, tokens, head_dim, a.scale, bias, mask, o, channels, scores, scaled);
        } else {
          // Slots [0, T/2): second-frame queries on the first frame; [T/2, T): the reverse. The mask
          // is the first-frame block for both (labels of tokens i, j < T/2).
          const int half = tokens / 2;
          const int64_t second = int64_t(half) * stride;
          auto none = [](int, int) { return 0.0f; };
          attend(q + second, k, v, stride, half, half, head_dim, a.scale, none, mask, o, channels, scores, scaled);
          attend(q, k + second, v + second, stride, half, half, head_dim, a.scale, none, mask,
                 o + int64_t(half) * channels, channels, scores, scaled);
        }
      }
    }
  }
}

}  // namespace vrestore::cpu

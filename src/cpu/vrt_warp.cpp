// CPU bodies of VRT's warp-side ops (arguments checked by core/ops_vrt.cpp): the nearest4 input
// warp and the flow-guided DCN's offset/mask. Plain loops over the formulas of kernels/vrt_common.h,
// which the CUDA kernels share.
#include <cmath>

#include "core/op_list.h"

namespace vrestore::cpu {

void run(const ops::Nearest4WarpArgs& a) {
  const int64_t c = a.channels, h = a.height, w = a.width, plane = h * w;
  const float* x = a.x.data();
  const float* flow = a.flow.data();
  Tensor out_tensor = a.out;
  float* out = out_tensor.data();
#pragma omp parallel for schedule(static) if (a.batch * plane * c > (1 << 16))
  for (int64_t n = 0; n < a.batch; ++n) {
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t xo = 0; xo < w; ++xo) {
        const int64_t p = y * w + xo;
        const float* f = flow + n * 2 * plane;
        const float vx = static_cast<float>(xo) + f[p], vy = static_cast<float>(y) + f[plane + p];
        for (int corner = 0; corner < 4; ++corner) {  // block = x corner · 2 + y corner
          const int64_t sx = nearest4_index(vx, corner >= 2, w), sy = nearest4_index(vy, corner % 2 == 1, h);
          const bool inside = sx >= 0 && sy >= 0;
          const float* src = x + n * c * plane + (inside ? sy * w + sx : 0);
          float* dst = out + (n * 4 + corner) * c * plane + p;
          for (int64_t ch = 0; ch < c; ++ch) dst[ch * plane] = inside ? src[ch * plane] : 0.0f;
        }
      }
    }
  }
}

void run(const ops::FlowGuidedOffsetArgs& a) {
  const int64_t plane = a.plane, pairs = 9 * a.groups, per_neighbour = pairs / a.neighbours;
  const float* raw = a.x.data();
  const float* flows = a.flows.data();
  Tensor offset_tensor = a.offset, mask_tensor = a.mask;
  float* offset = offset_tensor.data();
  float* mask = mask_tensor.data();
  for (int64_t n = 0; n < a.batch; ++n) {
    const float* r = raw + n * 27 * a.groups * plane;
    const float* f = flows + n * 2 * a.neighbours * plane;
    float* o = offset + n * 2 * pairs * plane;
    for (int64_t pair = 0; pair < pairs; ++pair) {
      const float* fx = f + 2 * (pair / per_neighbour) * plane;  // the neighbour's (dx, dy) planes
      const float* fy = fx + plane;
      for (int64_t p = 0; p < plane; ++p) {
        o[2 * pair * plane + p] = flow_guided_offset_value(r[2 * pair * plane + p], fy[p], a.max_residue);
        o[(2 * pair + 1) * plane + p] = flow_guided_offset_value(r[(2 * pair + 1) * plane + p], fx[p], a.max_residue);
      }
    }
    const float* m_raw = r + 2 * pairs * plane;
    float* m = mask + n * pairs * plane;
    for (int64_t i = 0; i < pairs * plane; ++i) m[i] = 1.0f / (1.0f + std::exp(-m_raw[i]));
  }
}

}  // namespace vrestore::cpu

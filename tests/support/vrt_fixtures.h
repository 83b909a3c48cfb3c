// VRT test helpers shared by the CPU tests (tests/test_ops_vrt.cpp, tests/test_vrt_warp.cpp) and the
// emulated CUDA ones (tests/emulated/test_*vrt*.cpp): fixtures as block parameters, and the window
// attention cases' derived shapes.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "core/check.h"
#include "core/ops_vrt.h"
#include "models/vrt_blocks.h"

namespace vrestore::test {

// A fixture's tensors as a block's parameter source; keys are the module's state-dict names (a
// block loaded under the empty name asks for ".key"). Parameters go to `device` in `dtype`, except
// those the block asks for in f32 (Keep::F32), which stay f32. Throws vrestore::Error naming the key
// when the fixture lacks it or its shape differs. `f` must outlive the source.
inline vrt::TensorSource fixture_source(const std::map<std::string, Tensor>& f, Device device = Device::CPU,
                                        DType dtype = DType::F32) {
  return [&f, device, dtype](const std::string& key, const Shape& shape, vrt::Keep keep) {
    const std::string name = !key.empty() && key[0] == '.' ? key.substr(1) : key;
    const auto it = f.find(name);
    VR_CHECK(it != f.end(), "fixture has no tensor ", name);
    check_shape("fixture", name.c_str(), it->second, shape);
    return it->second.to(device, keep == vrt::Keep::F32 ? DType::F32 : dtype);
  };
}

// One window attention case: a (n, d, h, w) volume, the full window and shift (D, H, W), heads of
// head_dim channels, self or mutual attention.
struct WindowAttentionCase {
  int64_t n, d, h, w;
  std::array<int, 3> full, shift;
  int heads, head_dim;
  bool mutual;

  WindowGeometry geometry() const { return ops::window_geometry(n, {d, h, w}, full, shift); }
  int64_t channels() const { return int64_t{heads} * head_dim; }
  // Rows of the relative position bias table: (2 Wd - 1)(2 Wh - 1)(2 Ww - 1).
  int64_t bias_rows() const { return int64_t{2 * full[0] - 1} * (2 * full[1] - 1) * (2 * full[2] - 1); }
  ops::WindowAttentionParams params(const WindowGeometry& g) const {
    ops::WindowAttentionParams p;
    p.heads = heads;
    p.full_window = full;
    p.geometry = g;
    p.mutual = mutual;
    return p;
  }
};

}  // namespace vrestore::test

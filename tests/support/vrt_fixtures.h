// VRT test helpers shared by the CPU tests (tests/test_ops_vrt.cpp, tests/test_vrt_warp.cpp) and the
// emulated CUDA ones (tests/emulated/test_*vrt*.cpp): fixtures as block parameters, and the window
// attention cases' derived shapes.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include "core/check.h"
#include "core/ops_vrt.h"
#include "models/vrt_blocks.h"

namespace vrestore::test {

// How a fixture tensor named `name` becomes a block parameter (device, dtype as `keep` asks).
using PlaceTensor = std::function<Tensor(const std::string& name, const Tensor& t, vrt::Keep keep)>;

// A fixture's tensors as a block's parameter source; keys are the module's state-dict names (a
// block loaded under the empty name asks for ".key"). Throws vrestore::Error naming the key when the
// fixture lacks it or its shape differs. `f` must outlive the source.
inline vrt::TensorSource fixture_source(const std::map<std::string, Tensor>& f, PlaceTensor place = {}) {
  return [&f, place = std::move(place)](const std::string& key, const Shape& shape, vrt::Keep keep) {
    const std::string name = !key.empty() && key[0] == '.' ? key.substr(1) : key;
    const auto it = f.find(name);
    VR_CHECK(it != f.end(), "fixture has no tensor ", name);
    check_shape("fixture", name.c_str(), it->second, shape);
    return place ? place(name, it->second, keep) : it->second;
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

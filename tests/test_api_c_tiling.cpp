// The C API's tile fields and memory budget (vrestore_restore_options version 2) on the tiny VRT
// fixture: they reach the library exactly as RestoreOptions::tile / memory_budget_bytes do, and a
// version-1 struct (an older header) keeps their defaults.
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstring>
#include <string>

#include "support/fixtures.h"
#include "support/models.h"
#include "vrestore/vrestore.h"
#include "vrestore/vrestore_c.h"

using namespace vrestore;
using Catch::Matchers::Contains;

namespace {

struct CModel {
  vrestore_model* m = nullptr;
  explicit CModel(const std::string& path) {
    REQUIRE(vrestore_model_load(path.c_str(), VRESTORE_DEVICE_CPU, &m) == VRESTORE_OK);
  }
  ~CModel() { vrestore_model_free(m); }
};

// A clip larger than one 64x64 tile in both axes, so that tiles and their overlaps really blend.
constexpr int64_t kFrames = 6, kHeight = 72, kWidth = 80, kScale = 4;

Tensor restore_c(const CModel& model, const Tensor& clip, const vrestore_restore_options& o) {
  Tensor out = Tensor::empty({kFrames, 3, kHeight * kScale, kWidth * kScale});
  const vrestore_status status = vrestore_restore_clip(model.m, clip.data(), kFrames, kWidth, kHeight, out.data(), &o);
  INFO(vrestore_last_error());
  REQUIRE(status == VRESTORE_OK);
  return out;
}

}  // namespace

TEST_CASE("C API: tile fields and memory budget restore like RestoreOptions", "[api][vrt]") {
  const std::string path = test::converted_weights("vrt_sr_x4_pa2");
  Model model = Model::load(path);
  REQUIRE(model.info().arch == "vrt.VRT");
  CModel c(path);
  const Tensor clip = test::random_tensor({kFrames, 3, kHeight, kWidth}, 811, 0.0f, 1.0f);

  vrestore_restore_options o;
  vrestore_restore_options_init(&o);
  const RestoreOptions defaults;
  CHECK(o.tile_frames == defaults.tile.frames);
  CHECK(o.tile_height == defaults.tile.height);
  CHECK(o.tile_width == defaults.tile.width);
  CHECK(o.tile_overlap_frames == defaults.tile.overlap_frames);
  CHECK(o.tile_overlap_height == defaults.tile.overlap_height);
  CHECK(o.tile_overlap_width == defaults.tile.overlap_width);
  CHECK(o.memory_budget_bytes == defaults.memory_budget_bytes);

  // Every tile field set to a value other than its default: two clips of 4 frames (overlap 2) and
  // 2x2 spatial tiles of 64 (overlaps 16 rows, 8 columns).
  o.tile_frames = 4;
  o.tile_height = 64;
  o.tile_width = 64;
  o.tile_overlap_frames = 2;
  o.tile_overlap_height = 16;
  o.tile_overlap_width = 8;
  o.memory_budget_bytes = uint64_t{1} << 30;
  RestoreOptions ro;
  ro.tile = {4, 64, 64, 2, 16, 8};
  ro.memory_budget_bytes = size_t{1} << 30;
  const Tensor tiled_cpp = model.restore(clip, ro);
  const Tensor tiled_c = restore_c(c, clip, o);
  CHECK(test::compare(tiled_c, tiled_cpp).max_abs == 0.0);
  // The tiles took effect: the untiled restoration differs (at the seams).
  const Tensor whole = model.restore(clip);
  CHECK(test::compare(tiled_cpp, whole).max_abs > 0.0);

  // A version-1 struct (an older header's caller) restores with the defaults. Its fields end
  // after `memory`; the bytes beyond are not its own (garbage here) and must not be read.
  vrestore_restore_options v1;
  vrestore_restore_options_init(&v1);
  const size_t v1_size = offsetof(vrestore_restore_options, tile_frames);
  std::memset(reinterpret_cast<unsigned char*>(&v1) + v1_size, 0xAB, sizeof v1 - v1_size);
  v1.struct_size = v1_size;
  CHECK(test::compare(restore_c(c, clip, v1), whole).max_abs == 0.0);

  // A struct_size between the versions is refused.
  Tensor out = Tensor::empty({kFrames, 3, kHeight * kScale, kWidth * kScale});
  o.struct_size = v1_size + 8;
  CHECK(vrestore_restore_clip(c.m, clip.data(), kFrames, kWidth, kHeight, out.data(), &o) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("vrestore_restore_options.struct_size is"));

  // A bad tile and a budget nothing fits are errors naming them.
  o.struct_size = sizeof o;
  o.tile_width = 60;
  CHECK(vrestore_restore_clip(c.m, clip.data(), kFrames, kWidth, kHeight, out.data(), &o) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("tile width 60 is not a multiple of 8"));
  vrestore_restore_options_init(&o);
  o.memory_budget_bytes = 1000;
  CHECK(vrestore_restore_clip(c.m, clip.data(), kFrames, kWidth, kHeight, out.data(), &o) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("fits the memory budget of 1000 bytes"));
}

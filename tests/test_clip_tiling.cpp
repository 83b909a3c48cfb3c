// Test-time tiling (models/clip_tiling.h) against upstream main_test_vrt.py's test_video / test_clip,
// with local fake models whose tiled results are derived by hand here: tile starts from upstream's
// formula written out, pointwise models (tiled == untiled exactly), a 3×3 box blur (seam confined to
// the derived rows/columns), clip-dependent temporal averages, padding, streaming and the planner.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include "core/ops.h"
#include "models/clip_tiling.h"
#include "vrestore/error.h"
#include "vrestore/vrestore.h"

using namespace vrestore;
using Catch::Matchers::Contains;

namespace {

using Fill = std::function<float(int64_t t, int64_t c, int64_t y, int64_t x)>;

Tensor make_clip(int64_t t, int64_t c, int64_t h, int64_t w, const Fill& fill) {
  Tensor clip = Tensor::empty({1, t, c, h, w});
  float* p = clip.data();
  for (int64_t a = 0; a < t; ++a)
    for (int64_t b = 0; b < c; ++b)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) *p++ = fill(a, b, y, x);
  return clip;
}

float at(const Tensor& x, int64_t t, int64_t c, int64_t y, int64_t xx) {
  const int64_t C = x.size(-3), H = x.size(-2), W = x.size(-1);
  return x.data()[((t * C + c) * H + y) * W + xx];
}

// Values k/64 in [0, 4): sums of a few of them and their quotients by small counts are exact.
float dyadic(int64_t t, int64_t c, int64_t y, int64_t x) {
  return static_cast<float>((t * 131 + c * 71 + y * 37 + x * 11 + (y * x) % 7) % 256) / 64.0f;
}

// Pointwise in output space: out(t, c, y, x) = in(t, c, y / s, x / s) + t / 8 (nearest ×s upscale
// plus a per-frame constant). Checks every call's size against the constraints.
ClipModel nearest_model(const ClipConstraints& c, std::vector<Shape>* calls = nullptr) {
  return [c, calls](const Tensor& in) {
    if (calls) calls->push_back(in.shape());
    const int64_t t = in.size(1), ch = in.size(2), h = in.size(3), w = in.size(4), s = c.scale;
    REQUIRE(h % c.height_multiple() == 0);
    REQUIRE(w % c.width_multiple() == 0);
    REQUIRE(h >= c.min_height);
    REQUIRE(w >= c.min_width);
    REQUIRE(t >= c.min_frames);
    return make_clip(t, ch, h * s, w * s,
                     [&](int64_t a, int64_t b, int64_t y, int64_t x) { return at(in, a, b, y / s, x / s) + a / 8.0f; });
  };
}

// 3×3 box blur per frame and channel, zero padding, through ops::conv2d.
Tensor box_blur(const Tensor& in) {
  const int64_t t = in.size(1), c = in.size(2), h = in.size(3), w = in.size(4);
  const Tensor weight = Tensor::full({1, 1, 3, 3}, 1.0f / 9.0f);
  return ops::conv2d(in.reshape({t * c, 1, h, w}), weight, nullptr).reshape({1, t, c, h, w});
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(double(a.data()[i]) - double(b.data()[i])));
  return m;
}

ClipConstraints constraints(int64_t scale, int64_t multiple, int64_t min_size) {
  ClipConstraints c;
  c.scale = scale;
  c.in_channels = c.out_channels = 2;
  c.spatial_multiple = multiple;
  c.min_height = c.min_width = min_size;
  return c;
}

TileSpec spatial(int64_t tile_h, int64_t tile_w, int64_t overlap) {
  TileSpec s;
  s.height = tile_h;
  s.width = tile_w;
  s.overlap_height = s.overlap_width = overlap;
  return s;
}

}  // namespace

TEST_CASE("tile starts follow upstream's range(0, n - tile, tile - overlap) + [max(0, n - tile)]", "[tiling]") {
  // Written out by hand from the formula.
  CHECK(tile_starts(100, 64, 20) == std::vector<int64_t>{0, 36});         // range(0, 36, 44)
  CHECK(tile_starts(256, 128, 20) == std::vector<int64_t>{0, 108, 128});  // range(0, 128, 108)
  CHECK(tile_starts(720, 256, 20) == std::vector<int64_t>{0, 236, 464});  // range(0, 464, 236)
  CHECK(tile_starts(30, 16, 5) == std::vector<int64_t>{0, 11, 14});       // range(0, 14, 11)
  CHECK(tile_starts(64, 64, 20) == std::vector<int64_t>{0});              // range(0, 0) is empty
  CHECK(tile_starts(50, 64, 20) == std::vector<int64_t>{0});              // max(0, -14)
  CHECK(tile_starts(77, 0, 20) == std::vector<int64_t>{0});               // tile 0: the whole axis
  // Frames (test_video): --tile 40 / overlap 2 on 100 frames, 6 / 2 on 10 and 12 frames.
  CHECK(tile_starts(100, 40, 2) == std::vector<int64_t>{0, 38, 60});
  CHECK(tile_starts(10, 6, 2) == std::vector<int64_t>{0, 4});
  CHECK(tile_starts(12, 6, 2) == std::vector<int64_t>{0, 4, 6});
  CHECK_THROWS_WITH(tile_starts(10, 6, 6), Contains("0 <= overlap < tile"));
}

TEST_CASE("interior patch sides drop overlap//2 output pixels at the start and ceil(overlap/2) at the end",
          "[tiling]") {
  // Upstream zeroes out_patch[..., :o//2, :] and [..., -o//2:, :]; Python's -o//2 is -ceil(o/2).
  CHECK(kept_range(0, 3, 64, 20).begin == 0);
  CHECK(kept_range(0, 3, 64, 20).end == 54);
  CHECK(kept_range(1, 3, 64, 20).begin == 10);
  CHECK(kept_range(1, 3, 64, 20).end == 54);
  CHECK(kept_range(2, 3, 64, 20).begin == 10);
  CHECK(kept_range(2, 3, 64, 20).end == 64);
  CHECK(kept_range(1, 3, 64, 5).begin == 2);   // 5 // 2
  CHECK(kept_range(1, 3, 64, 5).end == 61);    // -(5) // 2 = -3
  CHECK(kept_range(0, 1, 64, 20).begin == 0);  // a single patch keeps everything
  CHECK(kept_range(0, 1, 64, 20).end == 64);
  // Overlap 0 drops nothing (upstream's [-0//2:] would zero the whole patch).
  CHECK(kept_range(1, 3, 64, 0).begin == 0);
  CHECK(kept_range(1, 3, 64, 0).end == 64);
}

TEST_CASE("mirror padding repeats the last items in reverse, edge included", "[tiling]") {
  // torch.flip(x[-3:]) after 5 rows: rows 4, 3, 2.
  CHECK(mirror_indices(5, 8) == std::vector<int64_t>{0, 1, 2, 3, 4, 4, 3, 2});
  CHECK(mirror_indices(5, 5) == std::vector<int64_t>{0, 1, 2, 3, 4});
  // Longer than the input: the reflection repeats with period 2·length.
  CHECK(mirror_indices(2, 7) == std::vector<int64_t>{0, 1, 1, 0, 0, 1, 1});
  CHECK(mirror_indices(1, 4) == std::vector<int64_t>{0, 0, 0, 0});
  CHECK(padded_size(5, 1, 4) == 8);
  CHECK(padded_size(5, 12, 4) == 12);
  CHECK(padded_size(64, 64, 8) == 64);
}

TEST_CASE("an untiled frame is padded by mirrored rows and columns and cropped back", "[tiling]") {
  ClipConstraints c = constraints(1, 4, 1);
  c.in_channels = c.out_channels = 1;
  Tensor seen;
  const ClipModel identity = [&](const Tensor& in) {
    seen = in.clone();
    return in;
  };
  const Tensor clip = make_clip(1, 1, 5, 3, [](int64_t, int64_t, int64_t y, int64_t x) { return float(10 * y + x); });
  const Tensor out = restore_clip_tiled(clip, identity, c, TileSpec{});
  REQUIRE(seen.shape() == Shape{1, 1, 1, 8, 4});
  // Rows 0..4 then 4, 3, 2; columns 0..2 then 2.
  const int64_t rows[8] = {0, 1, 2, 3, 4, 4, 3, 2}, cols[4] = {0, 1, 2, 2};
  for (int64_t y = 0; y < 8; ++y)
    for (int64_t x = 0; x < 4; ++x) CHECK(at(seen, 0, 0, y, x) == float(10 * rows[y] + cols[x]));
  CHECK(max_abs_diff(out, clip) == 0.0);

  // Smaller than the model's minimum (12): mirrored again beyond the first reflection.
  c.min_height = c.min_width = 12;
  restore_clip_tiled(clip, identity, c, TileSpec{});
  REQUIRE(seen.shape() == Shape{1, 1, 1, 12, 12});
  const int64_t rows12[12] = {0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 0, 1};
  const int64_t cols12[12] = {0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0};
  for (int64_t y = 0; y < 12; ++y)
    for (int64_t x = 0; x < 12; ++x) CHECK(at(seen, 0, 0, y, x) == float(10 * rows12[y] + cols12[x]));
}

TEST_CASE("spatial tiles of a pointwise model equal the untiled result exactly", "[tiling]") {
  struct Case {
    int64_t scale, h, w, tile_h, tile_w, overlap;
  };
  // Covers: several tiles per axis, the last tile overlapping more (coverage 2 to 4), an odd overlap,
  // overlap 0, a frame smaller than the tile on one axis (padded), a whole axis (tile 0).
  const Case cases[] = {{2, 37, 50, 16, 16, 6},  {1, 40, 40, 16, 16, 1}, {4, 29, 33, 12, 8, 0},
                        {2, 13, 70, 16, 24, 10}, {3, 24, 24, 0, 12, 4},  {2, 45, 21, 20, 20, 15}};
  for (const Case& k : cases) {
    INFO("scale " << k.scale << ", " << k.h << "x" << k.w << ", tile " << k.tile_h << "x" << k.tile_w << ", overlap "
                  << k.overlap);
    const ClipConstraints c = constraints(k.scale, 4, 8);
    const Tensor clip = make_clip(3, 2, k.h, k.w, dyadic);
    std::vector<Shape> calls;
    const Tensor tiled = restore_clip_tiled(clip, nearest_model(c, &calls), c, spatial(k.tile_h, k.tile_w, k.overlap));
    const Tensor whole = restore_clip_tiled(clip, nearest_model(c), c, TileSpec{});
    // Reference straight from the model's definition, on the unpadded frame.
    const Tensor expected =
        make_clip(3, 2, k.h * k.scale, k.w * k.scale, [&](int64_t t, int64_t ch, int64_t y, int64_t x) {
          return dyadic(t, ch, y / k.scale, x / k.scale) + t / 8.0f;
        });
    CHECK(max_abs_diff(whole, expected) == 0.0);
    CHECK(max_abs_diff(tiled, expected) == 0.0);
    const size_t expected_calls =
        tile_starts(k.h, k.tile_h, k.overlap).size() * tile_starts(k.w, k.tile_w, k.overlap).size();
    CHECK(calls.size() == expected_calls);
  }
}

TEST_CASE("a 3x3 blur tiled differs from the untiled blur only on the derived seam rows and columns", "[tiling]") {
  // A patch's blur is wrong exactly where it keeps a pixel on a patch edge that is not a frame edge
  // (zero padding instead of the neighbour); a pixel averaged over patches is wrong if any of its
  // patches is. Along an axis of 40 with tile 16 (rows and columns alike):
  //  overlap 0: patches [0,16) [16,32) [24,40), nothing dropped: wrong 15, 16, 31 (patch 2) and 24;
  //  overlap 1: patches [0,16) [15,31) [24,40), the last row of interior ends dropped: wrong 15, 24;
  //  overlap 2: patches [0,16) [14,30) [24,40), one pixel dropped on each interior side: none.
  struct Case {
    int64_t overlap;
    std::set<int64_t> wrong;
  };
  const Case cases[] = {{0, {15, 16, 24, 31}}, {1, {15, 24}}, {2, {}}};
  ClipConstraints c = constraints(1, 8, 8);
  c.in_channels = c.out_channels = 1;
  const ClipModel blur = [](const Tensor& in) { return box_blur(in); };
  const Tensor clip = make_clip(2, 1, 40, 40, [](int64_t t, int64_t, int64_t y, int64_t x) {
    return 0.5f + 0.5f * static_cast<float>((t * 17 + y * 29 + x * 13 + (x * y) % 5) % 97) / 97.0f;  // in [0.5, 1)
  });
  const Tensor reference = box_blur(clip);
  CHECK(max_abs_diff(restore_clip_tiled(clip, blur, c, TileSpec{}), reference) == 0.0);
  for (const Case& k : cases) {
    INFO("overlap " << k.overlap);
    const Tensor tiled = restore_clip_tiled(clip, blur, c, spatial(16, 16, k.overlap));
    int64_t seam = 0, clean = 0;
    for (int64_t t = 0; t < 2; ++t)
      for (int64_t y = 0; y < 40; ++y)
        for (int64_t x = 0; x < 40; ++x) {
          const double d = std::fabs(at(tiled, t, 0, y, x) - at(reference, t, 0, y, x));
          if (k.wrong.count(y) || k.wrong.count(x)) {
            // A missing neighbour row or column takes >= 3 · 0.5 / 9 away, averaged over <= 4 patches.
            CHECK(d > 0.02);
            ++seam;
          } else {
            CHECK(d <= 1e-6);  // the same sums; only the convolution's rounding may differ by position
            ++clean;
          }
        }
    CHECK(seam + clean == 2 * 40 * 40);
  }
}

TEST_CASE("temporal clips average each frame uniformly over the clips covering it", "[tiling]") {
  // Frame i is filled with i; the model adds its clip's first frame (the clip's start) to every
  // output, so frame i averages i + start over its clips.
  ClipConstraints c = constraints(1, 1, 1);
  c.in_channels = c.out_channels = 1;
  int64_t calls = 0;
  const ClipModel add_start = [&](const Tensor& in) {
    ++calls;
    const int64_t t = in.size(1), h = in.size(3), w = in.size(4);
    return make_clip(t, 1, h, w,
                     [&](int64_t a, int64_t, int64_t y, int64_t x) { return at(in, a, 0, y, x) + at(in, 0, 0, 0, 0); });
  };
  struct Case {
    int64_t frames, tile, overlap;
    std::vector<float> expected;
  };
  const Case cases[] = {
      // starts 0, 4: frames 0-3 clip 0; 4-5 clips 0 and 4 (+2); 6-9 clip 4 (+4).
      {10, 6, 2, {0, 1, 2, 3, 6, 7, 10, 11, 12, 13}},
      // starts 0, 4, 6: 0-3 +0; 4-5 clips 0, 4 (+2); 6-9 clips 4, 6 (+5); 10-11 clip 6 (+6).
      {12, 6, 2, {0, 1, 2, 3, 6, 7, 11, 12, 13, 14, 16, 17}},
      // starts 0, 2, 4, 6, 8: e.g. frame 5 clips 0, 2, 4 (+2); frame 9 clips 4, 6, 8 (+6); 13 clip 8.
      {14, 6, 4, {0, 1, 3, 4, 6, 7, 10, 11, 14, 15, 17, 18, 20, 21}},
      // fewer frames than the tile: one clip of all 4.
      {4, 6, 2, {0, 1, 2, 3}},
  };
  for (const Case& k : cases) {
    INFO(k.frames << " frames, tile " << k.tile << ", overlap " << k.overlap);
    TileSpec spec;
    spec.frames = k.tile;
    spec.overlap_frames = k.overlap;
    std::vector<int64_t> reads;
    const FrameReader read = [&](int64_t i) {
      reads.push_back(i);
      return Tensor::full({1, 3, 2}, float(i));
    };
    std::vector<int64_t> emitted, emitted_after_calls;
    std::vector<float> values;
    calls = 0;
    restore_video_tiled(read, ClipLength::known(k.frames), add_start, c, spec, [&](int64_t i, const Tensor& f) {
      REQUIRE(f.shape() == Shape{1, 3, 2});
      emitted.push_back(i);
      emitted_after_calls.push_back(calls);
      values.push_back(f.data()[5]);
    });
    CHECK(values == k.expected);
    std::vector<int64_t> in_order(k.frames);
    for (int64_t i = 0; i < k.frames; ++i) in_order[i] = i;
    CHECK(emitted == in_order);
    CHECK(reads == in_order);  // each frame read once, in order
    if (k.frames == 12) {
      // Emitted as soon as no later clip covers them: frame 0 after clip 0, 1-3 before clip 4 runs
      // (still after 1 call), 4-5 before clip 6, the rest at the end.
      CHECK(emitted_after_calls == std::vector<int64_t>{1, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3});
    }
  }
}

TEST_CASE("an unknown-length clip restores exactly as the same clip of known length", "[tiling]") {
  const ClipConstraints c = constraints(2, 4, 8);
  const int64_t frames = 11;
  const Tensor clip = make_clip(frames, 2, 13, 18, dyadic);
  const FrameReader read = [&](int64_t i) { return clip.reshape({frames, 2, 13, 18}).select0(i).clone(); };
  // A model whose output depends on the whole clip, so clip boundaries matter.
  const ClipModel model = [&](const Tensor& in) {
    Tensor out = nearest_model(c)(in);
    ops::scale_(out, 1.0f + 0.125f * static_cast<float>(in.size(1)));
    return out;
  };
  TileSpec spec = spatial(8, 12, 4);
  spec.frames = 4;
  spec.overlap_frames = 1;
  std::vector<Tensor> known, unknown;
  restore_video_tiled(read, ClipLength::known(frames), model, c, spec,
                      [&](int64_t, const Tensor& f) { known.push_back(f.clone()); });
  int64_t asked = 0;
  ClipLength streaming;
  streaming.up_to = [&](int64_t n) {
    asked = std::max(asked, std::min<int64_t>(n, 1 << 20));
    return std::min(n, frames);
  };
  int64_t max_read = -1;
  const FrameReader read_tracked = [&](int64_t i) {
    max_read = std::max(max_read, i);
    CHECK(asked > i);  // only frames the length has vouched for
    return read(i);
  };
  std::vector<int64_t> progress_total;
  TilingProgress progress;
  progress.frames = [&](int64_t, int64_t total) { progress_total.push_back(total); };
  restore_video_tiled(
      read_tracked, streaming, model, c, spec,
      [&](int64_t, const Tensor& f) {
        unknown.push_back(f.clone());
        // Never asks for more than the next clip plus one frame beyond what has been emitted.
        CHECK(asked <= static_cast<int64_t>(unknown.size()) + 2 * spec.frames + 1);
      },
      progress);
  REQUIRE(known.size() == size_t(frames));
  REQUIRE(unknown.size() == size_t(frames));
  for (int64_t i = 0; i < frames; ++i) CHECK(max_abs_diff(known[i], unknown[i]) == 0.0);
  CHECK(max_read == frames - 1);
  CHECK(progress_total == std::vector<int64_t>(frames, FrameSource::kUnknownLength));
}

TEST_CASE("the whole clip pads its frames with the last ones in reverse and drops their outputs", "[tiling]") {
  ClipConstraints c = constraints(1, 1, 1);
  c.in_channels = c.out_channels = 1;
  c.frame_multiple = 6;
  std::vector<float> seen;
  const ClipModel record = [&](const Tensor& in) {
    seen.clear();
    for (int64_t t = 0; t < in.size(1); ++t) seen.push_back(at(in, t, 0, 0, 0));
    return in.clone();
  };
  std::vector<float> out;
  const FrameReader read = [](int64_t i) { return Tensor::full({1, 2, 2}, float(i)); };
  const TiledFrameSink sink = [&](int64_t, const Tensor& f) { out.push_back(f.data()[0]); };
  restore_video_tiled(read, ClipLength::known(4), record, c, TileSpec{}, sink);
  CHECK(seen == std::vector<float>{0, 1, 2, 3, 3, 2});  // torch.flip(lq[:, -2:]) appended
  CHECK(out == std::vector<float>{0, 1, 2, 3});
  // A temporal clip shorter than the model's minimum is mirrored too (upstream would crash).
  c.frame_multiple = 1;
  c.min_frames = 4;
  out.clear();
  TileSpec spec;
  spec.frames = 5;
  spec.overlap_frames = 2;
  restore_video_tiled(read, ClipLength::known(2), record, c, spec, sink);
  CHECK(seen == std::vector<float>{0, 1, 1, 0});
  CHECK(out == std::vector<float>{0, 1});
}

TEST_CASE("frame interpolation takes exactly its frame count and gives one frame", "[tiling]") {
  ClipConstraints c = constraints(1, 8, 8);
  c.in_channels = c.out_channels = 1;
  c.exact_frames = 4;
  c.output_frames = 1;
  const ClipModel mean_of_middle = [](const Tensor& in) {
    REQUIRE(in.size(1) == 4);
    return make_clip(1, 1, in.size(3), in.size(4), [&](int64_t, int64_t, int64_t y, int64_t x) {
      return 0.5f * (at(in, 1, 0, y, x) + at(in, 2, 0, y, x));
    });
  };
  const FrameReader read = [](int64_t i) { return Tensor::full({1, 10, 12}, float(i)); };
  std::vector<float> out;
  restore_video_tiled(read, ClipLength::known(4), mean_of_middle, c, spatial(8, 8, 2), [&](int64_t i, const Tensor& f) {
    CHECK(i == 0);
    REQUIRE(f.shape() == Shape{1, 10, 12});
    out.push_back(f.data()[0]);
  });
  CHECK(out == std::vector<float>{1.5f});
  CHECK_THROWS_WITH(
      restore_video_tiled(read, ClipLength::known(5), mean_of_middle, c, TileSpec{}, [](int64_t, const Tensor&) {}),
      Contains("exactly 4 frames, got more than 4"));
  CHECK_THROWS_WITH(
      restore_video_tiled(read, ClipLength::known(3), mean_of_middle, c, TileSpec{}, [](int64_t, const Tensor&) {}),
      Contains("exactly 4 frames, got 3"));
  TileSpec temporal;
  temporal.frames = 2;
  temporal.overlap_frames = 0;
  CHECK_THROWS_WITH(validate_tile_spec(temporal, c), Contains("cannot be cut into temporal tiles"));
}

TEST_CASE("tile specs and model outputs that cannot work are refused with the option named", "[tiling]") {
  ClipConstraints c = constraints(4, 8, 64);
  CHECK_THROWS_WITH(validate_tile_spec(spatial(100, 128, 20), c),
                    Contains("tile height 100 is not a multiple of 8") && Contains("use 96 or 104"));
  CHECK_THROWS_WITH(validate_tile_spec(spatial(128, 32, 20), c),
                    Contains("tile width 32 is below the model's minimum of 64"));
  CHECK_THROWS_WITH(validate_tile_spec(spatial(128, 128, 128), c),
                    Contains("tile overlap_height 128 must be smaller than the tile height 128"));
  TileSpec t;
  t.frames = 4;
  t.overlap_frames = 4;
  CHECK_THROWS_WITH(validate_tile_spec(t, c), Contains("overlap_frames 4 must be smaller than the tile's 4 frames"));
  t.frames = -1;
  CHECK_THROWS_WITH(validate_tile_spec(t, c), Contains("tile frames is -1, expected >= 0"));
  c.window_height = 6;  // lcm(8, 6) = 24
  CHECK_THROWS_WITH(validate_tile_spec(spatial(128, 128, 20), c), Contains("not a multiple of 24"));
  c.window_height = 1;
  c.scale = 0;
  CHECK_THROWS_WITH(validate_tile_spec(TileSpec{}, c), Contains("ClipConstraints::scale is 0"));

  const ClipConstraints ok = constraints(2, 4, 8);
  const Tensor clip = make_clip(2, 2, 8, 8, dyadic);
  const ClipModel wrong_scale = [](const Tensor& in) { return in; };
  CHECK_THROWS_WITH(
      restore_clip_tiled(clip, wrong_scale, ok, TileSpec{}),
      Contains("the model returned (1, 2, 2, 8, 8) f32 on cpu") && Contains("expected (1, 2, 2, 16, 16)"));
  const FrameReader bad_frame = [](int64_t i) { return Tensor::zeros({2, 8, i == 2 ? 9 : 8}); };
  TileSpec two;
  two.frames = 2;
  two.overlap_frames = 0;
  CHECK_THROWS_WITH(
      restore_video_tiled(bad_frame, ClipLength::known(4), nearest_model(ok), ok, two, [](int64_t, const Tensor&) {}),
      Contains("input frame 2 has shape (2, 8, 9), expected (2, 8, 8)"));
}

TEST_CASE("the planner keeps explicit values, runs whole when it fits, else shrinks space then frames", "[tiling]") {
  // Synthetic model peak 1000 bytes per frame·pixel of a call; our buffers (tiling_overhead_bytes)
  // for 3 in / 3 out channels, scale 1, f32: 4 · 3 · T · (3 + 3) · H · W = 72 · T · H · W.
  ClipConstraints c = constraints(1, 8, 64);
  c.in_channels = c.out_channels = 3;
  const auto peak = [](int64_t t, int64_t h, int64_t w) { return size_t(1000) * size_t(t * h * w); };
  CHECK(tiling_overhead_bytes(20, 256, 256, c) == size_t(72) * 20 * 256 * 256);
  const TileSpec free_spec;  // overlaps 2 / 20 / 20
  auto same = [](const TileSpec& a, int64_t frames, int64_t h, int64_t w) {
    INFO("planned " << a.frames << " frames, " << a.height << "x" << a.width);
    CHECK(a.frames == frames);
    CHECK(a.height == h);
    CHECK(a.width == w);
    CHECK(a.overlap_frames == 2);
    CHECK(a.overlap_height == 20);
  };
  // 20 frames of 256×256 whole: 1072 · 20 · 65536 = 1.405e9 bytes.
  same(plan_tiles(20, 256, 256, c, free_spec, 2'000'000'000, peak), 0, 0, 0);
  // Budget 4e8: the smallest tile (64) fits at 20 frames (81.9e6 + 94.4e6); the largest side s
  // with 20000·s² + 94.4e6 <= 4e8 is 123 -> 120 (a multiple of 8).
  same(plan_tiles(20, 256, 256, c, free_spec, 400'000'000, peak), 0, 120, 120);
  // Budget 1e8: even 64×64 needs T · (4.096e6 + 4.719e6) bytes -> at most 11 frames; then
  // 11000·s² + 51.9e6 <= 1e8 gives s <= 66 -> 64.
  same(plan_tiles(20, 256, 256, c, free_spec, 100'000'000, peak), 11, 64, 64);
  // Unknown length: at most 64 frames; 64000·s² + 302e6 <= 2e9 gives s <= 162 -> 160.
  same(plan_tiles(FrameSource::kUnknownLength, 256, 256, c, free_spec, 2'000'000'000, peak), 64, 160, 160);
  // Explicit values stay: height 128 kept, frames 8 kept, width chosen
  // (8000·128·w + 72·8·65536 <= 4e8 -> w <= 353 -> whole 256).
  TileSpec fixed = free_spec;
  fixed.height = 128;
  fixed.frames = 8;
  same(plan_tiles(20, 256, 256, c, fixed, 400'000'000, peak), 8, 128, 0);
  // Nothing fits: the smallest setting (3 frames, 64×64: 12.3e6 + 14.2e6 bytes) is over 1e6.
  CHECK_THROWS_WITH(
      plan_tiles(20, 256, 256, c, free_spec, 1'000'000, peak),
      Contains("fits the memory budget of 1000000 bytes") &&
          Contains("the smallest setting (3 frames per clip, 64x64 tiles) needs an estimated 26443776 bytes") &&
          Contains("raise the memory budget"));
  CHECK(kDefaultMemoryBudgetBytes == size_t(8) * 1024 * 1024 * 1024);
}

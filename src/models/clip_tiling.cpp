#include "models/clip_tiling.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <numeric>
#include <utility>

#include "core/check.h"
#include "core/checked_math.h"
#include "core/ops.h"
#include "core/ops_vrt.h"

namespace vrestore {

namespace {

constexpr const char* kWhere = "tiling";

// Euclid's algorithm, written out: std::gcd compiles to tzcnt here, which the portable-build check
// (scripts/check_isa_objects.sh) cannot tell from an AVX-era instruction.
int64_t gcd(int64_t a, int64_t b) {
  while (b != 0) {
    const int64_t r = a % b;
    a = b;
    b = r;
  }
  return a;
}

int64_t checked_lcm(int64_t a, int64_t b) {
  const int64_t g = gcd(a, b);
  return checked_mul(a / g, b, "tiling: lcm of the spatial multiple and the window");
}

// A clip (1, T, C, H, W) viewed as pixel rows (H·W, T·C): channel-last, so that a patch, a mirror
// padding or a blend into the output is one row gather / scatter (ops::index_select0 /
// copy_rows0_) whatever the device.
Tensor to_pixel_rows(const Tensor& clip) {
  const int64_t t = clip.size(1), c = clip.size(2), h = clip.size(3), w = clip.size(4);
  return ops::channels_last(clip.reshape({1, t * c, h, w})).reshape({h * w, t * c});
}

// The inverse: rows (h·w, T·C) -> clip (1, T, C, h, w).
Tensor from_pixel_rows(const Tensor& rows, int64_t t, int64_t c, int64_t h, int64_t w) {
  return ops::channels_first(rows.reshape({1, h, w, t * c})).reshape({1, t, c, h, w});
}

// Rows of the patch at (y0, x0) of size h×w in a frame of width `width`, mirrored to ph×pw.
std::vector<int64_t> patch_rows(int64_t width, int64_t y0, int64_t x0, int64_t h, int64_t w, int64_t ph, int64_t pw) {
  const std::vector<int64_t> ys = mirror_indices(h, ph), xs = mirror_indices(w, pw);
  std::vector<int64_t> rows;
  rows.reserve(static_cast<size_t>(ph * pw));
  for (int64_t y : ys)
    for (int64_t x : xs) rows.push_back((y0 + y) * width + x0 + x);
  return rows;
}

// One model call on a clip (1, T, Cin, ph, pw) of a valid size, its output checked.
Tensor call_model(const ClipModel& model, const Tensor& input, const ClipConstraints& c) {
  const int64_t t = input.size(1), ph = input.size(3), pw = input.size(4);
  const int64_t t_out = c.output_frames ? c.output_frames : t;
  const Shape expected{1, t_out, c.out_channels, ph * c.scale, pw * c.scale};
  Tensor out = model(input);
  VR_CHECK(out.defined() && out.shape() == expected && out.dtype() == input.dtype() && out.device() == input.device(),
           kWhere, ": the model returned ", out.defined() ? out.describe() : std::string("no tensor"), " for the clip ",
           input.describe(), ", expected ", shape_to_string(expected), " ", dtype_name(input.dtype()), " on ",
           device_name(input.device()));
  return out;
}

// Divides each pixel row of `sums` (P, K) by counts[p], a true division like upstream's E.div_(W)
// (multiplying by 1/n would round differently for n = 3, 5, ...). No op divides per pixel, so
// affine_channels does it with the pixels as its channels: (x - 0) / counts[p].
Tensor divide_rows(const Tensor& sums, const std::vector<float>& counts) {
  const int64_t p = sums.size(0), k = sums.size(1);
  return ops::affine_channels(sums.reshape({1, p, k, 1}), std::vector<float>(counts.size(), 0.0f), counts, true)
      .reshape({p, k});
}

// x / count for a frame (C, H, W) summed over `count` clips.
Tensor divide_frame(const Tensor& sum, int64_t count) {
  if (count == 1) return sum;
  const int64_t c = sum.size(0);
  const std::vector<float> zeros(static_cast<size_t>(c), 0.0f),
      counts(static_cast<size_t>(c), static_cast<float>(count));
  return ops::affine_channels(sum.reshape({1, c, sum.size(1), sum.size(2)}), zeros, counts, true).reshape(sum.shape());
}

// How many patches keep each output row (or column) along one axis.
std::vector<int64_t> coverage(const std::vector<int64_t>& starts, int64_t patch, int64_t out_size, int64_t scale,
                              int64_t overlap) {
  std::vector<int64_t> count(static_cast<size_t>(out_size), 0);
  const int64_t n = static_cast<int64_t>(starts.size());
  for (int64_t i = 0; i < n; ++i) {
    const KeptRange r = kept_range(i, n, patch * scale, overlap);
    for (int64_t y = r.begin; y < r.end; ++y) ++count[static_cast<size_t>(starts[static_cast<size_t>(i)] * scale + y)];
  }
  return count;
}

}  // namespace

int64_t ClipConstraints::height_multiple() const { return checked_lcm(spatial_multiple, window_height); }
int64_t ClipConstraints::width_multiple() const { return checked_lcm(spatial_multiple, window_width); }

void validate_constraints(const ClipConstraints& c) {
  const std::pair<const char*, int64_t> at_least_one[] = {{"scale", c.scale},
                                                          {"in_channels", c.in_channels},
                                                          {"out_channels", c.out_channels},
                                                          {"spatial_multiple", c.spatial_multiple},
                                                          {"window_height", c.window_height},
                                                          {"window_width", c.window_width},
                                                          {"min_height", c.min_height},
                                                          {"min_width", c.min_width},
                                                          {"frame_multiple", c.frame_multiple},
                                                          {"min_frames", c.min_frames}};
  for (const auto& [name, value] : at_least_one)
    VR_CHECK(value >= 1, kWhere, ": ClipConstraints::", name, " is ", value, ", expected >= 1");
  VR_CHECK(c.exact_frames >= 0 && c.output_frames >= 0, kWhere, ": ClipConstraints::exact_frames is ", c.exact_frames,
           " and output_frames ", c.output_frames, ", expected >= 0 (0 = any / one per input frame)");
  VR_CHECK(c.exact_frames == 0 || c.min_frames <= c.exact_frames, kWhere, ": ClipConstraints::min_frames ",
           c.min_frames, " exceeds exact_frames ", c.exact_frames);
  VR_CHECK(c.element_bytes >= 1, kWhere, ": ClipConstraints::element_bytes is 0, expected 4 (f32) or 2 (f16)");
}

void validate_tile_spec(const TileSpec& s, const ClipConstraints& c) {
  validate_constraints(c);
  const std::pair<const char*, int64_t> non_negative[] = {{"frames", s.frames},
                                                          {"height", s.height},
                                                          {"width", s.width},
                                                          {"overlap_frames", s.overlap_frames},
                                                          {"overlap_height", s.overlap_height},
                                                          {"overlap_width", s.overlap_width}};
  for (const auto& [name, value] : non_negative)
    VR_CHECK(value >= 0, kWhere, ": tile ", name, " is ", value, ", expected >= 0 (0 = the whole axis)");
  VR_CHECK(s.frames == 0 || s.overlap_frames < s.frames, kWhere, ": tile overlap_frames ", s.overlap_frames,
           " must be smaller than the tile's ", s.frames, " frames");
  if (c.exact_frames || c.output_frames)
    VR_CHECK(s.frames == 0 || s.frames == c.exact_frames, kWhere, ": this model takes exactly ", c.exact_frames,
             " frames and gives ", c.output_frames,
             " per call (frame interpolation), so the clip cannot be cut into "
             "temporal tiles: tile frames is ",
             s.frames, ", expected 0");
  struct Axis {
    const char* name;
    int64_t tile, overlap, multiple, minimum;
  };
  for (const Axis& a : {Axis{"height", s.height, s.overlap_height, c.height_multiple(), c.min_height},
                        Axis{"width", s.width, s.overlap_width, c.width_multiple(), c.min_width}}) {
    if (a.tile == 0) continue;
    VR_CHECK(a.tile % a.multiple == 0, kWhere, ": tile ", a.name, " ", a.tile, " is not a multiple of ", a.multiple,
             " (the model's spatial multiple ", c.spatial_multiple, " and window ", a.name, "); use ",
             a.tile / a.multiple * a.multiple > 0 ? concat(a.tile / a.multiple * a.multiple, " or ") : std::string(),
             (a.tile / a.multiple + 1) * a.multiple);
    VR_CHECK(a.tile >= a.minimum, kWhere, ": tile ", a.name, " ", a.tile, " is below the model's minimum of ",
             a.minimum, " pixels per call; use 0 (the whole frame) or at least ",
             round_up(a.minimum, a.multiple, kWhere));
    VR_CHECK(a.overlap < a.tile, kWhere, ": tile overlap_", a.name, " ", a.overlap, " must be smaller than the tile ",
             a.name, " ", a.tile);
  }
}

std::vector<int64_t> tile_starts(int64_t size, int64_t tile, int64_t overlap) {
  VR_CHECK(size >= 1 && tile >= 0 && (tile == 0 || (overlap >= 0 && overlap < tile)), kWhere, ": tile_starts(size ",
           size, ", tile ", tile, ", overlap ", overlap, "): expected size >= 1 and 0 <= overlap < tile");
  if (tile == 0) return {0};
  std::vector<int64_t> starts;
  for (int64_t s = 0; s < size - tile; s += tile - overlap) starts.push_back(s);
  starts.push_back(std::max<int64_t>(0, size - tile));
  return starts;
}

KeptRange kept_range(int64_t index, int64_t count, int64_t out_length, int64_t overlap) {
  VR_CHECK(count >= 1 && index >= 0 && index < count && out_length > overlap && overlap >= 0, kWhere,
           ": kept_range(index ", index, ", count ", count, ", length ", out_length, ", overlap ", overlap, ")");
  KeptRange r{0, out_length};
  if (index > 0) r.begin = overlap / 2;
  if (index < count - 1) r.end = out_length - (overlap + 1) / 2;  // Python's -o//2 is -ceil(o/2)
  return r;
}

std::vector<int64_t> mirror_indices(int64_t length, int64_t padded) {
  VR_CHECK(length >= 1 && padded >= length, kWhere, ": cannot mirror ", length, " items to ", padded);
  std::vector<int64_t> idx(static_cast<size_t>(padded));
  for (int64_t i = 0; i < padded; ++i) {
    const int64_t k = i % (2 * length);
    idx[static_cast<size_t>(i)] = k < length ? k : 2 * length - 1 - k;
  }
  return idx;
}

int64_t padded_size(int64_t length, int64_t minimum, int64_t multiple) {
  return round_up(std::max(length, minimum), multiple, kWhere);
}

Tensor restore_clip_tiled(const Tensor& clip, const ClipModel& model, const ClipConstraints& c, const TileSpec& spec,
                          const std::function<void(int64_t, int64_t)>& patch_progress) {
  validate_tile_spec(spec, c);
  VR_CHECK(clip.defined() && clip.dim() == 5 && clip.size(0) == 1 && clip.size(1) >= 1 &&
               clip.size(2) == c.in_channels && clip.size(3) >= 1 && clip.size(4) >= 1,
           kWhere, ": clip has shape ", clip.defined() ? clip.shape_str() : std::string("(undefined)"),
           ", expected (1, T, ", c.in_channels, ", H, W)");
  const int64_t frames = clip.size(1), h = clip.size(3), w = clip.size(4), cin = c.in_channels;
  VR_CHECK(c.exact_frames == 0 || frames == c.exact_frames, kWhere, ": this model (frame interpolation) takes exactly ",
           c.exact_frames, " frames per call, got a clip of ", frames);
  // Too few frames for the model: mirrored frames, whose outputs are dropped at the end.
  const int64_t t = std::max(frames, c.min_frames);
  Tensor input = clip;
  if (t > frames)
    input = ops::index_select0(clip.reshape({frames, cin, h, w}), mirror_indices(frames, t)).reshape({1, t, cin, h, w});
  const int64_t t_out = c.output_frames ? c.output_frames : t, cout = c.out_channels, s = c.scale;
  const int64_t oh = checked_mul(h, s, kWhere), ow = checked_mul(w, s, kWhere);

  const std::vector<int64_t> ys = tile_starts(h, spec.height, spec.overlap_height);
  const std::vector<int64_t> xs = tile_starts(w, spec.width, spec.overlap_width);
  const int64_t patch_h = spec.height ? std::min(spec.height, h) : h,
                patch_w = spec.width ? std::min(spec.width, w) : w;
  const int64_t ph = padded_size(patch_h, c.min_height, c.height_multiple());
  const int64_t pw = padded_size(patch_w, c.min_width, c.width_multiple());
  const int64_t calls = static_cast<int64_t>(ys.size() * xs.size());

  Tensor out;
  if (calls == 1) {
    // Whole frame: pad by mirroring where the size breaks the constraints, run, crop (test_clip, tile 0).
    if (ph != h || pw != w)
      input =
          from_pixel_rows(ops::index_select0(to_pixel_rows(input), patch_rows(w, 0, 0, h, w, ph, pw)), t, cin, ph, pw);
    out = call_model(model, input, c);
    if (ph != h || pw != w) out = ops::pad_crop(out, oh, ow);  // the top-left h·s × w·s
    if (patch_progress) patch_progress(1, 1);
  } else {
    // Patches blended into pixel rows of the output (test_clip with tiles): each patch adds its kept
    // range, and every pixel is divided by the number of patches that kept it.
    const Tensor rows = to_pixel_rows(input);
    const int64_t k_out = t_out * cout;
    Tensor sums = Tensor::zeros({oh * ow, k_out}, input.dtype(), input.device());
    int64_t done = 0;
    for (size_t i = 0; i < ys.size(); ++i) {
      const KeptRange ky =
          kept_range(static_cast<int64_t>(i), static_cast<int64_t>(ys.size()), patch_h * s, spec.overlap_height);
      for (size_t j = 0; j < xs.size(); ++j) {
        const KeptRange kx =
            kept_range(static_cast<int64_t>(j), static_cast<int64_t>(xs.size()), patch_w * s, spec.overlap_width);
        const Tensor patch = from_pixel_rows(
            ops::index_select0(rows, patch_rows(w, ys[i], xs[j], patch_h, patch_w, ph, pw)), t, cin, ph, pw);
        const Tensor result = to_pixel_rows(call_model(model, patch, c));  // (ph·s · pw·s, k_out)
        std::vector<int64_t> from, to;
        for (int64_t y = ky.begin; y < ky.end; ++y)
          for (int64_t x = kx.begin; x < kx.end; ++x) {
            from.push_back(y * pw * s + x);
            to.push_back((ys[i] * s + y) * ow + xs[j] * s + x);
          }
        Tensor blended = ops::index_select0(sums, to);
        ops::add_(blended, ops::index_select0(result, from));
        ops::copy_rows0_(sums, to, blended);
        if (patch_progress) patch_progress(++done, calls);
      }
    }
    const std::vector<int64_t> cy = coverage(ys, patch_h, oh, s, spec.overlap_height);
    const std::vector<int64_t> cx = coverage(xs, patch_w, ow, s, spec.overlap_width);
    std::vector<float> counts(static_cast<size_t>(oh * ow));
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x)
        counts[static_cast<size_t>(y * ow + x)] =
            static_cast<float>(cy[static_cast<size_t>(y)] * cx[static_cast<size_t>(x)]);
    Tensor averaged = divide_rows(sums, counts);
    sums = Tensor();
    out = from_pixel_rows(averaged, t_out, cout, oh, ow);
  }
  if (c.output_frames == 0 && t > frames)
    out = out.reshape({t, cout, oh, ow}).narrow0(0, frames).reshape({1, frames, cout, oh, ow});
  return out;
}

namespace {

// Frames read through a FrameReader, each checked against frame 0's shape and read once; keeps the
// frames from `begin()` on until drop_before() lets them go.
class FrameCache {
 public:
  FrameCache(const FrameReader& read, int64_t channels) : read_(read), channels_(channels) {}
  // Frame i as (1, C, H, W); i >= begin().
  const Tensor& get(int64_t i) {
    VR_CHECK(i >= begin_, kWhere, ": internal: frame ", i, " was dropped (frames from ", begin_, " are kept)");
    while (begin_ + static_cast<int64_t>(frames_.size()) <= i)
      frames_.push_back(checked(begin_ + static_cast<int64_t>(frames_.size())));
    return frames_[static_cast<size_t>(i - begin_)];
  }
  void drop_before(int64_t i) {
    while (begin_ < i && !frames_.empty()) {
      frames_.pop_front();
      ++begin_;
    }
    begin_ = std::max(begin_, i);
  }
  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  // (1, n, C, H, W) of frames[indices[k]].
  Tensor clip(const std::vector<int64_t>& indices) {
    std::vector<Tensor> parts;
    for (int64_t i : indices) parts.push_back(get(i));
    const int64_t n = static_cast<int64_t>(indices.size());
    return ops::cat0(parts).reshape({1, n, channels_, height_, width_});
  }

 private:
  Tensor checked(int64_t i) {
    Tensor f = read_(i);
    if (height_ == 0 && f.defined() && f.dim() == 3) {
      height_ = f.size(1);
      width_ = f.size(2);
    }
    VR_CHECK(f.defined() && f.dim() == 3 && f.size(0) == channels_ && f.size(1) == height_ && f.size(2) == width_ &&
                 height_ > 0 && width_ > 0,
             kWhere, ": input frame ", i, " has shape ", f.defined() ? f.shape_str() : std::string("(undefined)"),
             ", expected (", channels_, ", ", height_ ? concat(height_) : "H", ", ", width_ ? concat(width_) : "W",
             ") with H, W >= 1 like frame 0");
    return f.reshape({1, channels_, height_, width_});
  }

  const FrameReader& read_;
  int64_t channels_, height_ = 0, width_ = 0, begin_ = 0;
  std::deque<Tensor> frames_;
};

// Output frames still open: their sum over the clips that covered them so far and how many did.
class OpenFrames {
 public:
  OpenFrames(const TiledFrameSink& emit, const TilingProgress& progress, int64_t total)
      : emit_(emit), progress_(progress), total_(total) {}
  // Adds frames [start, start + n) of a clip output (1, n, C, sH, sW).
  void add(int64_t start, const Tensor& out) {
    const int64_t n = out.size(1);
    const Tensor frames = out.reshape({n, out.size(2), out.size(3), out.size(4)});
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = start + k;
      VR_CHECK(i >= first_, kWhere, ": internal: frame ", i, " was already emitted");
      const size_t slot = static_cast<size_t>(i - first_);
      VR_CHECK(slot <= open_.size(), kWhere, ": internal: frame ", i, " starts after a gap");
      if (slot == open_.size()) {
        open_.push_back({frames.select0(k).clone(), 1});
      } else {
        ops::add_(open_[slot].sum, frames.select0(k));
        ++open_[slot].count;
      }
    }
  }
  // Emits the open frames before `limit`, in order.
  void emit_before(int64_t limit) {
    while (!open_.empty() && first_ < limit) {
      Open frame = std::move(open_.front());
      open_.pop_front();
      const Tensor averaged = divide_frame(frame.sum, frame.count);
      frame.sum = Tensor();
      emit_(first_, averaged);
      ++first_;
      if (progress_.frames) progress_.frames(first_, total_);
    }
  }

 private:
  struct Open {
    Tensor sum;
    int64_t count;
  };
  const TiledFrameSink& emit_;
  const TilingProgress& progress_;
  int64_t total_, first_ = 0;
  std::deque<Open> open_;
};

std::vector<int64_t> iota(int64_t begin, int64_t end) {
  std::vector<int64_t> v(static_cast<size_t>(end - begin));
  std::iota(v.begin(), v.end(), begin);
  return v;
}

}  // namespace

void restore_video_tiled(const FrameReader& read, const ClipLength& length, const ClipModel& model,
                         const ClipConstraints& c, const TileSpec& spec, const TiledFrameSink& emit,
                         const TilingProgress& progress) {
  validate_tile_spec(spec, c);
  VR_CHECK(read && length.up_to && model && emit, kWhere,
           ": restore_video_tiled needs a frame reader, a length, "
           "a model and a sink");
  VR_CHECK(length.up_to(1) >= 1, kWhere, ": the clip has no frames");
  FrameCache cache(read, c.in_channels);
  OpenFrames open(emit, progress, length.total);

  if (spec.frames == 0 || c.exact_frames) {
    // The whole clip in one piece (test_video with tile 0): frames padded to the model's multiple
    // with the last ones in reverse order, outputs of the padding dropped.
    const int64_t limit = c.exact_frames ? c.exact_frames + 1 : std::numeric_limits<int64_t>::max();
    const int64_t frames = length.up_to(limit);
    VR_CHECK(c.exact_frames == 0 || frames == c.exact_frames, kWhere,
             ": this model (frame interpolation) restores clips of exactly ", c.exact_frames, " frames, got ",
             frames == limit ? concat("more than ", c.exact_frames) : concat(frames));
    const int64_t padded = c.exact_frames ? frames : padded_size(frames, c.min_frames, c.frame_multiple);
    const Tensor out = restore_clip_tiled(cache.clip(mirror_indices(frames, padded)), model, c, spec, progress.patches);
    const int64_t kept = c.output_frames ? c.output_frames : frames;
    open.add(0, out.reshape({out.size(1), out.size(2), out.size(3), out.size(4)})
                    .narrow0(0, kept)
                    .reshape({1, kept, out.size(2), out.size(3), out.size(4)}));
    open.emit_before(kept);
    return;
  }

  // Temporal clips (test_video with tile T): starts k·(T - oT) while a clip fits before the end,
  // then one clip ending at the last frame. Asking for T + 1 frames tells whether a clip is the last.
  const int64_t tile = spec.frames, stride = spec.frames - spec.overlap_frames;
  for (int64_t s = 0;; s = checked_add(s, stride, kWhere)) {
    const int64_t end_of_tile = checked_add(s, tile, kWhere);
    const int64_t available = length.up_to(checked_add(end_of_tile, int64_t{1}, kWhere));
    const bool last = available <= end_of_tile;
    const int64_t start = last ? std::max<int64_t>(0, available - tile) : s, end = last ? available : end_of_tile;
    open.emit_before(start);  // no later clip covers them
    cache.drop_before(start);
    const Tensor out = restore_clip_tiled(cache.clip(iota(start, end)), model, c, spec, progress.patches);
    open.add(start, out);
    if (last) {
      open.emit_before(end);
      return;
    }
    open.emit_before(s + 1);  // every later clip starts after s
  }
}

size_t tiling_overhead_bytes(int64_t clip_frames, int64_t h, int64_t w, const ClipConstraints& c) {
  const int64_t pixels = checked_mul(h, w, kWhere);
  const int64_t per_frame =
      checked_add(checked_mul(c.in_channels, pixels, kWhere),
                  checked_mul(c.out_channels, checked_mul(pixels, c.scale * c.scale, kWhere), kWhere), kWhere);
  const int64_t elements = checked_mul(checked_mul(clip_frames, per_frame, kWhere), int64_t{3}, kWhere);
  return static_cast<size_t>(checked_mul(elements, static_cast<int64_t>(c.element_bytes), kWhere));
}

namespace {

size_t saturating_sum(size_t a, size_t b) {
  return a > std::numeric_limits<size_t>::max() - b ? std::numeric_limits<size_t>::max() : a + b;
}

}  // namespace

TileSpec plan_tiles(int64_t frames, int64_t h, int64_t w, const ClipConstraints& c, const TileSpec& requested,
                    size_t budget_bytes, const std::function<size_t(int64_t, int64_t, int64_t)>& peak_bytes) {
  validate_tile_spec(requested, c);
  VR_CHECK(peak_bytes, kWhere, ": plan_tiles needs a peak_bytes estimate");
  VR_CHECK(h >= 1 && w >= 1 && (frames >= 1 || frames == FrameSource::kUnknownLength), kWhere, ": plan_tiles for ",
           frames, " frames of ", h, "x", w, ", expected H, W >= 1 and frames >= 1 or kUnknownLength");
  const bool known = frames != FrameSource::kUnknownLength;

  // Frame candidates, largest first (0 = the whole clip).
  std::vector<int64_t> frame_tiles;
  if (requested.frames || c.exact_frames || c.output_frames) {
    frame_tiles.push_back(requested.frames);
  } else {
    if (known) frame_tiles.push_back(0);
    const int64_t smallest = std::max(c.min_frames, requested.overlap_frames + 1);
    for (int64_t t = known ? frames - 1 : kMaxPlannedFramesUnknownLength; t >= smallest; --t) frame_tiles.push_back(t);
    VR_CHECK(!frame_tiles.empty(), kWhere,
             ": a clip of unknown length needs temporal tiles longer than overlap_frames ", requested.overlap_frames,
             " and at least min_frames ", c.min_frames, ", up to ", kMaxPlannedFramesUnknownLength);
  }
  // Square spatial candidates, largest first (0 = the whole frame); an explicit side is kept.
  const int64_t multiple = checked_lcm(c.height_multiple(), c.width_multiple());
  std::vector<int64_t> sides{0};
  if (!requested.height || !requested.width) {
    const int64_t smallest =
        round_up(std::max({c.min_height, c.min_width, requested.overlap_height + 1, requested.overlap_width + 1}),
                 multiple, kWhere);
    for (int64_t side = (std::max(h, w) - 1) / multiple * multiple; side >= smallest; side -= multiple)
      sides.push_back(side);
  }
  auto spec_for = [&](int64_t frame_tile, int64_t side) {
    TileSpec s = requested;
    s.frames = frame_tile;
    if (!requested.height) s.height = side >= h ? 0 : side;
    if (!requested.width) s.width = side >= w ? 0 : side;
    return s;
  };
  auto estimate = [&](const TileSpec& s) {
    const int64_t clip = s.frames == 0 ? (known ? padded_size(frames, c.min_frames, c.frame_multiple) : 0)
                                       : (known ? std::min(s.frames, frames) : s.frames);
    const int64_t call_frames = c.exact_frames ? c.exact_frames : std::max(clip, c.min_frames);
    const int64_t ph = padded_size(s.height ? std::min(s.height, h) : h, c.min_height, c.height_multiple());
    const int64_t pw = padded_size(s.width ? std::min(s.width, w) : w, c.min_width, c.width_multiple());
    return saturating_sum(peak_bytes(call_frames, ph, pw), tiling_overhead_bytes(std::max(clip, call_frames), h, w, c));
  };
  auto fits = [&](const TileSpec& s) {
    try {
      validate_tile_spec(s, c);
    } catch (const Error&) {
      return false;  // e.g. an overlap the explicit values make too large for this tile
    }
    return estimate(s) <= budget_bytes;
  };

  // Spatial first: the most frames for which the smallest spatial tile fits (binary search, the
  // estimate grows with the frames), then the largest spatial tile that fits at those frames.
  if (fits(spec_for(frame_tiles.front(), sides.front()))) return spec_for(frame_tiles.front(), sides.front());
  size_t lo = 0, hi = frame_tiles.size();  // first index whose smallest-tile setting fits, in [lo, hi]
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (fits(spec_for(frame_tiles[mid], sides.back())))
      hi = mid;
    else
      lo = mid + 1;
  }
  if (lo == frame_tiles.size()) {
    const TileSpec smallest = spec_for(frame_tiles.back(), sides.back());
    fail(
        kWhere, ": no tiling of ", known ? concat(frames) : std::string("an unknown number of"), " frames of ", h, "x",
        w, " fits the memory budget of ", budget_bytes, " bytes (", budget_bytes >> 20, " MiB): the smallest setting (",
        smallest.frames ? concat(smallest.frames, " frames per clip") : std::string("the whole clip"), ", ",
        smallest.height ? concat(smallest.height) : concat(h), "x", smallest.width ? concat(smallest.width) : concat(w),
        " tiles) needs an estimated ", estimate(smallest), " bytes (", estimate(smallest) >> 20,
        " MiB); raise the memory budget, or use smaller explicit tiles or a lower precision");
  }
  for (int64_t side : sides)
    if (fits(spec_for(frame_tiles[lo], side))) return spec_for(frame_tiles[lo], side);
  return spec_for(frame_tiles[lo], sides.back());
}

}  // namespace vrestore

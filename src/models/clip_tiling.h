// Test-time tiling for clip models (VRT): upstream main_test_vrt.py's test_video (temporal clips
// with overlap, averaged per frame) and test_clip (spatial tiles with overlap, blended), streaming
// frames in and out so memory stays bounded by the clip length, plus a planner that picks tiles
// for a memory budget. Model-independent: the network is a callback. The rules for users are in
// docs/tiling.md; the upstream semantics in ../shared/docs/spec_vrt.md §7.
//
// Deviations from upstream, all where upstream crashes or computes garbage:
// * a call whose size breaks the model's constraints (a frame or patch smaller than the minimum,
//   not a multiple, a clip shorter than min_frames) is padded by mirrored copies (the mirror
//   includes the edge, like torch.flip of the last rows / frames; repeated when the padding is
//   longer than the input) and its output cropped back, instead of crashing;
// * a spatial overlap of 0 zeroes nothing (upstream's `-0//2:` slice zeroes whole patches and
//   divides by a zero weight).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "models/sequence.h"
#include "vrestore/tensor.h"

namespace vrestore {

// Tile sizes and overlaps, in input (low-quality) pixels and frames; upstream's --tile T h w and
// --tile_overlap oT oh ow. A size of 0 means the whole axis (upstream --tile 0).
struct TileSpec {
  int64_t frames = 0, height = 0, width = 0;
  int64_t overlap_frames = 2, overlap_height = 20, overlap_width = 20;
};

// What one forward call of the model needs and gives. The model maps a clip
// (1, T, in_channels, h, w) to (1, T_out, out_channels, h·scale, w·scale).
struct ClipConstraints {
  int64_t scale = 1;  // output size / input size (integer >= 1)
  int64_t in_channels = 3, out_channels = 3;
  // h and w of every call are multiples of lcm(spatial_multiple, window_height / window_width)
  // (VRT: 8, its three 2× space-to-depth reshapes; the attention window 8×8). Spatial tiles
  // must be such multiples too (upstream asserts tile % window == 0).
  int64_t spatial_multiple = 1;
  int64_t window_height = 1, window_width = 1;
  // The smallest h, w one call accepts, inclusive (VRT: 64 — SpyNet needs > 32 and mutual
  // attention needs 8·window at 1/8 scale; the caller fills in the numbers).
  int64_t min_height = 1, min_width = 1;
  // The whole-clip path (TileSpec::frames == 0) pads the frame count to a multiple of this
  // (upstream test_video: window[0]); temporal clips are not padded to it (upstream neither).
  int64_t frame_multiple = 1;
  // The fewest frames one call accepts (VRT: pa_frames 2 -> 2, 4 -> 3, 6 -> 4); shorter clips
  // are padded with mirrored frames.
  int64_t min_frames = 1;
  // Frame interpolation (VRT 009): every call takes exactly this many frames (0 = any); a clip of
  // another length is refused, since padding would invent motion.
  int64_t exact_frames = 0;
  // Frames per call's output: 0 = one per input frame; VRT 009: 1 (the interpolated frame).
  int64_t output_frames = 0;
  // Bytes per element of the tensors (4: f32, 2: f16), for the planner's estimate of our buffers.
  size_t element_bytes = 4;

  // lcm(spatial_multiple, window_height), lcm(spatial_multiple, window_width).
  int64_t height_multiple() const;
  int64_t width_multiple() const;
};

// The network: clip (1, T, in_channels, h, w) -> (1, T_out, out_channels, h·scale, w·scale) on the
// clip's device and dtype (T_out = T, or ClipConstraints::output_frames). h, w and T always meet
// the constraints.
using ClipModel = std::function<Tensor(const Tensor& clip)>;
// Input frame i as (in_channels, H, W); all frames have one shape.
using FrameReader = std::function<Tensor(int64_t index)>;
// Receives each output frame (out_channels, H·scale, W·scale) in order.
using TiledFrameSink = std::function<void(int64_t index, const Tensor& frame)>;

struct TilingProgress {
  // After each emitted frame: (frames emitted, clip length or FrameSource::kUnknownLength).
  std::function<void(int64_t done, int64_t total)> frames;
  // After each model call within the current clip: (calls done, calls for this clip).
  std::function<void(int64_t done, int64_t total)> patches;
};

// Throws vrestore::Error naming the field unless the constraints are consistent (sizes >= 1, ...).
void validate_constraints(const ClipConstraints& c);
// Throws vrestore::Error naming the option unless `spec` can run: sizes and overlaps >= 0, each
// overlap smaller than its tile, spatial tiles multiples of height_multiple()/width_multiple()
// and at least the model's minimum size, temporal tile 0 or exact_frames for frame interpolation.
void validate_tile_spec(const TileSpec& spec, const ClipConstraints& c);

// Upstream's tile starts along one axis of `size` (frames, rows or columns):
// range(0, size - tile, tile - overlap) + [max(0, size - tile)]; tile 0 (whole axis) -> {0}.
// Requires size >= 1, tile >= 0 and 0 <= overlap < tile when tile > 0.
std::vector<int64_t> tile_starts(int64_t size, int64_t tile, int64_t overlap);

// The rows a patch keeps in the blend, as [begin, end) in its output pixels (patch length
// `out_length` = input length · scale), for patch `index` of `count` along an axis: interior sides
// drop overlap//2 output pixels at the start and ceil(overlap/2) at the end (upstream zeroes
// [:o//2] and [-o//2:] of the output patch, in output pixels whatever the scale).
struct KeptRange {
  int64_t begin = 0, end = 0;
};
KeptRange kept_range(int64_t index, int64_t count, int64_t out_length, int64_t overlap);

// Indices 0..padded-1 into an axis of `length` (>= 1) items, mirrored past the end with the edge
// included: padded item length + k is item length - 1 - k (torch.flip of the last k items),
// repeating the reflection when padded > 2·length (period 2·length).
std::vector<int64_t> mirror_indices(int64_t length, int64_t padded);

// The smallest size >= max(length, minimum) that is a multiple of `multiple`.
int64_t padded_size(int64_t length, int64_t minimum, int64_t multiple);

// test_clip: clip (1, T, in_channels, H, W) -> (1, T_out, out_channels, H·scale, W·scale) with the
// spatial part of `spec` (height, width, overlaps; frames ignored). Untiled axes run whole, padded
// to the constraints by mirroring and cropped back; tiled axes blend patches as upstream (interior
// sides drop their outer overlap//2 output pixels, the rest is averaged by coverage). Clips shorter
// than min_frames are padded with mirrored frames and the extra outputs dropped; a clip of other
// than exact_frames frames is an error. `patch_progress` (may be empty) gets (calls done, calls).
Tensor restore_clip_tiled(const Tensor& clip, const ClipModel& model, const ClipConstraints& c, const TileSpec& spec,
                          const std::function<void(int64_t, int64_t)>& patch_progress = {});

// test_video, streaming: reads frames through `read` (each once), runs clips of spec.frames
// frames (overlap spec.overlap_frames; 0 = the whole clip, padded to a multiple of frame_multiple
// with the last frames in reverse order) through restore_clip_tiled, averages each output frame
// uniformly over the clips covering it and hands it to `emit` as soon as no later clip covers it.
// Holds at most one clip of input frames plus the sums of the frames still open. `length` says how
// many frames exist (ClipLength::known(n), or a source's length for unknown-length clips: only the
// frames the next clip needs, plus one to learn whether it is the last, are asked for). Frame
// interpolation (exact_frames > 0): the clip must have exactly exact_frames frames and gives
// output_frames frames. Errors: vrestore::Error for a bad spec, a frame of another shape, a model
// output of the wrong shape; a callback's exception passes through unchanged.
void restore_video_tiled(const FrameReader& read, const ClipLength& length, const ClipModel& model,
                         const ClipConstraints& c, const TileSpec& spec, const TiledFrameSink& emit,
                         const TilingProgress& progress = {});

// The default memory budget of plan_tiles: 8 GiB (issue 8: on the CPU and on the device).
inline constexpr size_t kDefaultMemoryBudgetBytes = size_t{8} << 30;
// The longest temporal tile plan_tiles tries for a clip of unknown length (it cannot run whole).
inline constexpr int64_t kMaxPlannedFramesUnknownLength = 64;

// Bytes our own buffers hold at most besides one model call, for clips of `clip_frames` frames of
// H×W (input frames read, the clip, its channel-last copy; the blended output, the open frame
// sums and the clip's output): element_bytes · 3 · clip_frames · (in_channels·H·W +
// out_channels·H·W·scale²). Conservative.
size_t tiling_overhead_bytes(int64_t clip_frames, int64_t h, int64_t w, const ClipConstraints& c);

// Picks a TileSpec whose estimated peak, peak_bytes(frames, h, w) of one model call at the padded
// call size plus tiling_overhead_bytes, is at most budget_bytes. Nonzero sizes in `requested` are
// kept, and so are its overlaps; zero sizes are chosen: the whole clip when it fits, else the
// spatial tile shrinks first (square, in multiples of the spatial multiple, down to the minimum
// size), then the frames per clip, and finally the spatial tile grows back to the largest that
// fits at those frames. `frames` may be FrameSource::kUnknownLength (temporal tiles of at most
// kMaxPlannedFramesUnknownLength frames then). peak_bytes must not decrease when an argument
// grows. Throws vrestore::Error stating the budget, the smallest estimate and what to change when
// nothing fits.
TileSpec plan_tiles(int64_t frames, int64_t h, int64_t w, const ClipConstraints& c, const TileSpec& requested,
                    size_t budget_bytes, const std::function<size_t(int64_t frames, int64_t h, int64_t w)>& peak_bytes);

}  // namespace vrestore

#include "cli/restore_request.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "cli/default_model.h"
#include "core/check.h"

namespace vrestore::cli {
namespace {

constexpr int64_t kMaxTileSize = int64_t{1} << 20;

// --tile H W, --tile-frames T, --tile-overlap P, --tile-overlap-frames P and --memory-budget SIZE
// onto RestoreOptions::tile / memory_budget_bytes. Only the ranges the syntax implies are checked
// here; the library checks the rest against the model (multiples of 8, overlap < tile, ...) and
// says which option is wrong.
void parse_tiling(const Options& opts, RestoreRequest& r) {
  RestoreOptions::Tiling& tile = r.options.tile;
  if (opts.has("tile")) {
    const auto& hw = opts.all("tile");
    tile.height = parse_int("--tile H", hw[0], 0, kMaxTileSize);
    tile.width = parse_int("--tile W", hw[1], 0, kMaxTileSize);
  }
  tile.frames = opts.integer("tile-frames", tile.frames, 0, kMaxTileSize);
  const int64_t overlap = opts.integer("tile-overlap", tile.overlap_height, 0, kMaxTileSize);
  tile.overlap_height = overlap;
  tile.overlap_width = opts.has("tile-overlap") ? overlap : tile.overlap_width;
  tile.overlap_frames = opts.integer("tile-overlap-frames", tile.overlap_frames, 0, kMaxTileSize);
  if (opts.has("memory-budget"))
    r.options.memory_budget_bytes = parse_byte_size("--memory-budget", opts.required("memory-budget"));
  for (const char* flag : {"tile", "tile-frames", "tile-overlap", "tile-overlap-frames", "memory-budget"})
    if (opts.has(flag)) r.tiling_flag += (r.tiling_flag.empty() ? "--" : ", --") + std::string(flag);
}

}  // namespace

size_t parse_byte_size(const std::string& flag, const std::string& text) {
  struct Suffix {
    const char* name;
    uint64_t factor;
  };
  static const Suffix kSuffixes[] = {{"", 1},
                                     {"K", 1000},
                                     {"M", 1000 * 1000},
                                     {"G", 1000 * 1000 * 1000},
                                     {"KiB", uint64_t{1} << 10},
                                     {"MiB", uint64_t{1} << 20},
                                     {"GiB", uint64_t{1} << 30}};
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string suffix = text.substr(digits);
  const Suffix* found = nullptr;
  for (const Suffix& s : kSuffixes)
    if (suffix == s.name) found = &s;
  if (digits == 0 || !found)
    throw UsageError(flag + " expects bytes with an optional suffix K, M, G (10^3, 10^6, 10^9) or KiB, MiB, GiB "
                     "(2^10, 2^20, 2^30), e.g. 8GiB, got '" + text + "'");
  const uint64_t limit = std::numeric_limits<size_t>::max();
  uint64_t value = 0;
  for (size_t i = 0; i < digits; ++i) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (limit - digit) / 10) throw UsageError(flag + " " + text + " is larger than this machine can address");
    value = value * 10 + digit;
  }
  if (value > limit / found->factor) throw UsageError(flag + " " + text + " is larger than this machine can address");
  value *= found->factor;
  if (value == 0) throw UsageError(flag + " must be at least 1 byte, got '" + text + "'");
  return static_cast<size_t>(value);
}

bool restores_in_tiles(const ModelInfo& info) { return info.arch == "vrt.VRT"; }

RestoreRequest parse_restore_request(const Options& opts) {
  RestoreRequest r;
  r.input = opts.required("input");
  r.output = opts.required("output");
  r.model_options = parse_model_options(opts);
  r.scale = static_cast<int>(opts.integer("scale", 0, 1, 16));
  parse_tiling(opts, r);
  r.quiet = opts.has("quiet");
  r.stats = opts.has("stats");
  r.chunking_given = opts.has("chunk-frames") || opts.has("lookahead-frames") || opts.has("independent-chunks");
  r.options.chunk_frames = opts.integer("chunk-frames", r.options.chunk_frames, 1);
  r.options.lookahead_frames = opts.integer("lookahead-frames", r.options.lookahead_frames, 0);
  r.options.independent_chunks = opts.integer("independent-chunks", 0, 0, 1) != 0;
  r.options.allow_non_finite_input = opts.has("allow-non-finite");
  r.noise_level = static_cast<int>(opts.integer("noise-level", -1, 0, 255));
  r.default_model = !opts.has("weights");
  r.weights = r.default_model ? default_model_path() : opts.required("weights");
  return r;
}

Model load_model_for(const RestoreRequest& r) {
  Model model = Model::load(r.weights, r.model_options);
  const ModelInfo& info = model.info();
  if (r.scale != 0 && r.scale != info.scale)
    throw Error(concat("model '", r.weights, "' (", info.arch, ") restores at scale ", info.scale, ", --scale ", r.scale,
                       " was asked"));
  // Silently ignoring a tile or budget would surprise a user who asked for it to bound memory.
  if (!r.tiling_flag.empty() && !restores_in_tiles(info))
    throw Error(concat(r.tiling_flag, ": tiling and the memory budget apply to VRT models only; ", info.arch,
                       " restores whole frames: omit them"));
  // Chunking would do nothing for a model that is not recurrent, and a user who set it to bound
  // memory should know.
  if (r.chunking_given && !info.recurrent) {
    const std::string how = restores_in_tiles(info)
                                ? std::string(" restores clips in tiles: bound its memory with --tile-frames, --tile "
                                              "or --memory-budget instead")
                                : concat(" restores each frame from a window of ", info.num_frames, " frames");
    throw Error(concat("--chunk, --lookahead and --independent-chunks apply to recurrent models (BasicVSR, "
                       "RealBasicVSR) only; ", info.arch, how, ": omit them"));
  }
  return model;
}

constexpr int64_t kDenoiserChannels = 4;  // RGB + the noise level

void check_noise_level(const RestoreRequest& r, const ModelInfo& info) {
  if (info.in_channels == kDenoiserChannels && r.noise_level < 0)
    throw Error(concat("model '", r.weights, "' (", info.arch, ") is a non-blind denoiser: it takes each frame's ",
                       "noise level as a fourth channel; give it with --noise-level SIGMA (0-255 scale, e.g. 25)"));
  if (r.noise_level >= 0 && info.in_channels != kDenoiserChannels)
    throw Error(concat("--noise-level applies to VRT's non-blind denoiser (4 input channels); model '", r.weights,
                       "' (", info.arch, ") takes ", info.in_channels, " channels: omit it"));
}

FrameSource with_noise_level(const RestoreRequest& r, FrameSource rgb) {
  if (r.noise_level < 0) return rgb;
  const float level = static_cast<float>(r.noise_level) / 255.0f;
  auto frame = [read = std::move(rgb.frame), level](int64_t i) {
    const Tensor rgb_frame = read(i);
    const int64_t plane = rgb_frame.size(1) * rgb_frame.size(2);
    Tensor out = Tensor::empty({kDenoiserChannels, rgb_frame.size(1), rgb_frame.size(2)});
    std::copy_n(rgb_frame.data(), 3 * plane, out.data());
    std::fill_n(out.data() + 3 * plane, plane, level);
    return out;
  };
  return FrameSource{rgb.num_frames, std::move(frame), std::move(rgb.count_up_to)};
}

}  // namespace vrestore::cli

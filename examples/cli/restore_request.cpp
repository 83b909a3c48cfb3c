#include "cli/restore_request.h"

#include "cli/default_model.h"
#include "core/check.h"

namespace vrestore::cli {

RestoreRequest parse_restore_request(const Options& opts) {
  RestoreRequest r;
  r.input = opts.required("input");
  r.output = opts.required("output");
  r.model_options = parse_model_options(opts);
  r.scale = static_cast<int>(opts.integer("scale", 0, 1, 16));
  if (opts.has("tile")) {
    const auto& hw = opts.all("tile");
    r.tile_h = static_cast<int>(parse_int("--tile H", hw[0], 1, 1 << 20));
    r.tile_w = static_cast<int>(parse_int("--tile W", hw[1], 1, 1 << 20));
  }
  if (opts.has("tile-overlap")) {
    if (!opts.has("tile")) throw UsageError("--tile-overlap needs --tile H W");
    r.tile_overlap = static_cast<int>(opts.integer("tile-overlap", 0, 0, 1 << 20));
  }
  r.quiet = opts.has("quiet");
  r.stats = opts.has("stats");
  r.chunking_given = opts.has("chunk-frames") || opts.has("lookahead-frames") || opts.has("independent-chunks");
  r.options.chunk_frames = opts.integer("chunk-frames", r.options.chunk_frames, 1);
  r.options.lookahead_frames = opts.integer("lookahead-frames", r.options.lookahead_frames, 0);
  r.options.independent_chunks = opts.integer("independent-chunks", 0, 0, 1) != 0;
  r.options.allow_non_finite_input = opts.has("allow-non-finite");
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
  // The library restores whole frames; silently ignoring --tile would surprise a user who asked
  // for it to bound memory.
  if (r.tile_h > 0)
    throw Error(concat("--tile: spatial tiling is not supported for ", info.arch,
                       " yet; omit --tile to restore whole frames"));
  // A sliding-window model restores each frame from its own window: chunking would do nothing,
  // and a user who set it to bound memory should know.
  if (r.chunking_given && !info.recurrent)
    throw Error(concat("--chunk, --lookahead and --independent-chunks apply to recurrent models (BasicVSR, "
                       "RealBasicVSR) only; ", info.arch, " restores each frame from a window of ", info.num_frames,
                       " frames: omit them"));
  return model;
}

}  // namespace vrestore::cli

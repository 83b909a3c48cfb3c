// What `vrestore restore` was asked to do, checked against the model before any frame is read:
// the model file (or the default model), the device and precision, the scale, tiling and the
// chunking of recurrent models.
#pragma once

#include <string>

#include "cli/options.h"
#include "vrestore/vrestore.h"

namespace vrestore::cli {

struct RestoreRequest {
  std::string input, output;
  std::string weights;   // the model file (-m, else the default model)
  bool default_model = false;
  ModelOptions model_options;   // --device, --precision, --device-index
  int scale = 0;                // --scale; 0 = the model's
  // --tile H W, --tile-frames, --tile-overlap, --tile-overlap-frames or --memory-budget, as the
  // user spelled the first one given ("" when none): models that do not tile refuse them.
  std::string tiling_flag;
  bool quiet = false;
  bool stats = false;           // --stats
  bool chunking_given = false;  // --chunk, --lookahead or --independent-chunks was given
  int noise_level = -1;         // --noise-level SIGMA (0..255); -1 when not given
  RestoreOptions options;       // chunking, tiling, memory budget and non-finite policy; progress is set
                                // by the command
};

// Parses and range-checks the options (UsageError on a bad value). Does not load the model.
RestoreRequest parse_restore_request(const Options& opts);

// Loads the model (Model::load says why --device cuda cannot run) and refuses a request it does
// not fit (vrestore::Error, one line): --scale other than the model's, a tiling option or
// --memory-budget for a model without tiling, --chunk / --lookahead / --independent-chunks for a
// model that is not recurrent (they apply to recurrent models only).
Model load_model_for(const RestoreRequest& request);

// Frames of video files and PNG folders are RGB. VRT's non-blind denoiser (4 input channels) takes
// the noise level sigma/255 as a fourth channel, constant over each frame, as upstream's
// main_test_vrt.py builds it. check_noise_level throws vrestore::Error (one line) when the model
// needs it and it was not given, or when it was given for a model that takes RGB; after it,
// with_noise_level returns `rgb`, with the channel appended to every frame when --noise-level was given.
void check_noise_level(const RestoreRequest& request, const ModelInfo& info);
FrameSource with_noise_level(const RestoreRequest& request, FrameSource rgb);

// Whether `info` is a model restored in temporal clips and spatial tiles under a memory budget
// (docs/tiling.md): VRT.
bool restores_in_tiles(const ModelInfo& info);

// A --memory-budget value: decimal bytes with an optional suffix K, M, G (10^3, 10^6, 10^9) or
// KiB, MiB, GiB (2^10, 2^20, 2^30), e.g. "512MiB"; at least 1 byte. UsageError naming `flag`
// otherwise (and when it does not fit in size_t).
size_t parse_byte_size(const std::string& flag, const std::string& text);

}  // namespace vrestore::cli

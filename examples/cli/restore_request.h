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
  int tile_h = 0, tile_w = 0, tile_overlap = 0;  // --tile H W, --tile-overlap P; 0 = whole frames
  bool quiet = false;
  bool stats = false;           // --stats
  bool chunking_given = false;  // --chunk, --lookahead or --independent-chunks was given
  RestoreOptions options;       // chunking and non-finite policy; progress is set by the command
};

// Parses and range-checks the options (UsageError on a bad value). Does not load the model.
RestoreRequest parse_restore_request(const Options& opts);

// Loads the model (Model::load says why --device cuda cannot run) and refuses a request it does
// not fit (vrestore::Error, one line): --scale other than the model's, --tile for a model without
// tiling, --chunk / --lookahead / --independent-chunks for a sliding-window model (they apply to
// recurrent models only).
Model load_model_for(const RestoreRequest& request);

}  // namespace vrestore::cli

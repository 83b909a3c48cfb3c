// The subcommands of the vrestore CLI. Each returns the process exit code; errors are thrown
// (vrestore::Error: exit 1, UsageError: exit 2) and printed by main().
#pragma once

#include <string>

#include "cli/options.h"
#include "cli/restore_request.h"

namespace vrestore::cli {

// Options accepted by `run` and `restore`.
extern const std::vector<OptionSpec> kRunOptions;
extern const std::vector<OptionSpec> kRestoreOptions;

// run: one forward of tensor 'input' of a safetensors file.
int cmd_run(const Options& opts);
// restore: dispatches on the input: a .safetensors clip (restore_tensor) or a video / PNG folder
// (restore_media).
int cmd_restore(const Options& opts);
int restore_tensor(const RestoreRequest& request, const Options& opts);
int restore_media(const RestoreRequest& request, const Options& opts);
int cmd_info(const std::string& path);
int cmd_diff(const std::string& a_ref, const std::string& b_ref);

// Whether this build reads and writes videos and PNG folders (vrestore_io was built).
bool media_io_available();

}  // namespace vrestore::cli

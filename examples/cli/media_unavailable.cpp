// restore of videos and PNG folders in a build without vrestore_io (FFmpeg or libpng were not
// found at configure time): one clear error instead of a missing subcommand.
#include "cli/commands.h"

namespace vrestore::cli {

bool media_io_available() { return false; }

int restore_media(const RestoreRequest& r, const Options&) {
  throw Error("input '" + r.input + "' is not a .safetensors file, and this vrestore was built without video and "
              "PNG-folder I/O (FFmpeg and libpng were not found when it was configured; scripts/install_deps.sh "
              "installs them)");
}

}  // namespace vrestore::cli

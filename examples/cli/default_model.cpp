#include "cli/default_model.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

#include "vrestore/error.h"

#ifndef VRESTORE_SOURCE_MODELS_DIR
#define VRESTORE_SOURCE_MODELS_DIR ""
#endif

namespace vrestore::cli {
namespace fs = std::filesystem;

std::string default_model_path() {
  if (const char* env = std::getenv("VRESTORE_DEFAULT_MODEL"); env && *env) {
    std::error_code ec;
    if (!fs::is_regular_file(env, ec))
      throw Error(std::string("default model: $VRESTORE_DEFAULT_MODEL is '") + env +
                  "', which is not a file; fix it, unset it, or pass -m MODEL.safetensors");
    return env;
  }
  std::vector<fs::path> candidates;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path() / ".." / "share" / "vrestore" / "models" / kDefaultModelName);
  if (*VRESTORE_SOURCE_MODELS_DIR) candidates.push_back(fs::path(VRESTORE_SOURCE_MODELS_DIR) / kDefaultModelName);
  std::string looked;
  for (const fs::path& p : candidates) {
    if (fs::is_regular_file(p, ec)) return p.lexically_normal().string();
    looked += (looked.empty() ? "'" : ", '") + p.lexically_normal().string() + "'";
  }
  throw Error("no model given and the default model " + std::string(kDefaultModelName) + " is not installed (looked at " +
              looked + "); pass -m MODEL.safetensors");
}

}  // namespace vrestore::cli

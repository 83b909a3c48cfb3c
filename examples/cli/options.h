// Command-line options of the vrestore CLI: each subcommand declares the options it accepts;
// anything else, a repeated option or a value out of range is a UsageError (exit code 2).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "vrestore/vrestore.h"

namespace vrestore::cli {

// A mistake in the command line: exit code 2. One line (it names the option and what it takes), or
// followed by the usage text when `show_usage`: a command line of the wrong shape (an unknown
// command or option, a missing argument or option), where the list of what exists helps.
struct UsageError : std::runtime_error {
  explicit UsageError(const std::string& message, bool show_usage = false)
      : std::runtime_error(message), show_usage(show_usage) {}
  bool show_usage;
};

// One accepted option: --name, optionally also -short and --alias; `values` is 0 for a flag,
// else how many arguments follow it (e.g. 2 for --tile H W).
struct OptionSpec {
  const char* name;
  int values = 1;
  const char* short_name = nullptr;  // without the dash, e.g. "i"
  const char* alias = nullptr;       // without the dashes, e.g. "chunk"
};

// Parsed options, keyed by the canonical name (an alias or short form stores under `name`).
class Options {
 public:
  Options(int argc, char** argv, int first, const std::vector<OptionSpec>& specs);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  // The (first) value; UsageError "missing --name" when absent.
  const std::string& required(const std::string& name) const;
  // The value, or `fallback` when absent.
  std::string get(const std::string& name, const std::string& fallback) const;
  // All values of a multi-value option (empty when absent).
  const std::vector<std::string>& all(const std::string& name) const;
  // A decimal integer in [min, max]; `fallback` when absent.
  int64_t integer(const std::string& name, int64_t fallback, int64_t min,
                  int64_t max = std::numeric_limits<int64_t>::max()) const;
  // "--name" plus its other spellings, for messages: "--input (-i)".
  std::string display(const std::string& name) const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
  const std::vector<OptionSpec>& specs_;
};

// A decimal integer in [min, max], exactly (no spaces, no '+', no trailing characters).
int64_t parse_int(const std::string& what, const std::string& text, int64_t min, int64_t max);

// --device cpu|cuda (default cpu), --precision f32|f16 (default f32), --device-index N (default 0).
// --precision f16 with --device cpu is a one-line UsageError (the CPU backend computes in f32);
// whether CUDA is present is for Model::load to say.
ModelOptions parse_model_options(const Options& opts);
// "cpu" / "cuda:0 f16" for messages.
std::string describe(const ModelOptions& options);

// --threads N and --matmul-precision highest|high applied to the library (when given).
void apply_process_settings(const Options& opts);

// Whether `path` ends with `suffix`, ignoring ASCII case.
bool ends_with_nocase(const std::string& path, const std::string& suffix);

}  // namespace vrestore::cli

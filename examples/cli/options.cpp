#include "cli/options.h"

#include <cctype>
#include <charconv>

#include "core/check.h"

namespace vrestore::cli {

Options::Options(int argc, char** argv, int first, const std::vector<OptionSpec>& specs) : specs_(specs) {
  for (int i = first; i < argc; ++i) {
    const std::string arg = argv[i];
    const OptionSpec* spec = nullptr;
    if (arg.size() > 2 && arg.rfind("--", 0) == 0) {
      const std::string key = arg.substr(2);
      for (const OptionSpec& s : specs)
        if (key == s.name || (s.alias && key == s.alias)) spec = &s;
    } else if (arg.size() > 1 && arg[0] == '-' && arg[1] != '-') {
      const std::string key = arg.substr(1);
      for (const OptionSpec& s : specs)
        if (s.short_name && key == s.short_name) spec = &s;
    } else {
      throw UsageError("unexpected argument '" + arg + "'", true);
    }
    if (!spec) throw UsageError("unknown option " + arg, true);
    if (values_.count(spec->name)) throw UsageError(display(spec->name) + " given twice");
    std::vector<std::string>& v = values_[spec->name];
    if (spec->values == 0) {
      v.push_back("1");
      continue;
    }
    if (i + spec->values >= argc)
      throw UsageError(arg + (spec->values == 1 ? " needs a value" : concat(" needs ", spec->values, " values")), true);
    for (int k = 0; k < spec->values; ++k) v.push_back(argv[++i]);
  }
}

const std::string& Options::required(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw UsageError("missing " + display(name), true);
  return it->second.front();
}

std::string Options::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second.front();
}

const std::vector<std::string>& Options::all(const std::string& name) const {
  static const std::vector<std::string> kNone;
  auto it = values_.find(name);
  return it == values_.end() ? kNone : it->second;
}

int64_t Options::integer(const std::string& name, int64_t fallback, int64_t min, int64_t max) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : parse_int("--" + name, it->second.front(), min, max);
}

std::string Options::display(const std::string& name) const {
  for (const OptionSpec& s : specs_) {
    if (name != s.name) continue;
    std::string others;
    if (s.short_name) others += std::string("-") + s.short_name;
    if (s.alias) others += std::string(others.empty() ? "" : ", ") + "--" + s.alias;
    return "--" + name + (others.empty() ? "" : " (" + others + ")");
  }
  return "--" + name;
}

int64_t parse_int(const std::string& what, const std::string& text, int64_t min, int64_t max) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end || v < min || v > max) {
    std::string range = max == std::numeric_limits<int64_t>::max() ? concat(">= ", min) : concat(min, " to ", max);
    throw UsageError(what + " expects an integer " + range + ", got '" + text + "'");
  }
  return v;
}

ModelOptions parse_model_options(const Options& opts) {
  ModelOptions m;
  const std::string device = opts.get("device", "cpu");
  if (device == "cuda") m.device = Device::CUDA;
  else if (device != "cpu") throw UsageError("--device must be cpu or cuda, got '" + device + "'");
  const std::string precision = opts.get("precision", "f32");
  if (precision == "f16") m.precision = DType::F16;
  else if (precision != "f32") throw UsageError("--precision must be f32 or f16, got '" + precision + "'");
  if (m.device == Device::CPU && m.precision == DType::F16)
    throw UsageError("--precision f16 needs --device cuda (the CPU backend computes in f32)");
  if (opts.has("device-index")) {
    if (m.device != Device::CUDA) throw UsageError("--device-index applies to --device cuda only");
    m.device_index = static_cast<int>(opts.integer("device-index", 0, 0, 1023));
  }
  return m;
}

std::string describe(const ModelOptions& m) {
  if (m.device == Device::CPU) return "cpu";
  return concat("cuda:", m.device_index, m.precision == DType::F16 ? " f16" : " f32");
}

void apply_process_settings(const Options& opts) {
  if (opts.has("threads")) set_num_threads(static_cast<int>(opts.integer("threads", 0, 1, kMaxThreads)));
  if (opts.has("matmul-precision")) {
    const std::string precision = opts.required("matmul-precision");
    if (precision == "highest")
      set_float32_matmul_precision(MatmulPrecision::Highest);
    else if (precision == "high")
      set_float32_matmul_precision(MatmulPrecision::High);
    else
      throw UsageError("--matmul-precision must be highest or high, got '" + precision + "'");
  }
}

bool ends_with_nocase(const std::string& path, const std::string& suffix) {
  if (path.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(path[path.size() - suffix.size() + i])) !=
        std::tolower(static_cast<unsigned char>(suffix[i])))
      return false;
  return true;
}

}  // namespace vrestore::cli

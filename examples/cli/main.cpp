// vrestore command-line tool.
//   vrestore run     --weights W --input IN --output OUT [--device cpu|cuda] [--threads N]
//                    [--allow-non-finite]
//   vrestore restore --weights W --input IN --output OUT [--device cpu|cuda] [--threads N]
//                    [--chunk-frames K] [--lookahead-frames L] [--independent-chunks 0|1]
//                    [--allow-non-finite]
//   vrestore info    W
//   vrestore diff    A.safetensors:TENSOR[i] B.safetensors:TENSOR[j]
// Tensors are exchanged as safetensors files; errors are one line on stderr and exit code 1
// (2 for usage errors: unknown or repeated options, values out of range).
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/checked_math.h"
#include "vrestore/vrestore.h"
#include "weights/safetensors.h"

namespace {

using vrestore::Tensor;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const char* kUsage =
    "usage:\n"
    "  vrestore run     --weights W.safetensors --input IN.safetensors --output OUT.safetensors\n"
    "                   [--device cpu|cuda] [--threads N] [--allow-non-finite]\n"
    "      applies the network's forward once to tensor 'input', writes tensor 'output'\n"
    "  vrestore restore --weights W.safetensors --input IN.safetensors --output OUT.safetensors\n"
    "                   [--device cpu|cuda] [--threads N] [--chunk-frames K] [--lookahead-frames L]\n"
    "                   [--independent-chunks 0|1] [--allow-non-finite]\n"
    "      restores the clip in tensor 'input' ((T,3,H,W) or (1,T,3,H,W)), one output frame per input frame\n"
    "  vrestore info    W.safetensors\n"
    "      prints architecture, config and the tensor table\n"
    "  vrestore diff    A.safetensors:NAME[i] B.safetensors:NAME[j]\n"
    "      max-abs / mean-abs difference and PSNR of two tensors ([i] selects along dimension 0);\n"
    "      NaN and Inf count as differences: they make max_abs nan (or inf) and the exit code 1\n"
    "options:\n"
    "  --threads N            CPU threads, 1 to 1024 (default: OpenMP's, e.g. OMP_NUM_THREADS)\n"
    "  --chunk-frames K       frames per chunk of recurrent models, >= 1 (default 32)\n"
    "  --lookahead-frames L   look-ahead beyond each chunk, >= 0 (default 16; clamped to the clip)\n"
    "  --allow-non-finite     accept NaN/Inf input pixels (default: an error naming the frame)\n"
    "  --output OUT           must not be an input (weights or clip); written to a temporary file\n"
    "                         in the same folder, then renamed\n";

// The options a subcommand accepts; a flag takes no value.
struct OptionSpec {
  const char* name;
  bool takes_value;
};

const std::vector<OptionSpec> kRunOptions = {
    {"weights", true}, {"input", true}, {"output", true}, {"device", true}, {"threads", true},
    {"allow-non-finite", false}};
const std::vector<OptionSpec> kRestoreOptions = {
    {"weights", true},      {"input", true},         {"output", true},           {"device", true},
    {"threads", true},      {"chunk-frames", true},  {"lookahead-frames", true}, {"independent-chunks", true},
    {"allow-non-finite", false}};

// "--name value" pairs and "--flag"s; anything else, an unknown or a repeated option is a usage error.
std::map<std::string, std::string> parse_options(int argc, char** argv, int first, const std::vector<OptionSpec>& specs) {
  std::map<std::string, std::string> opts;
  for (int i = first; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + arg + "'");
    const std::string key = arg.substr(2);
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : specs)
      if (key == s.name) spec = &s;
    if (!spec) throw UsageError("unknown option " + arg);
    if (opts.count(key)) throw UsageError(arg + " given twice");
    if (!spec->takes_value) {
      opts[key] = "1";
    } else {
      if (i + 1 >= argc) throw UsageError(arg + " needs a value");
      opts[key] = argv[++i];
    }
  }
  return opts;
}

std::string required(const std::map<std::string, std::string>& opts, const std::string& key) {
  auto it = opts.find(key);
  if (it == opts.end()) throw UsageError("missing --" + key);
  return it->second;
}

// A decimal integer in [min, max], exactly (no spaces, no '+', no trailing characters).
int64_t parse_int(const std::string& what, const std::string& text, int64_t min, int64_t max) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end || v < min || v > max) {
    std::string range = max == std::numeric_limits<int64_t>::max() ? vrestore::concat(">= ", min) : vrestore::concat(min, " to ", max);
    throw UsageError(what + " expects an integer " + range + ", got '" + text + "'");
  }
  return v;
}

int64_t int_option(const std::map<std::string, std::string>& opts, const std::string& key, int64_t fallback,
                   int64_t min, int64_t max = std::numeric_limits<int64_t>::max()) {
  auto it = opts.find(key);
  return it == opts.end() ? fallback : parse_int("--" + key, it->second, min, max);
}

vrestore::Device parse_device(const std::map<std::string, std::string>& opts) {
  auto it = opts.find("device");
  if (it == opts.end() || it->second == "cpu") return vrestore::Device::CPU;
  if (it->second == "cuda") return vrestore::Device::CUDA;
  throw UsageError("--device must be cpu or cuda, got '" + it->second + "'");
}

void apply_threads(const std::map<std::string, std::string>& opts) {
  if (opts.count("threads"))
    vrestore::set_num_threads(static_cast<int>(int_option(opts, "threads", 0, 1, vrestore::kMaxThreads)));
}

// Refuses an --output that is one of the inputs (also through a symlink or a hard link): writing
// it would destroy an input, for the weights file while the model may still be reading it.
void check_output_is_not_an_input(const std::map<std::string, std::string>& opts) {
  const std::string output = required(opts, "output");
  struct stat out {};
  if (::stat(output.c_str(), &out) != 0) return;  // does not exist yet: cannot be an input
  for (const char* input : {"weights", "input"}) {
    struct stat in {};
    const std::string path = required(opts, input);
    if (::stat(path.c_str(), &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino)
      throw vrestore::Error("--output '" + output + "' is the --" + input + " file '" + path +
                            "'; an output may never be one of the inputs");
  }
}

Tensor read_tensor(const std::string& path, const std::string& name) {
  vrestore::SafeTensorsFile f = vrestore::SafeTensorsFile::open(path);
  const vrestore::TensorInfo* info = f.find(name);
  if (!info) throw vrestore::Error("input '" + path + "': no tensor named '" + name + "'");
  return f.load_f32(*info);  // a copy: valid after the file is closed
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int cmd_run(const std::map<std::string, std::string>& opts) {
  apply_threads(opts);
  check_output_is_not_an_input(opts);
  vrestore::Model model = vrestore::Model::load(required(opts, "weights"), parse_device(opts));
  Tensor input = read_tensor(required(opts, "input"), "input");
  auto t0 = std::chrono::steady_clock::now();
  vrestore::ForwardOptions forward_options;
  forward_options.allow_non_finite_input = opts.count("allow-non-finite") > 0;
  Tensor output = model.forward(input, forward_options);
  std::fprintf(stderr, "%s: forward %s -> %s in %.3f s\n", model.info().arch.c_str(), input.shape_str().c_str(),
               output.shape_str().c_str(), seconds_since(t0));
  vrestore::save_safetensors(required(opts, "output"), {{"output", output}});
  return 0;
}

int cmd_restore(const std::map<std::string, std::string>& opts) {
  apply_threads(opts);
  vrestore::RestoreOptions options;
  options.chunk_frames = int_option(opts, "chunk-frames", options.chunk_frames, 1);
  options.lookahead_frames = int_option(opts, "lookahead-frames", options.lookahead_frames, 0);
  options.independent_chunks = int_option(opts, "independent-chunks", 0, 0, 1) != 0;
  options.allow_non_finite_input = opts.count("allow-non-finite") > 0;
  check_output_is_not_an_input(opts);
  vrestore::Model model = vrestore::Model::load(required(opts, "weights"), parse_device(opts));
  Tensor clip = read_tensor(required(opts, "input"), "input");
  if (clip.dim() == 5 && clip.size(0) == 1) clip = clip.select0(0);
  auto t0 = std::chrono::steady_clock::now();
  const bool terminal = isatty(fileno(stderr));  // redraw one line on a terminal, a line per frame in logs
  options.progress = [&](int64_t done, int64_t total) {
    std::fprintf(stderr, "%srestored %lld/%lld frames (%.2f s/frame)%s", terminal ? "\r" : "",
                 static_cast<long long>(done), static_cast<long long>(total),
                 seconds_since(t0) / static_cast<double>(done), terminal && done < total ? "" : "\n");
    return true;
  };
  Tensor output = model.restore(clip, options);
  vrestore::save_safetensors(required(opts, "output"), {{"output", output}});
  return 0;
}

int cmd_info(const std::string& path) {
  vrestore::SafeTensorsFile f = vrestore::SafeTensorsFile::open(path);
  for (const auto& [key, value] : f.metadata()) std::printf("%s: %s\n", key.c_str(), value.c_str());
  int64_t params = 0;
  std::printf("%zu tensors:\n", f.tensors().size());
  for (const vrestore::TensorInfo& t : f.tensors()) {
    int64_t n = 1;
    for (int64_t d : t.shape) n = vrestore::checked_mul(n, d, "info: value count");
    params = vrestore::checked_add(params, n, "info: value count");
    std::printf("  %-60s %-4s %s\n", t.name.c_str(), vrestore::dtype_name(t.dtype),
                vrestore::shape_to_string(t.shape).c_str());
  }
  std::printf("%lld values\n", static_cast<long long>(params));
  // Loading validates the file against the architecture (every tensor present, shaped and used).
  vrestore::Model model = vrestore::Model::load(path);
  std::printf("loads as %s, scale %d\n", model.info().arch.c_str(), model.info().scale);
  return 0;
}

// "file.safetensors:name[3]" -> the tensor, or its index 3 along dimension 0.
Tensor read_tensor_ref(const std::string& ref) {
  size_t colon = ref.rfind(':');
  if (colon == std::string::npos) throw UsageError("expected FILE:TENSOR, got '" + ref + "'");
  std::string name = ref.substr(colon + 1);
  int64_t index = -1;
  bool indexed = false;
  if (size_t b = name.find('['); b != std::string::npos && name.back() == ']') {
    index = parse_int("diff index in '" + ref + "'", name.substr(b + 1, name.size() - b - 2), 0,
                      std::numeric_limits<int64_t>::max());
    indexed = true;
    name = name.substr(0, b);
  }
  Tensor t = read_tensor(ref.substr(0, colon), name);
  if (!indexed) return t;
  if (t.dim() < 2 || index >= t.size(0))
    throw vrestore::Error("diff: index [" + std::to_string(index) + "] out of range for tensor '" + name +
                          "' of shape " + t.shape_str() +
                          (t.dim() < 2 ? " (needs at least 2 dimensions)"
                                       : " (expected 0 to " + std::to_string(t.size(0) - 1) + ")"));
  return t.select0(index);
}

// Prints the difference of two tensors. NaN and Inf are differences, never agreement: any
// non-finite value on either side makes max_abs/mean_abs/psnr nan (inf when no NaN is involved)
// and the exit code 1, with the count of non-finite values of each side.
int cmd_diff(const std::string& a_ref, const std::string& b_ref) {
  Tensor a = read_tensor_ref(a_ref), b = read_tensor_ref(b_ref);
  if (a.shape() != b.shape())
    throw vrestore::Error("diff: shapes " + a.shape_str() + " and " + b.shape_str() + " differ");
  double max_abs = 0, sum_abs = 0, sum_sq = 0;
  int64_t non_finite_a = 0, non_finite_b = 0;
  bool any_nan = false;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.data()[i], y = b.data()[i];
    non_finite_a += !std::isfinite(x);
    non_finite_b += !std::isfinite(y);
    if (!std::isfinite(x) || !std::isfinite(y)) {
      any_nan = any_nan || std::isnan(x) || std::isnan(y) || x == y;  // inf - inf is undefined too
      continue;
    }
    const double d = std::fabs(x - y);
    max_abs = std::max(max_abs, d);
    sum_abs += d;
    sum_sq += d * d;
  }
  const bool finite = non_finite_a == 0 && non_finite_b == 0;
  if (!finite) max_abs = sum_abs = sum_sq = any_nan ? NAN : INFINITY;
  const double mse = sum_sq / static_cast<double>(a.numel());
  const double psnr = !finite ? (any_nan ? NAN : -INFINITY) : mse > 0 ? 10 * std::log10(1.0 / mse) : INFINITY;
  std::printf("shape %s  max_abs %.3e  mean_abs %.3e  psnr %.2f dB  non_finite %lld %lld\n", a.shape_str().c_str(),
              max_abs, sum_abs / static_cast<double>(a.numel()), psnr, static_cast<long long>(non_finite_a),
              static_cast<long long>(non_finite_b));
  if (!finite)
    throw vrestore::Error("diff: non-finite values (NaN or Inf): " + std::to_string(non_finite_a) + " in " + a_ref +
                          ", " + std::to_string(non_finite_b) + " in " + b_ref);
  return 0;
}

// info and diff take positional arguments only.
void check_positional(int argc, char** argv, int count) {
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) == 0) throw UsageError("unknown option " + arg);
  }
  if (argc != 2 + count) throw UsageError("'" + std::string(argv[1]) + "' takes " + std::to_string(count) +
                                          " argument(s), got " + std::to_string(argc - 2));
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) throw UsageError("missing command");
    std::string cmd = argv[1];
    if (cmd == "run") return cmd_run(parse_options(argc, argv, 2, kRunOptions));
    if (cmd == "restore") return cmd_restore(parse_options(argc, argv, 2, kRestoreOptions));
    if (cmd == "info") {
      check_positional(argc, argv, 1);
      return cmd_info(argv[2]);
    }
    if (cmd == "diff") {
      check_positional(argc, argv, 2);
      return cmd_diff(argv[2], argv[3]);
    }
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    throw UsageError("unknown command or wrong arguments: '" + cmd + "'");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "vrestore: %s\n%s", e.what(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vrestore: error: %s\n", e.what());
    return 1;
  }
}

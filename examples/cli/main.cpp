// vrestore command-line tool.
//   vrestore run     --weights W --input IN --output OUT [--device cpu|cuda] [--threads N]
//   vrestore restore --weights W --input IN --output OUT [--device cpu|cuda] [--threads N]
//                    [--chunk-frames K] [--lookahead-frames L] [--independent-chunks 0|1]
//   vrestore info    W
//   vrestore diff    A.safetensors:TENSOR[i] B.safetensors:TENSOR[j]
// Tensors are exchanged as safetensors files; errors are one line on stderr and exit code 1
// (2 for usage errors).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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
    "                   [--device cpu|cuda] [--threads N]\n"
    "      applies the network's forward once to tensor 'input', writes tensor 'output'\n"
    "  vrestore restore --weights W.safetensors --input IN.safetensors --output OUT.safetensors\n"
    "                   [--device cpu|cuda] [--threads N] [--chunk-frames K] [--lookahead-frames L]\n"
    "                   [--independent-chunks 0|1]\n"
    "      restores the clip in tensor 'input' ((T,3,H,W) or (1,T,3,H,W)), one output frame per input frame\n"
    "  vrestore info    W.safetensors\n"
    "      prints architecture, config and the tensor table\n"
    "  vrestore diff    A.safetensors:NAME[i] B.safetensors:NAME[j]\n"
    "      max-abs / mean-abs difference and PSNR of two tensors ([i] selects along dimension 0)\n";

std::map<std::string, std::string> parse_options(int argc, char** argv, int first) {
  std::map<std::string, std::string> opts;
  for (int i = first; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || i + 1 >= argc) throw UsageError("unexpected argument '" + key + "'");
    opts[key.substr(2)] = argv[++i];
  }
  return opts;
}

std::string required(const std::map<std::string, std::string>& opts, const std::string& key) {
  auto it = opts.find(key);
  if (it == opts.end()) throw UsageError("missing --" + key);
  return it->second;
}

int64_t parse_int(const std::string& key, const std::string& text) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) throw UsageError("--" + key + " expects an integer, got '" + text + "'");
  return v;
}

vrestore::Device parse_device(const std::map<std::string, std::string>& opts) {
  auto it = opts.find("device");
  if (it == opts.end() || it->second == "cpu") return vrestore::Device::CPU;
  if (it->second == "cuda") return vrestore::Device::CUDA;
  throw UsageError("--device must be cpu or cuda, got '" + it->second + "'");
}

void apply_threads(const std::map<std::string, std::string>& opts) {
  if (auto it = opts.find("threads"); it != opts.end()) vrestore::set_num_threads(static_cast<int>(parse_int("threads", it->second)));
}

Tensor read_tensor(const std::string& path, const std::string& name) {
  vrestore::SafeTensorsFile f = vrestore::SafeTensorsFile::open(path);
  const vrestore::TensorInfo* info = f.find(name);
  if (!info) throw vrestore::Error("input '" + path + "': no tensor named '" + name + "'");
  return f.load_f32(*info).clone();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int cmd_run(const std::map<std::string, std::string>& opts) {
  apply_threads(opts);
  vrestore::Model model = vrestore::Model::load(required(opts, "weights"), parse_device(opts));
  Tensor input = read_tensor(required(opts, "input"), "input");
  auto t0 = std::chrono::steady_clock::now();
  Tensor output = model.forward(input);
  std::fprintf(stderr, "%s: forward %s -> %s in %.3f s\n", model.info().arch.c_str(), input.shape_str().c_str(),
               output.shape_str().c_str(), seconds_since(t0));
  vrestore::save_safetensors(required(opts, "output"), {{"output", output}});
  return 0;
}

int cmd_restore(const std::map<std::string, std::string>& opts) {
  apply_threads(opts);
  vrestore::Model model = vrestore::Model::load(required(opts, "weights"), parse_device(opts));
  Tensor clip = read_tensor(required(opts, "input"), "input");
  if (clip.dim() == 5 && clip.size(0) == 1) clip = clip.select0(0);
  auto t0 = std::chrono::steady_clock::now();
  vrestore::RestoreOptions options;
  if (auto it = opts.find("chunk-frames"); it != opts.end()) options.chunk_frames = parse_int("chunk-frames", it->second);
  if (auto it = opts.find("lookahead-frames"); it != opts.end()) options.lookahead_frames = parse_int("lookahead-frames", it->second);
  if (auto it = opts.find("independent-chunks"); it != opts.end()) options.independent_chunks = parse_int("independent-chunks", it->second) != 0;
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
    for (int64_t d : t.shape) n *= d;
    params += n;
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
  long index = -1;
  if (size_t b = name.find('['); b != std::string::npos && name.back() == ']') {
    index = parse_int("diff index", name.substr(b + 1, name.size() - b - 2));
    name = name.substr(0, b);
  }
  Tensor t = read_tensor(ref.substr(0, colon), name);
  return index >= 0 ? t.select0(index) : t;
}

int cmd_diff(const std::string& a_ref, const std::string& b_ref) {
  Tensor a = read_tensor_ref(a_ref), b = read_tensor_ref(b_ref);
  if (a.shape() != b.shape())
    throw vrestore::Error("diff: shapes " + a.shape_str() + " and " + b.shape_str() + " differ");
  double max_abs = 0, sum_abs = 0, sum_sq = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    double d = std::fabs(static_cast<double>(a.data()[i]) - b.data()[i]);
    max_abs = std::max(max_abs, d);
    sum_abs += d;
    sum_sq += d * d;
  }
  double mse = sum_sq / static_cast<double>(a.numel());
  std::printf("shape %s  max_abs %.3e  mean_abs %.3e  psnr %.2f dB\n", a.shape_str().c_str(), max_abs,
              sum_abs / static_cast<double>(a.numel()), mse > 0 ? 10 * std::log10(1.0 / mse) : INFINITY);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) throw UsageError("missing command");
    std::string cmd = argv[1];
    if (cmd == "run") return cmd_run(parse_options(argc, argv, 2));
    if (cmd == "restore") return cmd_restore(parse_options(argc, argv, 2));
    if (cmd == "info" && argc == 3) return cmd_info(argv[2]);
    if (cmd == "diff" && argc == 4) return cmd_diff(argv[2], argv[3]);
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

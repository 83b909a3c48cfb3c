// The safetensors commands: run, restore of a tensor clip, info, diff.
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/progress.h"
#include "cli/run_stats.h"
#include "core/check.h"
#include "core/checked_math.h"
#include "weights/safetensors.h"

namespace vrestore::cli {
namespace {

// Refuses an output that is one of the inputs (also through a symlink or a hard link): writing it
// would destroy an input, for the weights file while the model may still be reading it.
void check_output_is_not_an_input(const std::string& output, const std::string& weights, const std::string& input) {
  struct stat out {};
  if (::stat(output.c_str(), &out) != 0) return;  // does not exist yet: cannot be an input
  for (const auto& [what, path] : {std::pair{"weights", weights}, std::pair{"input", input}}) {
    struct stat in {};
    if (::stat(path.c_str(), &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino)
      throw Error("--output '" + output + "' is the --" + what + " file '" + path +
                  "'; an output may never be one of the inputs");
  }
}

Tensor read_tensor(const std::string& path, const std::string& name) {
  SafeTensorsFile f = SafeTensorsFile::open(path);
  const TensorInfo* info = f.find(name);
  if (!info) throw Error("input '" + path + "': no tensor named '" + name + "'");
  return f.load_f32(*info);  // a copy: valid after the file is closed
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int cmd_run(const Options& opts) {
  apply_process_settings(opts);
  const std::string weights = opts.required("weights"), input = opts.required("input"), output = opts.required("output");
  const ModelOptions model_options = parse_model_options(opts);
  check_output_is_not_an_input(output, weights, input);
  Model model = Model::load(weights, model_options);
  Tensor x = read_tensor(input, "input");
  auto t0 = std::chrono::steady_clock::now();
  ForwardOptions forward_options;
  forward_options.allow_non_finite_input = opts.has("allow-non-finite");
  Tensor y = model.forward(x, forward_options);
  const double wall = seconds_since(t0);
  std::fprintf(stderr, "%s: forward %s -> %s on %s in %.3f s\n", model.info().arch.c_str(), x.shape_str().c_str(),
               y.shape_str().c_str(), describe(model_options).c_str(), wall);
  {
    // Ctrl-C during the save waits for it (a complete file, never a stray temporary one).
    install_interrupt_handler();
    const DeferSecondInterrupt complete_the_file;
    save_safetensors(output, {{"output", y}});
  }
  // Output frames: every (3, H, W) image of the output, e.g. N for EDVR, N * T for BasicVSR.
  const int64_t image = y.dim() >= 3 ? y.size(y.dim() - 1) * y.size(y.dim() - 2) * y.size(y.dim() - 3) : 0;
  if (opts.has("stats")) print_stats(image > 0 ? y.numel() / image : 0, wall, model);
  return 0;
}

int cmd_restore(const Options& opts) {
  apply_process_settings(opts);
  // Usage mistakes first, before the default model is looked up.
  const bool tensor_in = ends_with_nocase(opts.required("input"), ".safetensors");
  const bool tensor_out = ends_with_nocase(opts.required("output"), ".safetensors");
  if (tensor_in != tensor_out)
    throw UsageError(tensor_in ? "a .safetensors --input is restored into a .safetensors --output, got '" +
                                     opts.required("output") + "'"
                               : "a video or PNG-folder --input is restored into a video or PNG folder, not '" +
                                     opts.required("output") + "'");
  if (tensor_in)
    for (const char* media_only : {"crf", "codec"})
      if (opts.has(media_only))
        throw UsageError(std::string("--") + media_only + " applies to video outputs, not to a .safetensors output");
  if (tensor_in && opts.has("noise-level"))
    throw UsageError("--noise-level applies to video and PNG inputs: a .safetensors input carries the noise-level "
                     "channel itself");
  const RestoreRequest request = parse_restore_request(opts);
  install_interrupt_handler();
  return tensor_in ? restore_tensor(request, opts) : restore_media(request, opts);
}

int restore_tensor(const RestoreRequest& r, const Options&) {
  check_output_is_not_an_input(r.output, r.weights, r.input);
  Model model = load_model_for(r);
  Tensor clip = read_tensor(r.input, "input");
  if (clip.dim() == 5 && clip.size(0) == 1) clip = clip.select0(0);
  const int64_t total = clip.dim() >= 1 ? clip.size(0) : 0;
  ProgressBar bar("restore", total, r.quiet);
  RestoreOptions options = r.options;
  options.progress = [&](int64_t done, int64_t) {
    bar.update(done);
    return !interrupted();
  };
  Tensor output;
  try {
    output = model.restore(clip, options);
  } catch (const Error&) {
    bar.finish();
    if (!interrupted()) throw;
    std::fprintf(stderr, "vrestore: interrupted; nothing was written to '%s'\n", r.output.c_str());
    return kInterruptedExitCode;
  }
  bar.finish();
  {
    const DeferSecondInterrupt complete_the_file;  // its temporary file is never left behind
    save_safetensors(r.output, {{"output", output}});
  }
  if (r.stats) print_stats(total, bar.elapsed_seconds(), model);
  return 0;
}

int cmd_info(const std::string& path) {
  SafeTensorsFile f = SafeTensorsFile::open(path);
  for (const auto& [key, value] : f.metadata()) std::printf("%s: %s\n", key.c_str(), value.c_str());
  int64_t params = 0;
  std::printf("%zu tensors:\n", f.tensors().size());
  for (const TensorInfo& t : f.tensors()) {
    int64_t n = 1;
    for (int64_t d : t.shape) n = checked_mul(n, d, "info: value count");
    params = checked_add(params, n, "info: value count");
    std::printf("  %-60s %-4s %s\n", t.name.c_str(), dtype_name(t.dtype), shape_to_string(t.shape).c_str());
  }
  std::printf("%lld values\n", static_cast<long long>(params));
  // Loading validates the file against the architecture (every tensor present, shaped and used).
  Model model = Model::load(path);
  std::printf("loads as %s, scale %d\n", model.info().arch.c_str(), model.info().scale);
  return 0;
}

namespace {

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
    throw Error("diff: index [" + std::to_string(index) + "] out of range for tensor '" + name + "' of shape " +
                t.shape_str() +
                (t.dim() < 2 ? " (needs at least 2 dimensions)"
                             : " (expected 0 to " + std::to_string(t.size(0) - 1) + ")"));
  return t.select0(index);
}

}  // namespace

// Prints the difference of two tensors. NaN and Inf are differences, never agreement: any
// non-finite value on either side makes max_abs/mean_abs/psnr nan (inf when no NaN is involved)
// and the exit code 1, with the count of non-finite values of each side.
int cmd_diff(const std::string& a_ref, const std::string& b_ref) {
  Tensor a = read_tensor_ref(a_ref), b = read_tensor_ref(b_ref);
  if (a.shape() != b.shape()) throw Error("diff: shapes " + a.shape_str() + " and " + b.shape_str() + " differ");
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
    throw Error("diff: non-finite values (NaN or Inf): " + std::to_string(non_finite_a) + " in " + a_ref + ", " +
                std::to_string(non_finite_b) + " in " + b_ref);
  return 0;
}

}  // namespace vrestore::cli

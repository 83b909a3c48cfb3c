// The public C++ API: Model wraps a loaded Network; free functions for threads and devices.
// Every entry point is a boundary: it applies the library's thread setting, checks what the caller
// passes in (options, non-finite pixels) and turns any exception that is not a vrestore::Error
// into one, so that no foreign exception reaches the caller. Exceptions thrown by the caller's
// own callbacks (FrameSource::frame, FrameSink, progress) pass through unchanged.
#include <omp.h>

#include <atomic>
#include <exception>
#include <new>
#include <optional>
#include <utility>

#include <cmath>

#include "core/check.h"
#include "core/execution.h"
#include "core/finite.h"
#include "core/host_pool.h"
#include "core/ops.h"
#include "cuda/context.h"
#include "cuda/device.h"
#include "models/network.h"
#include "vrestore/vrestore.h"

namespace vrestore {
namespace {

std::atomic<int> g_num_threads{0};  // 0: OpenMP's default

// Applies set_num_threads() for the duration of one API call, in the thread that makes the call.
// OpenMP's thread count (nthreads-var) belongs to each thread, so omp_set_num_threads() in one
// thread does nothing for a restore running in another. Setting it here, at every entry that
// computes, covers every parallel region of the backend (present and future) without each kernel
// having to remember a num_threads() clause, and the caller's own OpenMP setting is restored on
// return. Calls from several threads at once each set only their own thread's value.
class ThreadCountScope {
 public:
  // `requested` (RestoreOptions::num_threads, checked by the caller) wins over the process setting.
  explicit ThreadCountScope(int requested = 0) {
    const int n = requested > 0 ? requested : g_num_threads.load(std::memory_order_relaxed);
    if (n > 0) {
      previous_ = omp_get_max_threads();
      omp_set_num_threads(n);
    }
  }
  ~ThreadCountScope() {
    if (previous_ > 0) omp_set_num_threads(previous_);
  }
  ThreadCountScope(const ThreadCountScope&) = delete;
  ThreadCountScope& operator=(const ThreadCountScope&) = delete;

 private:
  int previous_ = 0;
};

// Carries an exception thrown by a caller's callback through the library to the API boundary,
// where it is rethrown as it was (it is the caller's, not a library failure to translate).
struct CallbackException {
  std::exception_ptr error;
};

template <typename Fn>
decltype(auto) call_user(Fn&& fn) {
  try {
    return fn();
  } catch (...) {
    throw CallbackException{std::current_exception()};
  }
}

// Runs one API call: thread setting applied, foreign exceptions turned into vrestore::Error
// prefixed with `where`.
template <typename Fn>
decltype(auto) api_call(const std::string& where, Fn&& fn, int num_threads = 0) {
  ThreadCountScope threads(num_threads);
  try {
    return fn();
  } catch (const Error&) {
    throw;
  } catch (const CallbackException& e) {
    std::rethrow_exception(e.error);
  } catch (const std::bad_alloc&) {
    throw Error(concat(where, ": out of memory"), ErrorCode::OutOfMemory);
  } catch (const std::exception& e) {
    fail(where, ": ", e.what());
  } catch (...) {
    fail(where, ": unknown internal error");
  }
}

// " holds 2 non-finite values (first: nan at channel 1, row 0, column 3)" for a (C, H, W) frame.
std::string describe_non_finite(const NonFiniteValues& nf, const Shape& frame_shape) {
  const int64_t h = frame_shape[1], w = frame_shape[2];
  const int64_t c = nf.first / (h * w), y = nf.first / w % h, x = nf.first % w;
  return concat(" holds ", nf.count, " non-finite value", nf.count == 1 ? "" : "s", " (first: ",
                non_finite_name(nf.first_value), " at channel ", c, ", row ", y, ", column ", x, ")");
}

// Whether every element is finite, wherever t lives (on a device without copying it: the sum of
// |x| in double is finite exactly when every element is).
bool finite(const Tensor& t) {
  if (t.device() == Device::CPU && t.dtype() == DType::F32) return all_finite(t.data(), t.numel());
  return std::isfinite(ops::sum_abs(t));
}

// t as host f32, to locate its non-finite values for a message (only on the error path).
Tensor host_f32(const Tensor& t) { return t.to(Device::CPU, DType::F32); }

// Checks a (C, H, W) input frame of a restoration.
void check_input_frame(const Tensor& frame, int64_t index) {
  if (frame.dim() != 3 || finite(frame)) return;  // shapes are checked later
  const Tensor h = host_f32(frame);
  fail("restore: input frame ", index, describe_non_finite(find_non_finite(h.data(), h.numel()), h.shape()),
       "; pass RestoreOptions::allow_non_finite_input to restore it anyway");
}

void check_output_frame(const Tensor& frame, int64_t index) {
  if (finite(frame)) return;
  const Tensor h = host_f32(frame);
  fail("restore: output frame ", index, describe_non_finite(find_non_finite(h.data(), h.numel()), h.shape()),
       " although every input frame is finite (the weights may be damaged)");
}

// The frame of a forward input (..., C, H, W) that holds element `flat`, as "[n, t]".
std::string frame_label(const Shape& shape, int64_t flat) {
  const size_t lead = shape.size() - 3;
  int64_t frame = flat / (shape[lead] * shape[lead + 1] * shape[lead + 2]);
  std::vector<int64_t> index(lead);
  for (size_t d = lead; d-- > 0;) {
    index[d] = frame % shape[d];
    frame /= shape[d];
  }
  std::string out = "[";
  for (size_t d = 0; d < lead; ++d) out += concat(d ? ", " : "", index[d]);
  return out + "]";
}

void check_forward_tensor(const Tensor& tensor, const char* what, const char* advice) {
  if (finite(tensor)) return;
  const Tensor t = host_f32(tensor);
  const NonFiniteValues nf = find_non_finite(t.data(), t.numel());
  if (t.dim() < 4) {
    fail("forward: ", what, " of shape ", t.shape_str(), " holds ", nf.count, " non-finite value(s) (first: ",
         non_finite_name(nf.first_value), " at element ", nf.first, ")", advice);
  }
  const Shape& s = t.shape();
  const Shape frame_shape(s.end() - 3, s.end());
  const int64_t frame_size = frame_shape[0] * frame_shape[1] * frame_shape[2];
  NonFiniteValues in_frame = nf;
  in_frame.first = nf.first % frame_size;
  fail("forward: ", what, " frame ", frame_label(s, nf.first), " of ", t.shape_str(),
       describe_non_finite(in_frame, frame_shape), advice);
}


// Where a model's inputs may live: the host (f32), or the model's own CUDA device (f32 or f16).
// `frame` >= 0 names a restoration's input frame in the message, else it is forward's input.
void check_input_placement(int64_t frame, const Tensor& t, const ModelOptions& model) {
  const bool host = t.device() == Device::CPU && t.dtype() == DType::F32;
  const bool own_device = t.device() == Device::CUDA && model.device == Device::CUDA;
  if (host || own_device) return;
  fail(frame >= 0 ? concat("restore: frame ", frame) : std::string("forward"), ": input is ", t.describe(),
       "; a model loaded on ", device_name(model.device), " takes f32 tensors on the cpu",
       model.device == Device::CUDA ? " or f32/f16 tensors on its cuda device" : "");
}

void check_options(const ModelOptions& o) {
  VR_CHECK(o.device == Device::CPU || o.device == Device::CUDA, "Model::load: device ", static_cast<int>(o.device),
           " is neither Device::CPU nor Device::CUDA");
  VR_CHECK(o.precision == DType::F32 || o.precision == DType::F16, "Model::load: precision ",
           static_cast<int>(o.precision), " is neither DType::F32 nor DType::F16");
  if (o.device == Device::CUDA) {
    VR_CHECK(o.device_index >= 0, "Model::load: device_index is ", o.device_index, ", expected >= 0");
    return;
  }
  if (o.precision == DType::F16)
    throw Error("Model::load: precision f16 runs on cuda only; the cpu computes in f32", ErrorCode::Unsupported);
  VR_CHECK(o.device_index == 0, "Model::load: device_index is ", o.device_index, ", expected 0 on the cpu");
  VR_CHECK(o.stream == nullptr, "Model::load: a CUDA stream was given for a model on the cpu");
}

// Installs a model's resources for the ops of one API call: a CUDA model's device, stream and
// memory pool; a CPU model's host buffer pool (host_pool may be null: then nothing on the CPU).
class CallScope {
 public:
  CallScope(const std::shared_ptr<cuda::Context>& context, const std::shared_ptr<HostPool>& host_pool) {
    if (context)
      device_.emplace(context->enter());
    else if (host_pool)
      host_.emplace(host_pool);
  }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

 private:
  std::optional<ExecutionScope> device_;
  std::optional<HostPoolCall> host_;
};

}  // namespace

struct Model::Impl {
  std::unique_ptr<Network> network;
  ModelInfo info;
  ModelOptions options;
  std::shared_ptr<cuda::Context> context;  // CUDA models only
  // Where the host tensors of a CPU model's calls come from (core/host_pool.h); unused on CUDA.
  std::shared_ptr<HostPool> host_pool = HostPool::create();
  size_t weights_bytes = 0;
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::string& path, Device device) {
  ModelOptions options;
  options.device = device;
  return load(path, options);
}

Model Model::load(const std::string& path, const ModelOptions& options) {
  check_options(options);
  // A bad VRESTORE_FLOAT32_MATMUL_PRECISION fails here, naming the variable, rather than in the
  // first convolution (or never, on a CPU whose kernels do not read it).
  api_call("Model::load", [] { return float32_matmul_precision(); });
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  // The device first: without one, the error names it (not the file).
  if (options.device == Device::CUDA)
    impl->context = api_call("Model::load", [&] { return cuda::Context::create(options.device_index, options.stream); });
  return api_call(concat("weights '", path, "'"), [&] {
    // The file is read into memory and closed again when `weights` goes out of scope: the model
    // keeps no reference to it (see the note on Model::load in vrestore.h). On CUDA every weight is
    // uploaded once here, in the model's precision, into its memory pool.
    const CallScope scope(impl->context, impl->host_pool);
    Weights weights = Weights::open(path);
    weights.place(options.device, options.precision);
    impl->network = load_network(weights);
    impl->info = impl->network->info();
    if (impl->context) {
      impl->context->synchronize();
      impl->weights_bytes = impl->context->current_bytes();
    }
    return Model(std::move(impl));
  });
}

const ModelInfo& Model::info() const {
  VR_CHECK(impl_, "Model: used after it was moved from");
  return impl_->info;
}

const ModelOptions& Model::options() const {
  VR_CHECK(impl_, "Model: used after it was moved from");
  return impl_->options;
}

DeviceMemoryStats Model::device_memory() const {
  VR_CHECK(impl_, "Model: used after it was moved from");
  DeviceMemoryStats s;
  if (!impl_->context) return s;
  s.weights_bytes = impl_->weights_bytes;
  s.current_bytes = impl_->context->current_bytes();
  s.peak_bytes = impl_->context->peak_bytes();
  return s;
}

HostMemoryStats Model::host_memory() const {
  VR_CHECK(impl_, "Model: used after it was moved from");
  HostMemoryStats s;
  if (impl_->context) return s;
  const HostPoolStats p = impl_->host_pool->stats();
  s.current_bytes = p.current_bytes;
  s.pool_bytes = p.kept_bytes;
  s.peak_bytes = p.peak_bytes;
  s.peak_reserved_bytes = p.peak_reserved_bytes;
  return s;
}

void Model::synchronize() const {
  VR_CHECK(impl_, "Model: used after it was moved from");
  if (impl_->context) api_call("synchronize", [&] { impl_->context->synchronize(); });
}

void Model::reset_peak_device_memory() const {
  VR_CHECK(impl_, "Model: used after it was moved from");
  if (impl_->context) impl_->context->reset_peak();
}

Tensor Model::forward(const Tensor& input) const { return forward(input, ForwardOptions{}); }

Tensor Model::forward(const Tensor& input, const ForwardOptions& options) const {
  return api_call("forward", [&] {
    VR_CHECK(impl_, "Model: used after it was moved from");
    VR_CHECK(input.defined(), "forward: input tensor is empty");
    check_input_placement(-1, input, impl_->options);
    const CallScope scope(impl_->context, impl_->host_pool);
    if (!options.allow_non_finite_input)
      check_forward_tensor(input, "input", "; pass ForwardOptions::allow_non_finite_input to run it anyway");
    // The networks take f32 images on their device (and cast to their precision inside); the output
    // goes back to where the input came from, in its dtype.
    Tensor output = impl_->network->forward(input.to(impl_->options.device, DType::F32))
                        .to(input.device(), input.dtype());
    if (!options.allow_non_finite_input)
      check_forward_tensor(output, "output", " although the input is finite (the weights may be damaged)");
    return output;
  });
}

FrameSource FrameSource::from_tensor(const Tensor& clip) {
  VR_CHECK(clip.defined() && clip.dim() == 4 && clip.size(0) > 0, "restore: clip has shape ", clip.shape_str(),
           ", expected (T, C, H, W) with T > 0");
  return {clip.size(0), [clip](int64_t i) { return clip.select0(i); }};
}

void Model::restore(const FrameSource& source, const FrameSink& sink, const RestoreOptions& options) const {
  VR_CHECK(options.num_threads >= 0 && options.num_threads <= kMaxThreads, "restore: RestoreOptions::num_threads is ",
           options.num_threads, ", expected 0 (the process setting) to ", kMaxThreads);
  api_call("restore", [&] {
    VR_CHECK(impl_, "Model: used after it was moved from");
    const bool unknown_length = source.num_frames == FrameSource::kUnknownLength;
    VR_CHECK(unknown_length || (source.num_frames > 0 && source.frame), "restore: the frame source is empty (",
             source.num_frames, " frames)");
    VR_CHECK(!unknown_length || (source.frame && source.count_up_to), "restore: a frame source of unknown length ",
             "needs both frame and count_up_to");
    VR_CHECK(static_cast<bool>(sink), "restore: no frame sink given");
    VR_CHECK(options.chunk_frames > 0, "restore: RestoreOptions::chunk_frames is ", options.chunk_frames,
             ", expected >= 1");
    VR_CHECK(options.lookahead_frames >= 0, "restore: RestoreOptions::lookahead_frames is ", options.lookahead_frames,
             ", expected >= 0");
    const bool check = !options.allow_non_finite_input;
    const CallScope scope(impl_->context, impl_->host_pool);
    // Output frames go where the source's frames come from, in their dtype (the first frame's).
    std::optional<std::pair<Device, DType>> source_placement;
    FrameSource checked_source{source.num_frames, [&](int64_t i) {
                                 Tensor frame = call_user([&] { return source.frame(i); });
                                 VR_CHECK(frame.defined(), "restore: frame ", i, " from the source is empty");
                                 check_input_placement(i, frame, impl_->options);
                                 if (!source_placement) source_placement.emplace(frame.device(), frame.dtype());
                                 if (check) check_input_frame(frame, i);
                                 return frame.to(impl_->options.device, DType::F32);
                               }};
    if (unknown_length)
      checked_source.count_up_to = [&](int64_t n) { return call_user([&] { return source.count_up_to(n); }); };
    const FrameSink checked_sink = [&](int64_t i, const Tensor& restored) {
      const Tensor frame = restored.to(source_placement->first, source_placement->second);
      if (check) check_output_frame(frame, i);
      call_user([&] { sink(i, frame); });
    };
    RestoreOptions checked_options = options;
    if (options.progress)
      checked_options.progress = [&](int64_t done, int64_t total) {
        if (!call_user([&] { return options.progress(done, total); }))
          throw Error("restore: cancelled", ErrorCode::Cancelled);
        return true;
      };
    impl_->network->restore(checked_source, checked_sink, checked_options);
  }, options.num_threads);
}

void Model::restore(const Tensor& clip, const FrameSink& sink, const RestoreOptions& options) const {
  restore(FrameSource::from_tensor(clip), sink, options);
}

Tensor Model::restore(const Tensor& clip, const RestoreOptions& options) const {
  Tensor out;
  restore(
      clip,
      [&](int64_t index, const Tensor& frame) {
        if (!out.defined())
          out = Tensor::empty({clip.size(0), frame.size(0), frame.size(1), frame.size(2)}, frame.dtype(), frame.device());
        ops::copy_rows0_(out, {index}, frame.reshape({1, frame.size(0), frame.size(1), frame.size(2)}));
      },
      options);
  return out;
}

void set_num_threads(int n) {
  VR_CHECK(n >= 0 && n <= kMaxThreads, "set_num_threads: n is ", n, ", expected 0 (OpenMP's default) to ",
           kMaxThreads);
  g_num_threads.store(n, std::memory_order_relaxed);
}

int num_threads() { return g_num_threads.load(std::memory_order_relaxed); }

bool cuda_available(std::string* reason) {
  cuda::DeviceStatus s = cuda::query_device();
  if (reason) *reason = s.reason;
  return s.available;
}

}  // namespace vrestore

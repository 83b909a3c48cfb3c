// The public C++ API: Model wraps a loaded Network; free functions for threads and devices.
// Every entry point is a boundary: it applies the library's thread setting, checks what the caller
// passes in (options, non-finite pixels) and turns any exception that is not a vrestore::Error
// into one, so that no foreign exception reaches the caller. Exceptions thrown by the caller's
// own callbacks (FrameSource::frame, FrameSink, progress) pass through unchanged.
#include <omp.h>

#include <atomic>
#include <exception>
#include <new>

#include "core/check.h"
#include "core/finite.h"
#include "core/ops.h"
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

// Checks a (C, H, W) input frame of a restoration.
void check_input_frame(const Tensor& frame, int64_t index) {
  if (frame.dim() != 3 || all_finite(frame.data(), frame.numel())) return;  // shapes are checked later
  fail("restore: input frame ", index, describe_non_finite(find_non_finite(frame.data(), frame.numel()), frame.shape()),
       "; pass RestoreOptions::allow_non_finite_input to restore it anyway");
}

void check_output_frame(const Tensor& frame, int64_t index) {
  if (all_finite(frame.data(), frame.numel())) return;
  fail("restore: output frame ", index, describe_non_finite(find_non_finite(frame.data(), frame.numel()), frame.shape()),
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

void check_forward_tensor(const Tensor& t, const char* what, const char* advice) {
  if (all_finite(t.data(), t.numel())) return;
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

}  // namespace

struct Model::Impl {
  std::unique_ptr<Network> network;
  ModelInfo info;
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::string& path, Device device) {
  return api_call(concat("weights '", path, "'"), [&] {
    VR_CHECK(device == Device::CPU || device == Device::CUDA, "Model::load: device ", static_cast<int>(device),
             " is neither Device::CPU nor Device::CUDA");
    if (device == Device::CUDA) {
      std::string reason;
      if (!cuda_available(&reason)) throw Error(concat("device cuda: ", reason), ErrorCode::Unsupported);
      // A device exists, but no network runs on it yet.
      throw Error("device cuda: the CUDA backend does not run models in this version; use the CPU",
                  ErrorCode::Unsupported);
    }
    // The file is read into memory and closed again when `weights` goes out of scope: the model
    // keeps no reference to it (see the note on Model::load in vrestore.h).
    Weights weights = Weights::open(path);
    auto impl = std::make_unique<Impl>();
    impl->network = load_network(weights);
    impl->info = impl->network->info();
    return Model(std::move(impl));
  });
}

const ModelInfo& Model::info() const {
  VR_CHECK(impl_, "Model: used after it was moved from");
  return impl_->info;
}

Tensor Model::forward(const Tensor& input) const { return forward(input, ForwardOptions{}); }

Tensor Model::forward(const Tensor& input, const ForwardOptions& options) const {
  return api_call("forward", [&] {
    VR_CHECK(impl_, "Model: used after it was moved from");
    VR_CHECK(input.defined(), "forward: input tensor is empty");
    if (!options.allow_non_finite_input)
      check_forward_tensor(input, "input", "; pass ForwardOptions::allow_non_finite_input to run it anyway");
    Tensor output = impl_->network->forward(input);
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
    FrameSource checked_source{source.num_frames, [&](int64_t i) {
                                 Tensor frame = call_user([&] { return source.frame(i); });
                                 if (check) check_input_frame(frame, i);
                                 return frame;
                               }};
    if (unknown_length)
      checked_source.count_up_to = [&](int64_t n) { return call_user([&] { return source.count_up_to(n); }); };
    const FrameSink checked_sink = [&](int64_t i, const Tensor& frame) {
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
        if (!out.defined()) out = Tensor::empty({clip.size(0), frame.size(0), frame.size(1), frame.size(2)});
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

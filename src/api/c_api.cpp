// The C API: a thin exception barrier over the C++ API (Model, Stream), plus the conversions
// between the caller's pixel formats and the library's (3, H, W) float frames.
#include "vrestore/vrestore_c.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <new>
#include <string>

#include "core/check.h"
#include "core/checked_math.h"
#include "core/ops.h"
#include "vrestore/stream.h"
#include "vrestore/vrestore.h"

struct vrestore_model {
  vrestore::Model model;
  int num_threads = 0;  // vrestore_load_options::num_threads, applied to every restoration
};

namespace {

using vrestore::ErrorCode;

thread_local std::string last_error;

vrestore_status status_of(const vrestore::Error& e) {
  switch (e.code()) {
    case ErrorCode::Cancelled: return VRESTORE_ERROR_CANCELLED;
    case ErrorCode::OutOfMemory: return VRESTORE_ERROR_OUT_OF_MEMORY;
    case ErrorCode::Unsupported: return VRESTORE_ERROR_UNSUPPORTED;
    case ErrorCode::Failed: break;
  }
  // Allocation failures inside the library (src/core/tensor.cpp, src/cpu scratch buffers) are not
  // tagged with ErrorCode::OutOfMemory yet; until they are, their message says so.
  if (std::strstr(e.what(), ": out of memory")) return VRESTORE_ERROR_OUT_OF_MEMORY;
  return VRESTORE_ERROR;
}

// Runs fn (returning a vrestore_status) with every exception turned into a status + message.
template <typename Fn>
vrestore_status guarded_status(Fn&& fn) {
  try {
    const vrestore_status status = fn();
    last_error.clear();
    return status;
  } catch (const vrestore::Error& e) {
    last_error = e.what();
    return status_of(e);
  } catch (const std::bad_alloc&) {
    last_error = "out of memory";
    return VRESTORE_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    last_error = e.what();
    return VRESTORE_ERROR;
  } catch (...) {
    last_error = "unknown error";
    return VRESTORE_ERROR;
  }
}

template <typename Fn>
vrestore_status guarded(Fn&& fn) {
  return guarded_status([&] {
    fn();
    return VRESTORE_OK;
  });
}

// A C caller may store any int in an enum field; in C++ such a value is outside the enum's range,
// so it is read as the integer it is.
template <typename Enum>
int enum_value(const Enum& e) {
  int value = 0;
  static_assert(sizeof(Enum) == sizeof(value), "C enums are int-sized");
  std::memcpy(&value, &e, sizeof value);
  return value;
}

// Copies a caller's options struct over the defaults, honouring its struct_size (see the header):
// a smaller struct (an older header: one of `older_sizes`) keeps the defaults of the fields it
// lacks; a larger one (a newer header) is accepted only if the fields this library does not know
// are all zero.
template <typename Options>
Options read_options(const Options* given, void (*init)(Options*), const char* name,
                     std::initializer_list<size_t> older_sizes = {}) {
  Options options;
  init(&options);
  if (!given) return options;
  const size_t size = given->struct_size;
  bool older = false;
  std::string versions;
  for (size_t s : older_sizes) {
    older = older || size == s;
    versions += vrestore::concat(s, " or ");
  }
  // A size far beyond the present one is not a newer struct but an uninitialised one (and must not
  // be read); so is a size between two versions.
  constexpr size_t kMaxGrowth = size_t{1} << 16;
  VR_CHECK(older || (size >= sizeof(Options) && size <= sizeof(Options) + kMaxGrowth), name, ".struct_size is ", size,
           ", expected ", versions, sizeof(Options), " (call ", name, "_init first)");
  const auto* bytes = reinterpret_cast<const unsigned char*>(given);
  for (size_t i = sizeof(Options); i < size; ++i)
    VR_CHECK(bytes[i] == 0, name, ".struct_size is ", size, " and the fields past byte ", sizeof(Options),
             " are set: they come from a newer vrestore_c.h than this library (", sizeof(Options), " bytes)");
  std::memcpy(&options, given, std::min(size, sizeof(Options)));
  options.struct_size = sizeof(Options);
  return options;
}

// Version 1 of vrestore_restore_options ended after `memory`: the tile fields and the memory
// budget came with version 2. Its size is part of the ABI and must never change.
constexpr size_t kRestoreOptionsV1Size = offsetof(vrestore_restore_options, tile_frames);
static_assert(sizeof(void*) != 8 || kRestoreOptionsV1Size == 80, "vrestore_restore_options version 1 is 80 bytes");

vrestore_restore_options read_restore_options(const vrestore_restore_options* given) {
  return read_options(given, vrestore_restore_options_init, "vrestore_restore_options", {kRestoreOptionsV1Size});
}

// ---- pixel formats ----------------------------------------------------------------------------

struct PixelFormat {
  bool u8 = false;
  bool interleaved = false;
  size_t sample_size() const { return u8 ? 1 : sizeof(float); }
};

float u8_to_float(uint8_t v) { return static_cast<float>(v) / 255.0f; }

uint8_t float_to_u8(float x) {
  if (!(x > 0.0f)) return 0;  // also NaN
  if (x >= 1.0f) return 255;
  return static_cast<uint8_t>(std::floor(x * 255.0f + 0.5f));
}

// The caller's frame of `channels` x h x w samples as a new (channels, h, w) tensor.
vrestore::Tensor to_tensor(const void* src, const PixelFormat& f, int64_t channels, int64_t h, int64_t w) {
  vrestore::Tensor t = vrestore::Tensor::empty({channels, h, w});
  float* dst = t.data();
  const int64_t plane = h * w;
  if (!f.u8 && !f.interleaved) {
    std::memcpy(dst, src, static_cast<size_t>(channels * plane) * sizeof(float));
  } else if (f.u8) {
    const auto* s = static_cast<const uint8_t*>(src);
    for (int64_t p = 0; p < plane; ++p)
      for (int64_t c = 0; c < channels; ++c)
        dst[c * plane + p] = u8_to_float(f.interleaved ? s[p * channels + c] : s[c * plane + p]);
  } else {
    const auto* s = static_cast<const float*>(src);
    for (int64_t p = 0; p < plane; ++p)
      for (int64_t c = 0; c < channels; ++c) dst[c * plane + p] = s[p * channels + c];
  }
  return t;
}

// Writes a (C, h, w) restored frame into the caller's buffer.
void from_tensor(const vrestore::Tensor& t, const PixelFormat& f, void* out) {
  const int64_t channels = t.size(0), plane = t.size(1) * t.size(2);
  const float* src = t.data();
  if (!f.u8 && !f.interleaved) {
    std::memcpy(out, src, static_cast<size_t>(t.numel()) * sizeof(float));
  } else if (f.u8) {
    auto* d = static_cast<uint8_t*>(out);
    for (int64_t p = 0; p < plane; ++p)
      for (int64_t c = 0; c < channels; ++c)
        (f.interleaved ? d[p * channels + c] : d[c * plane + p]) = float_to_u8(src[c * plane + p]);
  } else {
    auto* d = static_cast<float*>(out);
    for (int64_t p = 0; p < plane; ++p)
      for (int64_t c = 0; c < channels; ++c) d[p * channels + c] = src[c * plane + p];
  }
}

// The C++ options for a restoration by `model` with the caller's options (already read).
struct ResolvedOptions {
  PixelFormat format;
  bool on_device = false;  // VRESTORE_MEMORY_DEVICE
  vrestore::StreamOptions stream;  // .restore: the RestoreOptions
};

ResolvedOptions resolve(const vrestore_model& model, const vrestore_restore_options& o, const char* where) {
  const int pixel_type = enum_value(o.pixel_type), layout = enum_value(o.layout);
  VR_CHECK(pixel_type == VRESTORE_PIXEL_F32 || pixel_type == VRESTORE_PIXEL_U8, where, ": pixel_type ", pixel_type,
           " is neither VRESTORE_PIXEL_F32 (0) nor VRESTORE_PIXEL_U8 (1)");
  VR_CHECK(layout == VRESTORE_LAYOUT_PLANAR || layout == VRESTORE_LAYOUT_INTERLEAVED, where, ": layout ", layout,
           " is neither VRESTORE_LAYOUT_PLANAR (0) nor VRESTORE_LAYOUT_INTERLEAVED (1)");
  const int memory = enum_value(o.memory);
  VR_CHECK(memory == VRESTORE_MEMORY_HOST || memory == VRESTORE_MEMORY_DEVICE, where, ": memory ", memory,
           " is neither VRESTORE_MEMORY_HOST (0) nor VRESTORE_MEMORY_DEVICE (1)");
  ResolvedOptions r;
  r.format = {pixel_type == VRESTORE_PIXEL_U8, layout == VRESTORE_LAYOUT_INTERLEAVED};
  r.on_device = memory == VRESTORE_MEMORY_DEVICE;
  if (r.on_device) {
    VR_CHECK(model.model.options().device == vrestore::Device::CUDA, where,
             ": memory is VRESTORE_MEMORY_DEVICE but the model runs on the CPU");
    VR_CHECK(!r.format.u8 && !r.format.interleaved, where,
             ": device buffers must be VRESTORE_PIXEL_F32 and VRESTORE_LAYOUT_PLANAR");
  }
  vrestore::RestoreOptions& ro = r.stream.restore;
  ro.chunk_frames = o.chunk_frames;
  ro.lookahead_frames = o.lookahead_frames;
  ro.independent_chunks = o.independent_chunks != 0;
  ro.allow_non_finite_input = o.allow_non_finite_input != 0;
  ro.tile.frames = o.tile_frames;
  ro.tile.height = o.tile_height;
  ro.tile.width = o.tile_width;
  ro.tile.overlap_frames = o.tile_overlap_frames;
  ro.tile.overlap_height = o.tile_overlap_height;
  ro.tile.overlap_width = o.tile_overlap_width;
  VR_CHECK(o.memory_budget_bytes <= std::numeric_limits<size_t>::max(), where, ": memory_budget_bytes ",
           o.memory_budget_bytes, " is more than this machine can address");
  ro.memory_budget_bytes = static_cast<size_t>(o.memory_budget_bytes);
  ro.num_threads = model.num_threads;
  if (o.progress) {
    const vrestore_progress_fn progress = o.progress;
    void* user = o.progress_user;
    ro.progress = [progress, user](int64_t done, int64_t total) { return progress(done, total, user) != 0; };
  }
  r.stream.input_queue_frames = o.input_queue_frames;
  r.stream.output_queue_frames = o.output_queue_frames;
  return r;
}

// Checks that num_frames frames of both the input and the scaled output are addressable in bytes.
void check_clip_size(const char* where, int64_t num_frames, int64_t channels, int64_t height, int64_t width,
                     int64_t scale, size_t sample_size) {
  VR_CHECK(num_frames > 0 && height > 0 && width > 0, where, ": num_frames ", num_frames, ", height ", height,
           ", width ", width, " must all be >= 1");
  const std::string what = vrestore::concat(where, ": output of num_frames * ", channels,
                                            " * height*scale * width*scale samples");
  const char* w = what.c_str();
  using vrestore::checked_mul;
  checked_mul(checked_mul(checked_mul(checked_mul(num_frames, channels, w), checked_mul(height, scale, w), w),
                          checked_mul(width, scale, w), w),
              static_cast<int64_t>(sample_size), w);
}

void restore_clip(const char* where, const vrestore_model& model, const void* frames, int64_t num_frames,
                  int64_t height, int64_t width, void* out, const ResolvedOptions& r) {
  const vrestore::ModelInfo& info = model.model.info();
  const int64_t channels = info.in_channels, scale = info.scale;
  check_clip_size(where, num_frames, channels, height, width, scale, r.format.sample_size());
  const size_t in_frame_bytes = static_cast<size_t>(channels * height * width) * r.format.sample_size();
  const size_t out_frame_bytes = static_cast<size_t>(3 * height * scale * width * scale) * r.format.sample_size();
  const auto* in = static_cast<const unsigned char*>(frames);
  if (r.on_device) {
    // Both clips stay on the device: the model reads the input in place and each restored frame is
    // copied into its slot of `out` there.
    using vrestore::Device;
    using vrestore::DType;
    const vrestore::Tensor clip = vrestore::Tensor::wrap({num_frames, channels, height, width}, DType::F32,
                                                         Device::CUDA, const_cast<void*>(frames), nullptr);
    vrestore::Tensor output = vrestore::Tensor::wrap({num_frames, 3, height * scale, width * scale}, DType::F32,
                                                     Device::CUDA, out, nullptr);
    model.model.restore(
        clip,
        [&](int64_t i, const vrestore::Tensor& frame) {
          vrestore::ops::copy_rows0_(output, {i}, frame.reshape({1, frame.size(0), frame.size(1), frame.size(2)}));
        },
        r.stream.restore);
    model.model.synchronize();
    return;
  }
  vrestore::FrameSource source;
  if (!r.format.u8 && !r.format.interleaved) {
    // The library's own layout: read in place.
    source = vrestore::FrameSource::from_tensor(vrestore::Tensor::wrap(
        {num_frames, channels, height, width}, const_cast<float*>(static_cast<const float*>(frames)), nullptr));
  } else {
    source = {num_frames, [&](int64_t i) {
                return to_tensor(in + static_cast<size_t>(i) * in_frame_bytes, r.format, channels, height, width);
              }};
  }
  auto* dst = static_cast<unsigned char*>(out);
  model.model.restore(
      source,
      [&](int64_t i, const vrestore::Tensor& frame) {
        from_tensor(frame, r.format, dst + static_cast<size_t>(i) * out_frame_bytes);
      },
      r.stream.restore);
}

}  // namespace

struct vrestore_stream {
  vrestore_stream(const vrestore_model& m, int64_t h, int64_t w, const ResolvedOptions& r)
      : format(r.format), channels(m.model.info().in_channels), height(h), width(w),
        stream(m.model, h, w, r.stream) {}
  PixelFormat format;
  int64_t channels, height, width;
  vrestore::Stream stream;
};

extern "C" {

const char* vrestore_last_error(void) { return last_error.c_str(); }

void vrestore_load_options_init(vrestore_load_options* options) {
  if (!options) return;
  std::memset(options, 0, sizeof *options);
  options->struct_size = sizeof *options;
  options->device = VRESTORE_DEVICE_CPU;
  options->device_index = 0;
  options->precision = VRESTORE_PRECISION_F32;
  options->num_threads = 0;
  options->cuda_stream = nullptr;
}

void vrestore_restore_options_init(vrestore_restore_options* options) {
  if (!options) return;
  const vrestore::StreamOptions defaults;
  std::memset(options, 0, sizeof *options);
  options->struct_size = sizeof *options;
  options->pixel_type = VRESTORE_PIXEL_F32;
  options->layout = VRESTORE_LAYOUT_PLANAR;
  options->chunk_frames = defaults.restore.chunk_frames;
  options->lookahead_frames = defaults.restore.lookahead_frames;
  options->independent_chunks = defaults.restore.independent_chunks ? 1 : 0;
  options->allow_non_finite_input = defaults.restore.allow_non_finite_input ? 1 : 0;
  options->progress = nullptr;
  options->progress_user = nullptr;
  options->input_queue_frames = defaults.input_queue_frames;
  options->output_queue_frames = defaults.output_queue_frames;
  options->memory = VRESTORE_MEMORY_HOST;
  options->tile_frames = defaults.restore.tile.frames;
  options->tile_height = defaults.restore.tile.height;
  options->tile_width = defaults.restore.tile.width;
  options->tile_overlap_frames = defaults.restore.tile.overlap_frames;
  options->tile_overlap_height = defaults.restore.tile.overlap_height;
  options->tile_overlap_width = defaults.restore.tile.overlap_width;
  options->memory_budget_bytes = defaults.restore.memory_budget_bytes;
}

vrestore_status vrestore_model_load_with_options(const char* path, const vrestore_load_options* options,
                                                 vrestore_model** out) {
  return guarded([&] {
    if (!path || !out) throw vrestore::Error("vrestore_model_load: path and out must not be NULL");
    *out = nullptr;
    const vrestore_load_options o = read_options(options, vrestore_load_options_init, "vrestore_load_options");
    const int device = enum_value(o.device), precision = enum_value(o.precision);
    VR_CHECK(device == VRESTORE_DEVICE_CPU || device == VRESTORE_DEVICE_CUDA, "vrestore_model_load: device ", device,
             " is neither VRESTORE_DEVICE_CPU (0) nor VRESTORE_DEVICE_CUDA (1)");
    VR_CHECK(precision == VRESTORE_PRECISION_F32 || precision == VRESTORE_PRECISION_F16,
             "vrestore_model_load: precision ", precision,
             " is neither VRESTORE_PRECISION_F32 (0) nor VRESTORE_PRECISION_F16 (1)");
    VR_CHECK(o.device_index >= 0 && (device == VRESTORE_DEVICE_CUDA || o.device_index == 0),
             "vrestore_model_load: device_index ", o.device_index, ", expected ",
             device == VRESTORE_DEVICE_CPU ? "0 for the CPU" : ">= 0");
    VR_CHECK(o.num_threads >= 0 && o.num_threads <= vrestore::kMaxThreads, "vrestore_model_load: num_threads ",
             o.num_threads, ", expected 0 (the process default) to ", vrestore::kMaxThreads);
    VR_CHECK(device == VRESTORE_DEVICE_CUDA || o.cuda_stream == nullptr,
             "vrestore_model_load: cuda_stream is set for a model on the CPU");
    vrestore::ModelOptions mo;
    mo.device = device == VRESTORE_DEVICE_CUDA ? vrestore::Device::CUDA : vrestore::Device::CPU;
    mo.precision = precision == VRESTORE_PRECISION_F16 ? vrestore::DType::F16 : vrestore::DType::F32;
    mo.device_index = o.device_index;
    mo.stream = o.cuda_stream;
    *out = new vrestore_model{vrestore::Model::load(path, mo), o.num_threads};
  });
}

vrestore_status vrestore_model_load(const char* path, vrestore_device device, vrestore_model** out) {
  vrestore_load_options options;
  vrestore_load_options_init(&options);
  options.device = device;
  return vrestore_model_load_with_options(path, &options, out);
}

void vrestore_model_free(vrestore_model* model) { delete model; }

vrestore_status vrestore_set_float32_matmul_precision(vrestore_matmul_precision precision) {
  return guarded([&] {
    const int value = enum_value(precision);
    if (value != VRESTORE_MATMUL_PRECISION_HIGHEST && value != VRESTORE_MATMUL_PRECISION_HIGH)
      throw vrestore::Error(vrestore::concat("vrestore_set_float32_matmul_precision: precision is ", value,
                                             ", expected VRESTORE_MATMUL_PRECISION_HIGHEST (0) or _HIGH (1)"));
    vrestore::set_float32_matmul_precision(static_cast<vrestore::MatmulPrecision>(value));
  });
}

vrestore_status vrestore_model_device_memory(const vrestore_model* model, size_t* weights_bytes, size_t* current_bytes,
                                             size_t* peak_bytes) {
  return guarded([&] {
    if (!model) throw vrestore::Error("vrestore_model_device_memory: model must not be NULL");
    const vrestore::DeviceMemoryStats s = model->model.device_memory();
    if (weights_bytes) *weights_bytes = s.weights_bytes;
    if (current_bytes) *current_bytes = s.current_bytes;
    if (peak_bytes) *peak_bytes = s.peak_bytes;
  });
}

int vrestore_model_scale(const vrestore_model* model) { return model ? model->model.info().scale : 0; }

const char* vrestore_model_arch(const vrestore_model* model) {
  return model ? model->model.info().arch.c_str() : "";
}

int vrestore_model_num_frames(const vrestore_model* model) { return model ? model->model.info().num_frames : 0; }

int vrestore_model_input_channels(const vrestore_model* model) {
  return model ? model->model.info().in_channels : 0;
}

int vrestore_model_is_recurrent(const vrestore_model* model) {
  return model && model->model.info().recurrent ? 1 : 0;
}

vrestore_status vrestore_restore_clip(const vrestore_model* model, const void* frames, int64_t num_frames,
                                      int64_t width, int64_t height, void* out,
                                      const vrestore_restore_options* options) {
  return guarded([&] {
    if (!model || !frames || !out)
      throw vrestore::Error("vrestore_restore_clip: model, frames and out must not be NULL");
    const vrestore_restore_options o = read_restore_options(options);
    restore_clip("vrestore_restore_clip", *model, frames, num_frames, height, width, out,
                 resolve(*model, o, "vrestore_restore_clip"));
  });
}

vrestore_status vrestore_restore(const vrestore_model* model, const float* frames, int64_t num_frames,
                                 int64_t height, int64_t width, float* out, vrestore_progress_fn progress,
                                 void* user) {
  return guarded([&] {
    if (!model || !frames || !out) throw vrestore::Error("vrestore_restore: model, frames and out must not be NULL");
    vrestore_restore_options o;
    vrestore_restore_options_init(&o);
    o.progress = progress;
    o.progress_user = user;
    restore_clip("vrestore_restore", *model, frames, num_frames, height, width, out, resolve(*model, o, "vrestore_restore"));
  });
}

vrestore_status vrestore_stream_create(const vrestore_model* model, int64_t width, int64_t height,
                                       const vrestore_restore_options* options, vrestore_stream** out) {
  return guarded([&] {
    if (!model || !out) throw vrestore::Error("vrestore_stream_create: model and out must not be NULL");
    *out = nullptr;
    const vrestore_restore_options o = read_restore_options(options);
    VR_CHECK(enum_value(o.memory) != VRESTORE_MEMORY_DEVICE, "vrestore_stream_create: memory "
             "VRESTORE_MEMORY_DEVICE is for whole clips only; streams take and return host frames");
    const ResolvedOptions r = resolve(*model, o, "vrestore_stream_create");
    VR_CHECK(width > 0 && height > 0, "vrestore_stream_create: width ", width, ", height ", height,
             " must both be >= 1");
    const vrestore::ModelInfo& info = model->model.info();
    check_clip_size("vrestore_stream_create", 1, info.in_channels, height, width, info.scale, r.format.sample_size());
    *out = new vrestore_stream(*model, height, width, r);
  });
}

vrestore_status vrestore_stream_push(vrestore_stream* stream, const void* frame) {
  return guarded_status([&] {
    if (!stream || !frame) throw vrestore::Error("vrestore_stream_push: stream and frame must not be NULL");
    const vrestore::Tensor t = to_tensor(frame, stream->format, stream->channels, stream->height, stream->width);
    return stream->stream.push(t) ? VRESTORE_OK : VRESTORE_AGAIN;
  });
}

vrestore_status vrestore_stream_end(vrestore_stream* stream) {
  return guarded([&] {
    if (!stream) throw vrestore::Error("vrestore_stream_end: stream must not be NULL");
    stream->stream.end();
  });
}

vrestore_status vrestore_stream_pull(vrestore_stream* stream, void* out, int64_t* index, int timeout_ms) {
  return guarded_status([&] {
    if (!stream || !out || !index)
      throw vrestore::Error("vrestore_stream_pull: stream, out and index must not be NULL");
    vrestore::Tensor frame;
    switch (stream->stream.pull(&frame, index, timeout_ms)) {
      case vrestore::StreamStatus::Ok: from_tensor(frame, stream->format, out); return VRESTORE_OK;
      case vrestore::StreamStatus::NeedInput: return VRESTORE_NEED_INPUT;
      case vrestore::StreamStatus::Again: return VRESTORE_AGAIN;
      case vrestore::StreamStatus::End: return VRESTORE_END;
    }
    throw vrestore::Error("vrestore_stream_pull: unknown stream status");
  });
}

void vrestore_stream_free(vrestore_stream* stream) { delete stream; }

}  // extern "C"

// The C API: a thin exception barrier over the C++ API.
#include "vrestore/vrestore_c.h"

#include <cstring>
#include <new>
#include <string>

#include "core/check.h"
#include "core/checked_math.h"
#include "vrestore/vrestore.h"

struct vrestore_model {
  vrestore::Model model;
};

namespace {

thread_local std::string last_error;

template <typename Fn>
vrestore_status guarded(Fn&& fn) {
  try {
    fn();
    last_error.clear();
    return VRESTORE_OK;
  } catch (const vrestore::Error& e) {
    last_error = e.what();
    if (std::strcmp(e.what(), "restore: cancelled") == 0) return VRESTORE_ERROR_CANCELLED;
    // The C++ API reports exhausted memory as a vrestore::Error saying so (a failed tensor
    // allocation, or std::bad_alloc translated at its boundary).
    if (std::strstr(e.what(), "out of memory")) return VRESTORE_ERROR_OUT_OF_MEMORY;
    return VRESTORE_ERROR;
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

}  // namespace

extern "C" {

const char* vrestore_last_error(void) { return last_error.c_str(); }

vrestore_status vrestore_model_load(const char* path, vrestore_device device, vrestore_model** out) {
  return guarded([&] {
    if (!path || !out) throw vrestore::Error("vrestore_model_load: path and out must not be NULL");
    *out = nullptr;
    // A C caller may pass any int; in C++ such a value is outside the enum's range, so it is read
    // as the integer it is.
    int device_value = 0;
    static_assert(sizeof(device) == sizeof(device_value), "vrestore_device is int-sized");
    std::memcpy(&device_value, &device, sizeof device_value);
    VR_CHECK(device_value == VRESTORE_DEVICE_CPU || device_value == VRESTORE_DEVICE_CUDA, "vrestore_model_load: device ",
             device_value, " is neither VRESTORE_DEVICE_CPU (0) nor VRESTORE_DEVICE_CUDA (1)");
    auto d = device == VRESTORE_DEVICE_CUDA ? vrestore::Device::CUDA : vrestore::Device::CPU;
    *out = new vrestore_model{vrestore::Model::load(path, d)};
  });
}

void vrestore_model_free(vrestore_model* model) { delete model; }

int vrestore_model_scale(const vrestore_model* model) { return model ? model->model.info().scale : 0; }

const char* vrestore_model_arch(const vrestore_model* model) {
  return model ? model->model.info().arch.c_str() : "";
}

vrestore_status vrestore_restore(const vrestore_model* model, const float* frames, int64_t num_frames,
                                 int64_t height, int64_t width, float* out, vrestore_progress_fn progress,
                                 void* user) {
  return guarded([&] {
    if (!model || !frames || !out) throw vrestore::Error("vrestore_restore: model, frames and out must not be NULL");
    VR_CHECK(num_frames > 0 && height > 0 && width > 0, "vrestore_restore: num_frames ", num_frames, ", height ",
             height, ", width ", width, " must all be >= 1");
    // Both buffers' element counts must be representable (the caller sized them with the same
    // products); the scaled output is the larger one.
    const int64_t scale = model->model.info().scale;
    const char* where = "vrestore_restore: output of num_frames * 3 * height*scale * width*scale";
    vrestore::checked_mul(vrestore::checked_mul(vrestore::checked_mul(num_frames, int64_t{3}, where),
                                                vrestore::checked_mul(height, scale, where), where),
                          vrestore::checked_mul(width, scale, where), where);
    vrestore::Tensor clip = vrestore::Tensor::wrap({num_frames, 3, height, width}, const_cast<float*>(frames), nullptr);
    vrestore::RestoreOptions options;
    if (progress) options.progress = [&](int64_t done, int64_t total) { return progress(done, total, user) != 0; };
    model->model.restore(
        clip,
        [&](int64_t index, const vrestore::Tensor& frame) {
          std::memcpy(out + index * frame.numel(), frame.data(), static_cast<size_t>(frame.numel()) * sizeof(float));
        },
        options);
  });
}

}  // extern "C"

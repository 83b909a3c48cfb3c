// The C API: a thin exception barrier over the C++ API.
#include "vrestore/vrestore_c.h"

#include <cstring>
#include <new>
#include <string>

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
    return std::strcmp(e.what(), "restore: cancelled") == 0 ? VRESTORE_ERROR_CANCELLED : VRESTORE_ERROR;
  } catch (const std::bad_alloc&) {
    last_error = "out of memory";
    return VRESTORE_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    last_error = e.what();
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

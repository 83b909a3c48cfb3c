/* vrestore C API — for engines and FFI. Every function returns VRESTORE_OK or an error code;
 * vrestore_last_error() then returns a message for the calling thread (valid until its next call).
 *
 *   vrestore_model* m = NULL;
 *   if (vrestore_model_load("edvr.safetensors", VRESTORE_DEVICE_CPU, &m) != VRESTORE_OK)
 *     fprintf(stderr, "%s\n", vrestore_last_error());
 *   int scale = vrestore_model_scale(m);
 *   // frames: T*3*H*W floats (T, 3, H, W), RGB in [0, 1]; out: T*3*(H*scale)*(W*scale) floats
 *   vrestore_restore(m, frames, T, H, W, out, NULL, NULL);
 *   vrestore_model_free(m);
 *
 * Threads: a model may be used from several threads at once. */
#ifndef VRESTORE_C_H
#define VRESTORE_C_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vrestore_model vrestore_model;

typedef enum {
  VRESTORE_OK = 0,
  VRESTORE_ERROR = 1,            /* invalid argument, bad file, unsupported model, ... */
  VRESTORE_ERROR_CANCELLED = 2,  /* the progress callback returned 0 */
  VRESTORE_ERROR_OUT_OF_MEMORY = 3
} vrestore_status;

typedef enum { VRESTORE_DEVICE_CPU = 0, VRESTORE_DEVICE_CUDA = 1 } vrestore_device;

/* Called after each output frame; return 0 to cancel. */
typedef int (*vrestore_progress_fn)(int64_t done, int64_t total, void* user);

const char* vrestore_last_error(void);

vrestore_status vrestore_model_load(const char* path, vrestore_device device, vrestore_model** out);
void vrestore_model_free(vrestore_model* model);

/* Output size / input size (4 for x4 SR models, 1 for deblurring); 0 for a NULL model. */
int vrestore_model_scale(const vrestore_model* model);
/* "<source>.<UpstreamClass>", e.g. "basicsr.EDVR"; owned by the model; "" for a NULL model. */
const char* vrestore_model_arch(const vrestore_model* model);

/* Restores a clip of `frames` frames (T, 3, H, W) into `out` (T, 3, H*scale, W*scale).
 * num_frames, height and width must be >= 1 (VRESTORE_ERROR otherwise, also when the sizes are too
 * large to address). A NaN or infinite pixel is VRESTORE_ERROR naming the frame, and so is a
 * non-finite output frame (see RestoreOptions in vrestore.h). */
vrestore_status vrestore_restore(const vrestore_model* model, const float* frames, int64_t num_frames,
                                 int64_t height, int64_t width, float* out, vrestore_progress_fn progress,
                                 void* user);

#ifdef __cplusplus
}
#endif

#endif /* VRESTORE_C_H */

/* vrestore C API — for engines and FFI. C99; no C++ type crosses it, no exception leaves it.
 * Every function that can fail returns VRESTORE_OK or an error code (vrestore_status < 100);
 * vrestore_last_error() then returns a message for the calling thread (valid until its next call).
 * Codes >= 100 are not errors: they say what a stream call found (VRESTORE_NEED_INPUT, ...).
 *
 *   vrestore_model* m = NULL;
 *   if (vrestore_model_load("edvr.safetensors", VRESTORE_DEVICE_CPU, &m) != VRESTORE_OK)
 *     fprintf(stderr, "%s\n", vrestore_last_error());
 *   vrestore_restore_options o;
 *   vrestore_restore_options_init(&o);
 *   o.pixel_type = VRESTORE_PIXEL_U8;          // RGB8, interleaved (H, W, 3)
 *   o.layout = VRESTORE_LAYOUT_INTERLEAVED;
 *   // frames: T*H*W*3 bytes; out: T*(H*scale)*(W*scale)*3 bytes
 *   vrestore_restore_clip(m, frames, T, W, H, out, &o);
 *   vrestore_model_free(m);
 *
 * Frames as an engine decodes them: vrestore_stream_create / _push / _end / _pull / _free (below;
 * docs/embedding.md shows the loop). examples/c/restore_clip.c uses both forms.
 *
 * Pixels: float frames are RGB in [0, 1] (outputs are not clamped); 8-bit frames map 0..255 to
 * [0, 1] as v / 255, and outputs back as round(clamp(x, 0, 1) * 255), halves rounded up (NaN,
 * only possible with allow_non_finite_input, becomes 0).
 * Threads: a model is immutable and may be used from several threads at once. A stream may be
 * pushed from one thread and pulled from another at the same time; free it from one thread when no
 * other call on it is running, and before its model. */
#ifndef VRESTORE_C_H
#define VRESTORE_C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vrestore_model vrestore_model;
typedef struct vrestore_stream vrestore_stream;

typedef enum {
  VRESTORE_OK = 0,
  VRESTORE_ERROR = 1,               /* invalid argument, bad file or frame, unsupported model, ... */
  VRESTORE_ERROR_CANCELLED = 2,     /* the progress callback returned 0, or the stream was cancelled */
  VRESTORE_ERROR_OUT_OF_MEMORY = 3,
  VRESTORE_ERROR_UNSUPPORTED = 4,   /* valid, but not in this build or on this device (CUDA without a
                                       GPU or CUDA backend, f16 on the CPU) */
  /* Stream results, not errors: */
  VRESTORE_NEED_INPUT = 100,        /* pull: nothing ready, and nothing will be until you push or end */
  VRESTORE_AGAIN = 101,             /* pull: nothing ready within the timeout; push: full, pull first */
  VRESTORE_END = 102                /* pull: the stream has ended and every frame has been pulled */
} vrestore_status;

typedef enum { VRESTORE_DEVICE_CPU = 0, VRESTORE_DEVICE_CUDA = 1 } vrestore_device;
typedef enum { VRESTORE_PRECISION_F32 = 0, VRESTORE_PRECISION_F16 = 1 } vrestore_precision;
/* One sample: an 8-bit value or a 32-bit float. */
typedef enum { VRESTORE_PIXEL_F32 = 0, VRESTORE_PIXEL_U8 = 1 } vrestore_pixel_type;
/* A frame's memory order: PLANAR is (3, H, W), all R then all G then all B; INTERLEAVED is
 * (H, W, 3), R G B per pixel. Rows are top to bottom and packed (no padding between rows). */
typedef enum { VRESTORE_LAYOUT_PLANAR = 0, VRESTORE_LAYOUT_INTERLEAVED = 1 } vrestore_layout;
/* Where the pixel buffers of vrestore_restore_clip are: host memory, or the CUDA device the model
 * was loaded on (device pointers, e.g. an engine's frames; they never pass through the host). */
typedef enum { VRESTORE_MEMORY_HOST = 0, VRESTORE_MEMORY_DEVICE = 1 } vrestore_memory;
/* How the CPU backend may compute fp32 matrix products (vrestore::MatmulPrecision, vrestore.h). */
typedef enum { VRESTORE_MATMUL_PRECISION_HIGHEST = 0, VRESTORE_MATMUL_PRECISION_HIGH = 1 } vrestore_matmul_precision;

/* Called after each output frame with (frames done, total); total is -1 in a stream (the length
 * is not known). Return 0 to cancel. Runs on the calling thread for vrestore_restore*, on the
 * stream's worker thread for streams. */
typedef int (*vrestore_progress_fn)(int64_t done, int64_t total, void* user);

const char* vrestore_last_error(void);

/* ---- models ---------------------------------------------------------------------------------- */

/* Options structs start with struct_size so that later versions can add fields: always fill one
 * with its _init function first. A library reads only the fields that fit in struct_size (newer
 * fields keep their defaults), and refuses a larger struct whose extra fields are not all zero.
 * struct_size must be the size of one of the struct's versions (a size between two versions is
 * refused). vrestore_load_options has one version; vrestore_restore_options has two (version 1
 * ends after `memory`; version 2 adds the tile fields and memory_budget_bytes). */
typedef struct vrestore_load_options {
  size_t struct_size;             /* sizeof(vrestore_load_options) */
  vrestore_device device;         /* VRESTORE_DEVICE_CPU */
  int device_index;               /* 0; which CUDA device (must be 0 for the CPU) */
  vrestore_precision precision;   /* VRESTORE_PRECISION_F32 */
  int num_threads;                /* 0; CPU threads for this model's restorations and streams
                                     (0 = the process default: OMP_NUM_THREADS, else one per core) */
  void* cuda_stream;              /* NULL; CUDA only: the caller's cudaStream_t, on which all of the
                                     model's work is ordered (NULL: the model creates its own). It must
                                     outlive the model. */
} vrestore_load_options;

void vrestore_load_options_init(vrestore_load_options* options);

/* Loads a file written by weights_converter/convert.py; the weights are copied (on CUDA: uploaded
 * once, in the model's precision), so the file may change or go away afterwards. CUDA without a
 * device or in a build without CUDA, and f16 on the CPU, give VRESTORE_ERROR_UNSUPPORTED with a
 * one-line message (docs/embedding.md, "Devices, precision and CUDA streams"). options NULL =
 * defaults. */
vrestore_status vrestore_model_load_with_options(const char* path, const vrestore_load_options* options,
                                                 vrestore_model** out);
/* The same with default options on `device`. */
vrestore_status vrestore_model_load(const char* path, vrestore_device device, vrestore_model** out);
void vrestore_model_free(vrestore_model* model);

/* Process-wide, for every later call from any thread: HIGHEST (the default) computes in fp32; HIGH
 * lets the convolutions of EDVR, BasicVSR and RealBasicVSR (not the deformable ones) use the
 * AMX-BF16 unit where the CPU has one, each fp32 value as the sum of two bf16 ("bf16x3": ~1e-5 of
 * each product instead of 6e-8; the models' golden cases still pass). Elsewhere HIGH computes as
 * HIGHEST. Until this is called, the environment variable
 * VRESTORE_FLOAT32_MATMUL_PRECISION=highest|high decides. VRESTORE_ERROR for another value. */
vrestore_status vrestore_set_float32_matmul_precision(vrestore_matmul_precision precision);

/* Device memory of a CUDA model in bytes (all 0 on the CPU): weights uploaded at load, held now,
 * and the most held at once since load. Any pointer may be NULL. */
vrestore_status vrestore_model_device_memory(const vrestore_model* model, size_t* weights_bytes, size_t* current_bytes,
                                             size_t* peak_bytes);

/* Output size / input size (4 for x4 SR models, 1 for deblurring); 0 for a NULL model. */
int vrestore_model_scale(const vrestore_model* model);
/* "<source>.<UpstreamClass>", e.g. "basicsr.EDVR"; owned by the model; "" for a NULL model. */
const char* vrestore_model_arch(const vrestore_model* model);
/* Input frames one output is computed from: EDVR's window (num_frame, e.g. 5); 0 for a recurrent
 * model, whose outputs depend on the whole clip, and for VRT (restored in temporal clips,
 * docs/tiling.md; VRT frame interpolation: its exact clip length). A clip of any length >= 1 can
 * be restored, except by frame interpolation. */
int vrestore_model_num_frames(const vrestore_model* model);
/* Channels C of each input frame: 3 (RGB) for every model but VRT's non-blind denoiser (008), which
 * takes 4: RGB, then the noise level sigma/255 as a fourth channel (constant over the frame for
 * upstream's test procedure, e.g. 25/255). Input buffers hold C samples per pixel; outputs are
 * always RGB (3). 0 for a NULL model. */
int vrestore_model_input_channels(const vrestore_model* model);
/* 1 for a recurrent model (BasicVSR, RealBasicVSR), else 0. */
int vrestore_model_is_recurrent(const vrestore_model* model);

/* ---- whole clips ----------------------------------------------------------------------------- */

typedef struct vrestore_restore_options {
  size_t struct_size;             /* sizeof(vrestore_restore_options) */
  vrestore_pixel_type pixel_type; /* VRESTORE_PIXEL_F32; inputs and outputs alike */
  vrestore_layout layout;         /* VRESTORE_LAYOUT_PLANAR; inputs and outputs alike */
  /* Recurrent models restore long clips in chunks (docs/long_videos.md): */
  int64_t chunk_frames;           /* 32 (>= 1) */
  int64_t lookahead_frames;       /* 16 (>= 0) */
  int independent_chunks;         /* 0; 1 = upstream's max_seq_len mode */
  int allow_non_finite_input;     /* 0; 1 = restore NaN/Inf pixels instead of failing */
  vrestore_progress_fn progress;  /* NULL */
  void* progress_user;            /* NULL; passed to progress */
  /* Streams only: */
  int64_t input_queue_frames;     /* 2 (>= 0): frames accepted beyond those the model waits for */
  int64_t output_queue_frames;    /* 2 (>= 1): restored frames held for pull */
  /* Clips only: */
  vrestore_memory memory;         /* VRESTORE_MEMORY_HOST; VRESTORE_MEMORY_DEVICE: frames and out are
                                     pointers on the model's CUDA device (VRESTORE_PIXEL_F32, planar
                                     only); the call returns when out is written */
  /* Added in version 2 of this struct (a version-1 struct, without them, keeps their defaults).
   * Clip models (VRT) restore in temporal clips and spatial tiles, blended as upstream's
   * main_test_vrt.py does (docs/tiling.md), clips and streams alike; other models ignore these.
   * Sizes are in input frames and pixels; a size of 0 is chosen for memory_budget_bytes (the whole
   * axis when it fits, else the largest tile that does). Spatial tiles must be multiples of 8 and at
   * least 64 for the VRT releases, and each overlap smaller than its tile: otherwise the call fails
   * with VRESTORE_ERROR naming the setting, as it does when even the smallest tile would not fit
   * the budget (the message names the budget and that tile's estimate). */
  int64_t tile_frames;            /* 0 (>= 0): frames per temporal clip */
  int64_t tile_height;            /* 0 (>= 0): spatial tile height */
  int64_t tile_width;             /* 0 (>= 0): spatial tile width */
  int64_t tile_overlap_frames;    /* 2 (>= 0): frames shared by neighbouring clips */
  int64_t tile_overlap_height;    /* 20 (>= 0): rows shared by neighbouring tiles */
  int64_t tile_overlap_width;     /* 20 (>= 0): columns shared by neighbouring tiles */
  uint64_t memory_budget_bytes;   /* 0 = 8 GiB: what one restoration plans for on the model's device
                                     (host memory on the CPU) */
} vrestore_restore_options;

void vrestore_restore_options_init(vrestore_restore_options* options);

/* Restores `num_frames` frames of width x height into `out`, in the format of `options` (NULL =
 * defaults: float, planar): frames holds num_frames consecutive frames of C*height*width samples,
 * C = vrestore_model_input_channels(model) (3: RGB, except 4 for the VRT denoiser); out receives as
 * many frames of 3*(height*scale)*(width*scale) samples (RGB). Sizes must be >= 1.
 * A NaN or infinite pixel is VRESTORE_ERROR naming the frame (unless allow_non_finite_input). */
vrestore_status vrestore_restore_clip(const vrestore_model* model, const void* frames, int64_t num_frames,
                                      int64_t width, int64_t height, void* out,
                                      const vrestore_restore_options* options);

/* The original form: float, planar, (T, C, H, W) into (T, 3, H*scale, W*scale) (C as above); note the height,
 * width order. num_frames, height and width must be >= 1 (VRESTORE_ERROR otherwise, also when the
 * sizes are too large to address). */
vrestore_status vrestore_restore(const vrestore_model* model, const float* frames, int64_t num_frames,
                                 int64_t height, int64_t width, float* out, vrestore_progress_fn progress,
                                 void* user);

/* ---- streams --------------------------------------------------------------------------------- */
/* A stream restores frames as they are pushed, with the same results as vrestore_restore_clip on
 * the whole clip, holding only the frames the model still needs (docs/embedding.md). Each stream
 * has a worker thread. A worker failure is returned by the next push, end or pull, and by every
 * later one (the stream is then done: free it). */

/* Starts a stream of width x height frames in the format of `options` (NULL = defaults). */
vrestore_status vrestore_stream_create(const vrestore_model* model, int64_t width, int64_t height,
                                       const vrestore_restore_options* options, vrestore_stream** out);
/* Copies the next frame (C*width*height samples, C = vrestore_model_input_channels()) into the stream. Returns VRESTORE_OK when taken,
 * or VRESTORE_AGAIN, taking nothing, when the stream is full and waits for a pull: pull, then push
 * the same frame again. Otherwise it may wait while the worker computes (back-pressure). */
vrestore_status vrestore_stream_push(vrestore_stream* stream, const void* frame);
/* No more frames: the stream finishes the clip. */
vrestore_status vrestore_stream_end(vrestore_stream* stream);
/* Takes the next restored frame (3*(height*scale)*(width*scale) samples) into `out` and its index
 * (0, 1, 2, ... in order) into *index. timeout_ms < 0 waits as long as needed, 0 only looks.
 * Returns VRESTORE_OK (a frame), VRESTORE_NEED_INPUT (push more or end first), VRESTORE_AGAIN (the
 * timeout ran out while the worker computes), VRESTORE_END (all done) or an error. */
vrestore_status vrestore_stream_pull(vrestore_stream* stream, void* out, int64_t* index, int timeout_ms);
/* Cancels the stream if it is still working (waits for the worker to stop at its next frame
 * boundary) and frees it. NULL is allowed. */
void vrestore_stream_free(vrestore_stream* stream);

#ifdef __cplusplus
}
#endif

#endif /* VRESTORE_C_H */

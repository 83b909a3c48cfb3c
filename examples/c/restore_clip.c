/* The vrestore C API from plain C99, as an engine would use it: load a converted model, restore a
 * few synthetic RGB8 frames once as a whole clip and once through a stream (frames pushed one at a
 * time, restored frames pulled as they become ready), and print the scale and a checksum of each.
 * Exits 0 when both forms give the same bytes.
 *
 *   restore_clip MODEL.safetensors [FRAMES [WIDTH HEIGHT]]      (defaults: 5 frames of 32x24) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vrestore/vrestore_c.h>

/* FNV-1a over a buffer: a short fingerprint of the restored bytes. */
static uint64_t checksum(const uint8_t* data, size_t size) {
  uint64_t h = 14695981039346656037ull;
  size_t i;
  for (i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211ull;
  return h;
}

static int fail(const char* what) {
  fprintf(stderr, "restore_clip: %s: %s\n", what, vrestore_last_error());
  return 1;
}

/* Pulls the next restored frame into its place in `out` (frame *pulled); returns the status. */
static vrestore_status pull_next(vrestore_stream* stream, uint8_t* out, size_t out_size, int64_t count,
                                 int64_t* pulled, int timeout_ms) {
  int64_t index = -1;
  vrestore_status status;
  if (*pulled >= count) return VRESTORE_END;
  status = vrestore_stream_pull(stream, out + (size_t)*pulled * out_size, &index, timeout_ms);
  if (status == VRESTORE_OK && index != (*pulled)++) {
    fprintf(stderr, "restore_clip: the stream returned frame %lld out of order\n", (long long)index);
    return VRESTORE_ERROR;
  }
  return status;
}

/* The stream form: push each frame as it "arrives", pull what is ready; returns 0 on success. */
static int restore_streaming(const vrestore_model* model, const vrestore_restore_options* options,
                             const uint8_t* frames, int64_t count, int64_t width, int64_t height, uint8_t* out) {
  const size_t in_size = (size_t)(width * height * 3);
  const size_t out_size = in_size * (size_t)vrestore_model_scale(model) * (size_t)vrestore_model_scale(model);
  vrestore_stream* stream = NULL;
  vrestore_status status = VRESTORE_OK;
  int64_t pushed, pulled = 0;
  if (vrestore_stream_create(model, width, height, options, &stream) != VRESTORE_OK) return fail("stream_create");
  for (pushed = 0; pushed < count && status == VRESTORE_OK; ++pushed) {
    /* VRESTORE_AGAIN: the stream is full until a restored frame is taken. */
    while ((status = vrestore_stream_push(stream, frames + (size_t)pushed * in_size)) == VRESTORE_AGAIN)
      if ((status = pull_next(stream, out, out_size, count, &pulled, -1)) != VRESTORE_OK) break;
    if (status != VRESTORE_OK) break;
    /* Take whatever is ready without waiting (an engine would encode it now). */
    while ((status = pull_next(stream, out, out_size, count, &pulled, 0)) == VRESTORE_OK) {
    }
    if (status == VRESTORE_NEED_INPUT || status == VRESTORE_AGAIN) status = VRESTORE_OK;
  }
  if (status == VRESTORE_OK) status = vrestore_stream_end(stream);
  while (status == VRESTORE_OK) status = pull_next(stream, out, out_size, count, &pulled, -1);
  if (status == VRESTORE_END && pulled == count) {
    vrestore_stream_free(stream);
    return 0;
  }
  fail("stream");
  vrestore_stream_free(stream);
  return 1;
}

int main(int argc, char** argv) {
  const int64_t count = argc > 2 ? atoi(argv[2]) : 5;
  const int64_t width = argc > 4 ? atoi(argv[3]) : 32, height = argc > 4 ? atoi(argv[4]) : 24;
  vrestore_model* model = NULL;
  vrestore_restore_options options;
  uint8_t *frames, *whole, *streamed;
  size_t in_bytes, out_bytes, i;
  int scale, result;
  uint64_t sum_whole, sum_streamed;
  if (argc < 2 || count < 1 || width < 1 || height < 1) {
    fprintf(stderr, "usage: %s MODEL.safetensors [FRAMES [WIDTH HEIGHT]]\n", argv[0]);
    return 2;
  }
  if (vrestore_model_load(argv[1], VRESTORE_DEVICE_CPU, &model) != VRESTORE_OK) return fail("load");
  scale = vrestore_model_scale(model);
  printf("model %s: scale %d, %d input channels, ", vrestore_model_arch(model), scale,
         vrestore_model_input_channels(model));
  if (vrestore_model_is_recurrent(model))
    printf("recurrent (each output depends on the whole clip)\n");
  else
    printf("a window of %d frames per output\n", vrestore_model_num_frames(model));

  /* 8-bit RGB, interleaved (R G B per pixel), as decoders hand out frames. */
  vrestore_restore_options_init(&options);
  options.pixel_type = VRESTORE_PIXEL_U8;
  options.layout = VRESTORE_LAYOUT_INTERLEAVED;
  in_bytes = (size_t)(count * width * height * 3);
  out_bytes = in_bytes * (size_t)scale * (size_t)scale;
  frames = malloc(in_bytes);
  whole = malloc(out_bytes);
  streamed = malloc(out_bytes);
  if (!frames || !whole || !streamed) {
    fprintf(stderr, "restore_clip: out of memory\n");
    return 1;
  }
  for (i = 0; i < in_bytes; ++i) frames[i] = (uint8_t)((i * 7 + i / 96 * 13) % 251); /* a synthetic pattern */

  result = vrestore_restore_clip(model, frames, count, width, height, whole, &options) == VRESTORE_OK ? 0 : fail("restore");
  if (result == 0) result = restore_streaming(model, &options, frames, count, width, height, streamed);
  if (result == 0) {
    sum_whole = checksum(whole, out_bytes);
    sum_streamed = checksum(streamed, out_bytes);
    printf("restored %lld frames of %lldx%lld to %lldx%lld\n", (long long)count, (long long)width, (long long)height,
           (long long)(width * scale), (long long)(height * scale));
    printf("checksum whole clip %016llx, stream %016llx\n", (unsigned long long)sum_whole,
           (unsigned long long)sum_streamed);
    if (sum_whole != sum_streamed || memcmp(whole, streamed, out_bytes) != 0) {
      fprintf(stderr, "restore_clip: the stream's frames differ from the whole clip's\n");
      result = 1;
    }
  }
  free(frames);
  free(whole);
  free(streamed);
  vrestore_model_free(model);
  return result;
}

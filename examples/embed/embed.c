/* Minimal use of the vrestore C API. Usage: embed_c MODEL.safetensors */
#include <stdio.h>
#include <stdlib.h>
#include <vrestore/vrestore_c.h>

static int on_progress(int64_t done, int64_t total, void* user) {
  (void)user;
  fprintf(stderr, "frame %lld/%lld\n", (long long)done, (long long)total);
  return 1; /* 0 cancels */
}

int main(int argc, char** argv) {
  const int64_t frames = 3, height = 16, width = 20;
  vrestore_model* model = NULL;
  float *clip, *out;
  int64_t i, n_in = frames * 3 * height * width;
  int scale;
  double sum = 0;
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.safetensors\n", argv[0]);
    return 2;
  }
  if (vrestore_model_load(argv[1], VRESTORE_DEVICE_CPU, &model) != VRESTORE_OK) {
    fprintf(stderr, "error: %s\n", vrestore_last_error());
    return 1;
  }
  scale = vrestore_model_scale(model);
  clip = malloc(sizeof(float) * (size_t)n_in);
  out = malloc(sizeof(float) * (size_t)(n_in * scale * scale));
  for (i = 0; i < n_in; ++i) clip[i] = (float)(i % 97) / 96.0f;
  if (vrestore_restore(model, clip, frames, height, width, out, on_progress, NULL) != VRESTORE_OK) {
    fprintf(stderr, "error: %s\n", vrestore_last_error());
    vrestore_model_free(model);
    return 1;
  }
  for (i = 0; i < n_in * scale * scale; ++i) sum += out[i];
  printf("model %s restored %lld frames to %lldx%lld, mean %.4f\n", vrestore_model_arch(model), (long long)frames,
         (long long)(height * scale), (long long)(width * scale), sum / (double)(n_in * scale * scale));
  free(clip);
  free(out);
  vrestore_model_free(model);
  return 0;
}

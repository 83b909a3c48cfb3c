// Minimal embedding of vrestore in a C++17 application: load a converted model, restore a clip,
// receive frames one by one. Usage: embed_cpp MODEL.safetensors [frames] [height] [width]
#include <cstdio>
#include <cstdlib>
#include <vrestore/vrestore.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.safetensors [frames height width]\n", argv[0]);
    return 2;
  }
  const int64_t frames = argc > 2 ? std::atoll(argv[2]) : 3;
  const int64_t height = argc > 3 ? std::atoll(argv[3]) : 18;
  const int64_t width = argc > 4 ? std::atoll(argv[4]) : 22;
  try {
    vrestore::Model model = vrestore::Model::load(argv[1]);
    const vrestore::ModelInfo& info = model.info();
    std::printf("model %s, scale %d\n", info.arch.c_str(), info.scale);

    // A synthetic clip: a diagonal gradient drifting by one pixel per frame, RGB in [0, 1].
    vrestore::Tensor clip = vrestore::Tensor::empty({frames, 3, height, width});
    float* p = clip.data();
    for (int64_t t = 0; t < frames; ++t)
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t y = 0; y < height; ++y)
          for (int64_t x = 0; x < width; ++x)
            *p++ = static_cast<float>((x + y + t) % 32) / 31.0f * (0.5f + 0.25f * static_cast<float>(c));

    vrestore::RestoreOptions options;
    options.progress = [](int64_t done, int64_t total) {
      std::fprintf(stderr, "frame %lld/%lld\n", static_cast<long long>(done), static_cast<long long>(total));
      return true;  // false would cancel
    };
    model.restore(
        clip,
        [](int64_t index, const vrestore::Tensor& frame) {
          double sum = 0;
          for (int64_t i = 0; i < frame.numel(); ++i) sum += frame.data()[i];
          std::printf("frame %lld: %s mean %.4f\n", static_cast<long long>(index), frame.shape_str().c_str(),
                      sum / static_cast<double>(frame.numel()));
        },
        options);
  } catch (const vrestore::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}

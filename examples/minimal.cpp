// The smallest vrestore program: load a converted model, restore a few frames, print what came out.
//   minimal MODEL.safetensors
#include <cstdio>

#include <vrestore/vrestore.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MODEL.safetensors\n", argv[0]);
    return 2;
  }
  try {
    const vrestore::Model model = vrestore::Model::load(argv[1]);
    // Three frames of 20x16, RGB in [0, 1], planar: (frames, 3, height, width).
    vrestore::Tensor clip = vrestore::Tensor::empty({3, 3, 16, 20});
    for (int64_t i = 0; i < clip.numel(); ++i) clip.data()[i] = static_cast<float>(i % 101) / 100.0f;
    model.restore(clip, [](int64_t index, const vrestore::Tensor& frame) {
      // frame: (3, 16 * scale, 20 * scale), RGB, not clamped; here is where you would save it.
      std::printf("frame %lld: %s, first value %.4f\n", static_cast<long long>(index), frame.shape_str().c_str(),
                  frame.data()[0]);
    });
    std::printf("%s, scale %d\n", model.info().arch.c_str(), model.info().scale);
  } catch (const vrestore::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}

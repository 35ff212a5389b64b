//===- FuzzImage.cpp - libFuzzer target for image decoding ----------------===//
//
// The first byte chooses the preprocessing, the rest is the image file for
// prepareImageBytes (PNG through stb_image, PPM/PGM through our parser):
//   bit 0: resize, 0 = crop, 1 = stretch;
//   bit 1: channels, 0 = 3 (RGB), 1 = 1 (gray);
//   bits 2-3: output size, 8x8, 8x3, 3x8 or 1x1 (height x width); the
//   non-square ones take both branches of the crop's cover computation.
// The outputs are tiny so that the decoders, not the resampler, get the
// time. The seed corpus (tests/fuzz/corpus/FuzzImage) holds tests/data's
// images and truncated copies, each behind a selector byte; to replay a
// crash with tfc, drop the artifact's first byte (tail -c +2).
//
// Failure is fine if it is a one-line message naming the input. Success
// must give height * width * channels values, each a convex combination of
// samples in [0, 1] (the triangle filter's weights are >= 0 and sum to 1)
// normalised with mean = std = 0.5, so in [-1, 1] up to rounding.
//
//===----------------------------------------------------------------------===//
#include "Image.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

[[noreturn]] void fail(const char *what, const std::string &detail) {
  std::fprintf(stderr, "FuzzImage: %s: %s\n", what, detail.c_str());
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  const uint8_t mode = data[0];
  static const int64_t kSizes[4][2] = {{8, 8}, {8, 3}, {3, 8}, {1, 1}};
  tfc::ImagePrep prep;
  prep.height = kSizes[(mode >> 2) & 3][0];
  prep.width = kSizes[(mode >> 2) & 3][1];
  prep.channels = (mode & 2) ? 1 : 3;
  prep.mean.assign(static_cast<size_t>(prep.channels), 0.5f);
  prep.std.assign(static_cast<size_t>(prep.channels), 0.5f);
  prep.resize = (mode & 1) ? tfc::ImageResize::Stretch : tfc::ImageResize::Crop;

  const std::string what = "fuzz.img";
  std::vector<float> out;
  std::string error;
  if (!tfc::prepareImageBytes(data + 1, size - 1, what, prep, out, error)) {
    if (error.empty())
      fail("failed without a message", "");
    if (error.find('\n') != std::string::npos)
      fail("message of more than one line", error);
    if (error.compare(0, what.size(), what) != 0)
      fail("message does not name the input", error);
    return 0;
  }
  const size_t want =
      static_cast<size_t>(prep.height * prep.width * prep.channels);
  if (out.size() != want)
    fail("wrong output size",
         std::to_string(out.size()) + " values, not " + std::to_string(want));
  for (size_t i = 0; i < out.size(); ++i)
    if (!std::isfinite(out[i]) || std::fabs(out[i]) > 1.0f + 1e-5f)
      fail("value outside [-1, 1]",
           "out[" + std::to_string(i) + "] = " + std::to_string(out[i]));
  return 0;
}

//===- Image.h - Image input for vision models ------------------*- C++ -*-===//
//
// Reads a PNG or a PPM/PGM image and turns it into the float tensor a ViT
// expects: `channels` planes scaled to [0, 1], resized to height x width and
// normalised per channel, in HWC order. PNG is decoded by stb_image (header
// only, compiled into Image.cpp with static linkage, so nothing of it is
// visible outside the runtime library); PPM/PGM is parsed here, because
// stb_image reads neither the ASCII forms (P2, P3) nor maxvals other than
// 255/65535, and does not notice a truncated raster.
//
// Channels: gray is replicated to RGB; RGB becomes gray by ITU-R BT.601 luma
// (0.299 R + 0.587 G + 0.114 B, on the [0, 1] values); alpha is dropped, not
// composited. Samples are divided by the format's maximum (255, 65535 for
// 16-bit PNG, maxval for PPM/PGM).
//
// Resampling is separable and done in double precision: bilinear with
// half-pixel centres (source = (dst + 0.5) * scale - 0.5, clamped at the
// edges) when enlarging. When shrinking by a factor s > 1 the triangle
// filter is widened to s source pixels (antialiasing), so every source pixel
// contributes: the filter of PIL's Image.resize(BILINEAR), which Hugging
// Face's image processors use, and of torchvision's Resize(antialias=True).
// An image already height x width comes out unchanged (each output pixel is
// its source pixel with weight exactly 1).
//
// ImageResize::Crop follows torchvision's Resize(shorter side) followed by
// CenterCrop(height, width), in one sampling step: the image is scaled by
// max(height / h, width / w), so it covers the target; the other side's
// scaled length is rounded down (as torchvision does) and the window's
// offset is Python's round(excess / 2), halves to even (as CenterCrop does).
// ImageResize::Stretch scales each axis to height and width independently
// (HF ViTImageProcessor's resize to 224 x 224).
//
// No state; safe to call from several threads at once.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_IMAGE_H
#define TFC_RUNTIME_IMAGE_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tfc {

enum class ImageResize { Crop, Stretch };

struct ImagePrep {
  /// The output size; each 1..16384.
  int64_t height = 0, width = 0;
  /// 1 (gray) or 3 (RGB).
  int64_t channels = 3;
  /// Per channel: out = (x - mean[c]) / std[c], x in [0, 1]. Both must have
  /// `channels` entries, std all > 0.
  std::vector<float> mean, std;
  ImageResize resize = ImageResize::Crop;
};

/// The largest image side and pixel count accepted (a header claiming more
/// is taken as corrupt rather than allocated).
constexpr int64_t kMaxImageSide = 16384;
constexpr int64_t kMaxImagePixels = int64_t(1) << 28;

/// Reads a PNG or PPM/PGM (P2, P3, P5, P6) file, converts it to
/// prep.channels channels, resizes and normalises it. `out` gets
/// height * width * channels floats, HWC row-major:
/// out[(y * width + x) * channels + c]. False with a one-line `error` naming
/// the path (and `out` unspecified) on any problem: unreadable file, other
/// formats, truncated or corrupt data, zero or oversized dimensions, a bad
/// ImagePrep.
bool prepareImage(const std::string &path, const ImagePrep &prep,
                  std::vector<float> &out, std::string &error);

/// The same for a file already in memory; `what` names it in messages.
bool prepareImageBytes(const unsigned char *data, size_t size,
                       const std::string &what, const ImagePrep &prep,
                       std::vector<float> &out, std::string &error);

} // namespace tfc

#endif // TFC_RUNTIME_IMAGE_H

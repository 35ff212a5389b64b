//===- Image.cpp - Image input for vision models --------------------------===//
#include "Image.h"
#include "Printable.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

// stb_image, PNG only (PPM/PGM is parsed below). STB_IMAGE_STATIC gives its
// functions internal linkage: the runtime is a static library linked into
// user programs, which may carry their own stb_image. Its warnings are not
// ours to fix, so they are silenced for this include only: unused static
// functions (-Wall) and, for stricter builds, its casts and conversions.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wcast-qual"
#endif
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_MAX_DIMENSIONS 16384
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace tfc {

static_assert(STBI_MAX_DIMENSIONS == kMaxImageSide,
              "stb_image's limit is the one Image.h documents");

namespace {

/// Decoded samples, interleaved: 1 (gray), 2 (gray, alpha), 3 (RGB) or 4
/// (RGBA) per pixel, each 0..maxval. Exactly one of u8 and u16 is set; they
/// point into the input, into `owned`, or into stb's buffer.
struct Raster {
  int64_t width = 0, height = 0;
  int channels = 0;
  double maxval = 255;
  const uint8_t *u8 = nullptr;
  const uint16_t *u16 = nullptr;
  std::vector<uint16_t> owned;
  struct StbFree {
    void operator()(void *p) const { stbi_image_free(p); }
  };
  std::unique_ptr<void, StbFree> stb;

  double sample(int64_t i) const { return u8 ? u8[i] : u16[i]; }
};

bool checkSize(int64_t width, int64_t height, const std::string &what,
               std::string &error) {
  if (width <= 0 || height <= 0) {
    error = what + ": image is " + std::to_string(width) + " x " +
            std::to_string(height) + " pixels; both must be at least 1";
    return false;
  }
  if (width > kMaxImageSide || height > kMaxImageSide ||
      width * height > kMaxImagePixels) {
    error = what + ": image is " + std::to_string(width) + " x " +
            std::to_string(height) + " pixels, over the limit of " +
            std::to_string(kMaxImageSide) + " per side and 2^28 pixels";
    return false;
  }
  return true;
}

// --- PPM / PGM ---------------------------------------------------------------

// Netpbm's formats: "P2"/"P5" gray, "P3"/"P6" RGB; a header of width, height
// and maxval (decimal, separated by whitespace and '#' comments to the end
// of the line); then, for P5/P6, one whitespace byte and the raster (one
// byte per sample when maxval < 256, else two, big-endian), or for P2/P3
// the samples as decimal text.

bool isPnmSpace(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

class PnmReader {
public:
  PnmReader(const uint8_t *data, size_t size, const std::string &what)
      : data_(data), size_(size), what_(what) {}

  /// Reads the next decimal number after whitespace and comments. `name`
  /// says what it is, for messages. Values above `limit` are errors.
  bool number(const char *name, uint32_t limit, uint32_t &value,
              std::string &error) {
    skipSpaceAndComments();
    if (pos_ >= size_) {
      error = what_ + ": truncated PPM/PGM: end of file before the " +
              std::string(name);
      return false;
    }
    if (data_[pos_] < '0' || data_[pos_] > '9') {
      error = what_ + ": corrupt PPM/PGM: expected the " + name +
              " (a decimal number) at byte " + std::to_string(pos_) +
              ", found " + describe(data_[pos_]);
      return false;
    }
    uint64_t v = 0;
    while (pos_ < size_ && data_[pos_] >= '0' && data_[pos_] <= '9') {
      v = v * 10 + (data_[pos_++] - '0');
      if (v > limit) {
        error = what_ + ": corrupt PPM/PGM: " + name + " exceeds " +
                std::to_string(limit);
        return false;
      }
    }
    value = static_cast<uint32_t>(v);
    return true;
  }

  size_t pos() const { return pos_; }
  void setPos(size_t pos) { pos_ = pos; }

private:
  void skipSpaceAndComments() {
    while (pos_ < size_) {
      if (isPnmSpace(data_[pos_])) {
        ++pos_;
      } else if (data_[pos_] == '#') {
        while (pos_ < size_ && data_[pos_] != '\n' && data_[pos_] != '\r')
          ++pos_;
      } else {
        return;
      }
    }
  }

  static std::string describe(uint8_t c) {
    if (c >= 0x20 && c < 0x7f)
      return std::string("'") + static_cast<char>(c) + "'";
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", c);
    return buf;
  }

  const uint8_t *data_;
  size_t size_;
  const std::string &what_;
  size_t pos_ = 0;
};

bool decodePnm(const uint8_t *data, size_t size, const std::string &what,
               Raster &r, std::string &error) {
  char kind = static_cast<char>(data[1]);
  bool ascii = kind == '2' || kind == '3';
  r.channels = (kind == '3' || kind == '6') ? 3 : 1;
  PnmReader reader(data, size, what);
  reader.setPos(2);
  // Parsing stops above the limits, so a huge number cannot overflow.
  uint32_t width, height, maxval;
  if (!reader.number("width", 1u << 30, width, error) ||
      !reader.number("height", 1u << 30, height, error) ||
      !reader.number("maxval", 1u << 30, maxval, error))
    return false;
  if (!checkSize(width, height, what, error))
    return false;
  if (maxval < 1 || maxval > 65535) {
    error = what + ": corrupt PPM/PGM: maxval " + std::to_string(maxval) +
            " is outside 1..65535";
    return false;
  }
  r.width = width;
  r.height = height;
  r.maxval = maxval;
  const int64_t count = r.width * r.height * r.channels;

  if (ascii) {
    // Each sample takes a digit and all but the last a separator: a file
    // too short for that is truncated, and nothing is allocated for it.
    const uint64_t left = size - reader.pos();
    if (left < 2 * static_cast<uint64_t>(count) - 1) {
      error = what + ": truncated PPM/PGM: " + std::to_string(left) +
              " bytes cannot hold " + std::to_string(count) + " samples";
      return false;
    }
    r.owned.resize(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      uint32_t v;
      if (!reader.number("sample", 65535, v, error)) {
        // At the end of the file, how many samples there were says more
        // than "end of file before the sample".
        if (reader.pos() >= size)
          error = what + ": truncated PPM/PGM: only " + std::to_string(i) +
                  " of " + std::to_string(count) + " samples";
        return false;
      }
      if (v > maxval) {
        error = what + ": corrupt PPM/PGM: sample " + std::to_string(i) +
                " is " + std::to_string(v) + ", above maxval " +
                std::to_string(maxval);
        return false;
      }
      r.owned[static_cast<size_t>(i)] = static_cast<uint16_t>(v);
    }
    r.u16 = r.owned.data();
    return true;
  }

  // Binary: exactly one whitespace byte separates maxval from the raster
  // (the raster's first byte may itself be a whitespace value).
  size_t pos = reader.pos();
  if (pos >= size || !isPnmSpace(data[pos])) {
    error = what + ": " +
            (pos >= size ? std::string("truncated PPM/PGM: no raster")
                         : "corrupt PPM/PGM: no whitespace after maxval");
    return false;
  }
  ++pos;
  const uint64_t bytes = maxval < 256 ? 1 : 2;
  const uint64_t need = static_cast<uint64_t>(count) * bytes;
  if (size - pos < need) {
    error = what + ": truncated PPM/PGM: the raster has " +
            std::to_string(size - pos) + " of " + std::to_string(need) +
            " bytes";
    return false;
  }
  const uint8_t *raster = data + pos;
  if (bytes == 1) {
    r.u8 = raster;
    if (maxval < 255) {
      for (int64_t i = 0; i < count; ++i) {
        if (raster[i] > maxval) {
          error = what + ": corrupt PPM/PGM: sample " + std::to_string(i) +
                  " is " + std::to_string(raster[i]) + ", above maxval " +
                  std::to_string(maxval);
          return false;
        }
      }
    }
    return true;
  }
  r.owned.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    uint16_t v = static_cast<uint16_t>(raster[2 * i] << 8 | raster[2 * i + 1]);
    if (v > maxval) {
      error = what + ": corrupt PPM/PGM: sample " + std::to_string(i) + " is " +
              std::to_string(v) + ", above maxval " + std::to_string(maxval);
      return false;
    }
    r.owned[static_cast<size_t>(i)] = v;
  }
  r.u16 = r.owned.data();
  return true;
}

// --- PNG ---------------------------------------------------------------------


std::string stbReason() {
  const char *r = stbi_failure_reason();
  return r ? printableBytes(r) : std::string("no reason given");
}

/// Walks the chunks (length, type, data, CRC) up to IEND, as stb_image's
/// loader does, and fails on the two things that reach its "unknown chunk"
/// error: a critical chunk it does not know (first letter uppercase), and
/// data ending before IEND (it then reads a zero type). That error writes
/// the type into a static buffer shared by all threads (a data race when
/// images load concurrently) and returns it as the reason, raw bytes that
/// may break the message's line. Found here first, stb never gets there.
/// `emptyIdats` gets the offsets of the IDAT chunks without data.
bool checkPngChunks(const uint8_t *data, size_t size, const std::string &what,
                    std::vector<size_t> &emptyIdats, std::string &error) {
  uint64_t pos = 8;
  for (;;) {
    if (size - pos < 8) {
      error = what + ": truncated PNG: the file ends before the IEND chunk";
      return false;
    }
    const uint8_t *at = data + pos;
    const uint64_t length = uint64_t(at[0]) << 24 | uint64_t(at[1]) << 16 |
                            uint64_t(at[2]) << 8 | uint64_t(at[3]);
    const char *type = reinterpret_cast<const char *>(at + 4);
    if (std::memcmp(type, "IEND", 4) == 0)
      return true;
    const bool critical = (at[4] & 0x20) == 0;
    if (critical && std::memcmp(type, "IHDR", 4) != 0 &&
        std::memcmp(type, "PLTE", 4) != 0 &&
        std::memcmp(type, "IDAT", 4) != 0 &&
        std::memcmp(type, "CgBI", 4) != 0) {
      error = what + ": unsupported PNG: unknown critical chunk '" +
              printableBytes(std::string_view(type, 4)) + "' at byte " +
              std::to_string(pos);
      return false;
    }
    if (length == 0 && std::memcmp(type, "IDAT", 4) == 0)
      emptyIdats.push_back(static_cast<size_t>(pos));
    pos += 12 + length; // size <= INT_MAX: no overflow
    if (pos > size) {
      error = what + ": truncated PNG: the file ends inside chunk '" +
              printableBytes(std::string_view(type, 4)) + "'";
      return false;
    }
  }
}

bool decodePng(const uint8_t *data, size_t size, const std::string &what,
               Raster &r, std::string &error) {
  if (size > static_cast<size_t>(INT_MAX)) {
    error = what + ": PNG file over 2 GiB";
    return false;
  }
  int len = static_cast<int>(size);
  // The size first, from IHDR (the first chunk: length 13 at byte 8, type
  // at 12, width and height big-endian at 16 and 20), so that our limits
  // and message apply rather than stb's.
  if (size >= 24 && std::memcmp(data + 12, "IHDR", 4) == 0) {
    auto be32 = [&](size_t at) {
      return int64_t(data[at]) << 24 | int64_t(data[at + 1]) << 16 |
             int64_t(data[at + 2]) << 8 | int64_t(data[at + 3]);
    };
    if (!checkSize(be32(16), be32(20), what, error))
      return false;
  }
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &comp)) {
    error = what + ": corrupt or truncated PNG header (" + stbReason() + ")";
    return false;
  }
  if (!checkSize(w, h, what, error))
    return false;
  std::vector<size_t> emptyIdats;
  if (!checkPngChunks(data, size, what, emptyIdats, error))
    return false;
  // stb_image copies IDAT data into a buffer it allocates at the first
  // non-empty IDAT, so an empty one before that is a memcpy to NULL: of 0
  // bytes, but undefined behaviour (UBSan stops the fuzzer on it). Empty
  // IDATs add nothing to the image data: stb gets a copy without them.
  std::vector<uint8_t> copy;
  if (!emptyIdats.empty()) {
    size_t from = 0;
    for (size_t at : emptyIdats) {
      copy.insert(copy.end(), data + from, data + at);
      from = at + 12;
    }
    copy.insert(copy.end(), data + from, data + size);
    data = copy.data();
    len = static_cast<int>(copy.size());
  }
  const bool is16 = stbi_is_16_bit_from_memory(data, len);
  int n = 0;
  void *pixels = is16 ? static_cast<void *>(
                            stbi_load_16_from_memory(data, len, &w, &h, &n, 0))
                      : static_cast<void *>(
                            stbi_load_from_memory(data, len, &w, &h, &n, 0));
  if (!pixels) {
    error = what + ": corrupt or truncated PNG (" + stbReason() + ")";
    return false;
  }
  r.stb.reset(pixels);
  if (n < 1 || n > 4) {
    error = what + ": PNG decoded to " + std::to_string(n) + " channels";
    return false;
  }
  r.width = w;
  r.height = h;
  r.channels = n;
  if (is16) {
    r.u16 = static_cast<const uint16_t *>(pixels);
    r.maxval = 65535;
  } else {
    r.u8 = static_cast<const uint8_t *>(pixels);
    r.maxval = 255;
  }
  return true;
}

bool decode(const uint8_t *data, size_t size, const std::string &what,
            Raster &r, std::string &error) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0)
    return decodePng(data, size, what, r, error);
  if (size >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '7') {
    if (data[1] == '2' || data[1] == '3' || data[1] == '5' || data[1] == '6')
      return decodePnm(data, size, what, r, error);
    error = what + ": Netpbm type P" + static_cast<char>(data[1]) +
            " is not supported (only PGM and PPM: P2, P3, P5, P6)";
    return false;
  }
  const char *kind = nullptr;
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
    kind = "a JPEG";
  else if (size >= 4 && std::memcmp(data, "GIF8", 4) == 0)
    kind = "a GIF";
  else if (size >= 14 && std::memcmp(data, "BM", 2) == 0)
    kind = "a BMP";
  else if (size >= 12 && std::memcmp(data, "RIFF", 4) == 0 &&
           std::memcmp(data + 8, "WEBP", 4) == 0)
    kind = "a WebP";
  std::string found = "not an image";
  if (size == 0)
    found = "empty file";
  else if (kind)
    found = std::string(kind) + " image";
  error = what + ": " + found +
          "; supported formats are PNG and PPM/PGM (P2, P3, P5, P6)";
  return false;
}

// --- Resampling --------------------------------------------------------------

/// The source pixels one output pixel of an axis is made of.
struct Taps {
  int64_t first = 0;
  std::vector<double> weights;
};

/// Output pixel i (of `outLen`) is pixel i + offset of the source axis
/// (`srcLen` long) scaled to `scaledLen`. The filter is a triangle of
/// radius max(1, srcLen / scaledLen) source pixels around the output
/// pixel's centre, weights normalised over the pixels inside the image:
/// plain bilinear with clamped edges when enlarging, PIL's antialiased
/// bilinear when shrinking.
std::vector<Taps> axisTaps(int64_t srcLen, int64_t scaledLen, int64_t offset,
                           int64_t outLen) {
  const double scale =
      static_cast<double>(srcLen) / static_cast<double>(scaledLen);
  const double radius = std::max(scale, 1.0);
  std::vector<Taps> taps(static_cast<size_t>(outLen));
  for (int64_t i = 0; i < outLen; ++i) {
    const double centre = (static_cast<double>(i + offset) + 0.5) * scale;
    int64_t lo = std::max<int64_t>(
        0, static_cast<int64_t>(std::floor(centre - radius + 0.5)));
    int64_t hi = std::min<int64_t>(
        srcLen, static_cast<int64_t>(std::floor(centre + radius + 0.5)));
    auto weight = [&](int64_t j) {
      const double at = static_cast<double>(j) + 0.5;
      return std::max(0.0, 1.0 - std::fabs((at - centre) / radius));
    };
    // Zero-weight ends are dropped: an identity axis is then one tap of
    // weight exactly 1.
    while (lo < hi && weight(lo) == 0)
      ++lo;
    while (hi > lo && weight(hi - 1) == 0)
      --hi;
    Taps &t = taps[static_cast<size_t>(i)];
    if (lo == hi) {
      // Not reached (the centre lies inside the image, so the pixel under
      // it has weight >= 0.5), but a fallback beats a division by zero.
      t.first = std::min(std::max<int64_t>(0, static_cast<int64_t>(centre)),
                         srcLen - 1);
      t.weights = {1.0};
      continue;
    }
    double sum = 0;
    for (int64_t j = lo; j < hi; ++j)
      sum += weight(j);
    t.first = lo;
    for (int64_t j = lo; j < hi; ++j)
      t.weights.push_back(weight(j) / sum);
  }
  return taps;
}

/// Python's round(d / 2.0) for an integer d >= 0: halves go to even, as in
/// torchvision's CenterCrop.
int64_t halfRoundEven(int64_t d) {
  int64_t q = d / 2;
  if (d % 2 == 1 && q % 2 == 1)
    ++q;
  return q;
}

/// The pixel (x, y) of the source as `channels` values in [0, 1].
void fetchPixel(const Raster &r, int64_t y, int64_t x, int channels,
                double *v) {
  const int64_t base = (y * r.width + x) * r.channels;
  if (r.channels <= 2) {
    const double g = r.sample(base) / r.maxval;
    for (int c = 0; c < channels; ++c)
      v[c] = g;
    return;
  }
  const double red = r.sample(base) / r.maxval;
  const double green = r.sample(base + 1) / r.maxval;
  const double blue = r.sample(base + 2) / r.maxval;
  if (channels == 3) {
    v[0] = red;
    v[1] = green;
    v[2] = blue;
  } else {
    v[0] = 0.299 * red + 0.587 * green + 0.114 * blue;
  }
}

bool checkPrep(const ImagePrep &prep, const std::string &what,
               std::string &error) {
  const std::string where = what + ": image preprocessing: ";
  if (prep.height < 1 || prep.width < 1 || prep.height > kMaxImageSide ||
      prep.width > kMaxImageSide ||
      prep.height * prep.width > kMaxImagePixels) {
    error = where + "output size " + std::to_string(prep.height) + " x " +
            std::to_string(prep.width) + " must be 1..16384 per side and " +
            "at most 2^28 pixels";
    return false;
  }
  if (prep.channels != 1 && prep.channels != 3) {
    error = where + std::to_string(prep.channels) +
            " channels requested; only 1 (gray) and 3 (RGB) are supported";
    return false;
  }
  const size_t c = static_cast<size_t>(prep.channels);
  if (prep.mean.size() != c || prep.std.size() != c) {
    error = where + "mean has " + std::to_string(prep.mean.size()) +
            " values and std " + std::to_string(prep.std.size()) +
            "; each needs one per channel (" + std::to_string(c) + ")";
    return false;
  }
  for (size_t i = 0; i < c; ++i) {
    if (!std::isfinite(prep.mean[i]) || !std::isfinite(prep.std[i]) ||
        !(prep.std[i] > 0)) {
      error = where + "channel " + std::to_string(i) + " has mean " +
              std::to_string(prep.mean[i]) + " and std " +
              std::to_string(prep.std[i]) + "; both must be finite and std > 0";
      return false;
    }
  }
  return true;
}

} // namespace

bool prepareImageBytes(const unsigned char *data, size_t size,
                       const std::string &what, const ImagePrep &prep,
                       std::vector<float> &out, std::string &error) {
  if (!checkPrep(prep, what, error))
    return false;
  Raster src;
  if (!decode(data, size, what, src, error))
    return false;

  const int64_t outH = prep.height, outW = prep.width;
  const int channels = static_cast<int>(prep.channels);
  int64_t scaledH = outH, scaledW = outW, offY = 0, offX = 0;
  if (prep.resize == ImageResize::Crop) {
    // Scale by max(outH / h, outW / w) so the image covers the output; the
    // other side rounds down as torchvision's Resize does (never below the
    // output). Products stay under 2^28: no overflow.
    const int64_t h = src.height, w = src.width;
    if (outH * w >= outW * h) {
      scaledH = outH;
      scaledW = std::max(outW, w * outH / h);
    } else {
      scaledW = outW;
      scaledH = std::max(outH, h * outW / w);
    }
    offY = halfRoundEven(scaledH - outH);
    offX = halfRoundEven(scaledW - outW);
  }
  const std::vector<Taps> rows = axisTaps(src.height, scaledH, offY, outH);
  const std::vector<Taps> cols = axisTaps(src.width, scaledW, offX, outW);

  // Separable, one pass over the source rows: each row used is converted
  // and filtered horizontally once, then added to the output rows whose
  // vertical taps include it. Rows' taps are monotonic, so the rows used
  // form one range, and so do the columns.
  const int64_t y0 = rows.front().first;
  const int64_t y1 =
      rows.back().first + static_cast<int64_t>(rows.back().weights.size());
  const int64_t x0 = cols.front().first;
  const int64_t x1 =
      cols.back().first + static_cast<int64_t>(cols.back().weights.size());
  std::vector<std::vector<std::pair<int64_t, double>>> usedBy(
      static_cast<size_t>(y1 - y0));
  for (int64_t y = 0; y < outH; ++y) {
    const Taps &t = rows[static_cast<size_t>(y)];
    for (size_t k = 0; k < t.weights.size(); ++k)
      usedBy[static_cast<size_t>(t.first + static_cast<int64_t>(k) - y0)]
          .push_back({y, t.weights[k]});
  }

  std::vector<double> acc(static_cast<size_t>(outH * outW * channels), 0.0);
  std::vector<double> srcRow(static_cast<size_t>((x1 - x0) * channels));
  std::vector<double> rowOut(static_cast<size_t>(outW * channels));
  for (int64_t sy = y0; sy < y1; ++sy) {
    for (int64_t sx = x0; sx < x1; ++sx)
      fetchPixel(src, sy, sx, channels,
                 &srcRow[static_cast<size_t>((sx - x0) * channels)]);
    for (int64_t x = 0; x < outW; ++x) {
      const Taps &t = cols[static_cast<size_t>(x)];
      double *o = &rowOut[static_cast<size_t>(x * channels)];
      for (int c = 0; c < channels; ++c)
        o[c] = 0;
      for (size_t k = 0; k < t.weights.size(); ++k) {
        const double *p = &srcRow[static_cast<size_t>(
            (t.first + static_cast<int64_t>(k) - x0) * channels)];
        for (int c = 0; c < channels; ++c)
          o[c] += t.weights[k] * p[c];
      }
    }
    for (const auto &[y, w] : usedBy[static_cast<size_t>(sy - y0)]) {
      double *a = &acc[static_cast<size_t>(y * outW * channels)];
      for (int64_t i = 0; i < outW * channels; ++i)
        a[i] += w * rowOut[static_cast<size_t>(i)];
    }
  }

  out.resize(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) {
    const size_t c = i % static_cast<size_t>(channels);
    out[i] = static_cast<float>((acc[i] - double(prep.mean[c])) /
                                double(prep.std[c]));
  }
  return true;
}

bool prepareImage(const std::string &path, const ImagePrep &prep,
                  std::vector<float> &out, std::string &error) {
  if (!checkPrep(prep, path, error))
    return false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    error = path + ": cannot stat: " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    error = path + ": not a regular file";
    ::close(fd);
    return false;
  }
  if (st.st_size > INT_MAX) {
    error = path + ": " + std::to_string(st.st_size) +
            " bytes, over the 2 GiB limit for images";
    ::close(fd);
    return false;
  }
  std::vector<unsigned char> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      error = path + ": cannot read: " +
              (n < 0 ? std::strerror(errno) : "file shrank while reading");
      ::close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return prepareImageBytes(bytes.data(), bytes.size(), path, prep, out, error);
}

} // namespace tfc

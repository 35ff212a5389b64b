//===- SafetensorsReader.cpp - Memory-mapped, validated safetensors -------===//
//
// Every check a tensor's consumer relies on happens in open(), so later code
// can index the mapping without bounds checks. Messages start with the path
// and name the tensor, e.g.
//   w.safetensors: tensor 'h.0.attn.c_attn.weight': data_offsets [0, 100]
//   hold 100 bytes, but shape [5, 6] of F32 needs 120
//
//===----------------------------------------------------------------------===//
#include "SafetensorsReader.h"

#include "Printable.h"

#include "JsonParser.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tfc {

namespace {

// A header longer than this is a corrupt length field, not a real model:
// even 100k tensors need well under 100 MiB of JSON.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string offsetsString(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// A string from the file in double quotes, escaped (printableText).
std::string quoted(std::string_view text) {
  return "\"" + printableText(text) + "\"";
}

// "tensor 'NAME'" with NAME escaped.
std::string tensorText(const std::string &name) {
  return "tensor '" + printableText(name) + "'";
}

// What a non-regular file is, for "not a regular file (a FIFO)".
const char *fileKind(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISSOCK(mode))
    return "a socket";
  return "an unknown file type";
}

const char *const kDTypes[] = {"F64", "F32", "F16", "BF16", "I64",
                               "I32", "I16", "I8",  "U8",   "BOOL"};

} // namespace

int64_t safetensorsItemSize(const std::string &dtype) {
  if (dtype == "F64" || dtype == "I64")
    return 8;
  if (dtype == "F32" || dtype == "I32")
    return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16")
    return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL")
    return 1;
  return 0;
}

//===----------------------------------------------------------------------===//
// Float conversions
//===----------------------------------------------------------------------===//

namespace {

// Rounds |value| (finite, non-negative) to a binary format with `expBits`
// exponent bits and `mantBits` stored mantissa bits, round-to-nearest-even,
// and returns the bits without sign. Works straight from double so f16/bf16
// see one rounding, not two (double -> float -> half can round twice).
uint32_t roundToFormat(double a, int expBits, int mantBits) {
  const int bias = (1 << (expBits - 1)) - 1;
  const uint32_t expAllOnes = (1u << expBits) - 1;
  if (a == 0.0)
    return 0;
  int e2;
  std::frexp(a, &e2);
  int unbiased = e2 - 1; // a = 1.f * 2^unbiased
  // Scale so the kept bits are the integer part. Normal numbers keep
  // mantBits after the leading one; subnormals have a fixed exponent.
  int scaleExp = unbiased >= 1 - bias ? unbiased : 1 - bias;
  if (scaleExp > bias)
    return expAllOnes << mantBits;               // overflow: inf
  double q = std::ldexp(a, mantBits - scaleExp); // exact: power-of-2 scale
  double r = std::floor(q);
  double frac = q - r;
  uint64_t m = static_cast<uint64_t>(r);
  if (frac > 0.5 || (frac == 0.5 && (m & 1)))
    ++m;
  if (scaleExp == 1 - bias && unbiased < 1 - bias) {
    // Subnormal; if rounding carried into 2^mantBits that is exactly the
    // encoding of the smallest normal number.
    return static_cast<uint32_t>(m);
  }
  if (m == (1ull << (mantBits + 1))) {
    m >>= 1;
    ++scaleExp;
    if (scaleExp > bias)
      return expAllOnes << mantBits;
  }
  uint32_t expField = static_cast<uint32_t>(scaleExp + bias);
  return (expField << mantBits) | static_cast<uint32_t>(m - (1ull << mantBits));
}

uint16_t encodeSmallFloat(double v, int expBits, int mantBits) {
  uint32_t sign = std::signbit(v) ? 1u << (expBits + mantBits) : 0;
  uint32_t expAllOnes = (1u << expBits) - 1;
  if (std::isnan(v))
    return static_cast<uint16_t>(sign | (expAllOnes << mantBits) |
                                 (1u << (mantBits - 1)));
  if (std::isinf(v))
    return static_cast<uint16_t>(sign | (expAllOnes << mantBits));
  return static_cast<uint16_t>(sign |
                               roundToFormat(std::fabs(v), expBits, mantBits));
}

double decodeSmallFloat(uint16_t bits, int expBits, int mantBits) {
  const int bias = (1 << (expBits - 1)) - 1;
  const uint32_t expAllOnes = (1u << expBits) - 1;
  bool negative = (bits >> (expBits + mantBits)) & 1;
  uint32_t expField = (bits >> mantBits) & expAllOnes;
  uint32_t mant = bits & ((1u << mantBits) - 1);
  double v;
  if (expField == expAllOnes)
    v = mant ? std::numeric_limits<double>::quiet_NaN()
             : std::numeric_limits<double>::infinity();
  else if (expField == 0)
    v = std::ldexp(static_cast<double>(mant), 1 - bias - mantBits);
  else
    v = std::ldexp(static_cast<double>(mant | (1u << mantBits)),
                   static_cast<int>(expField) - bias - mantBits);
  return negative ? -v : v;
}

template <typename T> T loadLE(const uint8_t *p) {
  // Little-endian hosts only (x86-64, AArch64); memcpy because safetensors
  // data need not be aligned.
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T> void storeLE(uint8_t *p, T v) {
  std::memcpy(p, &v, sizeof v);
}

} // namespace

double halfBitsToDouble(uint16_t bits) { return decodeSmallFloat(bits, 5, 10); }
double bfloat16BitsToDouble(uint16_t bits) {
  return decodeSmallFloat(bits, 8, 7);
}
uint16_t doubleToHalfBits(double value) {
  return encodeSmallFloat(value, 5, 10);
}
uint16_t doubleToBFloat16Bits(double value) {
  return encodeSmallFloat(value, 8, 7);
}

bool decodeFloats(const std::string &dtype, const uint8_t *bytes, size_t count,
                  std::vector<double> &out, std::string &error) {
  out.resize(count);
  if (dtype == "F64") {
    for (size_t i = 0; i < count; ++i)
      out[i] = loadLE<double>(bytes + 8 * i);
  } else if (dtype == "F32") {
    for (size_t i = 0; i < count; ++i)
      out[i] = loadLE<float>(bytes + 4 * i);
  } else if (dtype == "F16") {
    for (size_t i = 0; i < count; ++i)
      out[i] = halfBitsToDouble(loadLE<uint16_t>(bytes + 2 * i));
  } else if (dtype == "BF16") {
    for (size_t i = 0; i < count; ++i)
      out[i] = bfloat16BitsToDouble(loadLE<uint16_t>(bytes + 2 * i));
  } else {
    error = "dtype " + dtype + " is not a float type (F64, F32, F16, BF16)";
    return false;
  }
  return true;
}

bool encodeFloats(const std::string &dtype, const double *values, size_t count,
                  std::vector<uint8_t> &out, std::string &error) {
  int64_t size = safetensorsItemSize(dtype);
  if (dtype == "F64") {
    out.resize(count * size);
    for (size_t i = 0; i < count; ++i)
      storeLE<double>(out.data() + 8 * i, values[i]);
  } else if (dtype == "F32") {
    out.resize(count * size);
    for (size_t i = 0; i < count; ++i) {
      double v = values[i];
      float f;
      if (std::isfinite(v) &&
          std::fabs(v) > std::numeric_limits<float>::max()) {
        // Casting an out-of-range double to float is undefined behaviour;
        // round by hand (to FLT_MAX or inf, as IEEE would).
        uint32_t bits = (std::signbit(v) ? 0x80000000u : 0u) |
                        roundToFormat(std::fabs(v), 8, 23);
        std::memcpy(&f, &bits, sizeof f);
      } else {
        f = static_cast<float>(v); // round to nearest even
      }
      storeLE<float>(out.data() + 4 * i, f);
    }
  } else if (dtype == "F16") {
    out.resize(count * size);
    for (size_t i = 0; i < count; ++i)
      storeLE<uint16_t>(out.data() + 2 * i, doubleToHalfBits(values[i]));
  } else if (dtype == "BF16") {
    out.resize(count * size);
    for (size_t i = 0; i < count; ++i)
      storeLE<uint16_t>(out.data() + 2 * i, doubleToBFloat16Bits(values[i]));
  } else {
    error = "dtype " + dtype + " is not a float type (F64, F32, F16, BF16)";
    return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// SafetensorsFile
//===----------------------------------------------------------------------===//

SafetensorsFile::~SafetensorsFile() {
  if (mapping)
    munmap(const_cast<uint8_t *>(mapping), mappingSize);
}

const SafetensorsEntry *SafetensorsFile::find(const std::string &name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &tensors[it->second];
}

const uint8_t *SafetensorsFile::data(const SafetensorsEntry &entry) const {
  return mapping + dataStart + entry.begin;
}

namespace {

// Parses one tensor entry of the header; `where` is "<path>: tensor '<name>'"
// with the name escaped.
bool parseEntry(const std::string &where, const JsonValue &value,
                uint64_t dataSize, SafetensorsEntry &entry,
                std::string &error) {
  if (!value.isObject()) {
    error = where + ": entry is a " + toString(value.kind) +
            ", expected an object with dtype, shape and data_offsets";
    return false;
  }
  for (const auto &member : value.object) {
    if (member.first != "dtype" && member.first != "shape" &&
        member.first != "data_offsets") {
      error = where + ": unexpected key " + quoted(member.first) +
              " (expected dtype, shape, data_offsets)";
      return false;
    }
  }
  const JsonValue *dtype = value.get("dtype");
  const JsonValue *shape = value.get("shape");
  const JsonValue *offsets = value.get("data_offsets");
  for (auto [key, v] :
       {std::pair<const char *, const JsonValue *>{"dtype", dtype},
        {"shape", shape},
        {"data_offsets", offsets}}) {
    if (!v) {
      error = where + ": missing '" + key + "'";
      return false;
    }
  }
  if (!dtype->isString()) {
    error =
        where + ": dtype is a " + toString(dtype->kind) + ", expected a string";
    return false;
  }
  entry.dtype = dtype->stringValue;
  int64_t itemSize = safetensorsItemSize(entry.dtype);
  if (itemSize == 0) {
    error = where + ": unknown dtype " + quoted(entry.dtype) +
            " (expected one of F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)";
    return false;
  }

  if (!shape->isArray()) {
    error = where + ": shape is a " + toString(shape->kind) +
            ", expected an array of non-negative integers";
    return false;
  }
  int64_t numel = 1;
  bool overflow = false;
  for (const JsonValue &d : shape->array) {
    if (!d.isInt() || d.intValue < 0) {
      error = where + ": shape must be an array of non-negative integers";
      return false;
    }
    entry.shape.push_back(d.intValue);
    overflow |= __builtin_mul_overflow(numel, d.intValue, &numel);
  }
  int64_t needBytes = 0;
  overflow |= __builtin_mul_overflow(numel, itemSize, &needBytes);
  if (overflow) {
    error = where + ": shape " + shapeString(entry.shape) + " of " +
            entry.dtype + " has more bytes than fit in 64 bits";
    return false;
  }
  entry.numel = numel;

  if (!offsets->isArray() || offsets->array.size() != 2 ||
      !offsets->array[0].isInt() || !offsets->array[1].isInt() ||
      offsets->array[0].intValue < 0 || offsets->array[1].intValue < 0) {
    error = where + ": data_offsets must be [begin, end] with non-negative "
                    "integers";
    return false;
  }
  entry.begin = static_cast<uint64_t>(offsets->array[0].intValue);
  entry.end = static_cast<uint64_t>(offsets->array[1].intValue);
  std::string offs = offsetsString(entry.begin, entry.end);
  if (entry.begin > entry.end) {
    error = where + ": data_offsets " + offs + " have begin after end";
    return false;
  }
  uint64_t held = entry.end - entry.begin;
  if (held != static_cast<uint64_t>(needBytes)) {
    error = where + ": data_offsets " + offs + " hold " + std::to_string(held) +
            " bytes, but shape " + shapeString(entry.shape) + " of " +
            entry.dtype + " needs " + std::to_string(needBytes);
    return false;
  }
  if (entry.end > dataSize) {
    error = where + ": data_offsets " + offs +
            " run past the end of the data section (" +
            std::to_string(dataSize) + " bytes)";
    return false;
  }
  return true;
}

} // namespace

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string &path,
                                                       std::string &error) {
  // O_NONBLOCK so that opening a FIFO with no writer returns at once (a
  // blocking open would wait for one forever); the type is checked on the
  // open descriptor, so nothing can swap the file in between. For a regular
  // file the flag changes nothing: the file is only mapped, never read.
  struct stat st;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int openErrno = errno;
    // A socket cannot be opened at all (ENXIO); name it like the others.
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      error = path + ": not a regular file (" + fileKind(st.st_mode) + ")";
    else
      error = path + ": cannot open: " + std::strerror(openErrno);
    return nullptr;
  }
  if (fstat(fd, &st) != 0) {
    error = path + ": cannot stat: " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  if (!S_ISREG(st.st_mode)) {
    error = path + ": not a regular file (" + fileKind(st.st_mode) + ")";
    ::close(fd);
    return nullptr;
  }
  uint64_t fileSize = static_cast<uint64_t>(st.st_size);
  if (fileSize < 8) {
    error = path + ": file is " + std::to_string(fileSize) +
            " bytes, too short for the 8-byte header length";
    ::close(fd);
    return nullptr;
  }
  void *addr = mmap(nullptr, fileSize, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd); // the mapping keeps the file alive
  if (addr == MAP_FAILED) {
    error = path + ": cannot map: " + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->filePath = path;
  file->mapping = static_cast<const uint8_t *>(addr);
  file->mappingSize = fileSize;

  uint64_t headerLen = loadLE<uint64_t>(file->mapping);
  if (headerLen > kMaxHeaderBytes) {
    error = path + ": header length " + std::to_string(headerLen) +
            " exceeds the 100 MiB limit";
    return nullptr;
  }
  if (8 + headerLen > fileSize) {
    error = path + ": header length " + std::to_string(headerLen) +
            " runs past the end of the file (" + std::to_string(fileSize) +
            " bytes)";
    return nullptr;
  }
  file->dataStart = 8 + headerLen;
  uint64_t dataSize = fileSize - file->dataStart;

  std::string_view headerText(reinterpret_cast<const char *>(file->mapping) + 8,
                              headerLen);
  JsonValue header;
  std::string jsonError;
  if (!parseJson(headerText, header, jsonError)) {
    error = path + ": header is not valid JSON: " + jsonError;
    return nullptr;
  }
  if (!header.isObject()) {
    error = path + ": header is a JSON " + toString(header.kind) +
            ", expected an object";
    return nullptr;
  }

  for (const auto &member : header.object) {
    if (member.first == "__metadata__") {
      if (!member.second.isObject()) {
        error = path + ": __metadata__ is a " + toString(member.second.kind) +
                ", expected an object of strings";
        return nullptr;
      }
      for (const auto &kv : member.second.object) {
        if (!kv.second.isString()) {
          error = path + ": __metadata__ value " + quoted(kv.first) + " is a " +
                  toString(kv.second.kind) + ", expected a string";
          return nullptr;
        }
        file->meta[kv.first] = kv.second.stringValue;
      }
      continue;
    }
    SafetensorsEntry entry;
    entry.name = member.first;
    if (!parseEntry(path + ": " + tensorText(member.first), member.second,
                    dataSize, entry, error))
      return nullptr;
    file->byName.emplace(entry.name, file->tensors.size());
    file->tensors.push_back(std::move(entry));
  }

  // The data section must hold the tensors' bytes and nothing else, as the
  // safetensors reference implementation requires: sorted, the non-empty
  // ranges start at 0, each begins where the one before ends, and the last
  // ends at the end of the file. Bytes that no tensor covers could hide
  // anything (another model, a payload) and a writer that leaves them is
  // broken. Overlaps are named first, then gaps, then trailing bytes. Empty
  // tensors hold no bytes and may sit at any offset within the section.
  std::vector<const SafetensorsEntry *> ranges;
  for (const SafetensorsEntry &e : file->tensors)
    if (e.end > e.begin)
      ranges.push_back(&e);
  std::sort(ranges.begin(), ranges.end(),
            [](const SafetensorsEntry *a, const SafetensorsEntry *b) {
              if (a->begin != b->begin)
                return a->begin < b->begin;
              if (a->end != b->end)
                return a->end < b->end;
              return a->name < b->name; // a stable message for equal ranges
            });
  for (size_t i = 1; i < ranges.size(); ++i) {
    const SafetensorsEntry *a = ranges[i - 1], *b = ranges[i];
    if (b->begin < a->end) {
      error = path + ": " + tensorText(b->name) + ": data_offsets " +
              offsetsString(b->begin, b->end) + " overlap " +
              tensorText(a->name) + " " + offsetsString(a->begin, a->end);
      return nullptr;
    }
  }
  uint64_t covered = 0; // the end of the ranges so far, all touching
  for (size_t i = 0; i < ranges.size(); ++i) {
    const SafetensorsEntry *b = ranges[i];
    if (b->begin == covered) {
      covered = b->end;
      continue;
    }
    std::string gap = std::to_string(b->begin - covered) + " bytes";
    if (i == 0) {
      error = path + ": " + gap + " before the first tensor's data belong " +
              "to no tensor (" + tensorText(b->name) + " has data_offsets " +
              offsetsString(b->begin, b->end) + ")";
    } else {
      const SafetensorsEntry *a = ranges[i - 1];
      error = path + ": " + gap + " between " + tensorText(a->name) + " " +
              offsetsString(a->begin, a->end) + " and " + tensorText(b->name) +
              " " + offsetsString(b->begin, b->end) + " belong to no tensor";
    }
    return nullptr;
  }
  if (covered != dataSize) {
    std::string extra = std::to_string(dataSize - covered) + " bytes";
    if (ranges.empty())
      error = path + ": " + extra + " of data, but no tensor holds any (the " +
              "data section must be empty)";
    else
      error = path + ": " + extra + " after the last tensor's data (the " +
              "data section is " + std::to_string(dataSize) +
              " bytes, its tensors cover " + std::to_string(covered) + ")";
    return nullptr;
  }
  return file;
}

} // namespace tfc

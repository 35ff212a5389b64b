//===- Device.cpp - GPU memory through Halide's device API ---------------===//
#include "Device.h"

namespace tfc {
namespace {

/// m's descriptor: one dimension of `bytes` uint8 elements.
void describe(DeviceMemory &m, int64_t bytes) {
  m.buf.type.code = halide_type_uint;
  m.buf.type.bits = 8;
  m.buf.type.lanes = 1;
  m.buf.dimensions = 1;
  m.dim = halide_dimension_t();
  m.dim.min = 0;
  m.dim.extent = static_cast<int32_t>(bytes);
  m.dim.stride = 1;
  m.buf.dim = &m.dim;
}

/// A temporary descriptor of m's first `bytes` with a host pointer, for a
/// copy in either direction (the device handle is borrowed, not owned).
halide_buffer_t staging(const DeviceMemory &m, void *host, int64_t bytes,
                        halide_dimension_t &dim) {
  halide_buffer_t b = m.buf;
  dim = m.dim;
  dim.extent = static_cast<int32_t>(bytes);
  b.dim = &dim;
  b.host = static_cast<uint8_t *>(host);
  b.flags = 0;
  return b;
}

} // namespace

int deviceAllocate(const halide_device_interface_t *api, int64_t bytes,
                   DeviceMemory &m) {
  m = DeviceMemory();
  if (bytes < 1)
    bytes = 1;
  if (bytes > INT32_MAX)
    return halide_error_code_buffer_extents_too_large;
  describe(m, bytes);
  return halide_device_malloc(nullptr, &m.buf, api);
}

int deviceUpload(const halide_device_interface_t *api, const void *host,
                 int64_t bytes, DeviceMemory &m) {
  int rc = deviceAllocate(api, bytes, m);
  if (rc == 0 && bytes > 0)
    rc = deviceWrite(m, host, bytes);
  if (rc != 0)
    deviceRelease(m);
  return rc;
}

int deviceCrop(const DeviceMemory &whole, int64_t offset, DeviceMemory &crop) {
  deviceRelease(crop);
  if (offset < 0 || offset >= whole.dim.extent)
    return halide_error_code_buffer_extents_too_large;
  // halide_device_crop takes the region from dst's min and extent, in the
  // coordinates of src.
  describe(crop, whole.dim.extent - offset);
  crop.dim.min = static_cast<int32_t>(offset);
  int rc = halide_device_crop(nullptr, &whole.buf, &crop.buf);
  crop.dim.min = 0;
  if (rc != 0) {
    crop = DeviceMemory();
    return rc;
  }
  crop.isCrop = true;
  crop.parent = &whole;
  crop.offset = offset;
  return 0;
}

void deviceRelease(DeviceMemory &m) {
  if (m.valid()) {
    if (m.isCrop)
      halide_device_release_crop(nullptr, &m.buf);
    else
      halide_device_free(nullptr, &m.buf);
  }
  m = DeviceMemory();
}

int deviceWrite(const DeviceMemory &m, const void *host, int64_t bytes) {
  if (bytes > m.dim.extent)
    return halide_error_code_buffer_extents_too_large;
  halide_dimension_t dim;
  halide_buffer_t b = staging(m, const_cast<void *>(host), bytes, dim);
  b.flags = halide_buffer_flag_host_dirty;
  return halide_copy_to_device(nullptr, &b, m.buf.device_interface);
}

int deviceRead(const DeviceMemory &m, void *host, int64_t bytes) {
  if (bytes > m.dim.extent)
    return halide_error_code_buffer_extents_too_large;
  halide_dimension_t dim;
  halide_buffer_t b = staging(m, host, bytes, dim);
  b.flags = halide_buffer_flag_device_dirty;
  return halide_copy_to_host(nullptr, &b);
}

int deviceCopy(const DeviceMemory &from, const DeviceMemory &to,
               int64_t bytes) {
  if (bytes > from.dim.extent || bytes > to.dim.extent)
    return halide_error_code_buffer_extents_too_large;
  halide_dimension_t fromDim, toDim;
  halide_buffer_t src = staging(from, nullptr, bytes, fromDim);
  halide_buffer_t dst = staging(to, nullptr, bytes, toDim);
  return halide_buffer_copy(nullptr, &src, to.buf.device_interface, &dst);
}

void deviceBind(halide_buffer_t &b, const DeviceMemory &m) {
  b.host = nullptr;
  b.device = m.buf.device;
  b.device_interface = m.buf.device_interface;
  b.flags = 0;
}

int deviceSync(const DeviceMemory &m) {
  halide_buffer_t b = m.buf;
  return halide_device_sync(nullptr, &b);
}

} // namespace tfc

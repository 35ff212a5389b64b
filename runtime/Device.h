//===- Device.h - GPU memory through Halide's device API --------*- C++ -*-===//
//
// A model compiled for a GPU (tfc compile --target opencl|cuda) keeps its
// weights, its activation arena and its KV cache on the device. This is the
// runtime's one door to device memory: allocations, uploads, downloads and
// crops (a kernel argument that is a slice of the arena or the cache), all
// through Halide's device interface (halide_device_malloc, halide_device_crop,
// halide_copy_to_device, ...), which is the same for OpenCL and CUDA. The
// interface itself comes from the Halide runtime linked with the model's
// kernels (tfc_model.device_interface), so this file names neither API.
//
// Every function returns 0 or Halide's error code; Halide's error handler
// (installed by Runtime.cpp) has the message.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_DEVICE_H
#define TFC_RUNTIME_DEVICE_H

#include <HalideRuntime.h>

#include <cstdint>

namespace tfc {

/// The base-address alignment tfc assumes of OpenCL devices (POCL's and
/// most GPUs' CL_DEVICE_MEM_BASE_ADDR_ALIGN, 1024 bits). The memory plan
/// aligns every arena buffer to it.
constexpr int64_t kOpenCLAlign = 128;

/// A block of device memory, seen as one dimension of bytes: an allocation
/// (owned) or a crop of one (an alias at a byte offset, also released).
struct DeviceMemory {
  halide_buffer_t buf{};
  halide_dimension_t dim{};
  bool isCrop = false;
  const DeviceMemory *parent = nullptr; // a crop's allocation
  int64_t offset = -1;                  // a crop's offset in bytes
  bool valid() const { return buf.device != 0; }
};

/// Allocates `bytes` (at least 1) on the device of `api`.
int deviceAllocate(const halide_device_interface_t *api, int64_t bytes,
                   DeviceMemory &m);
/// Allocates `bytes` and copies them from `host`.
int deviceUpload(const halide_device_interface_t *api, const void *host,
                 int64_t bytes, DeviceMemory &m);
/// Makes `crop` an alias of `whole` from byte `offset` to its end. A kernel
/// can read or write a crop on OpenCL only when the offset is a multiple
/// of the device's base-address alignment (kOpenCLAlign: Halide passes it
/// as a sub-buffer); copies take any offset.
int deviceCrop(const DeviceMemory &whole, int64_t offset, DeviceMemory &crop);
/// Frees an allocation or releases a crop; a no-op when m is not valid.
void deviceRelease(DeviceMemory &m);
/// Copies `bytes` (at most m's size) from `host` to the start of m.
int deviceWrite(const DeviceMemory &m, const void *host, int64_t bytes);
/// Copies `bytes` from the start of m to `host`; waits for the device.
int deviceRead(const DeviceMemory &m, void *host, int64_t bytes);
/// Copies `bytes` from the start of `from` to the start of `to`, on the
/// device (queued like a kernel).
int deviceCopy(const DeviceMemory &from, const DeviceMemory &to,
               int64_t bytes);
/// Points the kernel argument `b` at m (b keeps its type and shape; its
/// host pointer is cleared, so that nothing reads device data as host data).
void deviceBind(halide_buffer_t &b, const DeviceMemory &m);
/// Waits until every kernel queued on m's device has finished.
int deviceSync(const DeviceMemory &m);

} // namespace tfc

#endif // TFC_RUNTIME_DEVICE_H

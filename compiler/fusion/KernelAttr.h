//===- KernelAttr.h - KernelDesc <-> the attributes of tfm.kernel -*- C++
//-*-===//
#ifndef TFC_FUSION_KERNELATTR_H
#define TFC_FUSION_KERNELATTR_H

#include "codegen/KernelDesc.h"
#include "dialect/TfmDialect.h"

#include "mlir/IR/BuiltinOps.h"

#include <map>
#include <optional>
#include <string>

namespace tfc {

/// The descriptor as the `desc` dictionary of a tfm.kernel (only the keys
/// its kind uses).
mlir::DictionaryAttr kernelDescAttr(mlir::MLIRContext *context,
                                    const KernelDesc &desc);

/// Reads a tfm.kernel's kind and desc back; nullopt with a message naming
/// the kernel and key when something is missing or unknown.
std::optional<KernelDesc> kernelDescOf(tfm::KernelOp op, std::string &error);

std::optional<KernelKind> parseKernelKind(llvm::StringRef name);

/// Schedule parameters of one kernel (0 = the default), as a tuning file
/// gives them.
struct KernelTuning {
  int64_t panel = 0, tileRows = 0, queryTile = 0;
};

/// What `tfc compile` decides after fusion: the matrices' storage type,
/// the target's f32 vector width (the default panel is 3 vectors; 0 leaves
/// matrices row-major) and tuned parameters by base symbol (the symbol of
/// the kernel with its weight type and no schedule parameters).
struct KernelOptions {
  WeightType weightType = WeightType::F32;
  WeightType headType = WeightType::F32; // the head's matrix
  int64_t vectorFloats = 0;
  int64_t group = 32; // int8: input rows per scale
  std::map<std::string, KernelTuning> tuning;
};

/// The symbol a tuning file names a kernel by.
std::string baseSymbol(KernelDesc d);

/// Sets every tfm.kernel's storage and schedule choices (and its symbol).
bool applyKernelOptions(mlir::ModuleOp module, const KernelOptions &options,
                        std::string &error);

} // namespace tfc

#endif // TFC_FUSION_KERNELATTR_H
